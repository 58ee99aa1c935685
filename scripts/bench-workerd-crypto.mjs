// The CPU part of the benches' floors, measured in workerd itself (not Node, whose PBKDF2 and ECDSA
// differ): a throw-away worker run with wrangler's own miniflare (so the same workerd as `wrangler
// dev`) does N operations per request. Inside a request workerd's clock stands still during CPU
// work (a timing side-channel defence), so each cost is timed from outside, as
// (time of a request doing N − time of one doing none) ÷ N, the median of several interleaved rounds.
// Used by scripts/bench.mjs and scripts/bench-geo.mjs.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { perOperationMs } from "./bench-report.mjs";

/** How many operations one timed request does: enough that each request's fixed cost is small beside them. */
const OPERATIONS = {
  /** PBKDF2-HMAC-SHA256 at the production count (src/config/passwords.ts), 32 bytes, as a login verifies. */
  pbkdf2: 10,
  /** ES256 signature of a JWT-sized message (access and ID tokens). */
  es256_sign: 200,
  /** ES256 / P-256 ECDSA verification (an access token's check; a passkey assertion). */
  es256_verify: 200,
  /** HMAC-SHA1 of 8 bytes (one TOTP code). */
  hmac_sha1: 200,
  /** SHA-256 of a short string (token, code and client-secret hashes). */
  sha256: 200,
};

const WORKER = `
const enc = new TextEncoder();
const message = enc.encode("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0." + "x".repeat(300));
let keys;
async function setup() {
  if (keys) return keys;
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, message);
  const pbkdf2 = await crypto.subtle.importKey("raw", enc.encode("correct horse battery staple 42"), "PBKDF2", false, ["deriveBits"]);
  const hmac = await crypto.subtle.importKey("raw", crypto.getRandomValues(new Uint8Array(20)), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  keys = { pair, signature, pbkdf2, hmac };
  return keys;
}
const ops = {
  pbkdf2: (k) => crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: crypto.getRandomValues(new Uint8Array(16)), iterations: 100000 }, k.pbkdf2, 256),
  es256_sign: (k) => crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, k.pair.privateKey, message),
  es256_verify: async (k) => { if (!(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, k.pair.publicKey, k.signature, message))) throw new Error("verify"); },
  hmac_sha1: (k) => crypto.subtle.sign("HMAC", k.hmac, new Uint8Array(8)),
  sha256: () => crypto.subtle.digest("SHA-256", enc.encode("oauth-token:abcdefghijklmnopqrstuvwxyz0123456789")),
};
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const op = ops[url.searchParams.get("op")];
    if (!op) return new Response("unknown op", { status: 400 });
    const k = await setup();
    const n = Number(url.searchParams.get("n"));
    for (let i = 0; i < n; i++) await op(k);
    return new Response("ok");
  },
};
`;

/** wrangler's own miniflare (a dependency of wrangler, not of this project): the workerd `wrangler dev` runs. */
async function wranglersMiniflare() {
  const fromProject = createRequire(import.meta.url);
  const fromWrangler = createRequire(fromProject.resolve("wrangler/package.json"));
  return import(pathToFileURL(fromWrangler.resolve("miniflare")).href);
}

/** The compatibility date the worker runs with (wrangler.toml), so the throw-away worker gets the same runtime behaviour. */
function compatibilityDate() {
  const match = /^compatibility_date = "([^"]+)"$/m.exec(readFileSync("wrangler.toml", "utf8"));
  if (!match) throw new Error("no compatibility_date in wrangler.toml");
  return match[1];
}

/**
 * Milliseconds of CPU per operation in workerd, for each name of {@link OPERATIONS} asked for.
 * @param {{ only?: (keyof typeof OPERATIONS)[], rounds?: number, log?: (message: string) => void }} [options]
 * @returns {Promise<Record<string, number>>}
 */
export async function workerdCryptoMs({
  only = /** @type {(keyof typeof OPERATIONS)[]} */ (Object.keys(OPERATIONS)),
  rounds = 7,
  log = () => {},
} = {}) {
  const { Miniflare, convertV4MiniflareOptions } = await wranglersMiniflare();
  const mf = new Miniflare(convertV4MiniflareOptions({ modules: true, script: WORKER, compatibilityDate: compatibilityDate() }));
  try {
    await mf.ready;
    const time = async (op, n) => {
      const start = performance.now();
      const res = await mf.dispatchFetch(`http://workerd.local/?op=${op}&n=${n}`);
      const body = await res.text();
      if (res.status !== 200) throw new Error(`workerd ${op}: ${res.status} ${body}`);
      return performance.now() - start;
    };
    const result = {};
    for (const op of only) {
      const n = OPERATIONS[op];
      await time(op, 0); // set-up (key generation) and the first request's warm-up
      await time(op, n);
      const empty = [];
      const full = [];
      // Interleaved, so load from elsewhere on the machine hits both kinds of request alike.
      for (let round = 0; round < rounds; round++) {
        empty.push(await time(op, 0));
        full.push(await time(op, n));
      }
      result[op] = perOperationMs(full, empty, n);
      log(`workerd ${op}: ${result[op].toFixed(op === "pbkdf2" ? 1 : 3)} ms per operation (${rounds} rounds of ${n})`);
    }
    return result;
  } finally {
    await mf.dispose();
  }
}
