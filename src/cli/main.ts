#!/usr/bin/env node
import { Command } from "@commander-js/extra-typings";
import { readFileSync } from "node:fs";
import { redactUrl } from "../util/secrets.ts";
import { registerCallCommand } from "./call.ts";
import { registerEnvCommands } from "./env.ts";
import { registerInitCommand } from "./init.ts";
import { registerDagsCommands } from "./dags.ts";
import { registerDoctorCommand } from "./doctor.ts";
import { registerLockCommand } from "./lock.ts";
import { registerLogsCommand } from "./logs.ts";
import { registerOpsCommands } from "./ops.ts";
import { registerRunCommand, registerWorkerCommand } from "./run.ts";
import { registerRunsCommands } from "./runs.ts";
import { registerServerCommand } from "./server.ts";
import { registerTestCommand } from "./test.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

const program = new Command("venvflow")
  .description("Workflows whose Python tasks run in isolated, cached, reproducible environments.")
  .version(pkg.version)
  // Commander's own errors (an unknown option, a missing argument) echo what was typed, a URL with a password
  // included; they get a fix as venvflow's errors do. Subcommands inherit this.
  .configureOutput({ outputError: (text, write) => write(`${redactUrl(text.trimEnd())}\n  fix: see venvflow --help, or the command's --help, for its arguments and options\n`) });

// Each command group lives in its own file and registers itself here.
registerInitCommand(program);
registerEnvCommands(program);
registerLockCommand(program);
registerCallCommand(program);
registerRunCommand(program);
registerWorkerCommand(program);
registerTestCommand(program);
registerDagsCommands(program);
registerRunsCommands(program);
registerLogsCommand(program);
registerDoctorCommand(program);
registerServerCommand(program);
registerOpsCommands(program);

await program.parseAsync(process.argv);
