/** `items` in slices of `size`: statement parameters stay below SQLite's and PostgreSQL's limits. */
export function chunks<T>(items: readonly T[], size = 200): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
