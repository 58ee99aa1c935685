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
import { shippedLocales, shippedProblems, overrideProblems } from "./i18n-catalogues.mjs";
import { checkDeploy, formatReport, parseSecretList, PLACEHOLDER_IDS, resolveEnv } from "./preflight-checks.mjs";
import { replicationMode } from "./provision-plan.mjs";

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

const report = checkDeploy(config, { envName, secrets, secretsError, languages: readLanguages(), replication: readReplication() });
const { text, ok } = formatReport(report, { force, target: `${config.name}${envName ? ` (env ${envName})` : ""}, ${configPath}` });
console.log(text);
process.exit(ok ? 0 : 1);

/**
 * Whether the deployed D1 database has read replication on (`wrangler d1 info --json`); nothing to
 * ask while the database id is still a placeholder (that is a problem of its own).
 * @returns {import("./preflight-checks.mjs").ReplicationFinding | undefined}
 */
function readReplication() {
  const d1 = resolveEnv(config, envName).d1.find((/** @type {any} */ d) => d.binding === "DB");
  if (!d1?.database_name || !d1.database_id || PLACEHOLDER_IDS.includes(d1.database_id)) return undefined;
  const info = spawnSync("wrangler", ["d1", "info", d1.database_name, "--json", ...where], { env, encoding: "utf8" });
  if (info.error || info.status !== 0) {
    return { error: info.error?.message ?? (errorLine(`${info.stderr}\n${info.stdout}`) || `exit ${info.status}`) };
  }
  const mode = replicationMode(info.stdout);
  return mode === undefined ? { error: "wrangler d1 info printed no JSON" } : { mode };
}

/**
 * The catalogues' findings: the shipped files, and the overrides in the deployed AUTH_KV
 * (`i18n:overrides:<locale>`, listed and read with wrangler).
 * @returns {import("./preflight-checks.mjs").LanguageFindings}
 */
function readLanguages() {
  const locales = shippedLocales();
  const shipped = shippedProblems();
  const kv = (/** @type {string[]} */ ...args) =>
    spawnSync("wrangler", ["kv", "key", ...args, "--binding", "AUTH_KV", "--remote", ...where], { env, encoding: "utf8" });
  const listedKeys = kv("list", "--prefix", "i18n:overrides:");
  if (listedKeys.error || listedKeys.status !== 0) {
    const overridesError =
      listedKeys.error?.message ?? (errorLine(`${listedKeys.stderr}\n${listedKeys.stdout}`) || "wrangler kv key list failed");
    return { locales, shipped, overrides: null, overridesError };
  }
  /** @type {Record<string, string[]>} */
  const overrides = {};
  try {
    const start = listedKeys.stdout.indexOf("[");
    for (const { name } of JSON.parse(listedKeys.stdout.slice(Math.max(start, 0)))) {
      const locale = String(name).slice("i18n:overrides:".length);
      if (!locales.includes(locale)) {
        overrides[locale] = ["not a shipped locale: these overrides are never read"];
        continue;
      }
      const value = kv("get", String(name), "--text");
      if (value.status !== 0) {
        overrides[locale] = [`could not be read: ${errorLine(`${value.stderr}\n${value.stdout}`)}`];
        continue;
      }
      try {
        overrides[locale] = overrideProblems(JSON.parse(value.stdout), locale).problems;
      } catch {
        overrides[locale] = ["not JSON"];
      }
    }
  } catch {
    return { locales, shipped, overrides: null, overridesError: "wrangler kv key list printed no JSON list" };
  }
  return { locales, shipped, overrides };
}

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
