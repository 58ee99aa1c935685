import { afterEach, describe, expect, it } from "vitest";
import { GatehouseError } from "../../src/client/gatehouse";
import { type FakeGatehouse, problem } from "./fake-gatehouse";
import { broadcastOf, browser, closeTabs, PASSWORD, settle, SITE_API } from "./tabs";

/**
 * Sessions that end while the page still holds an access token: a logout elsewhere or everywhere,
 * an administrator's deactivation. `gh.fetch` learns of it from a 401 that refuses the token, asks
 * Gatehouse once for a refresh, and signs every tab out when that is refused too; other 401s are left
 * to the app.
 */

afterEach(closeTabs);

const me = (server: FakeGatehouse) => `${server.base}/api/v1/users/me`;

/** Two tabs of one browser, signed in together. */
async function twoTabs(options: Parameters<typeof browser>[0] = {}) {
  const opened = browser(options);
  const [a, b] = [opened.tab(), opened.tab()];
  const { access_token } = await a.login({ email: "ada@example.com", password: PASSWORD });
  await settle();
  expect(await b.getAccessToken()).toBe(access_token);
  return { ...opened, a, b, access_token };
}

/** An API that verifies tokens offline with the JWKS, as hono/jwk answers: a plain 401 with the challenge. */
function offlineApi(request: Request, server: FakeGatehouse): Response {
  if (server.verifyOffline(request) === "valid") return Response.json({ ok: true });
  return new Response("Unauthorized", {
    status: 401,
    headers: { "WWW-Authenticate": `Bearer realm="${request.url}",error="invalid_token",error_description="token verification failure"` },
  });
}

describe("a session ended elsewhere", () => {
  it.each([
    ["a logout everywhere on another device", "token_revoked", (server: FakeGatehouse) => server.endSessionsElsewhere()],
    ["an administrator's deactivation", "invalid_token", (server: FakeGatehouse) => server.deactivateUsers()],
  ])("%s: the next fetch's 401 (%s), a refused refresh, and both tabs sign out once", async (_, code, end) => {
    const { server, a, b } = await twoTabs();
    end(server);
    const heard = broadcastOf(server.base, "signed-out");
    const res = await a.fetch(me(server));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code });
    expect(server.refreshCount).toBe(1);
    await heard;
    expect([a.signOuts, b.signOuts]).toEqual([["session_ended"], ["other_tab"]]);
    expect(server.cookie).toBeNull(); // the refused refresh cleared it

    // Signed out for good: no token, and later fetches go out without one and sign nobody out again.
    expect(await a.getAccessToken()).toBeNull();
    expect(await b.getAccessToken()).toBeNull();
    expect((await b.fetch(me(server))).status).toBe(401);
    expect(server.requests.at(-1)!.headers.get("authorization")).toBeNull();
    expect([a.signOuts, b.signOuts]).toEqual([["session_ended"], ["other_tab"]]);
  });

  it("many requests refused at once in two tabs: one refresh, one sign-out per tab", async () => {
    const { server, a, b } = await twoTabs();
    server.endSessionsElsewhere();
    const responses = await Promise.all([a.fetch(me(server)), a.fetch(me(server)), b.fetch(me(server)), b.fetch(me(server))]);
    expect(responses.map((res) => res.status)).toEqual([401, 401, 401, 401]);
    expect(server.refreshCount).toBe(1);
    await settle();
    // Whichever tab sent the refresh heard Gatehouse refuse it; the other heard it from that tab.
    expect([...a.signOuts, ...b.signOuts].sort()).toEqual(["other_tab", "session_ended"]);
    expect([a.signOuts.length, b.signOuts.length]).toEqual([1, 1]);
  });

  it("a request refused after its tab has signed out sends no refresh of its own", async () => {
    // A slow API that passes Gatehouse's verdict on: it answers after the session has been found over.
    const { server, a, siteRequests } = await twoTabs({
      siteApi: async (request, gatehouse) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return gatehouse.fetch(`${gatehouse.base}/api/v1/users/me`, { headers: request.headers });
      },
    });
    server.endSessionsElsewhere();
    const slow = a.fetch(`${SITE_API}/report`);
    expect((await a.fetch(me(server))).status).toBe(401);
    expect(a.signOuts).toEqual(["session_ended"]);
    expect((await slow).status).toBe(401);
    expect([siteRequests.length, server.refreshCount, a.signOuts]).toEqual([1, 1, ["session_ended"]]);
  });

  it("a logout that finds the session already ended signs out once", async () => {
    const { server, a, b } = await twoTabs();
    server.endSessionsElsewhere();
    await a.logout();
    await settle();
    expect([a.signOuts, b.signOuts]).toEqual([["session_ended"], ["other_tab"]]);
    expect(await a.getAccessToken()).toBeNull();
  });

  it("a refresh Gatehouse cannot serve (503) rejects the fetch and signs nobody out", async () => {
    const { server, a, b } = await twoTabs();
    server.revokeAccessTokens();
    server.failRefreshWith = 503;
    const error = await a.fetch(me(server)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toMatchObject({ status: 503 });
    await settle();
    expect([a.signOuts, b.signOuts]).toEqual([[], []]);
    server.failRefreshWith = null;
    expect((await a.fetch(me(server))).status).toBe(200);
  });
});

describe("a refused token whose refresh succeeds", () => {
  it.each([
    ["401 token_expired (Gatehouse's clock ahead of the page's)", (server: FakeGatehouse) => server.expireAccessTokens()],
    ["401 token_revoked, but the cookie's session is live", (server: FakeGatehouse) => server.revokeAccessTokens()],
  ])("%s: one refresh, the request retried with the new token, nobody signed out", async (_, refuse) => {
    const { server, a, b, access_token } = await twoTabs();
    refuse(server);
    const res = await a.fetch(`${server.base}/api/v1/echo`, { method: "POST", body: "payload" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ body: "payload" });
    expect(server.refreshCount).toBe(1);
    const renewed = await a.getAccessToken();
    expect(renewed).not.toBe(access_token);
    expect(server.requests.at(-1)!.headers.get("authorization")).toBe(`Bearer ${renewed}`);
    await settle();
    expect(await b.getAccessToken()).toBe(renewed);
    expect([a.signOuts, b.signOuts]).toEqual([[], []]);
  });

  it("a retry refused again is returned as it is: one refresh per request, no loop, no sign-out", async () => {
    // An API that refuses every token it is shown, while the session behind the cookie is live.
    const { server, a, b, siteRequests } = await twoTabs({ siteApi: () => problem(401, "token_revoked") });
    for (const round of [1, 2]) {
      const res = await a.fetch(`${SITE_API}/orders`);
      expect(res.status).toBe(401);
      expect([siteRequests.length, server.refreshCount]).toEqual([2 * round, round]);
    }
    await settle();
    expect([a.signOuts, b.signOuts]).toEqual([[], []]);
    expect(await a.getAccessToken()).toEqual(expect.any(String));
  });
});

describe("fetch to the site's own API", () => {
  it.each([
    ["a bare 401", () => new Response("Unauthorized", { status: 401 })],
    ["its own JSON error", () => Response.json({ code: "pin_required" }, { status: 401 })],
    ["another scheme's challenge", () => new Response(null, { status: 401, headers: { "WWW-Authenticate": 'Basic realm="reports"' } })],
    [
      "a Bearer challenge without invalid_token",
      () => new Response(null, { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="api", error="invalid_request"' } }),
    ],
  ])("%s says nothing about the session: returned as is, no refresh, no sign-out", async (_, answer) => {
    const { server, a, b, siteRequests, access_token } = await twoTabs({ siteApi: answer });
    const res = await a.fetch(`${SITE_API}/orders`, { method: "POST", body: "order" });
    expect(res.status).toBe(401);
    expect(siteRequests.length).toBe(1);
    expect(server.refreshCount).toBe(0);
    await settle();
    expect([a.signOuts, b.signOuts]).toEqual([[], []]);
    expect(await a.getAccessToken()).toBe(access_token);
  });

  it("an API verifying offline refuses an expired token (Bearer error=invalid_token): one refresh, one retry", async () => {
    const opened = await twoTabs({ siteApi: offlineApi });
    const { server } = opened;
    server.expireAccessTokens();
    const res = await opened.a.fetch(`${SITE_API}/orders`);
    expect(res.status).toBe(200);
    expect(opened.siteRequests.length).toBe(2);
    expect(server.refreshCount).toBe(1);
    expect(opened.siteRequests[1]!.headers.get("authorization")).toBe(`Bearer ${await opened.a.getAccessToken()}`);
    expect(opened.a.signOuts).toEqual([]);
  });

  it("the same, when the session ended elsewhere: Gatehouse refuses the refresh and both tabs sign out", async () => {
    const opened = await twoTabs({ siteApi: offlineApi });
    const { server } = opened;
    server.endSessionsElsewhere();
    server.expireAccessTokens(); // the offline API sees only the expiry
    const res = await opened.a.fetch(`${SITE_API}/orders`);
    expect(res.status).toBe(401);
    expect(opened.siteRequests.length).toBe(1);
    expect(server.refreshCount).toBe(1);
    await settle();
    expect([opened.a.signOuts, opened.b.signOuts]).toEqual([["session_ended"], ["other_tab"]]);
    expect(await opened.a.getAccessToken()).toBeNull();
  });

  it("an API passing Gatehouse's problem on (code, no challenge) gets the same treatment", async () => {
    const opened = await twoTabs({
      // Asks Gatehouse about each token and forwards its refusal's body, not its headers.
      siteApi: async (request, gatehouse) => {
        const answer = await gatehouse.fetch(`${gatehouse.base}/api/v1/users/me`, { headers: request.headers });
        return answer.ok ? Response.json({ ok: true }) : problem(answer.status, ((await answer.json()) as { code: string }).code);
      },
    });
    const { server } = opened;
    server.revokeAccessTokens();
    expect((await opened.a.fetch(`${SITE_API}/orders`)).status).toBe(200);
    expect(server.refreshCount).toBe(1);
    server.endSessionsElsewhere();
    expect((await opened.a.fetch(`${SITE_API}/orders`)).status).toBe(401);
    expect(server.refreshCount).toBe(2);
    expect(opened.a.signOuts).toEqual(["session_ended"]);
  });
});
