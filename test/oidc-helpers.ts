import type { ClientView } from "../src/oidc/clients";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import { expect } from "vitest";
import { currentStep, totpCode } from "../scripts/totp.mjs";
import { call, freshIp, superuser, type Registered } from "./helpers";
import { Browser, OWN } from "./pages-browser";

/**
 * Helpers for the inside-workerd tests of Gatehouse as an OAuth 2.1 / OpenID Connect provider
 * (test/oidc-provider.test.ts): clients through the admin API, PKCE, a browser that follows an
 * authorization request through the hosted pages, and the token-side endpoints with form bodies.
 */

/** An https redirect URI (a web app on another domain). */
export const WEB_REDIRECT = "https://app.example.org/callback";
/** A loopback redirect URI (a native app, RFC 8252): any port matches. */
export const LOOPBACK_REDIRECT = "http://127.0.0.1:53682/callback";

/** What the admin API answers for a new client: the client, and a confidential one's secret once. */
export type ClientCreated = ClientView & { client_secret?: string };

/** A client as the token side uses it: its id, its secret (confidential) and its first redirect URI. */
export interface TestClient {
  id: string;
  secret: string | undefined;
  redirect: string;
}

let admin: Promise<Registered> | undefined;

/** One superuser for the file (its access token is good for longer than any test here runs). */
export function adminUser(): Promise<Registered> {
  admin ??= superuser();
  return admin;
}

/** `POST /api/v1/admin/oauth/clients` as the file's superuser: the raw answer. */
export async function createClientRequest(body: Record<string, unknown>, token?: string): Promise<Response> {
  return call("/api/v1/admin/oauth/clients", { token: token ?? (await adminUser()).accessToken, body });
}

/** A new client (201 asserted). Defaults: confidential, one https redirect URI. */
export async function newClient(body: Record<string, unknown> = {}): Promise<TestClient & { created: ClientCreated }> {
  const res = await createClientRequest({ name: "Partner App", type: "confidential", redirect_uris: [WEB_REDIRECT], ...body });
  const created = await res.json<ClientCreated>();
  expect(res.status, JSON.stringify(created)).toBe(201);
  return { id: created.client_id, secret: created.client_secret, redirect: created.redirect_uris[0]!, created };
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** A PKCE pair (S256). */
export async function pkce(): Promise<Pkce> {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  return { verifier, challenge };
}

/**
 * The path of an authorization request of `client` (`code`, S256 PKCE, `openid`, a random state),
 * `params` added or overriding; a value of `null` leaves that parameter out.
 */
export function authorizePath(client: TestClient, challenge: string, params: Record<string, string | null> = {}): string {
  const all: Record<string, string | null> = {
    response_type: "code",
    client_id: client.id,
    redirect_uri: client.redirect,
    scope: "openid",
    state: `st-${crypto.randomUUID()}`,
    code_challenge: challenge,
    code_challenge_method: "S256",
    ...params,
  };
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(all)) if (value !== null) query.set(name, value);
  return `/oauth/authorize?${query.toString()}`;
}

export interface FlowOptions {
  /** Who signs in when the login page is shown (an error when it is shown and no one is given). */
  user?: Pick<Registered, "email" | "password">;
  /** The base32 secret of the account's authenticator app, for /login/verify. */
  totpSecret?: string;
  /** The answer on the consent page (allow unless told). */
  consent?: "allow" | "deny";
}

export interface FlowResult {
  /** Where the browser was finally sent: the client's redirect URI with the answer. */
  callback: URL;
  /** The pages the person saw, in order: "login", "verify", "consent". */
  pages: string[];
  /** Every same-origin location followed, in order. */
  hops: string[];
}

/**
 * Where a response sends the browser: its `Location`, or the `Refresh` of the page that hands the
 * person back to the client (pages/oauth-provider.tsx `toClient`: a form's CSP would block a redirect).
 */
export function redirectTarget(res: Response): string | null {
  const refresh = /^\d+;\s*url=(.+)$/i.exec(res.headers.get("refresh") ?? "")?.[1];
  return res.headers.get("location") ?? refresh ?? null;
}

/** A browser that can follow an authorization request through the hosted pages. */
export class OidcBrowser extends Browser {
  /** Signs in on /login (no second factor): the session cookie is set. */
  async signIn(user: Pick<Registered, "email" | "password">): Promise<void> {
    const res = await this.submit(await this.open("/login"), "/login", { identifier: user.email, password: user.password });
    expect(res.status, await res.clone().text()).toBe(303);
    expect(this.jar.has("__Host-gh_rt")).toBe(true);
  }

  /** Follows `start` (a path on Gatehouse) through sign-in, second step and consent, to the client's redirect. */
  async authorize(start: string, options: FlowOptions = {}): Promise<FlowResult> {
    const pages: string[] = [];
    const hops: string[] = [];
    let res = await this.get(start);
    for (let step = 0; step < 20; step++) {
      const location = redirectTarget(res);
      if (location) {
        const url = new URL(location, OWN);
        if (url.origin !== OWN) return { callback: url, pages, hops };
        hops.push(url.pathname + url.search);
        res = await this.get(url.pathname + url.search);
        continue;
      }
      const html = await res.text();
      if (res.status !== 200) throw new Error(`${res.status} at step ${step}: ${html.slice(0, 800)}`);
      if (html.includes('action="/login/verify"')) {
        pages.push("verify");
        if (!options.totpSecret) throw new Error("the second step was asked for and no authenticator secret given");
        // The step that confirmed the app is used up: the app's next code.
        res = await this.submit(html, "/login/verify", { code: totpCode(options.totpSecret, currentStep() + 1) });
      } else if (html.includes('action="/login"')) {
        pages.push("login");
        if (!options.user) throw new Error("the login page was shown and no one is to sign in");
        res = await this.submit(html, "/login", { identifier: options.user.email, password: options.user.password });
      } else if (html.includes('action="/oauth/authorize"')) {
        pages.push("consent");
        res = await this.submit(html, "/oauth/authorize", { decision: options.consent ?? "allow" }, 'name="decision"');
      } else {
        throw new Error(`unexpected page at step ${step}: ${html.slice(0, 800)}`);
      }
    }
    throw new Error("too many hops");
  }
}

/** POSTs a form to a token-side endpoint; `basic` authenticates with client_secret_basic. */
export function postForm(path: string, fields: Record<string, string>, basic?: { id: string; secret: string }): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded" };
  if (basic) headers.Authorization = `Basic ${btoa(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`)}`;
  return call(path, { method: "POST", body: new URLSearchParams(fields).toString(), headers, ip: freshIp() });
}

/** POSTs to `path` as `client`: Basic for a confidential client, `client_id` alone for a public one. */
export function asClient(client: TestClient, path: string, fields: Record<string, string>): Promise<Response> {
  return client.secret
    ? postForm(path, fields, { id: client.id, secret: client.secret })
    : postForm(path, { client_id: client.id, ...fields });
}

export interface Tokens {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  id_token?: string;
  refresh_token?: string;
}

/** The authorization code grant; the raw answer. */
export function redeem(client: TestClient, code: string, verifier: string, extra: Record<string, string> = {}): Promise<Response> {
  return asClient(client, "/oauth/token", {
    grant_type: "authorization_code",
    code,
    redirect_uri: client.redirect,
    code_verifier: verifier,
    ...extra,
  });
}

/** The authorization code grant, 200 asserted. */
export async function redeemOk(client: TestClient, code: string, verifier: string, extra: Record<string, string> = {}): Promise<Tokens> {
  const res = await redeem(client, code, verifier, extra);
  const body = await res.json<Tokens>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** The refresh grant; the raw answer. */
export function refresh(client: TestClient, token: string, extra: Record<string, string> = {}): Promise<Response> {
  return asClient(client, "/oauth/token", { grant_type: "refresh_token", refresh_token: token, ...extra });
}

/** Asserts an RFC 6749 error answer: the status, `error`, and no caching. */
export async function oauthError(res: Response, status: number, error: string): Promise<Record<string, unknown>> {
  const body = await res.json<Record<string, unknown>>();
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  expect(body.error).toBe(error);
  return body;
}

/** Introspection by `client` (which must be confidential). */
export async function introspect(client: TestClient, token: string): Promise<Record<string, unknown>> {
  const res = await asClient(client, "/oauth/introspect", { token });
  const body = await res.json<Record<string, unknown>>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** GET /oauth/userinfo with a bearer token: the raw answer. */
export function userinfo(token: string): Promise<Response> {
  return call("/oauth/userinfo", { token, ip: freshIp() });
}

/** Verifies a token against the published JWKS and the issuer; the payload and header. */
export async function verifyJwt(token: string, options: { audience?: string; typ?: string } = {}) {
  const res = await call("/.well-known/jwks.json");
  const jwks = createLocalJWKSet(await res.json<JSONWebKeySet>());
  return jwtVerify(token, jwks, { issuer: OWN, ...options });
}

/** The claims of a token without checking it (for fields only). */
export const claimsOf = (token: string): JWTPayload => decodeJwt(token);

/**
 * The whole code flow for `user` and `client` in `browser`: the code from the callback (asserted
 * present), with the PKCE verifier that redeems it and the flow's pages.
 */
export async function codeFor(
  browser: OidcBrowser,
  client: TestClient,
  options: FlowOptions & { params?: Record<string, string | null> } = {},
): Promise<{ code: string; verifier: string; flow: FlowResult; state: string | null }> {
  const { verifier, challenge } = await pkce();
  const flow = await browser.authorize(authorizePath(client, challenge, options.params), options);
  const code = flow.callback.searchParams.get("code");
  expect(code, flow.callback.href).toBeTruthy();
  return { code: code!, verifier, flow, state: flow.callback.searchParams.get("state") };
}

/** A signed-in browser's tokens for `client`: the flow (consent allowed) and the redemption. */
export async function tokensFor(
  browser: OidcBrowser,
  client: TestClient,
  options: FlowOptions & { params?: Record<string, string | null> } = {},
): Promise<Tokens> {
  const { code, verifier } = await codeFor(browser, client, options);
  return redeemOk(client, code, verifier);
}
