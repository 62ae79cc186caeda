import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRequirements } from "../../src/env/requirements.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "venvflow-req-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("requirements", () => {
  it("reads a file with comments, continuations, options and -r/-c nesting", async () => {
    await mkdir(path.join(dir, "sub"), { recursive: true });
    await writeFile(
      path.join(dir, "requirements.txt"),
      [
        "# the main file",
        "Vf_Alpha >= 1.0 , <2   # inline comment",
        "vf-beta[fast] \\",
        "  ==1.0.0",
        "-r sub/more.txt",
        "--constraint constraints.txt",
        "--index-url https://user:s3cret@example.com/simple",
        "--extra-index-url https://extra.example.com/simple",
        "--pre",
        "--only-binary :all:",
        "",
      ].join("\n"),
    );
    await writeFile(path.join(dir, "sub", "more.txt"), "vf-gamma ; python_version >= '3'\n");
    await writeFile(path.join(dir, "constraints.txt"), "vf-delta<2\n");
    const parsed = await parseRequirements("requirements.txt", undefined, dir);
    expect(parsed.requirements.map((r) => r.canonical)).toEqual(["vf-alpha<2,>=1.0", "vf-beta[fast]==1.0.0", 'vf-gamma; python_version >= "3"']);
    expect(parsed.requirements.map((r) => r.origin)).toEqual([
      `${path.join(dir, "requirements.txt")}:2`,
      `${path.join(dir, "requirements.txt")}:3`,
      `${path.join(dir, "sub", "more.txt")}:1`,
    ]);
    expect(parsed.constraints.map((r) => r.canonical)).toEqual(["vf-delta<2"]);
    expect(parsed.indexUrl).toBe("https://user:s3cret@example.com/simple");
    expect(parsed.extraIndexUrls).toEqual(["https://extra.example.com/simple"]);
    expect(parsed.installOptions).toEqual(["--pre", "--only-binary", ":all:"]);
    expect(parsed.files).toHaveLength(3);
  });

  it("accepts a list whose entries may hold several lines", async () => {
    const parsed = await parseRequirements(["vf-alpha==1.1.0", "vf-beta\n# comment\nvf-gamma>0.1"], undefined, dir);
    expect(parsed.requirements.map((r) => r.name)).toEqual(["vf-alpha", "vf-beta", "vf-gamma"]);
    expect(parsed.requirements[0]!.pins).toEqual(["1.1.0"]);
  });

  it.each([
    [["vf-alpha=>1"], "invalid_requirement", /Invalid requirement at requirements\[0\]: "vf-alpha=>1"/],
    [["vf alpha"], "invalid_requirement", /Invalid requirement/],
    [["-e ./pkg"], "invalid_requirement", /Editable requirement/],
    [["--frobnicate"], "invalid_requirement", /Unknown option at requirements\[0\]/],
    [["vf-alpha==1.0.0", "VF_ALPHA==2.0.0"], "conflicting_requirements", /Conflicting pins for vf-alpha: "vf-alpha==1.0.0" \(requirements\[0\]\) and "VF_ALPHA==2.0.0" \(requirements\[1\]\)/],
    ["missing.txt", "requirements_file_not_found", /Requirements file not found: .*missing\.txt/],
  ])("rejects %j with %s", async (input, code, message) => {
    const error = await parseRequirements(input as string[] | string, undefined, dir).catch((e: unknown) => e);
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toMatch(message);
    expect((error as { fix?: string }).fix).toBeTruthy();
  });

  it("names the including file when a nested file is missing, and detects include cycles", async () => {
    await writeFile(path.join(dir, "a.txt"), "-r b.txt\n");
    await writeFile(path.join(dir, "b.txt"), "-r a.txt\n");
    await writeFile(path.join(dir, "c.txt"), "-r gone.txt\n");
    await expect(parseRequirements("a.txt", undefined, dir)).rejects.toMatchObject({ code: "requirements_cycle" });
    await expect(parseRequirements("c.txt", undefined, dir)).rejects.toThrow(/gone\.txt \(included from .*c\.txt\)/);
  });

  it("accepts --hash options as pip does (pip-compile --generate-hashes output) and rejects malformed ones", async () => {
    const sha = "a".repeat(64);
    const file = path.join(dir, "hashed.txt");
    await writeFile(file, `--require-hashes\nVf_Alpha==1.0.0 \\\n    --hash=sha256:${sha} \\\n    --hash=sha256:${"b".repeat(64)}\n`);
    const parsed = await parseRequirements(file, undefined, dir);
    expect(parsed.installOptions).toEqual(["--require-hashes"]);
    expect(parsed.requirements[0]).toMatchObject({ name: "vf-alpha", pins: ["1.0.0"], hashes: [`sha256:${sha}`, `sha256:${"b".repeat(64)}`] });
    expect(parsed.requirements[0]?.canonical).toBe(`vf-alpha==1.0.0 --hash=sha256:${sha} --hash=sha256:${"b".repeat(64)}`);
    await expect(parseRequirements([`vf-alpha==1.0.0 --hash=sha256:${sha.slice(1)}`], undefined, dir)).rejects.toThrow(/malformed option "--hash=sha256:a{63}" after the requirement at requirements\[0\]/);
    await expect(parseRequirements(["vf-alpha==1.0.0 --hash=md5:0123"], undefined, dir)).rejects.toMatchObject({ code: "invalid_requirement" });
    await expect(parseRequirements(["vf-alpha==1.0.0 --global-option=x"], undefined, dir)).rejects.toThrow(/Unsupported or malformed option "--global-option=x"/);
  });

  it("never puts a credential in an error message", async () => {
    const error = await parseRequirements(["pkg @ https://user:hunter2@example.com/pkg.whl ; ="], undefined, dir).catch((e: unknown) => e);
    expect((error as Error).message).not.toContain("hunter2");
  });
});
