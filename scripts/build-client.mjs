#!/usr/bin/env node
// `npm run build:client`: turns the browser client (src/client/gatehouse.ts) into the JavaScript the
// worker serves at /client/v1/gatehouse.js, committed as the static asset assets/client/v1/gatehouse.js
// (read through the ASSETS binding, so it is no part of the worker's script). TypeScript only strips
// the types (one file, no imports left, comments kept), so the served module reads like the source.
// test/node/client-bundle.test.ts fails when the committed file is not what this builds now.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";

const root = resolve(import.meta.dirname, "..");
const SOURCE = resolve(root, "src/client/gatehouse.ts");
export const CLIENT_ASSET = resolve(root, "assets/client/v1/gatehouse.js");

/** The served JavaScript: the client with its types stripped. */
export function buildClient() {
  const { outputText, diagnostics } = ts.transpileModule(readFileSync(SOURCE, "utf8"), {
    fileName: "gatehouse.ts",
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      verbatimModuleSyntax: true,
      removeComments: false,
    },
  });
  if (diagnostics?.length)
    throw new Error(
      ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => "\n" }),
    );
  const imports = ts
    .createSourceFile("gatehouse.js", outputText, ts.ScriptTarget.ES2022)
    .statements.filter((s) => ts.isImportDeclaration(s) || (ts.isExportDeclaration(s) && s.moduleSpecifier !== undefined));
  // The module is served on its own: anything it imported would be a 404 in the browser.
  if (imports.length > 0) throw new Error("src/client/gatehouse.ts must not import anything at run time (type-only imports are fine)");
  return outputText;
}

/** The text of assets/client/v1/gatehouse.js as committed. */
export function committedClient() {
  return readFileSync(CLIENT_ASSET, "utf8");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  mkdirSync(dirname(CLIENT_ASSET), { recursive: true });
  writeFileSync(CLIENT_ASSET, buildClient());
  console.log(`wrote ${CLIENT_ASSET}`);
}
