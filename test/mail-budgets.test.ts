import { describe, expect, it, vi } from "vitest";
import { createDeps } from "../src/kernel/deps";
import { prepareOneTimeToken } from "../src/kernel/one-time-tokens";
import { call, captureLogs, env, freshIp, login, outbox, problem, register, uniqueEmail, type Registered } from "./helpers";

/**
 * Mail budgets by who triggers the mail: nobody can silence a mailbox. Any account holder can name
 * any address as their new one; strangers can ask for links; neither may spend the budget of the
 * mail the address's owner asks for, nor of the notices about the owner's account.
 */

const EMAIL = "/api/v1/users/me/email";

function requestChange(user: Registered, newEmail: string, env?: Record<string, string>) {
  return call(EMAIL, {
    body: { new_email: newEmail, password: user.password },
    token: user.accessToken,
    ip: freshIp(),
    ...(env ? { env } : {}),
  });
}

function forgot(email: string, deviceToken?: string) {
  return call("/api/v1/auth/forgot-password", { body: { email, ...(deviceToken ? { device_token: deviceToken } : {}) }, ip: freshIp() });
}

/** Request limits lifted, so the mail budgets alone stand between the attackers and the victim. */
const NO_REQUEST_LIMITS = {
  RATE_LIMITS: JSON.stringify({
    email_change_user_hour: { limit: 1000, window: 3600 },
    email_change_user_day: { limit: 1000, window: 86_400 },
    email_change_address_hour: { limit: 1000, window: 3600 },
    email_change_address_day: { limit: 1000, window: 86_400 },
    email_change_address_5_minutes: { limit: 1000, window: 300 },
  }),
};

const statuses = (responses: Response[]) => responses.map((r) => r.status).sort();

describe("email-change requests", () => {
  it("one account naming the victim 10 times: one request passes, the rest get 429", async () => {
    const attacker = await register();
    const victim = await register();
    const answers: Response[] = [];
    for (let i = 0; i < 10; i++) answers.push(await requestChange(attacker, victim.email));
    expect(answers.map((r) => r.status)).toEqual([202, ...Array<number>(9).fill(429)]);
    await problem(answers[1]!, 429, "rate_limited");
    expect(Number(answers[1]!.headers.get("Retry-After"))).toBeGreaterThan(0);
    // In parallel too (each password check of one session waits for the one before: 423 or 429).
    const parallel = await Promise.all(Array.from({ length: 10 }, () => requestChange(attacker, victim.email)));
    expect(parallel.filter((r) => r.status === 202)).toHaveLength(0);
    expect(await outbox(victim.email, "email_change")).toHaveLength(1);
  });

  it("15 accounts naming the victim at once: one confirmation reaches the address, and at most 3 an hour", async () => {
    const victim = await register();
    const attackers = await Promise.all(Array.from({ length: 15 }, () => register()));
    const answers = await Promise.all(attackers.map((a) => requestChange(a, victim.email)));
    expect(statuses(answers)).toEqual([202, ...Array<number>(14).fill(429)]);
    expect(answers.find((r) => r.status === 429)!.headers.get("RateLimit-Policy")).toContain("email_change_address_5_minutes");

    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    for (const minutes of [6, 12, 18]) {
      vi.setSystemTime(t0 + minutes * 60_000);
      // Fresh sign-ins: the access tokens from registration have expired by the last round.
      const signedIn = await Promise.all(
        attackers.slice(1, 4).map(async (a) => ({
          ...a,
          accessToken: (await (await login({ email: a.email, password: a.password })).json<{ access_token: string }>()).access_token,
        })),
      );
      const again = await Promise.all(signedIn.map((a) => requestChange(a, victim.email)));
      expect(statuses(again)).toEqual(minutes === 18 ? [429, 429, 429] : [202, 429, 429]);
    }
    expect(await outbox(victim.email, "email_change")).toHaveLength(3);
  });

  it("are limited per user: 3 an hour to any addresses", async () => {
    const user = await register();
    for (let i = 0; i < 3; i++) expect((await requestChange(user, uniqueEmail("new"))).status).toBe(202);
    const limited = await requestChange(user, uniqueEmail("new"));
    await problem(limited, 429, "rate_limited");
    expect(limited.headers.get("RateLimit-Policy")).toBe(`"email_change_user_hour";q=3;w=3600, "email_change_user_day";q=10;w=86400`);
  });
});

describe("the victim's mail arrives whatever others cause", () => {
  it("after 10 email-change requests from one account and 15 from 15 accounts (request limits lifted), the reset link still arrives", async () => {
    const victim = await register();
    const device = victim.body.device_token as string;
    const attacker = await register();
    const others = await Promise.all(Array.from({ length: 15 }, () => register()));
    const logs = captureLogs();
    const fromOne: Response[] = [];
    for (let i = 0; i < 10; i++) fromOne.push(await requestChange(attacker, victim.email, NO_REQUEST_LIMITS));
    const fromMany = await Promise.all(others.map((a) => requestChange(a, victim.email, NO_REQUEST_LIMITS)));
    expect(new Set([...fromOne, ...fromMany].map((r) => r.status))).toEqual(new Set([202]));
    // The unsolicited class: 5 an hour per target address, one of them the registration's own link.
    expect(await outbox(victim.email, "email_change")).toHaveLength(4);
    expect(new Set(logs.problems().map((l) => l.policy))).toEqual(new Set(["mail_unsolicited_mailbox_hour", "mail_unsolicited_user_hour"]));

    expect((await forgot(victim.email)).status).toBe(202);
    expect(await outbox(victim.email, "password_reset")).toHaveLength(1);
    expect((await forgot(victim.email, device)).status).toBe(202);
    expect(await outbox(victim.email, "password_reset")).toHaveLength(2);
  });

  it("one account alone spends at most its own share (5 an hour) of what it can send anywhere", async () => {
    const attacker = await register();
    const targets = Array.from({ length: 7 }, () => uniqueEmail("target"));
    for (const target of targets) expect((await requestChange(attacker, target, NO_REQUEST_LIMITS)).status).toBe(202);
    const delivered = await Promise.all(targets.map((t) => outbox(t, "email_change")));
    expect(delivered.filter((m) => m.length === 1)).toHaveLength(5);
  });

  it("a phisher who silenced the mailbox still cannot move the account without the revert link reaching the old address", async () => {
    const victim = await register();
    const phisher = uniqueEmail("phisher");
    const others = await Promise.all(Array.from({ length: 15 }, () => register()));
    // Silence attempt: the unsolicited class and strangers' links are spent.
    await Promise.all(others.map((a) => requestChange(a, victim.email, NO_REQUEST_LIMITS)));
    for (let i = 0; i < 3; i++) await forgot(victim.email);

    // With the phished password: a new sign-in, then the change to the phisher's own address.
    const signedIn = await (await login({ email: victim.email, password: victim.password })).json<{ access_token: string }>();
    const asPhisher = { ...victim, accessToken: signedIn.access_token };
    expect((await requestChange(asPhisher, phisher)).status).toBe(202);
    const [confirmation] = await outbox(phisher, "email_change");
    expect((await call(`/api/v1/auth/verify-email?token=${confirmation!.token}`, { ip: freshIp() })).status).toBe(200);

    const notices = await outbox(victim.email, "security_notice");
    const subjects = notices.map((n) => n.subject);
    expect(subjects).toContain("A change of your email address was requested");
    const revert = notices.find((n) => n.subject === "Your email address was changed");
    expect(revert?.token).toEqual(expect.any(String));
    // And the revert link works: the owner has the account back.
    expect((await call("/api/v1/auth/revert-email-change", { body: { token: revert!.token }, ip: freshIp() })).status).toBe(200);
    const row = await env.DB.prepare("SELECT email FROM users WHERE id = ?").bind(victim.userId).first<{ email: string }>();
    expect(row?.email).toBe(victim.email);
  });
});

describe("fail closed where a mail is the safety net", () => {
  /** The old address's own class spent: the revert mail cannot be admitted. */
  const NO_NOTICES = { RATE_LIMITS: JSON.stringify({ mail_account_mailbox_hour: { limit: 1, window: 3600 } }) };

  it("an email change completes only if the revert mail to the old address was admitted", async () => {
    const user = await register();
    const target = uniqueEmail("moved");
    // The request's own notice to the old address spends the single unit.
    expect((await requestChange(user, target, NO_NOTICES)).status).toBe(202);
    const [mail] = await outbox(target, "email_change");
    const confirm = () => call(`/api/v1/auth/verify-email?token=${mail!.token}`, { ip: freshIp(), env: NO_NOTICES });
    const refused = await Promise.all([confirm(), confirm()]);
    for (const res of refused) await problem(res, 429, "rate_limited");
    const row = await env.DB.prepare("SELECT email FROM users WHERE id = ?").bind(user.userId).first<{ email: string }>();
    expect(row?.email).toBe(user.email);
    // The link stays usable: with room in the budget the change completes and the revert mail arrives.
    expect((await call(`/api/v1/auth/verify-email?token=${mail!.token}`, { ip: freshIp() })).status).toBe(200);
    expect((await outbox(user.email, "security_notice")).map((n) => n.subject)).toContain("Your email address was changed");
  });

  it("an email change completes only if the revert mail was handed to the transport", async () => {
    const user = await register();
    const target = uniqueEmail("moved");
    expect((await requestChange(user, target)).status).toBe(202);
    const [mail] = await outbox(target, "email_change");
    // The HTTP transport, whose API answers 503 to the attempt and its retry.
    const broken = { DEV_OUTBOX: "false", MAIL_TRANSPORT: "http", MAIL_API_URL: "https://mail.example/v1/emails", MAIL_API_KEY: "re_x" };
    vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("{}", { status: 503 }));
    const logs = captureLogs();
    const res = await call(`/api/v1/auth/verify-email?token=${mail!.token}`, { ip: freshIp(), env: broken });
    await problem(res, 503, "service_unavailable");
    expect(logs.problems()).toContainEqual(expect.objectContaining({ event: "mail.failed", kind: "security_notice" }));
    const row = await env.DB.prepare("SELECT email FROM users WHERE id = ?").bind(user.userId).first<{ email: string }>();
    expect(row?.email).toBe(user.email);
    vi.restoreAllMocks();
    expect((await call(`/api/v1/auth/verify-email?token=${mail!.token}`, { ip: freshIp() })).status).toBe(200);
  });

  it("a revert link whose change never committed is dead", async () => {
    const user = await register();
    const deps = createDeps(env, { meta: { ip: null, userAgent: null, requestId: "test" }, waitUntil: () => undefined });
    const { token } = await prepareOneTimeToken(deps, "email_revert", {
      userId: user.userId,
      email: user.email,
      newEmail: uniqueEmail("x"),
    });
    await problem(await call("/api/v1/auth/revert-email-change", { body: { token }, ip: freshIp() }), 400, "invalid_token");
  });

  it("a reset link is issued only once its mail was admitted: a dropped one voids nothing", async () => {
    const user = await register();
    const device = user.body.device_token as string;
    const oneDeviceMail = { RATE_LIMITS: JSON.stringify({ mail_device_mailbox_hour: { limit: 1, window: 3600 } }) };
    const ask = () =>
      call("/api/v1/auth/forgot-password", { body: { email: user.email, device_token: device }, ip: freshIp(), env: oneDeviceMail });
    expect((await ask()).status).toBe(202);
    const [first] = await outbox(user.email, "password_reset");
    expect((await ask()).status).toBe(202);
    expect(await outbox(user.email, "password_reset")).toHaveLength(1);
    // The first link still works: the dropped request issued no newer token.
    const reset = await call("/api/v1/auth/reset-password", {
      body: { token: first!.token, new_password: "a brand new passphrase 7" },
      ip: freshIp(),
    });
    expect(reset.status).toBe(200);
  });

  it("a verification link is issued only once its mail was admitted", async () => {
    const user = await register();
    const oneStrangerMail = { RATE_LIMITS: JSON.stringify({ mail_stranger_mailbox_hour: { limit: 1, window: 3600 } }) };
    const resend = () => call("/api/v1/auth/resend-verification", { body: { email: user.email }, ip: freshIp(), env: oneStrangerMail });
    expect((await resend()).status).toBe(202);
    const [newest] = await outbox(user.email, "email_verification");
    expect((await resend()).status).toBe(202);
    expect(await outbox(user.email, "email_verification")).toHaveLength(2);
    const verify = await call("/api/v1/auth/verify-email", { body: { token: newest!.token, password: user.password }, ip: freshIp() });
    expect(verify.status).toBe(200);
  });
});
