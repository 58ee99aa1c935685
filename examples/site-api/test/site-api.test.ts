import { env, exports } from "cloudflare:workers";
import { base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../src/index";

/**
 * The site-api example inside workerd, with the real Gatehouse (its production bundle) beside it
 * behind the GATEHOUSE service binding, as in a deployment (wrangler.toml `[env.production]`).
 * Tokens come from Gatehouse itself; every refusal is problem+json saying which check failed.
 */
const bindings = env as unknown as Env;
const GATEHOUSE = bindings.GATEHOUSE!;
let n = 0;

afterEach(() => {
  vi.useRealTimers();
});

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

function whoami(token?: string, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch("https://api.example.com/api/whoami", {
    headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
}

/** Asserts a problem+json answer with `status` and `code`; its body. */
async function problem(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = await res.json<Record<string, unknown>>();
  expect(body).toMatchObject({ type: `urn:gatehouse:problem:${code}`, status, code });
  return body;
}

describe("examples/site-api", () => {
  it("accepts a Gatehouse access token and knows the user", async () => {
    const { token, userId } = await gatehouseToken();
    const res = await whoami(token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user_id: userId, session_id: decodeJwt(token).sid });
  });

  it("no token: 401 authentication_required with the bare Bearer challenge", async () => {
    const res = await whoami();
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    expect(await problem(res, 401, "authentication_required")).toMatchObject({ reason: "missing" });
  });

  it("a tampered, a forged and an unknown-key token: 401 invalid_token, saying which check failed", async () => {
    const { token } = await gatehouseToken();
    const [h, , s] = token.split(".") as [string, string, string];
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...decodeJwt(token), sub: "someone-else" }))}.${s}`;
    const res = await whoami(tampered);
    expect(res.headers.get("www-authenticate")).toContain('Bearer error="invalid_token"');
    expect(await problem(res, 401, "invalid_token")).toMatchObject({ reason: "signature" });
    // Signed by a key Gatehouse never published, with Gatehouse's kid: refused.
    const { privateKey } = await generateKeyPair("ES256");
    const claims = decodeJwt(token);
    const kid = decodeProtectedHeader(token).kid;
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid }).sign(privateKey);
    expect(await problem(await whoami(forged), 401, "invalid_token")).toMatchObject({ reason: "signature" });
    const unknown = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "not-gatehouses" }).sign(privateKey);
    expect(await problem(await whoami(unknown), 401, "invalid_token")).toMatchObject({ reason: "unknown_key" });
  });

  it("an expired Gatehouse token: 401 token_expired", async () => {
    const { token } = await gatehouseToken();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(((decodeJwt(token).exp ?? 0) + 1) * 1000);
    const res = await whoami(token);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(await problem(res, 401, "token_expired")).toMatchObject({ reason: "expired" });
  });

  it("configured with another issuer than Gatehouse's: every token refused, and the answer says why", async () => {
    // A fresh copy of the module: its verifier is made from the first request's bindings.
    vi.resetModules();
    const { default: app } = await import("../src/index");
    const { token } = await gatehouseToken();
    const request = new Request("https://api.example.com/api/whoami", { headers: { authorization: `Bearer ${token}` } });
    const res = await app.fetch(request, { ...bindings, GATEHOUSE_ISSUER: "http://auth.example.localhost:8787" });
    expect(await problem(res, 401, "invalid_token")).toMatchObject({
      reason: "issuer",
      detail: "The token was not issued by http://auth.example.localhost:8787, the issuer this API trusts.",
    });
  });

  it("keys fetched from GATEHOUSE_JWKS_URL (the local set-up), and Gatehouse answering 500: 503, fail closed", async () => {
    vi.resetModules();
    const { default: app } = await import("../src/index");
    const { token } = await gatehouseToken();
    const jwksUrl = "http://127.0.0.1:8787/.well-known/jwks.json";
    const local: Env = { ...bindings, GATEHOUSE: undefined, GATEHOUSE_JWKS_URL: jwksUrl };
    const outbound = vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("down", { status: 500 }));
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const res = await app.fetch(
      new Request("https://api.example.com/api/whoami", { headers: { authorization: `Bearer ${token}` } }),
      local,
    );
    expect(outbound).toHaveBeenCalledWith(jwksUrl, expect.objectContaining({ method: "GET" }));
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await problem(res, 503, "service_unavailable")).toMatchObject({ reason: "jwks_unavailable" });
    expect(errors).toHaveBeenCalledWith("gatehouse: jwks_unavailable", expect.anything());
    outbound.mockRestore();
    errors.mockRestore();
  });

  it("CORS for the site: the preflight allows Authorization, and a refusal's challenge is readable", async () => {
    const site = "https://app.example.com";
    const preflight = await exports.default.fetch("https://api.example.com/api/whoami", {
      method: "OPTIONS",
      headers: { origin: site, "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(site);
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toBe("authorization");
    const refused = await whoami(undefined, { origin: site });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-expose-headers")).toBe("WWW-Authenticate");
    expect((await whoami(undefined, { origin: "https://evil.example" })).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("anything else: 404 problem+json", async () => {
    await problem(await exports.default.fetch("https://api.example.com/nothing"), 404, "not_found");
  });

  it("one JWKS request to Gatehouse for several verified requests", async () => {
    // A fresh copy of the module (its verifier and key cache are per isolate), with a binding that counts its requests.
    vi.resetModules();
    const { default: app } = await import("../src/index");
    let fetches = 0;
    const counting = {
      fetch: (input: RequestInfo | URL, init?: RequestInit) => ((fetches += 1), GATEHOUSE.fetch(input, init)),
    } as unknown as Fetcher;
    const { token } = await gatehouseToken();
    for (let i = 0; i < 5; i++) {
      const request = new Request("https://api.example.com/api/whoami", { headers: { authorization: `Bearer ${token}` } });
      expect((await app.fetch(request, { ...bindings, GATEHOUSE: counting })).status).toBe(200);
    }
    expect(fetches).toBe(1);
  });
});
