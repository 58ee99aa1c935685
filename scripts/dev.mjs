#!/usr/bin/env node
// `npm run dev [-- wrangler dev flags]`: applies the local D1 migrations, then serves the worker
// with the dev outbox switched on. Needs no Cloudflare account and no hand-written secrets:
// signing keys are generated on first use and kept in the local D1. Which flags reach which
// command, and when PUBLIC_URL/JWT_ISSUER follow --port/--ip, is decided in dev-args.mjs.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { planDev } from "./dev-args.mjs";

const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "" };
const options = { env, shell: process.platform === "win32" };

/** @param {string} path */
function readFile(path) {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code === "ENOENT") return undefined;
    throw error;
  }
}

const plan = planDev(process.argv.slice(2), { cwd: process.cwd(), readFile, env });

// `--local` never asks for confirmation interactively when stdin is not a TTY; feed it "y" anyway.
const migrate = spawnSync("npx", ["wrangler", ...plan.migrate], { ...options, input: "y\n", stdio: ["pipe", "inherit", "inherit"] });
if (migrate.status !== 0) {
  console.error("Applying local D1 migrations failed; see the output above.");
  process.exit(migrate.status ?? 1);
}

if (plan.derived.length > 0) console.log(`${plan.derived.join(" and ")} set to ${plan.publicUrl} (override with --var or in .dev.vars)`);
// Browsers offer WebAuthn only on a secure context, which plain http is only under localhost names.
console.log(
  /^https?:\/\/(localhost|[^/]+\.localhost)(:|\/|$)/.test(plan.publicUrl)
    ? `Passkeys work at ${plan.publicUrl} (open that, not 127.0.0.1: the browser binds passkeys to the name).`
    : `Passkeys need a localhost name: open http://localhost (or *.localhost), not ${plan.publicUrl}.`,
);
const child = spawn("npx", ["wrangler", ...plan.dev], { ...options, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
