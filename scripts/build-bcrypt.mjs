#!/usr/bin/env node
// `npm run build:bcrypt`: compiles the AssemblyScript bcrypt (wasm/bcrypt/assembly/) into the committed
// module src/accounts/bcrypt.wasm, which the worker imports as a compiled WebAssembly.Module (workerd
// cannot compile bytes at run time, so the artifact is built here, not in the worker).
//
// `npm run build:bcrypt -- --check` (CI) builds into a temporary file instead and fails when its bytes
// differ from the committed module: the artifact is what the source and the pinned toolchain make.
// The build is deterministic: every option is in wasm/bcrypt/asconfig.json, the compiler and its
// Binaryen are pinned by package-lock.json, and the module carries no names, paths, source map or
// timestamp.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import asc from "assemblyscript/asc";

const root = resolve(import.meta.dirname, "..");
const CONFIG = resolve(root, "wasm/bcrypt/asconfig.json");
const ARTIFACT = resolve(root, "src/accounts/bcrypt.wasm");

/** Compiles the module into `outFile`; throws with the compiler's diagnostics when it fails. */
async function compile(outFile) {
  const stderr = [];
  const { error } = await asc.main(["--config", CONFIG, "--outFile", outFile, "--noColors"], {
    stdout: { write: () => true },
    stderr: { write: (chunk) => (stderr.push(String(chunk)), true) },
  });
  if (error) throw new Error(`asc failed: ${error.message}\n${stderr.join("")}`);
}

const check = process.argv.includes("--check");
if (!check) {
  await compile(ARTIFACT);
  console.log(`wrote ${relative(root, ARTIFACT)} (${readFileSync(ARTIFACT).length} bytes)`);
} else {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-bcrypt-"));
  const fresh = join(dir, "bcrypt.wasm");
  await compile(fresh);
  const built = readFileSync(fresh);
  const committed = readFileSync(ARTIFACT);
  if (Buffer.compare(built, committed) !== 0) {
    console.error(
      `${relative(root, ARTIFACT)} (${committed.length} bytes) is not what wasm/bcrypt builds now ` +
        `(${built.length} bytes, kept at ${fresh}): run \`npm run build:bcrypt\` and commit the result.`,
    );
    process.exit(1);
  }
  rmSync(dir, { recursive: true });
  console.log(`${relative(root, ARTIFACT)} matches its source (${built.length} bytes)`);
}
