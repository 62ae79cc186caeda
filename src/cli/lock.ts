/** `venvflow lock FILE [--upgrade [NAME]]`: a PEP 751 pylock.toml per distinct environment of a DAG file, beside it. */
import type { Command } from "@commander-js/extra-typings";
import path from "node:path";
import { lockDagEnvironments, resolveSpec } from "../env/index.ts";
import { venvflowHome } from "../util/home.ts";
import { action, printJson } from "./common.ts";
import { targetsFromDagFile } from "./env.ts";

export function registerLockCommand(program: Command): void {
  program
    .command("lock")
    .description("Resolve every distinct environment of a DAG file and write its lock beside it (pylock.<file stem>-<dag id>-<task id>.toml, PEP 751)")
    .argument("<dagFile>", "the DAG file whose virtualenv tasks to lock")
    .option("--upgrade [name]", "re-resolve everything, or only the named package (default: keep locked versions that still fit)")
    .option("--json", "print the written locks as JSON", false)
    .action(
      action(async (dagFile, opts) => {
        const env = { ...process.env };
        delete env.VENVFLOW_FROZEN; // locking is how a frozen build's lock gets written
        const home = venvflowHome(env);
        const targets = [];
        for (const target of await targetsFromDagFile(dagFile)) targets.push({ label: target.label, spec: await resolveSpec(target.spec, { home, env }) });
        const progress = (message: string) => {
          if (!opts.json) process.stderr.write(`${message}\n`);
        };
        const { written, removed } = await lockDagEnvironments(path.resolve(dagFile), targets, {
          ...(opts.upgrade === undefined ? {} : { upgrade: opts.upgrade }),
          home,
          env,
          onProgress: progress,
        });
        if (opts.json) return printJson({ written, removed });
        for (const w of written) {
          process.stdout.write(`${w.changed ? "wrote" : "unchanged"} ${path.relative(process.cwd(), w.file)}  (${w.packages} packages; ${w.tasks.join(", ")})\n`);
          for (const u of w.updates) process.stdout.write(`  ${u}\n`);
        }
        for (const file of removed) process.stdout.write(`removed ${path.relative(process.cwd(), file)} (no task uses its environment any more)\n`);
      }),
    );
}
