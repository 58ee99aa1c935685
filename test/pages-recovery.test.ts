import { describe, expect, it } from "vitest";
import { call, captureLogs, freshIp, login, outbox, register, STRONG_PASSWORD, uniqueEmail, userRow, type OutboxMessage } from "./helpers";
import { Browser, fieldError, OWN, textOf } from "./pages-browser";

/** Every mailed link opens a page that works; a GET of a link never uses its token up. */

const NEW_PASSWORD = "a completely new passphrase 77";

/** The path (and query) of the first link in a mail, checked to be under `base`. */
function linkIn(mail: OutboxMessage | undefined, base = OWN): string {
  const url = /https?:\/\/\S+/.exec(mail?.text ?? "")?.[0];
  expect(url, mail?.text).toBeDefined();
  expect(url!.startsWith(`${base}/`), url).toBe(true);
  return url!.slice(base.length);
}

async function signIn(browser: Browser, email: string, password: string) {
  const res = await browser.submit(await browser.open("/login"), "/login", { identifier: email, password });
  expect(res.status).toBe(303);
}

async function isVerified(email: string): Promise<boolean> {
  return (await userRow(email))?.email_verified === 1;
}

describe("mailed links", () => {
  it("point at the hosted pages, and each page exists", async () => {
    const user = await register();
    const verification = linkIn((await outbox(user.email, "email_verification"))[0]);
    expect(verification).toMatch(/^\/verify-email\?token=[\w%-]+&lang=en$/);
    expect((await new Browser().get(verification)).status).toBe(200);

    await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
    const reset = linkIn((await outbox(user.email, "password_reset"))[0]);
    expect(reset).toMatch(/^\/reset-password\?token=/);
    expect((await new Browser().get(reset)).status).toBe(200);

    const newEmail = uniqueEmail("moved");
    const changed = await call("/api/v1/users/me/email", {
      token: user.accessToken,
      body: { new_email: newEmail, password: user.password },
    });
    expect(changed.status).toBe(202);
    const change = linkIn((await outbox(newEmail, "email_change"))[0]);
    expect(change).toMatch(/^\/verify-email\?token=/);
    const browser = new Browser();
    const page = await browser.open(change);
    expect(textOf(page)).toContain("Confirm your new email address");
    expect((await browser.submit(page, "/verify-email")).headers.get("location")).toBe("/login?notice=email_changed");

    const revertMail = (await outbox(user.email, "security_notice")).find((m) => m.subject === "Your email address was changed");
    const revert = linkIn(revertMail);
    expect(revert).toMatch(/^\/revert-email-change\?token=/);
    expect((await new Browser().get(revert)).status).toBe(200);
  });

  it("the notices a stranger can cause send people to /login, /forgot-password and /register, which exist", async () => {
    const env = { REQUIRE_EMAIL_VERIFICATION: "true" };
    const taken = await register();
    await call("/api/v1/auth/register", {
      body: { email: taken.email, password: STRONG_PASSWORD, full_name: "Someone" },
      ip: freshIp(),
      env,
    });
    const [attempt] = (await outbox(taken.email, "security_notice")).filter((m) => m.subject.startsWith("Someone tried"));
    expect(attempt?.text).toContain(`${OWN}/login`);
    expect(attempt?.text).toContain(`${OWN}/forgot-password`);
    const name = `taken_${Date.now().toString(36)}`;
    await register({ username: name });
    const email = uniqueEmail();
    await call("/api/v1/auth/register", {
      body: { email, password: STRONG_PASSWORD, full_name: "Someone", username: name },
      ip: freshIp(),
      env,
    });
    const [unavailable] = await outbox(email, "security_notice");
    expect(unavailable?.text).toContain(`${OWN}/register`);
    for (const path of ["/login", "/forgot-password", "/register"]) expect((await new Browser().get(path)).status).toBe(200);
  });

  it("go to APP_URL's own pages when it is set, on the same paths", async () => {
    const env = { APP_URL: "https://app.example.com" };
    const email = uniqueEmail();
    await call("/api/v1/auth/register", { body: { email, password: STRONG_PASSWORD, full_name: "Site User" }, ip: freshIp(), env });
    expect(linkIn((await outbox(email, "email_verification"))[0], "https://app.example.com")).toMatch(/^\/verify-email\?token=/);
    await call("/api/v1/auth/forgot-password", { body: { email }, ip: freshIp(), env });
    expect(linkIn((await outbox(email, "password_reset"))[0], "https://app.example.com")).toMatch(/^\/reset-password\?token=/);
  });
});

describe("logs", () => {
  it("name a link page by its route, never with the token of its URL or form", async () => {
    const user = await register();
    await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
    const link = linkIn((await outbox(user.email, "password_reset"))[0]);
    const token = decodeURIComponent(link.split("token=")[1]!);
    const logs = captureLogs();
    const browser = new Browser();
    const page = await browser.open(link);
    await browser.submit(page, "/reset-password", { new_password: "a brand new passphrase 9" });
    const text = logs.text();
    expect(text).toContain('"route":"/reset-password"');
    expect(text).not.toContain(token);
    expect(text).not.toContain(encodeURIComponent(token));
  });
});

describe("/verify-email", () => {
  it("GET shows the form and never uses the token up, however often a scanner opens it", async () => {
    const user = await register();
    const link = linkIn((await outbox(user.email, "email_verification"))[0]);
    for (let i = 0; i < 3; i++) {
      const page = await new Browser().open(link);
      expect(textOf(page)).toContain(`Address: ${user.email}`);
      expect(page).toContain('<label for="verify-password">The password you chose when you registered</label>');
      expect(page).toContain('<label for="verify_new_password-new_password">New password</label>');
    }
    expect(await isVerified(user.email)).toBe(false);
    const browser = new Browser();
    const res = await browser.submit(await browser.open(link), "/verify-email", { password: user.password }, 'value="password"');
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?notice=email_verified");
    expect(await isVerified(user.email)).toBe(true);
    // Used: the page now says so (400) and offers a new link.
    const used = await browser.open(link, 400);
    expect(textOf(used)).toContain("This link is invalid, has expired or was already used.");
    expect(used).toContain('action="/resend-verification"');
  });

  it("asks for the registration password, beside the field, and keeps the link usable until it is right", async () => {
    const user = await register();
    const link = linkIn((await outbox(user.email, "email_verification"))[0]);
    const browser = new Browser();
    let page = await browser.open(link);
    let res = await browser.submit(page, "/verify-email", {}, 'value="password"');
    expect(res.status).toBe(400);
    page = await res.text();
    expect(fieldError(page, "verify-password")).toContain("Enter the password chosen at registration");
    res = await browser.submit(page, "/verify-email", { password: "somebody else's guess" }, 'value="password"');
    expect(res.status).toBe(401);
    page = await res.text();
    expect(fieldError(page, "verify-password")).toContain("This is not the password chosen at registration");
    expect(await isVerified(user.email)).toBe(false);
    res = await browser.submit(page, "/verify-email", { password: user.password }, 'value="password"');
    expect(res.status).toBe(303);
    expect(await isVerified(user.email)).toBe(true);
  });

  it("needs no password in a browser signed in to that account", async () => {
    const user = await register();
    const browser = new Browser();
    await signIn(browser, user.email, user.password);
    const page = await browser.open(linkIn((await outbox(user.email, "email_verification"))[0]));
    expect(page).not.toContain('id="verify-password"');
    expect(textOf(page)).toContain("You are signed in to this account");
    const res = await browser.submit(page, "/verify-email", {}, 'value="password"');
    expect(res.headers.get("location")).toBe("/account?notice=email_verified");
    expect(await isVerified(user.email)).toBe(true);
  });

  it("a signed-in browser of another account still has to give the password", async () => {
    const owner = await register();
    const other = await register();
    const browser = new Browser();
    await signIn(browser, other.email, other.password);
    const page = await browser.open(linkIn((await outbox(owner.email, "email_verification"))[0]));
    const res = await browser.submit(page, "/verify-email", {}, 'value="password"');
    expect(res.status).toBe(400);
    expect(await isVerified(owner.email)).toBe(false);
  });

  it("can set a new password instead: the registrant's sessions and password die", async () => {
    const squatter = await register();
    const link = linkIn((await outbox(squatter.email, "email_verification"))[0]);
    const browser = new Browser();
    let page = await browser.open(link);
    let res = await browser.submit(page, "/verify-email", { new_password: "password" }, 'value="new_password"');
    expect(res.status).toBe(422);
    page = await res.text();
    expect(fieldError(page, "verify_new_password-new_password")).toMatch(/common|pattern/);
    res = await browser.submit(page, "/verify-email", { new_password: NEW_PASSWORD }, 'value="new_password"');
    expect(res.headers.get("location")).toBe("/login?notice=verified_new_password");
    expect(await isVerified(squatter.email)).toBe(true);
    expect((await call("/api/v1/users/me", { token: squatter.accessToken })).status).toBe(401);
    expect((await login({ email: squatter.email, password: squatter.password })).status).toBe(401);
    expect((await login({ email: squatter.email, password: NEW_PASSWORD })).status).toBe(200);
  });

  it("after an email change, sends a browser whose session the change ended to sign in", async () => {
    const user = await register();
    const browser = new Browser();
    await signIn(browser, user.email, user.password);
    const newEmail = uniqueEmail("moved");
    // The API session asks; the page session of the same account is one of the "others".
    await call("/api/v1/users/me/email", { token: user.accessToken, body: { new_email: newEmail, password: user.password } });
    const page = await browser.open(linkIn((await outbox(newEmail, "email_change"))[0]));
    expect(textOf(page)).toContain("Confirm your new email address");
    const res = await browser.submit(page, "/verify-email");
    expect(res.headers.get("location")).toBe("/login?notice=email_changed");
    expect((await userRow(newEmail))?.id).toBe(user.userId);
  });

  it("without a token, or with a made-up one, says so (400)", async () => {
    expect(textOf(await new Browser().open("/verify-email", 400))).toContain("This link is incomplete");
    expect(textOf(await new Browser().open("/verify-email?token=made-up-token-1234567", 400))).toContain("This link is invalid");
  });
});

describe("/forgot-password and /reset-password", () => {
  it("mails a link for a known address, answers the same for an unknown one, then resets and signs every session out", async () => {
    const user = await register();
    for (const email of [user.email, uniqueEmail()]) {
      const browser = new Browser();
      const res = await browser.submit(await browser.open("/forgot-password"), "/forgot-password", { email });
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe("/forgot-password?notice=reset_sent");
    }
    const link = linkIn((await outbox(user.email, "password_reset"))[0]);
    const browser = new Browser();
    let page = await browser.open(link);
    expect(page).toContain('autocomplete="new-password"');
    let res = await browser.submit(page, "/reset-password", { new_password: "aaaaaaaaaa" });
    expect(res.status).toBe(422);
    page = await res.text();
    expect(fieldError(page, "reset-new_password")).toContain("simple pattern");
    // A weak password does not use the link up.
    res = await browser.submit(page, "/reset-password", { new_password: NEW_PASSWORD });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?notice=password_reset");
    expect((await call("/api/v1/users/me", { token: user.accessToken })).status).toBe(401);
    expect(textOf(await browser.open(link, 400))).toContain("This link is invalid");
    await signIn(new Browser(), user.email, NEW_PASSWORD);
  });

  it("shows validation errors beside the field and the rate limit with its wait", async () => {
    const browser = new Browser();
    let page = await browser.open("/forgot-password");
    let res = await browser.submit(page, "/forgot-password", { email: "nope" });
    expect(res.status).toBe(422);
    page = await res.text();
    expect(fieldError(page, "forgot-email")).toContain("Enter a valid email address");
    const email = uniqueEmail();
    for (let i = 0; i < 4; i++) res = await browser.submit(page, "/forgot-password", { email });
    expect(res.status).toBe(429);
    expect(textOf(await res.text())).toMatch(/Try again in \d+ (minutes|seconds)\./);
  });

  it("a reset page without a token, or with a dead one, says so (400)", async () => {
    expect(textOf(await new Browser().open("/reset-password", 400))).toContain("This link is incomplete");
    expect(textOf(await new Browser().open("/reset-password?token=made-up-token-1234567", 400))).toContain("This link is invalid");
  });
});

describe("/revert-email-change", () => {
  it("GET explains and changes nothing; the button restores the address and ends everything", async () => {
    const owner = await register();
    const newEmail = uniqueEmail("moved");
    await call("/api/v1/users/me/email", { token: owner.accessToken, body: { new_email: newEmail, password: owner.password } });
    const [change] = await outbox(newEmail, "email_change");
    await call("/api/v1/auth/verify-email", { body: { token: change!.token }, ip: freshIp() });
    const link = linkIn((await outbox(owner.email, "security_notice")).find((m) => m.subject === "Your email address was changed"));
    const browser = new Browser();
    const page = await browser.open(link);
    expect(textOf(page)).toContain(`change of your account's address to ${newEmail}`);
    expect((await userRow(newEmail))?.id).toBe(owner.userId);
    const res = await browser.submit(page, "/revert-email-change");
    expect(res.headers.get("location")).toBe("/login?notice=email_restored");
    expect((await userRow(owner.email))?.id).toBe(owner.userId);
    expect((await login({ email: owner.email, password: owner.password })).status).toBe(401);
    expect(textOf(await browser.open(link, 400))).toContain("This link is invalid");
  });
});
