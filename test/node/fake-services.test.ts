import { base64url, createLocalJWKSet, decodeJwt, decodeProtectedHeader, importPKCS8, jwtVerify, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BREACHED_SAMPLES,
  DUMMY_TOKEN,
  FAKE_APPLE,
  FAKE_CLIENTS,
  startFakeServices,
  type FakeServices,
} from "../../scripts/fake-services.mjs";

/** `npm run fakes`, the stand-ins test/dev/attack-dev.test.ts points a real `npm run dev` at. */
let fakes: FakeServices;
beforeAll(async () => {
  fakes = await startFakeServices();
});
afterAll(() => fakes?.close());

describe("the fake range API and siteverify", () => {
  it("answers padded ranges that contain the samples, and accepts only the dummy token", async () => {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(BREACHED_SAMPLES[0])));
    const hash = [...digest]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("")
      .toUpperCase();
    const lines = (await (await fetch(`${fakes.rangeUrl}${hash.slice(0, 5)}`)).text()).split("\r\n");
    expect(lines.length).toBeGreaterThan(100);
    expect(lines.some((l) => l.startsWith(`${hash.slice(5)}:`) && Number(l.split(":")[1]) > 0)).toBe(true);
    const verify = async (response: string) => {
      const body = new FormData();
      body.append("secret", "s");
      body.append("response", response);
      return (await fetch(fakes.verifyUrl, { method: "POST", body })).json<{ success: boolean }>();
    };
    expect(await verify(DUMMY_TOKEN)).toMatchObject({ success: true });
    expect(await verify("forged")).toMatchObject({ success: false });
  });
});

const REDIRECT = "https://auth.example.com/api/v1/auth/oauth/fake/callback";
const CLIENT = "gatehouse-dev";
const SECRET = FAKE_CLIENTS[CLIENT];

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
  authorization_response_iss_parameter_supported: boolean;
}

const random = (bytes: number) => base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));

/** A PKCE pair, a state and a nonce, as the worker will make them. */
async function flow() {
  const verifier = random(32);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url.encode(new Uint8Array(digest)), state: random(8), nonce: random(8) };
}

type Flow = Awaited<ReturnType<typeof flow>>;

async function discover(issuer: string): Promise<Discovery> {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  expect(response.status).toBe(200);
  return response.json<Discovery>();
}

/** GETs the authorize URL (no redirect following) and returns the callback's parameters. */
async function authorize(endpoint: string, f: Flow, extra: Record<string, string> = {}) {
  const url = new URL(endpoint);
  const params: Record<string, string> = {
    response_type: "code",
    client_id: CLIENT,
    redirect_uri: REDIRECT,
    scope: "openid email profile",
    state: f.state,
    nonce: f.nonce,
    code_challenge: f.challenge,
    code_challenge_method: "S256",
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const response = await fetch(url, { redirect: "manual" });
  if (params.response_mode === "form_post") {
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain(`action="${REDIRECT}"`);
    return new URLSearchParams([...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replaceAll("&#34;", '"')]));
  }
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get("location")!);
  expect(location.origin + location.pathname).toBe(REDIRECT);
  return location.searchParams;
}

async function redeem(
  endpoint: string,
  code: string,
  verifier: string,
  auth: Record<string, string> = { client_id: CLIENT, client_secret: SECRET },
) {
  const body = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, ...auth });
  return fetch(endpoint, { method: "POST", body, headers: { accept: "application/json" } });
}

async function verifyIdToken(d: Discovery, idToken: string) {
  const jwks = createLocalJWKSet(await (await fetch(d.jwks_uri)).json());
  return (await jwtVerify(idToken, jwks, { issuer: d.issuer, audience: CLIENT })).payload;
}

describe("the fake OpenID provider", () => {
  it("walks discovery, authorize, token and JWKS, and echoes the nonce and the identity set for the test", async () => {
    const d = await discover(fakes.issuers.oidc);
    expect(d).toMatchObject({ issuer: fakes.issuers.oidc, authorization_response_iss_parameter_supported: true });
    const next = await fetch(`${fakes.issuers.oidc}/_test/next-identity`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub: "u-42", email: "someone@example.com", email_verified: false, name: "Some One", amr: ["pwd", "otp"] }),
    });
    expect(next.status).toBe(204);
    const f = await flow();
    const callback = await authorize(d.authorization_endpoint, f);
    expect(callback.get("state")).toBe(f.state);
    expect(callback.get("iss")).toBe(d.issuer);
    const response = await redeem(d.token_endpoint, callback.get("code")!, f.verifier);
    expect(response.status).toBe(200);
    const tokens = await response.json<{ id_token: string; access_token: string }>();
    const claims = await verifyIdToken(d, tokens.id_token);
    expect(claims).toMatchObject({ sub: "u-42", email: "someone@example.com", email_verified: false, nonce: f.nonce, amr: ["pwd", "otp"] });
    const userinfo = await fetch(d.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(await userinfo.json()).toEqual({ sub: "u-42", email: "someone@example.com", email_verified: false, name: "Some One" });
    // A code is single use.
    expect((await redeem(d.token_endpoint, callback.get("code")!, f.verifier)).status).toBe(400);
  });

  it("refuses a wrong PKCE verifier, a wrong client secret and an unknown client", async () => {
    const d = await discover(fakes.issuers.oidc);
    for (const [verifier, auth, status] of [
      ["x".repeat(43), undefined, 400],
      [undefined, { client_id: CLIENT, client_secret: "wrong" }, 401],
      [undefined, { client_id: "stranger" }, 401],
    ] as const) {
      const f = await flow();
      const callback = await authorize(d.authorization_endpoint, f);
      const response = await redeem(d.token_endpoint, callback.get("code")!, verifier ?? f.verifier, auth);
      expect(response.status).toBe(status);
    }
    // The public client authenticates by PKCE alone, with HTTP Basic or without.
    const f = await flow();
    const callback = await authorize(d.authorization_endpoint, f, { client_id: "gatehouse-public" });
    expect((await redeem(d.token_endpoint, callback.get("code")!, f.verifier, { client_id: "gatehouse-public" })).status).toBe(200);
  });

  it("answers form_post with an auto-submitting form, and tampers on request", async () => {
    const d = await discover(fakes.issuers.oidc);
    const f = await flow();
    const identity = JSON.stringify({ sub: "t1", tamper: { iss: "https://evil.example", nonce: "other", signature: "bad" } });
    const callback = await authorize(d.authorization_endpoint, f, { response_mode: "form_post", identity });
    expect(callback.get("iss")).toBe("https://evil.example");
    const tokens = await (await redeem(d.token_endpoint, callback.get("code")!, f.verifier)).json<{ id_token: string }>();
    expect(decodeJwt(tokens.id_token)).toMatchObject({ sub: "t1", nonce: "other" });
    await expect(verifyIdToken(d, tokens.id_token)).rejects.toThrow(/signature/);
  });

  it("signs RS256 as Google, and as Microsoft names the tenant and never says the email is verified", async () => {
    const google = await discover(fakes.issuers.google);
    let f = await flow();
    let callback = await authorize(google.authorization_endpoint, f);
    const g = await (await redeem(google.token_endpoint, callback.get("code")!, f.verifier)).json<{ id_token: string }>();
    expect((await verifyIdToken(google, g.id_token)).email_verified).toBe(true);
    expect(decodeProtectedHeader(g.id_token)).toMatchObject({ alg: "RS256" });

    const microsoft = await discover(fakes.issuers.microsoft);
    f = await flow();
    callback = await authorize(microsoft.authorization_endpoint, f);
    const m = await (await redeem(microsoft.token_endpoint, callback.get("code")!, f.verifier)).json<{ id_token: string }>();
    const claims = await verifyIdToken(microsoft, m.id_token);
    expect(claims.tid).toBe(fakes.issuers.microsoft.split("/")[4]);
    expect(claims.email).toBe("person@example.com");
    expect(claims).not.toHaveProperty("email_verified");
  });

  it("as Apple: form_post required for scopes, no iss, the user field, a JWT client secret, email_verified as a string", async () => {
    const d = await discover(fakes.issuers.apple);
    const f = await flow();
    const refused = await fetch(
      `${d.authorization_endpoint}?client_id=${CLIENT}&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=email`,
      { redirect: "manual" },
    );
    expect(refused.status).toBe(400);
    const callback = await authorize(d.authorization_endpoint, f, { response_mode: "form_post" });
    expect(callback.has("iss")).toBe(false);
    expect(JSON.parse(callback.get("user")!)).toEqual({ name: { firstName: "Fake", lastName: "Person" }, email: "person@example.com" });
    const key = await importPKCS8(fakes.applePrivateKeyPem, "ES256");
    const secret = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: FAKE_APPLE.keyId })
      .setIssuer(FAKE_APPLE.teamId)
      .setSubject(CLIENT)
      .setAudience("https://appleid.apple.com")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(key);
    expect((await redeem(d.token_endpoint, callback.get("code")!, f.verifier, { client_id: CLIENT, client_secret: SECRET })).status).toBe(
      401,
    );
    const g = await flow();
    const again = await authorize(d.authorization_endpoint, g, { response_mode: "form_post" });
    const response = await redeem(d.token_endpoint, again.get("code")!, g.verifier, { client_id: CLIENT, client_secret: secret });
    expect(response.status).toBe(200);
    const claims = await verifyIdToken(d, (await response.json<{ id_token: string }>()).id_token);
    expect(claims).toMatchObject({ email_verified: "true", is_private_email: "false" });
  });

  it("as GitHub: a numeric id, /user/emails with verified and primary flags, errors with status 200", async () => {
    const base = fakes.issuers.github;
    await fetch(`${base}/_test/next-identity`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        sub: "583231",
        login: "octocat",
        emails: [
          { email: "primary@example.com", primary: true, verified: false, visibility: "private" },
          { email: "other@example.com", primary: false, verified: true, visibility: null },
        ],
      }),
    });
    const f = await flow();
    const callback = await authorize(`${base}/login/oauth/authorize`, f, { scope: "read:user user:email" });
    expect(callback.has("iss")).toBe(false);
    const basic = `Basic ${btoa(`${CLIENT}:${SECRET}`)}`;
    const exchange = (code: string) =>
      fetch(`${base}/login/oauth/access_token`, {
        method: "POST",
        headers: { authorization: basic, accept: "application/json" },
        body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: f.verifier }),
      });
    const response = await exchange(callback.get("code")!);
    const { access_token } = await response.json<{ access_token: string }>();
    const api = (path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${access_token}` } }).then((r) => r.json());
    expect(await api("/user")).toMatchObject({ id: 583231, login: "octocat" });
    expect(await api("/user/emails")).toEqual([
      { email: "primary@example.com", primary: true, verified: false, visibility: "private" },
      { email: "other@example.com", primary: false, verified: true, visibility: null },
    ]);
    const replay = await exchange(callback.get("code")!);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ error: "bad_verification_code" });
  });
});
