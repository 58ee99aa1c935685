#!/usr/bin/env node
// `npm run deploy [-- --env <name>] [--config <file>] [--force]`: the preflight (scripts/preflight.mjs),
// then the remote D1 migrations, then `wrangler deploy`, each with the same --env/--config.
// --force lets the preflight report its problems without stopping the deploy.
import { spawnSync } from "node:child_process";
import { readFlags } from "./dev-args.mjs";

const argv = process.argv.slice(2);
const flags = readFlags(argv);
const where = [
  ...(flags.has("config") ? ["--config", flags.get("config")?.at(-1) ?? ""] : []),
  ...(flags.has("env") ? ["--env", flags.get("env")?.at(-1) ?? ""] : []),
];
const options = { stdio: /** @type {const} */ ("inherit"), env: { ...process.env, WRANGLER_SEND_METRICS: "false" } };

for (const [command, args] of [
  ["node", ["scripts/preflight.mjs", ...argv]],
  ["npx", ["wrangler", "d1", "migrations", "apply", "DB", "--remote", ...where]],
  ["npx", ["wrangler", "deploy", ...where]],
]) {
  const run = spawnSync(/** @type {string} */ (command), /** @type {string[]} */ (args), options);
  if (run.status !== 0) process.exit(run.status ?? 1);
}
