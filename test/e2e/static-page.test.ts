import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, type Gatehouse, type Site, startGatehouse, startSite } from "./harness.mjs";
import { staticPage } from "./static-page-site.mjs";

/**
 * examples/static-page, unchanged but for its gatehouse-url meta tag, served from
 * app.example.localhost beside Gatehouse at auth.example.localhost: sign in, a reload keeps the
 * session (Gatehouse's cookie), a wrong password shows Gatehouse's message, sign out.
 */

let browser: Browser;
let gatehouse: Gatehouse;
let site: Site;
let authBase = "";

beforeAll(async () => {
  browser = await launchChromium();
  site = await startSite(() => staticPage(authBase));
  gatehouse = await startGatehouse({ appOrigin: `http://app.example.localhost:${site.port}` });
  authBase = `http://auth.example.localhost:${gatehouse.port}`;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await gatehouse?.stop();
  await site?.close();
}, 60_000);

async function registerAccount() {
  const account = { email: `static-${Date.now()}@example.com`, password: "correct horse battery staple 42", full_name: "Static Page" };
  const res = await fetch(`http://127.0.0.1:${gatehouse.port}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(account),
  });
  expect(res.status).toBe(201);
  return account;
}

async function status(page: Page): Promise<string> {
  return (await page.locator("#status").textContent()) ?? "";
}

describe("examples/static-page", () => {
  it("signs in with the browser client, keeps the session across a reload, and signs out", async () => {
    const account = await registerAccount();
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`http://app.example.localhost:${site.port}/`);
    await page.locator("#sign-in").waitFor({ state: "visible" });
    expect(await status(page)).toBe("Signed out.");

    await page.fill("#email", account.email);
    await page.fill("#password", "not the password");
    await page.click("button[type=submit]");
    await page.waitForFunction(() => document.getElementById("status")?.textContent !== "Signed out.");
    expect(await status(page)).toBe("Email or password is incorrect.");

    await page.fill("#password", account.password);
    await page.click("button[type=submit]");
    await page.locator("#signed-in").waitFor({ state: "visible" });
    expect(await page.locator("#who").textContent()).toBe(`Static Page <${account.email}>`);

    await page.reload();
    await page.locator("#signed-in").waitFor({ state: "visible" });
    expect(await status(page)).toBe("Signed in.");

    await page.click("#sign-out");
    await page.locator("#sign-in").waitFor({ state: "visible" });
    expect(await status(page)).toBe("Signed out.");
    await page.reload();
    await page.locator("#sign-in").waitFor({ state: "visible" });
    expect(errors).toEqual([]);
  });
});
