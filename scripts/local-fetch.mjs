// HTTP to a local dev server by any loopback name. Node's resolver does not resolve `*.localhost`
// (browsers and curl do, RFC 6761), so `npm run seed -- --url http://auth.example.localhost:8787`
// would fail with ENOTFOUND through `fetch`; node:http with our own lookup sends the request to
// 127.0.0.1 while keeping the name in the Host header, which the dev server checks.
import { lookup as dnsLookup } from "node:dns";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/**
 * `dns.lookup` that answers `*.localhost` with 127.0.0.1 (where `wrangler dev` listens).
 * @type {import("node:net").LookupFunction}
 */
export function lookupLocalhost(hostname, options, callback) {
  if (hostname !== "localhost" && !hostname.endsWith(".localhost")) return dnsLookup(hostname, options, callback);
  if (options.all) return /** @type {any} */ (callback)(null, [{ address: "127.0.0.1", family: 4 }]);
  return callback(null, "127.0.0.1", 4);
}

/**
 * A small `fetch` for scripts: the status and the body as text.
 * @param {string} url
 * @param {{ method?: string, headers?: Record<string, string>, body?: string }} [init]
 * @returns {Promise<{ status: number, text: string }>}
 */
export function localFetch(url, { method = "GET", headers = {}, body } = {}) {
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, { method, headers, lookup: lookupLocalhost, timeout: 30_000 }, (res) => {
      const chunks = /** @type {Buffer[]} */ ([]);
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${target.origin} in 30 s`)));
    req.on("error", reject);
    req.end(body);
  });
}
