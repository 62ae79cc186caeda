// The first DAG: a Python task in its own (cached) environment, then a TypeScript task that reads its result.
//   npx venvflow run examples/hello/hello.ts
import { dag, task } from "venvflow";

dag("hello", { schedule: null, description: "Hello from an isolated Python environment" }, () => {
  const greet = task.virtualenv<[string], { greeting: string; python: string; interpreter: string }>({ pythonVersion: "3" }, "hello.py:greet");
  const announce = task(function announce(result: { greeting: string; python: string }) {
    return `${result.greeting} (Python ${result.python})`;
  });
  announce(greet("venvflow"));
});
