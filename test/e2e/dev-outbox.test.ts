import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { expectAccessible, journeySuite } from "./pages";

/**
 * The dev outbox page (`GET /dev/outbox`) in Chromium against a dev server of its own: two
 * registrations (one in Arabic) mail their verification links; the page lists them newest first
 * with their links, shows each HTML part in a sandboxed frame under the page's CSP (a blocked
 * inline style would be a console error, which fails the test), passes axe in light and dark, fits
 * a 390 px phone, filters by recipient, and a mail's button opens its link. A mail's HTML part is also
 * shown on its own, as a mail client would. Screenshots: /tmp/shots/outbox-*.png.
 */

const SHOTS = "/tmp/shots";
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const PASSWORD = "correct horse battery staple 42";
const suite = journeySuite({});

let people = 0;
async function registerIn(language: string): Promise<string> {
  const email = `outbox.${Date.now().toString(36)}.${++people}@example.com`;
  const res = await fetch(`${suite.base()}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept-Language": language },
    body: JSON.stringify({ email, password: PASSWORD, full_name: `Ada "the Countess" Lovelace` }),
  });
  expect(res.status).toBe(201);
  return email;
}

interface Message {
  subject: string;
  text: string;
  html: string;
  token: string;
}

async function mailTo(email: string): Promise<Message> {
  const res = await fetch(`${suite.base()}/api/v1/dev/outbox?to=${encodeURIComponent(email)}&include=html`);
  const { messages } = (await res.json()) as { messages: Message[] };
  expect(messages).toHaveLength(1);
  return messages[0]!;
}

/** Nothing wider than the viewport. */
async function overflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

describe("the dev outbox page in Chromium", () => {
  it("lists the mail with its links and both parts, accessible in light and dark, on a phone too", async () => {
    const english = await registerIn("en");
    const arabic = await registerIn("ar");
    const [englishMail, arabicMail] = [await mailTo(english), await mailTo(arabic)];
    const page = await suite.newPage();
    await page.goto(`${suite.base()}/dev/outbox`);
    await expect.poll(() => page.title()).toContain("Dev outbox");

    // Newest first: the Arabic registration came second.
    const subjects = await page.locator("article h2").allInnerTexts();
    expect(subjects.indexOf(arabicMail.subject)).toBeLessThan(subjects.indexOf(englishMail.subject));
    const article = page.locator("article", { has: page.getByRole("link", { name: english, exact: true }) });
    const link = `http://localhost:${suite.gatehouse().port}/verify-email?token=${englishMail.token}&lang=en`;
    expect(await article.getByRole("link", { name: link }).getAttribute("href")).toBe(link);

    // The HTML part, rendered with its inline styles (the CSP lets them through): the button.
    const frame = article.frameLocator("iframe");
    const button = frame.getByRole("link", { name: "Verify email" });
    expect(await button.evaluate((a) => getComputedStyle(a).backgroundColor)).toBe("rgb(31, 95, 191)");
    const arabicFrame = page.locator("article", { has: page.getByRole("link", { name: arabic, exact: true }) }).frameLocator("iframe");
    expect(await arabicFrame.locator("html").getAttribute("dir")).toBe("rtl");
    // The text part is there too, behind its summary.
    await article.getByText("Text part").click();
    expect(await article.locator("pre").innerText()).toContain(link);

    // The whole page in one viewport: a full-page screenshot leaves frames it had to scroll to blank.
    await page.setViewportSize({ width: DESKTOP.width, height: await page.evaluate(() => document.documentElement.scrollHeight) });
    for (const dark of [false, true]) {
      await page.emulateMedia({ colorScheme: dark ? "dark" : "light" });
      await expectAccessible(page);
      await page.screenshot({ path: `${SHOTS}/outbox-${dark ? "dark" : "light"}.png` });
    }
    await page.setViewportSize(PHONE);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${SHOTS}/outbox-phone-dark.png` });
    await page.emulateMedia({ colorScheme: "light" });
    await page.screenshot({ path: `${SHOTS}/outbox-phone.png` });
    await page.setViewportSize(DESKTOP);

    // A filter by recipient.
    await page.getByLabel("Recipient", { exact: true }).fill(arabic);
    await page.getByRole("button", { name: "Show their mail" }).click();
    await expect.poll(() => page.locator("article").count()).toBe(1);
    expect(await page.locator("article h2").innerText()).toBe(arabicMail.subject);

    // The mail's button takes this tab to its page (which refuses to be framed).
    await page.frameLocator("iframe").getByRole("link").first().click();
    await page.waitForURL(/\/verify-email\?/);
    expect(page.url()).toBe(`http://localhost:${suite.gatehouse().port}/verify-email?token=${arabicMail.token}&lang=ar`);
  });

  it("a mail's HTML part on its own, as a mail client shows it: accessible, light and dark, phone width", async () => {
    const email = await registerIn("en");
    const mail = await mailTo(email);
    const page = await suite.newPage();
    await page.setContent(mail.html);
    await expectAccessible(page);
    await page.screenshot({ path: `${SHOTS}/outbox-mail.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: "dark" });
    await expectAccessible(page);
    await page.setViewportSize(PHONE);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${SHOTS}/outbox-mail-dark-phone.png`, fullPage: true });
    const arabic = await mailTo(await registerIn("ar"));
    await page.emulateMedia({ colorScheme: "light" });
    await page.setContent(arabic.html);
    await expectAccessible(page);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${SHOTS}/outbox-mail-ar-phone.png`, fullPage: true });
  });
});
