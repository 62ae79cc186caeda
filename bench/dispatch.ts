/**
 * Cached task dispatch: `runCallable` of a trivial callable in an already-built environment, against a
 * bare interpreter start (`python -c "pass"`) measured in the same run. The gap is venvflow's overhead:
 * spec resolution and key, the environment lease, the runner, argument and result files, log streaming.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { findPython } from "../src/env/index.ts";
import { runCallable } from "../src/runtime/index.ts";
import { fmt, median, now } from "./common.ts";

export async function benchDispatch(rounds = 20): Promise<void> {
  const python = await findPython(process.env.BENCH_PYTHON ?? "3.11");
  const home = await mkdtemp(path.join(tmpdir(), "venvflow-bench-dispatch-"));
  const callable = { source: "def light(x):\n    return x + 1\n" };
  try {
    const warm = await runCallable({ pythonCallable: callable, opArgs: [1], pythonVersion: python.path, home });
    if (warm.state !== "success") throw new Error(`dispatch bench callable failed: ${JSON.stringify(warm.error)}`);
    const bare: number[] = [];
    const dispatched: number[] = [];
    for (let i = 0; i < rounds; i++) {
      let t = now();
      execFileSync(warm.env.python, ["-c", "pass"]);
      bare.push(now() - t);
      t = now();
      const result = await runCallable({ pythonCallable: callable, opArgs: [i], pythonVersion: python.path, home });
      dispatched.push(now() - t);
      if (result.returnValue !== i + 1) throw new Error("wrong result");
    }
    const baseline = median(bare);
    const ours = median(dispatched);
    console.log(`cached dispatch: Python ${python.version}, ${rounds} rounds, medians`);
    console.log(`  bare interpreter start (python -c pass, baseline)   ${fmt(baseline).padStart(10)}`);
    console.log(`  venvflow runCallable, cached environment          ${fmt(ours).padStart(10)}  +${fmt(ours - baseline)} over the baseline (${(ours / baseline).toFixed(2)}x)`);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
