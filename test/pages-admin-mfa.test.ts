import { describe, expect, it } from "vitest";
import { auditRows, call, outbox, register, superuser, userRow, type Registered } from "./helpers";
import { Browser, fieldError, formOf, OWN, textOf } from "./pages-browser";
import { enableTotp, totpCode } from "./totp";
import { SoftwareAuthenticator } from "./webauthn-authenticator";

/**
 * Second factors in the `/admin` console: each user's factors in the list and on the user's page,
 * the list's "with / without a second factor" filter, and the help-desk reset of the factors
 * (API.md "MFA policy": `DELETE /admin/users/{id}/mfa`), audited with the administrator and mailed.
 */

async function signedIn(user: Registered): Promise<Browser> {
  const browser = new Browser();
  const res = await browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password: user.password });
  expect(res.status).toBe(303);
  return browser;
}

/**
 * A user with an authenticator app and a passkey, added through the API: the app with the
 * registration's fresh token, the passkey after a step-up with the app (a change of factors needs one).
 */
async function withBothFactors(overrides: Record<string, unknown> = {}) {
  const user = await register(overrides);
  const { secret, confirmedStep } = await enableTotp(user);
  const up = await call("/api/v1/auth/step-up", {
    token: user.accessToken,
    body: { method: "totp", code: totpCode(secret, confirmedStep + 1) },
  });
  expect(up.status).toBe(200);
  const token = (await up.json<{ access_token: string }>()).access_token;
  const options = await (await call("/api/v1/users/me/passkeys/options", { method: "POST", token })).json<never>();
  const credential = await (await SoftwareAuthenticator.create({ backupEligible: false, backedUp: false })).register(options, OWN);
  expect((await call("/api/v1/users/me/passkeys", { token, body: { credential } })).status).toBe(201);
  return user;
}

/** The text of the user page's second-factor section. */
const factorsSection = (html: string) => textOf(html.slice(html.indexOf('<section id="mfa"'), html.indexOf('<section id="actions"')));

describe("/admin and second factors", () => {
  it("shows each user's factors in the list and filters by with or without a second factor", async () => {
    const browser = await signedIn(await superuser());
    const tag = `factors${Date.now().toString(36)}`;
    const enrolled = await withBothFactors({ email: `${tag}.enrolled@example.com` });
    const plain = await register({ email: `${tag}.plain@example.com` });

    let html = await browser.open(`/admin?query=${tag}`);
    expect(html.match(/href="\/admin\/users\//g)).toHaveLength(2);
    const rowOf = (email: string) => textOf([...html.matchAll(/<li>[\s\S]*?<\/li>/g)].find((m) => m[0].includes(email))![0]);
    expect(rowOf(enrolled.email)).toContain("second factors: authenticator app, passkey");
    expect(rowOf(plain.email)).toContain("no second factor");
    expect(html).toMatch(/<select id="search-mfa" name="mfa"/);

    html = await browser.open(`/admin?query=${tag}&mfa=enrolled`);
    expect(html.match(/href="\/admin\/users\//g)).toHaveLength(1);
    expect(html).toContain(enrolled.email);
    expect(html).toContain('<option value="enrolled" selected="">');
    html = await browser.open(`/admin?query=${tag}&mfa=none`);
    expect(html.match(/href="\/admin\/users\//g)).toHaveLength(1);
    expect(html).toContain(plain.email);
    // The links that page through the list keep the filter (a mangled cursor shows the first page).
    html = await browser.open(`/admin?query=${tag}&mfa=none&cursor=garbage`);
    expect(html).toContain(`<a href="/admin?query=${tag}&amp;mfa=none">First page</a>`);

    const bad = await browser.get("/admin?mfa=maybe");
    expect(bad.status).toBe(422);
    expect(fieldError(await bad.text(), "search-mfa")).toBe("Choose a value.");
  });

  it("shows one user's factors and whether the policy applies", async () => {
    const browser = await signedIn(await superuser());
    const user = await withBothFactors();
    let section = factorsSection(await browser.open(`/admin/users/${user.userId}`));
    expect(section).toMatch(/Authenticator app On since \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
    expect(section).toContain("Passkeys 1");
    expect(section).toContain("Recovery codes left 10");
    expect(section).toContain("Policy Not required");
    expect(section).not.toContain("reset pending");

    // The same page where the operator set MFA_REQUIRED.
    const strict = new Browser({ MFA_REQUIRED: "all" });
    for (const [name, value] of browser.jar) strict.jar.set(name, value);
    section = factorsSection(await strict.open(`/admin/users/${user.userId}`));
    expect(section).toContain("Policy Required (MFA_REQUIRED)");
  });

  it("resets the factors: audited with the administrator, mailed to the user, pending a mailed code", async () => {
    const admin = await superuser();
    const browser = await signedIn(admin);
    const user = await withBothFactors();
    const page = await browser.open(`/admin/users/${user.userId}`);
    const action = `/admin/users/${user.userId}/mfa/reset`;
    expect(formOf(page, action)).toContain('<button type="submit" class="danger">Reset second factors</button>');
    expect(factorsSection(page)).toContain("Check who is asking before you reset");

    // Another form's token does not reset anything.
    const token = /name="csrf_token" value="([^"]+)"/.exec(formOf(page, `/admin/users/${user.userId}/unlock`))![1]!;
    expect((await browser.post(action, { csrf_token: token })).status).toBe(403);
    expect((await userRow(user.email))!.second_factors).toBe('["totp","passkey"]');

    const res = await browser.submit(page, action);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/admin/users/${user.userId}?notice=second_factors_reset`);
    const after = await browser.open(res.headers.get("location")!);
    expect(textOf(after)).toContain("The user's authenticator app, passkeys and recovery codes were removed, and the user was mailed.");
    const section = factorsSection(after);
    for (const words of ["Authenticator app Off", "Passkeys 0", "Recovery codes left 0", "reset pending"]) expect(section).toContain(words);
    expect(section).toContain("the user's next enrolment needs a code mailed to their address");

    const row = (await userRow(user.email))!;
    expect(row.second_factors).toBe("[]");
    expect(row.mfa_reset_at).not.toBeNull();
    const audit = await auditRows("action = 'admin.mfa_reset' AND user_id = ?", user.userId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_user_id: admin.userId });
    const mails = await outbox(user.email, "security_notice");
    expect(mails.some((m) => m.subject === "An administrator reset your second factors")).toBe(true);
  });
});
