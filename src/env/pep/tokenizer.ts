/**
 * Context-sensitive tokenizer for PEP 508: a TypeScript port of `packaging._tokenizer` from pypa/packaging 26.2.
 *
 * pypa/packaging is dual licensed under the terms of the Apache License, Version 2.0, and the BSD 2-Clause
 * License; copyright 2014 Donald Stufft and individual contributors. This port keeps that notice.
 */
import { SPECIFIER_PATTERN } from "./specifiers.ts";

export interface Token {
  name: string;
  text: string;
  position: number;
}

/** A parse failure with the span packaging underlines; `toString()` is packaging's caret message. */
export class ParserSyntaxError extends Error {
  readonly span: readonly [number, number];
  readonly source: string;
  readonly reason: string;

  constructor(reason: string, source: string, span: readonly [number, number]) {
    const marker = " ".repeat(span[0]) + "~".repeat(Math.max(0, span[1] - span[0])) + "^";
    super(`${reason}\n    ${source}\n    ${marker}`);
    this.name = "ParserSyntaxError";
    this.reason = reason;
    this.source = source;
    this.span = span;
  }
}

// Python's `\b` is Unicode-aware; JavaScript's is ASCII-only, so spell it out.
const W = "[\\p{L}\\p{N}_]";
const B = `(?:(?<=${W})(?!${W})|(?<!${W})(?=${W}))`;

/** packaging's DEFAULT_RULES, as sticky regexes so a match is tried exactly at the current position. */
export const DEFAULT_RULES: Readonly<Record<string, RegExp>> = {
  LEFT_PARENTHESIS: /\(/y,
  RIGHT_PARENTHESIS: /\)/y,
  LEFT_BRACKET: /\[/y,
  RIGHT_BRACKET: /\]/y,
  SEMICOLON: /;/y,
  COMMA: /,/y,
  QUOTED_STRING: /(?:'[^']*'|"[^"]*")/y,
  OP: /(?:===|==|~=|!=|<=|>=|<|>)/y,
  BOOLOP: new RegExp(`${B}(?:or|and)${B}`, "uy"),
  IN: new RegExp(`${B}in${B}`, "uy"),
  NOT: new RegExp(`${B}not${B}`, "uy"),
  VARIABLE: new RegExp(
    `${B}(?:python_version|python_full_version|os[._]name|sys[._]platform|platform_(?:release|system)` +
      `|platform[._](?:version|machine|python_implementation)|python_implementation|implementation_(?:name|version)` +
      `|extras?|dependency_groups)${B}`,
    "uy",
  ),
  SPECIFIER: new RegExp(SPECIFIER_PATTERN, "iy"),
  AT: /@/y,
  URL: /[^ \t]+/y,
  IDENTIFIER: new RegExp(`${B}[a-zA-Z0-9][a-zA-Z0-9._-]*${B}`, "uy"),
  VERSION_PREFIX_TRAIL: /\.\*/y,
  VERSION_LOCAL_LABEL_TRAIL: /\+[a-z0-9]+(?:[-_.][a-z0-9]+)*/y,
  WS: /[ \t]+/y,
  // Python's `$` also matches just before a final newline.
  END: /(?=\n?$)/y,
};

export class Tokenizer {
  readonly source: string;
  position = 0;
  private nextToken: Token | null = null;
  private readonly rules: Readonly<Record<string, RegExp>>;

  constructor(source: string, rules: Readonly<Record<string, RegExp>> = DEFAULT_RULES) {
    this.source = source;
    this.rules = rules;
  }

  /** Moves past the named token if it is next. */
  consume(name: string): void {
    if (this.check(name)) this.read();
  }

  /** Whether the named token is next; unless `peek`, it is loaded and must be `read()` before another check. */
  check(name: string, peek = false): boolean {
    if (this.nextToken !== null) throw new Error(`Cannot check for ${name}, already have ${this.nextToken.name}`);
    const rule = this.rules[name];
    if (!rule) throw new Error(`Unknown token name: ${name}`);
    rule.lastIndex = this.position;
    const m = rule.exec(this.source);
    if (m === null) return false;
    if (!peek) this.nextToken = { name, text: m[0], position: this.position };
    return true;
  }

  /** Reads the named token or fails with "Expected <expected>". */
  expect(name: string, expected: string): Token {
    if (!this.check(name)) this.raiseSyntaxError(`Expected ${expected}`);
    return this.read();
  }

  read(): Token {
    const token = this.nextToken;
    if (token === null) throw new Error("read() without a successful check()");
    this.position += token.text.length;
    this.nextToken = null;
    return token;
  }

  raiseSyntaxError(message: string, spanStart?: number, spanEnd?: number): never {
    throw new ParserSyntaxError(message, this.source, [spanStart ?? this.position, spanEnd ?? this.position]);
  }

  /** Runs `body`, optionally enclosed in open/close tokens (packaging's `enclosing_tokens`). */
  enclosingTokens<T>(open: string, close: string, around: string, body: () => T): T {
    let openPosition: number | null = null;
    if (this.check(open)) {
      openPosition = this.position;
      this.read();
    }
    const result = body();
    if (openPosition === null) return result;
    if (!this.check(close)) this.raiseSyntaxError(`Expected matching ${close} for ${open}, after ${around}`, openPosition);
    this.read();
    return result;
  }
}
