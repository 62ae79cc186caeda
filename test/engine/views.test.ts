import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LogTail } from "../../src/runtime/logs.ts";
import { tryEnvironment } from "../../src/engine/views.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "venvflow-views-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (msg: string, ts = "2026-01-01T00:00:00.000Z"): string => `${JSON.stringify({ ts, stream: "system", level: "INFO", msg })}\n`;

describe("LogTail", () => {
  it("returns only complete new lines, holding back a line still being written", async () => {
    const file = path.join(dir, "attempt=1.log");
    const tail = new LogTail();
    expect(tail.read(file)).toEqual([]); // not created yet
    writeFileSync(file, line("one") + line("two").slice(0, 10));
    expect((tail.read(file)).map((l) => l.msg)).toEqual(["one"]);
    appendFileSync(file, line("two").slice(10) + "plain text, not JSON\n");
    expect((tail.read(file)).map((l) => [l.stream, l.msg])).toEqual([["system", "two"], ["stdout", "plain text, not JSON"]]);
    expect(tail.read(file)).toEqual([]);
  });
});

describe("tryEnvironment", () => {
  it("reads the environment, cache hit or miss, and when execution began from a try's log", () => {
    const parse = (text: string) => tryEnvironment(text.split("\n").filter(Boolean).map((l) => JSON.parse(l)));
    const built = parse(
      line("Running x.py:f (serializer json)", "t0") +
        line("environment 0123456789ab resolve: Python 3.11.7, 0 requirement(s), pip 23.2.1", "t1") +
        line("environment 0123456789ab create: creating", "t2") +
        line("Executing /envs/0123456789abcdef/bin/python (environment 0123456789ab)", "t3"),
    );
    expect(built).toEqual({ envKeyPrefix: "0123456789ab", cacheHit: false, envStartedAt: "t1", executionStartedAt: "t3" });
    const cached = parse(line("environment 0123456789ab cached: using the cached environment", "t1") + line("Executing /x/bin/python (environment 0123456789ab)", "t2"));
    expect(cached.cacheHit).toBe(true);
    expect(parse(line("Executing /usr/bin/python3 (external interpreter)", "t5"))).toEqual({ envKeyPrefix: null, cacheHit: null, envStartedAt: null, executionStartedAt: "t5" });
  });
});
