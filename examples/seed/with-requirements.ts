// Seed case 2: the same callable, with the package declared. The environment is built once and cached.
import { dag, task } from "venvflow";

dag("seed_with_requirements", { schedule: null }, () => {
  task.virtualenv<[string[][]], string>({ taskId: "render", requirements: ["tabulate"] }, "report.py:render")([
    ["Paris", "21"],
    ["Oslo", "9"],
  ]);
});
