import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import { gatehouse } from "../src/sdk/hono";
import { createVerifier, VerifyError, type FetchLike } from "../src/sdk/server";
import { call, freshIp, register } from "./helpers";
import { asClient, newClient, OidcBrowser, tokensFor } from "./oidc-helpers";
import { OWN } from "./pages-browser";

/**
 * gatehouse/server and gatehouse/hono against the real worker: tokens Gatehouse issued, keys from
 * its own `/.well-known/jwks.json`, introspection by its own `/oauth/introspect`, every request
 * through the verifier's `fetch` (here, the worker's fetch handler, as a service binding would be).
 * The checks one by one, with keys of their own: test/node/sdk-server.test.ts.
 */

const requested: string[] = [];

/** The worker as the verifier's fetch: each request with a client IP of its own, its background work awaited. */
const throughWorker: FetchLike = async (input, init) => {
  const request = new Request(input, init);
  request.headers.set("CF-Connecting-IP", freshIp());
  requested.push(`${request.method} ${new URL(request.url).pathname}`);
  const ctx = createExecutionContext();
  const response = await app.fetch(request, env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
};

async function refusal(promise: Promise<unknown>): Promise<VerifyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerifyError);
  return error as VerifyError;
}

describe("a Gatehouse session token", () => {
  const verify = createVerifier({ issuer: OWN, audience: "gatehouse", fetch: throughWorker });

  it("is accepted with the worker's published keys, and its claims are the worker's user and session", async () => {
    const user = await register();
    const claims = await verify(`Bearer ${user.accessToken}`);
    expect(claims).toMatchObject({ iss: OWN, aud: "gatehouse", sub: user.userId, amr: ["pwd"], roles: [], fresh: true });
    expect(requested).toContain("GET /.well-known/jwks.json");
    const sessions = await call("/api/v1/users/me/sessions", { token: user.accessToken });
    const { sessions: list } = await sessions.json<{ sessions: { id: string; current: boolean }[] }>();
    expect(list.find((s) => s.current)?.id).toBe(claims.sid);
  });

  it("is refused by a verifier of another issuer or audience, saying which", async () => {
    const { accessToken } = await register();
    const local = createVerifier({ issuer: "http://auth.example.localhost:8787", audience: "gatehouse", fetch: throughWorker });
    expect(await refusal(local(accessToken))).toMatchObject({ code: "invalid_token", reason: "issuer" });
    const other = createVerifier({ issuer: OWN, audience: "another-api", fetch: throughWorker });
    expect(await refusal(other(accessToken))).toMatchObject({ code: "invalid_token", reason: "audience" });
  });

  it("after logout: Gatehouse refuses it at once, an offline verifier only at its expiry (no introspection covers session tokens)", async () => {
    const user = await register();
    expect((await call("/api/v1/auth/logout", { method: "POST", token: user.accessToken })).status).toBe(204);
    const res = await call("/api/v1/users/me", { token: user.accessToken });
    expect(await res.json()).toMatchObject({ code: "token_revoked" });
    expect((await verify(user.accessToken)).sub).toBe(user.userId);
    // What Gatehouse's introspection answers for it: nothing usable, so the SDK never asks.
    const client = await newClient();
    const introspection = await asClient(client, "/oauth/introspect", { token: user.accessToken });
    expect(await introspection.json()).toEqual({ active: false });
  });

  it("passes gatehouse/hono, whose claims are the worker's", async () => {
    const user = await register();
    const api = new Hono().get("/me", gatehouse({ issuer: OWN, audience: "gatehouse", fetch: throughWorker }), (c) =>
      c.json({ user_id: c.var.gatehouse.sub }),
    );
    const ok = await api.request("/me", { headers: { authorization: `Bearer ${user.accessToken}` } });
    expect(await ok.json()).toEqual({ user_id: user.userId });
  });
});

describe("an access token Gatehouse issued to an OAuth client", () => {
  async function clientTokens() {
    const client = await newClient({ first_party: true });
    const user = await register();
    const browser = new OidcBrowser();
    await browser.signIn(user);
    const tokens = await tokensFor(browser, client);
    const online = createVerifier({
      issuer: OWN,
      audience: client.id,
      accept: "oauth",
      fetch: throughWorker,
      introspection: { clientId: client.id, clientSecret: client.secret! },
    });
    const offline = createVerifier({ issuer: OWN, audience: client.id, accept: "oauth", fetch: throughWorker });
    return { client, user, token: tokens.access_token, online, offline };
  }

  it("is accepted online, and refused at once after the person logs out everywhere; offline, only at expiry", async () => {
    const { client, user, token, online, offline } = await clientTokens();
    const before = requested.filter((r) => r === "POST /oauth/introspect").length;
    expect(await online(token)).toMatchObject({ iss: OWN, aud: client.id, sub: user.userId, client_id: client.id, scope: "openid" });
    expect(requested.filter((r) => r === "POST /oauth/introspect").length).toBe(before + 1);
    expect((await call("/api/v1/auth/logout?scope=all", { method: "POST", token: user.accessToken })).status).toBe(204);
    expect(await refusal(online(token))).toMatchObject({ code: "token_revoked", reason: "inactive", status: 401 });
    expect((await offline(token)).sub).toBe(user.userId);
  });

  it("is refused online once the client revokes it (RFC 7009)", async () => {
    const { client, token, online } = await clientTokens();
    expect((await online(token)).client_id).toBe(client.id);
    expect((await asClient(client, "/oauth/revoke", { token })).status).toBe(200);
    expect(await refusal(online(token))).toMatchObject({ code: "token_revoked" });
  });

  it("is never a session token: a session verifier refuses it, and so does Gatehouse's own API", async () => {
    const { token } = await clientTokens();
    const sessions = createVerifier({ issuer: OWN, audience: "gatehouse", fetch: throughWorker });
    expect(await refusal(sessions(token))).toMatchObject({ code: "invalid_token", reason: "audience" });
    expect((await call("/api/v1/users/me", { token })).status).toBe(401);
  });

  it("fails closed when the verifier's client secret is wrong", async () => {
    const { client, token } = await clientTokens();
    const wrong = createVerifier({
      issuer: OWN,
      audience: client.id,
      accept: "oauth",
      fetch: throughWorker,
      introspection: { clientId: client.id, clientSecret: `${client.secret}x` },
    });
    expect(await refusal(wrong(token))).toMatchObject({ code: "service_unavailable", reason: "introspection_unavailable" });
  });
});
