import { describe, expect, it, vi } from "vitest";
import type { Bindings } from "../src/config";
import { d1FailingOn } from "./broken-bindings";
import { enableTotp } from "./totp";
import { auditRows, call, env, problem, register, type Registered } from "./helpers";
import { OWN, textOf } from "./pages-browser";
import {
  adminUser,
  asClient,
  authorizePath,
  claimsOf,
  codeFor,
  createClientRequest,
  introspect,
  LOOPBACK_REDIRECT,
  newClient,
  OidcBrowser,
  oauthError,
  pkce,
  postForm,
  redeem,
  redeemOk,
  refresh,
  tokensFor,
  userinfo,
  verifyJwt,
  WEB_REDIRECT,
  type TestClient,
  redirectTarget,
} from "./oidc-helpers";

/**
 * Gatehouse as an OAuth 2.1 / OpenID Connect provider inside workerd (API.md v1.2, issue #32): what
 * the interop test against `npm run dev` (test/dev/oidc-provider.test.ts) does not cover. Discovery
 * and CORS, the clients' admin API, every refusal of the authorization endpoint, the token
 * endpoint's bindings and errors, revocation and what cascades to OAuth tokens, a second factor at
 * the hosted sign-in, and RP-initiated logout.
 */

const CLIENTS = "/api/v1/admin/oauth/clients";
const GRANTS = "/api/v1/users/me/grants";

/** A fresh account and a browser signed in as it. */
async function signedIn(): Promise<{ user: Registered; browser: OidcBrowser }> {
  const user = await register();
  const browser = new OidcBrowser();
  await browser.signIn(user);
  return { user, browser };
}

async function grantsOf(user: Registered) {
  const res = await call(GRANTS, { token: user.accessToken });
  const body = await res.json<{ grants: { client_id: string; name: string; scopes: string[]; created_at: string }[] }>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.grants;
}

/** Asserts an authorization error answer at the client's redirect URI (RFC 6749 4.1.2.1 with `iss`, RFC 9207). */
function expectErrorAnswer(location: string | null, client: TestClient, error: string, state: string | null) {
  expect(location, "a redirect to the client").toBeTruthy();
  const url = new URL(location!);
  expect(`${url.origin}${url.pathname}`).toBe(client.redirect);
  expect(url.searchParams.get("error")).toBe(error);
  expect(url.searchParams.get("state")).toBe(state);
  expect(url.searchParams.get("iss")).toBe(OWN);
  expect(url.searchParams.has("code")).toBe(false);
}

const sorted = (scope: string) => scope.split(" ").sort();

/** Unused, unrevoked OAuth refresh tokens of the client's (one) family. */
async function liveTokensOf(client: TestClient): Promise<number | undefined> {
  const row = await env.DB.prepare(
    "SELECT count(*) AS live FROM oauth_refresh_tokens WHERE client_id = ? AND used_at IS NULL AND revoked_at IS NULL",
  )
    .bind(client.id)
    .first<{ live: number }>();
  return row?.live;
}

describe("discovery", () => {
  it("both documents name the issuer and endpoints, S256 only, ES256, iss in the response, and code alone", async () => {
    for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]) {
      const res = await call(path);
      expect(res.status).toBe(200);
      const doc = await res.json<Record<string, unknown>>();
      expect(doc, path).toMatchObject({
        issuer: OWN,
        authorization_endpoint: `${OWN}/oauth/authorize`,
        token_endpoint: `${OWN}/oauth/token`,
        userinfo_endpoint: `${OWN}/oauth/userinfo`,
        revocation_endpoint: `${OWN}/oauth/revoke`,
        introspection_endpoint: `${OWN}/oauth/introspect`,
        end_session_endpoint: `${OWN}/oauth/logout`,
        jwks_uri: `${OWN}/.well-known/jwks.json`,
        code_challenge_methods_supported: ["S256"],
        id_token_signing_alg_values_supported: ["ES256"],
        authorization_response_iss_parameter_supported: true,
        response_types_supported: ["code"],
      });
      expect(doc.grant_types_supported).not.toContain("implicit");
      expect([...(doc.grant_types_supported as string[])].sort()).toEqual(["authorization_code", "refresh_token"]);
      expect([...(doc.scopes_supported as string[])].sort()).toEqual(["email", "offline_access", "openid", "profile"]);
      // Dynamic registration is off by default: no endpoint for it is published.
      expect(doc).not.toHaveProperty("registration_endpoint");
    }
  });

  it("publishes only endpoints that answer", async () => {
    const doc = await (await call("/.well-known/openid-configuration")).json<Record<string, string>>();
    const path = (key: string) => new URL(doc[key]!).pathname;
    // Each endpoint answers its own refusal, never a 404.
    const token = await postForm(path("token_endpoint"), { grant_type: "authorization_code" });
    await oauthError(token, 401, "invalid_client");
    await oauthError(await postForm(path("revocation_endpoint"), { token: "x" }), 401, "invalid_client");
    await oauthError(await postForm(path("introspection_endpoint"), { token: "x" }), 401, "invalid_client");
    const info = await call(path("userinfo_endpoint"));
    expect(info.status).toBe(401);
    expect(info.headers.get("www-authenticate")).toContain("Bearer");
    expect((await new OidcBrowser().get(path("authorization_endpoint"))).status).toBe(400);
    const logout = await new OidcBrowser().get(path("end_session_endpoint"));
    expect(logout.status).toBe(303);
    const jwks = await call(path("jwks_uri"));
    expect(jwks.status).toBe(200);
    expect((await jwks.json<{ keys: { alg?: string }[] }>()).keys.some((k) => k.alg === "ES256")).toBe(true);
  });

  it("discovery, JWKS, token, userinfo and revocation answer any origin with * and no credentials; pages answer no CORS", async () => {
    // An origin nobody listed, and the listed one (CORS_ORIGINS, with CORS_ALLOW_CREDENTIALS=true in the tests).
    for (const origin of ["https://anything.example", "https://app.example.com"]) {
      for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"]) {
        const res = await call(path, { headers: { Origin: origin } });
        expect(res.status).toBe(200);
        expect(res.headers.get("access-control-allow-origin"), `${path} from ${origin}`).toBe("*");
        expect(res.headers.get("access-control-allow-credentials"), `${path} from ${origin}`).toBeNull();
      }
      for (const [path, method] of [
        ["/oauth/token", "POST"],
        ["/oauth/userinfo", "GET"],
        ["/oauth/revoke", "POST"],
        ["/.well-known/openid-configuration", "GET"],
      ] as const) {
        const preflight = await call(path, {
          method: "OPTIONS",
          headers: {
            Origin: origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
          },
        });
        expect(preflight.status, `${path} preflight from ${origin}`).toBe(204);
        expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
        expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();
        expect(preflight.headers.get("access-control-allow-methods")).toContain(method);
        expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
      }
      // The answers themselves (errors included) are readable, WWW-Authenticate too.
      const token = await call("/oauth/token", {
        method: "POST",
        body: "grant_type=authorization_code",
        headers: { Origin: origin, "Content-Type": "application/x-www-form-urlencoded" },
      });
      expect(token.status).toBe(401);
      expect(token.headers.get("access-control-allow-origin")).toBe("*");
      expect(token.headers.get("access-control-allow-credentials")).toBeNull();
      const info = await call("/oauth/userinfo", { headers: { Origin: origin } });
      expect(info.status).toBe(401);
      expect(info.headers.get("access-control-allow-origin")).toBe("*");
      expect(info.headers.get("access-control-expose-headers")?.toLowerCase()).toContain("www-authenticate");
    }

    // The hosted pages (the sign-in, the authorization endpoint) answer no CORS at all, listed origin or not.
    for (const origin of ["https://anything.example", "https://app.example.com"]) {
      for (const path of ["/login", "/oauth/authorize"]) {
        const res = await new OidcBrowser().get(path, { Origin: origin });
        expect(res.headers.get("access-control-allow-origin"), `${path} from ${origin}`).toBeNull();
        expect(res.headers.get("access-control-allow-credentials")).toBeNull();
      }
      const preflight = await call("/login", { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": "POST" } });
      expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    }
  });
});

describe("the admin API for OAuth clients", () => {
  it("registers a confidential client and shows its secret in that answer only", async () => {
    const admin = await adminUser();
    const name = `Books ${crypto.randomUUID()}`;
    const { id, secret, created } = await newClient({
      name,
      post_logout_redirect_uris: ["https://app.example.org/bye"],
      scopes: ["openid", "email"],
    });
    expect(created).toMatchObject({
      name,
      type: "confidential",
      redirect_uris: [WEB_REDIRECT],
      post_logout_redirect_uris: ["https://app.example.org/bye"],
      scopes: ["openid", "email"],
      first_party: false,
      last_used_at: null,
    });
    expect(secret).toMatch(/^\S{32,}$/);

    const got = await call(`${CLIENTS}/${id}`, { token: admin.accessToken });
    const shown = await got.json<Record<string, unknown>>();
    expect(got.status).toBe(200);
    const withoutSecret: Record<string, unknown> = { ...created };
    delete withoutSecret.client_secret;
    expect(shown).toEqual(withoutSecret);
    expect(JSON.stringify(shown)).not.toContain(secret);

    const listed = await call(CLIENTS, { token: admin.accessToken });
    expect(listed.status).toBe(200);
    const text = await listed.text();
    expect(text).not.toContain(secret);
    expect((JSON.parse(text) as { clients: { client_id: string }[] }).clients.map((c) => c.client_id)).toContain(id);

    // The secret shown is the one that authenticates it, and only it.
    expect((await postForm("/oauth/introspect", { token: "nothing" }, { id, secret: secret! })).status).toBe(200);
    await oauthError(await postForm("/oauth/introspect", { token: "nothing" }, { id, secret: `${secret}x` }), 401, "invalid_client");
  });

  it("registers public clients without a secret, with loopback and reverse-domain private-use redirect URIs", async () => {
    const { created } = await newClient({
      type: "public",
      first_party: true,
      redirect_uris: [LOOPBACK_REDIRECT, "http://[::1]:8080/cb", "com.example.app:/oauth/callback"],
    });
    expect(created).not.toHaveProperty("client_secret");
    expect(created).toMatchObject({ type: "public", first_party: true, scopes: null });
    expect(created.redirect_uris).toEqual([LOOPBACK_REDIRECT, "http://[::1]:8080/cb", "com.example.app:/oauth/callback"]);
  });

  it("refuses unsafe redirect URIs and unknown scopes with 422 validation_failed, registering nothing", async () => {
    const admin = await adminUser();
    const tag = crypto.randomUUID();
    const refusals: Record<string, unknown>[] = [
      { redirect_uris: ["javascript:alert(1)"] },
      { redirect_uris: ["data:text/html,<script>alert(1)</script>"] },
      { redirect_uris: ["http://evil.example/cb"] },
      { redirect_uris: ["https://app.example.org/cb#fragment"] },
      { redirect_uris: ["https://app.example.org/cb#"] },
      { redirect_uris: ["file:///etc/passwd"] },
      { redirect_uris: ["myapp:/cb"] },
      { redirect_uris: ["/relative/cb"] },
      { redirect_uris: [] },
      { redirect_uris: [WEB_REDIRECT, "javascript:alert(1)"] },
      { post_logout_redirect_uris: ["javascript:alert(1)"] },
      { post_logout_redirect_uris: ["http://evil.example/bye"] },
      { scopes: ["openid", "admin"] },
      { type: "secretive" },
    ];
    for (const [n, body] of refusals.entries()) {
      const res = await createClientRequest({ name: `Refused ${tag} ${n}`, type: "confidential", redirect_uris: [WEB_REDIRECT], ...body });
      await problem(res, 422, "validation_failed");
    }
    const { clients } = await (await call(CLIENTS, { token: admin.accessToken })).json<{ clients: { name: string }[] }>();
    expect(clients.filter((c) => c.name.includes(tag))).toEqual([]);
  });

  it("is for superusers only", async () => {
    const { id } = await newClient();
    const user = await register();
    await problem(
      await createClientRequest({ name: "Mine", type: "public", redirect_uris: [WEB_REDIRECT] }, user.accessToken),
      403,
      "forbidden",
    );
    await problem(await call(CLIENTS, { token: user.accessToken }), 403, "forbidden");
    await problem(await call(`${CLIENTS}/${id}`, { token: user.accessToken }), 403, "forbidden");
    await problem(await call(`${CLIENTS}/${id}`, { method: "DELETE", token: user.accessToken }), 403, "forbidden");
    expect((await call(CLIENTS)).status).toBe(401);
    // Still there.
    expect((await call(`${CLIENTS}/${id}`, { token: (await adminUser()).accessToken })).status).toBe(200);
  });

  it("deletes a client: its tokens, pending codes and authorization requests stop working at once", async () => {
    const admin = await adminUser();
    const client = await newClient({ first_party: true });
    const { user, browser } = await signedIn();
    const tokens = await tokensFor(browser, client, { params: { scope: "openid email offline_access" } });
    const pending = await codeFor(browser, client);
    expect((await userinfo(tokens.access_token)).status).toBe(200);
    expect((await grantsOf(user)).map((g) => g.client_id)).toContain(client.id);

    expect((await call(`${CLIENTS}/${client.id}`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    await problem(await call(`${CLIENTS}/${client.id}`, { token: admin.accessToken }), 404, "not_found");
    await problem(await call(`${CLIENTS}/${client.id}`, { method: "DELETE", token: admin.accessToken }), 404, "not_found");
    const { clients } = await (await call(CLIENTS, { token: admin.accessToken })).json<{ clients: { client_id: string }[] }>();
    expect(clients.map((c) => c.client_id)).not.toContain(client.id);

    const info = await userinfo(tokens.access_token);
    expect(info.status).toBe(401);
    expect(await info.json()).toMatchObject({ error: "invalid_token" });
    // The client cannot authenticate any more: its refresh token and its pending code are dead.
    await oauthError(await refresh(client, tokens.refresh_token!), 401, "invalid_client");
    await oauthError(await redeem(client, pending.code, pending.verifier), 401, "invalid_client");
    // Its grants went with it, and a new authorization request is refused on a page.
    expect((await grantsOf(user)).map((g) => g.client_id)).not.toContain(client.id);
    const { challenge } = await pkce();
    const page = await browser.get(authorizePath(client, challenge));
    expect(page.status).toBe(400);
    expect(page.headers.get("location")).toBeNull();
    expect(textOf(await page.text())).toContain("This app is not registered here.");
  });
});

describe("the authorization endpoint", () => {
  it("answers an unknown client or an unregistered redirect URI with a 400 page, never a redirect", async () => {
    const client = await newClient({ redirect_uris: [WEB_REDIRECT, "https://app.example.org/other"] });
    const { challenge } = await pkce();
    const browser = new OidcBrowser();
    const cases: [string, string][] = [
      [authorizePath({ ...client, id: "gc_nobody" }, challenge), "This app is not registered here."],
      [authorizePath(client, challenge, { client_id: null }), "This app is not registered here."],
      [authorizePath(client, challenge, { redirect_uri: "https://evil.example/callback" }), "never registered"],
      [authorizePath(client, challenge, { redirect_uri: `${WEB_REDIRECT}?next=/x` }), "never registered"],
      [authorizePath(client, challenge, { redirect_uri: `${WEB_REDIRECT}/` }), "never registered"],
      [authorizePath(client, challenge, { redirect_uri: `${WEB_REDIRECT}#frag` }), "never registered"],
      [authorizePath(client, challenge, { redirect_uri: WEB_REDIRECT.replace("https:", "http:") }), "never registered"],
      // Two registered and none named: nothing to send an answer to.
      [authorizePath(client, challenge, { redirect_uri: null }), "never registered"],
      // Whatever else is wrong, an unregistered redirect URI is never where the error goes.
      [authorizePath(client, challenge, { redirect_uri: "https://evil.example/callback", response_type: "token" }), "never registered"],
    ];
    for (const [path, says] of cases) {
      const res = await browser.get(path);
      const html = await res.text();
      expect(res.status, path).toBe(400);
      expect(res.headers.get("location"), path).toBeNull();
      expect(res.headers.get("content-type")).toContain("text/html");
      expect(textOf(html), path).toContain(says);
    }
  });

  it("matches a loopback IP redirect URI on any port, and nothing else loosely", async () => {
    const client = await newClient({ type: "public", redirect_uris: [LOOPBACK_REDIRECT] });
    const user = await register();
    const otherPort = "http://127.0.0.1:61234/callback";
    const { code, verifier, flow } = await codeFor(new OidcBrowser(), { ...client, redirect: otherPort }, { user });
    expect(`${flow.callback.origin}${flow.callback.pathname}`).toBe(otherPort);
    expect(flow.callback.searchParams.get("iss")).toBe(OWN);
    // The code is bound to the URI the request named, port included.
    await oauthError(await redeem(client, code, verifier), 400, "invalid_grant");
    const again = await codeFor(new OidcBrowser(), { ...client, redirect: otherPort }, { user });
    await redeemOk({ ...client, redirect: otherPort }, again.code, again.verifier);

    const { challenge } = await pkce();
    for (const uri of [
      "http://127.0.0.1:61234/other",
      "http://localhost:61234/callback",
      "http://127.0.0.2:53682/callback",
      "https://127.0.0.1:53682/callback",
    ]) {
      const res = await new OidcBrowser().get(authorizePath(client, challenge, { redirect_uri: uri }));
      expect(res.status, uri).toBe(400);
      expect(res.headers.get("location"), uri).toBeNull();
    }
  });

  it("sends request errors back to the client with error, state and iss", async () => {
    const client = await newClient();
    const { verifier, challenge } = await pkce();
    const cases: [Record<string, string | null>, string][] = [
      [{ code_challenge: null }, "invalid_request"],
      [{ code_challenge_method: null }, "invalid_request"],
      [{ code_challenge_method: "plain", code_challenge: verifier }, "invalid_request"],
      [{ code_challenge: "too-short" }, "invalid_request"],
      [{ response_type: "token" }, "unsupported_response_type"],
      [{ response_type: "code id_token" }, "unsupported_response_type"],
      [{ response_type: null }, "unsupported_response_type"],
      [{ resource: "gatehouse" }, "invalid_target"],
      [{ resource: "https://api.example.org/#part" }, "invalid_target"],
      [{ scope: "admin" }, "invalid_scope"],
      [{ prompt: "none login" }, "invalid_request"],
      [{ max_age: "soon" }, "invalid_request"],
    ];
    for (const [params, error] of cases) {
      const state = `s-${crypto.randomUUID()}`;
      // Signed out: these are refused before anyone is asked to sign in.
      const res = await new OidcBrowser().get(authorizePath(client, challenge, { ...params, state }));
      expect(res.status, JSON.stringify(params)).toBe(302);
      expectErrorAnswer(res.headers.get("location"), client, error, state);
    }
    // Without state, no state comes back (and iss still does).
    const res = await new OidcBrowser().get(authorizePath(client, challenge, { state: null, code_challenge: null }));
    expectErrorAnswer(res.headers.get("location"), client, "invalid_request", null);
  });

  it("refuses Gatehouse's own audience as a resource (invalid_target) even for a signed-in person", async () => {
    const client = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const { challenge } = await pkce();
    const res = await browser.get(authorizePath(client, challenge, { resource: env.JWT_AUDIENCE, state: "own-api" }));
    expect(env.JWT_AUDIENCE).toBe("gatehouse");
    expectErrorAnswer(res.headers.get("location"), client, "invalid_target", "own-api");
  });

  it("prompt=none: login_required signed out, consent_required while consent is missing, a code once neither is", async () => {
    const client = await newClient();
    const { challenge } = await pkce();
    const out = await new OidcBrowser().get(authorizePath(client, challenge, { prompt: "none", state: "a" }));
    expect(out.status).toBe(302);
    expectErrorAnswer(out.headers.get("location"), client, "login_required", "a");

    const { browser } = await signedIn();
    const noConsent = await browser.get(authorizePath(client, challenge, { prompt: "none", state: "b" }));
    expect(noConsent.status).toBe(302);
    expectErrorAnswer(noConsent.headers.get("location"), client, "consent_required", "b");

    expect((await codeFor(browser, client)).flow.pages).toEqual(["consent"]);
    const silent = await codeFor(browser, client, { params: { prompt: "none", state: "c" } });
    expect(silent.flow.pages).toEqual([]);
    expect(silent.state).toBe("c");
    await redeemOk(client, silent.code, silent.verifier);
  });

  it("the consent page: deny is access_denied and grants nothing; allow is remembered for those scopes; more scopes or prompt=consent ask again", async () => {
    const name = `Consent App ${crypto.randomUUID().slice(0, 8)}`;
    const client = await newClient({ name });
    const { user, browser } = await signedIn();
    const { challenge } = await pkce();

    const page = await browser.get(authorizePath(client, challenge, { scope: "openid email", state: "deny-me" }));
    const html = await page.text();
    expect(page.status).toBe(200);
    const text = textOf(html);
    expect(text).toContain(`Allow ${name} to use your account?`);
    expect(text).toContain("app.example.org");
    expect(text).toContain("See your email address");
    expect(text).not.toContain("Keep access while you are away");
    const denied = await browser.submit(html, "/oauth/authorize", { decision: "deny" }, 'name="decision"');
    expectErrorAnswer(redirectTarget(denied), client, "access_denied", "deny-me");
    expect((await grantsOf(user)).map((g) => g.client_id)).not.toContain(client.id);

    expect((await codeFor(browser, client, { params: { scope: "openid email" } })).flow.pages).toEqual(["consent"]);
    // The same scopes (or fewer) again: remembered.
    expect((await codeFor(browser, client, { params: { scope: "openid email" } })).flow.pages).toEqual([]);
    expect((await codeFor(browser, client, { params: { scope: "openid" } })).flow.pages).toEqual([]);
    // offline_access is new: consent again. Then prompt=consent asks whatever was granted.
    expect((await codeFor(browser, client, { params: { scope: "openid offline_access" } })).flow.pages).toEqual(["consent"]);
    expect((await codeFor(browser, client, { params: { scope: "openid", prompt: "consent" } })).flow.pages).toEqual(["consent"]);

    const grant = (await grantsOf(user)).find((g) => g.client_id === client.id);
    expect(grant?.name).toBe(name);
    expect([...grant!.scopes].sort()).toEqual(["email", "offline_access", "openid"]);
  });

  it("a first-party client skips consent, offline_access included", async () => {
    const client = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const { flow, code, verifier } = await codeFor(browser, client, { params: { scope: "openid email offline_access" } });
    expect(flow.pages).toEqual([]);
    expect((await redeemOk(client, code, verifier)).refresh_token).toBeTruthy();
  });

  it("a consent form posted without the page's form token is refused", async () => {
    const client = await newClient();
    const { browser } = await signedIn();
    const { challenge } = await pkce();
    const html = await browser.open(authorizePath(client, challenge));
    const res = await browser.post("/oauth/authorize", {
      client_id: client.id,
      redirect_uri: client.redirect,
      response_type: "code",
      scope: "openid",
      code_challenge: challenge,
      code_challenge_method: "S256",
      decision: "allow",
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("location")).toBeNull();
    // Cross-site, with the right form token: refused too.
    const cross = await browser.submit(html, "/oauth/authorize", { decision: "allow" }, 'name="decision"', {
      origin: "https://evil.example",
      site: "cross-site",
    });
    expect(cross.status).toBe(403);
    expect(cross.headers.get("location")).toBeNull();
  });

  it("a client registered with scopes gets only those", async () => {
    const client = await newClient({ first_party: true, scopes: ["openid", "email"] });
    const { browser } = await signedIn();
    const tokens = await tokensFor(browser, client, { params: { scope: "openid email profile offline_access" } });
    expect(sorted(tokens.scope)).toEqual(["email", "openid"]);
    expect(tokens.refresh_token).toBeUndefined();
    expect(claimsOf(tokens.id_token!)).not.toHaveProperty("name");
    const { challenge } = await pkce();
    const res = await browser.get(authorizePath(client, challenge, { scope: "profile offline_access", state: "s" }));
    expectErrorAnswer(res.headers.get("location"), client, "invalid_scope", "s");
  });

  it("prompt=login while signed in shows the sign-in form again, then the flow continues with the new sign-in", async () => {
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: t0 });
    const client = await newClient({ first_party: true });
    const { user, browser } = await signedIn();
    vi.setSystemTime(t0 + 30_000);

    const { code, verifier, flow } = await codeFor(browser, client, { user, params: { prompt: "login" } });
    expect(flow.pages).toEqual(["login"]);
    expect(flow.hops[0]).toMatch(/^\/login\?reauth=1&return_to=/);
    // The way back does not ask for a sign-in a second time.
    const back = new URLSearchParams(flow.hops[0]!.split("?")[1]).get("return_to")!;
    expect(new URL(back, OWN).searchParams.get("prompt")).toBeNull();
    const tokens = await redeemOk(client, code, verifier);
    expect(claimsOf(tokens.id_token!).auth_time).toBe(Math.floor((t0 + 30_000) / 1000));
  });

  it("max_age=0 while signed in: a sign-in again; max_age longer than the session's age: none", async () => {
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: t0 });
    const client = await newClient({ first_party: true });
    const { user, browser } = await signedIn();
    vi.setSystemTime(t0 + 30_000);

    const fresh = await codeFor(browser, client, { user, params: { max_age: "60" } });
    expect(fresh.flow.pages).toEqual([]);
    expect(claimsOf((await redeemOk(client, fresh.code, fresh.verifier)).id_token!).auth_time).toBe(Math.floor(t0 / 1000));

    const stale = await codeFor(browser, client, { user, params: { max_age: "10" } });
    expect(stale.flow.pages).toEqual(["login"]);
    vi.setSystemTime(t0 + 60_000);
    const zero = await codeFor(browser, client, { user, params: { max_age: "0" } });
    expect(zero.flow.pages).toEqual(["login"]);
    expect(zero.flow.hops[0]).toMatch(/^\/login\?reauth=1&/);
    expect(claimsOf((await redeemOk(client, zero.code, zero.verifier)).id_token!).auth_time).toBe(Math.floor((t0 + 60_000) / 1000));
  });

  it("an auth_after in the request itself does not stand in for the new sign-in prompt=login or max_age asks for", async () => {
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: t0 });
    const client = await newClient({ first_party: true });
    const { browser } = await signedIn();
    vi.setSystemTime(t0 + 30_000);
    const { challenge } = await pkce();
    const cases: Record<string, string>[] = [{ prompt: "login" }, { max_age: "0" }, { max_age: "10" }];
    for (const params of cases) {
      const res = await browser.get(authorizePath(client, challenge, { ...params, auth_after: String(t0 - 1000) }));
      expect(res.status, JSON.stringify(params)).toBe(303);
      expect(res.headers.get("location"), JSON.stringify(params)).toMatch(/^\/login\?reauth=1&/);
    }
  });

  it("max_age=0 while signed out: the one sign-in it asks for is enough", async () => {
    const client = await newClient({ first_party: true });
    const user = await register();
    const { flow } = await codeFor(new OidcBrowser(), client, { user, params: { max_age: "0" } });
    expect(flow.pages).toEqual(["login"]);
  });

  it("passes state through and the nonce into the ID token, with iss on the answer", async () => {
    const client = await newClient();
    const { user, browser } = await signedIn();
    const state = `state-${crypto.randomUUID()}`;
    const nonce = `nonce-${crypto.randomUUID()}`;
    const { code, verifier, flow } = await codeFor(browser, client, { params: { scope: "openid email profile", state, nonce } });
    expect(flow.callback.searchParams.get("state")).toBe(state);
    expect(flow.callback.searchParams.get("iss")).toBe(OWN);
    expect(`${flow.callback.origin}${flow.callback.pathname}`).toBe(WEB_REDIRECT);

    const res = await redeem(client, code, verifier);
    expect(res.headers.get("cache-control")).toContain("no-store");
    const tokens = await res.json<{ id_token: string; access_token: string; scope: string; token_type: string; expires_in: number }>();
    expect(tokens.token_type).toBe("Bearer");
    expect(sorted(tokens.scope)).toEqual(["email", "openid", "profile"]);
    const { payload, protectedHeader } = await verifyJwt(tokens.id_token, { audience: client.id });
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload).toMatchObject({
      iss: OWN,
      sub: user.userId,
      aud: client.id,
      azp: client.id,
      nonce,
      amr: ["pwd"],
      email: user.email,
      email_verified: false,
      name: "Test User",
    });
    expect(typeof payload.auth_time).toBe("number");
    expect(payload.auth_time as number).toBeLessThanOrEqual(payload.iat!);

    const access = await verifyJwt(tokens.access_token, { audience: client.id, typ: "at+jwt" });
    expect(access.payload).toMatchObject({ sub: user.userId, client_id: client.id, scope: tokens.scope });
    expect(access.payload.exp! - access.payload.iat!).toBe(tokens.expires_in);
    const info = await userinfo(tokens.access_token);
    expect(await info.json()).toEqual({ sub: user.userId, email: user.email, email_verified: false, name: "Test User" });

    // Without a nonce, the ID token has none.
    const plain = await codeFor(browser, client, { params: { scope: "openid" } });
    const idToken = claimsOf((await redeemOk(client, plain.code, plain.verifier)).id_token!);
    expect(idToken).not.toHaveProperty("nonce");
    expect(idToken).not.toHaveProperty("email");
  });
});

describe("the token endpoint", () => {
  it("a code lives 60 seconds", async () => {
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: t0 });
    const client = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const early = await codeFor(browser, client);
    const late = await codeFor(browser, client);
    vi.setSystemTime(t0 + 59_000);
    await redeemOk(client, early.code, early.verifier);
    vi.setSystemTime(t0 + 61_000);
    await oauthError(await redeem(client, late.code, late.verifier), 400, "invalid_grant");
  });

  it("a replayed code is refused, and what its first redemption issued stops working", async () => {
    const client = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const { code, verifier } = await codeFor(browser, client, { params: { scope: "openid offline_access" } });
    const first = await redeemOk(client, code, verifier);
    expect((await userinfo(first.access_token)).status).toBe(200);
    await oauthError(await redeem(client, code, verifier), 400, "invalid_grant");
    await oauthError(await refresh(client, first.refresh_token!), 400, "invalid_grant");
    expect((await userinfo(first.access_token)).status).toBe(401);
    expect(await introspect(client, first.access_token)).toEqual({ active: false });
  });

  it("a replayed code ends the first redemption's access token also without offline_access", async () => {
    const client = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const { code, verifier } = await codeFor(browser, client);
    const first = await redeemOk(client, code, verifier);
    expect(first.refresh_token).toBeUndefined();
    await oauthError(await redeem(client, code, verifier), 400, "invalid_grant");
    expect((await userinfo(first.access_token)).status).toBe(401);
  });

  it("a code is bound to its client", async () => {
    const client = await newClient({ first_party: true });
    const other = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const { code, verifier } = await codeFor(browser, client);
    await oauthError(await redeem(other, code, verifier), 400, "invalid_grant");
    // Nor is it another redirect URI's or verifier's; none of those refusals used it up.
    await oauthError(await redeem({ ...client, redirect: "https://app.example.org/other" }, code, verifier), 400, "invalid_grant");
    await oauthError(await redeem(client, code, (await pkce()).verifier), 400, "invalid_grant");
    await redeemOk(client, code, verifier);
  });

  it("a confidential client must authenticate: no or a wrong secret is 401 invalid_client with WWW-Authenticate", async () => {
    const client = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const { code, verifier } = await codeFor(browser, client);
    const fields = { grant_type: "authorization_code", code, redirect_uri: client.redirect, code_verifier: verifier };
    const attempts: [string, () => Promise<Response>][] = [
      ["client_id alone", () => postForm("/oauth/token", { ...fields, client_id: client.id })],
      ["wrong basic", () => postForm("/oauth/token", fields, { id: client.id, secret: "wrong" })],
      ["empty basic", () => postForm("/oauth/token", fields, { id: client.id, secret: "" })],
      ["wrong post", () => postForm("/oauth/token", { ...fields, client_id: client.id, client_secret: "wrong" })],
      ["nothing", () => postForm("/oauth/token", fields)],
      [
        "two methods",
        () => postForm("/oauth/token", { ...fields, client_secret: client.secret! }, { id: client.id, secret: client.secret! }),
      ],
      ["another id", () => postForm("/oauth/token", fields, { id: "gc_nobody", secret: client.secret! })],
    ];
    for (const [what, attempt] of attempts) {
      const res = await attempt();
      expect(res.headers.get("www-authenticate"), what).toMatch(/^Basic /);
      await oauthError(res, 401, "invalid_client");
    }
    // None of those used the code up: client_secret_post redeems it.
    const ok = await postForm("/oauth/token", { ...fields, client_id: client.id, client_secret: client.secret! });
    expect(ok.status, await ok.clone().text()).toBe(200);
  });

  it("a public client presenting a secret is refused", async () => {
    const client = await newClient({ type: "public", first_party: true });
    const res = await postForm("/oauth/token", { grant_type: "refresh_token", refresh_token: "x" }, { id: client.id, secret: "made-up" });
    await oauthError(res, 401, "invalid_client");
  });

  it("takes form bodies only, and the code and refresh grants only", async () => {
    const client = await newClient({ first_party: true });
    const json = await call("/oauth/token", {
      body: { grant_type: "authorization_code", code: "x", client_id: client.id, client_secret: client.secret },
    });
    await oauthError(json, 400, "invalid_request");
    const repeated = await call("/oauth/token", {
      method: "POST",
      body: `grant_type=refresh_token&refresh_token=a&refresh_token=b&client_id=${client.id}&client_secret=${client.secret}`,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    await oauthError(repeated, 400, "invalid_request");
    for (const grant of ["password", "client_credentials", "implicit", "urn:ietf:params:oauth:grant-type:device_code"]) {
      await oauthError(await asClient(client, "/oauth/token", { grant_type: grant }), 400, "unsupported_grant_type");
    }
    expect((await call("/oauth/token", { method: "GET" })).status).toBeGreaterThanOrEqual(400);
  });

  it("rotates refresh tokens: narrowing the scope works, widening is invalid_scope and uses nothing up", async () => {
    const client = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const tokens = await tokensFor(browser, client, { params: { scope: "openid email offline_access" } });

    const narrowRes = await refresh(client, tokens.refresh_token!, { scope: "openid" });
    const narrow = await narrowRes.json<{ scope: string; access_token: string; refresh_token: string; id_token?: string }>();
    expect(narrowRes.status, JSON.stringify(narrow)).toBe(200);
    expect(narrow.scope).toBe("openid");
    expect(claimsOf(narrow.access_token).scope).toBe("openid");
    expect(narrow.refresh_token).not.toBe(tokens.refresh_token);
    expect(await (await userinfo(narrow.access_token)).json()).not.toHaveProperty("email");
    // The grant keeps its scopes: the next refresh without `scope` has all of them again.
    const fullRes = await refresh(client, narrow.refresh_token);
    const full = await fullRes.json<{ scope: string; refresh_token: string }>();
    expect(fullRes.status).toBe(200);
    expect(sorted(full.scope)).toEqual(["email", "offline_access", "openid"]);

    // Widening is refused, and the refusal does not consume the refresh token (nothing new was issued).
    await oauthError(await refresh(client, full.refresh_token, { scope: "openid profile" }), 400, "invalid_scope");
    const after = await refresh(client, full.refresh_token);
    expect(after.status, await after.clone().text()).toBe(200);
  });

  it("a redemption or refresh that lost its claim writes no token, even in the winner's millisecond with its follow-up failing", async () => {
    const client = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const { code, verifier } = await codeFor(browser, client, { params: { scope: "openid offline_access" } });
    // workerd's clock moves only between I/O: two presentations of one code or token can share a millisecond.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const tokens = await redeemOk(client, code, verifier);
    // The second one loses the claim; the read that would then end the family (a replay) fails, so
    // only the claim's own batch says whether a second live token was written.
    const failingRead = (table: string) =>
      d1FailingOn(new RegExp(`^select [^()]* from "${table}" where "${table}"\\."hash" = \\? limit`, "i"));
    const again = (fields: Record<string, string>, DB: D1Database) =>
      call("/oauth/token", {
        method: "POST",
        body: new URLSearchParams(fields).toString(),
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${btoa(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret!)}`)}`,
        },
        env: { DB },
      });
    const code2 = { grant_type: "authorization_code", code, redirect_uri: client.redirect, code_verifier: verifier };
    expect((await again(code2, failingRead("oauth_codes"))).status).toBe(503);
    expect(await liveTokensOf(client)).toBe(1);

    expect((await refresh(client, tokens.refresh_token!)).status).toBe(200);
    const refresh2 = { grant_type: "refresh_token", refresh_token: tokens.refresh_token! };
    expect((await again(refresh2, failingRead("oauth_refresh_tokens"))).status).toBe(503);
    expect(await liveTokensOf(client)).toBe(1);
  });

  it("a refresh token of another client is invalid_grant", async () => {
    const client = await newClient({ first_party: true });
    const other = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const tokens = await tokensFor(browser, client, { params: { scope: "openid offline_access" } });
    const body = await oauthError(await refresh(other, tokens.refresh_token!), 400, "invalid_grant");
    expect(body).not.toHaveProperty("access_token");
    // The refusal used nothing up: the owner refreshes as before (and no reuse was detected).
    const owner = await refresh(client, tokens.refresh_token!);
    expect(owner.status, await owner.clone().text()).toBe(200);
  });

  it("resource indicators: aud is the client without one, the resource with one; the token endpoint's must match the request's", async () => {
    const client = await newClient({ first_party: true });
    const { user, browser } = await signedIn();
    const resource = "https://api.example.org/v2";

    const plain = await tokensFor(browser, client, { params: { scope: "openid offline_access" } });
    expect(claimsOf(plain.access_token).aud).toBe(client.id);
    const withResource = await tokensFor(browser, client, { params: { scope: "openid offline_access", resource } });
    expect(claimsOf(withResource.access_token).aud).toBe(resource);
    expect(claimsOf(withResource.id_token!).aud).toBe(client.id);
    // A refresh keeps the resource.
    const refreshed = await (await refresh(client, withResource.refresh_token!)).json<{ access_token: string }>();
    expect(claimsOf(refreshed.access_token).aud).toBe(resource);
    for (const token of [plain.access_token, withResource.access_token]) expect(claimsOf(token).aud).not.toBe(env.JWT_AUDIENCE);

    // A different resource at the token endpoint, or one the request never named: invalid_target.
    const a = await codeFor(browser, client, { params: { resource } });
    await oauthError(await redeem(client, a.code, a.verifier, { resource: "https://other.example.org/" }), 400, "invalid_target");
    const b = await codeFor(browser, client);
    await oauthError(await redeem(client, b.code, b.verifier, { resource }), 400, "invalid_target");
    const c = await codeFor(browser, client, { params: { resource } });
    expect(claimsOf((await redeemOk(client, c.code, c.verifier, { resource })).access_token).aud).toBe(resource);

    // Introspection shows the audience and the user.
    expect(await introspect(client, withResource.access_token)).toMatchObject({
      active: true,
      token_type: "access_token",
      client_id: client.id,
      sub: user.userId,
      aud: resource,
      iss: OWN,
    });
  });

  it("an OAuth access token is refused by /api/v1 (401), with or without a resource", async () => {
    const client = await newClient({ first_party: true });
    const { browser } = await signedIn();
    const plain = await tokensFor(browser, client, { params: { scope: "openid email profile" } });
    const withResource = await tokensFor(browser, client, { params: { resource: `${OWN}/api/v1` } });
    for (const token of [plain.access_token, withResource.access_token]) {
      expect((await call("/api/v1/users/me", { token })).status).toBe(401);
      expect((await call(GRANTS, { token })).status).toBe(401);
      expect((await call("/api/v1/users/me/sessions", { token })).status).toBe(401);
    }
    // And Gatehouse's own access token is not an OAuth one: userinfo refuses it.
    const own = await register();
    expect((await userinfo(own.accessToken)).status).toBe(401);
  });

  it("introspection is for authenticated clients, and shows a client only its own tokens", async () => {
    const client = await newClient({ first_party: true });
    const other = await newClient({ first_party: true });
    const publicClient = await newClient({ type: "public", first_party: true, redirect_uris: [LOOPBACK_REDIRECT] });
    const { browser } = await signedIn();
    const tokens = await tokensFor(browser, client, { params: { scope: "openid offline_access" } });
    expect(await introspect(client, tokens.refresh_token!)).toMatchObject({
      active: true,
      token_type: "refresh_token",
      client_id: client.id,
    });
    expect(await introspect(other, tokens.access_token)).toEqual({ active: false });
    expect(await introspect(other, tokens.refresh_token!)).toEqual({ active: false });
    // Discovery publishes client_secret_basic and client_secret_post only for introspection (API.md: authenticated clients).
    await oauthError(await postForm("/oauth/introspect", { client_id: publicClient.id, token: "anything" }), 401, "invalid_client");
  });

  it("revocation (RFC 7009): a refresh token ends its family; another client's token is left alone", async () => {
    const client = await newClient({ type: "public", first_party: true, redirect_uris: [LOOPBACK_REDIRECT] });
    const other = await newClient({ type: "public", first_party: true, redirect_uris: [LOOPBACK_REDIRECT] });
    const { browser } = await signedIn();
    const mine = await tokensFor(browser, client, { params: { scope: "openid offline_access" } });
    const theirs = await tokensFor(browser, other, { params: { scope: "openid offline_access" } });

    // Another client's token: 200 as for any token, and nothing happens to it.
    expect((await asClient(client, "/oauth/revoke", { token: theirs.refresh_token! })).status).toBe(200);
    expect((await asClient(client, "/oauth/revoke", { token: "not-a-token" })).status).toBe(200);
    const still = await refresh(other, theirs.refresh_token!);
    expect(still.status).toBe(200);

    const res = await asClient(client, "/oauth/revoke", { token: mine.refresh_token!, token_type_hint: "refresh_token" });
    expect(res.status).toBe(200);
    await oauthError(await refresh(client, mine.refresh_token!), 400, "invalid_grant");
    expect((await userinfo(mine.access_token)).status).toBe(401);
    await oauthError(await asClient(client, "/oauth/revoke", {}), 400, "invalid_request");
  });
});

describe("revocation and what cascades to OAuth tokens", () => {
  /** A webhook configuration for one request, so its events are written (test/events.test.ts). */
  const webhookEnv = (): Partial<Bindings> => ({
    WEBHOOK_URL: "https://hooks.example.com/gatehouse",
    WEBHOOK_SECRET: `whsec_${btoa("0123456789abcdef0123456789abcdef")}`,
    WEBHOOKS: { send: () => Promise.resolve(), sendBatch: () => Promise.resolve() } as unknown as Queue,
  });

  it("lists the apps with access and removes one: event, audit, refresh and access tokens dead, consent asked again", async () => {
    const name = `Grant App ${crypto.randomUUID().slice(0, 8)}`;
    const client = await newClient({ name });
    const { user, browser } = await signedIn();
    const tokens = await tokensFor(browser, client, { params: { scope: "openid email offline_access" } });

    const [grant] = (await grantsOf(user)).filter((g) => g.client_id === client.id);
    expect(grant).toMatchObject({ client_id: client.id, name });
    expect([...grant!.scopes].sort()).toEqual(["email", "offline_access", "openid"]);
    expect(new Date(grant!.created_at).toISOString()).toBe(grant!.created_at);

    const removed = await call(`${GRANTS}/${client.id}`, { method: "DELETE", token: user.accessToken, env: webhookEnv() });
    expect(removed.status).toBe(204);
    const event = await env.DB.prepare(
      "SELECT payload FROM webhook_events WHERE type = 'user.grant_revoked' AND json_extract(payload, '$.data.user_id') = ?",
    )
      .bind(user.userId)
      .first<{ payload: string }>();
    expect(JSON.parse(event!.payload)).toMatchObject({ type: "user.grant_revoked", data: { user_id: user.userId, client_id: client.id } });
    expect((await auditRows("user_id = ? AND action = 'oauth.grant_revoked'", user.userId)).map((r) => r.resource)).toEqual([
      `oauth_client:${client.id}`,
    ]);

    await oauthError(await refresh(client, tokens.refresh_token!), 400, "invalid_grant");
    expect(await introspect(client, tokens.access_token)).toEqual({ active: false });
    expect(await introspect(client, tokens.refresh_token!)).toEqual({ active: false });
    expect((await userinfo(tokens.access_token)).status).toBe(401);
    expect((await grantsOf(user)).map((g) => g.client_id)).not.toContain(client.id);
    await problem(await call(`${GRANTS}/${client.id}`, { method: "DELETE", token: user.accessToken }), 404, "not_found");

    // The next authorization asks for consent again.
    expect((await codeFor(browser, client, { params: { scope: "openid email" } })).flow.pages).toEqual(["consent"]);
  });

  it("an access token of a removed grant stays dead after the person allows the app again", async () => {
    const client = await newClient();
    const { user, browser } = await signedIn();
    // No offline_access: the family has no refresh token.
    const before = await tokensFor(browser, client, { params: { scope: "openid" } });
    expect((await userinfo(before.access_token)).status).toBe(200);
    expect((await call(`${GRANTS}/${client.id}`, { method: "DELETE", token: user.accessToken })).status).toBe(204);
    expect((await userinfo(before.access_token)).status).toBe(401);

    const after = await tokensFor(browser, client, { params: { scope: "openid" } });
    expect((await userinfo(after.access_token)).status).toBe(200);
    expect((await userinfo(before.access_token)).status).toBe(401);
    expect(await introspect(client, before.access_token)).toEqual({ active: false });
  });

  it("deactivating the account ends its OAuth tokens and pending codes", async () => {
    const admin = await adminUser();
    const client = await newClient({ first_party: true });
    const { user, browser } = await signedIn();
    const tokens = await tokensFor(browser, client, { params: { scope: "openid offline_access" } });
    const pending = await codeFor(browser, client);
    expect((await userinfo(tokens.access_token)).status).toBe(200);

    expect((await call(`/api/v1/admin/users/${user.userId}/deactivate`, { method: "POST", token: admin.accessToken })).status).toBe(204);
    expect((await userinfo(tokens.access_token)).status).toBe(401);
    expect(await introspect(client, tokens.access_token)).toEqual({ active: false });
    await oauthError(await refresh(client, tokens.refresh_token!), 400, "invalid_grant");
    await oauthError(await redeem(client, pending.code, pending.verifier), 400, "invalid_grant");

    // Reactivation does not bring them back.
    expect((await call(`/api/v1/admin/users/${user.userId}/reactivate`, { method: "POST", token: admin.accessToken })).status).toBe(204);
    expect((await userinfo(tokens.access_token)).status).toBe(401);
  });

  it("a password change ends the OAuth tokens issued before it", async () => {
    const client = await newClient({ first_party: true });
    const { user, browser } = await signedIn();
    const tokens = await tokensFor(browser, client, { params: { scope: "openid offline_access" } });
    expect((await userinfo(tokens.access_token)).status).toBe(200);

    const changed = await call("/api/v1/users/me/password", {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: user.password, new_password: "a brand new passphrase 9" },
    });
    expect(changed.status).toBe(204);
    expect((await userinfo(tokens.access_token)).status).toBe(401);
    expect(await introspect(client, tokens.access_token)).toEqual({ active: false });
    await oauthError(await refresh(client, tokens.refresh_token!), 400, "invalid_grant");
  });
});

describe("a second factor at the hosted sign-in", () => {
  it("an account with an authenticator app signs in with /login then /login/verify before any code; amr says so", async () => {
    const client = await newClient();
    const user = await register();
    const { secret } = await enableTotp(user);
    const browser = new OidcBrowser();
    const { challenge, verifier } = await pkce();
    const start = authorizePath(client, challenge, { scope: "openid offline_access", nonce: "n-1" });

    // The password alone: on to the second step, no session and no code yet.
    const toLogin = await browser.get(start);
    expect(toLogin.status).toBe(303);
    const loginPath = toLogin.headers.get("location")!;
    expect(loginPath).toMatch(/^\/login\?return_to=/);
    const password = await browser.submit(await browser.open(loginPath), "/login", { identifier: user.email, password: user.password });
    expect(password.status).toBe(303);
    expect(password.headers.get("location")).toMatch(/^\/login\/verify/);
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);
    const meanwhile = await browser.get(start);
    expect(meanwhile.headers.get("location")).toMatch(/^\/login\?/);

    const flow = await browser.authorize(start, { user, totpSecret: secret });
    expect(flow.pages).toEqual(["login", "verify", "consent"]);
    const code = flow.callback.searchParams.get("code")!;
    const tokens = await redeemOk(client, code, verifier);
    const { payload } = await verifyJwt(tokens.id_token!, { audience: client.id });
    expect(payload.amr).toEqual(["pwd", "otp", "mfa"]);
    expect(payload.nonce).toBe("n-1");
    expect(claimsOf(tokens.access_token).amr).toEqual(["pwd", "otp", "mfa"]);
    // The refresh keeps the sign-in's amr.
    const refreshed = await (await refresh(client, tokens.refresh_token!)).json<{ access_token: string }>();
    expect(claimsOf(refreshed.access_token).amr).toEqual(["pwd", "otp", "mfa"]);

    // A password-only session's tokens say pwd, as that session had.
    const plainUser = await register();
    const plain = await tokensFor(new OidcBrowser(), client, { user: plainUser });
    expect(claimsOf(plain.id_token!).amr).toEqual(["pwd"]);
  });
});

describe("RP-initiated logout", () => {
  const BYE = "https://app.example.org/bye";

  it("without an id_token_hint: a confirmation page, and no sign-out until its form is posted", async () => {
    const client = await newClient({ post_logout_redirect_uris: [BYE] });
    const { browser } = await signedIn();
    const session = browser.jar.get("__Host-gh_rt")!;
    for (const hint of [null, "not.a.jwt", "eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0."]) {
      const query = new URLSearchParams({ post_logout_redirect_uri: BYE, state: "s1", client_id: client.id });
      if (hint) query.set("id_token_hint", hint);
      const res = await browser.get(`/oauth/logout?${query.toString()}`);
      const html = await res.text();
      expect(res.status, String(hint)).toBe(200);
      expect(html).toContain('action="/oauth/logout"');
      expect(textOf(html)).toContain("An app asked to sign you out.");
      expect(browser.jar.get("__Host-gh_rt")).toBe(session);
      expect((await browser.get("/account")).status).toBe(200);
    }

    const html = await browser.open(
      `/oauth/logout?${new URLSearchParams({ post_logout_redirect_uri: BYE, state: "s2", client_id: client.id }).toString()}`,
    );
    const res = await browser.submit(html, "/oauth/logout");
    // Back to the app from a page: the confirmation form's CSP form-action would block a redirect there.
    expect(res.status).toBe(200);
    expect(redirectTarget(res)).toBe(`${BYE}?state=s2`);
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);
    // Signed out on the server too: the old cookie opens nothing.
    const stale = new OidcBrowser();
    stale.jar.set("__Host-gh_rt", session);
    expect((await stale.get("/account")).status).not.toBe(200);
  });

  it("an id_token_hint of someone else is no hint: a confirmation", async () => {
    const client = await newClient({ first_party: true, post_logout_redirect_uris: [BYE] });
    const { browser: theirBrowser } = await signedIn();
    const theirs = await tokensFor(theirBrowser, client);
    const { browser } = await signedIn();
    const res = await browser.get(
      `/oauth/logout?${new URLSearchParams({ id_token_hint: theirs.id_token!, post_logout_redirect_uri: BYE }).toString()}`,
    );
    expect(res.status).toBe(200);
    expect(browser.jar.has("__Host-gh_rt")).toBe(true);
    expect((await browser.get("/account")).status).toBe(200);
  });

  it("never goes to a post_logout_redirect_uri the client did not register", async () => {
    const client = await newClient({ first_party: true, post_logout_redirect_uris: [BYE] });
    const evil = "https://evil.example/bye";

    // With a valid hint: signed out at once, to the sign-in page.
    const { browser } = await signedIn();
    const tokens = await tokensFor(browser, client);
    for (const uri of [evil, `${BYE}/x`, `${BYE}?x=1`, client.redirect]) {
      const again = await signedIn();
      const mine = await tokensFor(again.browser, client);
      const res = await again.browser.get(
        `/oauth/logout?${new URLSearchParams({ id_token_hint: mine.id_token!, post_logout_redirect_uri: uri, state: "s" }).toString()}`,
      );
      expect(res.status, uri).toBe(303);
      expect(res.headers.get("location"), uri).toBe("/login?notice=signed_out");
      expect(again.browser.jar.has("__Host-gh_rt")).toBe(false);
    }

    // Without a hint: the confirmation, then the sign-in page.
    const html = await browser.open(
      `/oauth/logout?${new URLSearchParams({ post_logout_redirect_uri: evil, state: "s", client_id: client.id }).toString()}`,
    );
    const res = await browser.submit(html, "/oauth/logout");
    expect(res.headers.get("location")).toBe("/login?notice=signed_out");
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);

    // Signed out already, with the hint: still never the unregistered URI.
    const out = await browser.get(
      `/oauth/logout?${new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: evil }).toString()}`,
    );
    expect(out.headers.get("location")).toBe("/login?notice=signed_out");
  });
});
