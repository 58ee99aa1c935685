import { describe, expect, it } from "vitest";
import { en } from "../src/i18n/en";
import { sectionOfNotice } from "../src/pages/account-notices";
import { auditRows, login, outbox, STRONG_PASSWORD, uniqueEmail, userRow } from "./helpers";
import { Browser, textOf } from "./pages-browser";

/**
 * A password change on the account page: its result shows where the person is looking (in the
 * password section, where the redirect scrolls), and the browser that made it stays the owner's
 * known device, so signing in again from it raises no "new sign-in" alarm, while a device nobody
 * proved still does.
 */

const NEW_PASSWORD = "another long passphrase 2026";
const DEVICE_COOKIE = "__Host-gh_dev";

/** A browser registered on the pages (it holds the registration's device cookie), and its address. */
async function registeredBrowser(): Promise<{ browser: Browser; email: string; userId: string }> {
  const browser = new Browser();
  const email = uniqueEmail("changer");
  const res = await browser.submit(await browser.open("/register"), "/register", {
    full_name: "Chris Changer",
    email,
    password: STRONG_PASSWORD,
  });
  expect(res.status).toBe(303);
  expect(browser.jar.get(DEVICE_COOKIE)).toMatch(/^gd1\./);
  return { browser, email, userId: (await userRow(email))!.id as string };
}

const newDeviceRows = (userId: string) => auditRows("user_id = ? AND action = 'login.new_device'", userId);
/** The "new sign-in" mails: the security notices that carry a "this wasn't me" link. */
const newSignInMails = async (email: string) => (await outbox(email, "security_notice")).filter((m) => m.token !== null);

async function signIn(browser: Browser, email: string, password: string) {
  const res = await browser.submit(await browser.open("/login"), "/login", { identifier: email, password });
  expect(res.status).toBe(303);
}

/** The markup of the account page's section `id`. */
function sectionOf(html: string, id: string): string | null {
  return new RegExp(`<section id="${id}"[\\s\\S]*?</section>`).exec(html)?.[0] ?? null;
}

/** The markup before the table of contents: where a notice without a section shows. */
const top = (html: string) => html.slice(html.indexOf('<main id="main">'), html.indexOf('<nav class="toc"'));

describe("after a password change on the account page", () => {
  it("this browser stays a known device: its next sign-in is no new device; a new browser and the old token still are", async () => {
    const { browser, email, userId } = await registeredBrowser();
    const before = browser.jar.get(DEVICE_COOKIE)!;
    const changed = await browser.submit(await browser.open("/account"), "/account/password", {
      current_password: STRONG_PASSWORD,
      new_password: NEW_PASSWORD,
    });
    expect(changed.status).toBe(303);
    expect(changed.headers.get("location")).toBe("/account?notice=password_changed#password");
    const cookie = changed.headers.getSetCookie().find((c) => c.startsWith(`${DEVICE_COOKIE}=`));
    expect(cookie).toMatch(/; Max-Age=7776000; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(browser.jar.get(DEVICE_COOKIE)).not.toBe(before);

    // Signed out and in again with the new password, from this browser: no alarm, no mail.
    await browser.submit(await browser.open("/logout"), "/logout");
    await signIn(browser, email, NEW_PASSWORD);
    expect(await newDeviceRows(userId)).toHaveLength(0);
    expect(await newSignInMails(email)).toHaveLength(0);

    // Another browser is a new device, and so is a client still holding the token from before the change.
    await signIn(new Browser(), email, NEW_PASSWORD);
    expect(await newDeviceRows(userId)).toHaveLength(1);
    expect(await newSignInMails(email)).toHaveLength(1);
    const stale = await login({ email, password: NEW_PASSWORD, device_token: before });
    expect(stale.status).toBe(200);
    expect((await stale.json<{ device_token: string }>()).device_token).not.toBe(before);
    expect(await newDeviceRows(userId)).toHaveLength(2);
  });

  it("a failed change hands out no device", async () => {
    const { browser } = await registeredBrowser();
    const before = browser.jar.get(DEVICE_COOKIE);
    const wrong = await browser.submit(await browser.open("/account"), "/account/password", {
      current_password: "not the current one",
      new_password: NEW_PASSWORD,
    });
    expect(wrong.status).toBe(400);
    expect(wrong.headers.getSetCookie().some((c) => c.startsWith(`${DEVICE_COOKIE}=`))).toBe(false);
    expect(browser.jar.get(DEVICE_COOKIE)).toBe(before);
  });

  it("shows its notice in the password section, right under its heading, not at the top of the page", async () => {
    const { browser } = await registeredBrowser();
    const html = await browser.open("/account?notice=password_changed");
    const section = sectionOf(html, "password")!;
    const heading = section.indexOf("</h2>");
    const notice = section.indexOf('<div class="notice" role="status">');
    expect(notice).toBeGreaterThan(heading);
    expect(textOf(section)).toContain(en.notices.password_changed);
    expect(top(html)).not.toContain('class="notice"');
    expect(html.match(/class="notice"/g)).toHaveLength(1);
  });

  it("every account notice shows in the section its redirect scrolls to; one without a section at the top", async () => {
    const { browser } = await registeredBrowser();
    for (const [notice, text] of Object.entries(en.notices)) {
      const section = sectionOfNotice(notice);
      const html = await browser.open(`/account?notice=${notice}`);
      const shown = section ? sectionOf(html, section) : null;
      // A section the deployment does not offer (no external providers here) leaves its notice at the top.
      const where = shown ?? top(html);
      expect(textOf(where), notice).toContain(text);
      expect(html.match(/class="notice"/g), notice).toHaveLength(1);
    }
    expect(textOf(top(await browser.open("/account?notice=email_verified")))).toContain(en.notices.email_verified);
  });
});
