/** The spool of ready log files (src/runtime/log-spool.ts): what a log taken from it must still be. */
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LogSpool, logSpool } from "../../src/runtime/log-spool.ts";
import { AttemptLog, appendLogLine } from "../../src/runtime/logs.ts";
import { Redactor } from "../../src/util/secrets.ts";
import { removeScratch, scratch } from "./helpers.ts";

afterAll(removeScratch);

/** Lets the spool's background opens finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8")).trim().split("\n").map((line) => (JSON.parse(line) as { msg: string }).msg);
}

describe("log files from the spool", () => {
  it("are private, and appended to: lines another writer adds between the attempt's own are kept", async () => {
    const root = join(await scratch(), "logs");
    await mkdir(root);
    logSpool(root).take(join(root, "warm-up.log")); // the first take only starts the refill
    await settle();
    const file = join(root, "a", "attempt=1.log");
    const ready = readdirSync(join(root, ".spool")).map((name) => statSync(join(root, ".spool", name)).ino);
    const log = new AttemptLog(file, new Redactor(), undefined, root);
    expect(ready).toContain(statSync(file).ino); // one of the files made ahead of time
    log.system("one");
    appendLogLine(file, "system", "between", "INFO");
    log.system("two");
    await log.close();
    expect(await lines(file)).toEqual(["one", "between", "two"]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("never replace an existing log: a try appended to keeps what it had", async () => {
    const root = join(await scratch(), "logs");
    await mkdir(root);
    logSpool(root).take(join(root, "warm-up.log"));
    await settle();
    const file = join(root, "attempt=1.log");
    await writeFile(file, `${JSON.stringify({ ts: "t", stream: "system", msg: "before" })}\n`);
    const log = new AttemptLog(file, new Redactor(), undefined, root);
    log.system("after");
    await log.close();
    expect(await lines(file)).toEqual(["before", "after"]);
  });

  it("are swept when the process that made them died, kept while it lives, and removed when it exits", async () => {
    const root = join(await scratch(), "logs");
    const spoolDir = join(root, ".spool");
    await mkdir(spoolDir, { recursive: true });
    const dead = spawnSync("true").pid!;
    writeFileSync(join(spoolDir, `venvflow-log-${dead}-0`), "");
    writeFileSync(join(spoolDir, `venvflow-log-${process.pid}-999`), "");
    new LogSpool(root);
    expect(await readdir(spoolDir)).toEqual([`venvflow-log-${process.pid}-999`]);

    // A process that used a spool leaves nothing in it once it exited.
    const script = `import { readdirSync } from "node:fs";
import { logSpool } from ${JSON.stringify(new URL("../../src/runtime/log-spool.ts", import.meta.url).pathname)};
logSpool(${JSON.stringify(root)}).take(${JSON.stringify(join(root, "x.log"))});
setTimeout(() => console.log(readdirSync(${JSON.stringify(spoolDir)}).length), 100);`;
    const seen = Number(execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" }).trim());
    expect(seen).toBeGreaterThan(1);
    expect(await readdir(spoolDir)).toEqual([`venvflow-log-${process.pid}-999`]);
  });
});
