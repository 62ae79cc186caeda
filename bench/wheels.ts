/**
 * venvflow's wheel installer against Airflow's method, in the same run: the 28 wheels of flask, boto3, requests,
 * pydantic and jsonschema from the machine's local mirror, pinned as pip resolves them (not timed).
 * - Airflow: `python -m venv DIR` + `DIR/bin/pip install -r pins.txt` (PythonVirtualenvOperator, no venv cache).
 * - cold: installLocked with an empty wheel cache (fresh VENVFLOW_HOME).
 * - unzip: the same wheels merely unzipped (`unzip -q`, two workers): the floor for a cold build.
 * - warm: installLocked of the same wheels into a new environment, wheel cache warm (any new combination of
 *   cached wheels costs the same: nothing but the wheels is shared between environments).
 * Targets (issue #13): cold ≤ 0.35×, warm ≤ 0.05× Airflow's method.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findPython } from "../src/env/python.ts";
import { installLocked, type LockedWheel } from "../src/env/wheels/index.ts";
import { machinePipEnv } from "../test/support/machine-pip.ts";
import { fmt, median, now, row } from "./common.ts";

const REQUIREMENTS = ["flask", "boto3", "requests", "pydantic", "jsonschema"];

interface PipReport {
  install: { download_info: { url: string; archive_info?: { hashes?: { sha256?: string } } }; metadata: { name: string; version: string }; requested: boolean }[];
}

function ratioLine(label: string, ms: number, baselineMs: number, target: number): string {
  const ratio = ms / baselineMs;
  return `${row(label, ms, baselineMs)}  (${ratio.toFixed(3)}x of the baseline; target <= ${target}x: ${ratio <= target ? "met" : "NOT met"})`;
}

export async function benchWheels(rounds = 3): Promise<void> {
  const python = await findPython(process.env.BENCH_PYTHON ?? "3.11");
  const env = machinePipEnv(python.path);
  const index = env.PIP_INDEX_URL ?? "";
  if (!index.startsWith("file://") || !existsSync(fileURLToPath(index))) {
    console.log(`wheel installer: skipped, the machine's pip index (${index || "none"}) is not a local file:// mirror`);
    return;
  }
  const scratch = await mkdtemp(path.join(tmpdir(), "venvflow-bench-wheels-"));
  try {
    const reportFile = path.join(scratch, "report.json");
    execFileSync(python.path, ["-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", reportFile, ...REQUIREMENTS], { env, stdio: "ignore" });
    const report = JSON.parse(await readFile(reportFile, "utf8")) as PipReport;
    const notWheels = report.install.filter((i) => !i.download_info.url.endsWith(".whl") || !i.download_info.archive_info?.hashes?.sha256);
    if (notWheels.length > 0 || !report.install.every((i) => i.download_info.url.startsWith("file:"))) {
      console.log(`wheel installer: skipped, the mirror has no local wheel for ${notWheels.map((i) => i.metadata.name).join(", ") || "some packages"}`);
      return;
    }
    const packages: LockedWheel[] = report.install.map((i) => ({
      name: i.metadata.name,
      version: i.metadata.version,
      wheelUrl: i.download_info.url,
      sha256: i.download_info.archive_info?.hashes?.sha256 as string,
      requested: i.requested,
    }));
    const pins = path.join(scratch, "pins.txt");
    await writeFile(pins, packages.map((p) => `${p.name}==${p.version}\n`).join(""));
    const wheelFiles = packages.map((p) => fileURLToPath(p.wheelUrl));
    const hasUnzip = existsSync("/usr/bin/unzip");
    console.log(`wheel installer: ${packages.length} wheels (${REQUIREMENTS.join(", ")}) on Python ${python.version} from ${index}; ${rounds} rounds, medians`);

    const airflow: number[] = [];
    const cold: number[] = [];
    const unzip: number[] = [];
    const warm: number[] = [];
    let lastCold = "";
    let lastWarm = "";
    for (let round = 0; round < rounds; round++) {
      const dir = path.join(scratch, `round-${round}`);
      let t = now();
      execFileSync(python.path, ["-m", "venv", path.join(dir, "airflow")], { env, stdio: "ignore" });
      execFileSync(path.join(dir, "airflow", "bin", "pip"), ["install", "-r", pins], { env, stdio: "ignore" });
      airflow.push(now() - t);

      const home = path.join(dir, "home");
      t = now();
      const coldResult = await installLocked({ packages }, path.join(dir, "cold"), python, { home });
      cold.push(now() - t);
      lastCold = `last round: venv ${fmt(coldResult.timings.createVenvMs)}, last wheel in the cache at ${fmt(coldResult.timings.fetchUnpackMs)}, done at ${fmt(coldResult.timings.totalMs)} (${coldResult.linkMode})`;

      const unzipDir = path.join(dir, "unzip");
      await mkdir(unzipDir, { recursive: true });
      t = now();
      if (hasUnzip) execFileSync("sh", ["-c", `printf '%s\\n' "$@" | xargs -P2 -I{} sh -c 'unzip -q -o "$1" -d "${unzipDir}/$(basename "$1")"' _ {}`, "_", ...wheelFiles]);
      else execFileSync(python.path, ["-c", "import sys, zipfile\nfor f in sys.argv[2:]: zipfile.ZipFile(f).extractall(sys.argv[1] + '/' + f.split('/')[-1])", unzipDir, ...wheelFiles]);
      unzip.push(now() - t);

      t = now();
      const warmResult = await installLocked({ packages }, path.join(dir, "warm"), python, { home });
      warm.push(now() - t);
      lastWarm = `last round: venv ${fmt(warmResult.timings.createVenvMs)}, done at ${fmt(warmResult.timings.totalMs)} (${warmResult.linkMode})`;
      await rm(dir, { recursive: true, force: true });
    }
    const baseline = median(airflow);
    console.log(row("Airflow: python -m venv + pip install -r pins (baseline)", baseline));
    console.log(ratioLine("venvflow cold (empty wheel cache)", median(cold), baseline, 0.35));
    console.log(`    ${lastCold}`);
    console.log(row(`unzip the same wheels (${hasUnzip ? "unzip -q, 2 workers" : "python zipfile"}): the floor`, median(unzip), baseline));
    console.log(ratioLine("venvflow warm (wheel cache warm, new environment)", median(warm), baseline, 0.05));
    console.log(`    ${lastWarm}`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
