import { env } from "cloudflare:workers";
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  UnsecuredJWT,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createDb } from "../src/db/client";
import { readConfig } from "../src/config";
import { signAccessToken, verifyAccessToken } from "../src/sessions/access-tokens";
import type { StoredPrivateJwk } from "../src/db/signing-keys";
import { unwrapJwk } from "../src/kernel/key-wrapping";
import { loadKeySet } from "../src/kernel/signing-keys";
import { call, problem, register } from "./helpers";

/** Access tokens, the JWKS, forged tokens and the signing-key sources. */

const ISSUER = "https://auth.example.com";
const AUDIENCE = "gatehouse";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function jwks(): Promise<{ keys: JWK[] }> {
  const res = await call("/.well-known/jwks.json");
  expect(res.status).toBe(200);
  return res.json<{ keys: JWK[] }>();
}

/** The worker's own active private key, read from D1, to forge tokens that differ in one claim only. */
async function realSigningKey() {
  const row = await env.DB.prepare(
    "SELECT kid, alg, private_jwk FROM signing_keys WHERE status = 'active' AND alg = 'ES256' ORDER BY created_at LIMIT 1",
  ).first<{
    kid: string;
    alg: string;
    private_jwk: string;
  }>();
  if (!row) throw new Error("no signing key yet");
  // Stored wrapped under the dev-only secret (the tests run in dev mode): see test/signing-key-wrapping.test.ts.
  const privateJwk = await unwrapJwk(JSON.parse(row.private_jwk) as StoredPrivateJwk, row.kid, undefined);
  return { kid: row.kid, key: await importJWK(privateJwk, "ES256") };
}

interface ForgeOptions {
  header?: Partial<JWTHeaderParameters>;
  claims?: JWTPayload;
  key?: CryptoKey | Uint8Array;
}

/** A token like the worker's, with the given header/claim changes, signed with `key` (default: the real key). */
async function forge(base: string, options: ForgeOptions = {}): Promise<string> {
  const real = await realSigningKey();
  const claims = { ...decodeJwt(base), ...options.claims };
  const header = { alg: "ES256", kid: real.kid, typ: "at+jwt", ...options.header } as JWTHeaderParameters;
  return new SignJWT(claims).setProtectedHeader(header).sign(options.key ?? real.key);
}

async function expectInvalid(token: string, code = "invalid_token") {
  const res = await call("/api/v1/users/me", { token });
  await problem(res, 401, code);
  expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
}

describe("access token", () => {
  it("has an ES256 header with kid and typ at+jwt, and the contract's claims with 15 minutes of life", async () => {
    const user = await register();
    const header = decodeProtectedHeader(user.accessToken);
    expect(header).toEqual({ alg: "ES256", kid: expect.any(String) as unknown, typ: "at+jwt" });
    const claims = decodeJwt(user.accessToken);
    expect(Object.keys(claims).sort()).toEqual(["amr", "aud", "auth_time", "exp", "fresh", "iat", "iss", "jti", "roles", "sid", "sub"]);
    // A sign-in (registration signs in) issued it: fresh authentication; a refresh's token never is.
    expect(claims.fresh).toBe(true);
    // Registration proved the password: auth_time is the moment the token was issued.
    expect(claims.auth_time).toBe(claims.iat);
    expect(claims.iss).toBe(ISSUER);
    expect(claims.aud).toBe(AUDIENCE);
    expect(claims.sub).toBe(user.userId);
    expect(claims.exp! - claims.iat!).toBe(900);
    const session = await env.DB.prepare("SELECT user_id FROM sessions WHERE id = ?").bind(claims.sid).first<{ user_id: string }>();
    expect(session?.user_id).toBe(user.userId);
  });

  it("verifies with the published JWKS alone (as another service would)", async () => {
    const user = await register();
    const { payload, protectedHeader } = await jwtVerify(user.accessToken, createLocalJWKSet(await jwks()), {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["ES256"],
      typ: "at+jwt",
    });
    expect(payload.sub).toBe(user.userId);
    expect(protectedHeader.kid).toBeDefined();
  });

  it("gives every token its own jti, even two of one session issued in the same second", async () => {
    // Over HTTP: a refresh's token names the same user and session as the registration's.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const user = await register();
    const refreshed = await call("/api/v1/auth/refresh", { body: { refresh_token: user.refreshToken } });
    expect(refreshed.status).toBe(200);
    const first = decodeJwt(user.accessToken);
    const second = decodeJwt((await refreshed.json<{ access_token: string }>()).access_token);
    expect({ sub: second.sub, sid: second.sid, iat: second.iat }).toEqual({ sub: first.sub, sid: first.sid, iat: first.iat });
    expect(second.jti).not.toBe(first.jti);

    // Signed from identical input at the same instant, the jti alone tells two tokens apart.
    const config = readConfig(env);
    const keys = await loadKeySet(createDb(env.DB), config, Date.now());
    const now = new Date();
    const subject = { userId: user.userId, sessionId: String(first.sid), authTime: now, amr: ["pwd"] };
    const [a, b] = await Promise.all([signAccessToken(keys, config, subject, now), signAccessToken(keys, config, subject, now)]);
    const { jti: jtiA, ...restA } = a.claims;
    const { jti: jtiB, ...restB } = b.claims;
    expect(restA).toEqual(restB);
    expect(jtiA).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(jtiB).not.toBe(jtiA);
    expect(decodeJwt(a.token).jti).toBe(jtiA);
  });
});

describe("JWKS", () => {
  it("publishes only public parts, with public caching", async () => {
    const res = await call("/.well-known/jwks.json");
    expect(res.headers.get("cache-control")).toMatch(/public.*max-age=\d+/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const { keys } = await res.json<{ keys: JWK[] }>();
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys) {
      for (const member of ["d", "p", "q", "dp", "dq", "qi", "k"]) expect(key, member).not.toHaveProperty(member);
      expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig", kid: expect.any(String) as unknown });
    }
  });

  it("generates the key once, keeps it in D1 and serves the same kid every time", async () => {
    const first = await jwks();
    const [second, third] = await Promise.all([jwks(), jwks()]);
    const kids = first.keys.map((k) => k.kid);
    expect(second.keys.map((k) => k.kid)).toEqual(kids);
    expect(third.keys.map((k) => k.kid)).toEqual(kids);
    const { results } = await env.DB.prepare("SELECT kid FROM signing_keys WHERE status = 'active' AND alg = 'ES256'").all<{
      kid: string;
    }>();
    expect(results).toHaveLength(1);
    expect(kids).toContain(results[0]?.kid);
    const user = await register();
    expect(decodeProtectedHeader(user.accessToken).kid).toBe(results[0]?.kid);
  });
});

describe("forged and tampered tokens are 401 invalid_token", () => {
  it("modified payload, same signature", async () => {
    const other = await register();
    const user = await register();
    const [h, , s] = user.accessToken.split(".");
    const payload = btoa(JSON.stringify({ ...decodeJwt(user.accessToken), sub: other.userId }))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    await expectInvalid(`${h}.${payload}.${s}`);
    await expectInvalid(`${user.accessToken.slice(0, -4)}AAAA`);
  });

  it("signature from another key with the real kid", async () => {
    const user = await register();
    const { privateKey } = await generateKeyPair("ES256");
    await expectInvalid(await forge(user.accessToken, { key: privateKey }));
  });

  it("alg none", async () => {
    const user = await register();
    const real = await realSigningKey();
    const unsecured = new UnsecuredJWT(decodeJwt(user.accessToken)).encode();
    await expectInvalid(unsecured);
    // The same with the real kid and typ in the header.
    const header = btoa(JSON.stringify({ alg: "none", kid: real.kid, typ: "at+jwt" })).replace(/=+$/, "");
    await expectInvalid(`${header}.${user.accessToken.split(".")[1]}.`);
  });

  it("HS256 signed with the public key as the secret", async () => {
    const user = await register();
    const { keys } = await jwks();
    const publicJwk = keys.find((k) => k.kid === decodeProtectedHeader(user.accessToken).kid)!;
    for (const secret of [JSON.stringify(publicJwk), `${publicJwk.x}${publicJwk.y}`]) {
      await expectInvalid(await forge(user.accessToken, { header: { alg: "HS256" }, key: new TextEncoder().encode(secret) }));
    }
  });

  it("wrong audience, wrong issuer, wrong typ, missing claims (signed with the real key)", async () => {
    const user = await register();
    expect((await call("/api/v1/users/me", { token: await forge(user.accessToken) })).status).toBe(200);
    await expectInvalid(await forge(user.accessToken, { claims: { aud: "another-service" } }));
    await expectInvalid(await forge(user.accessToken, { claims: { iss: "https://evil.example.com" } }));
    await expectInvalid(await forge(user.accessToken, { header: { typ: "JWT" } }));
    await expectInvalid(await forge(user.accessToken, { header: { typ: undefined } }));
    await expectInvalid(await forge(user.accessToken, { claims: { sid: undefined } }));
  });

  it("unknown kid, and jku/jwk headers that would point elsewhere (never fetched)", async () => {
    const user = await register();
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const attackerJwk = { ...(await exportJWK(publicKey)), kid: "attacker", alg: "ES256" };
    await expectInvalid(await forge(user.accessToken, { header: { kid: "attacker" }, key: privateKey }));
    await expectInvalid(await forge(user.accessToken, { header: { kid: undefined }, key: privateKey }));
    await expectInvalid(
      await forge(user.accessToken, { header: { kid: "attacker", jku: "https://evil.example.com/jwks.json" }, key: privateKey }),
    );
    await expectInvalid(await forge(user.accessToken, { header: { kid: "attacker", jwk: attackerJwk }, key: privateKey }));
    // The real kid with an embedded attacker key: the embedded key must not be used.
    await expectInvalid(
      await forge(user.accessToken, { header: { jwk: attackerJwk, jku: "https://evil.example.com/k" }, key: privateKey }),
    );
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("expired: 16 minutes later the token is 401 token_expired", async () => {
    const user = await register();
    expect((await call("/api/v1/users/me", { token: user.accessToken })).status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 16 * 60 * 1000);
    await expectInvalid(user.accessToken, "token_expired");
  });

  it("only the Authorization header counts: not the query string, not a refresh token, not other schemes", async () => {
    const user = await register();
    // A token in the query string is no credential at all: the bare challenge (RFC 6750 §3.1).
    const inQuery = await call(`/api/v1/users/me?access_token=${user.accessToken}`);
    await problem(inQuery, 401, "authentication_required");
    expect(inQuery.headers.get("www-authenticate")).toBe("Bearer");
    await expectInvalid(user.refreshToken);
    await problem(await call("/api/v1/users/me", { headers: { Authorization: `Basic ${user.accessToken}` } }), 401, "invalid_token");
    await problem(await call("/api/v1/users/me"), 401, "authentication_required");
    await expectInvalid("not.a.jwt");
  });

  it("a deleted user's token stops working", async () => {
    const user = await register();
    await env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(Date.now(), user.userId).run();
    await expectInvalid(user.accessToken);
  });
});

describe("keys from JWT_PRIVATE_JWKS", () => {
  async function privateSet(kids: string[]): Promise<{ keys: JWK[] }> {
    const keys: JWK[] = [];
    for (const kid of kids) {
      const { privateKey } = await generateKeyPair("ES256", { extractable: true });
      keys.push({ ...(await exportJWK(privateKey)), kid, alg: "ES256" });
    }
    return { keys };
  }

  function configWith(secret: string) {
    return { ...readConfig(env), privateJwks: secret };
  }

  it("signs with the first key, publishes all, and never publishes private parts", async () => {
    const set = await privateSet(["2026-01", "2025-12"]);
    const config = configWith(JSON.stringify(set));
    const keys = await loadKeySet(createDb(env.DB), config, Date.now());
    expect(keys.signing.kid).toBe("2026-01");
    expect([...keys.byKid.keys()].sort()).toEqual(["2025-12", "2026-01"]);
    expect(keys.publicJwks.map((k) => k.kid)).toEqual(["2026-01", "2025-12"]);
    for (const jwk of keys.publicJwks) expect(jwk).not.toHaveProperty("d");

    const now = new Date();
    const { token } = await signAccessToken(keys, config, { userId: "u1", sessionId: "s1", authTime: now, amr: ["pwd"] }, now);
    expect(decodeProtectedHeader(token).kid).toBe("2026-01");
    const verified = await jwtVerify(token, createLocalJWKSet({ keys: keys.publicJwks }), {
      issuer: config.issuer,
      audience: config.audience,
    });
    expect(verified.payload.sub).toBe("u1");
    // A token signed by the second (older) key still verifies: rotation without downtime.
    const older = await new SignJWT({ sid: "s1" })
      .setProtectedHeader({ alg: "ES256", kid: "2025-12", typ: "at+jwt" })
      .setIssuer(config.issuer)
      .setAudience(config.audience)
      .setSubject("u1")
      .setJti("j1")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(await importJWK(set.keys[1]!, "ES256"));
    expect((await verifyAccessToken(keys, config, older, now)).sub).toBe("u1");
  });

  it("a verified token is remembered per key set: a key set without its key refuses it, and it still expires on time", async () => {
    const both = await privateSet(["2026-02", "2026-01"]);
    const config = configWith(JSON.stringify(both));
    const keys = await loadKeySet(createDb(env.DB), config, Date.now());
    const now = new Date();
    const { token, claims } = await signAccessToken(keys, config, { userId: "u2", sessionId: "s2", authTime: now, amr: ["pwd"] }, now);
    expect((await verifyAccessToken(keys, config, token, now)).sub).toBe("u2");
    expect(await verifyAccessToken(keys, config, token, now)).toEqual(await verifyAccessToken(keys, config, token, now));
    // The signing key retired: a set that lacks it refuses the token although this isolate verified it.
    const withoutIt = configWith(JSON.stringify({ keys: [both.keys[1]!] }));
    const older = await loadKeySet(createDb(env.DB), withoutIt, Date.now());
    await expect(verifyAccessToken(older, withoutIt, token, now)).rejects.toMatchObject({ code: "invalid_token" });
    // Remembered or not, it expires at `exp` to the second.
    const expiry = new Date(claims.exp * 1000);
    await expect(verifyAccessToken(keys, config, token, new Date(expiry.getTime() - 1000))).resolves.toMatchObject({ sub: "u2" });
    await expect(verifyAccessToken(keys, config, token, expiry)).rejects.toMatchObject({ code: "token_expired" });
  });

  it("a different secret takes effect at once, even one of the same length", async () => {
    const a = await privateSet(["key-a"]);
    const b = await privateSet(["key-b"]);
    const db = createDb(env.DB);
    const fromA = await loadKeySet(db, configWith(JSON.stringify(a)), Date.now());
    const fromB = await loadKeySet(db, configWith(JSON.stringify(b)), Date.now());
    expect(fromA.signing.kid).toBe("key-a");
    expect(fromB.signing.kid).toBe("key-b");
  });

  it("refuses public-only or symmetric keys and bad JSON", async () => {
    const db = createDb(env.DB);
    const { publicKey } = await generateKeyPair("ES256", { extractable: true });
    const publicOnly = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "pub" }] });
    await expect(loadKeySet(db, configWith(publicOnly), Date.now())).rejects.toThrow(/private/);
    await expect(loadKeySet(db, configWith(JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }] })), Date.now())).rejects.toThrow();
    await expect(loadKeySet(db, configWith("{not json"), Date.now())).rejects.toThrow(/JSON/);
    await expect(loadKeySet(db, configWith(JSON.stringify({ keys: [] })), Date.now())).rejects.toThrow();
  });
});
