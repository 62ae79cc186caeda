import { describe, expect, it } from "vitest";
import { Specifier, SpecifierSet, Version, trySpecifier } from "../../../src/env/pep/index.ts";
import { VenvflowError } from "../../../src/util/errors.ts";
import { CONTAINS_ITEMS, FILTER_CASES, SPECIFIERS, SPECIFIER_SETS, generatedSpecifiers } from "./corpus.ts";
import { type OracleError, askOracle, isOracleError, reportDisagreements } from "./oracle.ts";

type Rows = Record<string, string>;
interface SpecInfo {
  str: string;
  prereleases: boolean | null;
  contains: Rows;
  operator?: string;
  version?: string;
  len?: number;
  unsatisfiable?: boolean[];
}

const ALL_SPECIFIERS = [...new Set([...SPECIFIERS, ...generatedSpecifiers(250)])];
const oracle = askOracle<{
  specifiers: (SpecInfo | OracleError)[];
  specifierSets: (SpecInfo | OracleError)[];
  filters: ({ result: string[] } | OracleError)[];
}>({ specifiers: ALL_SPECIFIERS, specifierSets: SPECIFIER_SETS, items: CONTAINS_ITEMS, filters: FILTER_CASES });

const MODES: Record<string, boolean | null> = { none: null, true: true, false: false };

function row(test: (item: string) => boolean): string {
  return CONTAINS_ITEMS.map((item) => {
    try {
      return test(item) ? "1" : "0";
    } catch {
      return "E";
    }
  }).join("");
}

/** Lists each (specifier, item, mode) whose answer differs. */
function diffRows(label: string, want: Rows, got: Rows, out: string[]): number {
  let checked = 0;
  for (const mode of Object.keys(want)) {
    const w = want[mode] as string;
    const g = got[mode] ?? "";
    for (let i = 0; i < w.length; i++) {
      checked++;
      if (w[i] !== g[i]) out.push(`${label} contains ${JSON.stringify(CONTAINS_ITEMS[i])} prereleases=${mode}: packaging ${w[i]}, port ${g[i]}`);
    }
  }
  return checked;
}

describe.skipIf(!oracle)("Specifier (differential against packaging)", () => {
  it("agrees on validity, parts, normalized form, prereleases and contains() in all three modes", () => {
    const disagreements: string[] = [];
    let checked = 0;
    ALL_SPECIFIERS.forEach((text, i) => {
      const want = oracle!.specifiers[i] as SpecInfo | OracleError;
      const spec = trySpecifier(text);
      checked++;
      if (isOracleError(want) || spec === null) {
        if (isOracleError(want) !== (spec === null)) disagreements.push(`${JSON.stringify(text)}: valid in ${spec ? "port" : "packaging"} only`);
        return;
      }
      const got = { str: spec.toString(), prereleases: spec.prereleases, operator: spec.operator, version: spec.version };
      const wantParts = { str: want.str, prereleases: want.prereleases, operator: want.operator, version: want.version };
      if (JSON.stringify(got) !== JSON.stringify(wantParts)) {
        disagreements.push(`${JSON.stringify(text)}: packaging ${JSON.stringify(wantParts)} / port ${JSON.stringify(got)}`);
      }
      const rows: Rows = {};
      for (const [mode, prereleases] of Object.entries(MODES)) rows[mode] = row((item) => spec.contains(item, { prereleases }));
      checked += diffRows(JSON.stringify(text), want.contains, rows, disagreements);
    });
    reportDisagreements("specifiers", disagreements, checked);
    expect(checked).toBeGreaterThan(25_000);
  });
});

describe.skipIf(!oracle)("SpecifierSet (differential against packaging)", () => {
  it("agrees on validity, normalized form, length, prereleases, isUnsatisfiable() and contains() incl. installed=True", () => {
    const disagreements: string[] = [];
    let checked = 0;
    SPECIFIER_SETS.forEach((text, i) => {
      const want = oracle!.specifierSets[i] as SpecInfo | OracleError;
      let set: SpecifierSet | null = null;
      try {
        set = new SpecifierSet(text);
      } catch (error) {
        if (!(error instanceof VenvflowError && error.code === "invalid_specifier")) throw error;
      }
      checked++;
      if (isOracleError(want) || set === null) {
        if (isOracleError(want) !== (set === null)) disagreements.push(`${JSON.stringify(text)}: valid in ${set ? "port" : "packaging"} only`);
        return;
      }
      const s = set;
      const rows: Rows = {};
      for (const [mode, prereleases] of Object.entries(MODES)) rows[mode] = row((item) => s.contains(item, { prereleases }));
      rows["installed"] = row((item) => s.contains(item, { installed: true }));
      // str() canonicalizes (sorts and de-duplicates) the set, so it is read after contains(), as the oracle does.
      const unsatisfiable = [null, false, true].map((p) => new SpecifierSet(text, p).isUnsatisfiable());
      const got = { str: s.toString(), prereleases: s.prereleases, len: s.size, unsatisfiable };
      const wantParts = { str: want.str, prereleases: want.prereleases, len: want.len, unsatisfiable: want.unsatisfiable };
      if (JSON.stringify(got) !== JSON.stringify(wantParts)) {
        disagreements.push(`${JSON.stringify(text)}: packaging ${JSON.stringify(wantParts)} / port ${JSON.stringify(got)}`);
      }
      checked += diffRows(JSON.stringify(text), want.contains, rows, disagreements);
    });
    reportDisagreements("specifier sets", disagreements, checked);
    expect(checked).toBeGreaterThan(5_000);
  });

  it("filters lists exactly as packaging (order, pre-release fallback, arbitrary strings)", () => {
    const disagreements: string[] = [];
    FILTER_CASES.forEach((c, i) => {
      const want = oracle!.filters[i] as { result: string[] } | OracleError;
      const got = new SpecifierSet(c.spec, c.setPrereleases ?? null).filter(c.items, { prereleases: c.prereleases ?? null });
      if (isOracleError(want) || JSON.stringify(want.result) !== JSON.stringify(got)) {
        disagreements.push(`${JSON.stringify(c)}: packaging ${JSON.stringify(want)} / port ${JSON.stringify(got)}`);
      }
    });
    reportDisagreements("filter", disagreements, FILTER_CASES.length);
  });
});

describe("Specifier API", () => {
  it("throws invalid_specifier naming the text, with a fix", () => {
    let caught: unknown;
    try {
      new Specifier(">=1.0+local");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(VenvflowError);
    expect((caught as VenvflowError).code).toBe("invalid_specifier");
    expect((caught as VenvflowError).message).toContain('">=1.0+local"');
    expect((caught as VenvflowError).fix).toBeTruthy();
    expect(() => new SpecifierSet(">=1.0,bogus")).toThrow(/Invalid specifier: "bogus"/);
  });

  it("compares canonically, ignoring trailing zeros except for ~=", () => {
    expect(new Specifier("==1.2.3").equals("== 1.2.3.0")).toBe(true);
    expect(new Specifier("~=1.2").equals("~=1.2.0")).toBe(false);
    expect(new Specifier("==1.2.3").equals("~=1.2.3")).toBe(false);
    expect(new SpecifierSet(">=1.0.0,!=1.0.1").equals("!=1.0.1,>=1.0")).toBe(true);
  });

  it("intersects sets and refuses contradictory pre-release overrides", () => {
    expect(new SpecifierSet(">=1.0.0,!=1.0.1").and("<=2.0.0,!=2.0.1").toString()).toBe("!=1.0.1,!=2.0.1,<=2.0.0,>=1.0.0");
    expect(() => new SpecifierSet(">=1", true).and(new SpecifierSet("<2", false))).toThrow(/Cannot combine/);
    expect(new SpecifierSet(">=1", true).and("<2").contains("1.5a1", { prereleases: null })).toBe(true);
  });

  it("filters arbitrary objects through a key and accepts Version items", () => {
    const items = [{ v: "1.2" }, { v: "1.3" }, { v: "2.0a1" }];
    expect(new SpecifierSet(">=1.2.3").filter(items, { key: (i) => i.v })).toEqual([{ v: "1.3" }]);
    const v = new Version("1.4");
    expect(new Specifier(">=1.2.3").filter([v, "1.0"])).toEqual([v]);
    expect([...new SpecifierSet(">=1,<2")].map((s) => s.operator)).toEqual([">=", "<"]);
  });
});
