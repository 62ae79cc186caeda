/** Polls `check` every 20 ms until it holds (true) or `ms` have passed (false): for conditions another process makes true. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 20))) if (await check()) return true;
  return check();
}
