import { describe, expect, it } from "vitest";
import {
  type CpythonBuild,
  canonicalizeName,
  compatibleTags,
  cpythonAbis,
  cpythonTags,
  isNormalizedName,
  linuxPlatforms,
  parseSdistFilename,
  parseTag,
  parseWheelFilename,
  selectCompatible,
  supportedTags,
} from "../../../src/env/pep/index.ts";
import { VenvflowError } from "../../../src/util/errors.ts";
import { NAMES, SDISTS, WHEELS } from "./corpus.ts";
import { type OracleError, askOracle, isOracleError, reportDisagreements } from "./oracle.ts";

interface TagCase {
  implementation: string;
  pythonVersion: number[];
  build?: CpythonBuild;
  abis?: string[];
  linux?: { arch: string; glibc: [number, number] | null; musl: [number, number] | null };
  platforms?: string[];
}

const TAG_CASES: TagCase[] = [
  { implementation: "cpython", pythonVersion: [3, 12], build: {}, linux: { arch: "x86_64", glibc: [2, 17], musl: null } },
  { implementation: "cpython", pythonVersion: [3, 11], build: {}, linux: { arch: "x86_64", glibc: [2, 36], musl: null } },
  { implementation: "cpython", pythonVersion: [3, 9], build: {}, linux: { arch: "aarch64", glibc: [2, 28], musl: null } },
  { implementation: "cpython", pythonVersion: [3, 12], build: {}, linux: { arch: "x86_64", glibc: null, musl: [1, 2] } },
  { implementation: "cpython", pythonVersion: [3, 10], build: {}, linux: { arch: "armv8l", glibc: [2, 31], musl: null } },
  { implementation: "cpython", pythonVersion: [3, 8], build: {}, linux: { arch: "i686", glibc: [2, 12], musl: null } },
  { implementation: "cpython", pythonVersion: [3, 13], build: { freeThreaded: true }, linux: { arch: "x86_64", glibc: [2, 39], musl: null } },
  { implementation: "cpython", pythonVersion: [3, 12], build: { debug: true }, platforms: ["win_amd64"] },
  { implementation: "cpython", pythonVersion: [3, 7], build: {}, platforms: ["macosx_11_0_arm64", "macosx_10_9_universal2"] },
  { implementation: "cpython", pythonVersion: [3, 6], build: { pymalloc: false }, platforms: ["linux_x86_64"] },
  { implementation: "cpython", pythonVersion: [2, 7], build: {}, platforms: ["linux_x86_64"] },
  { implementation: "cpython", pythonVersion: [2, 7], build: { ucs4: false, debug: true }, platforms: ["win32"] },
  { implementation: "cpython", pythonVersion: [3, 11], abis: ["cp311", "abi3", "none", "abi3"], platforms: ["any"] },
  { implementation: "pypy", pythonVersion: [3, 10], abis: ["pypy310_pp73"], linux: { arch: "x86_64", glibc: [2, 28], musl: null } },
  { implementation: "graalpy", pythonVersion: [3, 11], abis: ["graalpy311_graalpy242_311_native"], platforms: ["linux_x86_64"] },
];

const oracle = askOracle<{
  tags: { platforms: string[]; abis?: string[]; tags: string[] }[];
  names: { canonical: string; isNormalized: boolean }[];
  wheels: ({ name: string; version: string; build: (number | string)[]; tags: string[] } | OracleError)[];
  sdists: ({ name: string; version: string } | OracleError)[];
}>({ tags: TAG_CASES, names: NAMES, wheels: WHEELS, sdists: SDISTS });

describe.skipIf(!oracle)("tags (differential against packaging.tags)", () => {
  it("computes the same ABIs, platforms and supported-tag order as cpython_tags/generic_tags + compatible_tags", () => {
    const disagreements: string[] = [];
    TAG_CASES.forEach((c, i) => {
      const want = oracle!.tags[i] as { platforms: string[]; abis?: string[]; tags: string[] };
      const platforms = c.linux ? linuxPlatforms(c.linux) : (c.platforms as string[]);
      const abis = c.build ? cpythonAbis(c.pythonVersion, c.build) : (c.abis as string[]);
      const [major = 3, minor = 0] = c.pythonVersion;
      const got = supportedTags({ implementation: c.implementation, major, minor, abis, platforms }).map(String);
      const label = JSON.stringify(c);
      if (JSON.stringify(platforms) !== JSON.stringify(want.platforms)) disagreements.push(`${label}: platforms differ`);
      if (want.abis && JSON.stringify(abis) !== JSON.stringify(want.abis)) {
        disagreements.push(`${label}: abis packaging ${JSON.stringify(want.abis)} / port ${JSON.stringify(abis)}`);
      }
      if (JSON.stringify(got) !== JSON.stringify(want.tags)) {
        const at = got.findIndex((t, k) => t !== want.tags[k]);
        disagreements.push(`${label}: ${got.length} vs ${want.tags.length} tags, first difference at #${at}: port ${got[at]}, packaging ${want.tags[at]}`);
      }
    });
    reportDisagreements("tags", disagreements, TAG_CASES.length);
    // The manylinux expansion is real: glibc 2.17 on x86_64 covers manylinux_2_17 down to manylinux_2_5 and the aliases.
    expect(oracle!.tags[0]?.platforms).toContain("manylinux2014_x86_64");
    expect(oracle!.tags[0]?.platforms).toContain("manylinux1_x86_64");
  });

  it("handles a major-only Python version like cpython_tags((3,), ...)", () => {
    const tags = [...cpythonTags([3], ["cp3x"], ["any"]), ...compatibleTags([3], "cp3", ["any"])].map(String);
    expect(tags).toEqual(["cp3-cp3x-any", "cp3-none-any", "py3-none-any", "cp3-none-any", "py3-none-any"]);
  });

  it("expands compressed tag sets and enforces PEP 425 order only when asked", () => {
    expect(parseTag("py2.py3-none-any").map(String)).toEqual(["py2-none-any", "py3-none-any"]);
    expect(parseTag("CP312-CP312-Manylinux_2_17_x86_64.manylinux2014_x86_64").map(String)).toEqual([
      "cp312-cp312-manylinux_2_17_x86_64",
      "cp312-cp312-manylinux2014_x86_64",
    ]);
    expect(parseTag("py3.py2-none-any")).toHaveLength(2);
    expect(() => parseTag("py3.py2-none-any", { validateOrder: true })).toThrow(expect.objectContaining({ code: "unsorted_tags" }));
    expect(() => parseWheelFilename("foo-1.0-py3.py2-none-any.whl", { validateOrder: true })).toThrow(
      expect.objectContaining({ code: "invalid_wheel_filename" }),
    );
    expect(() => parseTag("py3-none")).toThrow(expect.objectContaining({ code: "invalid_tag" }));
  });

  it("picks the best wheel for an interpreter and drops incompatible ones", () => {
    const supported = supportedTags({
      implementation: "cpython",
      major: 3,
      minor: 12,
      platforms: linuxPlatforms({ arch: "x86_64", glibc: [2, 31], musl: null }),
    });
    const files = [
      "foo-1.0-py3-none-any.whl",
      "foo-1.0-cp39-abi3-manylinux2014_x86_64.whl",
      "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
      "foo-1.0-cp312-cp312-win_amd64.whl",
      "foo-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
      "foo-1.0-cp312-cp312-musllinux_1_1_x86_64.whl",
    ];
    const chosen = selectCompatible(
      supported,
      files.map((f) => [f, parseWheelFilename(f).tags] as const),
    );
    expect(chosen).toEqual([
      "foo-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
      "foo-1.0-cp39-abi3-manylinux2014_x86_64.whl",
      "foo-1.0-py3-none-any.whl",
    ]);
  });
});

describe.skipIf(!oracle)("names and filenames (differential against packaging.utils)", () => {
  it("canonicalizes and checks names as packaging does", () => {
    const got = NAMES.map((n) => ({ canonical: canonicalizeName(n), isNormalized: isNormalizedName(n) }));
    const disagreements = NAMES.flatMap((n, i) =>
      JSON.stringify(got[i]) === JSON.stringify(oracle!.names[i]) ? [] : [`${JSON.stringify(n)}: packaging ${JSON.stringify(oracle!.names[i])} / port ${JSON.stringify(got[i])}`],
    );
    reportDisagreements("names", disagreements, NAMES.length);
  });

  it("parses wheel and sdist filenames (or rejects them) as packaging does", () => {
    const disagreements: string[] = [];
    WHEELS.forEach((f, i) => {
      const want = oracle!.wheels[i];
      let got: unknown;
      try {
        const w = parseWheelFilename(f);
        got = { name: w.name, version: w.version.toString(), build: [...w.build], tags: w.tags.map(String).sort() };
      } catch (error) {
        if (!(error instanceof VenvflowError)) throw error;
        got = error.code;
      }
      const wantNorm = isOracleError(want) ? (want.error === "InvalidWheelFilename" ? "invalid_wheel_filename" : want.error) : want;
      if (JSON.stringify(wantNorm) !== JSON.stringify(got)) disagreements.push(`${f}: packaging ${JSON.stringify(want)} / port ${JSON.stringify(got)}`);
    });
    SDISTS.forEach((f, i) => {
      const want = oracle!.sdists[i];
      let got: unknown;
      try {
        const s = parseSdistFilename(f);
        got = { name: s.name, version: s.version.toString() };
      } catch (error) {
        if (!(error instanceof VenvflowError)) throw error;
        got = error.code;
      }
      const wantNorm = isOracleError(want) ? (want.error === "InvalidSdistFilename" ? "invalid_sdist_filename" : want.error) : want;
      if (JSON.stringify(wantNorm) !== JSON.stringify(got)) disagreements.push(`${f}: packaging ${JSON.stringify(want)} / port ${JSON.stringify(got)}`);
    });
    reportDisagreements("filenames", disagreements, WHEELS.length + SDISTS.length);
  });

  it("validates distribution names on request", () => {
    expect(canonicalizeName("Foo__Bar", { validate: true })).toBe("foo-bar");
    expect(() => canonicalizeName("-foo", { validate: true })).toThrow(expect.objectContaining({ code: "invalid_name" }));
  });
});
