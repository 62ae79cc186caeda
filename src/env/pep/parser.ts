/**
 * Hand-written recursive-descent parser for PEP 508 dependency specifiers and markers: a TypeScript port of
 * `packaging._parser` from pypa/packaging 26.2. Each function's comment carries packaging's grammar line.
 *
 * pypa/packaging is dual licensed under the terms of the Apache License, Version 2.0, and the BSD 2-Clause
 * License; copyright 2014 Donald Stufft and individual contributors. This port keeps that notice.
 */
import { Tokenizer } from "./tokenizer.ts";

/** An environment variable name (`python_version`) or a quoted literal, as in packaging's Variable/Value. */
export interface MarkerVar {
  kind: "variable" | "value";
  value: string;
}

/** One comparison: `lhs op rhs`. */
export interface MarkerItem {
  kind: "item";
  lhs: MarkerVar;
  op: string;
  rhs: MarkerVar;
}

export type MarkerLogical = "and" | "or";
/** A parsed marker: atoms (items or parenthesized lists) separated by "and"/"or", unreduced as in packaging. */
export type MarkerList = (MarkerItem | MarkerList | MarkerLogical)[];
export type MarkerAtom = MarkerItem | MarkerList;

export interface ParsedRequirement {
  name: string;
  url: string;
  extras: string[];
  specifier: string;
  marker: MarkerList | null;
}

/** Parses a PEP 508 requirement; throws ParserSyntaxError. */
export function parseRequirement(source: string): ParsedRequirement {
  return parseRequirementTokens(new Tokenizer(source));
}

/** requirement = WS? IDENTIFIER WS? extras WS? requirement_details */
function parseRequirementTokens(tokenizer: Tokenizer): ParsedRequirement {
  tokenizer.consume("WS");
  const name = tokenizer.expect("IDENTIFIER", "package name at the start of dependency specifier").text;
  tokenizer.consume("WS");
  const extras = parseExtras(tokenizer);
  tokenizer.consume("WS");
  const [url, specifier, marker] = parseRequirementDetails(tokenizer);
  tokenizer.expect("END", "end of dependency specifier");
  return { name, url, extras, specifier, marker };
}

/**
 * requirement_details = AT URL (WS requirement_marker?)?
 *                     | specifier WS? (requirement_marker)?
 */
function parseRequirementDetails(tokenizer: Tokenizer): [string, string, MarkerList | null] {
  let specifier = "";
  let url = "";
  let marker: MarkerList | null = null;
  if (tokenizer.check("AT")) {
    tokenizer.read();
    tokenizer.consume("WS");
    const urlStart = tokenizer.position;
    url = tokenizer.expect("URL", "URL after @").text;
    if (tokenizer.check("END", true)) return [url, specifier, marker];
    tokenizer.expect("WS", "whitespace after URL");
    // The input might end after whitespace.
    if (tokenizer.check("END", true)) return [url, specifier, marker];
    marker = parseRequirementMarker(tokenizer, urlStart, "semicolon (after URL and whitespace)");
  } else {
    const specifierStart = tokenizer.position;
    specifier = parseSpecifier(tokenizer);
    tokenizer.consume("WS");
    if (tokenizer.check("END", true)) return [url, specifier, marker];
    marker = parseRequirementMarker(
      tokenizer,
      specifierStart,
      specifier
        ? "comma (within version specifier), semicolon (after version specifier)"
        : "semicolon (after name with no version specifier)",
    );
  }
  return [url, specifier, marker];
}

/** requirement_marker = SEMICOLON marker WS? */
function parseRequirementMarker(tokenizer: Tokenizer, spanStart: number, expected: string): MarkerList {
  if (!tokenizer.check("SEMICOLON")) tokenizer.raiseSyntaxError(`Expected ${expected} or end`, spanStart);
  tokenizer.read();
  const marker = parseMarkerTokens(tokenizer);
  tokenizer.consume("WS");
  return marker;
}

/** extras = (LEFT_BRACKET wsp* extras_list? wsp* RIGHT_BRACKET)? */
function parseExtras(tokenizer: Tokenizer): string[] {
  if (!tokenizer.check("LEFT_BRACKET", true)) return [];
  return tokenizer.enclosingTokens("LEFT_BRACKET", "RIGHT_BRACKET", "extras", () => {
    tokenizer.consume("WS");
    const extras = parseExtrasList(tokenizer);
    tokenizer.consume("WS");
    return extras;
  });
}

/** extras_list = identifier (wsp* ',' wsp* identifier)* */
function parseExtrasList(tokenizer: Tokenizer): string[] {
  const extras: string[] = [];
  if (!tokenizer.check("IDENTIFIER")) return extras;
  extras.push(tokenizer.read().text);
  while (true) {
    tokenizer.consume("WS");
    if (tokenizer.check("IDENTIFIER", true)) tokenizer.raiseSyntaxError("Expected comma between extra names");
    else if (!tokenizer.check("COMMA")) break;
    tokenizer.read();
    tokenizer.consume("WS");
    extras.push(tokenizer.expect("IDENTIFIER", "extra name after comma").text);
  }
  return extras;
}

/**
 * specifier = LEFT_PARENTHESIS WS? version_many WS? RIGHT_PARENTHESIS
 *           | WS? version_many WS?
 */
function parseSpecifier(tokenizer: Tokenizer): string {
  return tokenizer.enclosingTokens("LEFT_PARENTHESIS", "RIGHT_PARENTHESIS", "version specifier", () => {
    tokenizer.consume("WS");
    const parsed = parseVersionMany(tokenizer);
    tokenizer.consume("WS");
    return parsed;
  });
}

/** version_many = (SPECIFIER (WS? COMMA WS? SPECIFIER)*)? */
function parseVersionMany(tokenizer: Tokenizer): string {
  let parsed = "";
  while (tokenizer.check("SPECIFIER")) {
    const spanStart = tokenizer.position;
    parsed += tokenizer.read().text;
    if (tokenizer.check("VERSION_PREFIX_TRAIL", true)) {
      tokenizer.raiseSyntaxError(".* suffix can only be used with `==` or `!=` operators", spanStart, tokenizer.position + 1);
    }
    if (tokenizer.check("VERSION_LOCAL_LABEL_TRAIL", true)) {
      tokenizer.raiseSyntaxError("Local version label can only be used with `==` or `!=` operators", spanStart, tokenizer.position);
    }
    tokenizer.consume("WS");
    if (!tokenizer.check("COMMA")) break;
    parsed += tokenizer.read().text;
    tokenizer.consume("WS");
  }
  return parsed;
}

/** Parses a complete PEP 508 marker expression; throws ParserSyntaxError. */
export function parseMarker(source: string): MarkerList {
  const tokenizer = new Tokenizer(source);
  const result = parseMarkerTokens(tokenizer);
  tokenizer.expect("END", "end of marker expression");
  return result;
}

/** marker = marker_atom (BOOLOP marker_atom)+ */
function parseMarkerTokens(tokenizer: Tokenizer): MarkerList {
  const expression: MarkerList = [parseMarkerAtom(tokenizer)];
  while (tokenizer.check("BOOLOP")) {
    const token = tokenizer.read();
    expression.push(token.text as MarkerLogical, parseMarkerAtom(tokenizer));
  }
  return expression;
}

/**
 * marker_atom = WS? LEFT_PARENTHESIS WS? marker WS? RIGHT_PARENTHESIS WS?
 *             | WS? marker_item WS?
 */
function parseMarkerAtom(tokenizer: Tokenizer): MarkerAtom {
  tokenizer.consume("WS");
  let marker: MarkerAtom;
  if (tokenizer.check("LEFT_PARENTHESIS", true)) {
    marker = tokenizer.enclosingTokens("LEFT_PARENTHESIS", "RIGHT_PARENTHESIS", "marker expression", () => {
      tokenizer.consume("WS");
      const inner = parseMarkerTokens(tokenizer);
      tokenizer.consume("WS");
      return inner;
    });
  } else {
    marker = parseMarkerItem(tokenizer);
  }
  tokenizer.consume("WS");
  return marker;
}

/** marker_item = WS? marker_var WS? marker_op WS? marker_var WS? */
function parseMarkerItem(tokenizer: Tokenizer): MarkerItem {
  tokenizer.consume("WS");
  const lhs = parseMarkerVar(tokenizer);
  tokenizer.consume("WS");
  const op = parseMarkerOp(tokenizer);
  tokenizer.consume("WS");
  const rhs = parseMarkerVar(tokenizer);
  tokenizer.consume("WS");
  return { kind: "item", lhs, op, rhs };
}

/** marker_var = VARIABLE | QUOTED_STRING */
function parseMarkerVar(tokenizer: Tokenizer): MarkerVar {
  if (tokenizer.check("VARIABLE")) {
    const name = tokenizer.read().text.replace(/\./g, "_");
    // python_implementation is the legacy spelling of platform_python_implementation.
    return { kind: "variable", value: name === "python_implementation" ? "platform_python_implementation" : name };
  }
  if (tokenizer.check("QUOTED_STRING")) return { kind: "value", value: pythonStringLiteral(tokenizer.read().text) };
  return tokenizer.raiseSyntaxError("Expected a marker variable or quoted string");
}

/** marker_op = IN | NOT IN | OP */
function parseMarkerOp(tokenizer: Tokenizer): string {
  if (tokenizer.check("IN")) {
    tokenizer.read();
    return "in";
  }
  if (tokenizer.check("NOT")) {
    tokenizer.read();
    tokenizer.expect("WS", "whitespace after 'not'");
    tokenizer.expect("IN", "'in' after 'not'");
    return "not in";
  }
  if (tokenizer.check("OP")) return tokenizer.read().text;
  return tokenizer.raiseSyntaxError("Expected marker operator, one of <=, <, !=, ==, >=, >, ~=, ===, in, not in");
}

/** Thrown when a quoted string is not a valid Python literal (packaging lets `ast.literal_eval` raise). */
export class StringLiteralError extends Error {}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\n": "",
};

/** Decodes a quoted Python string literal the way `ast.literal_eval` does (packaging's `process_python_str`). */
export function pythonStringLiteral(quoted: string): string {
  const body = quoted.slice(1, -1);
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string;
    if (ch === "\n" || ch === "\r" || ch === "\0") throw new StringLiteralError(`unterminated string literal: ${quoted}`);
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const next = body[i + 1];
    if (next === undefined) throw new StringLiteralError(`unterminated string literal: ${quoted}`);
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) {
      out += simple;
      i++;
    } else if (/[0-7]/.test(next)) {
      const digits = /^[0-7]{1,3}/.exec(body.slice(i + 1))?.[0] ?? next;
      out += String.fromCodePoint(parseInt(digits, 8));
      i += digits.length;
    } else if (next === "x" || next === "u" || next === "U") {
      const width = next === "x" ? 2 : next === "u" ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) throw new StringLiteralError(`truncated \\${next} escape in ${quoted}`);
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) throw new StringLiteralError(`illegal Unicode character in ${quoted}`);
      out += String.fromCodePoint(code);
      i += 1 + width;
    } else if (next === "N") {
      // Named escapes need Unicode's name table, which JavaScript does not ship.
      throw new StringLiteralError(`\\N{...} escapes are not supported: ${quoted}`);
    } else {
      // Python keeps unknown escapes verbatim (with a warning).
      out += "\\";
    }
  }
  return out;
}
