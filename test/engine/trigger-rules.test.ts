import { describe, expect, it } from "vitest";
import { TRIGGER_RULES, type TriggerRule } from "../../src/dag/model.ts";
import { countUpstream, evaluateTriggerRule, runDag } from "../../src/engine/index.ts";
import type { TaskState } from "../../src/store/schema.ts";
import { BACKENDS, useStores } from "./backends.ts";
import { fail, makeDag, ok, skip, sleep, type TaskSpec } from "./fixtures/dags.ts";

// Upstream combinations, all finished: S success, F failed, K skipped, U upstream_failed.
const COMBOS = ["S", "F", "K", "U", "SS", "SF", "SK", "FF", "FK", "KK", "SU", "UU"] as const;
// What the downstream task ends as (run = it ran and succeeded), per Airflow's TriggerRuleDep.
const R = "success";
const K = "skipped";
const UF = "upstream_failed";
const EXPECTED: Record<TriggerRule, string[]> = {
  //                            S   F   K   U   SS  SF  SK  FF  FK  KK  SU  UU
  all_success: /*            */ [R, UF, K, UF, R, UF, K, UF, UF, K, UF, UF],
  all_failed: /*             */ [K, R, K, R, K, K, K, R, K, K, K, R],
  all_done: /*               */ [R, R, R, R, R, R, R, R, R, R, R, R],
  all_skipped: /*            */ [K, K, R, K, K, K, K, K, K, R, K, K],
  one_success: /*            */ [R, UF, K, UF, R, R, R, UF, UF, K, R, UF],
  one_failed: /*             */ [K, R, K, R, K, R, K, R, R, K, R, R],
  one_done: /*               */ [R, R, K, K, R, R, R, R, R, K, R, K],
  none_failed: /*            */ [R, UF, R, UF, R, UF, R, UF, UF, R, UF, UF],
  none_failed_min_one_success: [R, UF, K, UF, R, UF, R, UF, UF, K, UF, UF],
  none_skipped: /*           */ [R, R, K, R, R, R, K, R, K, K, R, R],
  always: /*                 */ [R, R, R, R, R, R, R, R, R, R, R, R],
};
const LETTER: Record<string, TaskState> = { S: "success", F: "failed", K: "skipped", U: "upstream_failed" };

describe("evaluateTriggerRule", () => {
  it.each(TRIGGER_RULES.flatMap((rule) => COMBOS.map((combo, i) => [rule, combo, EXPECTED[rule][i]!] as const)))("%s with upstream %s → %s", (rule, combo, expected) => {
    const decision = evaluateTriggerRule(rule, countUpstream([...combo].map((c) => LETTER[c]!)));
    expect(decision === "run" ? "success" : decision).toBe(expected);
  });

  it("passes every rule for a task without upstream", () => {
    for (const rule of TRIGGER_RULES) expect(evaluateTriggerRule(rule, countUpstream([]))).toBe("run");
  });

  it("waits for unfinished upstream, except where one finished upstream already decides", () => {
    const partial = (...states: TaskState[]) => countUpstream(states);
    expect(evaluateTriggerRule("all_success", partial("success", "running"))).toBe("wait");
    expect(evaluateTriggerRule("all_success", partial("failed", "running"))).toBe("upstream_failed");
    expect(evaluateTriggerRule("all_success", partial("skipped", "queued"))).toBe("skipped");
    expect(evaluateTriggerRule("all_failed", partial("success", "running"))).toBe("skipped");
    expect(evaluateTriggerRule("all_done", partial("success", "up_for_retry"))).toBe("wait");
    expect(evaluateTriggerRule("one_success", partial("success", "running"))).toBe("run");
    expect(evaluateTriggerRule("one_success", partial("failed", "running"))).toBe("wait");
    expect(evaluateTriggerRule("one_failed", partial("upstream_failed", "none"))).toBe("run");
    expect(evaluateTriggerRule("one_done", partial("failed", "running"))).toBe("run");
    expect(evaluateTriggerRule("one_done", partial("skipped", "running"))).toBe("wait");
    expect(evaluateTriggerRule("none_failed", partial("success", "scheduled"))).toBe("wait");
    expect(evaluateTriggerRule("none_skipped", partial("skipped", "running"))).toBe("skipped");
    expect(evaluateTriggerRule("always", partial("none", "running"))).toBe("run");
  });
});

describe.each(BACKENDS)("trigger rules in a run on %s", (backend) => {
  const stores = useStores(backend);

  it("settles every rule × upstream combination as Airflow does, including propagation", async () => {
    const store = await stores.open();
    // U is upstream_failed because its own upstream failed; every target gets the combination as upstream.
    const specs: TaskSpec[] = [
      { id: "S", run: () => ok() },
      { id: "F", run: () => fail() },
      { id: "K", run: () => skip() },
      { id: "F0", run: () => fail() },
      { id: "U", upstream: ["F0"] },
      { id: "S2", run: () => ok() },
      { id: "F2", run: () => fail() },
      // all_success settles on the first finished non-success upstream (Airflow's early flag_upstream_failed), so
      // with F and K its result depends on which finishes first; K2 waits for F to pin the all-done answer.
      { id: "K2", upstream: ["F"], triggerRule: "all_done", run: () => skip() },
      { id: "F02", run: () => fail() },
      { id: "U2", upstream: ["F02"] },
    ];
    for (const rule of TRIGGER_RULES) {
      for (const combo of COMBOS) {
        const upstream = [...combo].map((c, i) => (i === 0 ? c : `${c}2`));
        specs.push({ id: `${rule}__${combo}`, upstream, triggerRule: rule });
      }
    }
    // Propagation two levels down: all_success below an upstream_failed is upstream_failed, below skipped is skipped.
    specs.push({ id: "below_uf", upstream: ["all_success__F"] }, { id: "below_k", upstream: ["all_success__K"] });
    const dag = makeDag("rules", specs, { maxActiveTasks: 64 });
    const s = await runDag(dag, { store, home: stores.home, workers: 4, pollIntervalMs: 50 });
    const states = Object.fromEntries(s.tasks.map((t) => [t.taskId, t.state]));
    const actual = Object.fromEntries(TRIGGER_RULES.map((rule) => [rule, COMBOS.map((c) => states[`${rule}__${c}`])]));
    expect(actual).toEqual(EXPECTED);
    expect(states.U).toBe("upstream_failed");
    expect([states.below_uf, states.below_k]).toEqual(["upstream_failed", "skipped"]);
  });

  it("starts a one_success task while its other upstream is still running", async () => {
    const store = await stores.open();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const dag = makeDag("early", [
      { id: "fast" },
      // Finishes only once `eager` has run: a scheduler that waited for all upstream would hang here.
      { id: "slow", run: async () => { await Promise.race([released, sleep(15_000)]); return ok("slow"); } },
      { id: "eager", upstream: ["fast", "slow"], triggerRule: "one_success", run: () => { release(); return ok(); } },
    ]);
    const started = Date.now();
    const s = await runDag(dag, { store, home: stores.home, workers: 2, pollIntervalMs: 50 });
    expect(s.state).toBe("success");
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
