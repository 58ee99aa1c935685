#!/usr/bin/env node
// `npm run deploy [-- --env <name>] [--config <file>] [--force] [other wrangler deploy flags]`: the
// preflight (scripts/preflight.mjs), then the remote D1 migrations, then `wrangler deploy`, each
// with the same --env/--config. --force lets the preflight report its problems without stopping
// the deploy; every other flag goes to `wrangler deploy`.
import { spawnSync } from "node:child_process";
import { delimiter, resolve } from "node:path";
import { readFlags } from "./dev-args.mjs";

const argv = process.argv.slice(2);
const flags = readFlags(argv);
const where = ["config", "env"].flatMap((name) => (flags.has(name) ? [`--${name}`, flags.get(name)?.at(-1) ?? ""] : []));
// A wrangler earlier on PATH wins (npm run puts the project's first; the tests put a fake there).
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", PATH: `${process.env.PATH}${delimiter}${resolve("node_modules/.bin")}` };

for (const [command, args] of [
  [process.execPath, [resolve(import.meta.dirname, "preflight.mjs"), ...argv]],
  ["wrangler", ["d1", "migrations", "apply", "DB", "--remote", ...where]],
  ["wrangler", ["deploy", ...argv.filter((word) => word !== "--force")]],
]) {
  const run = spawnSync(/** @type {string} */ (command), /** @type {string[]} */ (args), { stdio: "inherit", env });
  if (run.error) throw run.error;
  if (run.status !== 0) process.exit(run.status ?? 1);
}
