import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { TokenResponse } from "../src/sessions/sessions";
import { call, freshIp, login, outbox, problem, register, STRONG_PASSWORD, uniqueEmail, userRow } from "./helpers";

/** Registration: the data rules, the password policy over HTTP, verification mode, the dev outbox. */

function registerRaw(body: Record<string, unknown>) {
  return call("/api/v1/auth/register", { body: { full_name: "Test User", password: STRONG_PASSWORD, ...body }, ip: freshIp() });
}

async function countUsers(where: string, value: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM users WHERE ${where}`).bind(value).first<{ n: number }>();
  return row?.n ?? 0;
}

describe("registration", () => {
  it("creates the user, a session and a token pair (201)", async () => {
    const email = uniqueEmail();
    const res = await registerRaw({ email, username: `u${Date.now()}` });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.json<TokenResponse>();
    expect(body.token_type).toBe("bearer");
    expect(body.expires_in).toBe(900);
    expect(typeof body.access_token).toBe("string");
    expect(typeof body.refresh_token).toBe("string");
    expect(Object.keys(body.user).sort()).toEqual(
      ["created_at", "email", "full_name", "id", "is_active", "is_verified", "last_login_at", "locale", "updated_at", "username"].sort(),
    );
    expect(body.user.is_verified).toBe(false);
    const sessions = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?").bind(body.user.id).first<{ n: number }>();
    expect(sessions?.n).toBe(1);
  });

  it("trims and lower-cases the email; the same address in other casing is 409 email_taken", async () => {
    const email = uniqueEmail("Mixed.Case");
    const res = await registerRaw({ email: `  ${email.toUpperCase()}  ` });
    expect(res.status).toBe(201);
    const body = await res.json<{ user: { email: string } }>();
    expect(body.user.email).toBe(email.toLowerCase());
    await problem(await registerRaw({ email: email.toLowerCase() }), 409, "email_taken");
    await problem(await registerRaw({ email }), 409, "email_taken");
    expect(await countUsers("email = ?", email.toLowerCase())).toBe(1);
  });

  it("A@X.io then a@x.io is 409 email_taken, and login works with any casing", async () => {
    const local = `A${Date.now()}`;
    const first = await registerRaw({ email: `${local}@X.io` });
    expect(first.status).toBe(201);
    await problem(await registerRaw({ email: `${local.toLowerCase()}@x.io` }), 409, "email_taken");
    for (const email of [`${local}@X.io`, `${local.toLowerCase()}@x.io`, `${local.toUpperCase()}@X.IO`]) {
      expect((await login({ email, password: STRONG_PASSWORD })).status, email).toBe(200);
    }
  });

  it("parallel registrations of one address (in different casings) create exactly one account", async () => {
    const email = uniqueEmail("race");
    const variants = [email, email.toUpperCase(), ` ${email} `, email, email.toUpperCase()];
    const statuses = await Promise.all(variants.map(async (e) => (await registerRaw({ email: e })).status));
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(variants.length - 1);
    expect(await countUsers("email = ?", email)).toBe(1);
  });

  it("parallel registrations of one username create exactly one holder", async () => {
    const username = `Racer_${Date.now()}`;
    const names = [username, username.toLowerCase(), username.toUpperCase(), username];
    const statuses = await Promise.all(names.map(async (u) => (await registerRaw({ email: uniqueEmail(), username: u })).status));
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(names.length - 1);
    expect(await countUsers("lower(username) = ?", username.toLowerCase())).toBe(1);
  });

  it("refuses emails over 254 characters and malformed ones", async () => {
    const long = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(60)}.io`;
    expect(long.length).toBeGreaterThan(254);
    const body = await problem(await registerRaw({ email: long }), 422, "validation_failed");
    expect(body.errors).toEqual([expect.objectContaining({ field: "email" })]);
    await problem(await registerRaw({ email: "not-an-email" }), 422, "validation_failed");
    await problem(await registerRaw({ email: "" }), 422, "validation_failed");
  });

  it("accepts a valid username and refuses bad or reserved ones with 422", async () => {
    const ok = `ok_name-${Date.now()}`;
    expect((await registerRaw({ email: uniqueEmail(), username: ok })).status).toBe(201);
    for (const username of [
      "ab",
      "x".repeat(51),
      "has space",
      "dot.name",
      "at@sign",
      "émile",
      "admin",
      "Root",
      "SYSTEM",
      "api",
      "support",
    ]) {
      const body = await problem(await registerRaw({ email: uniqueEmail(), username }), 422, "validation_failed");
      expect(body.errors, username).toEqual([expect.objectContaining({ field: "username" })]);
    }
  });

  it("keeps usernames unique case-insensitively (409 username_taken)", async () => {
    const username = `Casey_${Date.now()}`;
    const first = await register({ username });
    await problem(await registerRaw({ email: uniqueEmail(), username: username.toLowerCase() }), 409, "username_taken");
    await problem(await registerRaw({ email: uniqueEmail(), username: username.toUpperCase() }), 409, "username_taken");
    const res = await login({ username: username.toUpperCase(), password: first.password });
    expect(res.status).toBe(200);
  });

  it("refuses names with markup or control characters and stores nothing", async () => {
    const names = [
      "<script>alert(1)</script>",
      "<img src=x onerror=alert(1)>",
      "Eve\r\nSet-Cookie: session=1",
      "Null\u0000Byte",
      "Tab\tName",
      "Bidi \u202Eevil",
      "a > b",
    ];
    for (const full_name of names) {
      const email = uniqueEmail("inject");
      const body = await problem(await registerRaw({ email, full_name }), 422, "validation_failed");
      expect(body.errors, full_name).toEqual([expect.objectContaining({ field: "full_name" })]);
      expect(await userRow(email), full_name).toBeNull();
    }
    await problem(await registerRaw({ email: uniqueEmail(), full_name: "" }), 422, "validation_failed");
    await problem(await registerRaw({ email: uniqueEmail(), full_name: "   " }), 422, "validation_failed");
    await problem(await registerRaw({ email: uniqueEmail(), full_name: "n".repeat(256) }), 422, "validation_failed");
  });

  it("accepts ordinary names with apostrophes, accents and 255 characters", async () => {
    for (const full_name of ["Seán O'Brien-Smith", "李小龍", "n".repeat(255)]) {
      expect((await registerRaw({ email: uniqueEmail(), full_name })).status, full_name).toBe(201);
    }
  });

  it("sends a verification mail to the dev outbox", async () => {
    const user = await register();
    const [mail] = await outbox(user.email, "email_verification");
    expect(mail).toBeDefined();
    expect(mail?.to).toBe(user.email);
    expect(mail?.token?.length).toBeGreaterThanOrEqual(43);
  });

  it("never answers with a hash", async () => {
    const user = await register();
    expect(JSON.stringify(user.body)).not.toMatch(/pbkdf2|password|hash/i);
  });
});

describe("password policy over HTTP", () => {
  async function weak(password: string, extra: Record<string, unknown> = {}) {
    const email = (extra.email as string | undefined) ?? uniqueEmail();
    const body = await problem(await registerRaw({ email, password, ...extra }), 422, "weak_password");
    expect(body.errors, password).toEqual([{ field: "password", message: expect.any(String) as unknown }]);
    expect(await userRow(email)).toBeNull();
    return body;
  }

  it("refuses short, common and patterned passwords with a reason", async () => {
    await weak("short1!");
    await weak("password123");
    await weak("qwertyuiop");
    await weak("PASSWORD123");
    for (const p of ["aaaaaaaa", "abcdefgh", "12345678", "abcabcabc", "87654321", "abababab"]) await weak(p);
  });

  it("refuses passwords containing the email local part, username or name", async () => {
    await weak("zebrastripes-77", { email: `zebrastripes.${Date.now()}@example.com` });
    await weak("my-handle-is-Quixotic42", { username: `quixotic42` });
    await weak("Winterbottom rocks 9", { full_name: "Ada Winterbottom" });
  });

  it("counts code points: 8 emoji pass, 7 do not; 129 characters are refused", async () => {
    expect((await registerRaw({ email: uniqueEmail(), password: "🦊🐙🌵🚲🎻🧭🪁🫖" })).status).toBe(201);
    await weak("🦊🐙🌵🚲🎻🧭🪁");
    await weak("Xy7!kq2#".repeat(16) + "Z");
  });

  it("keeps the password exactly as sent (no trim)", async () => {
    const password = "   leading spaces matter 31";
    const user = await register({ password });
    expect((await login({ email: user.email, password })).status).toBe(200);
    await problem(await login({ email: user.email, password: password.trim() }), 401, "invalid_credentials");
  });

  it("refuses oversized input before hashing (422, no row, no PBKDF2)", async () => {
    const email = uniqueEmail();
    const spy = vi.spyOn(crypto.subtle, "deriveBits");
    const res = await registerRaw({ email, password: "x".repeat(10_000) });
    await problem(res, 422, "validation_failed");
    const loginRes = await login({ email, password: "Yz9!".repeat(2_500) });
    await problem(loginRes, 422, "validation_failed");
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    expect(await userRow(email)).toBeNull();
  });
});

describe("registration with email verification required", () => {
  const VERIFY = { REQUIRE_EMAIL_VERIFICATION: "true" };

  it("answers 202 {message} with the same body for new and existing emails", async () => {
    const email = uniqueEmail("verify");
    const first = await call("/api/v1/auth/register", {
      env: VERIFY,
      body: { email, password: STRONG_PASSWORD, full_name: "New Person" },
      ip: freshIp(),
    });
    const second = await call("/api/v1/auth/register", {
      env: VERIFY,
      body: { email: email.toUpperCase(), password: "another good passphrase 9", full_name: "Someone Else" },
      ip: freshIp(),
    });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    const a = await first.text();
    expect(a).toBe(await second.text());
    expect(Object.keys(JSON.parse(a) as object)).toEqual(["message"]);
    expect(a).not.toContain("token");
    expect(await countUsers("email = ?", email)).toBe(1);
  });

  it("login before verifying: 401 for a wrong password, 403 email_not_verified only for the right one", async () => {
    const email = uniqueEmail("unverified");
    await call("/api/v1/auth/register", { env: VERIFY, body: { email, password: STRONG_PASSWORD, full_name: "Not Yet" }, ip: freshIp() });
    const wrong = await call("/api/v1/auth/login", { env: VERIFY, body: { email, password: "not the password 1" }, ip: freshIp() });
    await problem(wrong, 401, "invalid_credentials");
    const right = await call("/api/v1/auth/login", { env: VERIFY, body: { email, password: STRONG_PASSWORD }, ip: freshIp() });
    const body = await problem(right, 403, "email_not_verified");
    expect(JSON.stringify(body)).not.toContain("access_token");
    const sessions = await env.DB.prepare("SELECT count(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = ?")
      .bind(email)
      .first<{ n: number }>();
    expect(sessions?.n).toBe(0);
    const { results } = await env.DB.prepare(
      "SELECT a.metadata FROM audit_logs a JOIN users u ON u.id = a.user_id WHERE u.email = ? AND a.action = 'login.failed' ORDER BY a.created_at",
    )
      .bind(email)
      .all<{ metadata: string }>();
    expect(results.map((r) => (JSON.parse(r.metadata) as { reason: string }).reason)).toEqual(["bad_password", "email_not_verified"]);
  });
});

describe("dev outbox", () => {
  it("lists mail for an address newest first", async () => {
    const email = uniqueEmail("outbox");
    await register({ email });
    // A second registration attempt under verification mode mails the owner again.
    await call("/api/v1/auth/register", {
      env: { REQUIRE_EMAIL_VERIFICATION: "true" },
      body: { email, password: STRONG_PASSWORD, full_name: "Again" },
      ip: freshIp(),
    });
    const messages = await outbox(email);
    expect(messages).toHaveLength(2);
    expect(messages[0]!.created_at >= messages[1]!.created_at).toBe(true);
    expect(messages[1]!.kind).toBe("email_verification");
    expect(Object.keys(messages[0]!).sort()).toEqual(["created_at", "kind", "locale", "subject", "text", "to", "token"]);
  });

  it("is an ordinary 404 when DEV_OUTBOX is off", async () => {
    const email = uniqueEmail();
    const res = await call(`/api/v1/dev/outbox?to=${encodeURIComponent(email)}`, { env: { DEV_OUTBOX: "false" } });
    await problem(res, 404, "not_found");
  });
});
