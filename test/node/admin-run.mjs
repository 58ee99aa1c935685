// Node-side plumbing for the end-to-end test of `npm run admin` (types in admin-run.d.mts: the
// project's type check has no @types/node).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");
const wranglerJs = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");

/**
 * Runs a Node script of the project (path relative to the root) on this Node, as `npm run` would;
 * killed after `timeoutMs` (default 60 s).
 * @param {string} script
 * @param {string[]} args
 * @param {{ timeoutMs?: number }} [options]
 */
export function runNodeScript(script, args, { timeoutMs = 60_000 } = {}) {
  const run = spawnSync(process.execPath, [resolve(root, script), ...args], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: timeoutMs,
  });
  return { status: run.status, stdout: run.stdout ?? "", stderr: run.stderr ?? "" };
}

/**
 * `wrangler <args>`; throws with its output unless it succeeds.
 * @param {string[]} args
 */
export function wrangler(args) {
  const run = runNodeScript(wranglerJs, args);
  if (run.status !== 0) throw new Error(`wrangler ${args.slice(0, 4).join(" ")} failed:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}
