/**
 * Temporary directories (and sockets) named after the process that owns them (`venvflow-<kind>-<pid>-<random>` in
 * the system's temp directory), so that what a killed process left — a Bash task's working directory, a fence, a warm
 * pool's socket — can be told from what a live process uses, and removed (issue #9: a SIGKILLed host left its
 * `venvflow-call-*` behind; versions before runner protocol 2 made such call directories, still swept).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isAlive } from "./process.ts";

export type ScratchKind = "bash" | "fence" | "warm" | "log";
const OWNED = /^venvflow-(call|bash|fence|warm|log)-(\d+)-/;

/** A new private (0700) directory owned by this process. */
export function ownedTempDir(kind: ScratchKind): string {
  return mkdtempSync(path.join(os.tmpdir(), `venvflow-${kind}-${process.pid}-`));
}

/** The path of a directory this process may create later (its name must be known before it exists). */
export function ownedTempPath(kind: ScratchKind): string {
  return path.join(os.tmpdir(), `venvflow-${kind}-${process.pid}-${randomBytes(6).toString("hex")}`);
}

/** Removes what dead processes left in `dir` (the system's temp directory by default); returns the removed paths. */
export function sweepDeadOwners(options: { dir?: string; dryRun?: boolean } = {}): string[] {
  const dir = options.dir ?? os.tmpdir();
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return []; // an unreadable temp directory only means nothing is swept
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const pid = Number(OWNED.exec(entry)?.[2]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    const target = path.join(dir, entry);
    if (!options.dryRun) rmSync(target, { recursive: true, force: true });
    removed.push(target);
  }
  return removed;
}
