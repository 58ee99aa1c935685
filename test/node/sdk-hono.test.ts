import { Hono, type Context } from "hono";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { gatehouse, gatehouseOptional } from "../../src/sdk/hono";
import { createVerifier, type AuthProblem } from "../../src/sdk/server";
import {
  newSigningKey,
  oauthPayload,
  sessionPayload,
  startFakeGatehouse,
  type FakeGatehouse,
  type SigningKey,
} from "./sdk-fake-gatehouse.mjs";

/**
 * gatehouse/hono through `app.request`, against the loopback Gatehouse of sdk-fake-gatehouse.mjs:
 * the claims in `c.var.gatehouse`, the problem+json answers and their challenges, scopes and roles,
 * anonymous routes, and options read from the first request's bindings.
 */
let fake: FakeGatehouse;
let key: SigningKey;
let target: { iss: string; aud: string };

beforeAll(async () => {
  fake = await startFakeGatehouse();
  key = await newSigningKey("key-1");
  fake.keys = [key.publicJwk];
  target = { iss: fake.url, aud: "gatehouse" };
});
afterAll(() => fake.close());
afterEach(() => {
  fake.jwksStatus = 200;
});

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

async function problem(res: Response, status: number, code: string): Promise<AuthProblem> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.headers.get("cache-control")).toBe("no-store");
  const body = await res.json<AuthProblem>();
  expect(body).toMatchObject({ type: `urn:gatehouse:problem:${code}`, status, code });
  return body;
}

describe("gatehouse()", () => {
  function sessionApp() {
    return new Hono().get("/me", gatehouse({ issuer: fake.url, audience: "gatehouse" }), (c) => {
      const { sub, sid, roles } = c.var.gatehouse;
      return c.json({ sub, sid, roles });
    });
  }

  it("puts a valid token's claims in c.var.gatehouse", async () => {
    const res = await sessionApp().request("/me", bearer(await key.sign(sessionPayload(target, { roles: ["editor"] }))));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: "user-1", sid: "session-1", roles: ["editor"] });
  });

  it("401 problem+json: a bare Bearer challenge without a credential, error=invalid_token with one that fails", async () => {
    const app = sessionApp();
    const none = await app.request("/me");
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    expect(await problem(none, 401, "authentication_required")).toMatchObject({ reason: "missing" });

    const now = Math.floor(Date.now() / 1000);
    const expired = await app.request("/me", bearer(await key.sign(sessionPayload(target, { iat: now - 1000, exp: now - 10 }))));
    expect(expired.headers.get("www-authenticate")).toBe('Bearer error="invalid_token", error_description="The token has expired."');
    expect(await problem(expired, 401, "token_expired")).toMatchObject({ reason: "expired" });

    const elsewhere = await app.request("/me", bearer(await key.sign(sessionPayload({ ...target, iss: "http://localhost:8787" }))));
    expect(await problem(elsewhere, 401, "invalid_token")).toMatchObject({
      reason: "issuer",
      detail: `The token was not issued by ${fake.url}, the issuer this API trusts.`,
    });
    const forged = await app.request("/me", bearer(await (await newSigningKey("key-1")).sign(sessionPayload(target))));
    expect(await problem(forged, 401, "invalid_token")).toMatchObject({ reason: "signature" });
  });

  it("503 with Retry-After when the keys cannot be fetched (fail closed), and logs why", async () => {
    fake.jwksStatus = 500;
    const errors: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      const res = await sessionApp().request("/me", bearer(await key.sign(sessionPayload(target))));
      expect(res.headers.get("retry-after")).toBe("5");
      expect(await problem(res, 503, "service_unavailable")).toMatchObject({ reason: "jwks_unavailable" });
    } finally {
      console.error = original;
    }
    expect(errors.map((e) => e[0])).toEqual(["gatehouse: jwks_unavailable"]);
  });

  it("scopes: an OAuth token lacking one gets 403 insufficient_scope naming what it needs; a session token has none", async () => {
    const verifier = createVerifier({ issuer: fake.url, audience: "https://api.example.com", accept: "any" });
    const app = new Hono().get("/write", gatehouse({ verifier, scopes: ["read", "write"] }), (c) =>
      c.json({ client: c.var.gatehouse.client_id }),
    );
    const target = { iss: fake.url, aud: "https://api.example.com", client_id: "gc_app" };
    const ok = await app.request("/write", bearer(await key.sign(oauthPayload(target, { scope: "openid read write" }))));
    expect(await ok.json()).toEqual({ client: "gc_app" });
    const readOnly = await app.request("/write", bearer(await key.sign(oauthPayload(target, { scope: "read" }))));
    expect(readOnly.headers.get("www-authenticate")).toBe('Bearer error="insufficient_scope", scope="read write"');
    expect(await problem(readOnly, 403, "insufficient_scope")).toMatchObject({ missing: ["write"] });
    const session = await app.request("/write", bearer(await key.sign(sessionPayload({ iss: fake.url, aud: "https://api.example.com" }))));
    expect(await problem(session, 403, "insufficient_scope")).toMatchObject({ missing: ["read", "write"] });
  });

  it("roles: a session token must carry every role listed", async () => {
    const app = new Hono().get("/admin", gatehouse({ issuer: fake.url, audience: "gatehouse", roles: ["admin"] }), (c) =>
      c.text("welcome"),
    );
    expect((await app.request("/admin", bearer(await key.sign(sessionPayload(target, { roles: ["admin", "editor"] }))))).status).toBe(200);
    const editor = await app.request("/admin", bearer(await key.sign(sessionPayload(target, { roles: ["editor"] }))));
    const body = await problem(editor, 403, "insufficient_scope");
    expect(body).toMatchObject({ missing: ["admin"], detail: "The token is valid but lacks what this request needs: the role admin." });
  });

  it("static options are checked when the middleware is made, not at the first request", () => {
    expect(() => gatehouse({ issuer: "", audience: "gatehouse" })).toThrow(TypeError);
  });

  it("options from the first request's bindings; one verifier, one key cache, for every later request", async () => {
    type AppEnv = { Bindings: { ISSUER: string; fetches: { count: number } } };
    const counter = { count: 0 };
    const app = new Hono<AppEnv>().get(
      "/me",
      gatehouse((c: Context<AppEnv>) => ({
        issuer: c.env.ISSUER,
        audience: "gatehouse",
        fetch: (input, init) => ((c.env.fetches.count += 1), fetch(input, init)),
      })),
      (c) => c.text(c.var.gatehouse.sub),
    );
    const token = await key.sign(sessionPayload(target));
    for (let i = 0; i < 3; i++) {
      // A new bindings object each time, as a test or a runtime may hand over.
      const res = await app.request("/me", bearer(token), { ISSUER: fake.url, fetches: counter });
      expect(await res.text()).toBe("user-1");
    }
    expect(counter.count).toBe(1);
  });
});

describe("gatehouseOptional()", () => {
  const app = () =>
    new Hono().get("/feed", gatehouseOptional({ issuer: fake.url, audience: "gatehouse" }), (c) =>
      c.json({ viewer: c.var.gatehouse?.sub ?? null }),
    );

  it("lets a request without a Bearer credential through as anonymous", async () => {
    expect(await (await app().request("/feed")).json()).toEqual({ viewer: null });
    expect(await (await app().request("/feed", { headers: { authorization: "Basic dXNlcjpwYXNz" } })).json()).toEqual({ viewer: null });
    expect(await (await app().request("/feed", bearer(await key.sign(sessionPayload(target))))).json()).toEqual({ viewer: "user-1" });
  });

  it("still refuses a bad token: the client learns it should refresh", async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await app().request("/feed", bearer(await key.sign(sessionPayload(target, { iat: now - 1000, exp: now - 10 }))));
    await problem(res, 401, "token_expired");
  });
});
