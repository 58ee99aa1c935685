// The sign-in flows the benches time beside the password login (scripts/bench.mjs, and
// scripts/bench-geo.mjs at a simulated location): sign-in by an emailed code read from the dev
// outbox, and Gatehouse's OpenID provider token endpoint (an authorization code with PKCE, then its
// refresh token). Each takes the bench's helpers `h` ({ request, expectStatus, nextIp }) and the
// headers every request carries (the geo bench's location).

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * The tests' software authenticator (test/webauthn-authenticator.ts), bundled for Node with esbuild
 * into `dir`: the class `SoftwareAuthenticator`.
 * @param {string} dir
 * @param {NodeJS.ProcessEnv} env
 */
export async function loadSoftwareAuthenticator(dir, env) {
  const bundle = join(dir, "authenticator.mjs");
  const source = join("test", "webauthn-authenticator.ts");
  const args = ["esbuild", source, "--bundle", "--format=esm", "--platform=node", `--outfile=${bundle}`];
  const built = spawnSync("npx", args, { env, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`bundling the software authenticator failed:\n${built.stderr}`);
  return (await import(pathToFileURL(bundle).href)).SoftwareAuthenticator;
}

/** The redirect URI of the bench's OAuth client: a loopback one, never fetched (the code is read from the answer). */
const REDIRECT = "http://127.0.0.1:53682/callback";

/**
 * Sign-in by emailed code (API.md "Email codes and magic links"): the code request, the code from
 * the dev outbox (`GET /api/v1/dev/outbox?to=`; the mail is sent after the response, so it is
 * polled for), and the sign-in with it. Every request from a client address of its own, as a new
 * client's would be (the per-IP limits stay out of the way).
 */
export function emailCodeFlow(h, headers = {}) {
  const codesFor = async (email) => {
    const outbox = await h.expectStatus(h.request(`/api/v1/dev/outbox?to=${encodeURIComponent(email)}`, { headers }), 200, "dev outbox");
    return outbox.messages.filter((m) => m.kind === "sign_in_code" && m.code);
  };
  return {
    /** How many sign-in codes the outbox holds for `email` (so a new one can be told apart). */
    count: async (email) => (await codesFor(email)).length,
    /** `POST /auth/email-code` (202). */
    request: (email) =>
      h.expectStatus(h.request("/api/v1/auth/email-code", { body: { email }, ip: h.nextIp(), headers }), 202, "email code"),
    /** The newest code once the outbox holds more than `before` of them (30 s at most). */
    async newCode(email, before) {
      const deadline = performance.now() + 30_000;
      while (performance.now() < deadline) {
        const codes = await codesFor(email);
        if (codes.length > before) return codes[0].code; // newest first
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`no sign-in code reached the dev outbox for ${email} within 30 s`);
    },
    /** `POST /auth/email-code/verify` (200): the sign-in's tokens. */
    verify: (email, code) =>
      h.expectStatus(
        h.request("/api/v1/auth/email-code/verify", { body: { email, code }, ip: h.nextIp(), headers }),
        200,
        "email code sign-in",
      ),
  };
}

/** An account whose address the first code sign-in proved, so the timed ones are ordinary sign-ins (not the first proof, which clears the account). */
export async function emailCodeAccount(h, flow, register) {
  const email = await register();
  const before = await flow.count(email);
  await flow.request(email);
  await flow.verify(email, await flow.newCode(email, before));
  return email;
}

function base64url(bytes) {
  return Buffer.from(bytes).toString("base64url");
}

async function pkcePair() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  return { verifier, challenge };
}

/**
 * Gatehouse as an OpenID provider (API.md "Gatehouse as an OAuth 2.1 / OpenID Connect provider"): a
 * first-party confidential client (no consent page), made with a superuser's access token.
 */
export async function oidcClient(h, adminToken, headers = {}) {
  const body = { name: "Bench App", type: "confidential", first_party: true, redirect_uris: [REDIRECT] };
  const created = await h.expectStatus(
    h.request("/api/v1/admin/oauth/clients", { token: adminToken, body, ip: h.nextIp(), headers }),
    201,
    "OAuth client",
  );
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(created.client_id)}:${encodeURIComponent(created.client_secret)}`).toString("base64")}`;
  /** A form POST to the token endpoint with client_secret_basic; the JSON answer (200 asserted). */
  const token = (fields) =>
    h.expectStatus(
      h.request("/oauth/token", { form: fields, ip: h.nextIp(), headers: { ...headers, Authorization: basic } }),
      200,
      `token (${fields.grant_type})`,
    );
  return {
    /**
     * An authorization code for the browser signed in with `refreshToken` (the page session is the
     * `__Host-gh_rt` cookie): `GET /oauth/authorize` answers a first-party client at once, with
     * the page that hands the code back (its `Refresh` names the redirect).
     */
    async code(refreshToken) {
      const { verifier, challenge } = await pkcePair();
      const query = new URLSearchParams({
        response_type: "code",
        client_id: created.client_id,
        redirect_uri: REDIRECT,
        scope: "openid offline_access",
        state: crypto.randomUUID(),
        code_challenge: challenge,
        code_challenge_method: "S256",
      });
      const res = await h.request(`/oauth/authorize?${query}`, {
        ip: h.nextIp(),
        headers: { ...headers, Cookie: `__Host-gh_rt=${refreshToken}`, "Sec-Fetch-Site": "none" },
      });
      const target = res.headers.get("location") ?? /^\d+;\s*url=(.+)$/i.exec(res.headers.get("refresh") ?? "")?.[1];
      const code = target ? new URL(target, REDIRECT).searchParams.get("code") : null;
      if (!code) {
        const error = new Error(`authorize: no code (status ${res.status}, to ${target ?? "nowhere"}): ${res.text.slice(0, 300)}`);
        throw Object.assign(error, { status: res.status });
      }
      return { code, verifier };
    },
    /** `grant_type=authorization_code` with the PKCE verifier. */
    redeem: ({ code, verifier }) => token({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }),
    /** `grant_type=refresh_token` (rotates the refresh token). */
    refresh: (refreshToken) => token({ grant_type: "refresh_token", refresh_token: refreshToken }),
  };
}
