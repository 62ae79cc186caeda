/**
 * PEP 508 dependency specifiers: a TypeScript port of `packaging.requirements` from pypa/packaging 26.2.
 *
 * pypa/packaging is dual licensed under the terms of the Apache License, Version 2.0, and the BSD 2-Clause
 * License; copyright 2014 Donald Stufft and individual contributors. This port keeps that notice.
 */
import { VenvflowError } from "../../util/errors.ts";
import { Marker, normalizeExtraValues } from "./markers.ts";
import { type ParsedRequirement, StringLiteralError, parseRequirement } from "./parser.ts";
import { SpecifierSet } from "./specifiers.ts";
import { ParserSyntaxError } from "./tokenizer.ts";
import { canonicalizeName } from "./utils.ts";

/** A parsed requirement such as `name[extra]>=1.0; python_version >= "3.8"` (packaging's `Requirement`). */
export class Requirement {
  /** The name as written (not canonicalized). */
  readonly name: string;
  /** The direct URL after "@", or null. */
  readonly url: string | null;
  /** Extra names as written, de-duplicated. */
  readonly extras: ReadonlySet<string>;
  readonly specifier: SpecifierSet;
  readonly marker: Marker | null;

  /**
   * Throws VenvflowError("invalid_requirement") whose message is packaging's, with the caret under the column.
   * A specifier the grammar admits but `SpecifierSet` rejects throws "invalid_specifier", as packaging does.
   */
  constructor(requirement: string) {
    let parsed: ParsedRequirement;
    try {
      parsed = parseRequirement(requirement);
    } catch (error) {
      if (error instanceof ParserSyntaxError || error instanceof StringLiteralError) {
        throw new VenvflowError("invalid_requirement", error.message, {
          fix: 'Write a PEP 508 requirement such as name[extra]>=1.0,<2; python_version >= "3.8" or name @ https://host/name.whl',
          details: { requirement },
          cause: error,
        });
      }
      throw error;
    }
    this.name = parsed.name;
    this.url = parsed.url || null;
    this.extras = new Set(parsed.extras);
    this.specifier = new SpecifierSet(parsed.specifier);
    this.marker = parsed.marker === null ? null : new Marker(normalizeExtraValues(parsed.marker));
  }

  private parts(name: string): string[] {
    const parts = [name];
    if (this.extras.size > 0) parts.push(`[${[...this.extras].sort().join(",")}]`);
    if (this.specifier.size > 0) parts.push(this.specifier.toString());
    if (this.url) {
      parts.push(` @ ${this.url}`);
      if (this.marker) parts.push(" ");
    }
    if (this.marker) parts.push(`; ${this.marker.toString()}`);
    return parts;
  }

  /** The normalized form, exactly packaging's `str(Requirement(...))`. */
  toString(): string {
    return this.parts(this.name).join("");
  }

  /** Equal names (canonically), extras, specifiers, URL and marker, as packaging's `==`. */
  equals(other: Requirement): boolean {
    return (
      canonicalizeName(this.name) === canonicalizeName(other.name) &&
      this.extras.size === other.extras.size &&
      [...this.extras].every((e) => other.extras.has(e)) &&
      this.specifier.equals(other.specifier) &&
      this.url === other.url &&
      (this.marker === null ? other.marker === null : other.marker !== null && this.marker.equals(other.marker))
    );
  }
}
