/**
 * Child process of the DAG loader's import check (see `checkImports` in loader.ts): imports each DAG file the parent
 * sends (`{ files }`, over IPC: a folder's list can outgrow an environment variable), telling the parent when each
 * starts and ends, and whether it left a timer running. A file that loops forever, exits the process or never settles its top-level await stops this
 * process, and the parent blames that file.
 */
import { pathToFileURL } from "node:url";
import { resolveVenvflowToSelf } from "./loader.ts";

const send = (message: unknown): Promise<void> => new Promise((resolve) => process.send!(message, () => resolve()));
const { files } = await new Promise<{ files: string[] }>((resolve) => process.once("message", resolve));
// From now on the IPC channel must not keep this process alive: a top-level await that never settles should end it
// (exit code 13).
process.channel?.unref();
const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout" || kind === "Immediate").length;

resolveVenvflowToSelf();
for (const file of files) {
  await send({ type: "start", file });
  const before = timers();
  // A file that throws is reported by the in-process load, which explains it; here only what it leaves behind counts.
  // A plain import (tsx is registered once for this process): each file is imported once, nothing needs refreshing.
  await import(pathToFileURL(file).href).catch(() => undefined);
  await send({ type: "done", file, leftoverTimers: Math.max(0, timers() - before) });
}
await send({ type: "end" });
process.exit(0);
