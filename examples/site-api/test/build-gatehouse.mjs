// Vitest global setup of the `examples` project (vitest.config.ts): Gatehouse's production bundle,
// exactly as `wrangler deploy` would upload it (`--dry-run --outdir`), for the auxiliary worker the
// site-api example reaches through its GATEHOUSE service binding; built before the workers start.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const DIR = resolve(import.meta.dirname, "../../../.wrangler/examples/gatehouse");

/** wrangler uploads a `.wasm` import as a module of its own, named "<sha1 of its bytes>-<file name>". */
const BCRYPT_WASM = `${createHash("sha1")
  .update(readFileSync(resolve(import.meta.dirname, "../../../src/accounts/bcrypt.wasm")))
  .digest("hex")}-bcrypt.wasm`;

/** Miniflare's `modules` for the auxiliary worker: the entry first; read when the workers start. */
export const GATEHOUSE_MODULES = [
  { type: "ESModule", path: resolve(DIR, "test-entry.js") },
  { type: "ESModule", path: resolve(DIR, "index.js") },
  { type: "CompiledWasm", path: resolve(DIR, BCRYPT_WASM) },
];

/**
 * The auxiliary worker's entry: the bundle as is, with its one-line-per-request info logs dropped
 * (the workers project hides them with onConsoleLog, which does not reach auxiliary workers);
 * warnings and errors still print.
 */
const ENTRY = `import worker from "./index.js";
export * from "./index.js";
console.log = () => {};
export default worker;
`;

export default function buildGatehouse() {
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", DIR], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  writeFileSync(resolve(DIR, "test-entry.js"), ENTRY);
  if (!existsSync(resolve(DIR, BCRYPT_WASM))) {
    throw new Error(`wrangler's dry run wrote no ${BCRYPT_WASM}: has the naming of .wasm modules changed?`);
  }
}
