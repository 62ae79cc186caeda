/** runner.py on its own: the protocol as documented in docs/runtime.md, driven by hand-written control objects. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RUNNER_PROTOCOL } from "../../src/runtime/index.ts";
import { pythonOrSkip } from "../support/pythons.ts";
import { PYTHON, PYTHON_VERSIONS } from "./helpers.ts";

const RUNNER = fileURLToPath(new URL("../../src/runtime/runner.py", import.meta.url));

/** Sends the control object on stdin and takes the result frame from fd 3, as both launchers do. */
async function runRunner(control: Record<string, unknown>, python: string = PYTHON) {
  const child = spawn(python, [RUNNER], { stdio: ["pipe", "ignore", "ignore", "pipe"] });
  child.stdin!.end(JSON.stringify({ protocol: RUNNER_PROTOCOL, token: "t0k3n", serializer: "json", args: [], kwargs: {}, stringArgs: [], maxResultBytes: 1 << 20, logFd: 3, ...control }));
  let logFd = "";
  (child.stdio[3] as NodeJS.ReadableStream).on("data", (chunk: Buffer) => (logFd += chunk.toString("utf8")));
  const code = await new Promise<number>((resolve) => child.once("close", (exit) => resolve(exit ?? -1)));
  const frame = logFd.split("\n").filter((line) => line.startsWith('{"__venvflow_result__"')).map((line) => JSON.parse(line) as { __venvflow_result__: unknown; token: string }).at(-1);
  expect(frame?.token).toBe("t0k3n");
  const result = frame!.__venvflow_result__ as { protocol: number; ok: boolean; value?: unknown; error?: Record<string, string> };
  return { code, result };
}

describe("runner.py protocol", () => {
  for (const version of PYTHON_VERSIONS) {
    const python = pythonOrSkip(version, `runner.py's protocol on Python ${version}`);
    it.skipIf(!python)(`decodes tagged datetimes (with Z) and answers with its protocol version on Python ${version}`, async () => {
      const { code, result } = await runRunner(
        {
          callable: { kind: "inline", name: "f", source: "def f(when):\n    return [when.isoformat(), when.utcoffset().total_seconds()]\n" },
          args: [{ __venvflow__: "datetime", iso: "2024-02-03T04:05:06.789Z" }],
        },
        python,
      );
      expect(code).toBe(0);
      expect(result).toEqual({ protocol: RUNNER_PROTOCOL, ok: true, value: ["2024-02-03T04:05:06.789000+00:00", 0] });
    });
  }

  it("refuses a control file of another protocol version", async () => {
    const { code, result } = await runRunner({ protocol: 99, callable: { kind: "inline", name: "f", source: "def f():\n    pass\n" } });
    expect(code).toBe(1);
    expect(result.error).toMatchObject({ type: "VenvflowError", code: "protocol_mismatch" });
  });

  it("refuses an unknown tagged value", async () => {
    const { result } = await runRunner({ callable: { kind: "inline", name: "f", source: "def f(x):\n    pass\n" }, args: [{ __venvflow__: "mystery" }] });
    expect(result.error).toMatchObject({ code: "invalid_argument", message: "unknown tagged value kind 'mystery'" });
  });

  it("refuses integers JavaScript cannot represent exactly under the json serializer", async () => {
    const { result } = await runRunner({ callable: { kind: "inline", name: "f", source: "def f():\n    return 2 ** 60\n" } });
    expect(result.error).toMatchObject({ code: "not_json_serializable", message: "the return value is an int, which the 'json' serializer cannot carry" });
  });
});
