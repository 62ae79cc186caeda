/**
 * The fence's watchdog: a small separate process per engine process (src/engine/fence.ts starts it) that keeps
 * running when its engine process hangs or is stopped (SIGSTOP, a frozen cgroup, Ctrl-Z), and kills the engine
 * process's task processes once its heartbeats stop — before any sweeper can retry those tries elsewhere.
 *
 * `node fence-watchdog.js <dir> <engine pid>`. In <dir>: `lease-*` files ("<monotonic ms> <limit ms> <monotonic ms>",
 * renewed by each heartbeat thread with the start of every round that succeeded), `groups` (a journal of `+<pid>`
 * and `-<pid>` lines: the live process groups are what it adds up to).
 * A lease older than its limit, or the engine process gone (its stdin pipe closed), fences: every registered group
 * and every process descending from a group's leader gets SIGKILL; `fenced` gets a JSON line; stderr says so
 * (unless the engine process ended holding no lease: no try was running, and what is killed is only left-overs).
 * Self-contained (node: modules only): it must start fast and must not load the engine.
 */
import { appendFileSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

const [dir = "", pidArg = ""] = process.argv.slice(2);
const enginePid = Number(pidArg);
const POLL_MS = 100;
const monotonicMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

/** The oldest lease past its limit, if any: how long ago it was renewed and its limit. */
function staleLease(): { ageMs: number; limitMs: number } | null {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return null;
  }
  const now = monotonicMs();
  let stale: { ageMs: number; limitMs: number } | null = null;
  for (const entry of entries) {
    if (!entry.startsWith("lease-")) continue;
    let text: string;
    try {
      text = readFileSync(path.join(dir, entry), "utf8");
    } catch {
      continue; // removed or being replaced: read again at the next tick
    }
    const [at, limitMs, again] = text.trim().split(" ").map(Number) as [number, number, number];
    if (!Number.isFinite(at) || !Number.isFinite(limitMs) || at !== again) continue; // torn: read at the next tick
    const ageMs = now - at;
    if (ageMs > limitMs && (stale === null || ageMs - limitMs > stale.ageMs - stale.limitMs)) stale = { ageMs, limitMs };
  }
  return stale;
}

/** pid → [parent pid, process group] of every process (Linux /proc). */
function processTable(): Map<number, [number, number]> {
  const table = new Map<number, [number, number]>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return table;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(entry), [Number(fields[1]), Number(fields[2])]);
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

function kill(target: number): boolean {
  try {
    process.kill(target, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

/** The groups the journal adds up to; a last line without its newline is still being written, and not read. */
function registeredGroups(): number[] {
  let text: string;
  try {
    text = readFileSync(path.join(dir, "groups"), "utf8");
  } catch {
    return []; // none registered
  }
  const live = new Set<number>();
  const lines = text.split("\n");
  lines.pop();
  for (const line of lines) {
    const pid = Number(line.slice(1));
    if (!Number.isSafeInteger(pid) || pid <= 1) continue;
    if (line.startsWith("+")) live.add(pid);
    else if (line.startsWith("-")) live.delete(pid);
  }
  return [...live];
}

/**
 * SIGKILLs every registered group and every descendant of a registered group's leader (a process that left its
 * group, a daemon under the runner's subreaper); nothing else of the engine process (a database server a test
 * started, the DAG processors of the server) is touched.
 */
function fence(reason: string, quiet = false): void {
  const leaders = registeredGroups();
  const table = processTable();
  const ownGroup = table.get(process.pid)?.[1];
  const engineGroup = table.get(enginePid)?.[1];
  const children = new Map<number, number[]>();
  for (const [pid, [ppid]] of table) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  // [process, what to signal]: the leaders' groups first, then every descendant (its own group, or itself).
  const targets: Array<[number, number]> = leaders.map((leader) => [leader, -leader]);
  const queue = leaders.flatMap((leader) => children.get(leader) ?? []);
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (pid === process.pid || pid === enginePid) continue;
    queue.push(...(children.get(pid) ?? []));
    const group = table.get(pid)?.[1];
    targets.push([pid, group !== undefined && group !== engineGroup && group !== ownGroup ? -group : pid]);
  }
  // The record before the kills: the engine looks for it as soon as a task process dies (the try then fails as
  // fenced). Written after them, it was read too early now and then (a test caught it).
  const record = { at: monotonicMs(), reason, killed: targets.map(([pid]) => pid) };
  try {
    appendFileSync(path.join(dir, "fenced"), `${JSON.stringify(record)}\n`);
  } catch {
    // the directory is gone: the engine is exiting
  }
  const killed = targets.filter(([, target]) => kill(target)).map(([pid]) => pid);
  if (killed.length > 0 && !quiet) {
    process.stderr.write(
      `venvflow fence: engine process ${enginePid} ${reason}: killed its task processes (${killed.join(", ")}) so that no retry runs next to them\n`,
    );
  }
}

let fenced = false;
const timer = setInterval(() => {
  const stale = staleLease();
  if (stale && !fenced) fence(`stopped heartbeating ${(stale.ageMs / 1000).toFixed(1)} s ago (fence at ${(stale.limitMs / 1000).toFixed(1)} s)`);
  fenced = stale !== null;
}, POLL_MS);

function exit(): void {
  clearInterval(timer);
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

let input = "";
process.stdin.on("data", (chunk: Buffer) => {
  input += chunk.toString();
  if (input.includes("exit\n")) exit();
});
// The pipe's other end closes when the engine process dies, by any death: nothing it started may outlive it.
process.stdin.on("end", () => {
  // Without a lease no worker was running: what is left (a warm interpreter kept for the next worker, which dies with
  // its host anyway) goes without a word — the message is for tries that must not run beside their retries.
  fence("exited", !hasLease());
  exit();
});

function hasLease(): boolean {
  try {
    return readdirSync(dir).some((entry) => entry.startsWith("lease-"));
  } catch {
    return false;
  }
}
process.stdin.on("error", () => undefined);
