/** Shared benchmark plumbing: timing, medians, the machine's pip configuration, result lines. */
import { execFileSync } from "node:child_process";

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

/**
 * Benchmarks use pip's own configuration, as users would. One adjustment, applied to both contenders:
 * when PIP_INDEX_URL is unset and pip is configured with extra indexes, the first becomes the primary
 * index, because an unreachable default index costs every install ~30 s of retries on an offline machine.
 */
export function benchEnv(python: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (!env.PIP_INDEX_URL) {
    try {
      const config = execFileSync(python, ["-m", "pip", "config", "list"], { encoding: "utf8" });
      const extra = /^global\.extra-index-url='([^']+)'/m.exec(config)?.[1]?.split(/\s+/);
      if (extra?.[0]) {
        env.PIP_INDEX_URL = extra[0];
        env.PIP_EXTRA_INDEX_URL = extra.slice(1).join(" ");
      }
    } catch {
      // no pip config: pip's defaults apply
    }
  }
  return env;
}

export function row(label: string, ms: number, baselineMs?: number): string {
  const ratio = baselineMs === undefined ? "" : `  ${(baselineMs / ms).toFixed(1)}x faster than the baseline`;
  return `  ${label.padEnd(48)} ${fmt(ms).padStart(10)}${ratio}`;
}
