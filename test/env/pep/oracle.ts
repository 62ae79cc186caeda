/**
 * Runs test/env/pep/oracle.py (Python's `packaging`) once per test file and returns its answers. Every
 * differential test compares the TypeScript port with these answers.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { discoveredPythons } from "../../support/pythons.ts";

const ORACLE = join(dirname(fileURLToPath(import.meta.url)), "oracle.py");
/** The packaging release the port follows; a different one would make disagreements meaningless. */
export const PACKAGING_VERSION = "26.2";

/** Python's answer when an operation raised: the exception class and its message. */
export interface OracleError {
  error: string;
  message: string;
}

export function isOracleError(value: unknown): value is OracleError {
  return typeof value === "object" && value !== null && "error" in value;
}

function packagingVersion(python: string): string | null {
  const r = spawnSync(python, ["-I", "-c", "import packaging; print(packaging.__version__)"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The interpreter that has packaging 26.2 (any discovered one, or `python3`), or undefined with a printed reason. */
function findOraclePython(): string | undefined {
  const tried: string[] = [];
  for (const candidate of [...discoveredPythons.map((p) => p.path), "python3"]) {
    const version = packagingVersion(candidate);
    if (version === PACKAGING_VERSION) return candidate;
    tried.push(`${candidate}: ${version === null ? "no packaging" : `packaging ${version}`}`);
  }
  console.warn(
    `skipped: the differential tests against Python's packaging need packaging ${PACKAGING_VERSION} (${tried.join("; ")}); ` +
      `install it with: python3 -m pip install packaging==${PACKAGING_VERSION}`,
  );
  return undefined;
}

export const oraclePython = findOraclePython();

/** Sends `request` to the oracle and returns its JSON answer; undefined when no oracle is installed (reason printed). */
export function askOracle<T>(request: object): (T & { packagingVersion: string }) | undefined {
  if (!oraclePython) return undefined;
  const r = spawnSync(oraclePython, ["-I", ORACLE], {
    input: JSON.stringify(request),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`oracle.py failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as T & { packagingVersion: string };
}

/** Fails with every disagreement listed (up to a readable number), not just the first. */
export function reportDisagreements(what: string, disagreements: readonly string[], checked: number): void {
  if (disagreements.length === 0) return;
  const shown = disagreements.slice(0, 60).join("\n  ");
  const more = disagreements.length > 60 ? `\n  ... and ${disagreements.length - 60} more` : "";
  throw new Error(`${what}: ${disagreements.length} of ${checked} cases disagree with packaging:\n  ${shown}${more}`);
}
