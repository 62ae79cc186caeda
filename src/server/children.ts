/** Starting the server's child processes (DAG processor, workers): user code runs only in them. */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export type ChildName = "dag-processor-child" | "worker-child" | "doctor-child" | "rebuild-child";

/** `node [--import tsx] <script>`: from source (tests, `tsx`) the child needs tsx to load .ts files. */
export function spawnChild(name: ChildName, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const script = fileURLToPath(new URL(`./${name}${ext}`, import.meta.url));
  const loader = ext === ".ts" ? ["--import", import.meta.resolve("tsx")] : [];
  return spawn(process.execPath, [...loader, script, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
}
