/**
 * `node rebuild-child.js FILE DAG_ID TASK_ID`: rebuilds the environment a task declares (unpinned requirements
 * re-resolved into a new environment, as `venvflow env build --refresh`) and prints `{ key, path }`. A child,
 * because the spec (with its real index credentials) comes from importing the DAG file.
 */
import { loadDags } from "../dag/loader.ts";
import { ensureEnvironment } from "../env/index.ts";
import { VenvflowError } from "../util/errors.ts";
import { exitWithParent } from "../util/process.ts";

exitWithParent(); // the server died: nothing of it may go on running

const [file, dagId, taskId] = process.argv.slice(2) as [string, string, string];
const { dags } = await loadDags(file);
const spec = dags.find((d) => d.dagId === dagId)?.tasks.get(taskId)?.environment;
if (!spec) {
  throw new VenvflowError("env_rebuild_unknown_spec", `task ${dagId}.${taskId} in ${file} no longer declares a virtualenv`, { fix: "trigger the DAG: its tasks build the environments they need" });
}
const env = await ensureEnvironment(spec, { refresh: true, onOutput: (line) => process.stderr.write(`${line}\n`) });
process.stdout.write(JSON.stringify({ key: env.key, path: env.path }));
process.exit(0);
