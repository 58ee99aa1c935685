import { describe, expect, it, vi } from "vitest";
import { auditRows, call, outbox, register, superuser, type Registered } from "./helpers";
import { Browser, fieldError, textOf, codesOf, secretOf } from "./pages-browser";
import { currentStep, totpCode } from "../scripts/totp.mjs";

/**
 * Two-step verification on the hosted pages: setting up an authenticator app on /account (QR code,
 * key, recovery codes shown once), the second step of /login, and the inline proof that sensitive
 * forms ask for once the page session is older than 5 minutes.
 */

const MINUTE = 60_000;

async function signedIn(user?: Registered) {
  const account = user ?? (await register());
  const browser = new Browser();
  const res = await browser.submit(await browser.open("/login"), "/login", { identifier: account.email, password: account.password });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/account");
  return { user: account, browser };
}

/** Sets up the authenticator app from /account; the confirming code used the current step. */
async function enableTotp(browser: Browser) {
  const start = await browser.submit(await browser.open("/account"), "/account/mfa/totp");
  expect(start.status).toBe(303);
  expect(start.headers.get("location")).toBe("/account?notice=totp_started#security");
  const page = await browser.open("/account?notice=totp_started");
  const secret = secretOf(page);
  const res = await browser.submit(page, "/account/mfa/totp/confirm", { code: totpCode(secret) });
  const html = await res.text();
  expect(res.status, textOf(html).slice(0, 500)).toBe(200);
  const codes = codesOf(html);
  expect(codes).toHaveLength(10);
  return { secret, codes, html, res };
}

/** The password step of /login for an account with a second factor: on to /login/verify, nothing signed in. */
async function passwordStep(user: Registered, returnTo?: string) {
  const browser = new Browser();
  const page = await browser.open(returnTo ? `/login?return_to=${encodeURIComponent(returnTo)}` : "/login");
  const res = await browser.submit(page, "/login", { identifier: user.email, password: user.password });
  expect(res.status).toBe(303);
  expect(browser.jar.has("__Host-gh_rt")).toBe(false);
  return { browser, res };
}

/** A code that is not the app's now (nor of the steps beside it). */
function wrongCode(secret: string): string {
  const near = [-1, 0, 1].map((d) => totpCode(secret, currentStep() + d));
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, "0");
    if (!near.includes(code)) return code;
  }
}

describe("setting up an authenticator app on /account", () => {
  it("shows the QR code and key, turns on with a code, shows 10 recovery codes once, and mails a notice", async () => {
    const { user, browser } = await signedIn();
    let page = await browser.open("/account");
    const section = textOf(page.slice(page.indexOf('<section id="security"')));
    expect(section).toContain("Two-step verification is off.");
    expect(page).toContain('<a href="#security">Two-step verification</a>');
    // Fresh from its sign-in: no proof asked for.
    expect(page).not.toContain('id="mfa_start-current_password"');

    const start = await browser.submit(page, "/account/mfa/totp");
    expect(start.headers.get("location")).toBe("/account?notice=totp_started#security");
    page = await browser.open("/account?notice=totp_started");
    expect(textOf(page)).toContain("Now scan the QR code with your authenticator app");
    expect(page).toMatch(/<div class="qr" role="img" aria-label="QR code that adds this account to an authenticator app"><svg /);
    const secret = secretOf(page);
    expect(secret).toHaveLength(32);
    expect(page).toMatch(/<input id="mfa_confirm-code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"/);

    let res = await browser.submit(page, "/account/mfa/totp/confirm", { code: wrongCode(secret) });
    expect(res.status).toBe(401);
    let html = await res.text();
    expect(fieldError(html, "mfa_confirm-code")).toBe("This code is wrong, has expired or was already used.");
    // Still pending: the same key again.
    expect(secretOf(html)).toBe(secret);
    res = await browser.submit(page, "/account/mfa/totp/confirm", { code: "" });
    expect(res.status).toBe(422);
    expect(fieldError(await res.text(), "mfa_confirm-code")).toBe("Enter the 6-digit code your authenticator app shows.");

    res = await browser.submit(page, "/account/mfa/totp/confirm", { code: totpCode(secret) });
    expect(res.status).toBe(200);
    html = await res.text();
    expect(textOf(html)).toContain("Two-step verification is on. Save your recovery codes now.");
    const codes = codesOf(html);
    expect(new Set(codes).size).toBe(10);
    // The download needs no script: the codes are in the link itself.
    const href = /<a href="(data:text\/plain;charset=utf-8,[^"]+)" download="recovery-codes.txt">Download the codes<\/a>/.exec(html)?.[1];
    const file = decodeURIComponent(href!.slice("data:text/plain;charset=utf-8,".length));
    for (const code of codes) expect(file).toContain(`\n${code}`);
    expect(file).toContain(user.email);
    // The copy button is the one script of the pages, allowed by this answer's nonce alone.
    const csp = res.headers.get("content-security-policy")!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(html).toMatch(/<button type="button" class="secondary" hidden="" data-copy="recovery-codes-list"/);

    // Shown once: never again, the count instead.
    page = await browser.open("/account");
    for (const code of codes) expect(page).not.toContain(code);
    expect(page).not.toContain(secret);
    expect(page).not.toContain("<script");
    const after = await browser.get("/account");
    expect(after.headers.get("content-security-policy")).not.toContain("script-src");
    const text = textOf(page);
    expect(text).toMatch(/Two-step verification is on: authenticator app since/);
    expect(text).toContain("10 recovery codes left.");
    expect(text).toContain("Two-step verification turned on"); // the security log
    // Confirming proved no second factor: this session needs a code for the next sensitive form.
    expect(page).toContain('id="recovery_codes-proof_code"');
    expect(page).toContain('id="mfa_disable-proof_code"');
    expect(page).toContain('id="email-proof_code"');

    const mail = (await outbox(user.email, "security_notice")).find((m) => m.subject === "Two-step verification was turned on");
    expect(mail?.text).toContain("/revert-sign-in?token=");
  });

  it("refuses a second set-up while one is on, saying why", async () => {
    const { browser } = await signedIn();
    const before = await browser.open("/account");
    const { secret } = await enableTotp(browser);
    const res = await browser.submit(before, "/account/mfa/totp", { proof_code: totpCode(secret, currentStep() + 1) });
    expect(res.status).toBe(409);
    expect(textOf(await res.text())).toContain("An authenticator app is already set up for this account.");
  });
});

describe("the second step of /login", () => {
  it("keeps the token in a 5-minute HttpOnly cookie, signs in with the app's code, and answers a wrong code beside the field", async () => {
    const { user, browser: owner } = await signedIn();
    const { secret } = await enableTotp(owner);

    const { browser, res } = await passwordStep(user);
    expect(res.headers.get("location")).toBe("/login/verify");
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-gh_mfa="))!;
    for (const attribute of ["Max-Age=300", "Path=/", "HttpOnly", "Secure", "SameSite=Strict"]) expect(cookie).toContain(attribute);
    const token = browser.jar.get("__Host-gh_mfa")!;
    expect(token.length).toBeGreaterThan(20);

    const page = await browser.open("/login/verify");
    expect(page).not.toContain(token);
    expect(textOf(page)).toContain("Two-step verification");
    expect(page).toMatch(/<input id="login_verify-code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"/);
    expect(page).toContain('href="/login/verify?method=recovery_code"');

    let answer = await browser.submit(page, "/login/verify", { code: wrongCode(secret) });
    expect(answer.status).toBe(401);
    const failed = await answer.text();
    expect(fieldError(failed, "login_verify-code")).toBe("This code is wrong, has expired or was already used.");
    expect(failed).toContain('role="alert"');
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);

    // The confirming code's step is used up: the app's next code.
    answer = await browser.submit(failed, "/login/verify", { code: totpCode(secret, currentStep() + 1) });
    expect(answer.status).toBe(303);
    expect(answer.headers.get("location")).toBe("/account");
    expect(browser.jar.has("__Host-gh_mfa")).toBe(false);
    expect(browser.jar.has("__Host-gh_rt")).toBe(true);
    expect((await browser.get("/account")).status).toBe(200);

    // The token died with its success: sent again, it starts the sign-in over.
    const replay = new Browser();
    replay.jar.set("__Host-gh_mfa", token);
    replay.jar.set("__Host-gh_csrf", browser.jar.get("__Host-gh_csrf")!);
    const again = await replay.submit(failed, "/login/verify", { code: totpCode(secret, currentStep() + 1) });
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe("/login?notice=second_step_expired");
    expect(replay.jar.has("__Host-gh_rt")).toBe(false);
  });

  it("takes a recovery code instead, once", async () => {
    const { user, browser: owner } = await signedIn();
    const { codes } = await enableTotp(owner);

    const first = await passwordStep(user);
    const page = await first.browser.open("/login/verify?method=recovery_code");
    expect(textOf(page)).toContain("enter one of the recovery codes you saved");
    expect(page).toMatch(/<label for="login_verify-code">Recovery code<\/label>/);
    expect(page).not.toContain('inputmode="numeric"');
    expect(page).toContain('href="/login/verify"');
    const res = await first.browser.submit(page, "/login/verify", { code: codes[0]!.toUpperCase() });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account");
    expect(textOf(await first.browser.open("/account"))).toContain("9 recovery codes left.");

    const second = await passwordStep(user);
    const again = await second.browser.open("/login/verify?method=recovery_code");
    const used = await second.browser.submit(again, "/login/verify", { code: codes[0]! });
    expect(used.status).toBe(401);
    expect(fieldError(await used.text(), "login_verify-code")).toBe("This code is wrong, has expired or was already used.");
    const other = await second.browser.submit(again, "/login/verify", { code: codes[1]! });
    expect(other.headers.get("location")).toBe("/account");
    expect((await outbox(user.email, "security_notice")).filter((m) => m.subject === "A recovery code was used")).toHaveLength(2);
  });

  it("goes back to /login to start again once the token expired or is missing, keeping return_to", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const { user, browser: owner } = await signedIn();
    const { secret } = await enableTotp(owner);
    const returnTo = "https://app.example.com/after";
    const { browser, res } = await passwordStep(user, returnTo);
    const verify = `/login/verify?return_to=${encodeURIComponent(returnTo)}`;
    expect(res.headers.get("location")).toBe(verify);
    const page = await browser.open(verify);
    expect(page).toContain(`name="return_to" value="${returnTo}"`);

    vi.setSystemTime(Date.now() + 6 * MINUTE);
    const late = await browser.submit(page, "/login/verify", { code: totpCode(secret) });
    expect(late.status).toBe(303);
    const back = `/login?notice=second_step_expired&return_to=${encodeURIComponent(returnTo)}`;
    expect(late.headers.get("location")).toBe(back);
    expect(browser.jar.has("__Host-gh_mfa")).toBe(false);
    const login = await browser.open(back);
    expect(textOf(login)).toContain("Your sign-in was not finished in time");
    expect(login).toContain(`name="return_to" value="${returnTo}"`);

    // No token at all (the cookie's 5 minutes are over): the same way back.
    const missing = await new Browser().get("/login/verify");
    expect(missing.status).toBe(303);
    expect(missing.headers.get("location")).toBe("/login?notice=second_step_expired");

    // A fresh start goes to return_to once the code is right.
    const retry = await passwordStep(user, returnTo);
    const done = await retry.browser.submit(await retry.browser.open(verify), "/login/verify", { code: totpCode(secret) });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe(returnTo);
  });

  it("ends the token at its fifth wrong code, and says how long to wait once the account's budget is spent", async () => {
    const { user, browser: owner } = await signedIn();
    const { secret } = await enableTotp(owner);
    const wrong = wrongCode(secret);
    const guesses = async (count: number) => {
      const { browser } = await passwordStep(user);
      const page = await browser.open("/login/verify");
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < count; i++) {
        last = await browser.submit(page, "/login/verify", { code: wrong });
        statuses.push(last.status);
      }
      return { browser, page, statuses, last: last! };
    };
    const first = await guesses(5);
    expect(first.statuses).toEqual([401, 401, 401, 401, 401]);
    const dead = await first.browser.submit(first.page, "/login/verify", { code: totpCode(secret, currentStep() + 1) });
    expect(dead.headers.get("location")).toBe("/login?notice=second_step_expired");

    // Strangers get 10 wrong answers an hour on this account (mfa_account_hour).
    const second = await guesses(5);
    expect(second.statuses).toEqual([401, 401, 401, 401, 401]);
    const third = await guesses(1);
    expect(third.statuses).toEqual([429]);
    expect(Number(third.last.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(fieldError(await third.last.text(), "login_verify-code")).toMatch(
      /^Too many wrong codes for this account\. Try again in \d+ minutes\.$/,
    );
  });
});

describe("recovery codes and turning the app off", () => {
  it("makes a new set (the old one dies), then turns the app off: the password alone signs in again", async () => {
    const { user, browser } = await signedIn();
    const { secret, codes } = await enableTotp(browser);

    // The session that set the app up has proved no second factor yet: the form asks for a code.
    let page = await browser.open("/account");
    let res = await browser.submit(page, "/account/mfa/recovery-codes");
    expect(res.status).toBe(403);
    expect(fieldError(await res.text(), "recovery_codes-proof_code")).toBe(
      "You signed in more than 5 minutes ago: enter a code from your authenticator app, or a recovery code, to confirm it is you.",
    );
    res = await browser.submit(page, "/account/mfa/recovery-codes", { proof_code: totpCode(secret, currentStep() + 1) });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(textOf(html)).toContain("New recovery codes were made; the earlier ones no longer work.");
    const fresh = codesOf(html);
    expect(fresh).toHaveLength(10);
    expect(fresh.filter((c) => codes.includes(c))).toEqual([]);

    const old = await passwordStep(user);
    const refused = await old.browser.submit(await old.browser.open("/login/verify?method=recovery_code"), "/login/verify", {
      code: codes[2]!,
    });
    expect(refused.status).toBe(401);

    // Now fresh with a second factor: no proof asked for.
    page = await browser.open("/account");
    expect(page).not.toContain('id="mfa_disable-proof_code"');
    res = await browser.submit(page, "/account/mfa/totp/disable");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account?notice=totp_disabled#security");
    page = await browser.open("/account?notice=totp_disabled");
    expect(textOf(page)).toContain("Two-step verification is off: signing in needs only your password.");
    expect(textOf(page)).toContain("Two-step verification is off.");

    const plain = new Browser();
    const signIn = await plain.submit(await plain.open("/login"), "/login", { identifier: user.email, password: user.password });
    expect(signIn.headers.get("location")).toBe("/account");
    expect((await outbox(user.email, "security_notice")).some((m) => m.subject === "Two-step verification was turned off")).toBe(true);
  });
});

describe("sensitive forms of a session older than 5 minutes", () => {
  it("without a second factor: the password, checked once, beside the field", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const { user, browser } = await signedIn();
    vi.setSystemTime(Date.now() + 6 * MINUTE);
    let page = await browser.open("/account");
    expect(page).toContain('id="mfa_start-current_password"');
    expect(page).toContain('id="api_key_create-current_password"');
    expect(page).not.toContain("proof_code");

    let res = await browser.submit(page, "/account/mfa/totp");
    expect(res.status).toBe(403);
    expect(fieldError(await res.text(), "mfa_start-current_password")).toBe(
      "You signed in more than 5 minutes ago: enter your current password to confirm it is you.",
    );
    res = await browser.submit(page, "/account/mfa/totp", { current_password: "not the password" });
    expect(res.status).toBe(400);
    expect(fieldError(await res.text(), "mfa_start-current_password")).toBe("The current password is incorrect.");

    // The password form checks the password itself: a wrong one still counts once.
    res = await browser.submit(page, "/account/password", { current_password: "still not it", new_password: "a new long passphrase 2027" });
    expect(res.status).toBe(400);
    expect(fieldError(await res.text(), "password-current_password")).toBe("The current password is incorrect.");
    expect(await auditRows("action = 'password.check_failed' AND user_id = ?", user.userId)).toHaveLength(2);

    res = await browser.submit(page, "/account/mfa/totp", { current_password: user.password });
    expect(res.headers.get("location")).toBe("/account?notice=totp_started#security");
    // Fresh again for 5 minutes: the next form asks for nothing more.
    page = await browser.open("/account");
    expect(page).not.toContain('id="mfa_confirm-current_password"');
    res = await browser.submit(page, "/account/mfa/totp/confirm", { code: totpCode(secretOf(page)) });
    expect(res.status).toBe(200);
  });

  it("with a second factor: a code from the app or a recovery code, beside the field", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const { user, browser: owner } = await signedIn();
    const { secret, codes } = await enableTotp(owner);
    vi.setSystemTime(Date.now() + 30_000);
    const { browser } = await passwordStep(user);
    const signIn = await browser.submit(await browser.open("/login/verify"), "/login/verify", { code: totpCode(secret) });
    expect(signIn.headers.get("location")).toBe("/account");

    vi.setSystemTime(Date.now() + 6 * MINUTE);
    let page = await browser.open("/account");
    for (const form of ["email", "password", "api_key_create", "recovery_codes", "mfa_disable", "delete"])
      expect(page, form).toContain(`id="${form}-proof_code"`);
    expect(page).toMatch(/<input id="email-proof_code" name="proof_code" type="text" autocomplete="one-time-code"/);

    const newEmail = `moved.${Date.now().toString(36)}@example.com`;
    let res = await browser.submit(page, "/account/email", { new_email: newEmail, password: user.password });
    expect(res.status).toBe(403);
    expect(fieldError(await res.text(), "email-proof_code")).toMatch(/^You signed in more than 5 minutes ago: enter a code/);
    res = await browser.submit(page, "/account/email", { new_email: newEmail, password: user.password, proof_code: wrongCode(secret) });
    expect(res.status).toBe(401);
    expect(fieldError(await res.text(), "email-proof_code")).toBe("This code is wrong, has expired or was already used.");
    res = await browser.submit(page, "/account/email", { new_email: newEmail, password: user.password, proof_code: totpCode(secret) });
    expect(res.headers.get("location")).toBe("/account?notice=email_change_sent#email");

    // Fresh now: an API key needs no proof.
    page = await browser.open("/account");
    expect(page).not.toContain('id="api_key_create-proof_code"');
    res = await browser.submit(page, "/account/api-keys", { name: "after a step-up", scopes: ["profile:read"] });
    expect(res.status).toBe(201);

    // Stale again: a recovery code proves it too (and is used up).
    vi.setSystemTime(Date.now() + 6 * MINUTE);
    page = await browser.open("/account");
    res = await browser.submit(page, "/account/mfa/totp/disable", { proof_code: codes[0]! });
    expect(res.headers.get("location")).toBe("/account?notice=totp_disabled#security");
    expect(await auditRows("action = 'session.stepped_up' AND user_id = ?", user.userId)).toHaveLength(2);
  });
});

describe("the administration console", () => {
  it("shows who has two-step verification, in the list and on the user's page", async () => {
    const { user, browser } = await signedIn();
    await enableTotp(browser);
    const plain = await register();
    const admin = await superuser();
    const { browser: console_ } = await signedIn(admin);

    const listed = await console_.open(`/admin?query=${encodeURIComponent(user.email)}`);
    expect(listed).toContain('<span class="badge">two-step</span>');
    expect(await console_.open(`/admin?query=${encodeURIComponent(plain.email)}`)).not.toContain("two-step");
    expect(textOf(await console_.open(`/admin/users/${user.userId}`))).toContain("Two-step verification Authenticator app");
    expect(textOf(await console_.open(`/admin/users/${plain.userId}`))).toContain("Two-step verification Off: the password alone signs in");

    const res = await call(`/api/v1/admin/users/${user.userId}`, { token: admin.accessToken });
    expect((await res.json<{ user: { second_factors: string[] } }>()).user.second_factors).toEqual(["totp"]);
  });
});
