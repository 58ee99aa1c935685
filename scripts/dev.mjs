#!/usr/bin/env node
// `npm run dev [-- wrangler dev flags]`: applies the local D1 migrations, then serves the worker
// with the dev outbox switched on. Needs no Cloudflare account and no hand-written secrets:
// signing keys are generated on first use and kept in the local D1. Which flags reach which
// command, and when PUBLIC_URL/JWT_ISSUER follow --port/--ip, is decided in dev-args.mjs.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { localStateDir, planDev } from "./dev-args.mjs";
import { SiteError } from "./dev-site.mjs";

// No calls home: no metrics, and no fetch of the `request.cf` sample from workers.cloudflare.com,
// which offline prints a stack trace twice and delays the start (the worker gets miniflare's
// placeholder location instead, the same on every machine).
const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
  CI: process.env.CI ?? "",
};
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

let plan;
try {
  plan = planDev(process.argv.slice(2), { cwd: process.cwd(), readFile, env });
} catch (error) {
  if (!(error instanceof SiteError)) throw error;
  console.error(error.message);
  process.exit(2);
}

// `--local` never asks for confirmation interactively when stdin is not a TTY; feed it "y" anyway.
// Its output (a table per migration on a first start) is shown only when it fails.
const migrate = spawnSync("npx", ["wrangler", ...plan.migrate], { ...options, input: "y\n", encoding: "utf8" });
if (migrate.status !== 0) {
  process.stdout.write(migrate.stdout ?? "");
  process.stderr.write(migrate.stderr ?? "");
  console.error("Applying local D1 migrations failed; see the output above.");
  process.exit(migrate.status ?? 1);
}
console.log(describeMigrations(migrate.stdout ?? "", plan.migrate));

const child = spawn("npx", ["wrangler", ...plan.dev], { ...options, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
whenReady(new URL(plan.publicUrl).port || "8787").then((ready) => ready && printWelcome());

function printWelcome() {
  if (plan.site) {
    const { origin, rpId, vars, kept } = plan.site;
    const base = plan.publicUrl;
    console.log(
      [
        `Gatehouse for your site ${origin}:`,
        `  Gatehouse     ${base}  (sign-in pages ${base}/login, API reference ${base}/docs)`,
        `  Dev outbox    ${base}/dev/outbox  (every mail the worker sends, readable here)`,
        `  Your site     ${origin}  (allowed: CORS, cookie-mode CSRF, return_to)`,
        `  Passkeys      for ${rpId}: they work on both names`,
        `  Limits        per-address limits x100 for your own loopback address only (DEV_LOOPBACK_LIMITS, dev only)`,
        `  Set           ${Object.entries(vars)
          .map(([name, value]) => `${name}=${value}`)
          .join(" ")}${kept.length ? `; yours kept: ${kept.join(", ")}` : ""}`,
      ].join("\n"),
    );
  } else {
    if (plan.derived.length > 0)
      console.log(`${plan.derived.join(" and ")} set to ${plan.publicUrl} (override with --var or in .dev.vars)`);
    // Browsers offer WebAuthn only on a secure context, which plain http is only under localhost names.
    console.log(
      /^https?:\/\/(localhost|[^/]+\.localhost)(:|\/|$)/.test(plan.publicUrl)
        ? `Passkeys work at ${plan.publicUrl} (open that, not 127.0.0.1: the browser binds passkeys to the name).`
        : `Passkeys need a localhost name: open http://localhost (or *.localhost), not ${plan.publicUrl}.`,
    );
    console.log(
      "Building a site? npm run dev -- --site http://app.example.localhost:5173 serves this as its auth subdomain (docs/browser-sites.md).",
    );
  }
}

/**
 * Waits for the worker to answer on loopback, so the URLs to open come after wrangler's own start-up
 * lines instead of being buried above them. Gives up quietly after two minutes (a custom --ip).
 * @param {string} port
 */
async function whenReady(port) {
  for (let waited = 0; waited < 120_000; waited += 500) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return true;
    } catch {
      // Not listening yet.
    }
  }
  return false;
}

/**
 * One line for the migration run: how many were applied, and where the local database lives (the
 * state directory `npm run seed` and `npm run admin` must be given too when it is not the default).
 * @param {string} output wrangler's stdout
 * @param {string[]} args the migration command's arguments
 */
function describeMigrations(output, args) {
  const applied = /About to apply (\d+) migration/.exec(output)?.[1];
  const where = localStateDir(args);
  return `Local D1 database in ${where}: ${applied ? `${applied} migration(s) applied` : "migrations up to date"}.`;
}
