import { describe, expect, it } from "vitest";
import { call, outbox, register, superuser, userRow, type Registered } from "./helpers";
import { Browser, fieldError, formOf, OWN, textOf } from "./pages-browser";
import { currentStep } from "../scripts/totp.mjs";
import { enableTotp, totpCode } from "./totp";
import { SoftwareAuthenticator } from "./webauthn-authenticator";

/**
 * The account page under the MFA policy (API.md "TOTP, recovery codes and MFA policy"): after an
 * administrator reset the factors, setting up an authenticator app or a passkey asks for the code
 * mailed to the account, beside its field; while `MFA_REQUIRED` applies, the page says so and
 * refuses to remove the last second factor at the form that tried.
 */

const STRICT = { MFA_REQUIRED: "all" } as const;

async function signedIn(user: Registered, browser = new Browser()) {
  const res = await browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password: user.password });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/account");
  return browser;
}

/** An administrator's reset of the user's second factors, through the admin API. */
async function adminReset(user: Registered) {
  const admin = await superuser();
  const res = await call(`/api/v1/admin/users/${user.userId}/mfa`, { method: "DELETE", token: admin.accessToken });
  expect(res.status).toBe(204);
}

/** The newest enrolment code mailed to `email`. */
async function mailedCode(email: string): Promise<string> {
  const mails = (await outbox(email, "sign_in_code")) as unknown as { subtype?: string; code?: string }[];
  const code = mails.find((m) => m.subtype === "mfa_enrolment")?.code;
  expect(code).toMatch(/^\d{8}$/);
  return code!;
}

/** Eight digits that are not `code`. */
const otherThan = (code: string) => (code === "00000000" ? "11111111" : "00000000");

/** The CSRF token of the form posting to `action`, which the passkey script sends with its options request. */
const tokenOf = (html: string, action: string) => /name="csrf_token" value="([^"]+)"/.exec(formOf(html, action))![1]!;

describe("setting up a second factor on /account after an administrator's reset", () => {
  it("asks the authenticator app's set-up for the mailed code, beside its field, and stops asking once one is enrolled", async () => {
    const user = await register();
    await enableTotp(user);
    await adminReset(user);
    const browser = await signedIn(user);
    const page = await browser.open("/account");
    const section = textOf(page.slice(page.indexOf('<section id="security"'), page.indexOf('<section id="passkeys"')));
    expect(section).toContain("An administrator reset your two-step verification.");
    expect(section).toContain("we mail a code to the account's address");
    expect(formOf(page, "/account/mfa/totp")).toMatch(
      /<input id="mfa_start-email_code" name="email_code" type="text" autocomplete="one-time-code"/,
    );

    // The first press, without a code, is what mails it.
    let res = await browser.submit(page, "/account/mfa/totp");
    expect(res.status).toBe(403);
    let html = await res.text();
    expect(fieldError(html, "mfa_start-email_code")).toBe("We mailed a code to your address: enter it here, then press the button again.");
    expect(html).toContain('aria-describedby="mfa_start-email_code-hint mfa_start-email_code-error"');
    const code = await mailedCode(user.email);

    res = await browser.submit(html, "/account/mfa/totp", { email_code: "1234" });
    expect(res.status).toBe(422);
    expect(fieldError(await res.text(), "mfa_start-email_code")).toBe("Enter the 8-digit code from the email.");
    res = await browser.submit(html, "/account/mfa/totp", { email_code: otherThan(code) });
    expect(res.status).toBe(401);
    html = await res.text();
    expect(fieldError(html, "mfa_start-email_code")).toBe("This code is wrong, has expired or was already used.");

    // Typed as the mail groups it: spaces mean nothing.
    res = await browser.submit(html, "/account/mfa/totp", { email_code: `${code.slice(0, 4)} ${code.slice(4)}` });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account?notice=totp_started#security");
    const pending = await browser.open("/account?notice=totp_started");
    const secret = /<code class="secret" id="totp-secret">([^<]+)<\/code>/.exec(pending)![1]!.replace(/ /g, "");
    const confirmed = await browser.submit(pending, "/account/mfa/totp/confirm", { code: totpCode(secret, currentStep() + 1) });
    expect(confirmed.status).toBe(200);
    expect((await userRow(user.email))!.mfa_reset_at).toBeNull();
    const after = await browser.open("/account");
    expect(after).not.toContain('name="email_code"');
    expect(textOf(after)).not.toContain("An administrator reset your two-step verification.");
  });

  it("sends the passkey's mailed code with the options, whose refusals name the field in the page's words", async () => {
    const user = await register();
    await adminReset(user);
    const browser = await signedIn(user);
    const account = await browser.open("/account");
    const form = formOf(account, "/account/passkeys");
    expect(form).toContain('data-options="/account/passkeys/options"');
    expect(form).toContain('id="passkey_add-email_code"');
    const csrf = tokenOf(account, "/account/passkeys");
    const options = (fields: Record<string, string>) => browser.post("/account/passkeys/options", { csrf_token: csrf, ...fields });

    let res = await options({ name: "Phone" });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      code: "email_code_required",
      fields: { email_code: "We mailed a code to your address: enter it here, then press the button again." },
    });
    const code = await mailedCode(user.email);
    res = await options({ email_code: "12" });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ fields: { email_code: "Enter the 8-digit code from the email." } });
    res = await options({ email_code: otherThan(code) });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      code: "invalid_code",
      fields: { email_code: "This code is wrong, has expired or was already used." },
    });

    res = await options({ email_code: code });
    expect(res.status).toBe(200);
    const authenticator = await SoftwareAuthenticator.create({ backupEligible: true, backedUp: true, counts: false });
    const credential = await authenticator.register(await res.json<never>(), OWN);
    const added = await browser.submit(account, "/account/passkeys", { credential: JSON.stringify(credential), name: "Phone" });
    expect(added.status).toBe(200);
    expect(textOf(await added.text())).toContain("Your passkey was added");
    expect((await userRow(user.email))!.mfa_reset_at).toBeNull();
  });
});

describe("/account while MFA_REQUIRED applies", () => {
  it("says so, and refuses to turn off the last second factor at its form", async () => {
    const user = await register();
    const { secret } = await enableTotp(user);
    const browser = new Browser(STRICT);
    const step = await browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password: user.password });
    expect(step.headers.get("location")).toBe("/login/verify");
    const verified = await browser.submit(await browser.open("/login/verify"), "/login/verify", {
      code: totpCode(secret, currentStep() + 1),
    });
    expect(verified.headers.get("location")).toBe("/account");

    const page = await browser.open("/account");
    expect(textOf(page)).toContain(
      "This site requires two-step verification for your account: you can replace your authenticator app or passkeys, but not remove the last one.",
    );
    const res = await browser.submit(page, "/account/mfa/totp/disable");
    expect(res.status).toBe(409);
    const html = await res.text();
    const section = html.slice(html.indexOf('<section id="security"'), html.indexOf('<section id="passkeys"'));
    expect(section).toContain('role="alert"');
    expect(textOf(section)).toContain(
      "This site requires two-step verification, and this is your last second factor: add a passkey or an authenticator app before removing it.",
    );
    expect((await userRow(user.email))!.second_factors).toBe('["totp"]');
  });

  it("refuses to remove the last passkey at its form, and tells an account without a second factor to set one up", async () => {
    const user = await register();
    const authenticator = await SoftwareAuthenticator.create({ backupEligible: false, backedUp: false });
    const options = await (await call("/api/v1/users/me/passkeys/options", { method: "POST", token: user.accessToken })).json<never>();
    const credential = await authenticator.register(options, OWN);
    expect((await call("/api/v1/users/me/passkeys", { token: user.accessToken, body: { credential } })).status).toBe(201);

    // Signed in with the passkey: a fresh session with a second factor.
    const browser = new Browser(STRICT);
    const login = await browser.open("/login");
    const assertion = await authenticator.assert(
      await (await call("/api/v1/auth/passkey/options", { body: {}, ip: browser.ip })).json<never>(),
      OWN,
    );
    expect((await browser.submit(login, "/login/passkey", { credential: JSON.stringify(assertion) })).status).toBe(303);
    const page = await browser.open("/account");
    expect(textOf(page)).toContain("No authenticator app is set up: your passkeys are your second step.");
    const res = await browser.submit(page, "/account/passkeys/remove");
    expect(res.status).toBe(409);
    const html = await res.text();
    expect(textOf(html.slice(html.indexOf('<section id="passkeys"')))).toContain("and this is your last second factor");
    expect((await userRow(user.email))!.second_factors).toBe('["passkey"]');

    // A session from before the policy (its account has no second factor): the page says what to do.
    const plain = await signedIn(await register());
    const strict = new Browser(STRICT);
    for (const [name, value] of plain.jar) strict.jar.set(name, value);
    expect(textOf(await strict.open("/account"))).toContain(
      "This site requires two-step verification for your account: set up an authenticator app or add a passkey. Your next sign-in will ask you to.",
    );
  });
});
