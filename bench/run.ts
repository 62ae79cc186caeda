// `npm run bench`: every benchmark, each printing its baseline measured in the same run and the ratios.
import { benchEnvBuild } from "./env-build.ts";

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
await benchEnvBuild(rounds);
