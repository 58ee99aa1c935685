import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { currentStep, totpCode } from "../../scripts/totp.mjs";
import { expectAccessible } from "./pages";
import { launchChromium, type Gatehouse, startGatehouse } from "./harness.mjs";

/**
 * `MFA_REQUIRED=all` in Chromium, against a dev server of its own: a person whose account has no
 * second factor signs in with the password, is walked through setting one up on /login/enrol (an
 * authenticator app without JavaScript; a passkey with Chromium's virtual authenticator), keeps the
 * recovery codes, proves the new factor on /login/verify and lands signed in on /account.
 */

const PASSWORD = "correct horse battery staple 42";

let browser: Browser;
let gatehouse: Gatehouse;
let base = "";
const contexts: BrowserContext[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  gatehouse = await startGatehouse({ appOrigin: "http://app.example.localhost:9", vars: { MFA_REQUIRED: "all" } });
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
const newEmail = () => `enrol.${Date.now().toString(36)}.${++accounts}@example.com`;

/**
 * An account made through the API, which under the policy opens no session (202): the journeys
 * start at the password, as an operator's existing users do once the policy is switched on.
 */
async function registered(): Promise<string> {
  const email = newEmail();
  const res = await fetch(`${base}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD, full_name: "Enid Enrol" }),
  });
  expect(res.status).toBe(202);
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

async function signIn(page: Page, email: string) {
  await page.goto(`${base}/login`);
  const form = page.locator("form[action='/login']");
  await form.getByLabel("Email or username", { exact: true }).fill(email);
  await form.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(`${base}/login/enrol`);
  expect(await page.locator("main").textContent()).toContain("This site requires two-step verification");
}

describe("MFA_REQUIRED=all in Chromium", () => {
  it("without JavaScript: password, set up an authenticator app, keep the codes, the app's next code signs in", async () => {
    const email = await registered();
    const page = await newPage({ javaScript: false });
    await signIn(page, email);
    // No script: the passkey's form stays hidden, the app's set-up is all there is.
    expect(await page.getByRole("button", { name: "Make a passkey" }).count()).toBe(0);
    await page.getByRole("button", { name: "Set up an authenticator app" }).click();
    await page.waitForURL(`${base}/login/enrol?notice=totp_started`);
    expect(await page.getByRole("img", { name: "QR code that adds this account to an authenticator app" }).isVisible()).toBe(true);
    const secret = (await page.locator("#totp-secret").textContent())!.replace(/\s/g, "");

    // axe runs as a script: a second browser with the same cookies, JavaScript on.
    const inspect = await newPage();
    await inspect.context().addCookies(await page.context().cookies());
    await inspect.goto(`${base}/login/enrol`);
    await expectAccessible(inspect);
    await inspect.close();

    const confirmedStep = currentStep();
    await page.getByLabel("Code from your authenticator app", { exact: true }).fill(totpCode(secret, confirmedStep));
    await page.getByRole("button", { name: "Turn on two-step verification" }).click();
    await page.waitForURL(`${base}/login/enrol/totp/confirm`);
    expect(await page.locator("#recovery-codes-list code").allTextContents()).toHaveLength(10);
    expect((await page.context().cookies(base)).map((c) => c.name)).not.toContain("__Host-gh_rt");

    await page.getByRole("link", { name: "Continue" }).click();
    await page.waitForURL(`${base}/login/verify`);
    expect(await page.locator("main").textContent()).toContain("enter the next code your authenticator app shows");
    // As the page says: the code the app set-up took is spent, so wait for the app's next one.
    while (currentStep() <= confirmedStep) await new Promise((resolve) => setTimeout(resolve, 250));
    await page.getByLabel("Code from your authenticator app", { exact: true }).fill(totpCode(secret));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${base}/account`);
    expect(await page.locator("main").textContent()).toContain(email);
    expect(await page.getByText("10 recovery codes left.").isVisible()).toBe(true);
    expect((await page.context().cookies(base)).map((c) => c.name)).not.toContain("__Host-gh_mfa");
  }, 90_000);

  it("with a passkey: password, make a passkey with the page script, keep the codes, the passkey signs in", async () => {
    const email = await registered();
    const page = await newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await signIn(page, email);
    await expectAccessible(page);
    const make = page.getByRole("button", { name: "Make a passkey" });
    await make.waitFor({ state: "visible" });
    await make.click();
    await page.waitForURL(`${base}/login/enrol/passkey`);
    expect(await page.getByRole("status").first().textContent()).toContain("Your passkey is set up.");
    expect(await page.locator("#recovery-codes-list code").allTextContents()).toHaveLength(10);
    await expectAccessible(page);
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.rpId).toBe("localhost");

    await page.getByRole("link", { name: "Continue" }).click();
    await page.waitForURL(`${base}/login/verify`);
    expect(await page.getByLabel("Code from your authenticator app", { exact: true }).count()).toBe(0);
    const usePasskey = page.getByRole("button", { name: "Use a passkey" });
    await usePasskey.waitFor({ state: "visible" });
    await expectAccessible(page);
    await usePasskey.click();
    await page.waitForURL(`${base}/account`);
    expect(await page.locator("main").textContent()).toContain(email);
    expect((await page.context().cookies(base)).map((c) => c.name)).toContain("__Host-gh_rt");
  });
});
