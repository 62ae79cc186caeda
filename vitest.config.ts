import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    // Real interpreters and real pip installs: a cold environment build takes seconds, not milliseconds.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    reporters: ["default", "./test/support/counts-reporter.ts"],
    pool: "forks",
  },
});
