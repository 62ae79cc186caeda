/**
 * The machine's own pip configuration, for the few places that use real packages the way users do (the
 * numpy pipeline example and the benchmarks), never for hermetic tests.
 *
 * One adjustment: when PIP_INDEX_URL is unset and pip is configured with extra indexes, the first becomes
 * the primary index, because an unreachable default index costs every install ~30 s of retries on an
 * offline machine (pip tries it before the extras).
 */
import { execFileSync } from "node:child_process";

export function machinePipEnv(python: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  // No background bytecode compilation (the benchmarks turn it back on): tests remove their homes right after builds.
  const env: NodeJS.ProcessEnv = { VENVFLOW_BYTECODE: "0", ...base };
  if (env.PIP_INDEX_URL) return env;
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
  return env;
}

/** The versions of a project the machine's pip configuration can install for `python`, or null if pip cannot tell. */
export function machineVersions(python: string, project: string, env: NodeJS.ProcessEnv): string[] | null {
  try {
    const out = execFileSync(python, ["-m", "pip", "index", "versions", project], { env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 60_000 });
    return /Available versions: (.*)/.exec(out)?.[1]?.split(/,\s*/) ?? null;
  } catch {
    return null;
  }
}
