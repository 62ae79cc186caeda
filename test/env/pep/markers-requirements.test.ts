import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { MARKER_ENVIRONMENT_SCRIPT, Marker, type MarkerEnvironmentInput, Requirement } from "../../../src/env/pep/index.ts";
import { VenvflowError } from "../../../src/util/errors.ts";
import {
  MARKERS,
  MARKER_ENVIRONMENTS,
  type MarkerEnvCase,
  REQUIREMENTS,
  generatedMarkers,
  generatedRequirements,
} from "./corpus.ts";
import { type OracleError, askOracle, isOracleError, oraclePython, reportDisagreements } from "./oracle.ts";

interface MarkerInfo {
  str: string;
  evaluate: (boolean | OracleError)[];
}
interface RequirementInfo {
  str: string;
  name: string;
  url: string | null;
  extras: string[];
  specifier: string;
  marker: string | null;
}

const ALL_MARKERS = [...new Set([...MARKERS, ...generatedMarkers(250)])];
const ALL_REQUIREMENTS = [...new Set([...REQUIREMENTS, ...generatedRequirements(400)])];

const oracle = askOracle<{ markers: (MarkerInfo | OracleError)[]; requirements: (RequirementInfo | OracleError)[] }>({
  markers: ALL_MARKERS,
  environments: MARKER_ENVIRONMENTS,
  requirements: ALL_REQUIREMENTS,
});

/** packaging's exception classes and the VenvflowError codes the port uses for them. */
const ERROR_CODES: Record<string, string> = {
  InvalidMarker: "invalid_marker",
  InvalidRequirement: "invalid_requirement",
  InvalidSpecifier: "invalid_specifier",
  UndefinedComparison: "undefined_comparison",
  // packaging raises a bare KeyError for a variable missing from the environment.
  KeyError: "undefined_environment_name",
  // `extras == "x"` fails packaging's internal `assert isinstance(lhs, str)`.
  AssertionError: "undefined_comparison",
  // A quoted string that is not a Python literal escapes ast.literal_eval as SyntaxError.
  SyntaxError: "invalid_marker",
};

function codeOf(error: unknown): string {
  if (error instanceof VenvflowError) return error.code;
  throw error;
}

function toEnv(c: MarkerEnvCase): MarkerEnvironmentInput {
  const env: MarkerEnvironmentInput = {};
  for (const [k, v] of Object.entries(c.values)) env[k] = Array.isArray(v) ? new Set(v) : v;
  return env;
}

describe.skipIf(!oracle)("Marker (differential against packaging)", () => {
  it("agrees on validity, normalized str() and evaluation under every environment and context", () => {
    const disagreements: string[] = [];
    let checked = 0;
    ALL_MARKERS.forEach((text, i) => {
      const want = oracle!.markers[i] as MarkerInfo | OracleError;
      checked++;
      let marker: Marker;
      try {
        marker = new Marker(text);
      } catch (error) {
        const code = codeOf(error);
        if (!isOracleError(want)) disagreements.push(`${JSON.stringify(text)}: port rejects (${code}), packaging accepts`);
        else if (ERROR_CODES[want.error] !== code) disagreements.push(`${JSON.stringify(text)}: packaging ${want.error}, port ${code}`);
        else if (want.error === "InvalidMarker" && (error as VenvflowError).message !== want.message) {
          disagreements.push(`${JSON.stringify(text)}: message\n${want.message}\n---\n${(error as VenvflowError).message}`);
        }
        return;
      }
      if (isOracleError(want)) {
        disagreements.push(`${JSON.stringify(text)}: port accepts, packaging raises ${want.error}`);
        return;
      }
      if (marker.toString() !== want.str) disagreements.push(`${JSON.stringify(text)}: str packaging ${want.str} / port ${marker.toString()}`);
      MARKER_ENVIRONMENTS.forEach((envCase, j) => {
        checked++;
        const expected = want.evaluate[j] as boolean | OracleError;
        let got: boolean | string;
        try {
          got = marker.evaluate(toEnv(envCase), envCase.context);
        } catch (error) {
          got = codeOf(error);
        }
        const wantValue = isOracleError(expected) ? (ERROR_CODES[expected.error] ?? expected.error) : expected;
        if (wantValue !== got) disagreements.push(`${JSON.stringify(text)} in env #${j}: packaging ${JSON.stringify(expected)}, port ${got}`);
      });
    });
    reportDisagreements("markers", disagreements, checked);
    expect(checked).toBeGreaterThan(3_000);
  });
});

describe.skipIf(!oracle)("Requirement (differential against packaging)", () => {
  it("agrees on validity, parts, normalized str() and the exact error message with its caret", () => {
    const disagreements: string[] = [];
    ALL_REQUIREMENTS.forEach((text, i) => {
      const want = oracle!.requirements[i] as RequirementInfo | OracleError;
      let got: RequirementInfo | { error: string; message: string };
      try {
        const r = new Requirement(text);
        got = {
          str: r.toString(),
          name: r.name,
          url: r.url,
          extras: [...r.extras].sort(),
          specifier: r.specifier.toString(),
          marker: r.marker === null ? null : r.marker.toString(),
        };
      } catch (error) {
        got = { error: codeOf(error), message: (error as VenvflowError).message as string };
      }
      let wantNorm: RequirementInfo | OracleError = want;
      if (isOracleError(want)) {
        // InvalidSpecifier's wording is the port's own (JSON quoting, not repr); only the failure class must match.
        const message = want.error === "InvalidSpecifier" && "error" in got ? got.message : want.message;
        wantNorm = { error: ERROR_CODES[want.error] ?? want.error, message };
      }
      if (JSON.stringify(wantNorm) !== JSON.stringify(got)) {
        disagreements.push(`${JSON.stringify(text)}:\n    packaging ${JSON.stringify(wantNorm)}\n    port      ${JSON.stringify(got)}`);
      }
    });
    reportDisagreements("requirements", disagreements, ALL_REQUIREMENTS.length);
    expect(oracle!.requirements.filter(isOracleError).length).toBeGreaterThan(20);
  });
});

describe("Marker and Requirement API", () => {
  it("reports a bad requirement as invalid_requirement with column caret and a fix", () => {
    let caught: unknown;
    try {
      new Requirement("foo >= 1.0 bar");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(VenvflowError);
    const e = caught as VenvflowError;
    expect(e.code).toBe("invalid_requirement");
    expect(e.message).toContain("foo >= 1.0 bar\n        ~~~~~~~^");
    expect(e.fix).toMatch(/PEP 508/);
  });

  it("names a missing environment variable instead of guessing it", () => {
    expect(() => new Marker('platform_machine == "x86_64"').evaluate({ python_version: "3.12" })).toThrow(
      expect.objectContaining({ code: "undefined_environment_name" }),
    );
  });

  it("combines markers with and/or and keeps grouping in str()", () => {
    const m = new Marker('python_version >= "3.8"').and(new Marker('sys_platform == "linux" or extra == "x"'));
    expect(m.toString()).toBe('python_version >= "3.8" and (sys_platform == "linux" or extra == "x")');
    expect(m.evaluate({ python_version: "3.9", sys_platform: "win32", extra: "X" })).toBe(true);
    expect(new Marker('extra == "a"').or(new Marker('extra == "b"')).evaluate({ extra: "c" })).toBe(false);
  });

  it("compares requirements as packaging does (canonical name, same parts)", () => {
    expect(new Requirement("Foo.Bar[x]>=1.0").equals(new Requirement("foo-bar[x] >= 1.0.0"))).toBe(true);
    expect(new Requirement("foo[x]>=1.0").equals(new Requirement("foo>=1.0"))).toBe(false);
  });

  it.skipIf(!oraclePython)("MARKER_ENVIRONMENT_SCRIPT prints packaging's default_environment() for a real interpreter", () => {
    const python = oraclePython!;
    const ours = spawnSync(python, ["-I", "-c", MARKER_ENVIRONMENT_SCRIPT], { encoding: "utf8" });
    const theirs = spawnSync(
      python,
      ["-I", "-c", "import json; from packaging.markers import default_environment as d; print(json.dumps(d()))"],
      { encoding: "utf8" },
    );
    expect(ours.status).toBe(0);
    expect(JSON.parse(ours.stdout)).toEqual(JSON.parse(theirs.stdout));
  });
});
