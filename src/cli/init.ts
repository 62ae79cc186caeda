/** `venvflow init [DIR]`: a DAG project outside this repository, ready for `npm install` and `venvflow run`. */
import type { Command } from "@commander-js/extra-typings";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { VenvflowError } from "../util/errors.ts";
import { action, printJson } from "./common.ts";

const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * What the project depends on: a checkout of venvflow (not published to a registry) is referred to by its path,
 * an installed venvflow by its version.
 */
function defaultDependency(version: string): string {
  const isCheckout = existsSync(path.join(PACKAGE_ROOT, "src", "cli", "main.ts")) && existsSync(path.join(PACKAGE_ROOT, ".git"));
  return isCheckout ? `file:${PACKAGE_ROOT.replace(/\/$/, "")}` : `^${version}`;
}

function projectFiles(name: string, dependency: string): Record<string, string> {
  const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
  return {
    "package.json": json({
      name,
      private: true,
      type: "module",
      scripts: { typecheck: "tsc --noEmit", dags: "venvflow dags list dags", run: "venvflow run" },
      dependencies: { venvflow: dependency },
      devDependencies: { typescript: "^6.0.3" },
      engines: { node: ">=22.12" },
    }),
    "tsconfig.json": json({
      compilerOptions: { target: "ES2023", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true },
      include: ["dags"],
    }),
    ".gitignore": "node_modules/\n",
    "README.md": `# ${name}\n\nDAGs live in \`dags/\` (a \`.ts\` file and the \`.py\` files its tasks call, paths relative to the DAG file).\nRun one with \`npx venvflow run dags/hello.ts\`; check them with \`npx venvflow doctor dags\` and \`npm run typecheck\`.\n`,
    "dags/hello.ts": `import { dag, task } from "venvflow";

// greet runs in its own cached Python environment (add packages to requirements); shout runs here, in TypeScript.
dag("hello", { schedule: null }, () => {
  const greet = task.virtualenv<[string], string>({ requirements: [] }, "hello.py:greet");
  const shout = task(function shout(text: string) {
    return text.toUpperCase();
  });
  shout(greet("world"));
});
`,
    "dags/hello.py": `import platform


def greet(name):
    return f"Hello, {name}, from Python {platform.python_version()}!"
`,
  };
}

export function registerInitCommand(program: Command): void {
  program
    .command("init")
    .description("Create a DAG project: package.json (ESM, venvflow as a dependency), tsconfig.json, dags/hello.ts and its Python callable")
    .argument("[dir]", "the project folder (created if missing; must not hold these files yet)", ".")
    .option("--name <name>", "package name (default: the folder's name)")
    .option("--venvflow <spec>", "the venvflow dependency (default: this checkout's path, or ^VERSION when venvflow is installed)")
    .option("--json", "print { dir, files, next } as JSON", false)
    .action(
      action(async (dir, opts) => {
        const root = path.resolve(dir);
        const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string };
        const name = opts.name ?? (path.basename(root).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "") || "dags");
        const files = projectFiles(name, opts.venvflow ?? defaultDependency(pkg.version));
        const present = Object.keys(files).filter((file) => existsSync(path.join(root, file)));
        if (present.length > 0) {
          throw new VenvflowError("init_target_not_empty", `${root} already has ${present.join(", ")}`, { fix: "choose a new folder (venvflow init my-dags), or move those files away" });
        }
        for (const [file, content] of Object.entries(files)) {
          await mkdir(path.dirname(path.join(root, file)), { recursive: true });
          await writeFile(path.join(root, file), content, { flag: "wx" });
        }
        const rel = path.relative(process.cwd(), root) || ".";
        const next = [...(rel === "." ? [] : [`cd ${rel}`]), "npm install", "npx venvflow run dags/hello.ts"];
        if (opts.json) return printJson({ dir: root, files: Object.keys(files), next });
        process.stdout.write(`created ${Object.keys(files).join(", ")} in ${root}\nnext:\n${next.map((c) => `  ${c}`).join("\n")}\n`);
      }),
    );
}
