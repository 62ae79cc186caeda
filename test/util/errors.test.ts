import { describe, expect, it } from "vitest";
import { ERROR_CODES, VenvflowError, formatError, isErrorCode } from "../../src/util/errors.ts";

describe("VenvflowError", () => {
  it("keeps the fix out of the message; only formatError joins them", () => {
    const error = new VenvflowError("invalid_size", '"x" is not a size', { fix: 'use e.g. "500M"' });
    expect(error.message).toBe('"x" is not a size');
    expect(error.fix).toBe('use e.g. "500M"');
    expect(formatError(error)).toBe('"x" is not a size\n  fix: use e.g. "500M"');
    expect(formatError(new VenvflowError("invalid_size", "bare"))).toBe("bare");
    expect(error.toJSON()).toEqual({ code: "invalid_size", message: '"x" is not a size', fix: 'use e.g. "500M"', details: {} });
  });

  it("is recognised across two copies of the module, and nothing else passes for it", async () => {
    // A query string makes the module loader evaluate the file a second time: a second module instance.
    const secondCopy = "../../src/util/errors.ts?second-copy";
    const copy = (await import(secondCopy)) as typeof import("../../src/util/errors.ts");
    expect(copy.VenvflowError).not.toBe(VenvflowError);
    const foreign = new copy.VenvflowError("invalid_duration", "from the other copy");
    expect(foreign instanceof VenvflowError).toBe(true);
    expect(new VenvflowError("invalid_duration", "x") instanceof copy.VenvflowError).toBe(true);
    const lookalike = Object.assign(new Error("same name"), { name: "VenvflowError", code: "invalid_duration" });
    expect(lookalike instanceof VenvflowError).toBe(false);
    expect(new Error("plain") instanceof VenvflowError).toBe(false);
  });

  it("declares each code once, in one layer", () => {
    const all = Object.values(ERROR_CODES).flat();
    expect(new Set(all).size).toBe(all.length);
    expect(isErrorCode("env_build_failed")).toBe(true);
    expect(isErrorCode("no_such_code")).toBe(false);
  });
});
