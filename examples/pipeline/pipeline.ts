// A realistic pipeline: two Python steps that need conflicting versions of numpy (1.26 and 2.x) each run in
// their own cached environment, and a TypeScript step writes the report.
//   npx venvflow run examples/pipeline/pipeline.ts
// Packages come from pip's own configuration (pip.conf, PIP_INDEX_URL), as for any pip install.
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { dag, task, type TaskContext } from "venvflow";

interface Stats {
  numpy: string;
  mean: number;
  product: number;
  count: number;
}
interface Forecast {
  numpy: string;
  long_bits: number;
  forecast: number[];
}

dag("sensor_pipeline", { schedule: "@daily", startDate: new Date("2026-01-01T00:00:00Z"), catchup: false, params: { readings: [3.5, 4.0, 4.5, 5.5] } }, (d) => {
  const readings = task(function readings(ctx: TaskContext) {
    return ctx.params.readings as number[];
  })();
  const stats = task.virtualenv<[number[]], Stats>({ pythonVersion: "3.11", requirements: ["numpy==1.26.4"] }, "legacy.py:sensor_stats")(readings);
  const forecast = task.virtualenv<[number[]], Forecast>({ pythonVersion: "3.11", requirements: ["numpy>=2.1"] }, "modern.py:forecast")(readings);
  task(async function report(s: Stats, f: Forecast, ctx: TaskContext) {
    const lines = [
      `# Sensor report (${ctx.runId})`,
      "",
      `- ${s.count} readings, mean ${s.mean.toFixed(2)}, product ${s.product} (numpy ${s.numpy})`,
      `- forecast ${f.forecast.join(", ")} (numpy ${f.numpy}, np.long is ${f.long_bits}-bit)`,
      "",
    ];
    const dir = process.env.VENVFLOW_REPORT_DIR ?? path.join(os.tmpdir(), "venvflow-reports");
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${d.dagId}-${ctx.runId.replace(/[^A-Za-z0-9_.-]/g, "_")}.md`);
    await writeFile(file, lines.join("\n"));
    return file;
  })(stats, forecast);
});
