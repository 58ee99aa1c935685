#!/usr/bin/env node
// `npm run admin -- grant <email>` / `revoke <email>`: makes an account a superuser (or not) without
// writing SQL, against the local dev database by default, `--remote` for the deployed one.
// `--persist-to`, `--config`, `--env` reach wrangler as with `npm run dev`. The plan (and the SQL) is
// made in admin-args.mjs; this file only runs it.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describeOutcome, planAdmin, USAGE, UsageError } from "./admin-args.mjs";
import { localStateDir } from "./dev-args.mjs";

let plan;
try {
  plan = planAdmin(process.argv.slice(2), { now: Date.now(), auditId: randomUUID() });
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`${error.message}\n\n${USAGE}`);
  process.exit(2);
}

// wrangler's own entry point on this Node, without a shell: the SQL travels as one argument,
// whatever the platform's quoting rules.
const wrangler = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
const run = spawnSync(process.execPath, [wrangler, ...plan.args], { env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });

const stdout = run.stdout ?? "";
let output;
try {
  output = JSON.parse(stdout);
} catch {
  output = undefined;
}
if (run.status !== 0 || !Array.isArray(output)) {
  const reason = output?.error?.text ?? run.error?.message ?? stdout.trim();
  console.error(`wrangler d1 execute failed${reason ? `: ${reason}` : " (see above)"}.`);
  if (!plan.remote) {
    console.error(
      "Is the local database migrated? `npm run dev` (or wrangler d1 migrations apply DB --local) does it. " +
        "If your dev server runs with --persist-to, --config or --env, pass the same flags here.",
    );
  }
  process.exit(1);
}
const outcome = describeOutcome(plan, output);
(outcome.ok ? console.log : console.error)(outcome.message);
if (!plan.remote) {
  // A dev server started with other flags has a database of its own: say which one this was.
  const where = localStateDir(plan.args);
  console.log(
    `(local D1 database in ${where}; a dev server started with another --persist-to, --config or --env has its own: pass the same flags here)`,
  );
}
process.exit(outcome.ok ? 0 : 1);
