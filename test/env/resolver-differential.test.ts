/**
 * Differential test: venvflow's resolver against `pip install --dry-run --ignore-installed --report` on the same
 * index, for the hermetic corpus (oldest and newest Python found) and, when the machine's mirror is configured,
 * real projects from it for every Python 3.8–3.13 found. Identical pinned sets (or both failing) are required;
 * the agreement figure is printed.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalizeName } from "../../src/env/pep/index.ts";
import { listPythons, type ProbedInterpreter } from "../../src/env/python.ts";
import { IndexClient, resolve, targetFor } from "../../src/env/resolver/index.ts";
import { VenvflowError } from "../../src/util/errors.ts";
import { startPackageIndex, testPipEnv, type PackageIndex } from "../support/pypi.ts";
import { CASES, UNIVERSE, YANKED, type CorpusCase } from "./resolver/corpus.ts";

const execFileAsync = promisify(execFile);

const home = await mkdtemp(join(tmpdir(), "venvflow-resolver-diff-"));
const found = await listPythons({ home });
const byMinor = new Map<string, ProbedInterpreter>();
for (const p of found) if (p.major === 3 && p.minor >= 8 && p.minor <= 13 && p.markers.sys_platform === "linux" && !byMinor.has(`${p.minor}`)) byMinor.set(`${p.minor}`, p);
const pythons = [...byMinor.values()].sort((a, b) => a.minor - b.minor);
// The newest pip found runs every pip side (`--python TARGET`): the provider reproduces pip 23.1–24.x.
const pipHost = found.filter((p) => p.pipVersion && /^(2[3-4])\./.test(p.pipVersion)).sort((a, b) => (b.pipVersion as string).localeCompare(a.pipVersion as string, undefined, { numeric: true }))[0];

/**
 * A failure reduced to what both sides say: its kind ("no_match:NAME", "conflict", "requires_python") and the
 * projects it blames. Two failures agree when the kinds match, or when both blame the same projects (pip calls
 * "no tomli fits, and both pytest versions need it" a conflict between the pytest versions; venvflow names tomli).
 */
type Outcome = { ok: true; pins: string[] } | { ok: false; kind: string; blamed: string[]; reason: string };

async function pipResolve(pip: ProbedInterpreter, target: ProbedInterpreter, indexUrls: string[], c: CorpusCase, scratch: string): Promise<Outcome> {
  const report = join(scratch, `report-${Math.random().toString(36).slice(2)}.json`);
  const args = ["-m", "pip", "--python", target.path, "install", "--dry-run", "--ignore-installed", "--report", report, "--index-url", indexUrls[0] as string];
  for (const extra of indexUrls.slice(1)) args.push("--extra-index-url", extra);
  if (c.pre) args.push("--pre");
  if (c.constraints?.length) {
    const file = join(scratch, `constraints-${Math.random().toString(36).slice(2)}.txt`);
    await writeFile(file, `${c.constraints.join("\n")}\n`);
    args.push("-c", file);
  }
  try {
    await execFileAsync(pip.path, [...args, ...c.requirements], { env: testPipEnv(), timeout: 300_000 });
  } catch (error) {
    // Not --quiet: pip explains a conflict ("The conflict is caused by: …") at info level, on stdout.
    const stderr = `${String((error as { stderr?: string }).stderr ?? error)}\n${String((error as { stdout?: string }).stdout ?? "")}`;
    const reason = stderr.trim().split("\n").filter((l) => l.startsWith("ERROR")).join(" ");
    const project = /No matching distribution found for ([A-Za-z0-9._-]+)/.exec(reason)?.[1];
    const kind = project ? `no_match:${canonicalizeName(project)}` : /requires a different Python/.test(reason) ? "requires_python" : /conflicting dependencies|ResolutionImpossible/.test(reason) ? "conflict" : "other";
    // "The conflict is caused by: X 1.0 depends on Y<2 / The user requested Y>=2": the projects required.
    const required = [...stderr.matchAll(/(?:depends on|The user requested) ([A-Za-z0-9._-]+?)(?:\[|[<>=!~;\s]|$)/gm)].map((m) => canonicalizeName(m[1] as string));
    return { ok: false, kind, blamed: [...new Set(project ? [canonicalizeName(project)] : required)].sort(), reason };
  }
  const parsed = JSON.parse(await readFile(report, "utf8")) as { install: { metadata: { name: string; version: string } }[] };
  return { ok: true, pins: parsed.install.map((i) => `${canonicalizeName(i.metadata.name)}==${i.metadata.version}`).sort() };
}

async function ourResolve(target: ProbedInterpreter, indexUrls: string[], c: CorpusCase, client: IndexClient): Promise<Outcome> {
  try {
    const result = await resolve(c.requirements, { indexes: indexUrls, target: targetFor(target), constraints: c.constraints ?? [], prereleases: c.pre ?? false, client });
    return { ok: true, pins: result.distributions.map((d) => `${d.name}==${d.version}`).sort() };
  } catch (error) {
    if (error instanceof VenvflowError) {
      const kinds: Record<string, string> = { conflicting_requirements: "conflict", requires_python_mismatch: "requires_python", no_matching_distribution: `no_match:${String(error.details.requirement)}`, no_compatible_wheel: `no_match:${String(error.details.requirement)}` };
      const kind = kinds[error.code] ?? error.code;
      const blamed = Array.isArray(error.details.identifiers) ? (error.details.identifiers as string[]) : error.details.requirement ? [String(error.details.requirement)] : [];
      return { ok: false, kind, blamed: [...blamed].sort(), reason: `${error.code}: ${error.message}` };
    }
    throw error;
  }
}

/** Runs `work` over `items` with at most `limit` at once (the machine is shared: pip runs two at a time). */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i] as T);
      }
    }),
  );
  return out;
}

interface Comparison {
  label: string;
  ours: Outcome;
  pips: Outcome;
}

function agree(c: Comparison): boolean {
  if (c.ours.ok && c.pips.ok) return c.ours.pins.join(" ") === c.pips.pins.join(" ");
  if (c.ours.ok || c.pips.ok) return false;
  const sameBlame = c.ours.blamed.join() === c.pips.blamed.join();
  return (c.ours.kind === c.pips.kind && (sameBlame || c.ours.blamed.length === 0 || c.pips.blamed.length === 0)) || (c.ours.blamed.length > 0 && sameBlame);
}

function report(title: string, comparisons: Comparison[]): void {
  const agreeing = comparisons.filter(agree);
  const bothResolved = agreeing.filter((c) => c.ours.ok).length;
  console.log(`${title}: ${agreeing.length}/${comparisons.length} agree with pip ${pipHost?.pipVersion} (${bothResolved} identical pinned sets, ${agreeing.length - bothResolved} fail in both, blaming the same projects)`);
  for (const c of comparisons.filter((x) => !agree(x))) console.log(`  DIFFERS ${c.label}\n    venvflow: ${JSON.stringify(c.ours)}\n    pip:      ${JSON.stringify(c.pips)}`);
}

let index: PackageIndex;
let scratch: string;

beforeAll(async () => {
  index = await startPackageIndex({ wheels: UNIVERSE, yanked: YANKED });
  scratch = await mkdtemp(join(tmpdir(), "venvflow-resolver-diff-scratch-"));
});

afterAll(async () => {
  await index?.close();
  await rm(scratch, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

describe("resolution agrees with pip", () => {
  const hermeticTargets = pythons.length > 1 ? [pythons[0] as ProbedInterpreter, pythons[pythons.length - 1] as ProbedInterpreter] : pythons;

  it.skipIf(!pipHost || hermeticTargets.length === 0)(`on the hermetic corpus (${CASES.length} requirement sets × ${hermeticTargets.map((p) => p.version).join(", ")})`, async () => {
    const jobs = hermeticTargets.flatMap((target) => CASES.map((c) => ({ target, c })));
    const clients = new Map(hermeticTargets.map((t) => [t.path, new IndexClient({ indexUrls: [index.url], cacheDir: null })]));
    const comparisons = await pool(jobs, 2, async ({ target, c }) => ({
      label: `Python ${target.version}: ${c.requirements.join(" ")}${c.constraints ? ` -c ${c.constraints.join(" ")}` : ""}${c.pre ? " --pre" : ""}`,
      ours: await ourResolve(target, [index.url], c, clients.get(target.path) as IndexClient),
      pips: await pipResolve(pipHost as ProbedInterpreter, target, [index.url], c, scratch),
    }));
    report("hermetic corpus", comparisons);
    expect(comparisons.filter((c) => !agree(c)).map((c) => c.label)).toEqual([]);
    // The corpus must exercise both outcomes, or it proves little.
    expect(comparisons.filter((c) => c.ours.ok).length).toBeGreaterThan(CASES.length);
    expect(comparisons.filter((c) => !c.ours.ok).length).toBeGreaterThan(4);
  }, 900_000);

  const mirror = mirrorIndexes();
  const REAL: CorpusCase[] = [
    { requirements: ["flask"] },
    { requirements: ["requests"] },
    { requirements: ["boto3"] },
    { requirements: ["jsonschema"] },
    { requirements: ["pydantic"] },
    { requirements: ["flask", "boto3", "requests", "pydantic", "jsonschema"] },
    { requirements: ["numpy"] },
    { requirements: ["numpy<2"] },
    { requirements: ["pandas"] },
    { requirements: ["scipy"] },
    { requirements: ["httpx", "rich"] },
    { requirements: ["sqlalchemy", "fastapi"] },
    { requirements: ["six", "click"] },
    { requirements: ["attrs", "idna", "certifi"] },
    { requirements: ["python-dateutil", "jmespath"] },
    { requirements: ["urllib3<3", "typing-extensions"] },
    { requirements: ["itsdangerous", "blinker"] },
    { requirements: ["pytest"] },
  ];
  it.skipIf(!pipHost || mirror === null || pythons.length === 0)(`on real projects from the machine's mirror (${REAL.length} sets × every Python 3.8–3.13 found)`, async () => {
    const urls = mirror as string[];
    const jobs = pythons.flatMap((target) => REAL.map((c) => ({ target, c })));
    const clients = new Map(pythons.map((t) => [t.path, new IndexClient({ indexUrls: urls, cacheDir: null })]));
    const comparisons = await pool(jobs, 2, async ({ target, c }) => ({
      label: `Python ${target.version}: ${c.requirements.join(" ")}`,
      ours: await ourResolve(target, urls, c, clients.get(target.path) as IndexClient),
      pips: await pipResolve(pipHost as ProbedInterpreter, target, urls, c, scratch),
    }));
    report("mirror", comparisons);
    expect(comparisons.filter((c) => !agree(c)).map((c) => c.label)).toEqual([]);
  }, 900_000);

  if (!pipHost) console.log("skipped: no pip 23.x/24.x found to compare with");
  if (mirror === null) console.log("skipped real projects: `pip config get global.extra-index-url` names no mirror on this machine");
});

/** The machine's mirror (`pip config get global.extra-index-url`), or null when there is none. */
function mirrorIndexes(): string[] | null {
  if (!pipHost) return null;
  try {
    const value = execFileSync(pipHost.path, ["-m", "pip", "config", "get", "global.extra-index-url"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return value ? value.split(/\s+/) : null;
  } catch {
    return null;
  }
}
