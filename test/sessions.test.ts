import { afterEach, describe, expect, it, vi } from "vitest";
import { call, env, freshIp, login, outbox, problem, register, STRONG_PASSWORD, type Registered } from "./helpers";

/** Refresh rotation with reuse detection, revocation, session management. */

function refresh(refreshToken: string, ip = freshIp()) {
  return call("/api/v1/auth/refresh", { body: { refresh_token: refreshToken }, ip });
}

async function tokens(
  res: Response,
): Promise<{ access_token: string; refresh_token: string; expires_in: number; refresh_expires_in: number }> {
  const body = await res.json<{ access_token: string; refresh_token: string; expires_in: number; refresh_expires_in: number }>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

async function loginAgain(user: Registered) {
  return tokens(await login({ email: user.email, password: user.password }));
}

function me(accessToken: string) {
  return call("/api/v1/users/me", { token: accessToken });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("POST /auth/refresh", () => {
  it("rotates: a new refresh token each time, the access token works, refresh_expires_in is set", async () => {
    const user = await register();
    const first = await tokens(await refresh(user.refreshToken));
    expect(first.refresh_token).not.toBe(user.refreshToken);
    // The session's id and 256 random bits (sessions/refresh-tokens.ts).
    expect(first.refresh_token).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    expect(first.expires_in).toBe(900);
    expect(first.refresh_expires_in).toBe(7 * 86400);
    const second = await tokens(await refresh(first.refresh_token));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await me(second.access_token)).status).toBe(200);
  });

  it("stores only hashes of refresh tokens", async () => {
    const user = await register();
    const rows = await env.DB.prepare("SELECT * FROM sessions WHERE user_id = ?").bind(user.userId).all();
    expect(JSON.stringify(rows.results)).not.toContain(user.refreshToken);
  });

  it("parallel refreshes of one token keep the session alive and converge on one token", async () => {
    const user = await register();
    const responses = await Promise.all(Array.from({ length: 6 }, () => refresh(user.refreshToken)));
    const bodies = await Promise.all(responses.map(tokens));
    const distinct = new Set(bodies.map((b) => b.refresh_token));
    expect(distinct.size).toBe(1);
    const [next] = [...distinct];
    const sessions = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL")
      .bind(user.userId)
      .first<{ n: number }>();
    expect(sessions?.n).toBe(1);
    expect((await refresh(next!)).status).toBe(200);
  });

  it("answers a retired token within the grace window with the live pair of the same session", async () => {
    const user = await register();
    const first = await tokens(await refresh(user.refreshToken));
    const again = await tokens(await refresh(user.refreshToken));
    expect(again.refresh_token).toBe(first.refresh_token);
    expect((await me(again.access_token)).status).toBe(200);
  });

  it("treats a retired token after the grace window as stolen: the session dies, the owner is told", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const first = await tokens(await refresh(user.refreshToken));
    vi.setSystemTime(Date.now() + 11_000);
    await problem(await refresh(user.refreshToken), 401, "refresh_token_reused");
    // The live token of that session and its access tokens stop working too.
    await problem(await refresh(first.refresh_token), 401, "invalid_token");
    const res = await me(first.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    const audit = await env.DB.prepare("SELECT * FROM audit_logs WHERE user_id = ? AND action = 'refresh_token.reused'")
      .bind(user.userId)
      .all();
    expect(audit.results).toHaveLength(1);
    const notices = await outbox(user.email, "security_notice");
    expect(notices[0]?.subject).toMatch(/signed out/i);
  });

  it("detects reuse of an older ancestor, not only the previous token", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const first = await tokens(await refresh(user.refreshToken));
    vi.setSystemTime(Date.now() + 20_000);
    const second = await tokens(await refresh(first.refresh_token));
    vi.setSystemTime(Date.now() + 20_000);
    await problem(await refresh(user.refreshToken), 401, "refresh_token_reused");
    await problem(await refresh(second.refresh_token), 401, "invalid_token");
  });

  it("refuses unknown, malformed and access tokens", async () => {
    const user = await register();
    await problem(await refresh("not-a-token"), 401, "invalid_token");
    await problem(await refresh(user.accessToken.slice(0, 200)), 401, "invalid_token");
    await problem(await call("/api/v1/auth/refresh", { body: {}, ip: freshIp() }), 422, "validation_failed");
    // And a refresh token is not an access token.
    const res = await me(user.refreshToken);
    await problem(res, 401, "invalid_token");
  });

  it("expires sessions when idle (7 days) and absolutely (30 days)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const idle = await register();
    vi.setSystemTime(Date.now() + 7 * 86400_000 + 1000);
    await problem(await refresh(idle.refreshToken), 401, "invalid_token");

    const busy = await register();
    let current = busy.refreshToken;
    for (let day = 6; day < 30; day += 6) {
      vi.setSystemTime(Date.now() + 6 * 86400_000);
      current = (await tokens(await refresh(current))).refresh_token;
    }
    vi.setSystemTime(Date.now() + 6 * 86400_000);
    await problem(await refresh(current), 401, "invalid_token");
  });
});

describe("POST /auth/logout", () => {
  it("revokes the session and the presented access token", async () => {
    const user = await register();
    const res = await call("/api/v1/auth/logout", { method: "POST", token: user.accessToken });
    expect(res.status).toBe(204);
    await problem(await me(user.accessToken), 401, "token_revoked");
    await problem(await refresh(user.refreshToken), 401, "invalid_token");
  });

  it("with a refresh token of another of the caller's sessions, revokes that one too", async () => {
    const user = await register();
    const other = await loginAgain(user);
    const res = await call("/api/v1/auth/logout", { body: { refresh_token: other.refresh_token }, token: user.accessToken });
    expect(res.status).toBe(204);
    await problem(await refresh(other.refresh_token), 401, "invalid_token");
    expect((await me(other.access_token)).status).toBe(401);
  });

  it("scope=all revokes every session of the user and nobody else's", async () => {
    const user = await register();
    const other = await loginAgain(user);
    const stranger = await register();
    const res = await call("/api/v1/auth/logout?scope=all", { method: "POST", token: user.accessToken });
    expect(res.status).toBe(204);
    for (const access of [user.accessToken, other.access_token]) expect((await me(access)).status).toBe(401);
    for (const rt of [user.refreshToken, other.refresh_token]) await problem(await refresh(rt), 401, "invalid_token");
    expect((await me(stranger.accessToken)).status).toBe(200);
    expect((await loginAgain(user)).access_token).toBeTruthy();
  });

  it("needs a valid access token", async () => {
    const res = await call("/api/v1/auth/logout", { method: "POST" });
    await problem(res, 401, "authentication_required");
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    await problem(
      await call("/api/v1/auth/logout?scope=everything", { method: "POST", token: (await register()).accessToken }),
      422,
      "validation_failed",
    );
  });
});

describe("sessions", () => {
  it("lists the caller's sessions with the current one marked and no token values", async () => {
    const user = await register();
    const other = await loginAgain(user);
    const res = await call("/api/v1/users/me/sessions", {
      token: user.accessToken,
      headers: { "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    for (const secret of [user.refreshToken, other.refresh_token, user.accessToken]) expect(text).not.toContain(secret);
    const { sessions } = JSON.parse(text) as { sessions: Record<string, unknown>[] };
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    for (const s of sessions) {
      expect(Object.keys(s)).toEqual(
        expect.arrayContaining(["id", "created_at", "last_used_at", "expires_at", "ip_address", "user_agent", "current"]),
      );
    }
  });

  it("revokes one session; another user's session id is 404", async () => {
    const user = await register();
    const other = await loginAgain(user);
    const stranger = await register();
    const listRes = await call("/api/v1/users/me/sessions", { token: user.accessToken });
    const list = await listRes.json<{ sessions: { id: string; current: boolean }[] }>();
    const otherId = list.sessions.find((s) => !s.current)!.id;
    const strangerListRes = await call("/api/v1/users/me/sessions", { token: stranger.accessToken });
    const strangerList = await strangerListRes.json<{ sessions: { id: string }[] }>();

    await problem(
      await call(`/api/v1/users/me/sessions/${strangerList.sessions[0]!.id}`, { method: "DELETE", token: user.accessToken }),
      404,
      "not_found",
    );
    expect((await me(stranger.accessToken)).status).toBe(200);
    await problem(
      await call(`/api/v1/users/me/sessions/${crypto.randomUUID()}`, { method: "DELETE", token: user.accessToken }),
      404,
      "not_found",
    );

    expect((await call(`/api/v1/users/me/sessions/${otherId}`, { method: "DELETE", token: user.accessToken })).status).toBe(204);
    expect((await me(other.access_token)).status).toBe(401);
    await problem(await refresh(other.refresh_token), 401, "invalid_token");
    expect((await me(user.accessToken)).status).toBe(200);
    await problem(await call(`/api/v1/users/me/sessions/${otherId}`, { method: "DELETE", token: user.accessToken }), 404, "not_found");
  });
});

describe("PATCH /users/me/password", () => {
  it("needs the current password and applies the policy, changing nothing on failure", async () => {
    const user = await register();
    const wrong = await call("/api/v1/users/me/password", {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: "not my password at all", new_password: "a brand new passphrase 9" },
    });
    await problem(wrong, 400, "invalid_current_password");
    const weak = await call("/api/v1/users/me/password", {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: user.password, new_password: "password123" },
    });
    const body = await problem(weak, 422, "weak_password");
    expect(body.errors).toEqual([expect.objectContaining({ field: "new_password" })]);
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
  });

  it("keeps the current session, revokes the others, audits and notifies", async () => {
    const user = await register();
    const other = await loginAgain(user);
    const res = await call("/api/v1/users/me/password", {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: user.password, new_password: "a brand new passphrase 9" },
    });
    expect(res.status).toBe(204);
    expect((await me(user.accessToken)).status).toBe(200);
    expect((await refresh(user.refreshToken)).status).toBe(200);
    expect((await me(other.access_token)).status).toBe(401);
    await problem(await refresh(other.refresh_token), 401, "invalid_token");
    await problem(await login({ email: user.email, password: user.password }), 401, "invalid_credentials");
    expect((await login({ email: user.email, password: "a brand new passphrase 9" })).status).toBe(200);
    const audit = await env.DB.prepare("SELECT metadata FROM audit_logs WHERE user_id = ? AND action = 'password.changed'")
      .bind(user.userId)
      .all();
    expect(audit.results).toHaveLength(1);
    expect(JSON.stringify(audit.results)).not.toContain("passphrase");
    // The login above, from a new device, also sent a "new sign-in" notice (threat-signals.test.ts).
    const notices = (await outbox(user.email, "security_notice")).filter((m) => !m.subject.includes("sign-in"));
    expect(notices[0]?.subject).toMatch(/password was changed/i);
  });
});

describe("DELETE /users/me", () => {
  it("needs the password, then kills every session and token and frees the address", async () => {
    const user = await register();
    const other = await loginAgain(user);
    await problem(
      await call("/api/v1/users/me", { method: "DELETE", token: user.accessToken, body: { password: "wrong password here" } }),
      400,
      "invalid_current_password",
    );
    expect((await me(user.accessToken)).status).toBe(200);

    const res = await call("/api/v1/users/me", { method: "DELETE", token: user.accessToken, body: { password: user.password } });
    expect(res.status).toBe(204);
    for (const access of [user.accessToken, other.access_token]) expect((await me(access)).status).toBe(401);
    for (const rt of [user.refreshToken, other.refresh_token]) await problem(await refresh(rt), 401, "invalid_token");
    await problem(await login({ email: user.email, password: user.password }), 401, "invalid_credentials");
    const row = await env.DB.prepare("SELECT deleted_at, is_active FROM users WHERE id = ?")
      .bind(user.userId)
      .first<{ deleted_at: number; is_active: number }>();
    expect(row?.deleted_at).toBeGreaterThan(0);
    expect(row?.is_active).toBe(0);
    // Soft-deleted: the address can be registered again as a new account.
    const again = await register({ email: user.email, password: STRONG_PASSWORD });
    expect(again.userId).not.toBe(user.userId);
  });
});

describe("deactivated users", () => {
  it("get the wrong-password answer at login, cannot refresh, and their access tokens stop working", async () => {
    const user = await register();
    await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(user.userId).run();
    await problem(await login({ email: user.email, password: user.password }), 401, "invalid_credentials");
    await problem(await refresh(user.refreshToken), 401, "invalid_token");
    expect((await me(user.accessToken)).status).toBe(401);
  });
});
