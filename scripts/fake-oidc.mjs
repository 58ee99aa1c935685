// Loopback stand-ins for the external sign-in providers (issue #31), mounted by fake-services.mjs:
// - a generic OpenID provider (discovery, authorize with auto-approve and `form_post`, token with
//   PKCE S256 and client authentication, JWKS, userinfo), once per preset with its quirks:
//   `/oidc` (ES256), `/google` (RS256), `/apple` (`form_post` required for scopes, no `iss` in the
//   response, `email_verified` a string, a client secret that is an ES256 JWT, the `user` field),
//   `/microsoft/<tenant>/v2.0` (issuer per tenant, `tid`, an `email` never marked verified);
// - GitHub's OAuth 2.0 (`/github`): a numeric id, `/user` and `/user/emails` with verified/primary
//   flags, errors as 200 with an `error` field.
// What the next sign-in asserts is set per test: POST `<issuer>/_test/next-identity` (JSON), or an
// `identity` query parameter (JSON) on authorize. `tamper` in it breaks one thing on purpose.
// node:crypto only; state lives in memory. Nothing here is used in a deploy.
import { createHash, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";

/** The clients the fakes know: a confidential one and a public one (PKCE only). */
export const FAKE_CLIENTS = { "gatehouse-dev": "gatehouse-dev-secret", "gatehouse-public": null };
/** Apple's client secret is signed by this team's key, which the fake makes at start. */
export const FAKE_APPLE = { teamId: "FAKETEAM01", keyId: "FAKEKEY001", clientId: "gatehouse-dev" };

const b64u = (input) => Buffer.from(input).toString("base64url");
const json = (value) => b64u(JSON.stringify(value));

/** A signing key for one provider: ES256 (P-256) or RS256 (2048-bit), with its public JWK. */
function signingKey(alg, kid) {
  const { privateKey, publicKey } =
    alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { alg, kid, privateKey, jwk: { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" } };
}

function signJwt(key, claims) {
  const input = `${json({ alg: key.alg, kid: key.kid, typ: "JWT" })}.${json(claims)}`;
  const options = key.alg === "ES256" ? { key: key.privateKey, dsaEncoding: "ieee-p1363" } : key.privateKey;
  return `${input}.${b64u(sign("sha256", Buffer.from(input), options))}`;
}

/** Verifies an ES256 JWT against a public key; its claims, or undefined. */
function verifyEs256(token, publicKey) {
  const [header, payload, signature] = String(token).split(".");
  if (!signature) return undefined;
  const ok = verify(
    "sha256",
    Buffer.from(`${header}.${payload}`),
    { key: publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(signature, "base64url"),
  );
  return ok ? JSON.parse(Buffer.from(payload, "base64url").toString()) : undefined;
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Reads a request body as URLSearchParams (forms) or an object (JSON). */
async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString();
  if ((req.headers["content-type"] ?? "").includes("application/json")) return text ? JSON.parse(text) : {};
  return Object.fromEntries(new URLSearchParams(text));
}

function send(res, status, value, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers }).end(JSON.stringify(value));
}

const DEFAULT_IDENTITY = { sub: "fake-user-1", email: "person@example.com", email_verified: true, name: "Fake Person" };

/**
 * One provider at `issuer` (its path prefix is `base`). `quirks`: `alg`, `iss` (send RFC 9207 `iss`),
 * `formPostOnly` (Apple), `appleSecret` (client secret is an ES256 JWT), `github`, `claims(identity)`.
 */
function createProvider({ issuer, base, quirks }) {
  const key = signingKey(quirks.alg ?? "ES256", `${base.replaceAll("/", "") || "op"}-1`);
  const rogue = signingKey(key.alg, key.kid);
  const queue = [];
  const codes = new Map();
  const tokens = new Map();

  function identity(param) {
    const next = param ? JSON.parse(param) : queue.shift();
    return { ...DEFAULT_IDENTITY, ...next };
  }

  function authorize(url, res) {
    const q = url.searchParams;
    const redirect = q.get("redirect_uri");
    if (!redirect || !(q.get("client_id") in FAKE_CLIENTS))
      return send(res, 400, { error: "invalid_request", error_description: "unknown client or no redirect_uri" });
    const formPost = q.get("response_mode") === "form_post";
    if (quirks.formPostOnly && q.get("scope") && !formPost) {
      return send(res, 400, {
        error: "invalid_request",
        error_description: "response_mode must be form_post when name or email scope is requested",
      });
    }
    const who = identity(q.get("identity"));
    const code = randomBytes(16).toString("base64url");
    codes.set(code, {
      clientId: q.get("client_id"),
      redirect,
      challenge: q.get("code_challenge"),
      method: q.get("code_challenge_method"),
      nonce: q.get("nonce"),
      scope: q.get("scope") ?? "",
      identity: who,
      expires: Date.now() + 60_000,
    });
    const params = { code, ...(q.get("state") === null ? {} : { state: q.get("state") }) };
    const iss = who.tamper?.iss ?? (quirks.iss === false || who.tamper?.omit_iss ? undefined : issuer);
    if (iss !== undefined) params.iss = iss;
    if (quirks.formPostOnly && who.name && formPost)
      params.user = JSON.stringify({
        name: { firstName: who.name.split(" ")[0], lastName: who.name.split(" ").slice(1).join(" ") },
        email: who.email,
      });
    if (formPost) {
      const inputs = Object.entries(params)
        .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
        .join("");
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      return res.end(
        `<!doctype html><title>Signing in</title><body onload="document.forms[0].submit()"><form method="post" action="${escape(redirect)}">${inputs}<noscript><button>Continue</button></noscript></form>`,
      );
    }
    const to = new URL(redirect);
    for (const [k, v] of Object.entries(params)) to.searchParams.set(k, v);
    res.writeHead(302, { location: to.href, "cache-control": "no-store" }).end();
  }

  /** The client's id if it authenticated (or is public and sent its id), else undefined. */
  function client(req, form) {
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? "");
    const [id, secret] = basic
      ? Buffer.from(basic[1], "base64").toString().split(":").map(decodeURIComponent)
      : [form.client_id, form.client_secret];
    if (!(id in FAKE_CLIENTS)) return undefined;
    if (quirks.appleSecret) {
      const claims = verifyEs256(secret, quirks.appleSecret);
      const ok =
        claims &&
        claims.iss === FAKE_APPLE.teamId &&
        claims.sub === id &&
        [].concat(claims.aud).includes("https://appleid.apple.com") &&
        claims.exp > Date.now() / 1000;
      return ok ? id : undefined;
    }
    return FAKE_CLIENTS[id] === null ? (secret === undefined ? id : undefined) : secret === FAKE_CLIENTS[id] ? id : undefined;
  }

  async function token(req, res) {
    const form = await body(req);
    // GitHub answers errors with 200 and an `error` field.
    const fail = (error, status = 400) => send(res, quirks.github ? 200 : status, { error });
    const id = client(req, form);
    if (!id) return fail("invalid_client", 401);
    const grant = codes.get(form.code);
    codes.delete(form.code);
    if (form.grant_type !== "authorization_code" && !quirks.github) return fail("unsupported_grant_type");
    if (!grant || grant.expires < Date.now() || grant.clientId !== id || grant.redirect !== form.redirect_uri)
      return fail(quirks.github ? "bad_verification_code" : "invalid_grant");
    if (grant.challenge || form.code_verifier) {
      const computed = form.code_verifier && createHash("sha256").update(form.code_verifier).digest("base64url");
      if (grant.method !== "S256" || computed !== grant.challenge) return fail("invalid_grant");
    }
    const who = grant.identity;
    const accessToken = randomBytes(24).toString("base64url");
    tokens.set(accessToken, who);
    if (quirks.github) return send(res, 200, { access_token: accessToken, token_type: "bearer", scope: grant.scope });
    const now = Math.floor(Date.now() / 1000);
    const nonce = who.tamper?.nonce ?? grant.nonce ?? undefined;
    const claims = {
      iss: who.tamper?.id_token_iss ?? issuer,
      sub: String(who.sub),
      aud: id,
      iat: now,
      exp: now + 300,
      auth_time: now,
      ...(nonce === undefined ? {} : { nonce }),
      ...(who.amr ? { amr: who.amr } : {}),
      ...(quirks.claims ?? ((w) => ({ email: w.email, email_verified: w.email_verified, name: w.name })))(who),
    };
    const idToken = signJwt(who.tamper?.signature === "bad" ? rogue : key, claims);
    send(res, 200, { access_token: accessToken, token_type: "Bearer", expires_in: 3600, scope: grant.scope, id_token: idToken });
  }

  function bearer(req) {
    return tokens.get(/^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1]);
  }

  function discovery() {
    return {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      userinfo_endpoint: `${issuer}/userinfo`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ["code"],
      response_modes_supported: ["query", "form_post"],
      grant_types_supported: ["authorization_code"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: [key.alg],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
      scopes_supported: ["openid", "email", "profile"],
      authorization_response_iss_parameter_supported: quirks.iss !== false,
    };
  }

  /** Answers a request under this provider's prefix; false when the path is not its own. */
  return async function handle(req, res, path) {
    if (!path.startsWith(`${base}/`)) return false;
    const sub = path.slice(base.length);
    const url = new URL(req.url, issuer);
    if (req.method === "POST" && sub === "/_test/next-identity") {
      queue.push(await body(req));
      send(res, 204, {});
    } else if (req.method === "GET" && sub === "/.well-known/openid-configuration" && !quirks.github) send(res, 200, discovery());
    else if (req.method === "GET" && sub === (quirks.github ? "/login/oauth/authorize" : "/authorize")) authorize(url, res);
    else if (req.method === "POST" && sub === (quirks.github ? "/login/oauth/access_token" : "/token")) await token(req, res);
    else if (req.method === "GET" && sub === "/jwks") send(res, 200, { keys: [key.jwk] }, { "content-type": "application/jwk-set+json" });
    else if (sub === "/userinfo" || (quirks.github && sub.startsWith("/user"))) {
      const who = bearer(req);
      if (!who) send(res, 401, { message: "Bad credentials" }, { "www-authenticate": 'Bearer error="invalid_token"' });
      else if (!quirks.github)
        send(res, 200, { sub: String(who.sub), email: who.email, email_verified: who.email_verified, name: who.name });
      else if (sub === "/user")
        send(res, 200, { id: Number(who.sub) || 4242, login: who.login ?? "fake-person", name: who.name, email: who.public_email ?? null });
      else if (sub === "/user/emails")
        send(res, 200, who.emails ?? [{ email: who.email, primary: true, verified: who.email_verified === true, visibility: "private" }]);
      else send(res, 404, { message: "Not Found" });
    } else send(res, 404, { error: "not_found" });
    return true;
  };
}

/**
 * The providers under `url` (the fake services' origin). Returns the request handler and the
 * issuers (each the base of its endpoints), plus Apple's key for OAUTH_CLIENT_SECRETS.
 */
export function createFakeProviders(url) {
  const apple = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const tenant = "fa4e0000-0000-4000-8000-00000000cafe";
  const providers = {
    oidc: createProvider({ issuer: `${url}/oidc`, base: "/oidc", quirks: { alg: "ES256" } }),
    google: createProvider({ issuer: `${url}/google`, base: "/google", quirks: { alg: "RS256" } }),
    apple: createProvider({
      issuer: `${url}/apple`,
      base: "/apple",
      quirks: {
        alg: "RS256",
        iss: false,
        formPostOnly: true,
        appleSecret: apple.publicKey,
        // Apple sends `email_verified` (and `is_private_email`) as strings.
        claims: (w) => ({ email: w.email, email_verified: String(w.email_verified), is_private_email: "false" }),
      },
    }),
    microsoft: createProvider({
      issuer: `${url}/microsoft/${tenant}/v2.0`,
      base: `/microsoft/${tenant}/v2.0`,
      // Entra ID: `tid`, an `email` a tenant admin can set to anything, no `email_verified`.
      quirks: { alg: "RS256", claims: (w) => ({ tid: tenant, email: w.email, name: w.name, preferred_username: w.email }) },
    }),
    github: createProvider({ issuer: `${url}/github`, base: "/github", quirks: { github: true, iss: false } }),
  };
  const handlers = Object.values(providers);
  return {
    issuers: Object.fromEntries(
      Object.keys(providers).map((name) => [name, name === "microsoft" ? `${url}/microsoft/${tenant}/v2.0` : `${url}/${name}`]),
    ),
    applePrivateKeyPem: apple.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    /** Answers the request if a provider owns its path; false otherwise. */
    async handle(req, res, path) {
      for (const handle of handlers) if (await handle(req, res, path)) return true;
      return false;
    },
  };
}
