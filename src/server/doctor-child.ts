/** `node doctor-child.js FILE`: doctor's report for one DAG file as JSON on stdout (doctor imports the file). */
import { doctor } from "../doctor/dags.ts";

process.stdout.write(JSON.stringify(await doctor(process.argv[2] as string)));
process.exit(0);
