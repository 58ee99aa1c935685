#!/usr/bin/env node
// `npm run disposable -- load <file> [--remote]`: puts a list of disposable email domains (one a
// line, `#` comments allowed) into AUTH_KV under `disposable-domains`, where the worker reads it when
// BLOCK_DISPOSABLE_EMAIL is on (src/accounts/disposable-email.ts). Local dev storage by default,
// `--remote` for the deployed namespace; `--persist-to`, `--config`, `--env` reach wrangler as is.
import { readFileSync } from "node:fs";
import { kvFlags, putKv } from "./kv-put.mjs";

const USAGE = "usage: npm run disposable -- load <file> [--remote] [--persist-to <dir>] [--config <file>] [--env <name>]";
const [command, file, ...rest] = process.argv.slice(2);
if (command !== "load" || !file) {
  console.error(USAGE);
  process.exit(2);
}
const target = kvFlags(rest, USAGE);

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
putKv("disposable-domains", text, target);
console.log(
  `Loaded ${domains.size} disposable domains into AUTH_KV (${target.remote ? "remote" : "local"}); isolates pick them up within 5 minutes.`,
);
