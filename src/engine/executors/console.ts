/**
 * `console.log` inside an in-process TypeScript task belongs in that task's log, as a Python task's print() does.
 * Console methods are wrapped once; inside a task's async context they write to its log, elsewhere (and once the
 * task has ended, e.g. from a leftover timer) they behave as usual.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { format } from "node:util";

type Write = (stream: "stdout" | "stderr", msg: string) => void;
interface Scope {
  write: Write;
  open: boolean;
}

const current = new AsyncLocalStorage<Scope>();
const METHODS = [
  ["log", "stdout"],
  ["info", "stdout"],
  ["debug", "stdout"],
  ["warn", "stderr"],
  ["error", "stderr"],
] as const;
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  for (const [method, stream] of METHODS) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]): void => {
      const scope = current.getStore();
      if (scope?.open) scope.write(stream, format(...args));
      else original(...args);
    };
  }
}

/**
 * A console scope for one task: `run(fn)` sends the console output of `fn` (and of everything it starts) to `write`
 * until `close()`, which the task calls when its try ends, even if abandoned while `fn` still runs.
 */
export function openTaskConsole(write: Write): { run<T>(fn: () => Promise<T>): Promise<T>; close(): void } {
  install();
  const scope: Scope = { write, open: true };
  return {
    run: (fn) => current.run(scope, fn),
    close: () => {
      scope.open = false;
    },
  };
}
