/** Runs a one-shot child (DAG processor, doctor) and parses the JSON it prints. */
import { VenvflowError } from "../util/errors.ts";
import { spawnChild, type ChildName } from "./children.ts";

export function runJsonChild<T>(name: Exclude<ChildName, "worker-child">, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(name, args, env);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => stdout.push(b));
    child.stderr?.on("data", (b: Buffer) => stderr.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        try {
          resolve(JSON.parse(Buffer.concat(stdout).toString("utf8")) as T);
          return;
        } catch {
          // fall through: the child printed something else (a DAG file writing to stdout at exit)
        }
      }
      const why = signal ? `was killed (${signal}${signal === "SIGKILL" ? `, over ${timeoutMs / 1000} s` : ""})` : `exited with code ${code}`;
      const tail = Buffer.concat(stderr).toString("utf8").trim().split("\n").slice(-5).join("\n");
      const what = { "doctor-child": "doctor of", "dag-processor-child": "parsing the DAG folder", "rebuild-child": "rebuilding the environment of" }[name];
      reject(
        new VenvflowError(name === "rebuild-child" ? "env_rebuild_failed" : "dag_processor_failed", `${what} ${args.join(" ")} ${why}${tail ? `: ${tail}` : ""}`, {
          fix: "check the path exists and that no DAG file hangs or exits the process while it is imported",
        }),
      );
    });
  });
}
