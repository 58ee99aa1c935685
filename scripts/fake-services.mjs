#!/usr/bin/env node
// `npm run fakes [-- --port 8788]`: loopback stand-ins for the two outside services the attack
// protection calls, so `npm run dev` can exercise them with no network and no account:
// - a k-anonymity range API (Have I Been Pwned's shape, padded) that knows BREACHED_SAMPLES;
// - Turnstile's siteverify, which accepts Cloudflare's documented dummy token (what the widget
//   returns with the test site keys) and refuses anything else.
// - the external sign-in providers of fake-oidc.mjs: a generic OpenID provider and stand-ins for
//   the Google, Apple, Microsoft and GitHub presets, each with its quirks.
// It prints the `npm run dev` line that points the worker at it. Nothing here is used in a deploy.
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createFakeProviders, FAKE_APPLE, FAKE_CLIENTS } from "./fake-oidc.mjs";

export { FAKE_APPLE, FAKE_CLIENTS } from "./fake-oidc.mjs";

/** Passwords the fake range API reports as breached (long enough to pass the password policy). */
export const BREACHED_SAMPLES = ["correct horse battery staple", "password1234567", "qwertyuiop123456"];
/** The token Turnstile's test keys make the widget return (developers.cloudflare.com/turnstile/troubleshooting/testing/). */
export const DUMMY_TOKEN = "XXXX.DUMMY.TOKEN.XXXX";
/** Zero-count lines per answer, like the real API's `Add-Padding: true`. */
const PADDING = 100;

/**
 * Starts the fakes on 127.0.0.1 (`port` 0: any free port).
 * @param {{ port?: number }} [options]
 */
export async function startFakeServices({ port = 0 } = {}) {
  const breached = BREACHED_SAMPLES.map((p) => createHash("sha1").update(p).digest("hex").toUpperCase());
  /** @type {ReturnType<typeof createFakeProviders> | undefined} */
  let providers;
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    try {
      if (await providers?.handle(req, res, path)) return;
    } catch (error) {
      console.error(error);
      if (!res.headersSent) res.writeHead(500).end();
      return;
    }
    const range = /^\/range\/([0-9A-Fa-f]{5})$/.exec(path);
    if (req.method === "GET" && range) {
      const prefix = range[1].toUpperCase();
      const lines = breached.filter((h) => h.startsWith(prefix)).map((h) => `${h.slice(5)}:${1000 + h.charCodeAt(6)}`);
      for (let i = 0; i < PADDING; i++) lines.push(`${createHash("sha1").update(`${prefix}${i}`).digest("hex").slice(5).toUpperCase()}:0`);
      res.writeHead(200, { "content-type": "text/plain" }).end(lines.join("\r\n"));
      return;
    }
    if (req.method === "POST" && path === "/turnstile/v0/siteverify") {
      const chunks = [];
      req.on("data", (chunk) => chunks.push(chunk));
      req.on("end", async () => {
        const form = await new Response(Buffer.concat(chunks), { headers: { "content-type": req.headers["content-type"] ?? "" } })
          .formData()
          .catch(() => new FormData());
        const success = Boolean(form.get("secret")) && form.get("response") === DUMMY_TOKEN;
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ success, "error-codes": success ? [] : ["invalid-input-response"] }));
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : port}`;
  providers = createFakeProviders(url);
  return {
    url,
    /** Issuers of the fake providers (`github`: the base of its OAuth 2.0 endpoints). */
    issuers: providers.issuers,
    /** Apple's client-secret signing key (PKCS#8 PEM), for OAUTH_CLIENT_SECRETS. */
    applePrivateKeyPem: providers.applePrivateKeyPem,
    rangeUrl: `${url}/range/`,
    verifyUrl: `${url}/turnstile/v0/siteverify`,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/**
 * OAUTH_PROVIDERS and OAUTH_CLIENT_SECRETS that point every preset, and a generic OpenID provider
 * (`fake`), at these fakes (dev mode only: the worker refuses endpoint overrides elsewhere). Google
 * links by verified address; the others do not. Microsoft is a multi-tenant app (`{tenantid}`).
 * @param {{ url: string, issuers: Record<string, string>, applePrivateKeyPem: string }} fakes
 */
export function fakeProviderVars(fakes) {
  const { issuers } = fakes;
  const client = { client_id: "gatehouse-dev" };
  const tenant = issuers.microsoft;
  const providers = [
    { id: "google", ...client, issuer: issuers.google, link_by_verified_email: true },
    {
      id: "github",
      ...client,
      issuer: issuers.github,
      authorization_endpoint: `${issuers.github}/login/oauth/authorize`,
      token_endpoint: `${issuers.github}/login/oauth/access_token`,
      userinfo_endpoint: `${issuers.github}/user`,
    },
    { id: "apple", ...client, team_id: FAKE_APPLE.teamId, key_id: FAKE_APPLE.keyId, issuer: issuers.apple },
    {
      id: "microsoft",
      ...client,
      issuer: `${fakes.url}/microsoft/{tenantid}/v2.0`,
      authorization_endpoint: `${tenant}/authorize`,
      token_endpoint: `${tenant}/token`,
      jwks_uri: `${tenant}/jwks`,
    },
    { id: "fake", type: "oidc", ...client, issuer: issuers.oidc, name: "Fake ID" },
  ];
  const secret = FAKE_CLIENTS["gatehouse-dev"];
  const secrets = { google: secret, github: secret, microsoft: secret, fake: secret, apple: fakes.applePrivateKeyPem };
  return { OAUTH_PROVIDERS: JSON.stringify(providers), OAUTH_CLIENT_SECRETS: JSON.stringify(secrets) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8788" } } });
  const fakes = await startFakeServices({ port: Number(values.port) });
  const providerVars = fakeProviderVars(fakes);
  const shellQuote = (/** @type {string} */ text) => `'${text.replaceAll("'", "'\\''")}'`;
  console.log(`Fake range API and Turnstile siteverify on ${fakes.url}. In another terminal:

  npm run dev -- --var BREACHED_PASSWORD_CHECK:register --var HIBP_API_URL:${fakes.rangeUrl} \\
    --var TURNSTILE_SITE_KEY:1x00000000000000000000AA --var TURNSTILE_SECRET:1x0000000000000000000000000000000AA \\
    --var TURNSTILE_VERIFY_URL:${fakes.verifyUrl}

Breached passwords it knows: ${BREACHED_SAMPLES.map((p) => JSON.stringify(p)).join(", ")}.
Under attack, send "turnstile_token": "${DUMMY_TOKEN}" to pass the challenge.

Sign-in providers (clients ${Object.keys(FAKE_CLIENTS).join(", ")}; the secret of gatehouse-dev is ${FAKE_CLIENTS["gatehouse-dev"]}):
${Object.entries(fakes.issuers)
  .map(([name, issuer]) => `  ${name.padEnd(9)} ${issuer}`)
  .join("\n")}
To sign in with all of them (Google, GitHub, Apple, Microsoft and "Fake ID", a generic OpenID provider), add:
  --var ${shellQuote(`OAUTH_PROVIDERS:${providerVars.OAUTH_PROVIDERS}`)} \\
  --var ${shellQuote(`OAUTH_CLIENT_SECRETS:${providerVars.OAUTH_CLIENT_SECRETS}`)}
The providers approve at once as a default person; set what the next sign-in asserts with
  curl -X POST -H 'content-type: application/json' \\
    -d '{"sub":"u1","email":"a@example.com","email_verified":true}' ${fakes.issuers.oidc}/_test/next-identity
Ctrl-C stops it.`);
}
