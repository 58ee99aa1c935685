import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { expectAccessible, journeySuite } from "./pages";

/**
 * How the pages look in Chromium, in light and dark mode and on a 390×844 phone: the dev landing
 * page, the API reference, the sign-in page and the account page after a password change (its
 * notice where the person is looking) with its security log (labels, not codes). Each is checked
 * with axe and for horizontal scrolling, and saved to /tmp/shots/<name>-<mode>.png for a person to
 * look at.
 */

const PASSWORD = "correct horse battery staple 42";
const NEW_PASSWORD = "another long passphrase 2026";
const SHOTS = "/tmp/shots";

const suite = journeySuite({});

interface Mode {
  name: "light" | "dark" | "phone";
  viewport: { width: number; height: number };
  colorScheme: "light" | "dark";
}

const MODES: Mode[] = [
  { name: "light", viewport: { width: 1280, height: 900 }, colorScheme: "light" },
  { name: "dark", viewport: { width: 1280, height: 900 }, colorScheme: "dark" },
  { name: "phone", viewport: { width: 390, height: 844 }, colorScheme: "light" },
];

async function pageIn(mode: Mode): Promise<Page> {
  const page = await suite.newPage();
  await page.setViewportSize(mode.viewport);
  await page.emulateMedia({ colorScheme: mode.colorScheme });
  return page;
}

/** axe, no horizontal scroll at this width, and the screenshot (the whole page unless `viewportOnly`). */
async function check(page: Page, mode: Mode, name: string, viewportOnly = false) {
  await expectAccessible(page);
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  expect(widths.scroll, `${name} scrolls sideways in ${mode.name}`).toBeLessThanOrEqual(widths.inner);
  await page.screenshot({ path: `${SHOTS}/${name}-${mode.name}.png`, fullPage: !viewportOnly });
}

let people = 0;
async function person(): Promise<string> {
  const email = `look.${Date.now().toString(36)}.${++people}@example.com`;
  const res = await fetch(`${suite.base()}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD, full_name: "Lou Looker" }),
  });
  expect(res.status).toBe(201);
  return email;
}

/** A security log code as it would leak onto a page: `login.new_device`. */
const RAW_CODE = /\b[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*\b/;

describe.each(MODES)("the pages in $name mode", (mode) => {
  it("the dev landing page, the API reference and the sign-in page", async () => {
    const page = await pageIn(mode);
    await page.goto(`${suite.base()}/`);
    expect(await page.getByRole("link", { name: "Dev outbox" }).getAttribute("href")).toBe("/dev/outbox");
    await check(page, mode, "landing");

    await page.goto(`${suite.base()}/docs`);
    // Rendered Markdown: code spans are elements, no backtick left in the text.
    expect(await page.locator("main code").count()).toBeGreaterThan(50);
    expect(await page.locator("main").evaluate((main) => (main.textContent ?? "").includes("`"))).toBe(false);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe(mode.colorScheme === "dark" ? "rgb(14, 17, 21)" : "rgb(255, 255, 255)");
    await check(page, mode, "docs", true);
    const login = page.locator('[id="post-/api/v1/auth/login"]');
    await login.scrollIntoViewIfNeeded();
    await login.screenshot({ path: `${SHOTS}/docs-login-${mode.name}.png` });

    await page.goto(`${suite.base()}/login`);
    await check(page, mode, "login");
  });

  it("the account page: a password change's notice in view, the security log in words", async () => {
    const email = await person();
    // A failed sign-in for the log.
    await fetch(`${suite.base()}/api/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password: "not the password at all" }),
    });
    const page = await pageIn(mode);
    await page.goto(`${suite.base()}/login`);
    await page.getByLabel("Email or username").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${suite.base()}/account`);

    await page.locator("#password-current_password").fill(PASSWORD);
    await page.locator("#password-new_password").fill(NEW_PASSWORD);
    await page.locator("#password button[type=submit]").click();
    await page.waitForURL(/\/account\?notice=password_changed#password$/);
    const notice = page.locator("#password .notice");
    expect(await notice.textContent()).toContain("Your password was changed");
    // In view where the person is looking: the section the browser went to starts with it.
    const box = (await notice.boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.y + box.height).toBeLessThanOrEqual(mode.viewport.height);
    expect(await page.evaluate(() => document.querySelector(":target")?.id)).toBe("password");
    await check(page, mode, "account-password", true);

    const log = page.locator("#log");
    await log.scrollIntoViewIfNeeded();
    const words = await log.innerText();
    expect(words).toContain("Password changed");
    expect(words).toContain("Failed sign-in");
    expect(words).not.toMatch(RAW_CODE);
    await log.screenshot({ path: `${SHOTS}/account-log-${mode.name}.png` });
  });
});
