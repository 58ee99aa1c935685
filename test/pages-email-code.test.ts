import { describe, expect, it } from "vitest";
import { env, outbox, register, uniqueEmail, userRow, type Registered } from "./helpers";
import { Browser, fieldError, formOf, textOf } from "./pages-browser";
import { enableTotp } from "./totp";

/**
 * Signing in with a mailed code on the hosted pages (API.md v1.2 "Email codes and magic links"):
 * /login offers it, /login/email asks for the address, /login/email/code takes the code (no script
 * needed), and the mail's link opens /sign-in/email, whose GET only names the account and whose
 * POST signs in the browser that sends it.
 */

const SIGN_UP = { EMAIL_CODE_SIGN_UP: "true" };

/** The newest code mail of `email`: its code and its link's token. */
async function codeMail(email: string): Promise<{ code: string; token: string }> {
  const [mail] = (await outbox(email, "sign_in_code")) as unknown as { code: string; token: string }[];
  expect(mail, `a sign_in_code mail to ${email}`).toBeDefined();
  expect(mail!.code).toMatch(/^\d{8}$/);
  return mail!;
}

/** A registered account whose address is already proven (a code is then not its first proof). */
async function verifiedUser(): Promise<Registered> {
  const user = await register();
  await env.DB.prepare("UPDATE users SET email_verified = 1 WHERE id = ?").bind(user.userId).run();
  return user;
}

/** Asks for a code on the pages; returns the code page and its address. */
async function askForCode(browser: Browser, email: string, returnTo?: string) {
  const start = returnTo ? `/login/email?return_to=${encodeURIComponent(returnTo)}` : "/login/email";
  const asked = await browser.submit(await browser.open(start), "/login/email", { email });
  expect(asked.status, textOf(await asked.clone().text()).slice(0, 400)).toBe(303);
  const location = asked.headers.get("location")!;
  const expected = new URLSearchParams({ email, ...(returnTo ? { return_to: returnTo } : {}) });
  expect(location).toBe(`/login/email/code?${expected.toString()}`);
  return { page: await browser.open(location), location };
}

/** The page's text with a person's isolated value (a `<bdi>`) joined to the punctuation after it. */
const says = (html: string) => textOf(html).replace(/ ([?.,])/g, "$1");

const wrongCode = (code: string) => (code === "00000000" ? "11111111" : "00000000");

describe("sign-in with a mailed code on the pages", () => {
  it("/login offers it; the code typed on the code page signs this browser in, back to return_to", async () => {
    const user = await verifiedUser();
    const browser = new Browser();
    const login = await browser.open("/login?return_to=%2Faccount%3Ffrom%3Dcode");
    expect(login).toContain('href="/login/email?return_to=%2Faccount%3Ffrom%3Dcode"');

    const { page } = await askForCode(browser, user.email, "/account?from=code");
    expect(textOf(page)).toContain(`If ${user.email} can sign in with a code, we mailed it one`);
    const form = formOf(page, "/login/email/code");
    expect(form).toMatch(/<input id="email_code-code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"/);
    expect(form).toContain(`name="email" value="${user.email}"`);
    expect(form).toContain('name="return_to" value="/account?from=code"');
    // Sign-up is off by default: no name field.
    expect(form).not.toContain('name="new_account_name"');
    expect(page).not.toContain("<script");

    const { code } = await codeMail(user.email);
    const refused = await browser.submit(page, "/login/email/code", { code: wrongCode(code) });
    expect(refused.status).toBe(401);
    const refusedHtml = await refused.text();
    expect(fieldError(refusedHtml, "email_code-code")).toBe("This code is wrong, has expired or was already used.");
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);

    // Spaces are what people copy; they mean nothing.
    const signedIn = await browser.submit(page, "/login/email/code", { code: `${code.slice(0, 4)} ${code.slice(4)}` });
    expect(signedIn.status, textOf(await signedIn.clone().text()).slice(0, 400)).toBe(303);
    expect(signedIn.headers.get("location")).toBe("/account?from=code");
    expect(browser.jar.has("__Host-gh_rt")).toBe(true);
    expect(textOf(await browser.open("/account"))).toContain(user.email);

    // The code worked once.
    const other = new Browser();
    const again = await other.submit(await other.open(`/login/email/code?email=${encodeURIComponent(user.email)}`), "/login/email/code", {
      code,
    });
    expect(again.status).toBe(401);
    expect(other.jar.has("__Host-gh_rt")).toBe(false);
  });

  it("answers an unknown address exactly like a known one, and a malformed code beside its field", async () => {
    const browser = new Browser();
    const email = uniqueEmail("nobody");
    const { page } = await askForCode(browser, email);
    expect(textOf(page)).toContain(`If ${email} can sign in with a code, we mailed it one`);
    expect(await outbox(email, "sign_in_code")).toHaveLength(0);
    const bad = await browser.submit(page, "/login/email/code", { code: "12ab" });
    expect(bad.status).toBe(422);
    expect(fieldError(await bad.text(), "email_code-code")).toBe("Enter the 8-digit code from the email.");
    expect(await userRow(email)).toBeNull();
  });

  it("refuses a form without its token (CSRF) and a bad address beside its field", async () => {
    const browser = new Browser();
    const page = await browser.open("/login/email");
    const forged = await browser.post("/login/email", { email: "a@example.com" });
    expect(forged.status).toBe(403);
    const bad = await browser.submit(page, "/login/email", { email: "not an address" });
    expect(bad.status).toBe(422);
    expect(fieldError(await bad.text(), "email_code_request-email")).toBe("Enter a valid email address, like name@example.com.");
  });

  it("goes on to /login/verify after the code for an account with an authenticator app", async () => {
    const user = await verifiedUser();
    await enableTotp(user);
    const browser = new Browser();
    const { page } = await askForCode(browser, user.email);
    const { code } = await codeMail(user.email);
    const answer = await browser.submit(page, "/login/email/code", { code });
    expect(answer.status).toBe(303);
    expect(answer.headers.get("location")).toBe("/login/verify");
    expect(browser.jar.has("__Host-gh_mfa")).toBe(true);
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);
    expect(textOf(await browser.open("/login/verify"))).toContain("Two-step verification");
  });

  it("hides the offer and the pages when EMAIL_CODE_SIGN_IN=false", async () => {
    const browser = new Browser({ EMAIL_CODE_SIGN_IN: "false" });
    expect(await browser.open("/login")).not.toContain('href="/login/email');
    const res = await browser.get("/login/email");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login");
  });
});

describe("the mailed link, /sign-in/email", () => {
  it("names the account on GET without signing in or using it up; its POST signs in only the browser that sends it", async () => {
    const user = await verifiedUser();
    const asker = new Browser();
    await askForCode(asker, user.email);
    const { token } = await codeMail(user.email);
    const link = `/sign-in/email?token=${encodeURIComponent(token)}`;

    const opener = new Browser();
    const page = await opener.open(link);
    expect(says(page)).toContain(`Sign in as ${user.email}?`);
    expect(opener.jar.has("__Host-gh_rt")).toBe(false);
    // A mail scanner's second visit finds the same page: the GET used nothing up.
    expect(says(await new Browser().open(link))).toContain(`Sign in as ${user.email}?`);

    const forged = await opener.post("/sign-in/email", { token });
    expect(forged.status).toBe(403);

    const signedIn = await opener.submit(page, "/sign-in/email");
    expect(signedIn.status, textOf(await signedIn.clone().text()).slice(0, 400)).toBe(303);
    expect(signedIn.headers.get("location")).toBe("/account");
    expect(opener.jar.has("__Host-gh_rt")).toBe(true);
    expect(asker.jar.has("__Host-gh_rt")).toBe(false);
    expect((await asker.get("/account")).status).toBe(303);

    // Used once: opening it again, anywhere, finds it dead at once (400), with a way back.
    const late = new Browser();
    const deadHtml = await late.open(link, 400);
    expect(textOf(deadHtml)).toContain("This link is invalid, has expired or was already used.");
    expect(deadHtml).toContain('href="/login"');
    expect(deadHtml).not.toContain('action="/sign-in/email"');
    expect(late.jar.has("__Host-gh_rt")).toBe(false);
  });

  it("says a bad link is invalid (400), with a way to a new code", async () => {
    const page = await new Browser().open("/sign-in/email?token=not-a-real-token", 400);
    expect(textOf(page)).toContain("This link is invalid, has expired or was already used.");
    expect(page).toContain('href="/login/email"');
    expect(page).not.toContain('action="/sign-in/email"');
    await new Browser().open("/sign-in/email", 400);
  });

  it("with EMAIL_CODE_SIGN_UP=true, creates an account by the link with the name given", async () => {
    const email = uniqueEmail("newcomer");
    const browser = new Browser(SIGN_UP);
    const { page: codePage } = await askForCode(browser, email);
    expect(formOf(codePage, "/login/email/code")).toContain('name="new_account_name"');
    const { token } = await codeMail(email);
    const linkPage = await browser.open(`/sign-in/email?token=${encodeURIComponent(token)}`);
    const signedIn = await browser.submit(linkPage, "/sign-in/email", { new_account_name: "Newcomer Person" });
    expect(signedIn.status, textOf(await signedIn.clone().text()).slice(0, 400)).toBe(303);
    expect(browser.jar.has("__Host-gh_rt")).toBe(true);
    expect((await userRow(email))?.full_name).toBe("Newcomer Person");
  });
});

describe("the account page's switch", () => {
  it("shows the state and turns sign-in by code off and on", async () => {
    const user = await verifiedUser();
    const browser = new Browser();
    const { page } = await askForCode(browser, user.email);
    const { code } = await codeMail(user.email);
    expect((await browser.submit(page, "/login/email/code", { code })).status).toBe(303);

    let account = await browser.open("/account");
    expect(textOf(account)).toContain("On: you can sign in with a code mailed to your address");
    const off = await browser.submit(account, "/account/email-code");
    expect(off.status).toBe(303);
    expect(off.headers.get("location")).toBe("/account?notice=email_code_sign_in_off#email-code");
    expect((await userRow(user.email))?.email_code_sign_in).toBe(0);
    account = await browser.open("/account?notice=email_code_sign_in_off");
    expect(textOf(account)).toContain("Codes mailed to your address no longer sign in to this account.");
    expect(textOf(account)).toContain("Off: codes mailed to your address cannot sign in to this account.");

    // The answer stays the same for everyone asking; no code is mailed.
    const before = (await outbox(user.email, "sign_in_code")).length;
    await askForCode(new Browser(), user.email);
    expect(await outbox(user.email, "sign_in_code")).toHaveLength(before);

    const on = await browser.submit(account, "/account/email-code");
    expect(on.headers.get("location")).toBe("/account?notice=email_code_sign_in_on#email-code");
    expect((await userRow(user.email))?.email_code_sign_in).toBe(1);
  });
});
