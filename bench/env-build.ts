/**
 * Cold and cached environment builds against Airflow's method, in the same run on the same machine:
 * Airflow (PythonVirtualenvOperator without venv_cache_path): `python -m venv DIR` then
 * `DIR/bin/pip install -r requirements.txt`, every time. venvflow: ensureEnvironment, cold (empty cache)
 * and cached (the same spec again).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ensureEnvironment, findPython } from "../src/env/index.ts";
import { machinePipEnv } from "../test/support/machine-pip.ts";
import { median, now, row } from "./common.ts";

const REQUIREMENTS = ["flask", "boto3", "requests", "pydantic", "jsonschema"];

export async function benchEnvBuild(rounds = 3): Promise<void> {
  const python = await findPython(process.env.BENCH_PYTHON ?? "3.11");
  const env = machinePipEnv(python.path);
  console.log(`environment build: ${REQUIREMENTS.join(", ")} on Python ${python.version}; index ${env.PIP_INDEX_URL ?? "(pip default)"}; ${rounds} rounds, medians`);
  const scratch = await mkdtemp(path.join(tmpdir(), "venvflow-bench-"));
  const requirementsFile = path.join(scratch, "requirements.txt");
  await writeFile(requirementsFile, REQUIREMENTS.join("\n") + "\n");
  const airflow: number[] = [];
  const cold: number[] = [];
  const cached: number[] = [];
  let packages = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const venv = path.join(scratch, `airflow-venv-${round}`);
      let t = now();
      execFileSync(python.path, ["-m", "venv", venv], { env, stdio: "ignore" });
      execFileSync(path.join(venv, "bin", "pip"), ["install", "-r", requirementsFile], { env, stdio: "ignore" });
      airflow.push(now() - t);

      const home = path.join(scratch, `home-${round}`);
      t = now();
      const built = await ensureEnvironment({ pythonVersion: python.path, requirements: REQUIREMENTS }, { home, env });
      cold.push(now() - t);
      packages = built.lock.length;
      t = now();
      await ensureEnvironment({ pythonVersion: python.path, requirements: REQUIREMENTS }, { home, env });
      cached.push(now() - t);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const baseline = median(airflow);
  console.log(row("Airflow: python -m venv + pip install -r (baseline)", baseline));
  console.log(row(`venvflow cold build (${packages} packages)`, median(cold), baseline));
  console.log(row("venvflow cached (same spec again)", median(cached), baseline));
}
