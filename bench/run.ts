// `npm run bench`: every benchmark, each printing its baseline measured in the same run and the ratios.
import { benchDispatch } from "./dispatch.ts";
import { benchEngine } from "./engine.ts";
import { benchEnvBuild } from "./env-build.ts";
import { benchSequential } from "./sequential.ts";

const only = process.argv[2];
if (!only || only === "env") await benchEnvBuild(Number(process.env.BENCH_ROUNDS ?? 3));
if (!only || only === "dispatch") await benchDispatch(Number(process.env.BENCH_DISPATCH_ROUNDS ?? 20));
if (!only || only === "sequential") await benchSequential();
if (!only || only === "engine") await benchEngine();
