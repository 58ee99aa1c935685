import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { call, env, freshIp, login, outbox, problem, register, superuser, uniqueEmail, type Registered } from "./helpers";

/** The administration API for users: listing, search, roles, deactivation, superusers. */

const ADMIN = "/api/v1/admin";

interface AdminUser {
  id: string;
  email: string;
  is_superuser: boolean;
  roles: string[];
  deactivated_at: string | null;
}

async function list(admin: Registered, query: string): Promise<{ users: AdminUser[]; next_cursor: string | null }> {
  const res = await call(`${ADMIN}/users?${query}`, { token: admin.accessToken });
  expect(res.status).toBe(200);
  return res.json();
}

async function actorOf(userId: string, action: string): Promise<string | null | undefined> {
  const row = await env.DB.prepare("SELECT actor_user_id FROM audit_logs WHERE user_id = ? AND action = ? ORDER BY created_at DESC")
    .bind(userId, action)
    .first<{ actor_user_id: string | null }>();
  return row?.actor_user_id;
}

describe("admin users API", () => {
  it("is for superusers' access tokens only", async () => {
    const user = await register();
    await problem(await call(`${ADMIN}/users`, { token: user.accessToken }), 403, "forbidden");
    const admin = await superuser();
    const key = await call("/api/v1/users/me/api-keys", { token: admin.accessToken, body: { name: "admin key" } });
    const apiKey = (await key.json<{ api_key: string }>()).api_key;
    await problem(await call(`${ADMIN}/users`, { token: apiKey }), 403, "insufficient_scope");
  });

  it("searches by email or username prefix, filters by status, pages with a stable cursor", async () => {
    const admin = await superuser();
    const tag = `srch${Date.now().toString(36)}`;
    const made: Registered[] = [];
    for (let i = 0; i < 5; i++) made.push(await register({ email: uniqueEmail(tag), username: `${tag}_${i}` }));
    const first = await list(admin, `query=${tag}&limit=2`);
    expect(first.users).toHaveLength(2);
    const second = await list(admin, `query=${tag}&limit=2&cursor=${first.next_cursor}`);
    const third = await list(admin, `query=${tag}&limit=2&cursor=${second.next_cursor}`);
    const seen = [...first.users, ...second.users, ...third.users].map((u) => u.id);
    expect(new Set(seen).size).toBe(5);
    expect(third.next_cursor).toBeNull();
    expect((await list(admin, `query=${tag.toUpperCase()}_3`)).users.map((u) => u.id)).toEqual([made[3]!.userId]);
    // A LIKE wildcard in the query is literal.
    expect((await list(admin, "query=%25")).users).toEqual([]);

    await call(`${ADMIN}/users/${made[0]!.userId}/deactivate`, { method: "POST", token: admin.accessToken });
    const deactivated = await list(admin, `query=${tag}&status=deactivated`);
    expect(deactivated.users.map((u) => u.id)).toEqual([made[0]!.userId]);
    expect(deactivated.users[0]!.deactivated_at).not.toBeNull();
    await problem(await call(`${ADMIN}/users?status=bogus`, { token: admin.accessToken }), 422, "validation_failed");
    await problem(await call(`${ADMIN}/users?cursor=forged`, { token: admin.accessToken }), 422, "validation_failed");
  });

  it("lists locked accounts and shows a user's details without secrets", async () => {
    const admin = await superuser();
    const tag = `lock${Date.now().toString(36)}`;
    const locked = await register({ email: uniqueEmail(tag) });
    await register({ email: uniqueEmail(tag) });
    for (let i = 0; i < 5; i++) await login({ email: locked.email, password: "wrong password here 1" });
    expect((await list(admin, `query=${tag}&status=locked`)).users.map((u) => u.id)).toEqual([locked.userId]);

    const res = await call(`${ADMIN}/users/${locked.userId}`, { token: admin.accessToken });
    expect(res.status).toBe(200);
    const details = await res.json<{ lock: { locked: boolean }; sessions: unknown[]; recent_events: { action: string }[] }>();
    expect(details.lock.locked).toBe(true);
    expect(details.sessions.length).toBe(1);
    expect(JSON.stringify(details)).not.toMatch(/password_hash|refresh_token|\$pbkdf2/);
    await problem(await call(`${ADMIN}/users/${crypto.randomUUID()}`, { token: admin.accessToken }), 404, "not_found");
  });

  it("deactivation kills every session, access token and API key at once; reactivation lets the user log in again", async () => {
    const admin = await superuser();
    const user = await register();
    const key = (
      await (await call("/api/v1/users/me/api-keys", { token: user.accessToken, body: { name: "k" } })).json<{ api_key: string }>()
    ).api_key;
    expect((await call(`${ADMIN}/users/${user.userId}/deactivate`, { method: "POST", token: admin.accessToken })).status).toBe(204);
    await problem(await call("/api/v1/users/me", { token: user.accessToken }), 401, "invalid_token");
    await problem(await call("/api/v1/users/me", { token: key }), 401, "token_revoked");
    await problem(await call("/api/v1/auth/refresh", { body: { refresh_token: user.refreshToken }, ip: freshIp() }), 401, "invalid_token");
    await problem(await login({ email: user.email, password: user.password }), 401, "invalid_credentials");
    expect(await actorOf(user.userId, "user.deactivated")).toBe(admin.userId);

    expect((await call(`${ADMIN}/users/${user.userId}/reactivate`, { method: "POST", token: admin.accessToken })).status).toBe(204);
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
    await problem(await call("/api/v1/users/me", { token: key }), 401, "token_revoked");
  });

  it("forces a password reset: signs out everywhere and mails a link", async () => {
    const admin = await superuser();
    const user = await register();
    const res = await call(`${ADMIN}/users/${user.userId}/password-reset`, { method: "POST", token: admin.accessToken });
    expect(res.status).toBe(202);
    await problem(await call("/api/v1/users/me", { token: user.accessToken }), 401, "token_revoked");
    expect(await outbox(user.email, "password_reset")).toHaveLength(1);
    expect(await actorOf(user.userId, "admin.password_reset")).toBe(admin.userId);
  });

  it("forces a password reset that locks out whoever holds the old password or an API key", async () => {
    const admin = await superuser();
    const user = await register();
    const created = await call("/api/v1/users/me/api-keys", { token: user.accessToken, body: { name: "attacker's key" } });
    const key = (await created.json<{ api_key: string }>()).api_key;
    expect((await call("/api/v1/users/me", { token: key })).status).toBe(200);

    const res = await call(`${ADMIN}/users/${user.userId}/password-reset`, { method: "POST", token: admin.accessToken });
    expect(res.status).toBe(202);
    // The old password no longer signs in, and the key no longer works.
    await problem(await login({ email: user.email, password: user.password }), 401, "invalid_credentials");
    await problem(await call("/api/v1/users/me", { token: key }), 401, "token_revoked");
    const row = await env.DB.prepare("SELECT metadata FROM audit_logs WHERE user_id = ? AND action = 'admin.password_reset'")
      .bind(user.userId)
      .first<{ metadata: string }>();
    expect(JSON.parse(row!.metadata)).toMatchObject({ sessions_revoked: 1, api_keys_revoked: 1 });

    // The mailed link sets a new password, which then works.
    const [mail] = await outbox(user.email, "password_reset");
    const NEW = "a new passphrase after the reset 7";
    const reset = await call("/api/v1/auth/reset-password", { body: { token: mail!.token, new_password: NEW }, ip: freshIp() });
    expect(reset.status).toBe(200);
    expect((await login({ email: user.email, password: NEW })).status).toBe(200);
  });

  it("sets roles, which access tokens carry from the next refresh", async () => {
    const admin = await superuser();
    const user = await register();
    const res = await call(`${ADMIN}/users/${user.userId}/roles`, {
      method: "PUT",
      token: admin.accessToken,
      body: { roles: ["editor", "billing:read", "editor"] },
    });
    expect(res.status).toBe(200);
    expect((await res.json<AdminUser>()).roles).toEqual(["billing:read", "editor"]);
    expect(decodeJwt(user.accessToken).roles).toEqual([]);
    const refreshed = await call("/api/v1/auth/refresh", { body: { refresh_token: user.refreshToken }, ip: freshIp() });
    expect(decodeJwt((await refreshed.json<{ access_token: string }>()).access_token).roles).toEqual(["billing:read", "editor"]);
    const bad = await call(`${ADMIN}/users/${user.userId}/roles`, {
      method: "PUT",
      token: admin.accessToken,
      body: { roles: ["Has Space"] },
    });
    await problem(bad, 422, "validation_failed");
  });

  it("revokes one session or all of a user's sessions", async () => {
    const admin = await superuser();
    const user = await register();
    const other = await (await login({ email: user.email, password: user.password })).json<{ access_token: string }>();
    const sid = decodeJwt(other.access_token).sid as string;
    expect((await call(`${ADMIN}/users/${user.userId}/sessions/${sid}`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    await problem(await call("/api/v1/users/me", { token: other.access_token }), 401, "token_revoked");
    expect((await call("/api/v1/users/me", { token: user.accessToken })).status).toBe(200);
    await problem(
      await call(`${ADMIN}/users/${user.userId}/sessions/${sid}`, { method: "DELETE", token: admin.accessToken }),
      404,
      "not_found",
    );
    expect((await call(`${ADMIN}/users/${user.userId}/sessions`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    await problem(await call("/api/v1/users/me", { token: user.accessToken }), 401, "token_revoked");
  });

  it("grants and revokes superuser", async () => {
    const admin = await superuser();
    const user = await register();
    expect((await call(`${ADMIN}/users/${user.userId}/superuser`, { method: "POST", token: admin.accessToken })).status).toBe(204);
    expect((await call(`${ADMIN}/users`, { token: user.accessToken })).status).toBe(200);
    expect((await call(`${ADMIN}/users/${user.userId}/superuser`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    await problem(await call(`${ADMIN}/users`, { token: user.accessToken }), 403, "forbidden");
    expect(await actorOf(user.userId, "admin.superuser_revoked")).toBe(admin.userId);
    // The last one is never removed: test/last-superuser.test.ts (the rule is global, so it runs alone).
  });
});
