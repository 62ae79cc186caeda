/** Shared CLI plumbing: error reporting with the fix, exit codes, JSON output, colours, small formatters. */
import { styleText } from "node:util";
import type { TaskError } from "../dag/model.ts";
import { VenvflowError, formatError } from "../util/errors.ts";
import { redactUrl } from "../util/secrets.ts";

type Style = "red" | "green" | "yellow" | "cyan" | "gray" | "bold" | "dim";

/** Colours only for a person at a terminal: never when piped, with NO_COLOR set (no-color.org) or TERM=dumb. */
export function colorsFor(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== "dumb";
}

/** `paint(stream)("red", text)`: styled when `stream` is a colour terminal, else the text as is. */
export function paint(stream: NodeJS.WriteStream): (style: Style, text: string) => string {
  const on = colorsFor(stream);
  return (style, text) => (on ? styleText(style, text, { validateStream: false }) : text);
}

const STATE_STYLES: Record<string, Style> = { success: "green", failed: "red", upstream_failed: "red", up_for_retry: "yellow", running: "cyan", skipped: "gray", queued: "dim", scheduled: "dim" };

/** A task or run state (or `text` standing for it, e.g. padded), coloured by what it means. */
export function stateText(state: string, stream: NodeJS.WriteStream, text = state): string {
  const style = STATE_STYLES[state];
  return style ? paint(stream)(style, text) : text;
}

/** Runs a command action: a VenvflowError prints its message and fix (or JSON with --json) and exits 1. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      const json = args.some((a) => typeof a === "object" && a !== null && (a as { json?: unknown }).json === true);
      // The last line of defence: an argument echoed in an error (a URL given where a path was expected) may carry
      // credentials that no layer below knew to mask.
      if (error instanceof VenvflowError) {
        if (json) process.stdout.write(`${redactUrl(JSON.stringify({ error: error.toJSON() }, null, 2))}\n`);
        else process.stderr.write(`${paint(process.stderr)("red", "error:")} ${redactUrl(formatError(error))}\n`);
      } else {
        process.stderr.write(`error: ${redactUrl(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
      }
      process.exitCode = 1;
    }
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A `--map-index` value: a whole number, 0 or more. */
export function parseMapIndex(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new VenvflowError("invalid_arguments", `--map-index must be 0 or more, got "${text}"`, { fix: "e.g. --map-index 0" });
  return n;
}

/** Repeatable option collector for commander. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A DAG file that did not load: "error: FILE: cause [code]" and its fix on the next line. */
export function loadErrorText(error: { message: string; code: string; fix?: string | undefined }): string {
  const [first = "", ...rest] = formatError(error).split("\n");
  return [`${paint(process.stderr)("red", "error:")} ${first} [${error.code}]`, ...rest].join("\n");
}

/**
 * The lines under a failed task in human output: the error's first line, then the explanation venvflow added
 * (doctor's post-mortem, a build failure's cause) and the fix. The traceback stays in the log.
 */
export function taskErrorLines(error: TaskError, stream: NodeJS.WriteStream): string[] {
  const color = paint(stream);
  const [first = "", ...rest] = error.message.split("\n");
  const explanation = rest.map((line) => line.trim()).filter((line) => line && !line.startsWith("fix: "));
  return [
    color("red", `${error.type}${error.code && error.code !== error.type ? ` (${error.code})` : ""}: ${first}`),
    ...explanation,
    ...(error.fix ? [color("bold", `fix: ${error.fix}`)] : []),
  ];
}

/** A value in one short line: JSON, cut at `max` characters. */
export function shortValue(value: unknown, max = 40): string {
  if (value === undefined) return "";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** "10G", "500M", "2048" (bytes) → bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$/i.exec(text);
  if (!match) throw new VenvflowError("invalid_size", `"${text}" is not a size`, { fix: 'use e.g. "500M", "10G" or a number of bytes' });
  const factor: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  return Math.round(Number(match[1]) * (factor[(match[2] ?? "").toLowerCase().charAt(0)] ?? 1));
}

/**
 * An aligned table for terminals and logs. `style` may colour a cell: it gets the padded text, so widths are
 * measured on plain text; `extra` adds lines under a row (e.g. a failed task's fix).
 */
export function table(headers: string[], rows: string[][], options: { style?: (padded: string, row: number, column: number) => string; extra?: (row: number) => string[] } = {}): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[], row: number) => cells.map((c, i) => (row >= 0 && options.style ? options.style(c.padEnd(widths[i] ?? 0), row, i) : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return [line(headers, -1), ...rows.flatMap((r, row) => [line(r, row), ...(options.extra?.(row) ?? [])])].join("\n");
}

export function ago(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}

export const FROZEN_HELP = "install each environment from its pylock.toml with no resolution; fail when its requirements no longer match the lock (or VENVFLOW_FROZEN=1)";

/** `--frozen` reaches every build of this process, and of the workers it starts, through the environment. */
export function applyFrozen(frozen: boolean): void {
  if (frozen) process.env.VENVFLOW_FROZEN = "1";
}
