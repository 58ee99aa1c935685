#!/usr/bin/env node
// `npm run provision [-- --env <name>] [--config <file>]`: creates the D1 database, the KV namespace
// and the queues wrangler.toml declares, writes the new ids into wrangler.toml (nothing else in it
// changes) and prints how to enable D1 read replication. Safe to run again: a resource whose id is
// already in wrangler.toml is skipped, one that already exists in the account is looked up.
// The decisions are in provision-plan.mjs.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { parse } from "smol-toml";
import { readFlags } from "./dev-args.mjs";
import { createArgs, findExistingId, parseCreatedId, planProvision, replicationHint, writeIds } from "./provision-plan.mjs";

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
  return { ok: run.status === 0, output: `${run.stdout}\n${run.stderr}` };
}

const text = readFileSync(configPath, "utf8");
/** @type {{ kind: "d1" | "kv", binding: string, id: string }[]} */
const ids = [];
let failed = false;
let databaseId;
for (const resource of planProvision(parse(text), envName)) {
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
if (databaseId) console.log(`\n${replicationHint(databaseId)}`);
if (failed) {
  console.error("\nSome resources could not be provisioned (log in with `npx wrangler login`?); run again once fixed.");
  process.exit(1);
}
console.log("\nNext: set the vars and secrets `npm run preflight` asks for, then `npm run deploy`.");
