import type { TaskExecutor } from "./types.ts";

export const emptyExecutor: TaskExecutor<"empty"> = {
  stopsOnAbort: true,
  execute: () => Promise.resolve({ state: "success" }),
};
