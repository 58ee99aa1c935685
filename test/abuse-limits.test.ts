import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CreatedApiKey } from "../src/api-keys/api-keys";
import { runScheduledMaintenance } from "../src/maintenance/scheduled";
import {
  auditRows,
  call,
  captureLogs,
  env,
  freshIp,
  outbox,
  problem,
  register,
  STRONG_PASSWORD,
  uniqueEmail,
  type Registered,
} from "./helpers";

/**
 * Limits on what a signed-in user does (username changes, API-key creation), the API-key
 * new-IP memory, pruning of dead keys, and mail budgets per mailbox, all over HTTP.
 */

const ME = "/api/v1/users/me";
const KEYS = "/api/v1/users/me/api-keys";

let nameCounter = 0;
/** A username no other test uses (3–50 of A–Z a–z 0–9 _ -). */
function uniqueName(prefix = "nm"): string {
  nameCounter += 1;
  return `${prefix}_${Date.now().toString(36)}_${nameCounter}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}

function rename(user: Registered, username: string | null, ip = freshIp()): Promise<Response> {
  return call(ME, { method: "PUT", token: user.accessToken, ip, body: { username } });
}

async function createKey(user: Registered, body: Record<string, unknown> = { name: "ci" }): Promise<CreatedApiKey> {
  const res = await call(KEYS, { token: user.accessToken, body });
  const json = await res.json<CreatedApiKey>();
  expect(res.status, JSON.stringify(json)).toBe(201);
  return json;
}

/** The metadata of the user's audit rows of `action`, oldest first. */
async function auditMetadata(userId: string, action: string): Promise<Record<string, unknown>[]> {
  return (await auditRows("user_id = ? AND action = ?", userId, action)).map((r) => r.metadata);
}

async function endWindows(objectName: string): Promise<void> {
  const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(objectName));
  for (let i = 0; i < 10; i++) if (!(await runDurableObjectAlarm(stub))) return;
  throw new Error(`alarms of ${objectName} never settled`);
}

describe("username changes", () => {
  it("allows 5 per user and day, then 429 with Retry-After; a taken-name probe counts and is throttled too", async () => {
    const owner = await register({ username: uniqueName("taken") });
    const prober = await register();
    const taken = owner.body.user as { username: string };
    for (let i = 0; i < 3; i++) await problem(await rename(prober, taken.username.toUpperCase()), 409, "username_taken");
    for (let i = 0; i < 2; i++) expect((await rename(prober, uniqueName())).status).toBe(200);

    const limited = await rename(prober, taken.username);
    await problem(limited, 429, "rate_limited");
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(86_000);
    expect(limited.headers.get("RateLimit-Policy")).toBe(`"username_change_user_day";q=5;w=86400`);
    await problem(await rename(prober, uniqueName()), 429, "rate_limited");

    // What is not a username change costs nothing: the same name again, or the full name alone.
    const current = (await (await call(ME, { token: prober.accessToken })).json<{ username: string }>()).username;
    expect((await rename(prober, current)).status).toBe(200);
    const renamed = await call(ME, { method: "PUT", token: prober.accessToken, body: { full_name: "Still Allowed" } });
    expect(renamed.status).toBe(200);

    // The owner's own log shows one throttle row (one per window), not one per refusal.
    const rows = await auditMetadata(prober.userId, "rate_limited");
    expect(rows).toEqual([
      { scope: "user", action: "username_change", policy: "username_change_user_day", count: 1, window_seconds: 3600 },
    ]);
  });

  it("allows 20 per client IP and day, across users", async () => {
    const ip = freshIp();
    for (let u = 0; u < 4; u++) {
      const user = await register();
      for (let i = 0; i < 5; i++) expect((await rename(user, uniqueName(), ip)).status).toBe(200);
    }
    const fifth = await register();
    const limited = await rename(fifth, uniqueName(), ip);
    await problem(limited, 429, "rate_limited");
    expect(limited.headers.get("RateLimit-Policy")).toBe(`"username_change_ip_day";q=20;w=86400`);
    // The same user from another address still has budget.
    expect((await rename(fifth, uniqueName())).status).toBe(200);
  });
});

describe("profile updates", () => {
  /** Webhooks on, into a queue that only counts: every change writes its outbox row. */
  const webhooks = {
    WEBHOOK_URL: "https://hooks.example.com/profile",
    WEBHOOK_SECRET: `whsec_${btoa("0123456789abcdef0123456789abcdef")}`,
    WEBHOOKS: { send: () => Promise.resolve(), sendBatch: () => Promise.resolve() } as unknown as Queue,
  };
  const put = (user: Registered, body: Record<string, unknown>) =>
    call(ME, { method: "PUT", token: user.accessToken, body, env: webhooks });
  const updatedEvents = async (userId: string) =>
    (
      await env.DB.prepare(
        "SELECT count(*) AS n FROM webhook_events WHERE type = 'user.updated' AND json_extract(payload, '$.data.user_id') = ?",
      )
        .bind(userId)
        .first<{ n: number }>()
    )?.n;

  it("write nothing when nothing changes: no row, no audit, no event, no budget spent", async () => {
    const user = await register({ username: uniqueName("same") });
    const before = await env.DB.prepare("SELECT updated_at FROM users WHERE id = ?").bind(user.userId).first<{ updated_at: number }>();
    const { full_name, username } = user.body.user as { full_name: string; username: string };
    for (let i = 0; i < 40; i++) {
      const res = await put(user, i % 2 ? { full_name, username } : { full_name });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ full_name, username });
    }
    const after = await env.DB.prepare("SELECT updated_at FROM users WHERE id = ?").bind(user.userId).first<{ updated_at: number }>();
    expect(after!.updated_at).toBe(before!.updated_at);
    expect(await auditMetadata(user.userId, "user.updated")).toEqual([]);
    expect(await updatedEvents(user.userId)).toBe(0);
    // More than the hourly budget of no-ops, and a real change still goes through.
    expect((await put(user, { full_name: "A Real Change" })).status).toBe(200);
  });

  it("allow 30 changes per user and hour, exactly, even in parallel; each is one row, one audit row and one event", async () => {
    const user = await register();
    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => put(user, { full_name: `Name number ${i}` })));
    const ok = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    expect([ok.length, limited.length]).toEqual([30, 10]);
    await problem(limited[0]!, 429, "rate_limited");
    expect(limited[0]!.headers.get("RateLimit-Policy")).toBe(`"profile_update_user_hour";q=30;w=3600`);
    expect(limited[0]!.headers.get("RateLimit")).toMatch(/^"profile_update_user_hour";r=0;t=\d+$/);
    expect(Number(limited[0]!.headers.get("Retry-After"))).toBeGreaterThan(3500);
    const updates = await auditMetadata(user.userId, "user.updated");
    expect(updates).toHaveLength(30);
    expect(updates[0]).toEqual({ fields: ["fullName"] });
    expect(await updatedEvents(user.userId)).toBe(30);
    // The refusals are one throttle row for the window, not one each.
    expect(await auditMetadata(user.userId, "rate_limited")).toEqual([
      { scope: "user", action: "profile_update", policy: "profile_update_user_hour", count: 1, window_seconds: 3600 },
    ]);
  });
});

describe("API keys", () => {
  it("allows 10 creations per user and hour, then 429", async () => {
    const user = await register();
    const logs = captureLogs();
    for (let i = 0; i < 10; i++) await createKey(user, { name: `k${i}` });
    const limited = await call(KEYS, { token: user.accessToken, body: { name: "one too many" } });
    await problem(limited, 429, "rate_limited");
    expect(limited.headers.get("RateLimit-Policy")).toBe(`"api_key_create_user_hour";q=10;w=3600`);
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(3500);
    // Ten notices (the account's own class, 20 an hour) and the verification mail: all delivered.
    expect(await outbox(user.email)).toHaveLength(11);
    expect(logs.problems()).toEqual([]);
  });

  it("remembers clients by IPv6 /64: another address of the same /64 is not a new IP", async () => {
    const user = await register();
    const key = await createKey(user);
    const prefix = `2001:db8:${(Date.now() % 0xffff).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;
    for (const host of ["::1", "::2", ":abcd:1234:5678:9abc"]) {
      expect((await call(ME, { token: key.api_key, ip: `${prefix}${host}` })).status).toBe(200);
    }
    expect(await auditMetadata(user.userId, "api_key.used_new_ip")).toHaveLength(1);
    const remembered = await env.AUTH_KV.list({ prefix: `apikey_ip:${key.id}:` });
    expect(remembered.keys.map((k) => k.name)).toEqual([`apikey_ip:${key.id}:${prefix}::/64`]);
    // Another /64 is another client.
    expect((await call(ME, { token: key.api_key, ip: "2001:db8:ffff:fffe::1" })).status).toBe(200);
    expect(await auditMetadata(user.userId, "api_key.used_new_ip")).toHaveLength(2);
  });

  it("records at most 20 new IPs per key and day; the rest is one row per hour with a count", async () => {
    const user = await register();
    const key = await createKey(user);
    for (let i = 0; i < 26; i++) expect((await call(ME, { token: key.api_key, ip: freshIp() })).status).toBe(200);
    const rows = await auditMetadata(user.userId, "api_key.used_new_ip");
    expect(rows.filter((m) => m.unrecorded !== true)).toHaveLength(20);
    expect(rows.filter((m) => m.unrecorded === true)).toEqual([
      { api_key_id: key.id, name: "ci", unrecorded: true, policy: "api_key_new_ip_day", count: 1, window_seconds: 3600 },
    ]);
    expect((await env.AUTH_KV.list({ prefix: `apikey_ip:${key.id}:` })).keys).toHaveLength(20);
    await endWindows(`api_key:${key.id}`);
    expect((await auditMetadata(user.userId, "api_key.used_new_ip")).find((m) => m.unrecorded === true)).toMatchObject({ count: 6 });
  });

  it("prunes revoked and expired keys once AUDIT_RETENTION_DAYS have passed, and only those", async () => {
    const user = await register();
    const revoked = await createKey(user, { name: "revoked long ago" });
    const expired = await createKey(user, { name: "expired long ago" });
    const recent = await createKey(user, { name: "revoked recently" });
    const live = await createKey(user, { name: "live" });
    const daysAgo = (days: number) => Date.now() - days * 86_400_000;
    const set = (column: string, at: number, id: string) =>
      env.DB.prepare(`UPDATE api_keys SET ${column} = ? WHERE id = ?`).bind(at, id).run();
    await set("revoked_at", daysAgo(91), revoked.id);
    await set("expires_at", daysAgo(91), expired.id);
    await set("revoked_at", daysAgo(89), recent.id);

    await runScheduledMaintenance(env, new Date());
    const { results } = await env.DB.prepare("SELECT name FROM api_keys WHERE user_id = ? ORDER BY name")
      .bind(user.userId)
      .all<{ name: string }>();
    expect(results.map((r) => r.name)).toEqual(["live", "revoked recently"]);
    // A pruned key is just unknown now.
    await problem(await call(ME, { token: revoked.api_key }), 401, "invalid_token");
    expect((await call(ME, { token: live.api_key })).status).toBe(200);
  });
});

describe("mail per mailbox", () => {
  const MORE_RESENDS = { RATE_LIMITS: JSON.stringify({ resend_verification_account_hour: { limit: 100, window: 3600 } }) };

  it("delivers at most 6 strangers' links an hour to one mailbox, drops the rest with a warning that names no address, answers alike", async () => {
    const user = await register();
    const logs = captureLogs();
    const bodies = new Set<string>();
    for (let i = 0; i < 14; i++) {
      const res = await call("/api/v1/auth/resend-verification", { env: MORE_RESENDS, ip: freshIp(), body: { email: user.email } });
      expect(res.status).toBe(202);
      bodies.add(await res.text());
    }
    expect(bodies.size).toBe(1);
    // Registration's own verification mail (unsolicited class) and six strangers' links.
    expect(await outbox(user.email)).toHaveLength(7);
    const dropped = logs.problems().filter((l) => l.event === "mail.dropped");
    expect(dropped).toHaveLength(8);
    expect(dropped[0]).toMatchObject({
      level: "warn",
      kind: "email_verification",
      class: "stranger",
      reason: "mailbox_budget",
      policy: "mail_stranger_mailbox_hour",
    });
    expect(dropped[0]?.mailbox).toMatch(/^[0-9a-f]{12}$/);
    expect(logs.text()).not.toContain(user.email);
    expect(logs.text()).not.toContain(user.email.split("@")[0]);
  });

  it("tells an address at most once a day that someone tried to register with it", async () => {
    const logs = captureLogs();
    const verify = { REQUIRE_EMAIL_VERIFICATION: "true" };
    const email = uniqueEmail("attempted");
    const attempt = () =>
      call("/api/v1/auth/register", { env: verify, ip: freshIp(), body: { email, password: STRONG_PASSWORD, full_name: "Someone" } });
    expect((await attempt()).status).toBe(202);
    const answers = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const res = await attempt();
      expect(res.status).toBe(202);
      answers.add(await res.text());
    }
    expect(answers.size).toBe(1);
    const notices = await outbox(email, "security_notice");
    expect(notices.map((m) => m.subject)).toEqual(["Someone tried to register with your address"]);
    expect(await outbox(email, "email_verification")).toHaveLength(1);
    expect(logs.problems().map((l) => l.policy)).toEqual(Array(3).fill("registration_attempt_mailbox_day"));
  });

  it("shares that daily budget with the 'username taken' mail, which anyone can cause for an address", async () => {
    const logs = captureLogs();
    const verify = { REQUIRE_EMAIL_VERIFICATION: "true" };
    const holder = await register({ username: uniqueName("held") });
    const username = (holder.body.user as { username: string }).username;
    const email = uniqueEmail("nameless");
    for (let i = 0; i < 3; i++) {
      const res = await call("/api/v1/auth/register", {
        env: verify,
        ip: freshIp(),
        body: { email, password: STRONG_PASSWORD, full_name: "Someone", username },
      });
      expect(res.status).toBe(202);
    }
    expect((await outbox(email)).map((m) => m.subject)).toEqual(["Your registration was not completed"]);
    expect(logs.problems().map((l) => l.policy)).toEqual(Array(2).fill("registration_attempt_mailbox_day"));
  });
});

describe("forgot-password and resend-verification", () => {
  it.each(["forgot-password", "resend-verification"])(
    "%s answers a known and an unknown address after the same storage work (the rest runs after the response)",
    async (path) => {
      const user = await register();
      const logs = captureLogs();
      const known = await call(`/api/v1/auth/${path}`, { ip: freshIp(), body: { email: user.email } });
      const unknown = await call(`/api/v1/auth/${path}`, { ip: freshIp(), body: { email: uniqueEmail("nobody") } });
      expect([known.status, unknown.status]).toEqual([202, 202]);
      expect(await known.text()).toBe(await unknown.text());
      const requests = logs
        .text()
        .split("\n")
        .map((line) => JSON.parse(line) as { event: string; storage?: Record<string, number> })
        .filter((line) => line.event === "request");
      expect(requests).toHaveLength(2);
      expect(requests[0]?.storage).toEqual(requests[1]?.storage);
      // The known address did get its mail (after the response).
      expect((await outbox(user.email)).length).toBeGreaterThanOrEqual(2);
    },
  );
});
