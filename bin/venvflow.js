#!/usr/bin/env node
/* global process, URL */
// Written in syntax every Node.js since 12 parses: the version check runs before anything else is loaded, so an
// old Node gets this message instead of a stack trace from deep inside a dependency.
var REQUIRED = [22, 12];
var have = process.versions.node.split(".").map(Number);
if (have[0] < REQUIRED[0] || (have[0] === REQUIRED[0] && have[1] < REQUIRED[1])) {
  process.stderr.write(
    "error: venvflow needs Node.js " + REQUIRED.join(".") + " or newer; this is Node.js " + process.versions.node + " (" + process.execPath + ")\n" +
      "  fix: install a current Node.js (https://nodejs.org/en/download, or `nvm install 22` / `fnm install 22`) and put it first on PATH, then run venvflow again\n"
  );
  process.exit(1);
}
import("../dist/cli/main.js").catch(function (error) {
  // A checkout that was never built: say so instead of printing Node's resolution stack.
  if (error && error.code === "ERR_MODULE_NOT_FOUND" && String(error.message).indexOf("dist/cli/main.js") >= 0) {
    var root = new URL("..", import.meta.url).pathname;
    process.stderr.write("error: venvflow is not built (" + root + "dist/ is missing)\n  fix: run `npm install` (or `npm run build`) in " + root + "\n");
    process.exit(1);
  }
  throw error;
});
