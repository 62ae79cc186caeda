import { describe, expect, it } from "vitest";
import { Version, canonicalizeVersion, compareVersions, tryParseVersion } from "../../../src/env/pep/index.ts";
import { VenvflowError } from "../../../src/util/errors.ts";
import { WEIRD_VERSIONS, generatedVersions } from "./corpus.ts";
import { type OracleError, askOracle, isOracleError, reportDisagreements } from "./oracle.ts";

interface VersionInfo {
  str: string;
  public: string;
  baseVersion: string;
  epoch: number;
  release: number[];
  pre: [string, number] | null;
  post: number | null;
  dev: number | null;
  local: string | null;
  isPrerelease: boolean;
  isPostrelease: boolean;
  isDevrelease: boolean;
  major: number;
  minor: number;
  micro: number;
  canonical: string;
  canonicalKeepZeros: string;
}

const VERSIONS = [...new Set([...WEIRD_VERSIONS, ...generatedVersions(450)])];
const oracle = askOracle<{ versions: (VersionInfo | OracleError)[]; ranks: Record<string, number> }>({
  versions: VERSIONS,
  ranks: VERSIONS,
});

function describeTs(text: string): VersionInfo | "invalid" {
  const v = tryParseVersion(text);
  if (v === null) return "invalid";
  return {
    str: v.toString(),
    public: v.public,
    baseVersion: v.baseVersion,
    epoch: v.epoch,
    release: v.release,
    pre: v.pre,
    post: v.post,
    dev: v.dev,
    local: v.local,
    isPrerelease: v.isPrerelease,
    isPostrelease: v.isPostrelease,
    isDevrelease: v.isDevrelease,
    major: v.major,
    minor: v.minor,
    micro: v.micro,
    canonical: canonicalizeVersion(v),
    canonicalKeepZeros: canonicalizeVersion(v, { stripTrailingZero: false }),
  };
}

describe.skipIf(!oracle)("Version (differential against packaging)", () => {
  it("uses packaging 26.2 as the oracle", () => {
    expect(oracle!.packagingVersion).toBe("26.2");
  });

  it("agrees on validity, normalized form and every property of each version", () => {
    const disagreements: string[] = [];
    VERSIONS.forEach((text, i) => {
      const expected = oracle!.versions[i];
      const actual = describeTs(text);
      const want = isOracleError(expected) ? "invalid" : expected;
      // Python ints are exact; compare the numeric fields the port exposes only where they are safe integers.
      const wantJson = JSON.stringify(want, (_k, v: unknown) => (typeof v === "number" && !Number.isSafeInteger(v) ? "big" : v));
      const gotJson = JSON.stringify(actual, (_k, v: unknown) => (typeof v === "number" && !Number.isSafeInteger(v) ? "big" : v));
      if (wantJson !== gotJson) disagreements.push(`${JSON.stringify(text)}: packaging ${wantJson} / port ${gotJson}`);
    });
    reportDisagreements("versions", disagreements, VERSIONS.length);
    // The corpus really exercises both outcomes.
    expect(oracle!.versions.filter(isOracleError).length).toBeGreaterThan(30);
    expect(oracle!.versions.filter((v) => !isOracleError(v)).length).toBeGreaterThan(400);
  });

  it("orders every pair of valid versions exactly as packaging", () => {
    const valid = Object.keys(oracle!.ranks);
    const parsed = valid.map((t) => new Version(t));
    const disagreements: string[] = [];
    let checked = 0;
    for (let i = 0; i < valid.length; i++) {
      for (let j = 0; j < valid.length; j++) {
        checked++;
        const want = Math.sign((oracle!.ranks[valid[i] as string] as number) - (oracle!.ranks[valid[j] as string] as number));
        const got = compareVersions(parsed[i] as Version, parsed[j] as Version);
        if (want !== got) disagreements.push(`${valid[i]} vs ${valid[j]}: packaging ${want}, port ${got}`);
      }
    }
    reportDisagreements("ordering", disagreements, checked);
    expect(checked).toBeGreaterThan(100_000);
  });

  it("sorts the corpus into packaging's order", () => {
    const valid = Object.keys(oracle!.ranks);
    const sorted = [...valid].sort((a, b) => compareVersions(new Version(a), new Version(b)));
    const ranks = sorted.map((t) => oracle!.ranks[t] as number);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  });
});

describe("Version API", () => {
  it("throws invalid_version with a fix for text that is not PEP 440", () => {
    let caught: unknown;
    try {
      new Version("1.0-foo");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(VenvflowError);
    expect((caught as VenvflowError).code).toBe("invalid_version");
    expect((caught as VenvflowError).message).toContain('"1.0-foo"');
    expect((caught as VenvflowError).fix).toMatch(/PEP 440/);
    expect(tryParseVersion("1.0-foo")).toBeNull();
  });

  it("returns invalid versions unaltered from canonicalizeVersion, as packaging does", () => {
    expect(canonicalizeVersion("foo bar baz")).toBe("foo bar baz");
    expect(canonicalizeVersion("1.4.0.0.0")).toBe("1.4");
    expect(canonicalizeVersion("1.4.0.0.0", { stripTrailingZero: false })).toBe("1.4.0.0.0");
  });

  it("keeps numbers beyond 2^53 exact when normalizing and comparing", () => {
    expect(new Version("1.000099999999999999999999").toString()).toBe("1.99999999999999999999");
    expect(new Version("1.99999999999999999999").compare(new Version("1.99999999999999999998"))).toBe(1);
  });

  it("builds and replaces parts like Version.from_parts / __replace__", () => {
    expect(Version.fromParts({ release: [0, 1, 0], pre: ["beta", 1] }).toString()).toBe("0.1.0b1");
    const v = new Version("1!1.2.3rc1.post2.dev3+abc");
    expect(v.replace({ pre: null, dev: null }).toString()).toBe("1!1.2.3.post2+abc");
    expect(v.replace({ local: null, epoch: 0 }).toString()).toBe("1.2.3rc1.post2.dev3");
    expect(() => Version.fromParts({ release: [] })).toThrow(/non-empty/);
    expect(() => Version.fromParts({ release: [1], pre: ["x", 1] })).toThrow(VenvflowError);
    expect(() => Version.fromParts({ release: [1], post: -1 })).toThrow(/non-negative/);
  });
});
