import { describe, expect, inject, it } from "vitest";
import { freshSubject, ProviderBrowser } from "./external-browser";
import { call, env, problem, register, uniqueEmail, type Registered } from "./helpers";
import { textOf } from "./pages-browser";

/**
 * Linked external identities through the JSON API (API.md v1.2: `GET/DELETE /users/me/identities`,
 * the last-way-in rule), what removes them (deletion), and a provider that cannot be reached. The
 * browser flow itself is test/external-sign-in.test.ts.
 */

/** An identity row for `user`, as a provider sign-in would have linked it. */
async function linkRow(
  user: Pick<Registered, "userId">,
  provider = "google",
  issuer = "https://accounts.google.com",
  subject = freshSubject(),
): Promise<string> {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO user_identities (id, user_id, provider, issuer, subject, email, email_verified, created_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
  )
    .bind(id, user.userId, provider, issuer, subject, "someone@gmail.example", Date.now())
    .run();
  return id;
}

const identities = (token: string) => call("/api/v1/users/me/identities", { token });
const unlink = (token: string, id: string) => call(`/api/v1/users/me/identities/${id}`, { method: "DELETE", token });

describe("GET/DELETE /users/me/identities", () => {
  it("lists the caller's identities and unlinks one while another way in remains", async () => {
    const user = await register();
    const first = await linkRow(user, "google");
    const second = await linkRow(user, "corp", "https://id.example.com");
    const listed = await identities(user.accessToken);
    expect(listed.status).toBe(200);
    const body = await listed.json<{ identities: { id: string; provider: string; email: string; created_at: string }[] }>();
    expect(body.identities.map((i) => i.id).sort()).toEqual([first, second].sort());
    expect(body.identities[0]).toMatchObject({ email: "someone@gmail.example" });
    expect(Object.keys(body.identities[0]!).sort()).toEqual(["created_at", "email", "id", "provider"]);

    expect((await unlink(user.accessToken, first)).status).toBe(204);
    await problem(await unlink(user.accessToken, first), 404, "not_found");
    const { results } = await env.DB.prepare("SELECT action FROM audit_logs WHERE user_id = ? AND action = 'identity.unlinked'")
      .bind(user.userId)
      .all();
    expect(results).toHaveLength(1);
    // Someone else's identity is not found, and stays.
    const other = await register();
    await problem(await unlink(other.accessToken, second), 404, "not_found");
  });

  it("refuses to unlink the last way in (no usable password, no passkey, no other identity): 409 last_sign_in_method", async () => {
    const user = await register();
    const only = await linkRow(user);
    await env.DB.prepare("UPDATE users SET password_hash = '!disabled' WHERE id = ?").bind(user.userId).run();
    await problem(await unlink(user.accessToken, only), 409, "last_sign_in_method");
    expect((await (await identities(user.accessToken)).json<{ identities: unknown[] }>()).identities).toHaveLength(1);
    // With a second identity, either may go, but never both: two parallel unlinks leave one.
    const another = await linkRow(user, "corp", "https://id.example.com");
    const answers = await Promise.all([unlink(user.accessToken, only), unlink(user.accessToken, another)]);
    expect(answers.map((r) => r.status).sort()).toEqual([204, 409]);
    expect((await (await identities(user.accessToken)).json<{ identities: unknown[] }>()).identities).toHaveLength(1);
  });

  it("needs fresh authentication, and an access token (not an API key)", async () => {
    const user = await register();
    const id = await linkRow(user);
    const refreshed = await call("/api/v1/auth/refresh", { body: { refresh_token: user.refreshToken } });
    const { access_token } = await refreshed.json<{ access_token: string }>();
    await problem(await unlink(access_token, id), 403, "reauthentication_required");
    const key = await call("/api/v1/users/me/api-keys", { token: user.accessToken, body: { name: "ci" } });
    const { api_key } = await key.json<{ api_key: string }>();
    await problem(await identities(api_key), 403, "insufficient_scope");
    await problem(await unlink(api_key, id), 403, "insufficient_scope");
  });
});

describe("what removes identities", () => {
  it("DELETE /users/me takes the identities with it", async () => {
    const user = await register();
    await linkRow(user);
    expect((await call("/api/v1/users/me", { method: "DELETE", token: user.accessToken, body: { password: user.password } })).status).toBe(
      204,
    );
    const left = await env.DB.prepare("SELECT count(*) AS n FROM user_identities WHERE user_id = ?")
      .bind(user.userId)
      .first<{ n: number }>();
    expect(left!.n).toBe(0);
  });
});

describe("a provider that cannot be reached", () => {
  it("answers a 502 page, never a 500, at the start (discovery) and at the callback (the token endpoint)", async () => {
    const closed = "http://127.0.0.1:9";
    const down = new ProviderBrowser({
      OAUTH_PROVIDERS: JSON.stringify([{ id: "down", type: "oidc", issuer: `${closed}/oidc`, client_id: "gatehouse-dev" }]),
      OAUTH_CLIENT_SECRETS: "{}",
    });
    const start = await down.get("/api/v1/auth/oauth/down/start");
    expect(start.status).toBe(502);
    expect(textOf(await start.text())).toContain("cannot be reached right now");
    expect(down.jar.has("__Host-gh_oauth")).toBe(false);

    const { issuers } = inject("oauthFakes");
    const halfDown = new ProviderBrowser({
      OAUTH_PROVIDERS: JSON.stringify([
        {
          id: "half",
          type: "oidc",
          issuer: issuers.oidc,
          client_id: "gatehouse-dev",
          authorization_endpoint: `${issuers.oidc}/authorize`,
          token_endpoint: `${closed}/token`,
          jwks_uri: `${issuers.oidc}/jwks`,
        },
      ]),
      OAUTH_CLIENT_SECRETS: JSON.stringify({ half: "gatehouse-dev-secret" }),
    });
    const callback = await halfDown.signInWith("half", { sub: freshSubject(), email: uniqueEmail("half"), email_verified: true });
    expect(callback.status).toBe(502);
    expect(textOf(await callback.text())).toContain("cannot be reached right now");
    expect(halfDown.signedIn()).toBe(false);
  });
});
