/**
 * The indexes pip uses when a task names none: read with pip's own `pip config list`, so every source pip
 * honours (PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / PIP_NO_INDEX, PIP_CONFIG_FILE, the global, user and site pip.conf
 * files, and their [install] sections) counts exactly as pip counts it. Build failures and doctor then name the
 * index in effect instead of "the installer's configured index".
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const PYPI_SIMPLE = "https://pypi.org/simple";

const TRUE_VALUES = new Set(["1", "true", "yes", "on"]);

/**
 * Indexes from `pip config list` output: for each option the `:env:` value (PIP_*) wins over `install.`, which
 * wins over `global.` (pip's override order); no index-url means PyPI; a true no-index means none at all.
 */
export function indexesFromPipConfig(listing: string): string[] {
  const values = new Map<string, string>();
  for (const line of listing.split("\n")) {
    const match = /^([^.\s]+)\.([a-z-]+)='(.*)'$/.exec(line.trim());
    if (match) values.set(`${match[1]}.${match[2]}`, match[3] as string);
  }
  const option = (name: string) => values.get(`:env:.${name}`) ?? values.get(`install.${name}`) ?? values.get(`global.${name}`);
  if (TRUE_VALUES.has((option("no-index") ?? "").toLowerCase())) return [];
  return [option("index-url") ?? PYPI_SIMPLE, ...(option("extra-index-url") ?? "").split(/\s+/).filter(Boolean)];
}

const memo = new Map<string, Promise<string[]>>();

/** The index URLs (clear text: memory only) the pip run by `pip` (argv prefix) would use in `env`. */
export function pipConfiguredIndexes(pip: readonly string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const relevant = Object.entries(env).filter(([k]) => k.startsWith("PIP_") || k === "HOME" || k === "XDG_CONFIG_HOME" || k === "XDG_CONFIG_DIRS" || k === "VIRTUAL_ENV");
  const key = JSON.stringify([pip, relevant.sort()]);
  let pending = memo.get(key);
  if (!pending) {
    const [command, ...args] = pip;
    pending = execFileAsync(command as string, [...args, "config", "list"], { env: { ...env, PIP_DISABLE_PIP_VERSION_CHECK: "1" }, timeout: 30_000 }).then(({ stdout }) => indexesFromPipConfig(stdout));
    pending.catch(() => memo.delete(key));
    memo.set(key, pending);
  }
  return pending;
}
