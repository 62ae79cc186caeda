import type { Redactor } from "../util/secrets.ts";

/**
 * A stored XCom keeps the real value (downstream tasks receive it, as in Airflow) and, when the producing task's
 * secrets appear in it, a display copy with them masked. Everything that shows a stored value to a person (`runs
 * show`, the API, hence the UI) reads it through `displayedValue`, never `value` directly.
 */
export interface StoredXComValue {
  value: string;
  display_value: string | null;
}

/** The columns to store for `value`: the real JSON and, only when masking changes it, the masked JSON. */
export function storedXComValue(value: unknown, redactor: Redactor): StoredXComValue {
  const json = JSON.stringify(value);
  const display = JSON.stringify(redactor.redactValue(value));
  return { value: json, display_value: display === json ? null : display };
}

/** A stored XCom as a person may see it: the masked copy if there is one, else the value. */
export function displayedValue(row: StoredXComValue): unknown {
  return JSON.parse(row.display_value ?? row.value) as unknown;
}
