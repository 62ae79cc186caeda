import { describe, expect, it } from "vitest";
import { manualRunDates, nextScheduledInterval, resolveParams, retryDelayMs } from "../../src/engine/index.ts";
import { makeDag } from "./fixtures/dags.ts";

describe("retryDelayMs", () => {
  const seed = { dagId: "d", taskId: "t", logicalDate: "2026-01-01T00:00:00.000Z" };
  const task = { retryDelayMs: 1000, retryExponentialBackoff: false, maxRetryDelayMs: null };

  it("is the plain retryDelay without backoff, capped by maxRetryDelay", () => {
    expect([1, 2, 5].map((n) => retryDelayMs(task, n, seed))).toEqual([1000, 1000, 1000]);
    expect(retryDelayMs({ ...task, maxRetryDelayMs: 400 }, 1, seed)).toBe(400);
  });

  it("doubles with exponential backoff, with a deterministic jitter in [base, 2·base)", () => {
    const backoff = { ...task, retryExponentialBackoff: true };
    for (let n = 1; n <= 8; n++) {
      const base = 1000 * 2 ** (n - 1);
      const delay = retryDelayMs(backoff, n, seed);
      expect(delay).toBeGreaterThanOrEqual(base);
      expect(delay).toBeLessThan(2 * base);
      expect(retryDelayMs(backoff, n, seed)).toBe(delay);
    }
    // The jitter depends on the task instance, so a fan of failures does not retry in lockstep.
    const others = ["a", "b", "c", "d", "e"].map((taskId) => retryDelayMs(backoff, 3, { ...seed, taskId }));
    expect(new Set(others).size).toBeGreaterThan(1);
  });

  it("caps the backoff at maxRetryDelay", () => {
    const capped = { retryDelayMs: 1000, retryExponentialBackoff: true, maxRetryDelayMs: 5000 };
    expect(retryDelayMs(capped, 1, seed)).toBeLessThan(2000);
    expect(retryDelayMs(capped, 4, seed)).toBe(5000);
    expect(retryDelayMs(capped, 30, seed)).toBe(5000);
  });
});

describe("manualRunDates", () => {
  it("uses the logical date as an empty interval without a schedule", () => {
    const at = new Date("2026-05-05T12:34:56Z");
    expect(manualRunDates({ dagId: "d", schedule: null, timezone: "UTC" }, at)).toEqual({ logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at });
    expect(manualRunDates({ dagId: "d", schedule: "@once", timezone: "UTC" }, at).dataIntervalStart).toEqual(at);
  });

  it("takes the last complete schedule interval, in the DAG's time zone", () => {
    const d = manualRunDates({ dagId: "d", schedule: "@daily", timezone: "UTC" }, new Date("2026-05-05T12:00:00Z"));
    expect([d.dataIntervalStart.toISOString(), d.dataIntervalEnd.toISOString()]).toEqual(["2026-05-04T00:00:00.000Z", "2026-05-05T00:00:00.000Z"]);
    const onTick = manualRunDates({ dagId: "d", schedule: "0 * * * *", timezone: "UTC" }, new Date("2026-05-05T12:00:00Z"));
    expect(onTick.dataIntervalEnd.toISOString()).toBe("2026-05-05T12:00:00.000Z");
    const ny = manualRunDates({ dagId: "d", schedule: "0 0 * * *", timezone: "America/New_York" }, new Date("2026-05-05T12:00:00Z"));
    expect([ny.dataIntervalStart.toISOString(), ny.dataIntervalEnd.toISOString()]).toEqual(["2026-05-04T04:00:00.000Z", "2026-05-05T04:00:00.000Z"]);
  });

  it("rejects an invalid schedule and an invalid date", () => {
    expect(() => manualRunDates({ dagId: "d", schedule: "every day", timezone: "UTC" })).toThrow(expect.objectContaining({ code: "invalid_schedule" }));
    expect(() => manualRunDates({ dagId: "d", schedule: null, timezone: "UTC" }, new Date("nope"))).toThrow(expect.objectContaining({ code: "invalid_logical_date" }));
  });
});

describe("resolveParams", () => {
  it("overrides DAG params with the conf keys that name a param only, without mutating the DAG", () => {
    const dag = makeDag("p", [{ id: "a" }], { params: { a: 1, nested: { x: 1 } } });
    const params = resolveParams(dag, { a: 2, b: 3 });
    expect(params).toEqual({ a: 2, nested: { x: 1 } });
    (params.nested as { x: number }).x = 9;
    expect(dag.params).toEqual({ a: 1, nested: { x: 1 } });
  });
});

describe("nextScheduledInterval", () => {
  const hourly = { dagId: "d", schedule: "0 * * * *", timezone: "UTC", startDate: new Date("2026-01-01T00:30:00Z"), endDate: null, catchup: true };
  const at = (iso: string) => new Date(iso);
  const iso = (i: { start: Date; end: Date } | null) => i && [i.start.toISOString(), i.end.toISOString()];

  it("starts at the first fire at or after startDate, and is due once that interval has ended", () => {
    expect(nextScheduledInterval(hourly, null, at("2026-01-01T01:59:59Z"))).toBeNull();
    expect(iso(nextScheduledInterval(hourly, null, at("2026-01-01T02:00:00Z")))).toEqual(["2026-01-01T01:00:00.000Z", "2026-01-01T02:00:00.000Z"]);
  });

  it("with catchup, continues from the last scheduled interval; without, jumps to the latest complete one", () => {
    const now = at("2026-01-01T10:15:00Z");
    expect(iso(nextScheduledInterval(hourly, at("2026-01-01T03:00:00Z"), now))).toEqual(["2026-01-01T03:00:00.000Z", "2026-01-01T04:00:00.000Z"]);
    expect(iso(nextScheduledInterval({ ...hourly, catchup: false }, at("2026-01-01T03:00:00Z"), now))).toEqual(["2026-01-01T09:00:00.000Z", "2026-01-01T10:00:00.000Z"]);
    expect(iso(nextScheduledInterval({ ...hourly, catchup: false, startDate: null }, null, now))).toEqual(["2026-01-01T09:00:00.000Z", "2026-01-01T10:00:00.000Z"]);
    expect(nextScheduledInterval(hourly, at("2026-01-01T10:00:00Z"), now)).toBeNull();
  });

  it("creates nothing after endDate, for a future startDate, or without a cron schedule", () => {
    const now = at("2026-01-01T10:15:00Z");
    expect(nextScheduledInterval({ ...hourly, endDate: at("2026-01-01T05:00:00Z") }, at("2026-01-01T06:00:00Z"), now)).toBeNull();
    expect(nextScheduledInterval({ ...hourly, catchup: false, startDate: at("2026-02-01T00:00:00Z") }, null, now)).toBeNull();
    expect(nextScheduledInterval({ ...hourly, schedule: null }, null, now)).toBeNull();
    expect(nextScheduledInterval({ ...hourly, schedule: "@once" }, null, now)).toBeNull();
  });

  it("follows the DAG's time zone", () => {
    const ny = { ...hourly, schedule: "0 0 * * *", timezone: "America/New_York", startDate: null, catchup: false };
    expect(iso(nextScheduledInterval(ny, null, at("2026-07-10T12:00:00Z")))).toEqual(["2026-07-09T04:00:00.000Z", "2026-07-10T04:00:00.000Z"]);
  });
});
