/**
 * The suite's shared package set, served by the run-wide index from global setup. Other test files rely on these
 * exact names, versions and behaviours: change them only together with their users.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { WheelSpec } from "./wheels.ts";

function alpha(version: string, withScript: boolean): WheelSpec {
  const main = withScript ? `\n\ndef main():\n    print(__version__)\n` : "";
  return {
    name: "vf-alpha",
    version,
    importName: "vf_alpha",
    files: {
      "vf_alpha/__init__.py": `__version__ = "${version}"\n\n\ndef add(a, b):\n    return a + b\n${main}`,
    },
    ...(withScript ? { consoleScripts: { "vf-alpha": "vf_alpha:main" } } : {}),
  };
}

export const STANDARD_WHEELS: WheelSpec[] = [
  alpha("1.0.0", false),
  alpha("1.1.0", true),
  alpha("2.0.0", true),
  {
    name: "vf-beta",
    version: "1.0.0",
    providesExtra: ["fast"],
    requiresDist: ["vf-alpha>=1.1,<2", 'vf-gamma; extra == "fast"', 'vf-delta; python_version < "3.0"'],
  },
  { name: "vf-gamma", version: "0.5.0" },
  // Only reachable through a marker that is never true on Python 3.
  { name: "vf-delta", version: "1.0.0" },
  // No wheel fits Linux: installs must fail with pip's "No matching distribution".
  { name: "vf-native", version: "1.0.0", tag: "cp39-cp39-win_amd64" },
  // Distribution name differs from import name.
  { name: "vf-yamlish", version: "1.0.0", importName: "yamlish" },
  { name: "vf-conflict-a", version: "1.0.0", requiresDist: ["vf-alpha==1.0.0"] },
  { name: "vf-conflict-b", version: "1.0.0", requiresDist: ["vf-alpha==2.0.0"] },
  // Pure Python inside, but tagged so only CPython 3.11 on x86_64 Linux accepts it.
  { name: "vf-py311only", version: "1.0.0", tag: "cp311-cp311-manylinux_2_17_x86_64" },
  { name: "vf-pre", version: "1.0.0" },
  // pip skips prereleases unless asked (`--pre` or a specifier naming one).
  { name: "vf-pre", version: "2.0.0b1" },
];

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "wheels");

/** Real third-party wheels (see test/fixtures/wheels/README.md). dill 0.4.1 needs Python >= 3.9. */
export const VENDORED_WHEELS: string[] = [
  join(FIXTURES, "cloudpickle-3.1.2-py3-none-any.whl"),
  join(FIXTURES, "dill-0.4.1-py3-none-any.whl"),
  join(FIXTURES, "tabulate-0.8.10-py3-none-any.whl"),
  join(FIXTURES, "tabulate-0.10.0-py3-none-any.whl"),
];
