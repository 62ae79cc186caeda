/**
 * Issue #9.6 and #9.7: a build against an index that never answers ends at its deadline with an error naming the index
 * and the phase; while it runs, no process's argv holds the index password; what a killed build leaves is cleared by gc.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureEnvironment, gcEnvironments } from "../../src/env/index.ts";
import { VenvflowError } from "../../src/util/errors.ts";
import { testPipEnv } from "../support/pypi.ts";

let home: string;
let silent: net.Server;
const sockets: net.Socket[] = [];
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-deadline-"));
  // Accepts connections and never answers: the index that used to keep a build "installing" for ever.
  silent = net.createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  sockets.forEach((s) => s.destroy());
  await new Promise((resolve) => silent.close(resolve));
  await rm(home, { recursive: true, force: true });
});

/** Every process's argv on this machine that contains `needle`. */
async function argvContaining(needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
    const argv = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (argv.includes(needle)) found.push(argv.split("\0").join(" "));
  }
  return found;
}

describe("a build against an index that never answers", () => {
  it("fails at VENVFLOW_BUILD_TIMEOUT naming the index and the phase, with no password on any argv", async () => {
    const port = (silent.address() as net.AddressInfo).port;
    const index = `http://deploy:S3cretPW@127.0.0.1:${port}/simple`;
    const build = ensureEnvironment(
      { installer: "pip", pythonVersion: "3", requirements: ["vf-alpha"], indexUrls: [index], pipInstallOptions: ["--extra-index-url", index, "--find-links=http://deploy:S3cretPW@127.0.0.1:1/links"] },
      { home, env: testPipEnv({ VENVFLOW_BUILD_TIMEOUT: "4" }) },
    ).then(
      () => null,
      (error: unknown) => error,
    );
    const leaks: string[] = [];
    let sawPip = false;
    const started = Date.now();
    while (Date.now() - started < 3500) {
      leaks.push(...(await argvContaining("S3cretPW")));
      sawPip ||= (await argvContaining(`--python`)).some((argv) => argv.includes(" install ") && argv.includes(home));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const error = await build;
    expect(leaks).toEqual([]);
    expect(sawPip).toBe(true);
    expect(error).toBeInstanceOf(VenvflowError);
    const failure = error as VenvflowError;
    expect(failure.code).toBe("build_timeout");
    expect(failure.message).toMatch(/timed out after 4 s while resolving and installing the requirements \(index: http:\/\/deploy:\*\*\*@127\.0\.0\.1:\d+\/simple\)/);
    expect(JSON.stringify(failure.toJSON())).not.toContain("S3cretPW");
    expect(failure.fix).toContain("VENVFLOW_BUILD_TIMEOUT");
    // Nothing of the failed build stays behind: no scratch directory with the requirements, no pip.
    expect(await readdir(path.join(home, "tmp"))).toEqual([]);
    expect(await argvContaining(home)).toEqual([]);
  }, 60_000);

  it("gc clears the scratch directory of a build whose process was killed", async () => {
    const orphan = path.join(home, "tmp", "build-999999999-abc123");
    await mkdir(orphan, { recursive: true });
    await writeFile(path.join(orphan, "requirements.txt"), "--index-url https://deploy:S3cretPW@host/simple\n");
    const mine = path.join(home, "tmp", `build-${process.pid}-live`);
    await mkdir(mine);
    expect((await gcEnvironments({ home, dryRun: true })).cleared).toContain("tmp/build-999999999-abc123");
    expect(await readdir(path.join(home, "tmp"))).toContain("build-999999999-abc123");
    const result = await gcEnvironments({ home });
    expect(result.cleared).toContain("tmp/build-999999999-abc123");
    expect(await readdir(path.join(home, "tmp"))).toEqual([`build-${process.pid}-live`]);
  });

  it("rejects a VENVFLOW_BUILD_TIMEOUT that is not a number of seconds", async () => {
    const error = await ensureEnvironment({ installer: "pip", pythonVersion: "3", requirements: ["vf-alpha"], indexUrls: ["http://127.0.0.1:1/simple"] }, { home, env: testPipEnv({ VENVFLOW_BUILD_TIMEOUT: "soon" }) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "invalid_env_spec", message: expect.stringContaining('VENVFLOW_BUILD_TIMEOUT="soon"') as unknown });
  });
});
