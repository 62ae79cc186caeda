/**
 * Environment builds with venvflow's installer (the default) against Airflow's method, in the same run, on the
 * machine's local mirror (skipped, saying why, without one). Airflow (PythonVirtualenvOperator without
 * venv_cache_path): `python -m venv DIR` then `DIR/bin/pip install -r requirements.txt`, every time.
 * - cold: every cache empty (fresh VENVFLOW_HOME): 28 wheels of flask, boto3, requests, pydantic, jsonschema;
 *   beside it the time to merely unzip the same wheels (two workers), the floor for writing the files;
 * - warm: a new environment of a different combination whose wheels are all cached (resolution from the warm
 *   index cache, then linking), against Airflow's method for that combination;
 * - from lock: the first environment rebuilt from its pylock.toml on a "second machine" (a fresh VENVFLOW_HOME
 *   whose wheel cache is warm): no resolution;
 * - resolution alone (warm index cache) against `pip install --dry-run --report`.
 * Targets (issue #13): cold <= 0.35x, warm <= 0.05x, from lock <= 0.05x Airflow's method.
 * Bytecode is compiled in the background after each build; the benchmark waits for it before the next
 * measurement, so no measurement shares the cores with it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureEnvironment, findPython, lockDagEnvironments, resolveSpec } from "../src/env/index.ts";
import { resolve, targetFor } from "../src/env/resolver/index.ts";
import type { EnvSpecInput, Environment } from "../src/env/types.ts";
import { machinePipEnv } from "../test/support/machine-pip.ts";
import { fmt, median, now, row } from "./common.ts";

const REQUIREMENTS = ["flask", "boto3", "requests", "pydantic", "jsonschema"];
/** A different combination, every wheel of it already cached by the cold build. */
const OTHER = ["boto3", "pydantic", "jsonschema", "requests"];

function ratioLine(label: string, ms: number, baselineMs: number, target?: number): string {
  const ratio = ms / baselineMs;
  return `${row(label, ms, baselineMs)}  (${ratio.toFixed(3)}x of the baseline${target === undefined ? "" : `; target <= ${target}x: ${ratio <= target ? "met" : "NOT met"}`})`;
}

/** Waits until the background bytecode compilation of an environment has finished (it must not share the cores with the next measurement). */
async function bytecodeDone(env: Environment): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (spawnSync("pgrep", ["-f", `compileall -q ${env.path}`]).status !== 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function airflow(python: string, venv: string, requirementsFile: string, env: NodeJS.ProcessEnv): number {
  const t = now();
  execFileSync(python, ["-m", "venv", venv], { env, stdio: "ignore" });
  execFileSync(path.join(venv, "bin", "pip"), ["install", "-r", requirementsFile], { env, stdio: "ignore" });
  return now() - t;
}

export async function benchEnvBuild(rounds = 3): Promise<void> {
  const python = await findPython(process.env.BENCH_PYTHON ?? "3.11");
  const machine = machinePipEnv(python.path);
  const index = machine.PIP_INDEX_URL ?? "";
  if (!index.startsWith("file://") || !existsSync(fileURLToPath(index))) {
    console.log(`environment build: skipped, the machine's pip index (${index || "none"}) is not a local file:// mirror`);
    return;
  }
  // Both methods see the same configuration: the mirror as the only index (no find-links, no config file).
  const env: NodeJS.ProcessEnv = { ...machine, PIP_CONFIG_FILE: "/dev/null", PIP_INDEX_URL: index, PIP_EXTRA_INDEX_URL: "", VENVFLOW_BYTECODE: "1" };
  delete env.PIP_FIND_LINKS;
  console.log(`environment build: ${REQUIREMENTS.join(", ")} on Python ${python.version}; index ${index} only; ${rounds} rounds, medians`);
  const scratch = await mkdtemp(path.join(tmpdir(), "venvflow-bench-env-"));
  const files = { all: path.join(scratch, "requirements.txt"), other: path.join(scratch, "other.txt") };
  await writeFile(files.all, `${REQUIREMENTS.join("\n")}\n`);
  await writeFile(files.other, `${OTHER.join("\n")}\n`);
  const times = { airflow: [] as number[], airflowOther: [] as number[], cold: [] as number[], unzip: [] as number[], warm: [] as number[], fromLock: [] as number[], resolve: [] as number[], pipResolve: [] as number[] };
  let packages = 0;
  let otherPackages = 0;
  let lockedPackages = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const dir = path.join(scratch, `round-${round}`);
      const lockDir = path.join(dir, "dags");
      await mkdir(lockDir, { recursive: true });
      const spec = (requirements: string[]): EnvSpecInput => ({ pythonVersion: python.path, requirements, baseDir: lockDir });
      times.airflow.push(airflow(python.path, path.join(dir, "airflow"), files.all, env));

      const home = path.join(dir, "home");
      let t = now();
      const cold = await ensureEnvironment(spec(REQUIREMENTS), { home, env });
      times.cold.push(now() - t);
      if (cold.installer.name !== "venvflow") throw new Error(`the cold build used ${cold.installer.name}, not venvflow's installer: see ${cold.buildLogPath}`);
      packages = cold.lock.length;
      await bytecodeDone(cold);

      const wheels = cold.lock.map((p) => fileURLToPath(p.source));
      const unzipDir = path.join(dir, "unzip");
      await mkdir(unzipDir);
      t = now();
      execFileSync("sh", ["-c", `printf '%s\\n' "$@" | xargs -P2 -I{} sh -c 'unzip -q -o "$1" -d "${unzipDir}/$(basename "$1")"' _ {}`, "_", ...wheels]);
      times.unzip.push(now() - t);

      times.airflowOther.push(airflow(python.path, path.join(dir, "airflow-other"), files.other, env));
      t = now();
      const warm = await ensureEnvironment(spec(OTHER), { home, env });
      times.warm.push(now() - t);
      otherPackages = warm.lock.length;
      await bytecodeDone(warm);

      // The lock, as `venvflow lock` writes it, beside a DAG file; then a second machine: fresh home, warm wheel cache.
      await lockDagEnvironments(path.join(lockDir, "bench.ts"), [{ label: "bench", spec: await resolveSpec(spec(REQUIREMENTS), { home, env }) }], { home, env });
      const second = path.join(dir, "second-home");
      await mkdir(second);
      execFileSync("cp", ["-al", path.join(home, "wheels"), path.join(second, "wheels")]);
      t = now();
      const fromLock = await ensureEnvironment(spec(REQUIREMENTS), { home: second, env });
      times.fromLock.push(now() - t);
      lockedPackages = fromLock.lock.length;
      if (fromLock.key === cold.key) throw new Error("the environment built from the lock has the unlocked key");
      await bytecodeDone(fromLock);

      t = now();
      execFileSync(python.path, ["-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", path.join(dir, "report.json"), ...REQUIREMENTS], { env, stdio: "ignore" });
      times.pipResolve.push(now() - t);
      t = now();
      await resolve(REQUIREMENTS, { indexes: [index], target: targetFor(python), cacheDir: path.join(home, "cache", "index") });
      times.resolve.push(now() - t);
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const baseline = median(times.airflow);
  console.log(row(`Airflow: python -m venv + pip install -r (baseline, ${packages} packages)`, baseline));
  console.log(ratioLine("venvflow cold (every cache empty)", median(times.cold), baseline, 0.35));
  console.log(ratioLine("unzip the same wheels (unzip -q, 2 workers): the floor", median(times.unzip), baseline));
  console.log(ratioLine(`venvflow from pylock.toml (fresh home, warm wheel cache)`, median(times.fromLock), baseline, 0.05));
  console.log(`    ${lockedPackages} locked packages installed with no resolution`);
  const otherBaseline = median(times.airflowOther);
  console.log(row(`Airflow, other combination (${OTHER.join(", ")}; ${otherPackages} packages)`, otherBaseline));
  console.log(ratioLine("venvflow new environment, warm wheel cache", median(times.warm), otherBaseline, 0.05));
  console.log(`    against the 28-package baseline: ${(median(times.warm) / baseline).toFixed(3)}x`);
  const pipBaseline = median(times.pipResolve);
  console.log(row("pip install --dry-run --report (resolution baseline)", pipBaseline));
  console.log(ratioLine("venvflow resolution alone, warm index cache", median(times.resolve), pipBaseline));
  console.log(`  (${fmt(median(times.cold))} cold includes resolution, downloads, unpacking and linking; bytecode is compiled afterwards, off the critical path)`);
}
