/** `venvflow env build|list|show|rm|gc`: a thin layer over src/env. */
import type { Command } from "@commander-js/extra-typings";
import { Listr } from "listr2";
import path from "node:path";
import { ensureEnvironment, gcEnvironments, listEnvironments, removeEnvironment, showEnvironment, wheelCacheSummary } from "../env/index.ts";
import { canonicalizeName } from "../env/pep/index.ts";
import type { BuildProgress, EnvSpecInput, Environment, Installer } from "../env/types.ts";
import { durationToMs } from "../util/duration.ts";
import { VenvflowError } from "../util/errors.ts";
import { sweepDeadOwners } from "../util/scratch.ts";
import { existsSync } from "node:fs";
import { action, applyFrozen, FROZEN_HELP, ago, collect, formatBytes, parseSize, printJson, table } from "./common.ts";
import { environmentRequirements, environmentUsers } from "./usage.ts";

export interface BuildTarget {
  label: string;
  spec: EnvSpecInput;
}

/**
 * Builds each target with a live display on a TTY (listr2) and plain progress lines on stderr otherwise,
 * so logs and pipes stay readable and stdout stays clean for --json.
 */
async function buildAll(targets: BuildTarget[], options: { refresh: boolean; json: boolean }): Promise<Environment[]> {
  const built: Environment[] = [];
  if (process.stderr.isTTY && !options.json) {
    await new Listr(
      targets.map((target) => ({
        title: target.label,
        task: async (_ctx: unknown, task: { output: string | undefined; title: string }) => {
          const env = await ensureEnvironment(target.spec, { refresh: options.refresh, onProgress: (e: BuildProgress) => (task.output = e.message) });
          task.title = `${target.label} → ${env.key.slice(0, 12)} (${env.lock.length} package${env.lock.length === 1 ? "" : "s"})`;
          built.push(env);
        },
      })),
      { concurrent: false, exitOnError: true },
    ).run();
    return built;
  }
  for (const target of targets) {
    const onProgress = (e: BuildProgress) => {
      if (!options.json) process.stderr.write(`[${e.key.slice(0, 12)}] ${e.phase}: ${e.message}\n`);
    };
    built.push(await ensureEnvironment(target.spec, { refresh: options.refresh, onProgress }));
  }
  return built;
}

function summary(env: Environment, usedBy?: string[]): Record<string, unknown> {
  return {
    key: env.key,
    requirements: environmentRequirements(env),
    ...(usedBy ? { usedBy } : {}),
    path: env.path,
    python: env.python,
    interpreter: `${env.interpreter.implementation} ${env.interpreter.version} (${env.interpreter.path})`,
    installer: `${env.installer.name} ${env.installer.version}`,
    packages: env.lock.length,
    sizeBytes: env.sizeBytes,
    createdAt: env.createdAt,
    lastUsedAt: env.lastUsedAt,
    ...(env.problem ? { problem: env.problem } : {}),
  };
}

export function registerEnvCommands(program: Command): void {
  const env = program.command("env").description("Build, inspect and clean cached Python environments");

  env
    .command("build")
    .description("Build (or reuse) an environment from an ad-hoc spec, or for every Python task of a DAG file")
    .argument("[dagFile]", "a DAG file: build the environment of each of its virtualenv tasks")
    .option("--python <version>", 'Python version ("3.12") or absolute interpreter path')
    .option("-r, --requirement <requirement>", "a requirement line (repeatable)", collect, [] as string[])
    .option("--requirements-file <file>", "a pip requirements file (-r/-c nesting allowed)")
    .option("-c, --constraint <constraint>", "a constraint line (repeatable)", collect, [] as string[])
    .option("--index-url <url>", "package index URL (credentials in it are never shown)")
    .option("--extra-index-url <url>", "extra package index URL (repeatable)", collect, [] as string[])
    .option("--system-site-packages", "let the environment see the interpreter's site-packages", false)
    .option("--installer <name>", "venvflow, pip, uv or auto (venvflow)", "auto")
    .option("--refresh", "re-resolve unpinned requirements into a new environment (the current one stays)", false)
    .option("--lock-file <file>", "install from this pylock.toml (ad-hoc spec; a DAG file's locks are found beside it)")
    .option("--frozen", FROZEN_HELP, false)
    .option("--json", "print the result as JSON", false)
    .action(
      action(async (dagFile, opts) => {
        applyFrozen(opts.frozen);
        let targets: BuildTarget[];
        if (dagFile) {
          targets = await targetsFromDagFile(dagFile);
        } else {
          if (opts.requirement.length && opts.requirementsFile) {
            throw new VenvflowError("invalid_arguments", "Give --requirement or --requirements-file, not both", { fix: "put all requirements in the file, or list them all with --requirement" });
          }
          if (opts.extraIndexUrl.length && !opts.indexUrl) {
            throw new VenvflowError("invalid_arguments", "--extra-index-url needs --index-url", { fix: "add --index-url with the primary index" });
          }
          const spec: EnvSpecInput = {
            ...(opts.python ? { pythonVersion: opts.python } : {}),
            requirements: opts.requirementsFile ?? opts.requirement,
            ...(opts.constraint.length ? { constraints: opts.constraint } : {}),
            ...(opts.indexUrl ? { indexUrls: [opts.indexUrl, ...opts.extraIndexUrl] } : {}),
            systemSitePackages: opts.systemSitePackages,
            installer: opts.installer as Installer | "auto",
            baseDir: process.cwd(),
            ...(opts.lockFile ? { lockFile: path.resolve(opts.lockFile) } : {}),
          };
          targets = [{ label: "environment", spec }];
        }
        const built = await buildAll(targets, { refresh: opts.refresh, json: opts.json });
        if (opts.json) printJson(built.length === 1 && !dagFile ? built[0] : built);
        else for (const e of built) process.stdout.write(`${e.key}  ${e.path}\n`);
      }),
    );

  env
    .command("list")
    .description("List cached environments, most recently used first, with their Python, requirements and the DAG tasks that use them")
    .option("--dags <path>", 'DAG file or folder whose tasks to match to environments (default: "dags" when that folder exists)')
    .option("--wheels", "list the wheel cache instead: every cached wheel, its size and how many environments link it", false)
    .option("--json", "print as JSON", false)
    .action(
      action(async (opts) => {
        if (opts.wheels) {
          const cache = await wheelCacheSummary();
          if (opts.json) return printJson(cache);
          process.stdout.write(`${table(["WHEEL", "SIZE", "ENVIRONMENTS", "SHA256"], cache.wheels.map((w) => [w.filename, formatBytes(w.sizeBytes), String(w.references), w.sha256.slice(0, 12)]))}\n`);
          return void process.stdout.write(`wheel cache ${cache.root}: ${cache.wheels.length} wheels, ${formatBytes(cache.sizeBytes)}, ${cache.unreferenced} unreferenced\n`);
        }
        const envs = await listEnvironments();
        const dagsPath = opts.dags ?? (existsSync("dags") ? "dags" : undefined);
        let users: Map<string, string[]> | undefined;
        if (dagsPath !== undefined && envs.length > 0) {
          const { loadDags } = await import("../dag/loader.ts");
          users = await environmentUsers((await loadDags(dagsPath)).dags);
        }
        if (opts.json) return printJson(envs.map((e) => summary(e, users ? (users.get(e.key) ?? []) : undefined)));
        if (envs.length === 0) return void process.stdout.write("no environments\n");
        const cut = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
        process.stdout.write(
          `${table(
            ["KEY", "PYTHON", "REQUIREMENTS", "PACKAGES", "SIZE", "LAST USED", ...(users ? ["USED BY"] : [])],
            envs.map((e) => [
              e.key.slice(0, 12),
              e.interpreter.version,
              cut(environmentRequirements(e).join(", ") || "-", 40),
              String(e.lock.length),
              formatBytes(e.sizeBytes),
              ago(e.lastUsedAt),
              ...(users ? [users.get(e.key)?.join(", ") ?? "-"] : []),
            ]),
          )}\n`,
        );
        const wheels = await wheelCacheSummary();
        if (wheels.wheels.length) process.stdout.write(`wheel cache: ${wheels.wheels.length} wheels, ${formatBytes(wheels.sizeBytes)} (${wheels.unreferenced} unreferenced; \`venvflow env list --wheels\`)\n`);
        for (const e of envs.filter((e) => e.problem)) {
          process.stdout.write(`broken: ${e.key.slice(0, 12)} ${e.problem}\n  fix: the next task that uses it rebuilds it; or run \`venvflow env rm ${e.key.slice(0, 12)}\`\n`);
        }
      }),
    );

  env
    .command("show")
    .description("Show one environment: path, interpreter, packages, size, last use")
    .argument("<key>", "environment key or unique prefix")
    .option("--json", "print as JSON", false)
    .action(
      action(async (key, opts) => {
        const details = await showEnvironment(key);
        const cached = new Map((await wheelCacheSummary()).wheels.map((w) => [w.sha256, w]));
        const linked = details.lock.filter((p) => p.sha256 && cached.has(p.sha256));
        const wheelCache = { linkedWheels: linked.length, cachedBytes: linked.reduce((n, p) => n + (cached.get(p.sha256 as string)?.sizeBytes ?? 0), 0) };
        if (opts.json) return printJson({ ...details, wheelCache });
        const lines = [
          `key:          ${details.key}`,
          `path:         ${details.path}`,
          `interpreter:  ${details.interpreter.implementation} ${details.interpreter.version} (${details.interpreter.path})`,
          `installer:    ${details.installer.name} ${details.installer.version}`,
          `system site:  ${details.systemSitePackages ? "visible" : "isolated"}`,
          `size:         ${formatBytes(details.sizeBytes)}`,
          ...(details.installer.name === "venvflow" ? [`wheel cache:  ${wheelCache.linkedWheels} of ${details.lock.length} wheels cached (${formatBytes(wheelCache.cachedBytes)}, linked, not copied)`] : []),
          `created:      ${details.createdAt}`,
          `last used:    ${details.lastUsedAt} (${ago(details.lastUsedAt)})`,
          `in use by:    ${details.inUseBy.length ? details.inUseBy.map((l) => `pid ${l.pid}@${l.host}`).join(", ") : "nobody"}`,
          `build log:    ${details.buildLogPath}`,
          `packages (${details.installed.length}):`,
          ...details.installed.map((p) => {
            const locked = details.lock.find((l) => canonicalizeName(l.name) === canonicalizeName(p.name));
            return `  ${p.name}==${p.version}${locked ? `  from ${locked.source}` : ""}`;
          }),
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      }),
    );

  env
    .command("rm")
    .description("Remove environments (refused while a task uses one)")
    .argument("<keys...>", "environment keys or unique prefixes")
    .option("--json", "print as JSON", false)
    .action(
      action(async (keys, opts) => {
        const removed: string[] = [];
        for (const key of keys) removed.push((await removeEnvironment(key)).key);
        if (opts.json) printJson({ removed });
        else for (const key of removed) process.stdout.write(`removed ${key}\n`);
      }),
    );

  env
    .command("gc")
    .description("Evict environments by age and total size (never one in use); clear crashed builds; evict cached wheels no environment links")
    .option("--older-than <duration>", 'evict environments unused for this long, e.g. "30d", "12h"')
    .option("--max-size <size>", 'evict least recently used until the total is at most this, e.g. "10G"')
    .option("--dry-run", "only say what would be removed", false)
    .option("--json", "print as JSON", false)
    .action(
      action(async (opts) => {
        const result = await gcEnvironments({
          ...(opts.olderThan ? { olderThanMs: durationToMs(opts.olderThan, "--older-than") } : {}),
          ...(opts.maxSize ? { maxTotalBytes: parseSize(opts.maxSize) } : {}),
          dryRun: opts.dryRun,
        });
        // What killed processes left in the temp directory (a task's arguments, a fence): their owner pid is dead.
        const clearedTemp = sweepDeadOwners({ dryRun: opts.dryRun });
        // A dry run removed nothing: say so in the JSON too.
        if (opts.json) {
          return printJson(
            opts.dryRun ? { ...Object.fromEntries(Object.entries(result).filter(([k]) => k !== "removed")), clearedTemp, dryRun: true, wouldRemove: result.removed } : { ...result, clearedTemp },
          );
        }
        const verb = opts.dryRun ? "would remove" : "removed";
        for (const r of result.removed) process.stdout.write(`${verb} ${r.key.slice(0, 12)}  ${formatBytes(r.sizeBytes)}  (${r.reason})\n`);
        for (const k of result.kept) process.stdout.write(`kept ${k.key.slice(0, 12)}  (${k.reason})\n`);
        for (const c of result.cleared) process.stdout.write(`cleared crashed build ${c.slice(0, 12)}\n`);
        for (const t of clearedTemp) process.stdout.write(`${opts.dryRun ? "would clear" : "cleared"} ${t} (its process is gone)\n`);
        for (const w of result.wheels.removed) process.stdout.write(`${verb} wheel ${w.filename}  ${formatBytes(w.sizeBytes)}  (no environment links it)\n`);
        if (result.wheels.removed.length) process.stdout.write(`wheel cache: ${formatBytes(result.wheels.freedBytes)} ${opts.dryRun ? "would be " : ""}freed, ${result.wheels.kept} wheels kept\n`);
        process.stdout.write(`total ${formatBytes(result.totalBytesBefore)} → ${formatBytes(result.totalBytesAfter)}\n`);
      }),
    );
}

/** The environment spec of every virtualenv task in a DAG file. */
export async function targetsFromDagFile(file: string): Promise<BuildTarget[]> {
  // Loaded on demand: the DAG loader brings in tsx, which the other env commands do not need at startup.
  const { loadDags } = await import("../dag/loader.ts");
  const { dags, errors } = await loadDags(path.resolve(file));
  if (errors.length) {
    throw new VenvflowError("dag_load_failed", `Could not load ${file}: ${errors.map((e) => e.message).join("; ")}`, { fix: errors[0]?.fix ?? "fix the DAG file (see `venvflow dags list`)" });
  }
  const targets: BuildTarget[] = [];
  for (const dag of dags) {
    for (const task of dag.tasks.values()) {
      if (task.environment) targets.push({ label: `${dag.dagId}.${task.taskId}`, spec: task.environment });
    }
  }
  if (targets.length === 0) throw new VenvflowError("no_python_tasks", `${file} has no virtualenv tasks`, { fix: "give an ad-hoc spec with --requirement/--python instead" });
  return targets;
}
