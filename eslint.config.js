// ESLint flat config. Type-aware (typed) rules run on the TypeScript the two tsconfig projects cover
// (sdk/, test/, bench/, web/src/); plain scripts get the untyped rules. Style is prettier's job.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Rules that need type information: promises nobody awaits lose their errors. */
const typedRules = {
  // a `!` or `as` the checker does not need hides the spot where one is needed
  "@typescript-eslint/no-unnecessary-type-assertion": "error",
  "@typescript-eslint/no-floating-promises": [
    "error",
    {
      // node:test's test()/describe() return promises the runner itself tracks
      allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] }],
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "dist/",
      "build/",
      "web/dist/",
      "**/node_modules/",
      // AssemblyScript is not TypeScript to the parser: top-level `@inline function` is a syntax
      // error there, and i32/u32/load/store are compiler builtins; asc checks it
      "assembly/",
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true },
      ],
      // verbatimModuleSyntax: type-only imports must say so, written inline like the rest of the code
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-import-type-side-effects": "error",
      // `let x; ...callbacks that read x...; x = new X(callbacks)` is how a daemon meets its sockets
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      // path references with preserve="true" carry web-globals.d.ts into the emitted declarations
      "@typescript-eslint/triple-slash-reference": ["error", { path: "always", types: "prefer-import", lib: "always" }],
    },
  },
  {
    files: ["sdk/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "web/src/**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: typedRules,
  },
  {
    // the library: no `any` in what users call, no stray console output
    files: ["sdk/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "no-console": "error",
    },
  },
  {
    // the CLI prints
    files: ["sdk/cli/**/*.ts"],
    rules: { "no-console": "off" },
  },
  {
    // tests and benchmarks poke at untyped JSON, wasm exports and child processes
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    files: ["**/*.mjs", "**/*.js", "**/*.cjs"],
    languageOptions: {
      globals: {
        module: "readonly",
        require: "readonly",
        console: "readonly",
        process: "readonly",
        URL: "readonly",
        TextEncoder: "readonly",
        TextDecoder: "readonly",
        WebAssembly: "readonly",
        fetch: "readonly",
        Response: "readonly",
        crypto: "readonly",
        document: "readonly",
        window: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        performance: "readonly",
        Buffer: "readonly",
      },
    },
  },
);
