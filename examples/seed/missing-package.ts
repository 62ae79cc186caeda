// Seed case 1: the callable imports a package its environment lacks. The task fails, and the failure says
// which environment, that no requirement declares it, and the fix (add "tabulate" to requirements).
import { dag, task } from "venvflow";

dag("seed_missing_package", { schedule: null }, () => {
  task.virtualenv<[string[][]], string>({ taskId: "render" }, "report.py:render")([["Paris", "21"]]);
});
