import { env, exports } from "cloudflare:workers";
import { SignJWT, decodeProtectedHeader, generateKeyPair } from "jose";
import { describe, expect, it, vi } from "vitest";
import type { Env } from "../src/index";
import { createJwksCache } from "../src/jwks-cache";

/**
 * The site-api example inside workerd, with the real Gatehouse (its production bundle) beside it
 * behind the GATEHOUSE service binding, as in a deployment. Tokens come from Gatehouse itself.
 */
const { GATEHOUSE } = env as unknown as Env;
let n = 0;

async function gatehouseToken(): Promise<{ token: string; userId: string }> {
  const email = `site-api.${Date.now()}.${(n += 1)}@example.com`;
  const res = await GATEHOUSE.fetch("https://auth.example.com/api/v1/auth/register", {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": `10.99.0.${n}` },
    body: JSON.stringify({ email, password: "correct horse battery staple 42", full_name: "Site User" }),
  });
  const body = await res.json<{ access_token: string; user: { id: string } }>();
  expect(res.status, JSON.stringify(body)).toBe(201);
  return { token: body.access_token, userId: body.user.id };
}

function whoami(token?: string): Promise<Response> {
  return exports.default.fetch("https://api.example.com/api/whoami", { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

describe("examples/site-api", () => {
  it("accepts a Gatehouse access token and knows the user", async () => {
    const { token, userId } = await gatehouseToken();
    const res = await whoami(token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user_id: userId, session_id: expect.any(String) as unknown });
  });

  it("refuses no token, a tampered one, and one that is not an at+jwt of this issuer and audience", async () => {
    const { token } = await gatehouseToken();
    expect((await whoami()).status).toBe(401);
    const [h, p, s] = token.split(".");
    expect((await whoami(`${h}.${p}x.${s}`)).status).toBe(401);
    // Signed by a key Gatehouse never published, with Gatehouse's kid: refused.
    const { privateKey } = await generateKeyPair("ES256");
    const claims = { iss: "https://auth.example.com", aud: "gatehouse", sub: "u", exp: Math.floor(Date.now() / 1000) + 60 };
    const kid = decodeProtectedHeader(token).kid;
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid }).sign(privateKey);
    expect((await whoami(forged)).status).toBe(401);
  });

  it("pins typ, issuer and audience (checked with keys of its own)", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const { exportJWK } = await import("jose");
    const jwk = { ...(await exportJWK(publicKey)), kty: "EC", kid: "test-key", alg: "ES256" };
    const { jwk: middleware } = await import("hono/jwk");
    const { Hono } = await import("hono");
    const sign = (claims: Record<string, unknown>, typ = "at+jwt") =>
      new SignJWT({ sub: "u", exp: Math.floor(Date.now() / 1000) + 60, ...claims })
        .setProtectedHeader({ alg: "ES256", typ, kid: "test-key" })
        .sign(privateKey);
    // The same options as src/index.ts, with a fixed key instead of Gatehouse's.
    const app = new Hono().use(
      middleware({ keys: [jwk], alg: ["ES256"], verification: { iss: "https://auth.example.com", aud: "gatehouse", typ: "at+jwt" } }),
    );
    app.get("/", (c) => c.text("ok"));
    const status = async (token: string) => (await app.request("/", { headers: { authorization: `Bearer ${token}` } })).status;
    expect(await status(await sign({ iss: "https://auth.example.com", aud: "gatehouse" }))).toBe(200);
    expect(await status(await sign({ iss: "https://auth.example.com", aud: "gatehouse" }, "JWT"))).toBe(401);
    expect(await status(await sign({ iss: "https://evil.example.com", aud: "gatehouse" }))).toBe(401);
    expect(await status(await sign({ iss: "https://auth.example.com", aud: "another-api" }))).toBe(401);
  });
});

describe("the JWKS cache", () => {
  const key = (kid: string) => ({ kty: "EC", kid });
  function counting(kids: string[][]) {
    let calls = 0;
    const fetchKeys = () => Promise.resolve((kids[Math.min(calls++, kids.length - 1)] ?? []).map(key));
    return { cache: createJwksCache(fetchKeys, { ttlMs: 300_000, refetchAfterMs: 30_000 }), calls: () => calls };
  }

  it("fetches once for many requests, concurrent ones included, until the keys are 5 minutes old", async () => {
    const { cache, calls } = counting([["a"], ["a"]]);
    await Promise.all([cache("a", 0), cache("a", 0), cache(undefined, 0)]);
    for (let t = 1; t < 300_000; t += 50_000) await cache("a", t);
    expect(calls()).toBe(1);
    await cache("a", 300_000);
    expect(calls()).toBe(2);
  });

  it("refetches at once for an unknown kid (a rotation), at most once per 30 s", async () => {
    const { cache, calls } = counting([["a"], ["b", "a"]]);
    await cache("a", 0);
    expect(await cache("b", 10_000)).toEqual([key("a")]); // too soon after the fetch: the token fails, no fetch
    expect(await cache("b", 30_000)).toEqual([key("b"), key("a")]);
    await cache("made-up", 31_000);
    expect(calls()).toBe(2);
  });

  it("in the worker: one JWKS request to Gatehouse for several verified requests", async () => {
    // A fresh copy of the module (its cache is per isolate), with a binding that counts its requests.
    vi.resetModules();
    const { default: app } = await import("../src/index");
    let fetches = 0;
    const counting = {
      fetch: (input: RequestInfo | URL, init?: RequestInit) => ((fetches += 1), GATEHOUSE.fetch(input, init)),
    } as unknown as Fetcher;
    const { token } = await gatehouseToken();
    for (let i = 0; i < 5; i++) {
      const request = new Request("https://api.example.com/api/whoami", { headers: { authorization: `Bearer ${token}` } });
      expect((await app.fetch(request, { ...(env as unknown as Env), GATEHOUSE: counting })).status).toBe(200);
    }
    expect(fetches).toBe(1);
  });
});
