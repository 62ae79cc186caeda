/** Shared bits: a tiny router, state badges (icon + label, never colour alone), errors, values, times. */
import { useEffect, useState, type MouseEvent, type ReactNode } from "react";
import type { ApiError, MappedSummary, RunState, TaskError, TaskState } from "./api.ts";

export function navigate(to: string): void {
  window.history.pushState(null, "", to);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const on = (): void => setPath(window.location.pathname);
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return path;
}

export function Link({ to, children, className, label }: { to: string; children: ReactNode; className?: string; label?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>): void => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} className={className} aria-label={label}>
      {children}
    </a>
  );
}

const STATE_ICONS: Record<TaskState | RunState, string> = {
  none: "○",
  scheduled: "◷",
  queued: "⋯",
  running: "▶",
  success: "✓",
  failed: "✗",
  skipped: "⤼",
  upstream_failed: "⚠",
  up_for_retry: "↻",
};

/** "3 mapped: 2 ✓ 1 ✗" — the count, then how many instances are in each state (icons in a fixed order). */
export function mappedLabel(summary: MappedSummary): string {
  const parts = (Object.keys(STATE_ICONS) as TaskState[]).filter((s) => summary.states[s]).map((s) => `${summary.states[s]} ${STATE_ICONS[s]}`);
  return `${summary.count} mapped: ${parts.join(" ")}`;
}

/** The same in words, for screen readers and tooltips: "3 mapped: 2 success, 1 failed". */
export function mappedWords(summary: MappedSummary): string {
  const parts = (Object.keys(STATE_ICONS) as TaskState[]).filter((s) => summary.states[s]).map((s) => `${summary.states[s]} ${stateLabel(s)}`);
  return `${summary.count} mapped: ${parts.join(", ")}`;
}

export const stateLabel = (state: string): string => (state === "none" ? "no status" : state.replace(/_/g, " "));

export function StateBadge({ state, compact }: { state: TaskState | RunState; compact?: boolean }) {
  return (
    <span className={`state state-${state}`} title={stateLabel(state)} data-state={state}>
      <span aria-hidden="true">{STATE_ICONS[state]}</span>
      {compact ? <span className="sr-only">{stateLabel(state)}</span> : <span> {stateLabel(state)}</span>}
    </span>
  );
}

export function ErrorBox({ error, title }: { error: ApiError | { message: string; fix?: string; code?: string } | null | undefined; title?: string }) {
  if (!error) return null;
  const body = "body" in error ? error.body : error;
  return (
    <div className="error-box" role="alert">
      <strong>{title ?? "Error"}</strong>
      {body.code ? <code className="code"> {body.code}</code> : null}
      <pre className="message">{body.message}</pre>
      {body.fix ? (
        <p className="fix">
          <strong>Fix: </strong>
          {body.fix}
        </p>
      ) : null}
    </div>
  );
}

/** A task's failure in plain words: what went wrong, then what to do. */
export function TaskFailure({ error }: { error: TaskError }) {
  const [message, inlineFix] = error.message.split("\n  fix: ");
  const fix = error.fix ?? inlineFix;
  return (
    <section className="failure" aria-label="Why it failed">
      <h3>Why it failed</h3>
      <p className="failure-type">
        {error.type}
        {error.code ? ` (${error.code})` : ""}
      </p>
      <pre className="message">{message}</pre>
      {fix ? (
        <div className="fix">
          <h3>How to fix it</h3>
          <pre className="message">{fix}</pre>
        </div>
      ) : null}
      {error.traceback ? (
        <details>
          <summary>Traceback</summary>
          <pre className="traceback">{error.traceback}</pre>
        </details>
      ) : null}
    </section>
  );
}

/** Any JSON value, shown as text. */
export function Value({ value }: { value: unknown }) {
  return <pre className="value">{typeof value === "string" ? value : JSON.stringify(value, null, 2)}</pre>;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${d.toLocaleTimeString()}`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

export function Loading({ what }: { what: string }) {
  return <p className="muted">Loading {what}…</p>;
}
