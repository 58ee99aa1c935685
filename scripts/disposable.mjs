#!/usr/bin/env node
// `npm run disposable -- load <file> [--remote]`: puts a list of disposable email domains (one a
// line, `#` comments allowed) into AUTH_KV under `disposable-domains`, where the worker reads it when
// BLOCK_DISPOSABLE_EMAIL is on (src/accounts/disposable-email.ts). Local dev storage by default,
// `--remote` for the deployed namespace; `--persist-to`, `--config`, `--env` reach wrangler as is.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const USAGE = "usage: npm run disposable -- load <file> [--remote] [--persist-to <dir>] [--config <file>] [--env <name>]";
const [command, file, ...rest] = process.argv.slice(2);
if (command !== "load" || !file) {
  console.error(USAGE);
  process.exit(2);
}
const passThrough = [];
let remote = false;
for (let i = 0; i < rest.length; i++) {
  const arg = rest[i];
  if (arg === "--remote") remote = true;
  else if (["--persist-to", "--config", "--env"].includes(arg) && rest[i + 1]) passThrough.push(arg, rest[++i]);
  else {
    console.error(`unknown argument: ${arg}\n${USAGE}`);
    process.exit(2);
  }
}

const domains = new Set();
for (const line of readFileSync(file, "utf8").split("\n")) {
  const domain = line.replace(/#.*/, "").trim().toLowerCase().replace(/\.$/, "");
  if (!domain) continue;
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain)) {
    console.error(`not a domain: ${JSON.stringify(line)}`);
    process.exit(1);
  }
  domains.add(domain);
}
if (domains.size === 0) {
  console.error(`${file}: no domains`);
  process.exit(1);
}
const text = [...domains].sort().join("\n") + "\n";
// KV values are at most 25 MiB: far more than any published list.
const out = join(mkdtempSync(join(tmpdir(), "gatehouse-")), "disposable-domains.txt");
writeFileSync(out, text);

const wrangler = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");
const args = [
  "kv",
  "key",
  "put",
  "disposable-domains",
  "--binding",
  "AUTH_KV",
  "--path",
  out,
  remote ? "--remote" : "--local",
  ...passThrough,
];
const run = spawnSync(process.execPath, [wrangler, ...args], { env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, stdio: "inherit" });
if (run.status !== 0) {
  console.error("wrangler kv key put failed (see above).");
  process.exit(1);
}
console.log(
  `Loaded ${domains.size} disposable domains into AUTH_KV (${remote ? "remote" : "local"}); isolates pick them up within 5 minutes.`,
);
