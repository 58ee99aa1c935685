#!/usr/bin/env node
// `npm run provision [-- --env <name>] [--config <file>]`: creates the D1 database, the KV namespace
// and the queues wrangler.toml declares, writes the new ids into wrangler.toml (nothing else in it
// changes) and switches D1 read replication on (through the Cloudflare API, with wrangler's login or
// CLOUDFLARE_API_TOKEN; CLOUDFLARE_ACCOUNT_ID, account_id in wrangler.toml or the token's only
// account names the account). Safe to run again: a resource whose id is
// already in wrangler.toml is skipped, one that already exists in the account is looked up.
// The decisions are in provision-plan.mjs.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { parse } from "smol-toml";
import { readFlags } from "./dev-args.mjs";
import {
  createArgs,
  enableReplicationRequest,
  findExistingId,
  parseCreatedId,
  planProvision,
  replicationHint,
  replicationMode,
  writeIds,
} from "./provision-plan.mjs";

const flags = readFlags(process.argv.slice(2));
const envName = flags.get("env")?.at(-1);
const configPath = flags.get("config")?.at(-1) ?? "wrangler.toml";
// A wrangler earlier on PATH wins (npm run puts the project's first; the tests put a fake there).
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", PATH: `${process.env.PATH}${delimiter}${resolve("node_modules/.bin")}` };
const where = ["--config", configPath];

/** @param {string[]} args */
function wrangler(args) {
  const run = spawnSync("wrangler", [...args, ...where], { env, encoding: "utf8" });
  if (run.error) throw run.error;
  return { ok: run.status === 0, stdout: run.stdout, output: `${run.stdout}\n${run.stderr}` };
}

/** The first line that says what went wrong. @param {string} text */
const firstLine = (text) =>
  text
    .split("\n")
    .find((line) => line.trim() !== "")
    ?.trim() ?? "no output";

/**
 * Turns D1 read replication on for the database unless it already is. Returns a failure's reason, or
 * null when it is on.
 * @param {string} name
 * @param {string} databaseId
 * @param {Record<string, any>} config
 * @returns {Promise<string | null>}
 */
async function ensureReadReplication(name, databaseId, config) {
  const info = wrangler(["d1", "info", name, "--json"]);
  const mode = info.ok ? replicationMode(info.stdout) : undefined;
  if (mode === "auto") {
    console.log(`✓ D1 read replication of ${name}: already on`);
    return null;
  }
  if (!info.ok) return `wrangler d1 info failed: ${firstLine(info.output)}`;
  let auth;
  if (process.env.CLOUDFLARE_API_TOKEN) auth = { type: "api_token", token: process.env.CLOUDFLARE_API_TOKEN };
  else {
    const token = wrangler(["auth", "token", "--json"]);
    if (!token.ok) return `no credentials for the Cloudflare API: ${firstLine(token.output)}`;
    auth = JSON.parse(token.stdout);
  }
  const apiBase = process.env.CLOUDFLARE_API_BASE_URL || "https://api.cloudflare.com/client/v4";
  const accountId = process.env.CLOUDFLARE_ACCOUNT_ID || config.account_id || (await onlyAccount(apiBase, auth));
  if (!accountId) return "no account: set CLOUDFLARE_ACCOUNT_ID (the token reaches several accounts, or none)";
  const { url, init } = enableReplicationRequest({ apiBase, accountId, databaseId, auth });
  const res = await fetch(url, init);
  const body = /** @type {any} */ (await res.json().catch(() => null));
  if (!res.ok || body?.success === false) {
    const reason = body?.errors?.map((/** @type {any} */ e) => e.message).join("; ") || `HTTP ${res.status}`;
    return `the Cloudflare API refused: ${reason}`;
  }
  console.log(`✓ D1 read replication of ${name}: switched on (mode auto)`);
  return null;
}

/**
 * The one account the credentials reach, if exactly one.
 * @param {string} apiBase
 * @param {{ type: string, token?: string, key?: string, email?: string }} auth
 */
async function onlyAccount(apiBase, auth) {
  const { init } = enableReplicationRequest({ apiBase, accountId: "-", databaseId: "-", auth });
  const res = await fetch(`${apiBase.replace(/\/+$/, "")}/accounts`, { headers: init.headers });
  const body = /** @type {any} */ (await res.json().catch(() => null));
  return res.ok && Array.isArray(body?.result) && body.result.length === 1 ? String(body.result[0].id) : undefined;
}

const text = readFileSync(configPath, "utf8");
/** @type {{ kind: "d1" | "kv", binding: string, id: string }[]} */
const ids = [];
let failed = false;
let databaseId;
let databaseName;
const parsed = parse(text);
for (const resource of planProvision(parsed, envName)) {
  if (resource.kind === "d1") databaseName = resource.name;
  if (resource.kind !== "queue" && resource.id) {
    console.log(`✓ ${resource.kind === "d1" ? "D1 database" : "KV namespace"} ${resource.name}: already in ${configPath} (${resource.id})`);
    if (resource.kind === "d1") databaseId = resource.id;
    continue;
  }
  const created = wrangler(createArgs(resource, envName));
  const exists = !created.ok && /already (exists|taken)|name is already|11009|10014/i.test(created.output);
  if (resource.kind === "queue") {
    if (created.ok || exists) console.log(`✓ queue ${resource.name}: ${created.ok ? "created" : "already exists"}`);
    else {
      failed = true;
      console.error(`✗ queue ${resource.name}: wrangler failed:\n${created.output.trim()}`);
    }
    continue;
  }
  let id = created.ok ? parseCreatedId(resource.kind, created.output) : undefined;
  if (exists) {
    const list = wrangler(resource.kind === "d1" ? ["d1", "list", "--json"] : ["kv", "namespace", "list"]);
    id = list.ok ? findExistingId(resource.kind, list.output, resource.name, envName) : undefined;
  }
  const label = `${resource.kind === "d1" ? "D1 database" : "KV namespace"} ${resource.name}`;
  if (!id) {
    failed = true;
    console.error(
      `✗ ${label}: ${created.ok ? "created, but no id found in wrangler's output" : "wrangler failed"}:\n${created.output.trim()}`,
    );
    continue;
  }
  console.log(`✓ ${label}: ${exists ? "exists" : "created"}, id ${id}`);
  ids.push({ kind: resource.kind, binding: resource.binding, id });
  if (resource.kind === "d1") databaseId = id;
}

if (ids.length > 0) {
  writeFileSync(configPath, writeIds(text, ids, envName));
  console.log(`\nWrote ${ids.length} id${ids.length === 1 ? "" : "s"} into ${configPath}.`);
}
if (databaseId && databaseName) {
  const refused = await ensureReadReplication(databaseName, databaseId, parsed);
  if (refused) {
    failed = true;
    console.error(`✗ D1 read replication of ${databaseName}: still off (${refused})\n\n${replicationHint(databaseId)}`);
  }
}
if (failed) {
  console.error("\nSome resources could not be provisioned (log in with `npx wrangler login`?); run again once fixed.");
  process.exit(1);
}
console.log("\nNext: set the vars and secrets `npm run preflight` asks for, then `npm run deploy`.");
