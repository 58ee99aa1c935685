import { afterEach, describe, expect, it, vi } from "vitest";
import { runScheduledMaintenance } from "../src/maintenance/scheduled";
import { call, captureLogs, env, freshIp, login, outbox, problem, register, STRONG_PASSWORD, uniqueEmail, userRow } from "./helpers";

/**
 * No credential or password outlives proof of the mailbox. Each block replays one attack sequence
 * over HTTP.
 */

const KEYS = "/api/v1/users/me/api-keys";
const ME = "/api/v1/users/me";
const OWNER_PASSWORD = "the owner's own passphrase 7";
const ATTACKER_PASSWORD = "attacker planted passphrase 9";
const VERIFY = { REQUIRE_EMAIL_VERIFICATION: "true" } as const;

interface Tokens {
  access_token: string;
  refresh_token: string;
}

async function createKey(accessToken: string, body: Record<string, unknown> = {}): Promise<Response> {
  return call(KEYS, { token: accessToken, body: { name: "script", ...body } });
}

async function apiKey(accessToken: string, name = "script"): Promise<string> {
  const res = await createKey(accessToken, { name });
  expect(res.status).toBe(201);
  return (await res.json<{ api_key: string }>()).api_key;
}

async function resetTo(email: string, newPassword: string): Promise<void> {
  await call("/api/v1/auth/forgot-password", { body: { email }, ip: freshIp() });
  const [mail] = await outbox(email, "password_reset");
  const res = await call("/api/v1/auth/reset-password", { body: { token: mail!.token, new_password: newPassword }, ip: freshIp() });
  expect(res.status).toBe(200);
}

async function tokensOf(res: Response): Promise<Tokens> {
  expect(res.status).toBe(200);
  return res.json<Tokens>();
}

afterEach(() => vi.useRealTimers());

/** The test D1, except that every batch is lost on the way (as if the network dropped it). */
function d1WithLostBatches(): D1Database {
  const lossy: D1Database = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "batch") return () => Promise.reject(new Error("Network connection lost."));
      // Its Sessions API sessions lose batches too.
      if (prop === "withSession") return () => lossy;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return lossy;
}

describe("credentials minted before a recovery do not survive it", () => {
  it("a squatter's API key dies when the owner resets the password; the notice names it", async () => {
    const squatter = await register();
    const key = await apiKey(squatter.accessToken, "squatter bot");
    expect((await call(ME, { token: key })).status).toBe(200);

    await resetTo(squatter.email, OWNER_PASSWORD);
    await problem(await call(ME, { token: key }), 401, "token_revoked");
    await problem(await call("/api/v1/users/me/security-events", { token: key }), 401, "token_revoked");
    await problem(await call(ME, { method: "PUT", token: key, body: { full_name: "Renamed" } }), 401, "token_revoked");
    const notice = (await outbox(squatter.email, "security_notice")).find((m) => m.subject === "Your password was reset");
    expect(notice?.text).toContain("API key “\u2068squatter bot\u2069”");
  });

  it("a password change revokes every key but those created by the session that changes it", async () => {
    const user = await register();
    const mine = await apiKey(user.accessToken, "mine");
    const other = await tokensOf(await login({ email: user.email, password: user.password }));
    const theirs = await apiKey(other.access_token, "theirs");

    const res = await call(`${ME}/password`, {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: user.password, new_password: OWNER_PASSWORD },
    });
    expect(res.status).toBe(204);
    expect((await call(ME, { token: mine })).status).toBe(200);
    await problem(await call(ME, { token: theirs }), 401, "token_revoked");
    await problem(await call(ME, { token: other.access_token }), 401, "token_revoked");
    expect((await call(ME, { token: user.accessToken })).status).toBe(200);
    const notice = (await outbox(user.email, "security_notice")).find((m) => m.subject === "Your password was changed");
    expect(notice?.text).toContain("API key “\u2068theirs\u2069”");
    expect(notice?.text).not.toContain("\u2068mine\u2069");
  });

  it("creating a key needs a fresh sign-in or step-up, whatever the body carries, and mails the owner", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    vi.setSystemTime(start);
    const user = await register();
    vi.setSystemTime(start + 5 * 60_000 + 1_000);
    await problem(await createKey(user.accessToken), 403, "reauthentication_required");
    await problem(await createKey(user.accessToken, { current_password: user.password }), 403, "reauthentication_required");
    const up = await call("/api/v1/auth/step-up", { token: user.accessToken, body: { method: "password", password: user.password } });
    expect(up.status).toBe(200);
    const fresh = (await up.json<{ access_token: string }>()).access_token;
    // A wrong password sent along is still a wrong password.
    await problem(await createKey(fresh, { current_password: "not the password" }), 400, "invalid_current_password");
    expect((await createKey(fresh)).status).toBe(201);
    // The step-up's window is 5 minutes, and the older token never became fresh.
    await problem(await createKey(user.accessToken), 403, "reauthentication_required");
    vi.setSystemTime(start + 10 * 60_000 + 2_000);
    await problem(await createKey(fresh), 403, "reauthentication_required");
    expect((await outbox(user.email, "security_notice")).some((m) => m.subject === "An API key was created")).toBe(true);
  });

  it("keys expire after 90 days by default, never beyond the maximum, and 'never' only where configured", async () => {
    const user = await register();
    const created = await (await createKey(user.accessToken)).json<{ created_at: string; expires_at: string }>();
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(90 * 86_400_000);
    await problem(await createKey(user.accessToken, { expires_in_days: null }), 422, "validation_failed");
    await problem(await createKey(user.accessToken, { expires_in_days: 366 }), 422, "validation_failed");
    const forever = await call(KEYS, {
      token: user.accessToken,
      body: { name: "forever", expires_in_days: null },
      env: { API_KEY_ALLOW_NO_EXPIRY: "true" },
    });
    expect(forever.status).toBe(201);
    expect((await forever.json<{ expires_at: string | null }>()).expires_at).toBeNull();
  });

  it("an unverified account cannot create keys while verification is required", async () => {
    const user = await register();
    await problem(await call(KEYS, { token: user.accessToken, body: { name: "x" }, env: VERIFY }), 403, "email_not_verified");
  });
});

describe("a password nobody proved never becomes active through the owner's click", () => {
  it("verification required: the attacker's planted password does not survive the owner's confirmation", async () => {
    const email = uniqueEmail("victim");
    const attempt = (password: string) =>
      call("/api/v1/auth/register", { body: { email, password, full_name: "Someone" }, ip: freshIp(), env: VERIFY });
    expect((await attempt(ATTACKER_PASSWORD)).status).toBe(202);
    expect((await attempt(OWNER_PASSWORD)).status).toBe(202);
    await call("/api/v1/auth/resend-verification", { body: { email }, ip: freshIp(), env: VERIFY });
    const [newest] = await outbox(email, "email_verification");

    // The click alone, and the owner's own password, do not verify the attacker's account.
    await problem(await call(`/api/v1/auth/verify-email?token=${newest!.token}`, { ip: freshIp(), env: VERIFY }), 400, "password_required");
    const wrong = call("/api/v1/auth/verify-email", {
      body: { token: newest!.token, password: OWNER_PASSWORD },
      ip: freshIp(),
      env: VERIFY,
    });
    await problem(await wrong, 401, "invalid_credentials");
    expect((await userRow(email))?.email_verified).toBe(0);

    // Setting a new password while confirming makes the mailbox owner the account's owner.
    const res = await call("/api/v1/auth/verify-email", {
      body: { token: newest!.token, new_password: OWNER_PASSWORD },
      ip: freshIp(),
      env: VERIFY,
    });
    expect(res.status).toBe(200);
    await problem(
      await call("/api/v1/auth/login", { body: { email, password: ATTACKER_PASSWORD }, ip: freshIp(), env: VERIFY }),
      401,
      "invalid_credentials",
    );
    expect((await call("/api/v1/auth/login", { body: { email, password: OWNER_PASSWORD }, ip: freshIp(), env: VERIFY })).status).toBe(200);
  });

  it("verification off: the squatter's account is never marked verified by the owner's click, and a new password evicts the squatter", async () => {
    const squatter = await register({ password: ATTACKER_PASSWORD });
    const key = await apiKey(squatter.accessToken);
    const [link] = await outbox(squatter.email, "email_verification");
    await problem(await call(`/api/v1/auth/verify-email?token=${link!.token}`, { ip: freshIp() }), 400, "password_required");
    await problem(await call("/api/v1/auth/verify-email", { body: { token: link!.token }, ip: freshIp() }), 400, "password_required");
    expect((await (await call(ME, { token: squatter.accessToken })).json<{ is_verified: boolean }>()).is_verified).toBe(false);

    const res = await call("/api/v1/auth/verify-email", { body: { token: link!.token, new_password: OWNER_PASSWORD }, ip: freshIp() });
    expect(res.status).toBe(200);
    await problem(await call(ME, { token: squatter.accessToken }), 401, "token_revoked");
    await problem(await call(ME, { token: key }), 401, "token_revoked");
    await problem(
      await call("/api/v1/auth/refresh", { body: { refresh_token: squatter.refreshToken }, ip: freshIp() }),
      401,
      "invalid_token",
    );
    const owner = await tokensOf(await login({ email: squatter.email, password: OWNER_PASSWORD }));
    expect((await (await call(ME, { token: owner.access_token })).json<{ is_verified: boolean }>()).is_verified).toBe(true);
  });

  it("the account's own session, or its password, proves it; the owner stays signed in", async () => {
    const user = await register();
    const [link] = await outbox(user.email, "email_verification");
    const res = await call("/api/v1/auth/verify-email", { body: { token: link!.token }, token: user.accessToken, ip: freshIp() });
    expect(res.status).toBe(200);
    expect((await (await call(ME, { token: user.accessToken })).json<{ is_verified: boolean }>()).is_verified).toBe(true);

    // Another account's session proves nothing about this one.
    const other = await register();
    const stranger = await register();
    const [otherLink] = await outbox(other.email, "email_verification");
    const body = { token: otherLink!.token };
    await problem(await call("/api/v1/auth/verify-email", { body, token: stranger.accessToken, ip: freshIp() }), 400, "password_required");
  });

  it("with verification required, an address left unverified for 7 days is free again", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    vi.setSystemTime(start);
    const email = uniqueEmail("squat");
    const attempt = (password: string) =>
      call("/api/v1/auth/register", { body: { email, password, full_name: "Someone" }, ip: freshIp(), env: VERIFY });
    expect((await attempt(ATTACKER_PASSWORD)).status).toBe(202);
    const squatterId = (await userRow(email))?.id as string;

    vi.setSystemTime(start + 7 * 86_400_000 + 60_000);
    expect((await attempt(OWNER_PASSWORD)).status).toBe(202);
    const fresh = await userRow(email);
    expect(fresh?.id).not.toBe(squatterId);
    const old = await env.DB.prepare("SELECT email, password_hash, deleted_at FROM users WHERE id = ?").bind(squatterId).first();
    expect(old).toMatchObject({ email: `deleted+${squatterId}@invalid`, password_hash: "!erased" });
    expect(old?.deleted_at).not.toBeNull();
  });
});

describe("one credentials epoch", () => {
  it("a login that checked the old password while a reset ran never yields a live session", async () => {
    const user = await register();
    await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
    const [mail] = await outbox(user.email, "password_reset");
    const logins = Array.from({ length: 4 }, () => login({ email: user.email, password: user.password }));
    const reset = call("/api/v1/auth/reset-password", { body: { token: mail!.token, new_password: OWNER_PASSWORD }, ip: freshIp() });
    const [resetRes, ...loginRes] = await Promise.all([reset, ...logins]);
    expect(resetRes.status).toBe(200);
    for (const res of loginRes.filter((r) => r.status === 200)) {
      const tokens = await res.json<Tokens>();
      await problem(await call(ME, { token: tokens.access_token }), 401, "token_revoked");
      await problem(
        await call("/api/v1/auth/refresh", { body: { refresh_token: tokens.refresh_token }, ip: freshIp() }),
        401,
        "invalid_token",
      );
    }
  });

  it("a session from before the epoch stays dead even if its own row was never revoked", async () => {
    const user = await register();
    const other = await tokensOf(await login({ email: user.email, password: user.password }));
    const res = await call("/api/v1/auth/logout?scope=all", { method: "POST", token: user.accessToken });
    expect(res.status).toBe(204);
    // As if a racing login had inserted this session after the revocation ran.
    await env.DB.prepare("UPDATE sessions SET revoked_at = NULL, revoked_reason = NULL WHERE user_id = ?").bind(user.userId).run();
    await problem(await call(ME, { token: other.access_token }), 401, "token_revoked");
    await problem(
      await call("/api/v1/auth/refresh", { body: { refresh_token: other.refresh_token }, ip: freshIp() }),
      401,
      "invalid_token",
    );
  });

  it("a password change is one D1 batch: when it fails, nothing changes", async () => {
    const user = await register();
    const key = await apiKey(user.accessToken);
    const logs = captureLogs();
    const res = await call(`${ME}/password`, {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: user.password, new_password: OWNER_PASSWORD },
      env: { DB: d1WithLostBatches() },
    });
    await problem(res, 503, "service_unavailable");
    expect(logs.problems().map((l) => l.event)).toEqual(["dependency.unavailable"]);
    vi.restoreAllMocks();
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
    expect((await call(ME, { token: key })).status).toBe(200);
  });
});

describe("email change and its revert link", () => {
  async function changeEmail(user: { accessToken: string; email: string; password: string }) {
    const newEmail = uniqueEmail("moved");
    const res = await call(`${ME}/email`, { token: user.accessToken, body: { new_email: newEmail, password: user.password } });
    expect(res.status).toBe(202);
    const [link] = await outbox(newEmail, "email_change");
    expect((await call("/api/v1/auth/verify-email", { body: { token: link!.token }, ip: freshIp() })).status).toBe(200);
    return newEmail;
  }

  it("a confirmed change keeps the requesting session and ends the others", async () => {
    const user = await register();
    const other = await tokensOf(await login({ email: user.email, password: user.password }));
    await changeEmail(user);
    expect((await call(ME, { token: user.accessToken })).status).toBe(200);
    await problem(await call(ME, { token: other.access_token }), 401, "token_revoked");
  });

  it("the old address can undo it for 7 days: address restored, everything revoked, password disabled, reset link mailed", async () => {
    const owner = await register();
    const key = await apiKey(owner.accessToken);
    const thief = await tokensOf(await login({ email: owner.email, password: owner.password }));
    const newEmail = await changeEmail({ ...owner, accessToken: thief.access_token });
    const revert = (await outbox(owner.email, "security_notice")).find((m) => m.subject === "Your email address was changed");
    expect(revert?.text).toContain(newEmail);
    expect(revert?.text).toContain("https://auth.example.com/revert-email-change?token=");

    const res = await call("/api/v1/auth/revert-email-change", { body: { token: revert!.token }, ip: freshIp() });
    expect(res.status).toBe(200);
    expect((await userRow(owner.email))?.id).toBe(owner.userId);
    await problem(await call(ME, { token: thief.access_token }), 401, "token_revoked");
    await problem(await call(ME, { token: key }), 401, "token_revoked");
    // The password the thief knew no longer works, not even for the restored address.
    await problem(await login({ email: owner.email, password: owner.password }), 401, "invalid_credentials");
    await problem(await login({ email: newEmail, password: owner.password }), 401, "invalid_credentials");
    const [reset] = await outbox(owner.email, "password_reset");
    const done = await call("/api/v1/auth/reset-password", { body: { token: reset!.token, new_password: OWNER_PASSWORD }, ip: freshIp() });
    expect(done.status).toBe(200);
    expect((await login({ email: owner.email, password: OWNER_PASSWORD })).status).toBe(200);
    // Single use.
    await problem(await call("/api/v1/auth/revert-email-change", { body: { token: revert!.token }, ip: freshIp() }), 400, "invalid_token");
  });

  it("expires after 7 days", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    vi.setSystemTime(start);
    const owner = await register();
    await changeEmail(owner);
    const revert = (await outbox(owner.email, "security_notice")).find((m) => m.subject === "Your email address was changed");
    vi.setSystemTime(start + 7 * 86_400_000 + 60_000);
    await problem(await call("/api/v1/auth/revert-email-change", { body: { token: revert!.token }, ip: freshIp() }), 400, "invalid_token");
  });
});

describe("mailed links die with the credentials they could change", () => {
  it("a password change voids outstanding reset links", async () => {
    const user = await register();
    await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
    const [mail] = await outbox(user.email, "password_reset");
    const body = { current_password: user.password, new_password: OWNER_PASSWORD };
    expect((await call(`${ME}/password`, { method: "PATCH", token: user.accessToken, body })).status).toBe(204);
    const res = await call("/api/v1/auth/reset-password", {
      body: { token: mail!.token, new_password: "yet another passphrase 5" },
      ip: freshIp(),
    });
    await problem(res, 400, "invalid_token");
  });

  it("a reset voids every other mailed link (verification, email change)", async () => {
    const user = await register();
    const [verify] = await outbox(user.email, "email_verification");
    const newEmail = uniqueEmail("pending");
    await call(`${ME}/email`, { token: user.accessToken, body: { new_email: newEmail, password: user.password } });
    const [change] = await outbox(newEmail, "email_change");
    await resetTo(user.email, OWNER_PASSWORD);
    await problem(await call("/api/v1/auth/verify-email", { body: { token: change!.token }, ip: freshIp() }), 400, "invalid_token");
    const body = { token: verify!.token, password: OWNER_PASSWORD };
    await problem(await call("/api/v1/auth/verify-email", { body, ip: freshIp() }), 400, "invalid_token");
  });
});

describe("account deletion erases personal data", () => {
  it("at once by default: a tombstone keeps only the id, and the address can register again", async () => {
    const user = await register({ username: `gone_${Date.now().toString(36)}` });
    const res = await call(ME, { method: "DELETE", token: user.accessToken, body: { password: user.password } });
    expect(res.status).toBe(204);
    const row = await env.DB.prepare("SELECT email, username, full_name, password_hash, erased_at FROM users WHERE id = ?")
      .bind(user.userId)
      .first();
    expect(row).toMatchObject({ email: `deleted+${user.userId}@invalid`, username: null, full_name: "", password_hash: "!erased" });
    expect(row?.erased_at).not.toBeNull();
    expect(
      (await call("/api/v1/auth/register", { body: { email: user.email, password: STRONG_PASSWORD, full_name: "New" }, ip: freshIp() }))
        .status,
    ).toBe(201);
  });

  it("after ACCOUNT_ERASURE_GRACE_DAYS, by the daily clean-up", async () => {
    const grace = { ACCOUNT_ERASURE_GRACE_DAYS: "3" };
    const user = await register();
    const res = await call(ME, { method: "DELETE", token: user.accessToken, body: { password: user.password }, env: grace });
    expect(res.status).toBe(204);
    const kept = await env.DB.prepare("SELECT full_name, erased_at FROM users WHERE id = ?").bind(user.userId).first();
    expect(kept).toMatchObject({ full_name: "Test User", erased_at: null });
    await runScheduledMaintenance({ ...env, ...grace }, new Date(Date.now() + 2 * 86_400_000));
    expect((await env.DB.prepare("SELECT erased_at FROM users WHERE id = ?").bind(user.userId).first())?.erased_at).toBeNull();
    await runScheduledMaintenance({ ...env, ...grace }, new Date(Date.now() + 3 * 86_400_000 + 60_000));
    const erased = await env.DB.prepare("SELECT full_name, password_hash FROM users WHERE id = ?").bind(user.userId).first();
    expect(erased).toEqual({ full_name: "", password_hash: "!erased" });
  });
});
