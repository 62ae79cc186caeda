/** `node doctor-child.js FILE`: doctor's report for one DAG file as JSON on stdout (doctor imports the file). */
import { doctor } from "../doctor/dags.ts";
import { exitWithParent } from "../util/process.ts";

exitWithParent(); // the server died: nothing of it may go on running

process.stdout.write(JSON.stringify(await doctor(process.argv[2] as string)));
process.exit(0);
