import { readFileSync } from "node:fs";

/**
 * True while a process with this pid is running on this host (EPERM: it exists but belongs to someone
 * else). A zombie counts as dead: it holds nothing, and in containers whose init does not reap orphans
 * (as on the machines this was written on) a killed process can stay a zombie indefinitely.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (process.platform !== "linux") return true;
  try {
    // /proc/<pid>/stat: "pid (comm) state …"; comm may contain spaces and parentheses, so split after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false; // exited between the two checks
  }
}
