import js from "@eslint/js";
import importX from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

// The layers, lowest first. A folder may import only the folders listed for it (and itself); `src/index.ts` and the
// package entry points sit on top. Adding a layer means adding one line here.
const MAY_IMPORT = {
  util: [],
  env: ["util"],
  store: ["util"],
  runtime: ["util", "env"],
  dag: ["util", "env", "runtime"],
  doctor: ["util", "env", "runtime", "dag"],
  engine: ["util", "env", "runtime", "dag", "doctor", "store"],
  server: ["util", "env", "runtime", "dag", "doctor", "store", "engine"],
  cli: ["util", "env", "runtime", "dag", "doctor", "store", "engine", "server"],
};
const LAYERS = Object.keys(MAY_IMPORT);
const layerZones = Object.entries(MAY_IMPORT)
  .map(([layer, allowed]) => ({
    target: `./src/${layer}`,
    from: LAYERS.filter((other) => other !== layer && !allowed.includes(other)).map((other) => `./src/${other}`),
    message: `src/${layer} may import only ${allowed.length ? allowed.map((a) => `src/${a}`).join(", ") : "itself"} (see MAY_IMPORT in eslint.config.js)`,
  }))
  .filter((zone) => zone.from.length > 0);

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "web/dist/"] },
  // The web UI's React components.
  { files: ["**/*.tsx"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    files: ["src/**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/extensions": [".ts", ".js"],
      "import-x/resolver-next": [importX.createNodeResolver({ extensions: [".ts", ".js"] })],
    },
    rules: {
      "import-x/no-restricted-paths": ["error", { zones: layerZones }],
      // Type-only imports count too: a cycle of types still ties two layers into one.
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
    },
  },
);
