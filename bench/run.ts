// `npm run bench`: every benchmark, each printing its baseline measured in the same run and the ratios.
import { benchDispatch } from "./dispatch.ts";
import { benchEngine } from "./engine.ts";
import { benchEnvBuild } from "./env-build.ts";
import { benchResolve } from "./resolve.ts";
import { benchSequential } from "./sequential.ts";
import { benchWarm } from "./warm.ts";
import { benchWheels } from "./wheels.ts";

const only = process.argv[2];
if (!only || only === "env") await benchEnvBuild(Number(process.env.BENCH_ROUNDS ?? 3));
if (!only || only === "resolve") await benchResolve(Number(process.env.BENCH_RESOLVE_ROUNDS ?? 5));
if (!only || only === "dispatch") await benchDispatch(Number(process.env.BENCH_DISPATCH_ROUNDS ?? 20));
if (!only || only === "sequential") await benchSequential();
if (!only || only === "warm") await benchWarm(Number(process.env.BENCH_WARM_ROUNDS ?? 30));
if (!only || only === "wheels") await benchWheels(Number(process.env.BENCH_ROUNDS ?? 3));
if (!only || only === "engine") await benchEngine();
