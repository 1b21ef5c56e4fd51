import js from "@eslint/js";
import globals from "globals";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

// The layout's import boundaries (README, "Where things live"; docs/decisions/040). The
// architecture test (scripts/architecture.test.ts) checks the same rules and import cycles.
const serverBoundaries = [
  {
    regex: "(^|/)runtime/build\\.server(\\.ts)?$",
    message:
      "Only entry points (routes, the server entry, the CLI, benchmarks, the eval) import the runtime's builder; take the parts you need as a parameter.",
  },
  { regex: "(^|/)tests/", message: "Product code does not import the tests." },
  {
    regex: "(^|/)widget/",
    message: "Contracts shared with the widget live in app/shared/.",
  },
  {
    regex: "^#app/(admin|routes)/|^\\.\\./\\.\\./(admin|routes)/",
    message: "Server modules do not import UI code; shared contracts live in app/shared/.",
  },
];
const coreBoundaries = [
  {
    regex: "^\\./[^/]+/|^#app/server/[^/]+/",
    message:
      "A loose file in app/server/ is core and imports no folder: move it into the feature's folder.",
  },
];
const noAsk = {
  regex: "^\\.\\./ask/|^#app/server/ask/",
  message: "Layers import downwards only: ask → retrieval → embeddings.",
};
const noRetrieval = {
  regex: "^\\.\\./retrieval/|^#app/server/retrieval/",
  message: "Layers import downwards only: ask → retrieval → embeddings.",
};
const restrict = (...patterns) => ({
  "@typescript-eslint/no-restricted-imports": ["error", { patterns }],
});
const tests = ["**/*.test.ts", "**/*.test.tsx"];

export default tseslint.config(
  {
    ignores: [
      "build/",
      "coverage/",
      "node_modules/",
      ".react-router/",
      "widget/dist/",
      "data/",
      "public/",
      "test-results/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "warn",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  { files: ["app/server/**/*.ts"], ignores: tests, rules: restrict(...serverBoundaries) },
  {
    files: ["app/server/*.ts"],
    ignores: tests,
    rules: restrict(...serverBoundaries, ...coreBoundaries),
  },
  {
    files: ["app/server/retrieval/**/*.ts"],
    ignores: tests,
    rules: restrict(...serverBoundaries, noAsk),
  },
  {
    files: ["app/server/embeddings/**/*.ts"],
    ignores: tests,
    rules: restrict(...serverBoundaries, noAsk, noRetrieval),
  },
  {
    // UI modules reach the browser: server code only through `.server` modules (types are
    // fine), never by relying on tree-shaking (React Router's decision 0009).
    files: ["app/routes/*.tsx", "app/admin/**/*.tsx", "app/root.tsx"],
    ignores: tests,
    rules: restrict(
      {
        regex: "^#tenants/",
        allowTypeImports: true,
        message:
          "UI modules read tenant data through a .server module (e.g. tenancy/reads.server.ts).",
      },
      {
        regex: "(^|/)widget/src/",
        message: "Contracts shared with the widget live in app/shared/.",
      },
    ),
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: globals.node },
  },
);
