/**
 * Resolution alone: venvflow's resolver with a warm index cache (pages revalidated, metadata from the disk cache)
 * against pip's `install --dry-run --ignore-installed --report` on the same index, in the same run. Uses the
 * machine's mirror (pip's configured index); skipped with the reason when there is none.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { findPython } from "../src/env/index.ts";
import { canonicalizeName } from "../src/env/pep/index.ts";
import { resolve, targetFor } from "../src/env/resolver/index.ts";
import { machinePipEnv } from "../test/support/machine-pip.ts";
import { median, now, row } from "./common.ts";

const REQUIREMENTS = ["flask", "boto3", "requests", "pydantic", "jsonschema"];

export async function benchResolve(rounds = 5): Promise<void> {
  const python = await findPython(process.env.BENCH_PYTHON ?? "3.11");
  const env = machinePipEnv(python.path);
  const indexes = [env.PIP_INDEX_URL, ...(env.PIP_EXTRA_INDEX_URL ?? "").split(/\s+/)].filter((u): u is string => Boolean(u));
  if (indexes.length === 0) {
    console.log("resolution: skipped (pip's configuration names no index: `pip config get global.extra-index-url` is empty and PIP_INDEX_URL is unset)");
    return;
  }
  console.log(`resolution alone: ${REQUIREMENTS.join(", ")} on Python ${python.version}; index ${indexes.join(" ")}; ${rounds} rounds, medians`);
  const scratch = await mkdtemp(path.join(tmpdir(), "venvflow-bench-resolve-"));
  const cacheDir = path.join(scratch, "index-cache");
  const target = targetFor(python);
  const pipTimes: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  let pipPins = "(pip did not run)";
  let ourPins: string;
  try {
    let t = now();
    ourPins = (await resolve(REQUIREMENTS, { indexes, target, cacheDir })).distributions.map((d) => `${d.name}==${d.version}`).sort().join(" ");
    cold.push(now() - t);
    for (let round = 0; round < rounds; round++) {
      const report = path.join(scratch, `report-${round}.json`);
      t = now();
      execFileSync(python.path, ["-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", report, ...REQUIREMENTS], { env, stdio: "ignore" });
      pipTimes.push(now() - t);
      const parsed = JSON.parse(await readFile(report, "utf8")) as { install: { metadata: { name: string; version: string } }[] };
      pipPins = parsed.install.map((i) => `${canonicalizeName(i.metadata.name)}==${i.metadata.version}`).sort().join(" ");
      // A new resolution each round (no in-memory memo): pages revalidated, metadata from the disk cache.
      t = now();
      await resolve(REQUIREMENTS, { indexes, target, cacheDir });
      warm.push(now() - t);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const baseline = median(pipTimes);
  const count = ourPins.split(" ").length;
  console.log(row(`pip install --dry-run --report (baseline, ${count} pins)`, baseline));
  console.log(row("venvflow resolve, cold index cache (1 run)", cold[0] as number, baseline));
  console.log(row("venvflow resolve, warm index cache", median(warm), baseline));
  console.log(`  same pinned set as pip: ${ourPins === pipPins ? "yes" : `NO\n    venvflow: ${ourPins}\n    pip:      ${pipPins}`}`);
}
