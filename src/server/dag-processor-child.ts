/**
 * The DAG processor: `node dag-processor-child.js FOLDER` imports every DAG file under FOLDER and prints one JSON
 * `ParsedFolder` on stdout. A fresh process per parse: user code never runs in the server, and modules of old
 * versions of a file (which ESM can never unload) die with the process.
 */
import { readFile } from "node:fs/promises";
import { loadDags } from "../dag/loader.ts";
import { serializeDag } from "../dag/serialize.ts";
import { redactUrl } from "../util/secrets.ts";
import type { ParsedFolder } from "../engine/serialized-dags.ts";
import { exitWithParent } from "../util/process.ts";

exitWithParent(); // the server died: nothing of it may go on running

const folder = process.argv[2] as string;
const { dags, errors } = await loadDags(folder);
const sources = new Map<string, string>();
const out: ParsedFolder = { dags: [], errors };
for (const dag of dags) {
  // The source is shown in the UI: index credentials written into it are masked like everywhere else.
  if (!sources.has(dag.fileloc)) sources.set(dag.fileloc, redactUrl(await readFile(dag.fileloc, "utf8")));
  out.dags.push({ dag: serializeDag(dag), source: sources.get(dag.fileloc) as string });
}
process.stdout.write(JSON.stringify(out));
// DAG files may leave timers or handles open; the parse is done.
process.exit(0);
