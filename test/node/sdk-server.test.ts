import { base64url, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createVerifier, problemFor, VerifyError, type VerifierOptions, type TokenKind } from "../../src/sdk/server";
import {
  newSigningKey,
  oauthPayload,
  sessionPayload,
  startFakeGatehouse,
  type FakeGatehouse,
  type SigningKey,
} from "./sdk-fake-gatehouse.mjs";

/**
 * gatehouse/server against a loopback Gatehouse (its JWKS and introspection endpoint over real
 * HTTP), with real ES256 keys: what it accepts, what it refuses and why, its key cache, and the
 * online check. The same verifier against the real worker: test/sdk-verify.test.ts.
 */
let fake: FakeGatehouse;
let key: SigningKey;
let target: { iss: string; aud: string };

beforeAll(async () => {
  fake = await startFakeGatehouse();
  key = await newSigningKey("key-1");
  target = { iss: fake.url, aud: "gatehouse" };
});
afterAll(() => fake.close());
afterEach(() => {
  fake.keys = [key.publicJwk];
  fake.jwksStatus = 200;
  fake.jwksDelayMs = 0;
  fake.introspectionStatus = 200;
  vi.useRealTimers();
});

function verifier<K extends TokenKind = "session">(options: Partial<VerifierOptions<K>> = {}) {
  fake.keys = [key.publicJwk];
  return createVerifier<K>({ issuer: fake.url, audience: "gatehouse", ...options });
}

/** The VerifyError a verification rejects with (fails the test when it resolves). */
async function refusal(promise: Promise<unknown>): Promise<VerifyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerifyError);
  return error as VerifyError;
}

describe("a valid Gatehouse session token", () => {
  it("resolves to its claims, normalised as the worker reads them, from a token, a header or a request", async () => {
    const verify = verifier();
    const payload = sessionPayload(target, { roles: ["editor"], fresh: true, amr: ["pwd", "otp", "mfa"] });
    const token = await key.sign(payload);
    const claims = await verify(token);
    expect(claims).toEqual({
      iss: fake.url,
      aud: "gatehouse",
      sub: "user-1",
      sid: "session-1",
      jti: payload.jti,
      iat: payload.iat,
      exp: payload.exp,
      auth_time: payload.auth_time,
      amr: ["pwd", "otp", "mfa"],
      roles: ["editor"],
      fresh: true,
    });
    expect(await verify(`Bearer ${token}`)).toEqual(claims);
    expect(await verify(`bearer   ${token} `)).toEqual(claims);
    expect(await verify(new Request("http://api.example", { headers: { authorization: `Bearer ${token}` } }))).toEqual(claims);
    // A refresh's token has no `fresh` claim and, signed before they existed, no roles or auth_time.
    const older = await key.sign(sessionPayload(target, { roles: undefined, auth_time: undefined, amr: undefined }));
    expect(await verify(older)).toMatchObject({ fresh: false, roles: [], auth_time: 0, amr: [] });
  });

  it("allows the clock tolerance it is given, and checks against the clock it is given", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await key.sign(sessionPayload(target, { iat: now - 905, exp: now - 5 }));
    expect((await refusal(verifier()(token))).code).toBe("token_expired");
    expect((await verifier({ clockTolerance: 10 })(token)).sub).toBe("user-1");
    expect((await verifier({ now: () => new Date((now - 60) * 1000) })(token)).sub).toBe("user-1");
  });
});

describe("refusals say which check failed", () => {
  it("no credential, another scheme, and strings that are not compact JWTs", async () => {
    const verify = verifier();
    const before = fake.jwksRequests;
    for (const input of [undefined, null, "", "  ", "Bearer", "Bearer "]) {
      expect(await refusal(verify(input))).toMatchObject({ code: "authentication_required", reason: "missing", status: 401 });
    }
    expect(await refusal(verify("Basic dXNlcjpwYXNz"))).toMatchObject({ code: "authentication_required", reason: "not_bearer" });
    for (const input of ["Bearer not-a-jwt", "a.b", "Bearer a.b.c.d", `Bearer ${"a".repeat(5000)}.${"b".repeat(5000)}.c`]) {
      expect(await refusal(verify(input))).toMatchObject({ code: "invalid_token", reason: "malformed" });
    }
    expect(fake.jwksRequests).toBe(before);
  });

  it("expired, another issuer, another audience, another typ, not yet valid, missing claims", async () => {
    const verify = verifier();
    const now = Math.floor(Date.now() / 1000);
    const cases: [Promise<string>, string, string][] = [
      [key.sign(sessionPayload(target, { iat: now - 1000, exp: now - 100 })), "token_expired", "expired"],
      [key.sign(sessionPayload({ ...target, iss: "http://localhost:8787" })), "invalid_token", "issuer"],
      [key.sign(sessionPayload({ ...target, iss: `${fake.url}/` })), "invalid_token", "issuer"],
      [key.sign(sessionPayload({ ...target, aud: "another-api" })), "invalid_token", "audience"],
      // An ID token (typ JWT) or any other JWT of the same key; and one without typ.
      [key.sign(sessionPayload(target), { typ: "JWT" }), "invalid_token", "type"],
      [key.sign(sessionPayload(target), { typ: undefined }), "invalid_token", "type"],
      [key.sign(sessionPayload(target, { nbf: now + 600 })), "invalid_token", "not_yet_valid"],
      [key.sign(sessionPayload(target, { sid: undefined })), "invalid_token", "claims"],
      [key.sign(sessionPayload(target, { jti: undefined })), "invalid_token", "claims"],
      [key.sign(sessionPayload(target, { sid: 42 })), "invalid_token", "claims"],
    ];
    for (const [token, code, reason] of cases) {
      const error = await refusal(verify(await token));
      expect({ code: error.code, reason: error.reason, status: error.status }).toEqual({ code, reason, status: 401 });
    }
    const issuer = await refusal(verify(await key.sign(sessionPayload({ ...target, iss: "http://localhost:8787" }))));
    expect(issuer.detail).toBe(`The token was not issued by ${fake.url}, the issuer this API trusts.`);
  });

  it("alg none, an HMAC token keyed with the public key, another algorithm, a forged signature, a tampered payload", async () => {
    const verify = verifier();
    const payload = sessionPayload(target);
    const header = (h: object) => base64url.encode(JSON.stringify(h));
    const body = base64url.encode(JSON.stringify(payload));
    const none = `${header({ alg: "none", typ: "at+jwt", kid: "key-1" })}.${body}.`;
    // Unsigned, it is not even a JWS this verifier parses; with any signature, its algorithm is refused.
    expect(await refusal(verify(none))).toMatchObject({ code: "invalid_token", reason: "malformed" });
    expect(await refusal(verify(`${none}x`))).toMatchObject({ code: "invalid_token", reason: "algorithm" });
    const hmac = await new SignJWT(payload)
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: "key-1" })
      .sign(new TextEncoder().encode(JSON.stringify(key.publicJwk)));
    expect(await refusal(verify(hmac))).toMatchObject({ reason: "algorithm" });
    const eddsa = await newSigningKey("key-1", "EdDSA");
    expect(await refusal(verify(await eddsa.sign(payload)))).toMatchObject({ reason: "algorithm" });
    // A key Gatehouse never published, under Gatehouse's kid.
    const impostor = await newSigningKey("key-1");
    expect(await refusal(verify(await impostor.sign(payload)))).toMatchObject({ code: "invalid_token", reason: "signature" });
    const [h, , s] = (await key.sign(payload)).split(".");
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...payload, sub: "admin" }))}.${s}`;
    expect(await refusal(verify(tampered))).toMatchObject({ reason: "signature" });
    expect(await refusal(verify(await key.sign(payload, { kid: undefined })))).toMatchObject({ reason: "unknown_key" });
  });

  it("takes another algorithm only when told to (Gatehouse's JWT_ALG)", async () => {
    const eddsa = await newSigningKey("ed-1", "EdDSA");
    const verify = createVerifier({ issuer: fake.url, audience: "gatehouse", algorithms: ["EdDSA"] });
    fake.keys = [eddsa.publicJwk];
    expect((await verify(await eddsa.sign(sessionPayload(target)))).sub).toBe("user-1");
    expect(await refusal(verify(await key.sign(sessionPayload(target))))).toMatchObject({ reason: "algorithm" });
  });

  it("session tokens by default, OAuth clients' tokens only when accepted, both with `any`", async () => {
    const oauth = await key.sign(oauthPayload({ ...target, client_id: "gc_app" }));
    const session = await key.sign(sessionPayload(target));
    expect(await refusal(verifier()(oauth))).toMatchObject({ code: "invalid_token", reason: "token_kind" });
    expect(await refusal(verifier({ accept: "oauth" })(session))).toMatchObject({ reason: "token_kind" });
    const any = verifier({ accept: "any" });
    expect(await any(oauth)).toMatchObject({ client_id: "gc_app", scope: "openid read", gid: "grant-1", ep: 0 });
    expect(await any(session)).not.toHaveProperty("client_id");
  });

  it("bad options are a TypeError at once", () => {
    expect(() => createVerifier({ issuer: "", audience: "gatehouse" })).toThrow(TypeError);
    expect(() => createVerifier({ issuer: fake.url, audience: "" })).toThrow(TypeError);
    expect(() => createVerifier({ issuer: fake.url, audience: "a", algorithms: [] })).toThrow(TypeError);
    expect(() => createVerifier({ issuer: "gatehouse", audience: "a" })).toThrow(/not a URL/);
    // Gatehouse's introspection never answers for session tokens: configuring it for them cannot work.
    expect(() => createVerifier({ issuer: fake.url, audience: "a", introspection: { clientId: "c", clientSecret: "s" } })).toThrow(/OAuth/);
    expect(() =>
      createVerifier({ issuer: fake.url, audience: "a", accept: "oauth", introspection: { clientId: "c", clientSecret: "" } }),
    ).toThrow(TypeError);
  });
});

describe("the key cache", () => {
  it("fetches the JWKS once for many tokens, concurrent ones included, and again when the keys are 5 minutes old", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const verify = verifier();
    const before = fake.jwksRequests;
    const tokens = await Promise.all([1, 2, 3, 4].map(() => key.sign(sessionPayload(target))));
    await Promise.all(tokens.map((t) => verify(t)));
    await verify(tokens[0]);
    expect(fake.jwksRequests - before).toBe(1);
    vi.setSystemTime(Date.now() + 299_000);
    await verify(await key.sign(sessionPayload(target)));
    expect(fake.jwksRequests - before).toBe(1);
    vi.setSystemTime(Date.now() + 2_000);
    await verify(await key.sign(sessionPayload(target)));
    expect(fake.jwksRequests - before).toBe(2);
  });

  it("an unknown kid refetches at once after a rotation, but at most once per 30 s: made-up kids cost nothing", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const verify = verifier();
    const before = fake.jwksRequests;
    await verify(await key.sign(sessionPayload(target)));
    const next = await newSigningKey("key-2");
    fake.keys = [next.publicJwk, key.publicJwk];
    // 10 s after the fetch: still cooling down, so the new key is unknown for now.
    vi.setSystemTime(Date.now() + 10_000);
    expect(await refusal(verify(await next.sign(sessionPayload(target))))).toMatchObject({ reason: "unknown_key" });
    expect(fake.jwksRequests - before).toBe(1);
    vi.setSystemTime(Date.now() + 20_000);
    expect((await verify(await next.sign(sessionPayload(target)))).sub).toBe("user-1");
    expect(fake.jwksRequests - before).toBe(2);
    // The old key is still published (rotation keeps it): its tokens pass without a fetch.
    await verify(await key.sign(sessionPayload(target)));
    const madeUp = await newSigningKey("made-up");
    for (let i = 0; i < 5; i++)
      expect(await refusal(verify(await madeUp.sign(sessionPayload(target))))).toMatchObject({ reason: "unknown_key" });
    expect(fake.jwksRequests - before).toBe(2);
  });

  it("fails closed with 503 when the JWKS cannot be had: an error status, a timeout, an unreachable host", async () => {
    const token = await key.sign(sessionPayload(target));
    fake.jwksStatus = 500;
    expect(await refusal(verifier()(token))).toMatchObject({ code: "service_unavailable", reason: "jwks_unavailable", status: 503 });
    fake.jwksStatus = 200;
    fake.jwksDelayMs = 400;
    expect(await refusal(verifier({ jwks: { timeoutMs: 50 } })(token))).toMatchObject({ reason: "jwks_unavailable" });
    const nowhere = createVerifier({ issuer: fake.url, audience: "gatehouse", jwksUrl: "http://127.0.0.1:1/.well-known/jwks.json" });
    expect(await refusal(nowhere(token))).toMatchObject({ reason: "jwks_unavailable" });
  });

  it("sends every request through the fetch it is given", async () => {
    const seen: string[] = [];
    const verify = verifier({
      fetch: (input, init) => {
        seen.push(input);
        return fetch(input, init);
      },
    });
    await verify(await key.sign(sessionPayload(target)));
    expect(seen).toEqual([`${fake.url}/.well-known/jwks.json`]);
  });
});

describe("the online check (introspection)", () => {
  const oauthTarget = () => ({ iss: fake.url, aud: "https://api.example.com", client_id: fake.client.id });
  const online = (options: Partial<VerifierOptions<"oauth">> = {}) =>
    verifier<"oauth">({
      audience: "https://api.example.com",
      accept: "oauth",
      introspection: { clientId: fake.client.id, clientSecret: fake.client.secret },
      ...options,
    });

  it("accepts an active token and refuses it at once when Gatehouse says it is revoked; offline still accepts it", async () => {
    const verify = online();
    const token = await key.sign(oauthPayload(oauthTarget()));
    const sent = fake.introspections.length;
    expect((await verify(token)).client_id).toBe(fake.client.id);
    const request = fake.introspections[sent]!;
    expect(request.form).toEqual({ token, token_type_hint: "access_token" });
    expect(request.authorization).toBe(`Basic ${btoa(`${fake.client.id}:${encodeURIComponent(fake.client.secret)}`)}`);
    fake.revoked.add(token);
    expect(await refusal(verify(token))).toMatchObject({ code: "token_revoked", reason: "inactive", status: 401 });
    const offline = verifier<"oauth">({ audience: "https://api.example.com", accept: "oauth" });
    expect((await offline(token)).sub).toBe("user-1");
  });

  it("authenticates in the form with client_secret_post", async () => {
    const token = await key.sign(oauthPayload(oauthTarget()));
    const sent = fake.introspections.length;
    await online({ introspection: { clientId: fake.client.id, clientSecret: fake.client.secret, authMethod: "client_secret_post" } })(
      token,
    );
    expect(fake.introspections[sent]).toEqual({
      authorization: null,
      form: { token, token_type_hint: "access_token", client_id: fake.client.id, client_secret: fake.client.secret },
    });
  });

  it("fails closed (503) when introspection refuses the client or is down, and never asks about a token that failed offline", async () => {
    const token = await key.sign(oauthPayload(oauthTarget()));
    const wrong = online({ introspection: { clientId: fake.client.id, clientSecret: "wrong" } });
    const error = await refusal(wrong(token));
    expect(error).toMatchObject({ code: "service_unavailable", reason: "introspection_unavailable", status: 503 });
    expect(JSON.stringify(problemFor(error))).not.toContain("wrong");
    fake.introspectionStatus = 503;
    expect(await refusal(online()(token))).toMatchObject({ reason: "introspection_unavailable" });
    fake.introspectionStatus = 200;
    const sent = fake.introspections.length;
    const expired = await key.sign(oauthPayload(oauthTarget(), { exp: Math.floor(Date.now() / 1000) - 60 }));
    expect(await refusal(online()(expired))).toMatchObject({ code: "token_expired" });
    expect(fake.introspections.length).toBe(sent);
  });

  it("with `any`, checks OAuth tokens online and leaves session tokens to the offline check (introspection does not cover them)", async () => {
    const verify = verifier<"any">({
      audience: "https://api.example.com",
      accept: "any",
      introspection: { clientId: fake.client.id, clientSecret: fake.client.secret },
    });
    const sent = fake.introspections.length;
    expect((await verify(await key.sign(sessionPayload({ ...target, aud: "https://api.example.com" })))).sub).toBe("user-1");
    expect(fake.introspections.length).toBe(sent);
    await verify(await key.sign(oauthPayload(oauthTarget())));
    expect(fake.introspections.length).toBe(sent + 1);
  });
});

describe("problemFor: the HTTP answer", () => {
  it("401 with the bare challenge for no credential, invalid_token for a refused one, 503 with Retry-After", () => {
    const missing = problemFor(new VerifyError("missing"));
    expect(missing.status).toBe(401);
    expect(missing.headers["www-authenticate"]).toBe("Bearer");
    expect(missing.headers["content-type"]).toBe("application/problem+json");
    expect(missing.body).toMatchObject({
      type: "urn:gatehouse:problem:authentication_required",
      code: "authentication_required",
      status: 401,
    });
    const expired = problemFor(new VerifyError("expired"), { realm: "site" });
    expect(expired.headers["www-authenticate"]).toBe(
      'Bearer realm="site", error="invalid_token", error_description="The token has expired."',
    );
    expect(expired.body).toEqual({
      type: "urn:gatehouse:problem:token_expired",
      title: "Token expired",
      status: 401,
      detail: "The token has expired.",
      code: "token_expired",
      reason: "expired",
    });
    // A detail naming the issuer cannot break out of the quoted string.
    const issuer = problemFor(new VerifyError("issuer", { detail: 'not "x"\\ ok' }));
    expect(issuer.headers["www-authenticate"]).toBe('Bearer error="invalid_token", error_description="not x ok"');
    const down = problemFor(new VerifyError("jwks_unavailable"));
    expect(down.status).toBe(503);
    expect(down.headers["retry-after"]).toBe("5");
    expect(down.headers["www-authenticate"]).toBeUndefined();
  });
});
