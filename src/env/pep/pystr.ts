/**
 * Python `str` semantics that pypa/packaging relies on and JavaScript spells differently. Kept in one place so
 * the port's regexes and string handling agree with CPython character for character.
 */

/** Characters for which Python's `str.isspace()` is true (what `\s` and `str.strip()` use); JS `\s` differs. */
export const PY_WS = "\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const LEADING_WS = new RegExp(`^[${PY_WS}]+`);
const TRAILING_WS = new RegExp(`[${PY_WS}]+$`);

/** Python's `str.strip()` with no arguments. */
export function pyStrip(text: string): string {
  return text.replace(LEADING_WS, "").replace(TRAILING_WS, "");
}
