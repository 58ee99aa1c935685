import { describe, expect, it, vi } from "vitest";
import { currentStep, totpCode } from "../scripts/totp.mjs";
import { auditRows, call, env, freshIp, outbox, register, superuser, userRow, type Registered } from "./helpers";
import { Browser, fieldError, formOf, OWN, textOf, codesOf, secretOf } from "./pages-browser";
import { enableTotp } from "./totp";
import { SoftwareAuthenticator } from "./webauthn-authenticator";

/**
 * `MFA_REQUIRED` on the hosted pages: the right password of an account that must have a second
 * factor and has none goes to /login/enrol, which sets up an authenticator app (no script) or a
 * passkey (the page script's part played with the software authenticator), shows the recovery
 * codes once, and sends the browser on to /login/verify, where the new factor finishes the sign-in.
 */

const MINUTE = 60_000;
const ALL = { MFA_REQUIRED: "all" };

/** The password step of /login under a policy: the answer and the browser that got it. */
async function passwordStep(user: Registered, policy: Record<string, string> = ALL, returnTo?: string) {
  const browser = new Browser(policy);
  const page = await browser.open(returnTo ? `/login?return_to=${encodeURIComponent(returnTo)}` : "/login");
  const res = await browser.submit(page, "/login", { identifier: user.email, password: user.password });
  expect(res.status).toBe(303);
  return { browser, res };
}

/** The CSRF token of the form posting to `action`, which the page script sends with its options request. */
function tokenOf(html: string, action: string): string {
  return /name="csrf_token" value="([^"]+)"/.exec(formOf(html, action))![1]!;
}

/** Starts an app's set-up on /login/enrol and returns the page with its QR code. */
async function startApp(browser: Browser, fields: Record<string, string> = {}) {
  const started = await browser.submit(await browser.open("/login/enrol"), "/login/enrol/totp", fields);
  expect(started.status, textOf(await started.clone().text()).slice(0, 400)).toBe(303);
  expect(started.headers.get("location")).toBe("/login/enrol?notice=totp_started");
  return browser.open("/login/enrol?notice=totp_started");
}

describe("/login under MFA_REQUIRED=all, for an account without a second factor", () => {
  it("sets up an authenticator app without script, shows the recovery codes once, and the app's next code signs in", async () => {
    const user = await register();
    const returnTo = "/account?from=enrol";
    const { browser, res } = await passwordStep(user, ALL, returnTo);
    const enrol = `/login/enrol?return_to=${encodeURIComponent(returnTo)}`;
    expect(res.headers.get("location")).toBe(enrol);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-gh_mfa="))!;
    for (const attribute of ["Max-Age=600", "Path=/", "HttpOnly", "Secure", "SameSite=Strict"]) expect(cookie).toContain(attribute);
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);

    let page = await browser.open(enrol);
    expect(page).not.toContain(browser.jar.get("__Host-gh_mfa")!);
    expect(textOf(page)).toContain("This site requires two-step verification");
    expect(page).toContain(`name="return_to" value="${returnTo}"`);
    // A passkey needs the page script: its form is hidden until the script finds WebAuthn.
    const passkeyForm = formOf(page, "/login/enrol/passkey");
    expect(passkeyForm).toMatch(/<form[^>]* hidden[^>]*data-passkey="create"/);
    expect(passkeyForm).toContain('data-options="/login/enrol/passkey-options"');
    expect(page).toContain("<noscript>");
    expect(page).not.toContain('name="email_code"');

    const started = await browser.submit(page, "/login/enrol/totp");
    expect(started.status).toBe(303);
    expect(started.headers.get("location")).toBe(`/login/enrol?notice=totp_started&return_to=${encodeURIComponent(returnTo)}`);
    page = await browser.open(started.headers.get("location")!);
    expect(textOf(page)).toContain("Now scan the QR code with your authenticator app");
    expect(page).toMatch(/<div class="qr" role="img" aria-label="QR code that adds this account to an authenticator app"><svg /);
    const secret = secretOf(page);

    // A wrong code is said beside the field; the same key stays.
    const wrong = totpCode(secret) === "000000" ? "111111" : "000000";
    const refused = await browser.submit(page, "/login/enrol/totp/confirm", { code: wrong });
    expect(refused.status).toBe(401);
    const refusedHtml = await refused.text();
    expect(fieldError(refusedHtml, "enrol_totp_confirm-code")).toBe("This code is wrong, has expired or was already used.");
    expect(secretOf(refusedHtml)).toBe(secret);

    const confirmedStep = currentStep();
    const confirmed = await browser.submit(page, "/login/enrol/totp/confirm", { code: totpCode(secret, confirmedStep) });
    const html = await confirmed.text();
    expect(confirmed.status, textOf(html).slice(0, 400)).toBe(200);
    expect(textOf(html)).toContain("Two-step verification is on. Save your recovery codes now");
    expect(new Set(codesOf(html)).size).toBe(10);
    const nonce = /script-src 'nonce-([^']+)'/.exec(confirmed.headers.get("content-security-policy")!)?.[1];
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(html).toMatch(/data-copy="recovery-codes-list"/);
    // "Continue": a link on to the second step, keeping return_to.
    expect(html).toContain(`<a class="button" href="/login/verify?return_to=${encodeURIComponent(returnTo)}">Continue</a>`);
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);

    // The set-up is done: the enrolment page sends the browser on to finish the sign-in.
    const again = await browser.get(enrol);
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe(`/login/verify?return_to=${encodeURIComponent(returnTo)}`);

    const verify = await browser.open(`/login/verify?return_to=${encodeURIComponent(returnTo)}`);
    expect(textOf(verify)).toContain("enter the next code your authenticator app shows");
    expect(verify).not.toContain("method=recovery_code");
    // The confirming code's step is used up; the app's next one finishes the sign-in.
    const reused = await browser.submit(verify, "/login/verify", { code: totpCode(secret, confirmedStep) });
    expect(reused.status).toBe(401);
    const done = await browser.submit(verify, "/login/verify", { code: totpCode(secret, confirmedStep + 1) });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe(returnTo);
    expect(browser.jar.has("__Host-gh_rt")).toBe(true);
    expect(browser.jar.has("__Host-gh_mfa")).toBe(false);
    const account = await browser.open("/account");
    expect(textOf(account)).toContain("Two-step verification is on: authenticator app since");
    for (const code of codesOf(html)) expect(account).not.toContain(code);
    const [signIn] = (await auditRows("user_id = ? AND action = 'login.succeeded'", user.userId)).slice(-1);
    expect(signIn?.metadata.factors).toEqual(["password", "totp"]);
  });

  it("sets up a passkey with the page script's requests, and the passkey finishes the sign-in on /login/verify", async () => {
    const user = await register();
    const { browser, res } = await passwordStep(user);
    expect(res.headers.get("location")).toBe("/login/enrol");
    const page = await browser.open("/login/enrol");

    // The options need the form's token (and read the HttpOnly cookie).
    expect((await browser.post("/login/enrol/passkey-options", {})).status).toBe(403);
    const optionsRes = await browser.post("/login/enrol/passkey-options", { csrf_token: tokenOf(page, "/login/enrol/passkey") });
    expect(optionsRes.status).toBe(200);
    const options = await optionsRes.json<{ user: { name: string }; authenticatorSelection: { userVerification: string } }>();
    expect(options.user.name).toBe(user.email);
    expect(options.authenticatorSelection.userVerification).toBe("required");
    const authenticator = await SoftwareAuthenticator.create();
    const credential = await authenticator.register(options as never, OWN);

    const added = await browser.submit(page, "/login/enrol/passkey", { credential: JSON.stringify(credential) });
    const html = await added.text();
    expect(added.status, textOf(html).slice(0, 400)).toBe(200);
    expect(textOf(html)).toContain("Your passkey is set up.");
    expect(codesOf(html)).toHaveLength(10);
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);

    // /login/verify now takes the passkey alone: no code form, no recovery code.
    const verify = await browser.open("/login/verify");
    expect(textOf(verify)).toContain("To finish signing in, use your new passkey.");
    expect(() => formOf(verify, "/login/verify")).toThrow();
    const assertion = await (
      await browser.post("/login/verify/passkey-options", { csrf_token: tokenOf(verify, "/login/verify/passkey") })
    ).json<never>();
    const done = await browser.submit(verify, "/login/verify/passkey", {
      credential: JSON.stringify(await authenticator.assert(assertion, OWN)),
    });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/account");
    expect(browser.jar.has("__Host-gh_rt")).toBe(true);
    expect(textOf(await browser.open("/account"))).toContain(user.email);
  });

  it("refuses a mangled passkey with the enrolment page", async () => {
    const user = await register();
    const { browser } = await passwordStep(user);
    const page = await browser.open("/login/enrol");
    const res = await browser.submit(page, "/login/enrol/passkey", { credential: "not json" });
    expect(res.status).toBe(422);
    expect(textOf(await res.text())).toContain("No passkey was made.");
    expect((await userRow(user.email))?.second_factors).toBe("[]");
  });
});

describe("/register under MFA_REQUIRED=all", () => {
  it("opens no session: the new account goes straight to setting up its second factor", async () => {
    const browser = new Browser(ALL);
    const email = `enrol-${crypto.randomUUID()}@example.com`;
    const res = await browser.submit(await browser.open("/register"), "/register", {
      full_name: "Grace Hopper",
      email,
      username: "",
      password: "correct horse battery staple 42",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login/enrol");
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);
    expect(browser.jar.has("__Host-gh_mfa")).toBe(true);
    expect(textOf(await browser.open("/login/enrol"))).toContain("This site requires two-step verification");
    expect(await userRow(email)).toMatchObject({ second_factors: "[]" });
  });
});

describe("/login under MFA_REQUIRED=superusers", () => {
  it("signs a normal account in with its password, and sends a superuser without a factor to enrol", async () => {
    const policy = { MFA_REQUIRED: "superusers" };
    const normal = await passwordStep(await register(), policy);
    expect(normal.res.headers.get("location")).toBe("/account");
    expect(normal.browser.jar.has("__Host-gh_rt")).toBe(true);

    const admin = await passwordStep(await superuser(), policy);
    expect(admin.res.headers.get("location")).toBe("/login/enrol");
    expect(admin.browser.jar.has("__Host-gh_rt")).toBe(false);
    expect(textOf(await admin.browser.open("/login/enrol"))).toContain("This site requires two-step verification");
  });
});

describe("a token /login/enrol cannot use", () => {
  it("starts again once the 10 minutes are over, keeping return_to", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const user = await register();
    const returnTo = "https://app.example.com/after";
    const { browser } = await passwordStep(user, ALL, returnTo);
    const page = await browser.open(`/login/enrol?return_to=${encodeURIComponent(returnTo)}`);
    vi.setSystemTime(Date.now() + 11 * MINUTE);
    const back = `/login?notice=second_step_expired&return_to=${encodeURIComponent(returnTo)}`;
    const late = await browser.submit(page, "/login/enrol/totp");
    expect(late.status).toBe(303);
    expect(late.headers.get("location")).toBe(back);
    expect(browser.jar.has("__Host-gh_mfa")).toBe(false);
    expect(textOf(await browser.open(back))).toContain("Your sign-in was not finished in time");
    const missing = await browser.get("/login/enrol");
    expect(missing.headers.get("location")).toBe("/login?notice=second_step_expired");
  });

  it("starts again with the API's enrolment token (another channel), and sends a second step's token on to /login/verify", async () => {
    const user = await register();
    const api = await call("/api/v1/auth/login", { body: { email: user.email, password: user.password }, ip: freshIp(), env: ALL });
    const { code, mfa_token } = await api.json<{ code: string; mfa_token: string }>();
    expect(code).toBe("mfa_enrollment_required");
    // A page's own enrolment, whose form token the foreign browser borrows with the CSRF cookie.
    const own = await passwordStep(await register());
    const page = await own.browser.open("/login/enrol");
    const browser = new Browser(ALL);
    browser.jar.set("__Host-gh_csrf", own.browser.jar.get("__Host-gh_csrf")!);
    browser.jar.set("__Host-gh_mfa", mfa_token);
    const res = await browser.get("/login/enrol");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?notice=second_step_expired");
    const options = await browser.post("/login/enrol/passkey-options", { csrf_token: tokenOf(page, "/login/enrol/passkey") });
    expect(options.status).toBe(401);
    expect(await options.json()).toEqual({ code: "invalid_token" });
    const start = await browser.submit(page, "/login/enrol/totp");
    expect(start.headers.get("location")).toBe("/login?notice=second_step_expired");
    // An enrolment token with nothing set up yet belongs to /login/enrol, not /login/verify.
    expect((await own.browser.get("/login/verify")).headers.get("location")).toBe("/login/enrol");

    // An account with a factor has nothing to enrol: its token belongs to /login/verify.
    const owner = await register();
    await enableTotp(owner);
    const { browser: second, res: first } = await passwordStep(owner);
    expect(first.headers.get("location")).toBe("/login/verify");
    const sent = await second.get("/login/enrol");
    expect(sent.status).toBe(303);
    expect(sent.headers.get("location")).toBe("/login/verify");
  });
});

describe("/login/enrol after an administrator reset the factors", () => {
  it("asks for the mailed code beside the start forms, says a wrong one there, and sets up with the right one", async () => {
    const user = await register();
    await env.DB.prepare("UPDATE users SET mfa_reset_at = ? WHERE id = ?").bind(Date.now(), user.userId).run();
    const { browser } = await passwordStep(user);
    const page = await browser.open("/login/enrol");
    expect(textOf(page)).toContain("An administrator reset your two-step verification");
    expect(formOf(page, "/login/enrol/totp")).toContain('id="enrol_totp_start-email_code"');
    expect(formOf(page, "/login/enrol/passkey")).toContain('id="enrol_passkey-email_code"');

    // The passkey's options without the code: refused to the script, and the code is mailed.
    const options = await browser.post("/login/enrol/passkey-options", { csrf_token: tokenOf(page, "/login/enrol/passkey") });
    expect(options.status).toBe(403);
    expect(await options.json()).toEqual({ code: "email_code_required" });
    const mails = (await outbox(user.email, "sign_in_code")) as (Awaited<ReturnType<typeof outbox>>[number] & {
      code?: string;
      subtype?: string;
    })[];
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subtype).toBe("mfa_enrolment");
    const code = mails[0]!.code!;
    expect(code).toMatch(/^\d{8}$/);

    // The app's start without it: the page says the code was mailed, and asks for it.
    const asked = await browser.submit(page, "/login/enrol/totp");
    expect(asked.status).toBe(403);
    const askedHtml = await asked.text();
    expect(textOf(askedHtml)).toContain("We mailed a code to your address.");
    expect(askedHtml).toContain('id="enrol_totp_start-email_code"');
    expect(askedHtml).not.toContain('role="alert"');

    const malformed = await browser.submit(askedHtml, "/login/enrol/totp", { email_code: "123" });
    expect(malformed.status).toBe(422);
    expect(fieldError(await malformed.text(), "enrol_totp_start-email_code")).toBe("Enter the 8-digit code from the email.");
    const wrongCode = code === "00000000" ? "11111111" : "00000000";
    const wrong = await browser.submit(askedHtml, "/login/enrol/totp", { email_code: wrongCode });
    expect(wrong.status).toBe(401);
    const wrongHtml = await wrong.text();
    expect(fieldError(wrongHtml, "enrol_totp_start-email_code")).toBe("This code is wrong, has expired or was already used.");
    expect(textOf(wrongHtml)).toContain("We mailed a code to your address.");

    const pending = await startApp(browser, { email_code: code });
    const secret = secretOf(pending);
    const confirmed = await browser.submit(pending, "/login/enrol/totp/confirm", { code: totpCode(secret) });
    expect(confirmed.status).toBe(200);
    expect(codesOf(await confirmed.text())).toHaveLength(10);
    expect((await userRow(user.email))?.mfa_reset_at).toBeNull();
    const done = await browser.submit(await browser.open("/login/verify"), "/login/verify", { code: totpCode(secret, currentStep() + 1) });
    expect(done.headers.get("location")).toBe("/account");
  });
});
