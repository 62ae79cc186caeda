/** Issue #9.7: a password in a requirement or a misspelt option never comes back in clear text. */
import { describe, expect, it } from "vitest";
import { parseRequirementLine } from "../../src/env/requirements.ts";
import { VenvflowError, formatError } from "../../src/util/errors.ts";

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
