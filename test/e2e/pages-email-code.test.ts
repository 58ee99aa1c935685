import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, type Gatehouse, startGatehouse } from "./harness.mjs";

/**
 * Signing in without a password in Chromium, against a dev server of its own: "Email me a code" on
 * /login, the code typed on the code page (no JavaScript needed), and the mail's link opened in a
 * fresh browser, whose button signs that browser in. The code and the link come from the dev outbox.
 */

let browser: Browser;
let gatehouse: Gatehouse;
let base = "";
const contexts: BrowserContext[] = [];
const consoleErrors: string[] = [];

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

afterEach(() => {
  expect(consoleErrors.splice(0)).toEqual([]);
});

let accounts = 0;

/** An account made through the API (its password is never used here). */
async function registered(): Promise<string> {
  const email = `code.${Date.now().toString(36)}.${++accounts}@example.com`;
  const res = await fetch(`${base}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: "correct horse battery staple 42", full_name: "Cody Mailer" }),
  });
  expect(res.status).toBe(201);
  return email;
}

async function newPage(options: { javaScript?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ locale: "en-US", javaScriptEnabled: options.javaScript ?? true });
  contexts.push(context);
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
      consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  return page;
}

/** The newest sign-in code mail to `to`: its code and the page link it carries (mail goes out after the answer). */
async function codeMail(to: string): Promise<{ code: string; link: string }> {
  let messages: { kind: string; text: string; code?: string }[] = [];
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const res = await fetch(`${base}/api/v1/dev/outbox?to=${encodeURIComponent(to)}`);
    ({ messages } = (await res.json()) as { messages: typeof messages });
    const mail = messages.find((m) => m.kind === "sign_in_code");
    const link = /https?:\/\/\S*\/sign-in\/email\?\S+/.exec(mail?.text ?? "")?.[0];
    if (mail?.code && link) {
      expect(mail.text).toContain(mail.code);
      return { code: mail.code, link };
    }
  }
  throw new Error(`no sign_in_code mail for ${to}: ${JSON.stringify(messages)}`);
}

/** "Email me a code" from /login, up to the code page. */
async function askForCode(page: Page, email: string) {
  await page.goto(`${base}/login`);
  await page.getByRole("link", { name: "Email me a code" }).click();
  await page.waitForURL(`${base}/login/email`);
  await page.getByLabel("Email address", { exact: true }).fill(email);
  await page.getByRole("button", { name: "Email me a code" }).click();
  await page.waitForURL(`${base}/login/email/code?email=${encodeURIComponent(email)}`);
  expect(await page.locator("main").textContent()).toContain(`If ${email} can sign in with a code, we mailed it one`);
}

describe("sign-in by mailed code in Chromium", () => {
  it("without JavaScript: the code typed on the code page signs in, ending on /account", async () => {
    const email = await registered();
    const page = await newPage({ javaScript: false });
    await askForCode(page, email);
    const { code } = await codeMail(email);
    const field = page.getByLabel("Code from the email", { exact: true });
    expect(await field.getAttribute("autocomplete")).toBe("one-time-code");
    expect(await field.getAttribute("inputmode")).toBe("numeric");
    await field.fill(code);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${base}/account`);
    expect(await page.locator("header").textContent()).toContain(email);
  });

  it("by the link: a fresh browser opens it, sees the address, presses the button and is signed in; the asker is not", async () => {
    const email = await registered();
    const asker = await newPage();
    await askForCode(asker, email);
    const { link } = await codeMail(email);
    // The mail's link points at this worker's page (APP_URL unset).
    const url = new URL(link);
    expect(url.pathname).toBe("/sign-in/email");

    const opener = await newPage();
    await opener.goto(`${base}${url.pathname}${url.search}`);
    expect(await opener.locator("main").textContent()).toContain(`Sign in as ${email}?`);
    expect((await opener.context().cookies(base)).map((c) => c.name)).not.toContain("__Host-gh_rt");
    await opener.getByRole("button", { name: "Sign in", exact: true }).click();
    await opener.waitForURL(`${base}/account`);
    expect(await opener.locator("header").textContent()).toContain(email);
    expect((await asker.context().cookies(base)).map((c) => c.name)).not.toContain("__Host-gh_rt");
  });
});
