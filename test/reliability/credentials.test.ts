/** Issue #9.7: a password in a requirement or a misspelt option never comes back in clear text. */
import { describe, expect, it } from "vitest";
import { parseRequirementLine } from "../../src/env/requirements.ts";
import { VenvflowError, formatError } from "../../src/util/errors.ts";
import { runCli } from "../support/cli.ts";

function failure(text: string): string {
  try {
    parseRequirementLine(text, "requirements[0]");
  } catch (error) {
    if (error instanceof VenvflowError) return `${formatError(error)}\n${JSON.stringify(error.toJSON())}`;
    throw error;
  }
  throw new Error(`"${text}" was accepted`);
}

describe("credentials in rejected requirement lines", () => {
  it.each([
    ["an editable VCS requirement", "-e git+https://deploy:S3cretPW@git.example.com/team/repo.git#egg=repo"],
    ["a misspelt index option", "--index https://deploy:S3cretPW@pypi.example.com/simple"],
    ["a token-only URL in an unknown option", "--indx https://S3cretPW@pypi.example.com/simple"],
  ])("%s is rejected with the password masked", (_what, line) => {
    const shown = failure(line);
    expect(shown).not.toContain("S3cretPW");
    expect(shown).toContain("***@");
  });
});

describe("credentials in an argument the CLI echoes in an error", () => {
  it.each([
    ["a URL given where a DAG file was expected (path.resolve leaves one slash)", "git+https://deploy:S3cretPW@git.example.com/r.git", "no DAG file or folder"],
    ["an argument commander takes for an unknown option", "-e git+https://deploy:S3cretPW@git.example.com/r.git", "unknown option"],
  ])("%s is masked, with a fix", async (_what, arg, said) => {
    const r = await runCli(["env", "build", "--python", "3.11", arg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(said);
    expect(r.stderr).toContain("deploy:***@");
    expect(r.stderr).toContain("fix: ");
    expect(r.stderr + r.stdout).not.toContain("S3cretPW");
  });
});
