import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { currentStep, totpCode } from "../../scripts/totp.mjs";
import { launchChromium, messages, type Gatehouse, startGatehouse } from "./harness.mjs";
import { expectAccessible } from "./pages";

/**
 * The hosted pages of `npm run dev` in a real browser, with and without JavaScript
 * (they have none of their own), the mailed links from the dev outbox, axe-core on every page, and
 * the screenshots of the tour in docs/hosted-pages.md#a-tour (written to GATEHOUSE_SCREENSHOTS,
 * e.g. docs/screenshots, or a temporary folder).
 */

declare const process: { env: Record<string, string | undefined> };

const SCREENSHOTS = process.env.GATEHOUSE_SCREENSHOTS || "/tmp/gatehouse-e2e-screenshots";
const PASSWORD = "correct horse battery staple 42";
const NEW_PASSWORD = "a brand new passphrase for 2027";
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

let browser: Browser;
let gatehouse: Gatehouse;
/** The worker's PUBLIC_URL in `npm run dev`: mailed links point here, so the pages are used here. */
let base = "";
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  gatehouse = await startGatehouse({ appOrigin: "http://app.example.localhost:9" });
  base = `http://localhost:${gatehouse.port}`;
}, 180_000);

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await gatehouse?.stop();
}, 60_000);

let accounts = 0;
function newEmail(name = "e2e"): string {
  return `${name}.${Date.now().toString(36)}.${++accounts}@example.com`;
}

async function newPage(
  options: { javaScript?: boolean; viewport?: { width: number; height: number }; dark?: boolean; locale?: string } = {},
): Promise<Page> {
  const context = await browser.newContext({
    // The browser's language: Chromium sends it as Accept-Language.
    locale: options.locale ?? "en-US",
    javaScriptEnabled: options.javaScript ?? true,
    viewport: options.viewport ?? DESKTOP,
    colorScheme: options.dark ? "dark" : "light",
  });
  contexts.push(context);
  const page = await context.newPage();
  // The pages load nothing but themselves: a CSP refusal (or any other error) is a bug. A 4xx
  // answer to the page itself is logged too, and is what some pages mean to answer.
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
      consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  return page;
}

const consoleErrors: string[] = [];
afterEach(() => {
  expect(consoleErrors.splice(0)).toEqual([]);
});

/**
 * The newest mail of `kind` to `to` from the dev outbox, and the page link it carries. Mail goes out
 * after the answer (waitUntil), so it may take a moment to arrive.
 */
async function mailedLink(to: string, kind: string, subject?: string): Promise<string> {
  let messages: { kind: string; subject: string; text: string }[] = [];
  let link: string | undefined;
  for (const deadline = Date.now() + 5_000; !link && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const res = await fetch(`${base}/api/v1/dev/outbox?to=${encodeURIComponent(to)}`);
    ({ messages } = (await res.json()) as { messages: typeof messages });
    const mail = messages.find((m) => m.kind === kind && (subject === undefined || m.subject === subject));
    link = /https?:\/\/\S+/.exec(mail?.text ?? "")?.[0];
  }
  if (!link) throw new Error(`no ${kind} link for ${to}: ${JSON.stringify(messages)}`);
  expect(link.startsWith(`${base}/`)).toBe(true);
  return link;
}

async function fill(page: Page, fields: Record<string, string>, form = "form") {
  for (const [label, value] of Object.entries(fields)) await page.locator(form).getByLabel(label, { exact: true }).fill(value);
}

async function register(page: Page, email: string, name = "Ada Lovelace") {
  await page.goto(`${base}/register`);
  await fill(page, { "Full name": name, "Email address": email, Password: PASSWORD });
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(`${base}/account?notice=welcome`);
}

async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${base}/login`);
  await fill(page, { "Email or username": email, Password: password });
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

async function shoot(page: Page, name: string, fullPage = name === "account") {
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: `${SCREENSHOTS}/${name}-phone.png`, fullPage });
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: `${SCREENSHOTS}/${name}-desktop.png`, fullPage });
}

describe("the hosted pages in Chromium", () => {
  it("without JavaScript: register, confirm from the mailed link elsewhere, sign in, change the password, the other session is gone, sign out", async () => {
    const email = newEmail("ada");
    const page = await newPage({ javaScript: false });
    await register(page, email);
    expect(await page.getByText(`Current address: ${email}`).isVisible()).toBe(true);

    // The link opened in another browser (a phone's mail app): it asks for the registration password.
    const elsewhere = await newPage({ javaScript: false });
    await elsewhere.goto(await mailedLink(email, "email_verification"));
    await elsewhere.getByRole("button", { name: "Confirm email address" }).click();
    expect(await elsewhere.getByRole("alert").textContent()).toContain("Enter the password chosen at registration");
    await fill(elsewhere, { "The password you chose when you registered": PASSWORD }, "form[action='/verify-email'] >> nth=0");
    await elsewhere.getByRole("button", { name: "Confirm email address" }).click();
    await elsewhere.waitForURL(`${base}/login?notice=email_verified`);
    expect(await elsewhere.getByRole("status").textContent()).toContain("Your email address is confirmed.");
    await signIn(elsewhere, email, PASSWORD);
    await elsewhere.waitForURL(`${base}/account`);
    expect(await elsewhere.locator("#email .badge").textContent()).toBe("verified");

    // The first browser changes the password: it stays signed in, the other one is out.
    await page.goto(`${base}/account`);
    await fill(page, { "Current password": PASSWORD, "New password": NEW_PASSWORD }, "form[action='/account/password']");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.waitForURL(`${base}/account?notice=password_changed#password`);
    expect(await page.getByRole("status").first().textContent()).toContain("Your password was changed");
    await elsewhere.goto(`${base}/account`);
    await elsewhere.waitForURL(`${base}/login?return_to=%2Faccount`);

    await page.goto(`${base}/account`);
    await page.getByRole("button", { name: "Sign out this device" }).click();
    await page.waitForURL(`${base}/login?notice=signed_out`);
    expect((await page.context().cookies(base)).map((c) => c.name)).not.toContain("__Host-gh_rt");
    await page.goto(`${base}/account`);
    await page.waitForURL(`${base}/login?return_to=%2Faccount`);
  });

  it("forgot password: the mailed link, a new password, sign in with it", async () => {
    const email = newEmail("grace");
    const first = await newPage();
    await register(first, email, "Grace Hopper");
    const page = await newPage();
    await page.goto(`${base}/forgot-password`);
    await fill(page, { "Email address": email });
    await page.getByRole("button", { name: "Send reset link" }).click();
    await page.waitForURL(`${base}/forgot-password?notice=reset_sent`);
    await page.goto(await mailedLink(email, "password_reset"));
    await fill(page, { "New password": "password" });
    await page.getByRole("button", { name: "Set new password" }).click();
    expect(await page.locator("#reset-new_password-error").isVisible()).toBe(true);
    expect(await page.locator("#reset-new_password").getAttribute("aria-invalid")).toBe("true");
    await fill(page, { "New password": NEW_PASSWORD });
    await page.getByRole("button", { name: "Set new password" }).click();
    await page.waitForURL(`${base}/login?notice=password_reset`);
    await signIn(page, email, NEW_PASSWORD);
    await page.waitForURL(`${base}/account`);
    // The registering browser's session ended with the reset.
    await first.goto(`${base}/account`);
    await first.waitForURL(`${base}/login?return_to=%2Faccount`);
  });

  it("a mail scanner's GET of the verification link verifies nothing", async () => {
    const email = newEmail("scanned");
    const page = await newPage();
    await register(page, email, "Scanned Person");
    const link = await mailedLink(email, "email_verification");
    for (let i = 0; i < 3; i++) expect((await page.request.get(link)).status()).toBe(200);
    await page.goto(`${base}/account`);
    expect(await page.locator("#email .badge").textContent()).toBe("not verified");
  });

  it("says a locked account is locked, in words, with the wait", async () => {
    const email = newEmail("locked");
    await register(await newPage(), email, "Locked Out");
    const page = await newPage();
    for (let i = 0; i < 5; i++) await signIn(page, email, `wrong guess number ${i}`);
    await signIn(page, email, PASSWORD);
    const alert = page.getByRole("alert");
    expect(await alert.textContent()).toMatch(/signing in to this account is paused\. Try again in \d+ minutes, or reset your password\./);
    await expectAccessible(page);
    await shoot(page, "login-locked");
  });

  it("works from the keyboard alone", async () => {
    const email = newEmail("keys");
    await register(await newPage(), email, "Key Board");
    const page = await newPage({ javaScript: false });
    await page.goto(`${base}/login`);
    // Skip link first, then the brand, then the form.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("login-identifier");
    await page.keyboard.type(email);
    await page.keyboard.press("Tab");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${base}/account`);
  });

  it("every page passes axe (no serious or critical violations) in light and dark, and is photographed at phone and desktop width", async () => {
    const email = newEmail("ada.lovelace");
    const page = await newPage();
    await register(page, email);
    const verify = await mailedLink(email, "email_verification");
    const visitor = await newPage();
    await visitor.goto(`${base}/forgot-password`);
    await fill(visitor, { "Email address": email });
    await visitor.getByRole("button", { name: "Send reset link" }).click();
    await visitor.waitForURL(`${base}/forgot-password?notice=reset_sent`);
    const reset = await mailedLink(email, "password_reset");

    const signedOut: [string, string][] = [
      ["login", "/login"],
      ["register", "/register"],
      ["forgot-password", "/forgot-password"],
      ["reset-password", reset.slice(base.length)],
      ["verify-email", verify.slice(base.length)],
      ["resend-verification", "/resend-verification"],
    ];
    for (const [name, path] of signedOut) {
      for (const dark of [false, true]) {
        const tab = await newPage({ dark });
        await tab.goto(`${base}${path}`);
        await expectAccessible(tab);
        if (!dark) await shoot(tab, name);
      }
    }
    // A form with its errors beside the fields.
    const errors = await newPage();
    await errors.goto(`${base}/register`);
    await errors.getByRole("button", { name: "Create account" }).click();
    await expectAccessible(errors);
    await shoot(errors, "register-errors");

    for (const [name, path] of [
      ["account", "/account"],
      ["logout", "/logout"],
    ] as const) {
      for (const dark of [false, true]) {
        await page.emulateMedia({ colorScheme: dark ? "dark" : "light" });
        await page.goto(`${base}${path}`);
        await expectAccessible(page);
        if (!dark) await shoot(page, name);
      }
    }
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto(`${base}/account`);
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SCREENSHOTS}/account-dark-phone.png` });
    await page.setViewportSize(DESKTOP);
    await page.emulateMedia({ colorScheme: "light" });

    // The email change: its confirmation page, then the old address's revert page.
    const moved = newEmail("ada.byron");
    await fill(page, { "New email address": moved, "Current password": PASSWORD }, "form[action='/account/email']");
    await page.getByRole("button", { name: "Change email address" }).click();
    await page.waitForURL(`${base}/account?notice=email_change_sent#email`);
    await page.goto(await mailedLink(moved, "email_change"));
    await expectAccessible(page);
    await shoot(page, "verify-email-change");
    await page.getByRole("button", { name: "Confirm email address" }).click();
    await page.waitForURL(`${base}/account?notice=email_changed`);
    const revert = await newPage();
    await revert.goto(await mailedLink(email, "security_notice", "Your email address was changed"));
    await expectAccessible(revert);
    await shoot(revert, "revert-email-change");
    // Sixteen page views, each through axe: the account page alone grew with every sign-in method.
  }, 150_000);

  it("the admin console: a superuser finds a user, deactivates them (their session ends), reactivates them", async () => {
    const adminEmail = newEmail("admin");
    const console_ = await newPage({ javaScript: false });
    await register(console_, adminEmail, "Ada Admin");
    gatehouse.grantSuperuser(adminEmail);
    const email = newEmail("mallory");
    const user = await newPage();
    await register(user, email, "Mallory Member");

    await console_.goto(`${base}/account`);
    await console_.getByRole("link", { name: "Administration" }).click();
    await console_.waitForURL(`${base}/admin`);
    await fill(console_, { "Email or username starts with": email.slice(0, 12) }, "form[role=search]");
    await console_.getByRole("button", { name: "Search" }).click();
    await console_.getByRole("link", { name: `Open ${email}` }).click();
    await console_.waitForURL(/\/admin\/users\/[0-9a-f-]+$/);
    const userUrl = console_.url();
    await console_.getByRole("button", { name: "Deactivate" }).click();
    await console_.waitForURL(`${userUrl}?notice=user_deactivated`);
    expect(await console_.getByRole("status").textContent()).toContain("The user was deactivated");

    // Their browser is signed out at once.
    await user.goto(`${base}/account`);
    await user.waitForURL(`${base}/login?return_to=%2Faccount`);
    // The right password: the page says why it cannot sign in (the API keeps its plain 401).
    await signIn(user, email, PASSWORD);
    expect(await user.getByRole("alert").textContent()).toContain("this account is deactivated");

    await console_.getByRole("button", { name: "Reactivate" }).click();
    await console_.waitForURL(`${userUrl}?notice=user_reactivated`);
    await signIn(user, email, PASSWORD);
    await user.waitForURL(`${base}/account`);

    // axe runs as a script: a second browser with the same sign-in, JavaScript on.
    const inspect = await newPage();
    await inspect.context().addCookies(await console_.context().cookies());
    const search = `/admin?query=${encodeURIComponent(email.slice(0, 8))}`;
    for (const dark of [false, true]) {
      await inspect.emulateMedia({ colorScheme: dark ? "dark" : "light" });
      for (const url of [`${base}${search}`, `${base}/admin/audit-logs`, userUrl]) {
        await inspect.goto(url);
        await expectAccessible(inspect);
      }
    }
    await inspect.emulateMedia({ colorScheme: "light" });
    await inspect.goto(`${base}${search}`);
    await shoot(inspect, "admin");
    await inspect.goto(userUrl);
    await shoot(inspect, "admin-user", true);
  });
});

describe("two-step verification in Chromium", () => {
  /** From /account: the set-up, its key read from the page's text (as a person types it into an app). */
  async function setUpApp(page: Page): Promise<string> {
    await page.goto(`${base}/account#security`);
    await page.getByRole("button", { name: "Set up an authenticator app" }).click();
    await page.waitForURL(`${base}/account?notice=totp_started#security`);
    expect(await page.getByRole("img", { name: "QR code that adds this account to an authenticator app" }).isVisible()).toBe(true);
    return (await page.locator("#totp-secret").textContent())!.replace(/\s/g, "");
  }

  async function turnOn(page: Page, secret: string): Promise<string[]> {
    await fill(page, { "Code from your authenticator app": totpCode(secret) }, "form[action='/account/mfa/totp/confirm']");
    await page.getByRole("button", { name: "Turn on two-step verification" }).click();
    await page.waitForURL(`${base}/account/mfa/totp/confirm`);
    const codes = await page.locator("#recovery-codes-list code").allTextContents();
    expect(codes).toHaveLength(10);
    return codes;
  }

  async function signOut(page: Page) {
    await page.goto(`${base}/account`);
    await page.getByRole("button", { name: "Sign out this device" }).click();
    await page.waitForURL(`${base}/login?notice=signed_out`);
  }

  it("without JavaScript: turn on an authenticator app, keep the recovery codes, sign in with a code, then with a recovery code", async () => {
    const email = newEmail("two.step");
    const page = await newPage({ javaScript: false });
    await register(page, email, "Tess Twostep");
    const secret = await setUpApp(page);
    const codes = await turnOn(page, secret);
    // The download is a data: link: no script needed. The copy button needs one, so it stays hidden.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download the codes" }).click()]);
    expect(download.suggestedFilename()).toBe("recovery-codes.txt");
    const href = await page.getByRole("link", { name: "Download the codes" }).getAttribute("href");
    for (const code of codes) expect(decodeURIComponent(href!)).toContain(code);
    expect(await page.getByRole("button", { name: "Copy the codes" }).count()).toBe(0);
    await page.goto(`${base}/account`);
    expect(await page.getByText("10 recovery codes left.").isVisible()).toBe(true);

    await signOut(page);
    await signIn(page, email, PASSWORD);
    await page.waitForURL(`${base}/login/verify`);
    // The step of the confirming code is used: the app's next one.
    await fill(page, { "Code from your authenticator app": totpCode(secret, currentStep() + 1) });
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${base}/account`);

    await signOut(page);
    await signIn(page, email, PASSWORD);
    await page.waitForURL(`${base}/login/verify`);
    await page.getByRole("link", { name: "Use a recovery code instead" }).click();
    await fill(page, { "Recovery code": codes[0]! });
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${base}/account`);
    expect(await page.getByText("9 recovery codes left.").isVisible()).toBe(true);
  });

  it("with JavaScript: axe on every step, the copy button, a wrong code beside the field, and the screenshots", async () => {
    const email = newEmail("two.step.js");
    const page = await newPage();
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    await register(page, email, "Jay Script");
    const secret = await setUpApp(page);
    await expectAccessible(page);
    await shoot(page, "account-two-step-setup", true);

    await fill(page, { "Code from your authenticator app": "000000" }, "form[action='/account/mfa/totp/confirm']");
    await page.getByRole("button", { name: "Turn on two-step verification" }).click();
    if (totpCode(secret) !== "000000") {
      expect(await page.locator("#mfa_confirm-code-error").textContent()).toBe("This code is wrong, has expired or was already used.");
      expect(await page.locator("#mfa_confirm-code").getAttribute("aria-invalid")).toBe("true");
      await expectAccessible(page);
    }
    const codes = await turnOn(page, secret);
    await expectAccessible(page);
    await page.getByRole("button", { name: "Copy the codes" }).click();
    await page.getByText("Copied.").waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(codes.join("\n"));
    await shoot(page, "recovery-codes");

    await signOut(page);
    await signIn(page, email, PASSWORD);
    await page.waitForURL(`${base}/login/verify`);
    await expectAccessible(page);
    await shoot(page, "login-verify");
    await fill(page, { "Code from your authenticator app": "12345" });
    await page.getByRole("button", { name: "Verify" }).click();
    expect(await page.locator("#login_verify-code-error").isVisible()).toBe(true);
    await expectAccessible(page);
    await fill(page, { "Code from your authenticator app": totpCode(secret, currentStep() + 1) });
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${base}/account`);
    await page.goto(`${base}/account#security`);
    await expectAccessible(page);
  });
});

describe("the hosted pages in the person's language", () => {
  const english = messages("en");

  /**
   * The page speaks `locale` alone: `<html lang dir>`, and none of the English texts of the
   * catalogue that this language words differently (the language switcher's own names aside).
   */
  async function expectSpeaks(page: Page, locale: string, words: Record<string, string>) {
    expect(await page.locator("html").getAttribute("lang")).toBe(locale);
    expect(await page.locator("html").getAttribute("dir")).toBe(locale === "ar" ? "rtl" : "ltr");
    const text = await page.locator("main").innerText();
    const leftovers = Object.entries(english).filter(
      ([key, en]) => !en.includes("{") && en.length >= 12 && words[key] !== en && text.includes(en),
    );
    expect(
      leftovers.map(([key]) => key),
      page.url(),
    ).toEqual([]);
  }

  /**
   * The screenshot at phone width, checked: nothing wider than the screen, and the heading set
   * from the side the language reads from (right for Arabic, left otherwise).
   */
  async function shootChecked(page: Page, locale: string, name: string) {
    await page.setViewportSize(PHONE);
    const layout = await page.evaluate(() => {
      const main = document.querySelector("main")!.getBoundingClientRect();
      const range = document.createRange();
      range.selectNodeContents(document.querySelector("h1")!);
      const heading = range.getBoundingClientRect();
      return {
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        fromStart: heading.left - main.left,
        fromEnd: main.right - heading.right,
      };
    });
    expect(layout.overflow, `${name}: wider than a phone`).toBeLessThanOrEqual(0);
    if (locale === "ar") expect(layout.fromEnd, `${name}: heading not at the right`).toBeLessThan(40);
    else expect(layout.fromStart, `${name}: heading not at the left`).toBeLessThan(40);
    await page.screenshot({ path: `${SCREENSHOTS}/lang-${locale}-${name}-phone.png`, fullPage: true });
    await page.setViewportSize(DESKTOP);
  }

  async function mailIn(to: string, kind: string, locale: string, words: Record<string, string>, subjectKey: string) {
    const res = await fetch(`${base}/api/v1/dev/outbox?to=${encodeURIComponent(to)}`);
    const { messages: mail } = (await res.json()) as { messages: { kind: string; locale: string; subject: string; text: string }[] };
    const found = mail.find((m) => m.kind === kind && m.subject === words[subjectKey]);
    expect(found, `${kind} "${words[subjectKey]}" for ${to}: ${mail.map((m) => m.subject).join(", ")}`).toMatchObject({ locale });
    return found!;
  }

  for (const [locale, acceptLanguage] of [
    ["ar", "ar-EG"],
    ["de", "de-DE"],
    ["ja", "ja-JP"],
  ] as const) {
    it(`${locale}: register, confirm, sign out, sign in, reset the password, all in ${locale}, mail included`, async () => {
      const t = messages(locale);
      const email = newEmail(`lang-${locale}`);
      const page = await newPage({ locale: acceptLanguage });
      const check = async (name: string) => {
        await expectSpeaks(page, locale, t);
        await expectAccessible(page);
        await shootChecked(page, locale, name);
      };

      await page.goto(`${base}/register`);
      await check("register");
      await fill(page, {
        [t["fields.full_name.label"]!]: "Noor Haddad",
        [t["fields.email.label"]!]: email,
        [t["fields.password.label"]!]: PASSWORD,
      });
      await page.getByRole("button", { name: t["register.submit"] }).click();
      await page.waitForURL(`${base}/account?notice=welcome`);
      expect(await page.getByRole("status").first().textContent()).toContain(t["notices.welcome"]);
      await check("account");

      await mailedLink(email, "email_verification");
      const verification = await mailIn(email, "email_verification", locale, t, "mail.verification.subject");
      expect(verification.text).toContain(t["mail.verification.ignore"]);
      await page.goto(/https?:\/\/\S+/.exec(verification.text)![0]);
      await check("verify-email");
      await page.getByRole("button", { name: t["verify.submit"] }).click();
      await page.waitForURL(`${base}/account?notice=email_verified`);

      await page.getByRole("button", { name: t["account.signOutHere"] }).click();
      await page.waitForURL(`${base}/login?notice=signed_out`);
      await check("login");
      await fill(page, { [t["fields.identifier.label"]!]: email, [t["fields.password.label"]!]: PASSWORD });
      await page.getByRole("button", { name: t["login.submit"], exact: true }).click();
      await page.waitForURL(`${base}/account`);
      await page.getByRole("button", { name: t["account.signOutHere"] }).click();
      await page.waitForURL(`${base}/login?notice=signed_out`);

      await page.getByRole("link", { name: t["login.forgot"] }).click();
      await check("forgot-password");
      await fill(page, { [t["fields.email.label"]!]: email });
      await page.getByRole("button", { name: t["forgot.submit"] }).click();
      await page.waitForURL(`${base}/forgot-password?notice=reset_sent`);
      await mailedLink(email, "password_reset");
      const reset = await mailIn(email, "password_reset", locale, t, "mail.reset.subject");
      await page.goto(/https?:\/\/\S+/.exec(reset.text)![0]);
      await check("reset-password");
      await fill(page, { [t["fields.new_password.label"]!]: "short" });
      await page.getByRole("button", { name: t["reset.submit"] }).click();
      await expectSpeaks(page, locale, t);
      await expectAccessible(page);
      await fill(page, { [t["fields.new_password.label"]!]: NEW_PASSWORD });
      await page.getByRole("button", { name: t["reset.submit"] }).click();
      await page.waitForURL(`${base}/login?notice=password_reset`);
      expect(await page.getByRole("status").textContent()).toContain(t["notices.password_reset"]);
      await fill(page, { [t["fields.identifier.label"]!]: email, [t["fields.password.label"]!]: NEW_PASSWORD });
      await page.getByRole("button", { name: t["login.submit"], exact: true }).click();
      await page.waitForURL(`${base}/account`);
      // The notice of the reset came in the same language.
      await mailIn(email, "security_notice", locale, t, "mail.notice.password_reset.subject");
    });
  }

  it("the language switcher works without JavaScript and the choice sticks", async () => {
    const page = await newPage({ javaScript: false, locale: "en-US" });
    await page.goto(`${base}/login`);
    await page.getByRole("link", { name: "Français" }).click();
    await page.waitForURL(`${base}/login?lang=fr`);
    await page.getByRole("link", { name: messages("fr")["login.forgot"] }).click();
    expect(await page.locator("html").getAttribute("lang")).toBe("fr");
    expect(
      await page
        .getByRole("navigation", { name: messages("fr")["language.label"] })
        .getByText("Français")
        .getAttribute("aria-current"),
    ).toBe("true");
  });
});
