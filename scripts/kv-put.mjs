// Putting an operator's file into AUTH_KV with the project's wrangler: `npm run disposable -- load`
// and `npm run i18n -- override` share it. Local dev storage by default, `--remote` for the deployed
// namespace; `--persist-to`, `--config` and `--env` reach wrangler as they are.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/**
 * The flags after a command's own arguments; exits 2 with `usage` on anything else.
 * @param {string[]} flags
 * @param {string} usage
 * @returns {{ remote: boolean, passThrough: string[] }}
 */
export function kvFlags(flags, usage) {
  /** @type {string[]} */
  const passThrough = [];
  let remote = false;
  for (let i = 0; i < flags.length; i++) {
    const arg = flags[i];
    if (arg === "--remote") remote = true;
    else if (["--persist-to", "--config", "--env"].includes(arg) && flags[i + 1]) passThrough.push(arg, flags[++i]);
    else {
      console.error(`unknown argument: ${arg}\n${usage}`);
      process.exit(2);
    }
  }
  return { remote, passThrough };
}

/**
 * Puts `text` under `key` in AUTH_KV (through a file: KV values may be far larger than a command
 * line); exits 1 when wrangler fails.
 * @param {string} key
 * @param {string} text
 * @param {{ remote: boolean, passThrough: string[] }} target
 */
export function putKv(key, text, { remote, passThrough }) {
  const out = join(mkdtempSync(join(tmpdir(), "gatehouse-")), "value");
  writeFileSync(out, text);
  const wrangler = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");
  const args = ["kv", "key", "put", key, "--binding", "AUTH_KV", "--path", out, remote ? "--remote" : "--local", ...passThrough];
  const run = spawnSync(process.execPath, [wrangler, ...args], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    stdio: "inherit",
  });
  if (run.status !== 0) {
    console.error("wrangler kv key put failed (see above).");
    process.exit(1);
  }
}
