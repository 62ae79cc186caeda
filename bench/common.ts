/** Shared benchmark plumbing: timing, medians, the machine's pip configuration, result lines. */

export function now(): number {
  return performance.now();
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

export function row(label: string, ms: number, baselineMs?: number): string {
  const ratio = baselineMs === undefined ? "" : `  ${(baselineMs / ms).toFixed(1)}x faster than the baseline`;
  return `  ${label.padEnd(48)} ${fmt(ms).padStart(10)}${ratio}`;
}
