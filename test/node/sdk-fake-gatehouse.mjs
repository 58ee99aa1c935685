// A loopback stand-in for the two Gatehouse endpoints a resource server calls (the JWKS and
// `POST /oauth/introspect`), for the tests of gatehouse/server (test/node/sdk-*.test.ts). Real HTTP
// on 127.0.0.1, so the verifier's fetch, timeouts and caching run as they do against Gatehouse. In
// .mjs because the project's type check has no Node types; sdk-fake-gatehouse.d.mts types it.
import { createServer } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

/**
 * A signing key as Gatehouse holds one: `publicJwk` is what its JWKS publishes; `sign` makes a token
 * with the access tokens' header (`alg`, `kid`, `typ: at+jwt`), `header` overriding it.
 * @param {string} kid
 * @param {"ES256" | "EdDSA" | "RS256" | "PS256"} [alg]
 * @returns {Promise<import("./sdk-fake-gatehouse.d.mts").SigningKey>}
 */
export async function newSigningKey(kid, alg = "ES256") {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    kid,
    alg,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" },
    sign: (payload, header = {}) => new SignJWT(payload).setProtectedHeader({ alg, kid, typ: "at+jwt", ...header }).sign(privateKey),
  };
}

/**
 * The claims both kinds of token carry, valid `lifetime` seconds from now, with `claims` and then
 * `overrides` over them (a value of undefined removes the claim).
 * @param {Record<string, unknown>} claims
 * @param {number} lifetime
 * @param {Record<string, unknown>} overrides
 */
function payloadOf(claims, lifetime, overrides) {
  const iat = Math.floor(Date.now() / 1000);
  const payload = {
    sub: "user-1",
    jti: crypto.randomUUID(),
    iat,
    exp: iat + lifetime,
    auth_time: iat,
    amr: ["pwd"],
    ...claims,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== undefined));
}

/**
 * The claims of a Gatehouse session token (src/sessions/access-tokens.ts signs the same), valid for
 * 15 minutes from now; `overrides` replace them (a value of undefined removes the claim).
 * @param {{ iss: string, aud: string }} target
 * @param {Record<string, unknown>} [overrides]
 */
export function sessionPayload(target, overrides = {}) {
  return payloadOf({ ...target, sid: "session-1", roles: [] }, 900, overrides);
}

/**
 * The claims of an access token Gatehouse issues to an OAuth client (src/oidc/tokens.ts), 5 minutes.
 * @param {{ iss: string, aud: string, client_id: string }} target
 * @param {Record<string, unknown>} [overrides]
 */
export function oauthPayload(target, overrides = {}) {
  return payloadOf({ ...target, scope: "openid read", sid: "family-1", gid: "grant-1", ep: 0 }, 300, overrides);
}

/**
 * @param {{ clientId?: string, clientSecret?: string }} [options]
 * @returns {Promise<import("./sdk-fake-gatehouse.d.mts").FakeGatehouse>}
 */
export async function startFakeGatehouse(options = {}) {
  /** @type {import("./sdk-fake-gatehouse.d.mts").FakeGatehouse} */
  const fake = {
    url: "",
    keys: [],
    jwksStatus: 200,
    jwksDelayMs: 0,
    jwksRequests: 0,
    hosts: [],
    client: { id: options.clientId ?? "gc_resource", secret: options.clientSecret ?? "resource secret" },
    revoked: new Set(),
    introspectionStatus: 200,
    introspections: [],
    close: () => new Promise((done) => server.close(() => done())),
  };

  const server = createServer((req, res) => {
    fake.hosts.push(req.headers.host ?? "");
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://fake").pathname;
      if (req.method === "GET" && path === "/.well-known/jwks.json") return jwks(res);
      if (req.method === "POST" && path === "/oauth/introspect") return introspect(req, Buffer.concat(chunks).toString(), res);
      res.writeHead(404).end();
    });
  });

  /** @param {import("node:http").ServerResponse} res */
  function jwks(res) {
    fake.jwksRequests += 1;
    setTimeout(() => {
      if (fake.jwksStatus !== 200) return res.writeHead(fake.jwksStatus).end("unavailable");
      res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=300" });
      res.end(JSON.stringify({ keys: fake.keys }));
    }, fake.jwksDelayMs);
  }

  /**
   * As Gatehouse's: a confidential client's credentials (Basic or in the form), `{active}` for the token.
   * @param {import("node:http").IncomingMessage} req
   * @param {string} body
   * @param {import("node:http").ServerResponse} res
   */
  function introspect(req, body, res) {
    const form = new URLSearchParams(body);
    const authorization = req.headers.authorization ?? null;
    fake.introspections.push({ authorization, form: Object.fromEntries(form) });
    if (fake.introspectionStatus !== 200) return res.writeHead(fake.introspectionStatus).end();
    let id = form.get("client_id");
    let secret = form.get("client_secret");
    if (authorization?.startsWith("Basic ")) {
      const [user = "", pass = ""] = Buffer.from(authorization.slice(6), "base64").toString().split(":");
      id = decodeURIComponent(user);
      secret = decodeURIComponent(pass);
    }
    if (id !== fake.client.id || secret !== fake.client.secret) {
      res.writeHead(401, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: "invalid_client" }));
    }
    const token = form.get("token") ?? "";
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(fake.revoked.has(token) ? { active: false } : { active: true, client_id: fake.client.id }));
  }

  await new Promise((done) => server.listen(0, "127.0.0.1", () => done(undefined)));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  fake.url = `http://127.0.0.1:${port}`;
  return fake;
}
