#!/usr/bin/env node
// `npm run preflight [-- --env <name>] [--config <file>] [--force]`: checks that a deploy cannot go
// wrong quietly (localhost URLs, placeholder ids, no mail, missing secrets) and says what to set.
// `npm run deploy` runs it first. The decisions are in preflight-checks.mjs; this file reads
// wrangler.toml and asks wrangler for the deployed secrets' names (never their values).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { parse } from "smol-toml";
import { readFlags } from "./dev-args.mjs";
import { checkDeploy, formatReport, parseSecretList } from "./preflight-checks.mjs";

const argv = process.argv.slice(2);
const flags = readFlags(argv);
const envName = flags.get("env")?.at(-1);
const configPath = flags.get("config")?.at(-1) ?? "wrangler.toml";
const force = argv.includes("--force");

// A wrangler earlier on PATH wins (npm run puts the project's first; the tests put a fake there).
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", PATH: `${process.env.PATH}${delimiter}${resolve("node_modules/.bin")}` };

const config = parse(readFileSync(configPath, "utf8"));
const where = ["--config", configPath, ...(envName ? ["--env", envName] : [])];
const listed = spawnSync("wrangler", ["secret", "list", "--format", "json", ...where], { env, encoding: "utf8" });
/** @type {string[] | null} */
let secrets = null;
let secretsError;
if (listed.error) secretsError = `could not run wrangler: ${listed.error.message}`;
else if (listed.status !== 0) secretsError = errorLine(`${listed.stderr}\n${listed.stdout}`) || `exit ${listed.status}`;
else {
  try {
    secrets = parseSecretList(listed.stdout);
  } catch {
    secretsError = "wrangler secret list printed no JSON list";
  }
}

const report = checkDeploy(config, { envName, secrets, secretsError });
const { text, ok } = formatReport(report, { force, target: `${config.name}${envName ? ` (env ${envName})` : ""}, ${configPath}` });
console.log(text);
process.exit(ok ? 0 : 1);

/**
 * wrangler's error line (`✘ [ERROR] …`), else the first non-empty line: what the operator must read.
 * @param {string} text
 */
function errorLine(text) {
  const lines = text
    .split("\n")
    // eslint-disable-next-line no-control-regex -- wrangler colours its output even into a pipe
    .map((l) => l.replace(/\x1b\[[0-9;]*m/g, "").trim())
    .filter(Boolean);
  const error = lines.find((l) => l.includes("[ERROR]"));
  return (error ?? lines[0] ?? "").replace(/^✘\s*\[ERROR\]\s*/, "");
}
