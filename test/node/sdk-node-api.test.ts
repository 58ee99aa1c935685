import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi } from "../../examples/node-api/api.mjs";
import { isLocalhostName, localhostFetch } from "../../examples/node-api/localhost-fetch.mjs";
import { createVerifier, type AuthProblem } from "../../src/sdk/server";
import { newSigningKey, sessionPayload, startFakeGatehouse, type FakeGatehouse, type SigningKey } from "./sdk-fake-gatehouse.mjs";

/**
 * examples/node-api (node:http, gatehouse/server) on an ephemeral port, its issuer a `*.localhost`
 * name as with `npm run dev -- --site …`, served by the loopback Gatehouse of sdk-fake-gatehouse.mjs:
 * Node's fetch cannot resolve that name, so the example's localhostFetch must reach it.
 */
let fake: FakeGatehouse;
let key: SigningKey;
let api: { url: string; close(): Promise<void> };
let issuer: string;
const SITE = "http://app.example.localhost:5173";

beforeAll(async () => {
  fake = await startFakeGatehouse();
  key = await newSigningKey("key-1");
  fake.keys = [key.publicJwk];
  issuer = `http://auth.example.localhost:${new URL(fake.url).port}`;
  const verify = createVerifier({ issuer, audience: "gatehouse", fetch: localhostFetch });
  api = await startApi({ verify, port: 0, corsOrigin: SITE });
});
afterAll(async () => {
  await api?.close();
  await fake?.close();
});

const me = (headers: Record<string, string> = {}, method = "GET") => fetch(`${api.url}/me`, { method, headers });

describe("examples/node-api", () => {
  it("GET /me answers a valid token's claims, the keys fetched from the *.localhost issuer by name", async () => {
    const payload = sessionPayload({ iss: issuer, aud: "gatehouse" });
    const res = await me({ authorization: `Bearer ${await key.sign(payload)}` });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toMatchObject({ iss: issuer, sub: "user-1", sid: "session-1", jti: payload.jti });
    expect(fake.hosts).toContain(`auth.example.localhost:${new URL(fake.url).port}`);
  });

  it("401 problem+json with the challenge for no token, an expired one and one of another issuer", async () => {
    const none = await me();
    expect(none.status).toBe(401);
    expect(none.headers.get("content-type")).toBe("application/problem+json");
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    expect(await none.json()).toMatchObject({ code: "authentication_required" });

    const now = Math.floor(Date.now() / 1000);
    const expired = await me({
      authorization: `Bearer ${await key.sign(sessionPayload({ iss: issuer, aud: "gatehouse" }, { exp: now - 5 }))}`,
    });
    expect(expired.status).toBe(401);
    expect(expired.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(await expired.json<AuthProblem>()).toMatchObject({ code: "token_expired", reason: "expired" });

    const other = await me({ authorization: `Bearer ${await key.sign(sessionPayload({ iss: fake.url, aud: "gatehouse" }))}` });
    expect(await other.json<AuthProblem>()).toMatchObject({ code: "invalid_token", reason: "issuer" });
  });

  it("other paths 404 and other methods 405, as problem+json", async () => {
    const missing = await fetch(`${api.url}/users`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "not_found" });
    const post = await me({}, "POST");
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET");
  });

  it("CORS for the site's origin only, with WWW-Authenticate readable (the browser client refreshes on it)", async () => {
    const fromSite = await me({ origin: SITE });
    expect(fromSite.headers.get("access-control-allow-origin")).toBe(SITE);
    expect(fromSite.headers.get("access-control-expose-headers")).toBe("WWW-Authenticate");
    const preflight = await me(
      { origin: SITE, "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
      "OPTIONS",
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-headers")).toBe("Authorization");
    const elsewhere = await me({ origin: "http://evil.localhost" });
    expect(elsewhere.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("localhostFetch", () => {
  it("sends *.localhost to 127.0.0.1 with the name as Host, and anything else to fetch as it is", async () => {
    expect([isLocalhostName("localhost"), isLocalhostName("auth.example.localhost."), isLocalhostName("localhost.example.com")]).toEqual([
      true,
      true,
      false,
    ]);
    const port = new URL(fake.url).port;
    const byName = await localhostFetch(`http://api.localhost:${port}/.well-known/jwks.json`);
    expect(byName.status).toBe(200);
    expect(await byName.json()).toEqual({ keys: [key.publicJwk] });
    expect(fake.hosts.at(-1)).toBe(`api.localhost:${port}`);
    const byAddress = await localhostFetch(`${fake.url}/nothing`);
    expect(byAddress.status).toBe(404);
    expect(fake.hosts.at(-1)).toBe(`127.0.0.1:${port}`);
  });
});
