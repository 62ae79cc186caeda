/** Starting the server's child processes (DAG processor, workers): user code runs only in them. */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export type ChildName = "dag-processor-child" | "worker-child" | "doctor-child" | "rebuild-child";

/** `node [--import tsx] <script>`: from source (tests, `tsx`) the child needs tsx to load .ts files. */
export function spawnChild(name: ChildName, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const script = fileURLToPath(new URL(`./${name}${ext}`, import.meta.url));
  const loader = ext === ".ts" ? ["--import", import.meta.resolve("tsx")] : [];
  // Its stdin is a pipe nobody writes to: it ends when this process dies, by any death, and the child then exits
  // (an orphaned worker child went on running for an hour after its server was killed).
  return spawn(process.execPath, [...loader, script, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
}
