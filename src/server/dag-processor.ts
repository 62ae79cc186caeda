/** Parses a DAG folder in a fresh child process (see dag-processor-child.ts) and returns what it found. */
import type { ParsedFolder } from "../engine/serialized-dags.ts";
import { runJsonChild } from "./run-child.ts";

// A DAG file that hangs at import must not stall re-parsing forever.
const PARSE_TIMEOUT_MS = 120_000;

export function parseDagFolder(folder: string, env: NodeJS.ProcessEnv = process.env): Promise<ParsedFolder> {
  return runJsonChild<ParsedFolder>("dag-processor-child", [folder], env, PARSE_TIMEOUT_MS);
}
