// A separate process for the cross-process test: installs the lock in argv[4] into argv[3] with VENVFLOW_HOME argv[2].
import { readFile } from "node:fs/promises";
import { findPython } from "../../../src/env/python.ts";
import { installLocked, type LockedWheel } from "../../../src/env/wheels/index.ts";

const [home, envDir, lockFile] = process.argv.slice(2) as [string, string, string];
const packages = JSON.parse(await readFile(lockFile, "utf8")) as LockedWheel[];
const python = await findPython("3", { home });
const result = await installLocked({ packages }, envDir, python, { home });
process.stdout.write(JSON.stringify(result.installed.filter((d) => d.unpacked).map((d) => d.sha256)));
