/**
 * The fault and bad-input probe of issue #9, repeatable: `npx tsx scripts/probe.ts [--only PART,PART…] [--list]`
 * (`--only`: the cases whose id contains one of the parts).
 * Not part of CI (it takes minutes and kills processes on purpose). Every case runs the real CLI (from src/, under
 * tsx) in real processes, in its own directory (VENVFLOW_HOME, TMPDIR, DAG files), with a time limit, and is
 * classified automatically, worst first:
 *
 * - hang: the time limit was hit (its processes are then killed);
 * - crash: a raw Node stack of venvflow's own code, or an uncaught error, in any output;
 * - wrong: a wrong state or result, or a secret of the case in clear in any output, log, file or the store;
 * - leak: a process of the case alive 3 s after it ended, or a `venvflow-*` entry left in its TMPDIR (for cases
 *   that SIGKILL a process: left after the sweep of dead owners' directories that the next worker or `env gc` runs);
 * - unclear: an error without the thing it is about or without a fix;
 * - clear: a VenvflowError/CLI message naming the thing and a fix, or the correct behaviour.
 *
 * It prints one line per case and the totals, with tasks lost and tasks run twice at once by the load cases
 * (per-execution timestamp records). Needs Python (pyenv's or the system's); the cases that install a package use
 * the machine's local mirror (file:///opt/pypi/simple) and say so when it is missing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sweepDeadOwners } from "../src/util/scratch.ts";
import { eventually } from "../test/support/eventually.ts";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MAIN = path.join(REPO, "src", "cli", "main.ts");
const MIRROR = "file:///opt/pypi/simple";
const HAS_MIRROR = existsSync("/opt/pypi/simple/six");
const PYTHON = ["3.11", "3.12", "3.13", "3.10"].map(pyenvPython).find((p) => p !== null) ?? "/usr/bin/python3";

function pyenvPython(version: string): string | null {
  const root = "/root/.pyenv/versions";
  const dir = existsSync(root) ? readdirSync(root).find((v) => v.startsWith(`${version}.`)) : undefined;
  const file = dir ? path.join(root, dir, "bin", `python${version}`) : "";
  return dir && existsSync(file) ? file : null;
}

type Verdict = "clear" | "unclear" | "wrong" | "crash" | "hang" | "leak";
const WORST_FIRST: Verdict[] = ["hang", "crash", "wrong", "leak", "unclear", "clear"];

interface Outcome {
  verdict: "clear" | "unclear" | "wrong";
  note: string;
  lost?: number;
  twiceAtOnce?: number;
}

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Case {
  id: string;
  /** The defect of issue #9 it repeats ("9.1" …), or "input" for a bad input of the existing tests. */
  defect: string;
  title: string;
  timeoutMs?: number;
  /** Strings that must never appear in clear anywhere. */
  secrets?: string[];
  /** The store may hold the secrets (a value returned for downstream tasks, stored as is by design). */
  secretsStored?: boolean;
  /** The case SIGKILLs a venvflow process: what that process left is swept (as the next worker does) before the leak check. */
  killsHard?: boolean;
  run(c: Ctx): Promise<Outcome>;
}

class Ctx {
  readonly home: string;
  readonly tmp: string;
  readonly env: NodeJS.ProcessEnv;
  readonly outputs: string[] = [];
  readonly written = new Set<string>();
  readonly children = new Set<ChildProcess>();
  readonly cleanups: Array<() => Promise<void> | void> = [];
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    this.home = path.join(dir, "home");
    this.tmp = path.join(dir, "tmp");
    mkdirSync(this.tmp, { recursive: true });
    // The machine's pip configuration (an extra index) is ignored, as in the tests: each case names its indexes.
    const env: NodeJS.ProcessEnv = { ...process.env, VENVFLOW_HOME: this.home, TMPDIR: this.tmp, VENVFLOW_PROBE: dir, NO_COLOR: "1", PIP_CONFIG_FILE: "/dev/null" };
    delete env.VENVFLOW_DATABASE_URL;
    this.env = env;
  }

  /** Writes a file of the case (its own input: not scanned for secrets). */
  file(name: string, text: string): string {
    const file = path.join(this.dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    this.written.add(file);
    return file;
  }

  /** A DAG file: `body` is the inside of `dag(id, {…}, () => { … })`. */
  dag(name: string, body: string, opts = "{}", id = "probe"): string {
    return this.file(name, `import { dag, task, BashOperator, ExternalPythonOperator, PythonVirtualenvOperator, EmptyOperator } from "venvflow";\nexport default dag(${JSON.stringify(id)}, ${opts}, () => {\n${body}\n});\n`);
  }

  start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: REPO, env: { ...this.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    this.children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<CliResult>((resolve) =>
      child.once("close", (code, signal) => {
        this.children.delete(child);
        this.outputs.push(stdout, stderr);
        resolve({ code, signal, stdout, stderr });
      }),
    );
    return { child, done };
  }

  cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return this.start(args, env).done;
  }

  /** `runs show --json` of a run, or null. */
  async runJson(runId: string): Promise<RunJson | null> {
    const r = await this.cli(["runs", "show", runId, "--json"]);
    try {
      return JSON.parse(r.stdout) as RunJson;
    } catch {
      return null;
    }
  }
}

interface RunJson {
  state: string;
  runId: string;
  tasks: Array<{ taskId: string; state: string; tryNumber: number; returnValue: unknown; error: { code?: string; message: string; fix?: string; type?: string } | null; logPath: string | null }>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const clear = (note: string): Outcome => ({ verdict: "clear", note });
const wrong = (note: string): Outcome => ({ verdict: "wrong", note });

/** A failed command's error: clear when it names every `mentions` and gives a fix, unclear without them. */
function expectError(r: CliResult, mentions: Array<string | RegExp>): Outcome {
  const text = `${r.stderr}\n${r.stdout}`;
  if (r.code === 0) return wrong(`accepted (exit 0): ${firstLine(r.stdout)}`);
  const missing = mentions.filter((m) => (typeof m === "string" ? !text.includes(m) : !m.test(text)));
  const fix = /fix:|"fix":/.test(text);
  const line = (text.split("\n").find((l) => /error/i.test(l)) ?? firstLine(r.stderr) ?? firstLine(r.stdout)).trim().slice(0, 160);
  if (missing.length > 0 || !fix) return { verdict: "unclear", note: `${line}${missing.length ? ` (does not name ${missing.join(", ")})` : ""}${fix ? "" : " (no fix)"}` };
  return clear(line);
}

/**
 * A run that fails a task: clear when the task's error names every `mentions` and has a fix (`userError`: the
 * user's own exception or exit status, which is its own explanation, needs none).
 */
function expectTaskError({ r, run }: Ran, taskId: string, mentions: Array<string | RegExp>, userError = false): Outcome {
  const task = run?.tasks.find((t) => t.taskId === taskId);
  if (!task) return r.code === 0 ? wrong("the run succeeded") : expectError(r, mentions);
  if (task.state !== "failed" && task.state !== "upstream_failed") return wrong(`${taskId} is ${task.state}`);
  const error = task.error;
  if (!error) return { verdict: "unclear", note: `${taskId} failed without an error` };
  const text = `${error.message}\n${error.fix ?? ""}`;
  const missing = mentions.filter((m) => (typeof m === "string" ? !text.includes(m) : !m.test(text)));
  if (missing.length > 0 || (!error.fix && !userError)) return { verdict: "unclear", note: `${error.message.slice(0, 120)}${missing.length ? ` (does not name ${missing.join(", ")})` : ""}${error.fix || userError ? "" : " (no fix)"}` };
  return clear(`${error.code ?? error.type}: ${firstLine(error.message).slice(0, 120)}`);
}

function firstLine(text: string): string {
  return (text.trim().split("\n")[0] ?? "").slice(0, 160);
}

interface Ran {
  r: CliResult;
  run: RunJson | null;
}

async function runAndShow(c: Ctx, file: string, runId: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const r = await c.cli(["run", file, "--run-id", runId, ...args], env);
  return { r, run: await c.runJson(runId) };
}

function taskOf(run: RunJson | null, taskId: string): RunJson["tasks"][number] | undefined {
  return run?.tasks.find((t) => t.taskId === taskId);
}

// ---------------------------------------------------------------------------------------------------------------
// Processes and leftovers of a case

/** Processes of the case: its marker in their environment, or its directory in their argv or cwd. */
function caseProcesses(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") continue;
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8");
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      let cwd = "";
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // gone
      }
      if (environ.includes(`VENVFLOW_PROBE=${dir}\0`) || cmdline.includes(dir) || cwd.startsWith(dir)) found.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}

function readFileSyncSafe(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

function leftovers(tmp: string): string[] {
  try {
    return readdirSync(tmp).filter((e) => e.startsWith("venvflow-"));
  } catch {
    return [];
  }
}

/** Every file under `dir` but the case's own inputs, for the secret scan. */
function filesUnder(dir: string, skip: Set<string>): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && !skip.has(p) && st.size < 64 * 1024 * 1024) out.push(p);
    }
  };
  walk(dir);
  return out;
}

const NODE_STACK = /^\s+at .*(\/src\/(cli|engine|store|runtime|env|dag|util|doctor|server)\/|node:internal\/)/m;
const UNCAUGHT = /Uncaught|UnhandledPromiseRejection|SqliteError|TypeError: |ReferenceError: |Segmentation fault|FATAL ERROR/;

async function runCase(k: Case, root: string): Promise<{ verdict: Verdict; note: string; ms: number; lost: number; twice: number }> {
  const dir = mkdtempSync(path.join(root, `${k.id}-`));
  const c = new Ctx(dir);
  const started = Date.now();
  let outcome: Outcome | null = null;
  let hung = false;
  let thrown: unknown = null;
  const limit = k.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    outcome = await Promise.race([
      k.run(c),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => {
          hung = true;
          resolve(null);
        }, limit);
      }),
    ]);
  } catch (error) {
    thrown = error;
  } finally {
    clearTimeout(timer);
  }
  const ms = Date.now() - started;
  if (hung) killAll([...c.children].map((ch) => ch.pid ?? -1).filter((p) => p > 0));
  for (const cleanup of c.cleanups.splice(0)) await cleanup();
  // Give what exits on its own (a watchdog after its worker, a zygote after its host) its moment.
  let alive = caseProcesses(dir);
  for (let i = 0; i < 30 && alive.length > 0; i++) {
    await sleep(100);
    alive = caseProcesses(dir);
  }
  killAll(alive);
  if (k.killsHard) sweepDeadOwners({ dir: c.tmp });
  const left = leftovers(c.tmp);
  let secretWhere: string | null = null;
  for (const secret of k.secrets ?? []) {
    if (c.outputs.some((o) => o.includes(secret))) secretWhere = "command output";
    else {
      const skip = new Set(c.written);
      // tsx's cache holds the compiled copy of the case's own DAG file (whose literal secrets the case wrote).
      for (const file of filesUnder(dir, skip).filter((f) => !f.includes(`${path.sep}tsx-`))) {
        if (k.secretsStored && file.endsWith(".db")) continue;
        if (/\.db-(wal|shm)$/.test(file) && k.secretsStored) continue;
        if (readFileSync(file).includes(secret)) {
          secretWhere = path.relative(dir, file);
          break;
        }
      }
    }
    if (secretWhere) break;
  }
  const all = c.outputs.join("\n");
  const crash = NODE_STACK.exec(all) ?? UNCAUGHT.exec(all);
  let verdict: Verdict;
  let note: string;
  if (hung) [verdict, note] = ["hang", `no end within ${limit / 1000} s`];
  else if (thrown) [verdict, note] = ["crash", `probe step failed: ${(thrown as Error).message}`];
  else if (crash) [verdict, note] = ["crash", `${crash[0].trim()} — ${outcome?.note ?? ""}`];
  else if (secretWhere) [verdict, note] = ["wrong", `secret in clear in ${secretWhere}`];
  else if (outcome?.verdict === "wrong") [verdict, note] = ["wrong", outcome.note];
  else if (alive.length > 0 || left.length > 0) [verdict, note] = ["leak", `${alive.length ? `processes ${alive.join(",")} ` : ""}${left.length ? `left ${left.join(",")}` : ""}`];
  else [verdict, note] = [outcome!.verdict, outcome!.note];
  // A read-only file of the case would stop its removal.
  try {
    chmodSync(dir, 0o700);
  } catch {
    // removed already
  }
  rmSync(dir, { recursive: true, force: true });
  return { verdict, note, ms, lost: outcome?.lost ?? 0, twice: outcome?.twiceAtOnce ?? 0 };
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers for the servers some cases need (all on 127.0.0.1)

function httpServer(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    }),
  );
}

function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => void sockets.push(s));
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            sockets.forEach((s) => s.destroy());
            server.close(() => done());
          }),
      });
    }),
  );
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Lines "what task try pid epoch" of an execution record file. */
function readRecords(file: string): Array<{ what: string; task: string; tryNumber: number; pid: number; at: number }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.trim().split(" "))
    .filter((f) => f.length === 5)
    .map(([what, task, tryNumber, pid, at]) => ({ what: what!, task: task!, tryNumber: Number(tryNumber), pid: Number(pid), at: Number(at) }));
}

/**
 * Executions of each task from its records ("start", a "tick" every 100 ms, "end"): an execution spans from its
 * start to its last record (one that was killed has no end). Returns the tasks two of whose executions overlap.
 */
function overlapping(records: ReturnType<typeof readRecords>): string[] {
  const byTask = new Map<string, Map<number, { start: number; last: number }>>();
  for (const r of records) {
    const execs = byTask.get(r.task) ?? new Map<number, { start: number; last: number }>();
    byTask.set(r.task, execs);
    const e = execs.get(r.pid) ?? { start: r.at, last: r.at };
    execs.set(r.pid, e);
    e.start = Math.min(e.start, r.at);
    e.last = Math.max(e.last, r.at);
  }
  const twice: string[] = [];
  for (const [task, execs] of byTask) {
    const spans = [...execs.values()].sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++) if (spans[i]!.start < spans[i - 1]!.last) twice.push(task);
  }
  return twice;
}

const RECORD_PY = (file: string, seconds: string): string => `
def record(task_id, try_number):
    import os, time
    def note(what):
        with open(${JSON.stringify(file)}, "a") as f:
            f.write("%s %s %d %d %.3f\\n" % (what, task_id, try_number, os.getpid(), time.time()))
    note("start")
    until = time.time() + (${seconds})
    while time.time() < until:
        note("tick")
        time.sleep(0.1)
    note("end")
    return try_number
`;
/** `tenths`: how many 100 ms ticks (a shell expression). */
const RECORD_SH = (file: string, tenths: string): string =>
  `note() { echo "$1 $VENVFLOW_CTX_TASK_ID $VENVFLOW_CTX_TRY_NUMBER $$ $(date +%s.%N)" >> ${file}; }; note start; for i in $(seq ${tenths}); do note tick; sleep 0.1; done; note end; echo done`;

// ---------------------------------------------------------------------------------------------------------------
// The cases

const cases: Case[] = [];
const add = (k: Case): void => void cases.push(k);
const simpleDag = (c: Ctx): string => c.dag("d.ts", `new BashOperator({ taskId: "b", bashCommand: "echo hi" });`);

// Bad ids and options of the CLI
for (const [id, args, mentions] of [
  ["run-id-dotdot", ["--run-id", ".."], ['".."', "run id"]],
  ["run-id-dot", ["--run-id", "."], ['"."', "run id"]],
  ["run-id-slash", ["--run-id", "a/../../b"], ["a/../../b"]],
  ["run-id-empty", ["--run-id", ""], ["run id"]],
  ["conf-not-json", ["--conf", "{bad"], ["--conf"]],
  ["conf-not-object", ["--conf", "[1,2]"], ["--conf"]],
  ["logical-date-bad", ["--logical-date", "yesterday"], ["yesterday"]],
  ["workers-zero", ["--workers", "0"], ["0"]],
  ["workers-nan", ["--workers", "many"], ["many"]],
  ["dag-unknown", ["--dag", "nosuch"], ["nosuch"]],
  ["option-unknown", ["--frobnicate"], ["--frobnicate"]],
] as Array<[string, string[], string[]]>) {
  add({ id, defect: id.startsWith("run-id") ? "9.8" : "input", title: `run ${args.join(" ")}`, run: async (c) => expectError(await c.cli(["run", simpleDag(c), ...args]), mentions) });
}
add({ id: "run-missing-file", defect: "input", title: "run of a file that does not exist", run: async (c) => expectError(await c.cli(["run", path.join(c.dir, "nope.ts")]), ["nope.ts"]) });
add({ id: "run-empty-dir", defect: "input", title: "run of a folder without DAGs", run: async (c) => expectError(await c.cli(["run", c.tmp]), [c.tmp]) });
add({ id: "runs-show-unknown", defect: "input", title: "runs show of an unknown run", run: async (c) => expectError(await c.cli(["runs", "show", "nosuchrun"]), ["nosuchrun"]) });
add({ id: "runs-show-latest-empty", defect: "input", title: "runs show --latest with no runs", run: async (c) => expectError(await c.cli(["runs", "show", "--latest"]), [/run/]) });
add({ id: "runs-list-bad-state", defect: "input", title: "runs list --state bogus", run: async (c) => expectError(await c.cli(["runs", "list", "--state", "bogus"]), ["bogus"]) });
add({ id: "runs-list-bad-limit", defect: "input", title: "runs list --limit -1", run: async (c) => expectError(await c.cli(["runs", "list", "--limit", "-1"]), ["-1"]) });
add({ id: "logs-unknown-run", defect: "input", title: "logs of an unknown run", run: async (c) => expectError(await c.cli(["logs", "nosuchrun", "t"]), ["nosuchrun"]) });
add({
  id: "logs-bad-try",
  defect: "input",
  title: "logs --try 99 of a task that ran once",
  run: async (c) => {
    await c.cli(["run", simpleDag(c), "--run-id", "r1"]);
    return expectError(await c.cli(["logs", "r1", "b", "--try", "99"]), ["99"]);
  },
});
add({ id: "test-unknown-task", defect: "input", title: "test of an unknown task", run: async (c) => expectError(await c.cli(["test", simpleDag(c), "nosuch"]), ["nosuch"]) });
add({ id: "worker-slots-zero", defect: "input", title: "worker --slots 0", run: async (c) => expectError(await c.cli(["worker", simpleDag(c), "--slots", "0"]), ["0"]) });
add({ id: "dags-list-missing", defect: "input", title: "dags list of a path that does not exist", run: async (c) => expectError(await c.cli(["dags", "list", path.join(c.dir, "nowhere")]), ["nowhere"]) });
add({ id: "dags-show-unknown-dag", defect: "input", title: "dags show --dag nosuch", run: async (c) => expectError(await c.cli(["dags", "show", simpleDag(c), "--dag", "nosuch"]), ["nosuch"]) });
add({ id: "env-show-bad-key", defect: "input", title: "env show of a malformed key", run: async (c) => expectError(await c.cli(["env", "show", "zz"]), ["zz"]) });
add({ id: "env-rm-unknown", defect: "input", title: "env rm of an unknown key", run: async (c) => expectError(await c.cli(["env", "rm", "deadbeefdeadbeef"]), ["deadbeef"]) });
add({ id: "env-gc-bad-age", defect: "input", title: "env gc --older-than soon", run: async (c) => expectError(await c.cli(["env", "gc", "--older-than", "soon"]), ["soon"]) });
add({ id: "env-gc-bad-size", defect: "input", title: "env gc --max-size big", run: async (c) => expectError(await c.cli(["env", "gc", "--max-size", "big"]), ["big"]) });
add({ id: "db-url-unknown", defect: "input", title: "VENVFLOW_DATABASE_URL=mysql://…", run: async (c) => expectError(await c.cli(["runs", "list"], { VENVFLOW_DATABASE_URL: "mysql://u@h/db" }), ["mysql"]) });
add({
  id: "db-url-password",
  defect: "9.7",
  title: "an unreachable PostgreSQL URL with a password",
  secrets: ["Pr0beDbPw"],
  timeoutMs: 60_000,
  run: async (c) => expectError(await c.cli(["runs", "list"], { VENVFLOW_DATABASE_URL: `postgres://u:Pr0beDbPw@127.0.0.1:${await freePort()}/db` }), ["127.0.0.1"]),
});
add({ id: "import-timeout-bad", defect: "9.5", title: "VENVFLOW_DAG_IMPORT_TIMEOUT=soon", run: async (c) => expectError(await c.cli(["dags", "list", simpleDag(c)], { VENVFLOW_DAG_IMPORT_TIMEOUT: "soon" }), ["soon"]) });
add({ id: "build-timeout-bad", defect: "9.6", title: "VENVFLOW_BUILD_TIMEOUT=soon", run: async (c) => expectError(await c.cli(["env", "build", "--python", PYTHON, "-r", "six"], { VENVFLOW_BUILD_TIMEOUT: "soon" }), ["soon"]) });
add({ id: "command-unknown", defect: "input", title: "an unknown command", run: async (c) => expectError(await c.cli(["frobnicate"]), ["frobnicate"]) });

// Bad DAG files
const loadError = (id: string, defect: string, title: string, body: string, mentions: string[], opts = "{}", dagId = "probe"): void =>
  add({ id, defect, title, run: async (c) => expectError(await c.cli(["dags", "list", c.dag("d.ts", body, opts, dagId)]), mentions) });
loadError("dag-id-dotdot", "9.8", 'DAG id ".."', `new EmptyOperator({ taskId: "t" });`, ['".."'], "{}", "..");
loadError("dag-id-slash", "9.8", 'DAG id "a/../b"', `new EmptyOperator({ taskId: "t" });`, ["a/../b"], "{}", "a/../b");
loadError("task-id-dotdot", "9.8", 'task id ".."', `new EmptyOperator({ taskId: ".." });`, ['".."']);
loadError("task-id-slash", "9.8", 'task id "../x"', `new EmptyOperator({ taskId: "../x" });`, ["../x"]);
loadError("task-id-duplicate", "input", "two tasks with one id", `new EmptyOperator({ taskId: "t" }); new EmptyOperator({ taskId: "t" });`, ['"t"']);
loadError("dag-cycle", "input", "a cycle", `const a = new EmptyOperator({ taskId: "a" }); const b = new EmptyOperator({ taskId: "b" }); a.setDownstream(b); b.setDownstream(a);`, ["a", "b"]);
loadError("python-relative", "input", "external python given as a relative path", `new ExternalPythonOperator({ taskId: "p", python: "python3", pythonCallable: { source: "def f():\\n    return 1\\n" } });`, ["python3"]);
loadError("retries-negative", "input", "retries: -1", `new BashOperator({ taskId: "b", bashCommand: "true", retries: -1 });`, ["retries"]);
loadError("timeout-bad", "input", 'executionTimeout: "soon"', `new BashOperator({ taskId: "b", bashCommand: "true", executionTimeout: "soon" });`, ["soon"]);
loadError("option-typo", "input", "an option misspelt (retrys)", `new BashOperator({ taskId: "b", bashCommand: "true", retrys: 2 } as never);`, ["retrys"]);
add({
  id: "requirement-invalid",
  defect: "input",
  title: 'a task requirement "six>=>1"',
  run: async (c) => expectTaskError(await runAndShow(c, c.dag("d.ts", `new PythonVirtualenvOperator({ taskId: "p", requirements: ["six>=>1"], pythonCallable: { source: "def f():\\n    return 1\\n" } });`), "r1"), "p", ["six>=>1"]),
});
add({ id: "dag-syntax-error", defect: "input", title: "a DAG file with a syntax error", run: async (c) => expectError(await c.cli(["dags", "list", c.file("d.ts", "export default dag(;\n")]), ["d.ts"]) });
add({ id: "dag-throws", defect: "input", title: "a DAG file that throws at import", run: async (c) => expectError(await c.cli(["dags", "list", c.file("d.ts", 'throw new Error("boom at import");\n')]), ["d.ts", "boom at import"]) });
for (const [id, text, mention] of [
  ["import-endless-loop", "for (;;) {}\n", "did not finish"],
  ["import-never-settles", "await new Promise(() => {});\n", "never settles"],
  ["import-leaves-timer", 'import { dag } from "venvflow";\nsetInterval(() => {}, 1000);\nexport default dag("t", {}, () => {});\n', "timer"],
  ["import-process-exit", "process.exit(0);\n", "ended the process"],
] as Array<[string, string, string]>) {
  add({
    id,
    defect: "9.5",
    title: `DAG import: ${id.slice(7)}`,
    timeoutMs: 45_000,
    run: async (c) => {
      const dagsDir = path.join(c.dir, "dags");
      c.file("dags/package.json", '{ "type": "module" }\n');
      c.file("dags/bad.ts", text);
      c.file("dags/good.ts", 'import { dag, EmptyOperator } from "venvflow";\nexport default dag("good", {}, () => { new EmptyOperator({ taskId: "t" }); });\n');
      const r = await c.cli(["dags", "list", dagsDir, "--json"], { VENVFLOW_DAG_IMPORT_TIMEOUT: "3" });
      if (!r.stdout.includes('"good"')) return wrong(`the good DAG was not listed (exit ${r.code})`);
      return expectError(r, ["bad.ts", mention]);
    },
  });
}
add({
  id: "dag-duplicate-id",
  defect: "input",
  title: "two files defining one DAG id",
  run: async (c) => {
    c.file("dags/a.ts", 'import { dag, EmptyOperator } from "venvflow";\nexport default dag("same", {}, () => { new EmptyOperator({ taskId: "t" }); });\n');
    c.file("dags/b.ts", 'import { dag, EmptyOperator } from "venvflow";\nexport default dag("same", {}, () => { new EmptyOperator({ taskId: "t" }); });\n');
    return expectError(await c.cli(["dags", "list", path.join(c.dir, "dags")]), ["same"]);
  },
});

// Bad requirements and indexes (environment builds)
const envBuild = (c: Ctx, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> => c.cli(["env", "build", "--python", PYTHON, ...args], env);
add({ id: "req-vcs-password", defect: "9.7", title: "-e git+https://user:PW@… requirement", secrets: ["Pr0bePw1"], run: async (c) => expectError(await envBuild(c, ["-r", "-e git+https://deploy:Pr0bePw1@git.example.com/r.git#egg=r"]), ["***"]) });
add({
  id: "req-misspelt-index-password",
  defect: "9.7",
  title: "a misspelt --index https://user:PW@… line in a requirements file",
  secrets: ["Pr0bePw2"],
  run: async (c) => expectError(await envBuild(c, ["--requirements-file", c.file("req.txt", "--index https://deploy:Pr0bePw2@pypi.example.com/simple\nsix\n")]), ["--index"]),
});
add({ id: "req-file-missing", defect: "input", title: "-r of a requirements file that does not exist", run: async (c) => expectError(await envBuild(c, ["--requirements-file", path.join(c.dir, "none.txt")]), ["none.txt"]) });
add({ id: "req-invalid", defect: "input", title: "an invalid requirement", run: async (c) => expectError(await envBuild(c, ["-r", "six>=>1"]), ["six>=>1"]) });
add({ id: "index-not-url", defect: "input", title: "--index-url that is not a URL", run: async (c) => expectError(await envBuild(c, ["-r", "six", "--index-url", "not a url"]), ["not a url"]) });
add({ id: "python-version-bad", defect: "input", title: "--python banana", run: async (c) => expectError(await c.cli(["env", "build", "--python", "banana", "-r", "six"]), ["banana"]) });
add({
  id: "index-500-password",
  defect: "9.13",
  title: "an index answering HTTP 500, with a password in its URL",
  secrets: ["Pr0bePw3"],
  run: async (c) => {
    const server = await httpServer((_req, res) => void res.writeHead(500).end("oops"));
    c.cleanups.push(() => server.close());
    const url = server.url.replace("http://", "http://deploy:Pr0bePw3@");
    return expectError(await envBuild(c, ["-r", "six", "--index-url", `${url}/simple`]), ["500"]);
  },
});
add({
  id: "index-401",
  defect: "input",
  title: "an index answering 401",
  run: async (c) => {
    const server = await httpServer((_req, res) => void res.writeHead(401).end());
    c.cleanups.push(() => server.close());
    return expectError(await envBuild(c, ["-r", "six", "--index-url", `${server.url}/simple`]), ["401"]);
  },
});
add({ id: "index-unreachable", defect: "input", title: "an index nobody listens on", run: async (c) => expectError(await envBuild(c, ["-r", "six", "--index-url", `http://127.0.0.1:${await freePort()}/simple`]), ["127.0.0.1"]) });
add({
  id: "index-hangs",
  defect: "9.6",
  title: "an index that never answers, VENVFLOW_BUILD_TIMEOUT=5",
  timeoutMs: 60_000,
  run: async (c) => {
    const server = await silentServer();
    c.cleanups.push(() => server.close());
    return expectError(await envBuild(c, ["-r", "six", "--index-url", `${server.url}/simple`], { VENVFLOW_BUILD_TIMEOUT: "5" }), ["127.0.0.1"]);
  },
});
add({
  id: "build-killed-password",
  defect: "9.7",
  title: "kill -9 of a build against an index (with a password) that never answers; then env gc",
  secrets: ["Pr0bePw7"],
  killsHard: true,
  run: async (c) => {
    const server = await silentServer();
    c.cleanups.push(() => server.close());
    const url = `${server.url.replace("http://", "http://deploy:Pr0bePw7@")}/simple`;
    const build = c.start(["env", "build", "--python", PYTHON, "-r", "six", "--index-url", url, "--installer", "pip"]);
    await sleep(4000);
    // While it runs, no process venvflow started may hold the password in its argv (any local user can read argv);
    // the command the probe typed has it, as a user's own command line would.
    const exposed = readdirSync("/proc").filter((e) => {
      const argv = /^\d+$/.test(e) ? (readFileSyncSafe(`/proc/${e}/cmdline`) ?? "") : "";
      return argv.includes("Pr0bePw7") && !argv.includes(MAIN);
    });
    killAll(caseProcesses(c.dir));
    await build.done;
    const gc = await c.cli(["env", "gc"]);
    if (exposed.length > 0) return wrong(`the password was on the argv of ${exposed.join(",")}`);
    return gc.code === 0 ? clear("no password on any argv; gc cleared what the killed build left") : wrong(`env gc failed: ${firstLine(gc.stderr)}`);
  },
});
const mirrorCase = (k: Case): void =>
  add({ ...k, run: HAS_MIRROR ? k.run : async () => ({ verdict: "clear", note: `not tried: no local mirror at ${MIRROR}` }) });
mirrorCase({
  id: "req-unknown-extra",
  defect: "9.13",
  title: "six[nope]: an unknown extra is warned about",
  timeoutMs: 120_000,
  run: async (c) => {
    const r = await envBuild(c, ["-r", "six[nope]", "--index-url", MIRROR]);
    return r.code === 0 && /nope/.test(r.stderr + r.stdout) ? clear("built, with a warning naming the extra") : r.code === 0 ? { verdict: "unclear", note: "built without a word about the unknown extra" } : wrong(`failed: ${firstLine(r.stderr)}`);
  },
});
mirrorCase({ id: "req-no-such-package", defect: "input", title: "a package no index has", timeoutMs: 120_000, run: async (c) => expectError(await envBuild(c, ["-r", "no-such-package-zzz", "--index-url", MIRROR]), ["no-such-package-zzz"]) });
mirrorCase({
  id: "req-wrong-hash",
  defect: "9.12",
  title: "six==1.17.0 --hash=sha256:… that does not match",
  timeoutMs: 120_000,
  run: async (c) => expectError(await envBuild(c, ["--requirements-file", c.file("req.txt", `six==1.17.0 --hash=sha256:${"0".repeat(64)}\n`), "--index-url", MIRROR]), ["six", /hash/i]),
});

// Runtime behaviours of Python and TypeScript tasks
const pyTask = (source: string, extra = ""): string => `new ExternalPythonOperator({ taskId: "p", python: ${JSON.stringify(PYTHON)}, ${extra} pythonCallable: { source: ${JSON.stringify(source)} } });`;
const pyRun = async (c: Ctx, source: string, extra = ""): Promise<Ran> => runAndShow(c, c.dag("d.ts", pyTask(source, extra)), "r1");
for (const [id, how] of [
  ["os-exit-0", "os._exit(0)"],
  ["sys-exit-0", "sys.exit(0)"],
] as const) {
  add({
    id,
    defect: "9.4",
    title: `${how} before returning`,
    run: async (c) => {
      const { run } = await pyRun(c, `import os, sys\ndef f():\n    ${how}\n`);
      const t = taskOf(run, "p");
      if (t?.state !== "success" || t.returnValue !== null) return wrong(`state ${t?.state}, value ${JSON.stringify(t?.returnValue)}`);
      const log = t.logPath ? readFileSync(t.logPath, "utf8") : "";
      return log.includes("exited before returning") ? clear("success with None, said in the log") : { verdict: "unclear", note: "success with None, the log says nothing" };
    },
  });
}
add({ id: "sys-exit-3", defect: "input", title: "sys.exit(3)", run: async (c) => expectTaskError(await pyRun(c, "import sys\ndef f():\n    sys.exit(3)\n"), "p", [/3/], true) });
add({ id: "raises", defect: "input", title: "a callable that raises", run: async (c) => expectTaskError(await pyRun(c, "def f():\n    raise ValueError('bad value 42')\n"), "p", ["bad value 42"], true) });
for (const [id, expr, mention] of [
  ["result-nan", "float('nan')", "NaN"],
  ["result-inf", "float('inf')", "inf"],
  ["result-deep", "(lambda: [d := [], [d := [d] for _ in range(100000)], d][2])()", "deep"],
  ["result-object", "object()", "object"],
  ["result-huge", "'x' * (80 * 1024 * 1024)", "bytes"],
] as const) {
  add({
    id,
    defect: id === "result-object" ? "input" : "9.14",
    title: `a Python result ${expr.slice(0, 40)}`,
    timeoutMs: 90_000,
    run: async (c) => expectTaskError(await pyRun(c, `def f():\n    return ${expr}\n`), "p", [new RegExp(mention, "i")]),
  });
}
for (const [id, expr, mention] of [
  ["ts-result-nan", "NaN", "NaN"],
  ["ts-result-map", "new Map([[1, 2]])", "Map"],
  ["ts-result-function", "({ f: () => 1 })", "function"],
  ["ts-result-huge", '"x".repeat(80 * 1024 * 1024)', "bytes"],
] as const) {
  add({
    id,
    defect: "9.14",
    title: `a TypeScript result ${expr.slice(0, 30)}`,
    timeoutMs: 90_000,
    run: async (c) => {
      const { r, run } = await runAndShow(c, c.dag("d.ts", `task({ taskId: "t" }, () => ${expr})();`), "r1");
      return expectTaskError({ r, run }, "t", [new RegExp(mention, "i")]);
    },
  });
}
const daemonizer = (closeFds: boolean, pidFile: string): string => `import os, time, sys
def f():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
        ${closeFds ? "    os.closerange(0, 1024)\n        " : ""}    open(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))
            time.sleep(300)
            os._exit(0)
        os._exit(0)
    time.sleep(1)
    return "started"
`;
for (const closeFds of [false, true]) {
  add({
    id: closeFds ? "daemon-closed-fds" : "daemon-keeps-stdout",
    defect: "9.3",
    title: `a callable that double-forks a setsid daemon${closeFds ? " with its fds closed" : " holding stdout"}`,
    run: async (c) => {
      const pidFile = path.join(c.dir, "daemon.pid");
      const { run } = await pyRun(c, daemonizer(closeFds, pidFile));
      const t = taskOf(run, "p");
      if (t?.state !== "success") return wrong(`task ${t?.state}`);
      const pid = Number(readFileSync(pidFile, "utf8"));
      await eventually(() => !isAlive(pid), 3000);
      return isAlive(pid) ? wrong(`daemon ${pid} outlived the task`) : clear("the task ended; its daemon was killed");
    },
  });
}
add({
  id: "execution-timeout",
  defect: "input",
  title: "executionTimeout 1 s on a 60 s sleep",
  run: async (c) => {
    const { run } = await pyRun(c, "import time\ndef f():\n    time.sleep(60)\n", 'executionTimeout: "1s",');
    return expectTaskError({ r: { code: 1, signal: null, stdout: "", stderr: "" }, run }, "p", [/1\s?s|1000/]);
  },
});
add({
  id: "secret-printed",
  defect: "9.7",
  title: "a callable printing its secret env var",
  secrets: ["Pr0beSecret4"],
  run: async (c) => {
    const { run } = await pyRun(c, "import os\ndef f():\n    print('token is', os.environ['TOKEN'])\n    return 1\n", 'envVars: { TOKEN: { secret: "Pr0beSecret4" } },');
    return taskOf(run, "p")?.state === "success" ? clear("printed masked") : wrong("the task failed");
  },
});
add({
  id: "secret-returned",
  defect: "9.9",
  title: "a callable returning its secret (stored for downstream tasks, masked in every display)",
  secrets: ["Pr0beSecret5"],
  secretsStored: true,
  run: async (c) => {
    const { run } = await pyRun(c, "import os\ndef f():\n    return {'token': os.environ['TOKEN']}\n", 'envVars: { TOKEN: { secret: "Pr0beSecret5" } },');
    const shown = await c.cli(["runs", "show", "r1"]);
    return taskOf(run, "p")?.state === "success" && shown.stdout.includes("***") ? clear("masked in runs show (text and --json)") : wrong("not masked, or the task failed");
  },
});
add({
  id: "secret-raised",
  defect: "9.7",
  title: "a callable raising an error with its secret in the message",
  secrets: ["Pr0beSecret6"],
  run: async (c) => {
    const { run } = await pyRun(c, "import os\ndef f():\n    raise RuntimeError('cannot log in with ' + os.environ['TOKEN'])\n", 'envVars: { TOKEN: { secret: "Pr0beSecret6" } },');
    return taskOf(run, "p")?.state === "failed" ? clear("failed, the secret masked") : wrong("the task did not fail");
  },
});
add({
  id: "bash-empty-command",
  defect: "input",
  title: "a Bash task whose command resolves to an empty string",
  run: async (c) => {
    const { r, run } = await runAndShow(c, c.dag("d.ts", `new BashOperator({ taskId: "b", bashCommand: () => "" });`), "r1");
    return expectTaskError({ r, run }, "b", ["bash command"]);
  },
});
add({ id: "bash-exit-2", defect: "input", title: "a Bash command exiting 2", run: async (c) => expectTaskError(await runAndShow(c, c.dag("d.ts", `new BashOperator({ taskId: "b", bashCommand: "exit 2" });`), "r1"), "b", ["2"], true) });
add({
  id: "python-missing",
  defect: "9.11",
  title: "an external interpreter that does not exist",
  run: async (c) => expectTaskError(await runAndShow(c, c.dag("d.ts", `new ExternalPythonOperator({ taskId: "p", python: "/nonexistent/bin/python3", pythonCallable: { source: "def f():\\n    return 1\\n" } });`), "r1"), "p", ["/nonexistent/bin/python3"]),
});
add({ id: "callable-file-missing", defect: "input", title: 'pythonCallable "missing.py:f"', run: async (c) => expectTaskError(await runAndShow(c, c.dag("d.ts", `new ExternalPythonOperator({ taskId: "p", python: ${JSON.stringify(PYTHON)}, pythonCallable: "missing.py:f" });`), "r1"), "p", ["missing.py"]) });
add({ id: "callable-syntax", defect: "input", title: "a callable with a syntax error", run: async (c) => expectTaskError(await pyRun(c, "def f(:\n    return 1\n"), "p", [/syntax/i]) });
add({
  id: "callable-missing-name",
  defect: "input",
  title: "a callable file without the named function",
  run: async (c) => {
    c.file("m.py", "def g():\n    return 1\n");
    return expectTaskError(await runAndShow(c, c.dag("d.ts", `new ExternalPythonOperator({ taskId: "p", python: ${JSON.stringify(PYTHON)}, pythonCallable: "m.py:f" });`), "r1"), "p", ["named f"]);
  },
});
mirrorCase({
  id: "venv-env-broken",
  defect: "9.11",
  title: "an environment whose bin/python was deleted is rebuilt",
  timeoutMs: 180_000,
  run: async (c) => {
    const file = c.dag("d.ts", `new PythonVirtualenvOperator({ taskId: "p", pythonVersion: ${JSON.stringify(path.basename(PYTHON).slice(6))}, requirements: ["six"], indexUrls: [${JSON.stringify(MIRROR)}], pythonCallable: { source: "def f():\\n    import six\\n    return six.__version__\\n" } });`);
    const first = await runAndShow(c, file, "r1");
    if (taskOf(first.run, "p")?.state !== "success") return wrong(`first run: ${firstLine(first.r.stderr) || taskOf(first.run, "p")?.error?.message}`);
    const envs = path.join(c.home, "envs");
    for (const key of readdirSync(envs)) rmSync(path.join(envs, key, "bin", "python"), { force: true });
    const second = await runAndShow(c, file, "r2");
    return taskOf(second.run, "p")?.state === "success" ? clear("rebuilt and ran") : expectTaskError(second, "p", ["python"]);
  },
});

// Store file faults
const storeFault = (id: string, title: string, make: (db: string) => void, mentions: string[]): void =>
  add({
    id,
    defect: "9.10",
    title,
    run: async (c) => {
      mkdirSync(c.home, { recursive: true });
      const db = path.join(c.home, "venvflow.db");
      make(db);
      return expectError(await c.cli(["runs", "list"]), [...mentions, "venvflow.db"]);
    },
  });
storeFault("store-garbage", "a database file of garbage", (db) => writeFileSync(db, "this is not a database\n".repeat(200)), []);
storeFault("store-foreign", "a zip file as the database", (db) => writeFileSync(db, Buffer.concat([Buffer.from("PK\x03\x04"), Buffer.alloc(4096, 7)])), []);
add({
  id: "store-truncated",
  defect: "9.10",
  title: "a database truncated to half",
  run: async (c) => {
    await c.cli(["run", simpleDag(c), "--run-id", "r1"]);
    const db = path.join(c.home, "venvflow.db");
    await c.cli(["runs", "list"]); // checkpoints the WAL
    for (const f of ["venvflow.db-wal", "venvflow.db-shm"]) rmSync(path.join(c.home, f), { force: true });
    const size = statSync(db).size;
    writeFileSync(db, readFileSync(db).subarray(0, Math.floor(size / 2)));
    const r = await c.cli(["runs", "list"]);
    return r.code === 0 ? wrong("listed runs from a truncated file without a word") : expectError(r, ["venvflow.db"]);
  },
});
add({ id: "home-is-file", defect: "9.10", title: "VENVFLOW_HOME is a file", run: async (c) => expectError(await c.cli(["runs", "list"], { VENVFLOW_HOME: c.file("home-file", "x") }), ["home-file"]) });
add({
  id: "store-disk-full",
  defect: "9.10",
  title: "the disk fills up mid-run (a 2 MB tmpfs)",
  run: async (c) => {
    const mnt = path.join(c.dir, "small");
    mkdirSync(mnt);
    const mounted = await new Promise<boolean>((resolve) => spawn("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], { stdio: "ignore" }).once("close", (code) => resolve(code === 0)));
    if (!mounted) return clear("not tried: cannot mount a tmpfs here");
    c.cleanups.push(() => new Promise<void>((resolve) => spawn("umount", ["-l", mnt], { stdio: "ignore" }).once("close", () => resolve())));
    const file = c.dag("d.ts", Array.from({ length: 40 }, (_, i) => `new BashOperator({ taskId: "b${i}", bashCommand: "head -c 200000 /dev/zero | tr '\\\\0' x" });`).join("\n"));
    const r = await c.cli(["run", file, "--run-id", "r1"], { VENVFLOW_HOME: mnt });
    if (r.code === 0) return clear("the run fit");
    return expectError(r, [/disk|space|full/i]);
  },
});

// Signals to run and worker
const sleeperDag = (c: Ctx, kind: "bash" | "python", pids: string): string =>
  c.dag(
    "d.ts",
    kind === "bash"
      ? `new BashOperator({ taskId: "t", retries: 1, bashCommand: "echo $$ >> ${pids}; (sleep 120; echo late) & echo $! >> ${pids}; wait" });\nnew EmptyOperator({ taskId: "after" });`
      : pyTask(`import os, subprocess, time\ndef f():\n    open(${JSON.stringify(pids)}, "a").write("%d\\n" % os.getpid())\n    child = subprocess.Popen(["sleep", "120"])\n    open(${JSON.stringify(pids)}, "a").write("%d\\n" % child.pid)\n    time.sleep(120)\n`, "retries: 1,"),
  );
async function pidsIn(file: string, n: number): Promise<number[]> {
  await eventually(() => existsSync(file) && readFileSync(file, "utf8").trim().split("\n").length >= n, 30_000);
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").map(Number) : [];
}
for (const [sig, kind] of [
  ["SIGINT", "bash"],
  ["SIGTERM", "bash"],
  ["SIGINT", "python"],
  ["SIGTERM", "python"],
] as const) {
  add({
    id: `run-${sig.toLowerCase()}-${kind}`,
    defect: "9.1",
    title: `${sig} to venvflow run with a ${kind} task running`,
    run: async (c) => {
      const pidFile = path.join(c.dir, "pids");
      const run = c.start(["run", sleeperDag(c, kind, pidFile), "--run-id", "r1"]);
      const pids = await pidsIn(pidFile, 2);
      run.child.kill(sig);
      const r = await run.done;
      await eventually(() => !pids.some(isAlive), 3000);
      const shown = await c.runJson("r1");
      if (pids.some(isAlive)) return wrong(`task processes ${pids.filter(isAlive).join(",")} outlived the run`);
      if (r.code !== 130) return wrong(`exit ${r.code ?? r.signal}`);
      return shown?.state === "failed" ? clear("tries cancelled, run failed, exit 130") : wrong(`run ${shown?.state}`);
    },
  });
}
add({
  id: "worker-sigterm",
  defect: "9.1",
  title: "SIGTERM to venvflow worker with a Python task running",
  run: async (c) => {
    const pidFile = path.join(c.dir, "pids");
    const file = sleeperDag(c, "python", pidFile);
    const trigger = c.start(["run", file, "--run-id", "r1", "--workers", "1"]);
    const pids = await pidsIn(pidFile, 2);
    trigger.child.kill("SIGTERM");
    await trigger.done;
    // The run is failed now; a worker of a fresh run gets the signal.
    rmSync(pidFile, { force: true });
    const worker = c.start(["worker", file, "--slots", "1"]);
    const queued = c.start(["run", file, "--run-id", "r2", "--workers", "1"]);
    const second = await pidsIn(pidFile, 2);
    worker.child.kill("SIGTERM");
    queued.child.kill("SIGTERM");
    const [w] = await Promise.all([worker.done, queued.done]);
    const all = [...pids, ...second];
    await eventually(() => !all.some(isAlive), 3000);
    if (all.some(isAlive)) return wrong(`task processes ${all.filter(isAlive).join(",")} outlived the worker`);
    return w.code === 0 || w.code === 130 || w.code === 143 ? clear(`worker exited ${w.code}, its tries cancelled`) : wrong(`worker exit ${w.code ?? w.signal}`);
  },
});
for (const kind of ["bash", "python"] as const) {
  add({
    id: `run-kill9-${kind}`,
    defect: "9.1",
    title: `kill -9 of venvflow run with a ${kind} task running`,
    killsHard: true,
    run: async (c) => {
      const pidFile = path.join(c.dir, "pids");
      const run = c.start(["run", sleeperDag(c, kind, pidFile), "--run-id", "r1"]);
      const pids = await pidsIn(pidFile, 2);
      // tsx runs the CLI in a child node process: kill the whole tree of the command, as an OOM kill of it would.
      const tree = caseProcesses(c.dir).filter((p) => !pids.includes(p));
      killAll(tree.filter((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes("main.ts")));
      await run.done;
      await eventually(() => !pids.some(isAlive), 5000);
      return pids.some(isAlive) ? wrong(`task processes ${pids.filter(isAlive).join(",")} outlived their host`) : clear("the task's processes died with their host");
    },
  });
}
add({
  id: "hung-worker",
  defect: "9.1",
  title: "SIGSTOP of a worker running a Python and a Bash task; another worker retries them",
  timeoutMs: 120_000,
  run: async (c) => {
    const rec = path.join(c.dir, "records");
    const file = c.dag(
      "d.ts",
      `new ExternalPythonOperator({ taskId: "p", python: ${JSON.stringify(PYTHON)}, retries: 2, pythonCallable: { source: ${JSON.stringify(RECORD_PY(rec, "60 if try_number == 1 else 1"))} } });
new BashOperator({ taskId: "b", retries: 2, bashCommand: ${JSON.stringify(RECORD_SH(rec, '$([ "$VENVFLOW_CTX_TRY_NUMBER" = 1 ] && echo 600 || echo 10)'))} });`,
    );
    const first = c.start(["run", file, "--run-id", "r1", "--workers", "2"]);
    await eventually(() => readRecords(rec).filter((r) => r.what === "start").length >= 2, 30_000);
    const stopped = caseProcesses(c.dir).filter((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes("main.ts"));
    for (const p of stopped) process.kill(p, "SIGSTOP");
    const rescuer = c.start(["worker", file, "--slots", "2"]);
    const done = await eventually(() => readRecords(rec).filter((r) => r.what === "end").length >= 2, 60_000);
    for (const p of stopped) process.kill(p, "SIGCONT");
    const r = await first.done;
    rescuer.child.kill("SIGTERM");
    await rescuer.done;
    const run = await c.runJson("r1");
    const twice = overlapping(readRecords(rec));
    if (!done) return wrong("the retries did not finish");
    if (twice.length > 0) return { ...wrong(`ran twice at once: ${twice.join(",")}`), twiceAtOnce: twice.length };
    return run?.state === "success" ? clear(`fenced and retried; run success (the stale run exited ${r.code})`) : wrong(`run ${run?.state}`);
  },
});
add({
  id: "busy-loop",
  defect: "9.2",
  title: "a TypeScript task blocking the event loop 20 s, another worker sweeping",
  timeoutMs: 90_000,
  run: async (c) => {
    const file = c.dag("d.ts", `task({ taskId: "spin" }, () => { const until = Date.now() + 20000; while (Date.now() < until) {} return "done"; })();`);
    const run = c.start(["run", file, "--run-id", "r1", "--workers", "1"]);
    await sleep(4000);
    const other = c.start(["worker", file, "--slots", "1"]);
    const r = await run.done;
    other.child.kill("SIGTERM");
    await other.done;
    const shown = await c.runJson("r1");
    const t = taskOf(shown, "spin");
    return t?.state === "success" && t.tryNumber === 1 ? clear("not swept; success on try 1") : wrong(`exit ${r.code}: ${t?.state} after ${t?.tryNumber} tries`);
  },
});
add({
  id: "load-worker-kills",
  defect: "9.1",
  title: "300 short tasks (Python and Bash), 3 workers, 3 kill -9 of workers",
  timeoutMs: 300_000,
  killsHard: true,
  run: async (c) => {
    const rec = path.join(c.dir, "records");
    const body: string[] = [];
    for (let i = 0; i < 150; i++) {
      body.push(`new ExternalPythonOperator({ taskId: "p${i}", python: ${JSON.stringify(PYTHON)}, retries: 3, pythonCallable: { source: ${JSON.stringify(RECORD_PY(rec, "0.3"))} } });`);
      body.push(`new BashOperator({ taskId: "b${i}", retries: 3, bashCommand: ${JSON.stringify(RECORD_SH(rec, "3"))} });`);
    }
    const file = c.dag("d.ts", body.join("\n"), "{ maxActiveTasks: 64 }");
    const main = c.start(["run", file, "--run-id", "r1", "--workers", "4"]);
    const workers = [c.start(["worker", file, "--slots", "4"]), c.start(["worker", file, "--slots", "4"])];
    for (let k = 0; k < 3; k++) {
      await eventually(() => readRecords(rec).filter((r) => r.what === "end").length >= 60 * (k + 1), 120_000);
      const victim = workers.shift()!;
      const tree = caseProcesses(c.dir).filter((p) => {
        try {
          const stat = readFileSync(`/proc/${p}/stat`, "utf8");
          return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === victim.child.pid;
        } catch {
          return false;
        }
      });
      killAll([victim.child.pid!, ...tree]);
      await victim.done;
      workers.push(c.start(["worker", file, "--slots", "4"]));
    }
    const r = await main.done;
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.done));
    const run = await c.runJson("r1");
    const lost = (run?.tasks ?? []).filter((t) => t.state !== "success").length + (run ? 0 : 300);
    const twice = overlapping(readRecords(rec)).length;
    const note = `exit ${r.code}; ${300 - lost}/300 succeeded, ${lost} lost, ${twice} run twice at once`;
    return { verdict: lost === 0 && twice === 0 ? "clear" : "wrong", note, lost, twiceAtOnce: twice };
  },
});

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
  const selected = cases.filter((k) => !only || only.split(",").some((part) => k.id.includes(part)));
  if (args.includes("--list")) {
    for (const k of selected) process.stdout.write(`${k.id.padEnd(28)} #${k.defect.padEnd(5)} ${k.title}\n`);
    return;
  }
  const root = mkdtempSync(path.join(os.tmpdir(), "venvflow-probe-"));
  process.stdout.write(`venvflow probe: ${selected.length} cases, Python ${PYTHON}${HAS_MIRROR ? "" : `, no local mirror (${MIRROR}): its cases not tried`}\n\n`);
  const totals = new Map<Verdict, number>(WORST_FIRST.map((v) => [v, 0]));
  let lost = 0;
  let twice = 0;
  const started = Date.now();
  try {
    for (const k of selected) {
      const r = await runCase(k, root);
      totals.set(r.verdict, (totals.get(r.verdict) ?? 0) + 1);
      lost += r.lost;
      twice += r.twice;
      process.stdout.write(`${r.verdict.padEnd(8)} ${k.id.padEnd(28)} #${k.defect.padEnd(5)} ${(r.ms / 1000).toFixed(1).padStart(6)} s  ${r.note}\n`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(
    `\ncases tried ${selected.length}: ${WORST_FIRST.slice()
      .reverse()
      .map((v) => `${v} ${totals.get(v)}`)
      .join(", ")}; tasks lost ${lost}, tasks run twice at once ${twice} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`,
  );
}

await main();
