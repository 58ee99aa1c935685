// ESLint flat config. Prettier owns formatting (eslint-config-prettier, last, switches off every rule
// that would fight it); this file is about bugs. TypeScript gets typescript-eslint's type-aware
// recommended set: in a Worker the costly mistakes are a promise nobody awaits (its work is cut off
// when the response returns) and `any` leaking out of JSON bodies, bindings and D1 rows.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  // wasm/*/assembly: AssemblyScript, compiled by asc (npm run build:bcrypt), not TypeScript.
  { ignores: [".wrangler/", "coverage/", "migrations/", "worker-configuration.d.ts", "wasm/*/assembly/", "assets/client/"] },
  { linterOptions: { reportUnusedDisableDirectives: "error" } },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Handler and Durable Object signatures are fixed by the runtime; `_env` marks a parameter kept on purpose.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // Node-side code (scripts/, JavaScript such as this file) is outside tsconfig: no type information.
    files: ["**/*.{js,mjs,cjs}", "scripts/**"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  prettier,
);
