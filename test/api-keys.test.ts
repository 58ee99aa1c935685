import { afterEach, describe, expect, it, vi } from "vitest";
import type { ApiKeyResponse, CreatedApiKey } from "../src/api-keys/api-keys";
import { call, captureLogs, env, freshIp, problem, register, type Registered } from "./helpers";

/** API keys through HTTP: creation, one-time display, listing, authentication, scopes, revocation, expiry. */

const KEYS = "/api/v1/users/me/api-keys";
const KEY_FORMAT = /^gh_([0-9a-f]{16})([0-9a-f]{64})$/;

type Created = CreatedApiKey;

async function createKey(user: Registered, body: Record<string, unknown> = { name: "ci" }): Promise<Created> {
  const res = await call(KEYS, { token: user.accessToken, body });
  const json = await res.json<Created>();
  expect(res.status, JSON.stringify(json)).toBe(201);
  return json;
}

async function listKeys(user: Registered): Promise<ApiKeyResponse[]> {
  const res = await call(KEYS, { token: user.accessToken });
  expect(res.status).toBe(200);
  return (await res.json<{ api_keys: ApiKeyResponse[] }>()).api_keys;
}

async function auditCount(userId: string, action: string, ip?: string): Promise<number> {
  const row = await env.DB.prepare(
    "SELECT count(*) AS n FROM audit_logs WHERE user_id = ? AND action = ? AND (?3 IS NULL OR ip_address = ?3)",
  )
    .bind(userId, action, ip ?? null)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("creating and listing keys", () => {
  it("shows the key once, in the documented format, and never again", async () => {
    const user = await register();
    const res = await call(KEYS, { token: user.accessToken, body: { name: "  deploy bot  " } });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const created = await res.json<Created>();
    const [, keyId, secret] = KEY_FORMAT.exec(created.api_key) ?? [];
    expect(keyId).toBeDefined();
    expect(created).toMatchObject({ name: "deploy bot", prefix: `gh_${keyId}` });
    // No lifetime given: the default 90 days.
    expect(Date.parse(created.expires_at!) - Date.parse(created.created_at)).toBe(90 * 86_400_000);
    expect(created.scopes).toEqual(["profile:read", "profile:write", "security_events:read"]);
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);

    const listRes = await call(KEYS, { token: user.accessToken });
    const text = await listRes.text();
    expect(listRes.status).toBe(200);
    expect(text).not.toContain(secret!);
    const { api_keys } = JSON.parse(text) as { api_keys: Record<string, unknown>[] };
    expect(api_keys).toHaveLength(1);
    expect(api_keys[0]).not.toHaveProperty("api_key");
    expect(api_keys[0]).toMatchObject({ id: created.id, name: "deploy bot", prefix: created.prefix, last_used_at: null });

    // Storage holds a hash of the secret, never the secret.
    const row = await env.DB.prepare("SELECT key_id, secret_hash FROM api_keys WHERE id = ?")
      .bind(created.id)
      .first<Record<string, string>>();
    expect(row?.key_id).toBe(keyId);
    expect(row?.secret_hash).toMatch(/^(sha256|hmac):[A-Za-z0-9_-]{43}$/);
    expect(row?.secret_hash).not.toContain(secret!);
  });

  it("lists newest first, only the caller's own keys", async () => {
    const [alice, bob] = await Promise.all([register(), register()]);
    const first = await createKey(alice, { name: "one" });
    const second = await createKey(alice, { name: "two", scopes: ["profile:read"], expires_in_days: 30 });
    await createKey(bob, { name: "bob's" });
    const keys = await listKeys(alice);
    expect(keys.map((k) => k.id).sort()).toEqual([first.id, second.id].sort());
    const two = keys.find((k) => k.id === second.id)!;
    expect(two.scopes).toEqual(["profile:read"]);
    expect(Date.parse(two.expires_at as string) - Date.parse(two.created_at)).toBe(30 * 86_400_000);
  });

  it.each([
    [{}, "name"],
    [{ name: "" }, "name"],
    [{ name: "x".repeat(101) }, "name"],
    [{ name: "line\nbreak" }, "name"],
    [{ name: "ok", expires_in_days: 0 }, "expires_in_days"],
    [{ name: "ok", expires_in_days: 3651 }, "expires_in_days"],
    [{ name: "ok", expires_in_days: 1.5 }, "expires_in_days"],
    [{ name: "ok", scopes: ["admin"] }, "scopes.0"],
    [{ name: "ok", scopes: [] }, "scopes"],
  ])("refuses %j with 422 and creates nothing", async (body, field) => {
    const user = await register();
    const res = await call(KEYS, { token: user.accessToken, body });
    const problemBody = await problem(res, 422, "validation_failed");
    expect((problemBody.errors as { field: string }[]).map((e) => e.field)).toContain(field);
    expect(await listKeys(user)).toEqual([]);
  });

  it("caps live keys per user exactly, even under concurrent creation", async () => {
    const user = await register();
    // Above the hourly creation limit (test/abuse-limits.test.ts), so the cap is what answers here.
    const moreCreations = { RATE_LIMITS: JSON.stringify({ api_key_create_user_hour: { limit: 100, window: 3600 } }) };
    const logs = captureLogs();
    const results = await Promise.all(
      Array.from({ length: 28 }, (_, i) => call(KEYS, { env: moreCreations, token: user.accessToken, body: { name: `k${i}` } })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(25);
    expect(statuses.filter((s) => s === 422)).toHaveLength(3);
    expect(await listKeys(user)).toHaveLength(25);
    // Revoking one frees a slot.
    const [one] = await listKeys(user);
    expect((await call(`${KEYS}/${one!.id}`, { method: "DELETE", token: user.accessToken })).status).toBe(204);
    expect((await call(KEYS, { env: moreCreations, token: user.accessToken, body: { name: "replacement" } })).status).toBe(201);
    // 26 notices in an hour: the mailbox's budget (10 an hour) drops the ones beyond it.
    expect(new Set(logs.problems().map((l) => l.event))).toEqual(new Set(["mail.dropped"]));
  });
});

describe("authenticating with a key", () => {
  it("acts as its user on ordinary endpoints and records its use", async () => {
    const user = await register();
    const key = await createKey(user);
    const ip = freshIp();
    const me = await call("/api/v1/users/me", { token: key.api_key, ip });
    expect(me.status).toBe(200);
    expect((await me.json<{ id: string }>()).id).toBe(user.userId);

    const put = await call("/api/v1/users/me", { method: "PUT", token: key.api_key, ip, body: { full_name: "Renamed By Key" } });
    expect(put.status).toBe(200);
    expect((await put.json<{ full_name: string }>()).full_name).toBe("Renamed By Key");

    // The bookkeeping runs after the response; call() has waited for it.
    const [listed] = await listKeys(user);
    expect(listed!.last_used_at).not.toBeNull();
    expect(listed!.last_used_ip).toBe(ip);
    expect(await auditCount(user.userId, "api_key.used_new_ip", ip)).toBe(1);
  });

  it("audits a new IP once, however many requests arrive from it at once", async () => {
    const user = await register();
    const key = await createKey(user);
    const ip = freshIp();
    const results = await Promise.all(Array.from({ length: 6 }, () => call("/api/v1/users/me", { token: key.api_key, ip })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    // Every call has waited for its own after-response work, so all six writes have landed.
    expect(await auditCount(user.userId, "api_key.used_new_ip", ip)).toBe(1);
    // Back from the same IP: nothing new. From another one: audited.
    await call("/api/v1/users/me", { token: key.api_key, ip });
    const other = freshIp();
    await call("/api/v1/users/me", { token: key.api_key, ip: other });
    expect(await auditCount(user.userId, "api_key.used_new_ip", other)).toBe(1);
    expect(await auditCount(user.userId, "api_key.used_new_ip", ip)).toBe(1);
  });

  it("throttles last_used_at writes to one per interval", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = new Date("2031-03-01T10:00:00Z");
    vi.setSystemTime(t0);
    const user = await register();
    const key = await createKey(user);
    const ip = freshIp();
    await call("/api/v1/users/me", { token: key.api_key, ip });
    const lastUsed = async () => (await listKeys(user))[0]!.last_used_at;
    expect(await lastUsed()).toBe(t0.toISOString());

    // A minute later: inside the interval, no write.
    vi.setSystemTime(new Date(t0.getTime() + 60_000));
    await call("/api/v1/users/me", { token: key.api_key, ip });
    expect(await lastUsed()).toBe(t0.toISOString());
    // Six minutes later: past it, written.
    vi.setSystemTime(new Date(t0.getTime() + 6 * 60_000));
    await call("/api/v1/users/me", { token: key.api_key, ip });
    expect(await lastUsed()).toBe(new Date(t0.getTime() + 6 * 60_000).toISOString());
  });

  it("limits a key to its scopes", async () => {
    const user = await register();
    const readOnly = await createKey(user, { name: "ro", scopes: ["profile:read"] });
    expect((await call("/api/v1/users/me", { token: readOnly.api_key })).status).toBe(200);
    const put = await call("/api/v1/users/me", { method: "PUT", token: readOnly.api_key, body: { full_name: "Nope" } });
    await problem(put, 403, "insufficient_scope");
    expect(put.headers.get("www-authenticate")).toContain('scope="profile:write"');
    await problem(await call("/api/v1/users/me/security-events", { token: readOnly.api_key }), 403, "insufficient_scope");

    const eventsOnly = await createKey(user, { name: "audit", scopes: ["security_events:read"] });
    expect((await call("/api/v1/users/me/security-events", { token: eventsOnly.api_key })).status).toBe(200);
    await problem(await call("/api/v1/users/me", { token: eventsOnly.api_key }), 403, "insufficient_scope");
  });

  it("cannot manage API keys (credential management) whatever its scopes", async () => {
    const user = await register();
    const key = await createKey(user);
    await problem(await call(KEYS, { token: key.api_key, body: { name: "child" } }), 403, "insufficient_scope");
    await problem(await call(KEYS, { token: key.api_key }), 403, "insufficient_scope");
    await problem(await call(`${KEYS}/${key.id}`, { method: "DELETE", token: key.api_key }), 403, "insufficient_scope");
    expect(await listKeys(user)).toHaveLength(1);
  });

  it("cannot change the password or email, manage sessions, log out or delete the account", async () => {
    const user = await register();
    const key = await createKey(user);
    const attempts: [string, string, unknown?][] = [
      ["PATCH", "/api/v1/users/me/password", { current_password: user.password, new_password: "a brand new passphrase 9" }],
      ["POST", "/api/v1/users/me/email", { new_email: "elsewhere@example.com", password: user.password }],
      ["GET", "/api/v1/users/me/sessions"],
      ["DELETE", `/api/v1/users/me/sessions/${crypto.randomUUID()}`],
      ["POST", "/api/v1/auth/logout"],
      ["DELETE", "/api/v1/users/me", { password: user.password }],
    ];
    for (const [method, path, body] of attempts) {
      await problem(await call(path, { method, token: key.api_key, body }), 403, "insufficient_scope");
    }
    // Nothing changed: the password still logs in and the access token still works.
    expect((await call("/api/v1/users/me", { token: user.accessToken })).status).toBe(200);
    expect((await call("/api/v1/auth/login", { body: { email: user.email, password: user.password }, ip: freshIp() })).status).toBe(200);
  });

  it.each([
    ["a made-up key", `gh_${"0".repeat(16)}${"1".repeat(64)}`],
    ["a truncated key", `gh_${"a".repeat(40)}`],
    ["an upper-case body", `gh_${"A".repeat(80)}`],
    ["a key with another prefix", `xx_${"a".repeat(80)}`],
  ])("refuses %s with 401 invalid_token", async (_label, token) => {
    const res = await call("/api/v1/users/me", { token });
    await problem(res, 401, "invalid_token");
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
  });

  it("refuses a real key id with a wrong secret", async () => {
    const user = await register();
    const key = await createKey(user);
    const last = key.api_key.at(-1) === "0" ? "1" : "0";
    await problem(await call("/api/v1/users/me", { token: key.api_key.slice(0, -1) + last }), 401, "invalid_token");
  });
});

describe("ending a key", () => {
  it("revocation takes effect at once and only for the owner", async () => {
    const [owner, stranger] = await Promise.all([register(), register()]);
    const key = await createKey(owner);
    expect((await call("/api/v1/users/me", { token: key.api_key })).status).toBe(200);

    await problem(await call(`${KEYS}/${key.id}`, { method: "DELETE", token: stranger.accessToken }), 404, "not_found");
    await problem(await call(`${KEYS}/not-a-uuid`, { method: "DELETE", token: owner.accessToken }), 404, "not_found");
    expect((await call("/api/v1/users/me", { token: key.api_key })).status).toBe(200);

    const del = await call(`${KEYS}/${key.id}`, { method: "DELETE", token: owner.accessToken });
    expect(del.status).toBe(204);
    const after = await call("/api/v1/users/me", { token: key.api_key });
    await problem(after, 401, "token_revoked");
    expect(after.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    expect(await listKeys(owner)).toEqual([]);
    await problem(await call(`${KEYS}/${key.id}`, { method: "DELETE", token: owner.accessToken }), 404, "not_found");
    expect(await auditCount(owner.userId, "api_key.revoked")).toBe(1);
  });

  it("expires after expires_in_days", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = new Date("2031-05-01T12:00:00Z");
    vi.setSystemTime(t0);
    const user = await register();
    const key = await createKey(user, { name: "short", expires_in_days: 1 });
    expect(key.expires_at).toBe(new Date(t0.getTime() + 86_400_000).toISOString());

    vi.setSystemTime(new Date(t0.getTime() + 86_400_000 - 1000));
    expect((await call("/api/v1/users/me", { token: key.api_key })).status).toBe(200);
    vi.setSystemTime(new Date(t0.getTime() + 86_400_000));
    await problem(await call("/api/v1/users/me", { token: key.api_key }), 401, "token_expired");
  });

  it("stops working at once when the user is deactivated or deleted", async () => {
    const [deactivated, deleted] = await Promise.all([register(), register()]);
    const keyA = await createKey(deactivated);
    const keyB = await createKey(deleted);
    await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(deactivated.userId).run();
    await env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(Date.now(), deleted.userId).run();
    await problem(await call("/api/v1/users/me", { token: keyA.api_key }), 401, "invalid_token");
    await problem(await call("/api/v1/users/me", { token: keyB.api_key }), 401, "invalid_token");
  });
});
