import * as client from "openid-client";
import * as oauth from "oauth4webapi";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { runNodeScript } from "../node/admin-run.mjs";
import { uniqueDevEmail, uniqueDevIp } from "./shared-server";
import { PageBrowser, PASSWORD } from "./page-browser";
import { totpCode } from "../../scripts/totp.mjs";

/**
 * Gatehouse as an OpenID provider under `npm run dev`, driven by two independent relying-party
 * libraries in Node (panva's `openid-client` and `oauth4webapi`): discovery, code + PKCE through the
 * hosted sign-in and consent pages, the ID token, userinfo, refresh rotation and its reuse,
 * revocation, introspection, logout, and the refusals a provider must make.
 */

const REDIRECT = "http://127.0.0.1:53682/callback";

let admin = "";
let base = "";

async function api(path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
  return fetch(`${base}${path}`, {
    method: init.method ?? (init.body ? "POST" : "GET"),
    headers: {
      "content-type": "application/json",
      "cf-connecting-ip": uniqueDevIp(),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
}

async function person(): Promise<string> {
  const email = uniqueDevEmail("rp");
  const res = await api("/api/v1/auth/register", { body: { email, password: PASSWORD, full_name: "Ria Party" } });
  expect(res.status).toBe(201);
  return email;
}

async function newClient(body: Record<string, unknown>): Promise<{ client_id: string; client_secret?: string }> {
  const res = await api("/api/v1/admin/oauth/clients", { token: admin, body: { name: "Partner App", redirect_uris: [REDIRECT], ...body } });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json() as never;
}

beforeAll(async () => {
  base = inject("devServer").base;
  const email = await person();
  const granted = runNodeScript("scripts/admin.mjs", ["grant", email, "--persist-to", inject("devServer").persistDir]);
  expect(granted.status, granted.stderr).toBe(0);
  const login = await api("/api/v1/auth/login", { body: { email, password: PASSWORD } });
  admin = (await login.json<{ access_token: string }>()).access_token;
}, 120_000);

describe("openid-client against Gatehouse", () => {
  it("discovers, signs in through the hosted pages with consent, validates the ID token, reads userinfo, refreshes, revokes", async () => {
    const { client_id, client_secret } = await newClient({
      type: "confidential",
      post_logout_redirect_uris: ["http://127.0.0.1:53682/bye"],
    });
    const config = await client.discovery(
      new URL(base.replace("127.0.0.1", "localhost")),
      client_id,
      { id_token_signed_response_alg: "ES256" },
      client.ClientSecretBasic(client_secret ?? ""),
      {
        execute: [client.allowInsecureRequests],
      },
    );
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid email profile offline_access",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    const email = await person();
    const browser = new PageBrowser();
    const callback = await browser.authorize(url.href, email, { redirect: REDIRECT });
    expect(callback.searchParams.get("iss")).toBe(config.serverMetadata().issuer);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ aud: client_id, email, email_verified: false, name: "Ria Party", nonce });
    expect(claims.amr).toEqual(["pwd"]);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ sub: claims.sub, email });

    // An OAuth access token is not Gatehouse's own: every /api/v1 endpoint refuses it.
    expect((await api("/api/v1/users/me", { token: tokens.access_token })).status).toBe(401);

    // Refresh rotates; the used token presented again ends the family, the new one included.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
    expect((await client.tokenIntrospection(config, refreshed.access_token)).active).toBe(false);

    // A new sign-in remembers the consent (no consent page), then revocation and introspection.
    const again = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid email",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
    });
    const second = await client.authorizationCodeGrant(
      config,
      await browser.authorize(again.href, email, { redirect: REDIRECT, consent: "deny" }),
      {
        pkceCodeVerifier: verifier,
        expectedState: state,
      },
    );
    expect((await client.tokenIntrospection(config, second.access_token)).active).toBe(true);
    await client.tokenRevocation(config, second.access_token);
    expect((await client.tokenIntrospection(config, second.access_token)).active).toBe(false);
    await expect(client.fetchUserInfo(config, second.access_token, claims.sub)).rejects.toBeDefined();

    // RP-initiated logout with the ID token as hint: signed out, back to the registered URI with state.
    const logout = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: "http://127.0.0.1:53682/bye",
      state: "bye",
    });
    const out = await browser.go(logout.href);
    expect(out.headers.get("location")).toBe("http://127.0.0.1:53682/bye?state=bye");
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);
  });
});

describe("a second factor at the hosted sign-in", () => {
  it("asks for the authenticator app's code before the code, and the ID token says so", async () => {
    const { client_id, client_secret } = await newClient({ type: "confidential", first_party: true });
    const email = await person();
    const login = await api("/api/v1/auth/login", { body: { email, password: PASSWORD } });
    const { access_token } = await login.json<{ access_token: string }>();
    const started = await api("/api/v1/users/me/mfa/totp", { token: access_token, body: {} });
    expect(started.status, await started.clone().text()).toBe(200);
    const { secret } = await started.json<{ secret: string }>();
    const confirmed = await api("/api/v1/users/me/mfa/totp/confirm", { token: access_token, body: { code: totpCode(secret) } });
    expect(confirmed.status, await confirmed.clone().text()).toBe(200);

    const config = await client.discovery(
      new URL(base.replace("127.0.0.1", "localhost")),
      client_id,
      { id_token_signed_response_alg: "ES256" },
      client.ClientSecretPost(client_secret ?? ""),
      { execute: [client.allowInsecureRequests] },
    );
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
    });
    const callback = await new PageBrowser().authorize(url.href, email, { redirect: REDIRECT, totpSecret: secret });
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()!.amr).toEqual(["pwd", "otp", "mfa"]);
  });
});

describe("oauth4webapi against Gatehouse", () => {
  it("a public client: PKCE required, codes once (also concurrently, which revokes), exact redirect URI", async () => {
    const { client_id } = await newClient({ type: "public", first_party: true });
    const issuer = new URL(base.replace("127.0.0.1", "localhost"));
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
    const c: oauth.Client = { client_id, id_token_signed_response_alg: "ES256" };
    const email = await person();
    const browser = new PageBrowser();
    const authorizeUrl = async (extra: Record<string, string> = {}) => {
      const verifier = oauth.generateRandomCodeVerifier();
      const url = new URL(as.authorization_endpoint!);
      const params = {
        client_id,
        redirect_uri: REDIRECT,
        response_type: "code",
        scope: "openid offline_access",
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        ...extra,
      };
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return { url: url.href, verifier };
    };
    const options = { [oauth.allowInsecureRequests]: true };
    const redeem = (params: URLSearchParams, verifier: string, redirect = REDIRECT) =>
      oauth.authorizationCodeGrantRequest(as, c, oauth.None(), params, redirect, verifier, options);

    // First-party: no consent page.
    const first = await authorizeUrl();
    const answer = oauth.validateAuthResponse(as, c, await browser.authorize(first.url, email, { redirect: REDIRECT }));
    // Two redemptions at once: one wins; the loser's refusal revokes what the winner got.
    const [a, b] = await Promise.all([redeem(answer, first.verifier), redeem(answer, first.verifier)]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 400]);
    const winner = await oauth.processAuthorizationCodeResponse(as, c, a.status === 200 ? a : b, { requireIdToken: true });
    const refresh = await oauth.refreshTokenGrantRequest(as, c, oauth.None(), winner.refresh_token!, options);
    expect(refresh.status).toBe(400);

    // PKCE mismatch and redirect URI mismatch: invalid_grant.
    const second = await authorizeUrl();
    const answer2 = oauth.validateAuthResponse(as, c, await browser.authorize(second.url, email, { redirect: REDIRECT }));
    const wrong = await redeem(answer2, oauth.generateRandomCodeVerifier());
    expect(wrong.status).toBe(400);
    expect((await wrong.json<{ error: string }>()).error).toBe("invalid_grant");
    const third = await authorizeUrl();
    const answer3 = oauth.validateAuthResponse(as, c, await browser.authorize(third.url, email, { redirect: REDIRECT }));
    expect((await redeem(answer3, third.verifier, "http://127.0.0.1:53682/other")).status).toBe(400);

    // Without PKCE: refused back at the client's URI; an unregistered redirect URI: a 400 page, never a redirect.
    const noPkce = new URL(first.url);
    noPkce.searchParams.delete("code_challenge");
    const refused = await browser.authorize(noPkce.href, email, { redirect: REDIRECT });
    expect(refused.searchParams.get("error")).toBe("invalid_request");
    const elsewhere = new URL(first.url);
    elsewhere.searchParams.set("redirect_uri", "https://evil.example/cb");
    const page = await browser.go(elsewhere.href);
    expect(page.status).toBe(400);
    expect(page.headers.get("location")).toBeNull();
    // A resource equal to Gatehouse's own audience: invalid_target.
    const ownApi = await authorizeUrl({ resource: "gatehouse" });
    expect((await browser.authorize(ownApi.url, email, { redirect: REDIRECT })).searchParams.get("error")).toBe("invalid_target");
  });

  it("a confidential client with a wrong secret gets invalid_client", async () => {
    const { client_id } = await newClient({ type: "confidential" });
    const res = await fetch(`${base}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${btoa(`${client_id}:wrong`)}` },
      body: new URLSearchParams({ grant_type: "authorization_code", code: "x", redirect_uri: REDIRECT, code_verifier: "v".repeat(43) }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: "invalid_client" });
  });
});
