/**
 * vitest globalSetup: one package index (STANDARD_WHEELS + VENDORED_WHEELS), one shared VENVFLOW_HOME and one pip
 * cache for the whole run, so test files reuse each other's environments and downloads.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startPackageIndex } from "./pypi.ts";
import { STANDARD_WHEELS, VENDORED_WHEELS } from "./standard-packages.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const index = await startPackageIndex({ wheels: STANDARD_WHEELS, wheelFiles: VENDORED_WHEELS });
  const sharedHome = await mkdtemp(join(tmpdir(), "venvflow-home-"));
  const pipCacheDir = await mkdtemp(join(tmpdir(), "venvflow-pip-cache-"));
  project.provide("indexUrl", index.url);
  project.provide("sharedHome", sharedHome);
  project.provide("pipCacheDir", pipCacheDir);
  return async () => {
    await index.close();
    await rm(sharedHome, { recursive: true, force: true });
    await rm(pipCacheDir, { recursive: true, force: true });
  };
}
