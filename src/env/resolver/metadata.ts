/** Core metadata (RFC 822 headers: `METADATA`, `PKG-INFO`, PEP 658 files): the fields a resolver needs. */
export interface CoreMetadata {
  name: string;
  version: string;
  requiresPython: string | null;
  requiresDist: string[];
  providesExtra: string[];
}

export function parseCoreMetadata(text: string): CoreMetadata {
  const fields = new Map<string, string[]>();
  let last: string[] | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break; // the body (description) follows the first blank line
    if (/^[ \t]/.test(line) && last) {
      last[last.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const values = fields.get(key) ?? [];
    values.push(line.slice(colon + 1).trim());
    fields.set(key, values);
    last = values;
  }
  const one = (key: string) => fields.get(key)?.[0] ?? null;
  return {
    name: one("name") ?? "",
    version: one("version") ?? "",
    requiresPython: one("requires-python") || null,
    requiresDist: fields.get("requires-dist") ?? [],
    providesExtra: fields.get("provides-extra") ?? [],
  };
}
