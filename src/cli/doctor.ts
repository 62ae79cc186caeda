/** `venvflow doctor [FILE|DIR]` and `venvflow env why FILE TASK_ID MODULE`: a thin layer over src/doctor. */
import type { Command } from "@commander-js/extra-typings";
import path from "node:path";
import type { Finding } from "../doctor/types.ts";
import { action, paint, printJson } from "./common.ts";

function relative(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

export function formatFinding(f: Finding): string {
  const where = `${relative(f.file)}${f.line === undefined ? "" : `:${f.line}`}`;
  const task = f.dagId ? `${f.dagId}.${f.taskId}` : "";
  const color = paint(process.stdout);
  return `${color(f.severity === "error" ? "red" : "yellow", `${f.severity}[${f.code}]`)} ${task ? `${task} ` : ""}${where}\n  ${f.message.split("\n").join("\n  ")}\n  ${color("bold", `fix: ${f.fix}`)}`;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("Check every Python task: imports its environment lacks, bad requirements, missing interpreters and serializers")
    .argument("[path]", "a DAG file or folder", "dags")
    .option("--json", "print the findings as JSON", false)
    .action(
      action(async (target, opts) => {
        const { doctor } = await import("../doctor/dags.ts");
        const report = await doctor(target);
        if (opts.json) printJson(report);
        else {
          for (const f of report.findings) process.stdout.write(`${formatFinding(f)}\n\n`);
          process.stdout.write(`${report.errors} error${report.errors === 1 ? "" : "s"}, ${report.warnings} warning${report.warnings === 1 ? "" : "s"} in ${report.tasks} Python task${report.tasks === 1 ? "" : "s"} (${report.dags} DAG${report.dags === 1 ? "" : "s"})\n`);
        }
        if (report.errors > 0) process.exitCode = 1;
      }),
    );

  // `why` belongs with the environment commands; the env group is registered before this one.
  const env = (program.commands.find((c) => c.name() === "env") as Command | undefined) ?? program.command("env").description("Build, inspect and clean cached Python environments");
  env
    .command("why")
    .description("Where a module would come from for one task (stdlib, its environment, the host, a local file), or why it cannot be imported")
    .argument("<file>", "the DAG file")
    .argument("<taskId>", "the task")
    .argument("<module>", "the module, as imported (e.g. yaml or vf_alpha.sub)")
    .option("--dag <dagId>", "the DAG, when several in the file have this task id")
    .option("--json", "print as JSON", false)
    .action(
      action(async (file, taskId, module, opts) => {
        const { whyImport } = await import("../doctor/dags.ts");
        const result = await whyImport(file, taskId, module, opts.dag === undefined ? {} : { dagId: opts.dag });
        if (opts.json) return printJson(result);
        if (result.origin) {
          process.stdout.write(`${result.task.dagId}.${result.task.taskId}: ${result.origin.explanation}\n`);
          if (!result.origin.visible) {
            process.stdout.write(`  fix: ${result.origin.suggestion ? `add "${result.origin.suggestion}" to requirements` : `find the distribution that provides ${module} and add it to requirements`}${result.origin.source === "host" ? " (or set systemSitePackages: true)" : ""}\n`);
          }
        }
        for (const f of result.findings) process.stdout.write(`${formatFinding(f)}\n`);
        if (!result.origin?.visible) process.exitCode = 1;
      }),
    );
}
