// The decisions of `npm run provision` (scripts/provision.mjs), free of I/O for the node tests:
// which resources wrangler.toml needs, how to read the ids wrangler prints, and how to write them
// back into wrangler.toml without touching anything else in it.
import { PLACEHOLDER_IDS, resolveEnv } from "./preflight-checks.mjs";

/**
 * @typedef {{ kind: "d1", name: string, binding: string, id: string | undefined }
 *   | { kind: "kv", name: string, binding: string, id: string | undefined }
 *   | { kind: "queue", name: string }} Resource
 */

/**
 * The resources wrangler.toml (or its `[env.<name>]`) declares: the D1 database, the KV namespace,
 * and every queue named by a producer, consumer or dead-letter setting. `id` is the current one,
 * undefined when it is a placeholder (so it must be created).
 * @param {Record<string, any>} config parsed wrangler.toml
 * @param {string | undefined} envName
 * @returns {Resource[]}
 */
export function planProvision(config, envName) {
  const target = resolveEnv(config, envName);
  const real = (/** @type {unknown} */ id) => (typeof id === "string" && id !== "" && !PLACEHOLDER_IDS.includes(id) ? id : undefined);
  /** @type {Resource[]} */
  const resources = [];
  for (const db of target.d1) resources.push({ kind: "d1", name: db.database_name, binding: db.binding, id: real(db.database_id) });
  for (const ns of target.kv) resources.push({ kind: "kv", name: ns.binding, binding: ns.binding, id: real(ns.id) });
  const queues = (envName ? config.env?.[envName]?.queues : config.queues) ?? {};
  const names = new Set();
  for (const p of queues.producers ?? []) names.add(p.queue);
  for (const c of queues.consumers ?? []) {
    names.add(c.queue);
    if (c.dead_letter_queue) names.add(c.dead_letter_queue);
  }
  for (const name of names) resources.push({ kind: "queue", name });
  return resources;
}

/**
 * The wrangler arguments that create a resource.
 * @param {Resource} resource
 * @param {string | undefined} envName
 */
export function createArgs(resource, envName) {
  const env = envName ? ["--env", envName] : [];
  if (resource.kind === "d1") return ["d1", "create", resource.name, ...env];
  if (resource.kind === "kv") return ["kv", "namespace", "create", resource.name, ...env];
  return ["queues", "create", resource.name];
}

/**
 * The id in what `wrangler d1 create` / `kv namespace create` printed: a config snippet in TOML
 * (`database_id = "…"`) or JSON (`"database_id": "…"`).
 * @param {"d1" | "kv"} kind
 * @param {string} output
 */
export function parseCreatedId(kind, output) {
  const pattern = kind === "d1" ? /"?database_id"?\s*[=:]\s*"([0-9a-f-]{36})"/ : /(?:^|[\s{,])"?id"?\s*[=:]\s*"([0-9a-f]{32})"/m;
  return pattern.exec(output)?.[1];
}

/**
 * An already existing resource's id, from `wrangler d1 list --json` (`[{uuid, name}]`) or
 * `wrangler kv namespace list` (`[{id, title}]`; a namespace's title is `<env>-<binding>` with --env).
 * @param {"d1" | "kv"} kind
 * @param {string} output
 * @param {string} name
 * @param {string | undefined} envName
 */
export function findExistingId(kind, output, name, envName) {
  const start = output.indexOf("[");
  if (start < 0) return undefined;
  const list = /** @type {Record<string, string>[]} */ (JSON.parse(output.slice(start)));
  if (kind === "d1") return list.find((d) => d.name === name)?.uuid;
  const title = envName ? `${envName}-${name}` : name;
  return list.find((n) => n.title === title)?.id;
}

/**
 * wrangler.toml with the ids set: only the `database_id` / `id` line of the matching
 * `[[d1_databases]]` / `[[kv_namespaces]]` block (of `[env.<name>]` if given) changes; comments,
 * order and every other line stay as they are.
 * @param {string} text
 * @param {{ kind: "d1" | "kv", binding: string, id: string }[]} ids
 * @param {string | undefined} envName
 */
export function writeIds(text, ids, envName) {
  const lines = text.split("\n");
  const prefix = envName ? `env.${envName}.` : "";
  for (const { kind, binding, id } of ids) {
    const header = `[[${prefix}${kind === "d1" ? "d1_databases" : "kv_namespaces"}]]`;
    const key = kind === "d1" ? "database_id" : "id";
    let start = -1;
    for (let i = 0; i < lines.length; i++) {
      const line = /** @type {string} */ (lines[i]).trim();
      if (line === header) start = i;
      else if (line.startsWith("[")) start = -1;
      else if (start >= 0 && new RegExp(`^binding\\s*=\\s*"${binding}"`).test(line)) {
        const end = lines.findIndex((l, j) => j > start && l.trim().startsWith("["));
        const block = end < 0 ? lines.length : end;
        const at = lines.findIndex((l, j) => j > start && j < block && new RegExp(`^\\s*${key}\\s*=`).test(l));
        if (at >= 0) lines[at] = /** @type {string} */ (lines[at]).replace(/=\s*"[^"]*"/, `= "${id}"`);
        else lines.splice(i + 1, 0, `${key} = "${id}"`);
        break;
      }
    }
  }
  return lines.join("\n");
}

/**
 * The read-replication mode `wrangler d1 info <name> --json` reports: "auto" when it is on,
 * "disabled" when the database names none, undefined when the output is not D1's JSON.
 * @param {string} stdout
 * @returns {string | undefined}
 */
export function replicationMode(stdout) {
  try {
    const info = JSON.parse(stdout);
    if (!info || typeof info !== "object") return undefined;
    return typeof info.read_replication?.mode === "string" ? info.read_replication.mode : "disabled";
  } catch {
    return undefined;
  }
}

/**
 * The Cloudflare API request that turns read replication on (`mode: "auto"`: D1 places replicas
 * near the traffic). `auth` is what `wrangler auth token --json` prints.
 * @param {{ apiBase: string, accountId: string, databaseId: string, auth: { type: string, token?: string, key?: string, email?: string } }} args
 */
export function enableReplicationRequest({ apiBase, accountId, databaseId, auth }) {
  /** @type {Record<string, string>} */
  const headers = { "Content-Type": "application/json" };
  if (auth.type === "api_key") {
    headers["X-Auth-Key"] = String(auth.key);
    headers["X-Auth-Email"] = String(auth.email);
  } else headers.Authorization = `Bearer ${auth.token}`;
  return {
    url: `${apiBase.replace(/\/+$/, "")}/accounts/${encodeURIComponent(accountId)}/d1/database/${encodeURIComponent(databaseId)}`,
    init: { method: "PUT", headers, body: JSON.stringify({ read_replication: { mode: "auto" } }) },
  };
}

/**
 * How to switch on D1 read replication by hand, when provisioning could not.
 * @param {string} databaseId
 */
export function replicationHint(databaseId) {
  return [
    "Switch D1 read replication on, either:",
    "  · the dashboard: Storage & databases → D1 → your database → Settings → Read replication → Enable; or",
    "  · the API (needs an API token with D1 Write):",
    `      curl -X PUT "https://api.cloudflare.com/client/v4/accounts/$CLOUDFLARE_ACCOUNT_ID/d1/database/${databaseId}" \\`,
    '        -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN" -H "Content-Type: application/json" \\',
    '        -d \'{"read_replication":{"mode":"auto"}}\'',
    "  Gatehouse reads token checks, API-key requests and a login's account reads from a nearby replica",
    "  through the D1 Sessions API once it is on; without it each of those is a trip to the primary, and",
    "  `npm run preflight` refuses the deploy (docs/operations.md#d1-read-replication).",
  ].join("\n");
}
