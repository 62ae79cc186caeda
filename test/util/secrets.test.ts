import { describe, expect, it } from "vitest";
import { Redactor, redactUrl } from "../../src/util/secrets.ts";

describe("redactUrl", () => {
  it("masks credentials of every URL anywhere in the text, not only at its start", () => {
    expect(redactUrl("-e git+https://user:PW123@git.example.com/repo.git#egg=x")).toBe("-e git+https://user:***@git.example.com/repo.git#egg=x");
    expect(redactUrl('Unknown option "--index https://u:PW123@a.example/simple" and https://TOKEN999@b.example/simple')).toBe(
      'Unknown option "--index https://u:***@a.example/simple" and https://***@b.example/simple',
    );
  });

  it("leaves URLs without credentials, and @ after the authority, alone", () => {
    const plain = "see https://host.example/simple/?mail=a@b.example and file:///opt/pypi/simple";
    expect(redactUrl(plain)).toBe(plain);
  });
});

describe("Redactor", () => {
  it("masks token-only userinfo and registered secrets, raw and percent-encoded", () => {
    const redactor = new Redactor(["hunter2/x"]);
    expect(redactor.redact("pip said: https://TOKEN123@idx.example/simple failed; value hunter2/x or hunter2%2Fx")).toBe(
      "pip said: https://***@idx.example/simple failed; value *** or ***",
    );
  });

  it("masks every string and key of a JSON value, secrets with JSON escapes included, and leaves the rest", () => {
    const redactor = new Redactor(['pa"ss\\word']);
    const value = { ['pa"ss\\word']: ['x pa"ss\\word y', 3, null, true, { url: "https://u:pw@h/simple" }], n: 1.5 };
    expect(redactor.redactValue(value)).toEqual({ "***": ["x *** y", 3, null, true, { url: "https://u:***@h/simple" }], n: 1.5 });
    expect(Object.keys(value)).toContain(`pa"ss\\word`);
    expect(redactor.redactValue(undefined)).toBeUndefined();
  });
});
