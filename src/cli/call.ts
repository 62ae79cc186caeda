/** `venvflow call FILE.py:function`: run one callable once, in its environment, from the shell. */
import type { Command } from "@commander-js/extra-typings";
import path from "node:path";
import { runCallable } from "../runtime/index.ts";
import type { CallableOptions, LogLine, Serializer } from "../runtime/types.ts";
import { VenvflowError } from "../util/errors.ts";
import { action, collect, printJson } from "./common.ts";

/** `flag` is the option as typed (`--arg`), `which` names the occurrence (`the 2nd --arg`) in the message. */
function parseJson(text: string, flag: string, which = flag): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new VenvflowError("invalid_arguments", `${which} (${text}) is not valid JSON: ${(error as Error).message}`, {
      fix: `give JSON and quote it for the shell, e.g. ${flag} '{"n": 3}', ${flag} 3 or ${flag} '"text"'`,
    });
  }
}

const ordinal = (n: number): string => `${n}${n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th")}`;

/** Live log lines go to stderr, so stdout carries only the result. */
function printLine(line: LogLine): void {
  const label = line.stream === "log" ? `${line.level ?? "INFO"} ${line.logger ?? "root"}` : line.stream === "system" ? "venvflow" : line.stream;
  process.stderr.write(`${line.ts.slice(11, 23)} ${label}: ${line.msg}\n`);
}

export function registerCallCommand(program: Command): void {
  program
    .command("call")
    .description("Run one Python callable in its cached environment and print its return value")
    .argument("<callable>", "FILE.py:function (FILE relative to the current directory, or absolute)")
    .option("-r, --requirement <requirement>", "a requirement line (repeatable)", collect, [] as string[])
    .option("--python <versionOrPath>", 'Python version ("3.12"), or an interpreter path: used as is unless requirements, --index-url or --system-site-packages ask for an environment built from it')
    .option("--arg <json>", "a positional argument as JSON (repeatable)", collect, [] as string[])
    .option("--kwargs <json>", "keyword arguments as a JSON object")
    .option("--serializer <name>", "json (default), pickle, cloudpickle or dill")
    .option("--system-site-packages", "let the environment see the interpreter's site-packages", false)
    .option("--index-url <url>", "package index URL; repeat for extra indexes (credentials in it are never shown)", collect, [] as string[])
    .option("--json", "print the whole result as JSON", false)
    .action(
      action(async (callable, opts) => {
        const kwargs = opts.kwargs === undefined ? {} : parseJson(opts.kwargs, "--kwargs");
        if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) {
          throw new VenvflowError("invalid_arguments", "--kwargs must be a JSON object", { fix: `e.g. --kwargs '{"n": 3}'` });
        }
        const wantsEnv = opts.requirement.length > 0 || opts.indexUrl.length > 0 || opts.systemSitePackages;
        const python = opts.python;
        const isPath = python !== undefined && (python.includes("/") || python.includes(path.sep));
        const options: CallableOptions = {
          pythonCallable: callable,
          baseDir: process.cwd(),
          opArgs: opts.arg.map((text, i) => parseJson(text, "--arg", opts.arg.length > 1 ? `the ${ordinal(i + 1)} --arg` : "--arg")),
          opKwargs: kwargs as Record<string, unknown>,
          ...(opts.serializer !== undefined ? { serializer: opts.serializer as Serializer } : {}),
          onLog: printLine,
          explainFailure: async (context) => (await import("../doctor/explain.ts")).explainFailure(context),
        };
        if (isPath && !wantsEnv) {
          options.python = path.resolve(python);
        } else {
          if (python !== undefined) options.pythonVersion = isPath ? path.resolve(python) : python;
          if (opts.requirement.length > 0) options.requirements = opts.requirement;
          if (opts.indexUrl.length > 0) options.indexUrls = opts.indexUrl;
          if (opts.systemSitePackages) options.systemSitePackages = true;
        }
        const result = await runCallable(options);
        if (opts.json) printJson(result);
        else if (result.state === "success") printJson(result.returnValue);
        else if (result.state === "skipped") process.stderr.write(`skipped (exit code ${result.exitCode})\n`);
        else if (result.error) {
          const { type, code, message, fix } = result.error;
          process.stderr.write(`failed: ${type}${code ? ` (${code})` : ""}${message ? `: ${message}` : ""}\n${fix ? `  fix: ${fix}\n` : ""}`);
        }
        if (result.state === "failed") process.exitCode = 1;
      }),
    );
}
