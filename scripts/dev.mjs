#!/usr/bin/env node
// `npm run dev [-- wrangler dev flags]`: applies the local D1 migrations, then serves the worker
// with the dev outbox switched on. Needs no Cloudflare account and no hand-written secrets:
// signing keys are generated on first use and kept in the local D1.
import { spawn, spawnSync } from "node:child_process";

const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "" };
const wrangler = (args, options = {}) => ["wrangler", args, { stdio: "inherit", env, shell: process.platform === "win32", ...options }];

const [cmd, migrateArgs, migrateOptions] = wrangler(["d1", "migrations", "apply", "DB", "--local"]);
// `--local` never asks for confirmation interactively when stdin is not a TTY; feed it "y" anyway.
const migrate = spawnSync("npx", [cmd, ...migrateArgs], { ...migrateOptions, input: "y\n", stdio: ["pipe", "inherit", "inherit"] });
if (migrate.status !== 0) {
  console.error("Applying local D1 migrations failed; see the output above.");
  process.exit(migrate.status ?? 1);
}

const passthrough = process.argv.slice(2);
const [devCmd, devArgs, devOptions] = wrangler(["dev", "--var", "DEV_OUTBOX:true", ...passthrough]);
const child = spawn("npx", [devCmd, ...devArgs], devOptions);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
