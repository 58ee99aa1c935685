import type { Browser, BrowserContext, CDPSession, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Gatehouse as GatehouseClient } from "../../src/client/gatehouse";
import { launchChromium, type Gatehouse, startGatehouse } from "./harness.mjs";

/**
 * Passkeys in Chromium with its virtual authenticator (DevTools `WebAuthn` domain): the hosted
 * pages' passkey script (add on /account, sign in with the button on /login) and the browser
 * client's `signInWithPasskey`, against `npm run dev`. The worker's PUBLIC_URL is
 * `http://localhost:<port>`, so the relying party is `localhost`, which Chromium accepts there.
 */

const PASSWORD = "correct horse battery staple 42";

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
const newEmail = () => `passkey.${Date.now().toString(36)}.${++accounts}@example.com`;

/** A page whose browser has a platform authenticator that verifies the user and answers at once. */
async function pageWithAuthenticator(
  options: { bypassCSP?: boolean } = {},
): Promise<{ page: Page; cdp: CDPSession; authenticatorId: string }> {
  const context = await browser.newContext({ locale: "en-US", bypassCSP: options.bypassCSP ?? false });
  contexts.push(context);
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
      consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  const cdp = await context.newCDPSession(page);
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
  return { page, cdp, authenticatorId };
}

async function register(page: Page, email: string) {
  await page.goto(`${base}/register`);
  const form = page.locator("form[action='/register']");
  await form.getByLabel("Full name", { exact: true }).fill("Ada Passkey");
  await form.getByLabel("Email address", { exact: true }).fill(email);
  await form.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(`${base}/account?notice=welcome`);
}

/** Registers, and adds a passkey from /account (a fresh session: the button is there). */
async function withPasskey(page: Page, cdp: CDPSession, authenticatorId: string, email: string) {
  await register(page, email);
  await page.goto(`${base}/account`);
  const add = page.locator("form[action='/account/passkeys']");
  await add.getByLabel("Passkey name", { exact: true }).fill("Virtual authenticator");
  await add.getByRole("button", { name: "Add a passkey" }).click();
  await page.waitForURL(`${base}/account/passkeys`);
  expect(await page.getByRole("status").first().textContent()).toContain("Your passkey was added");
  expect(await page.locator("#passkeys").textContent()).toContain("Virtual authenticator");
  expect(await page.locator("#passkeys").textContent()).toContain("Not used yet");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials).toHaveLength(1);
  expect(credentials[0]!.isResidentCredential).toBe(true);
  expect(credentials[0]!.rpId).toBe("localhost");
}

async function signOut(page: Page) {
  await page.goto(`${base}/account`);
  await page.getByRole("button", { name: "Sign out this device" }).click();
  await page.waitForURL(`${base}/login?notice=signed_out`);
  expect((await page.context().cookies(base)).map((c) => c.name)).not.toContain("__Host-gh_rt");
}

describe("passkeys in Chromium", () => {
  it("register, add a passkey on /account, sign out, sign in with the passkey button on /login", async () => {
    const { page, cdp, authenticatorId } = await pageWithAuthenticator();
    const email = newEmail();
    await withPasskey(page, cdp, authenticatorId, email);
    await signOut(page);

    // The authenticator waits for a touch, so the autofill's request (conditional mediation) stays
    // pending on /login; the button ends it and asks again, and the touch answers that one.
    await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: false });
    await page.goto(`${base}/login?return_to=${encodeURIComponent("/account?via=passkey")}`);
    expect(await page.getByLabel("Email or username", { exact: true }).getAttribute("autocomplete")).toBe("username webauthn");
    const button = page.getByRole("button", { name: "Sign in with a passkey" });
    await button.waitFor({ state: "visible" });
    await expect.poll(() => optionsRequests()).toBeGreaterThan(0);
    const beforeClick = optionsRequests();
    await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: true });
    await button.click();
    await page.waitForURL(`${base}/account?via=passkey`);
    expect(optionsRequests()).toBe(beforeClick + 1);
    expect(await page.locator("main").textContent()).toContain(email);
    const cookies = await page.context().cookies(base);
    expect(cookies.find((c) => c.name === "__Host-gh_rt")).toMatchObject({ httpOnly: true, secure: true });
    const listed = await page.locator("#passkeys").textContent();
    expect(listed).toContain("Last used");
    expect(listed).not.toContain("Not used yet");
  });

  it("the identifier's autofill (conditional mediation) signs in with the passkey the person picks", async () => {
    const { page, cdp, authenticatorId } = await pageWithAuthenticator();
    const email = newEmail();
    await withPasskey(page, cdp, authenticatorId, email);
    await signOut(page);
    // The virtual authenticator with automatic presence picks the one passkey for the person.
    await page.goto(`${base}/login`);
    await page.waitForURL(`${base}/account`);
    expect(await page.locator("main").textContent()).toContain(email);
  });

  it("a passkey as the second step: the password, then 'Use a passkey' on /login/verify", async () => {
    const { page, cdp, authenticatorId } = await pageWithAuthenticator();
    const email = newEmail();
    await withPasskey(page, cdp, authenticatorId, email);
    await signOut(page);

    // No touch on /login: the autofill's pending request must not sign in before the password does.
    await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: false });
    await page.goto(`${base}/login`);
    const login = page.locator("form[action='/login']");
    await login.getByLabel("Email or username", { exact: true }).fill(email);
    await login.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${base}/login/verify`);
    const usePasskey = page.getByRole("button", { name: "Use a passkey" });
    await usePasskey.waitFor({ state: "visible" });
    await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: true });
    await usePasskey.click();
    await page.waitForURL(`${base}/account`);
    expect(await page.locator("main").textContent()).toContain(email);
    expect((await page.context().cookies(base)).map((c) => c.name)).not.toContain("__Host-gh_mfa");
  });

  it("after an administrator's reset, the passkey asks for the mailed code beside its field, then is added with it", async () => {
    const adminEmail = newEmail();
    const { page: console_ } = await pageWithAuthenticator();
    await register(console_, adminEmail);
    gatehouse.grantSuperuser(adminEmail);
    const { page, cdp, authenticatorId } = await pageWithAuthenticator();
    const email = newEmail();
    await register(page, email);

    await console_.goto(`${base}/admin?query=${encodeURIComponent(email)}`);
    await console_.getByRole("link", { name: `Open ${email}` }).click();
    await console_.getByRole("button", { name: "Reset second factors" }).click();
    await console_.waitForURL(/notice=second_factors_reset$/);

    await page.goto(`${base}/account`);
    const add = page.locator("form[action='/account/passkeys']");
    const code = add.getByLabel("Code from the email", { exact: true });
    await add.getByRole("button", { name: "Add a passkey" }).click();
    // The options' refusal, in the page's words, beside the field that needs the code, and focused.
    await expect.poll(() => code.getAttribute("aria-invalid")).toBe("true");
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("passkey_add-email_code");
    const error = page.locator("#passkey_add-email_code-error");
    expect(await error.textContent()).toBe("We mailed a code to your address: enter it here, then press the button again.");
    expect(await code.getAttribute("aria-describedby")).toBe("passkey_add-email_code-hint passkey_add-email_code-error");
    expect((await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials).toHaveLength(0);

    await code.fill(await mailedCode(email));
    await add.getByRole("button", { name: "Add a passkey" }).click();
    await page.waitForURL(`${base}/account/passkeys`);
    expect(await page.getByRole("status").first().textContent()).toContain("Your passkey was added");
    expect((await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials).toHaveLength(1);
  });

  it("without JavaScript the passkey button stays hidden and the password still signs in", async () => {
    const context = await browser.newContext({ locale: "en-US", javaScriptEnabled: false });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    expect(await page.getByRole("button", { name: "Sign in with a passkey" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Sign in", exact: true }).count()).toBe(1);
  });

  it("the browser client's signInWithPasskey signs in in cookie mode", async () => {
    // The client's page here is a document of the worker's own origin (the RP ID is `localhost`, so a
    // site on another host could not use these passkeys); the worker's answers forbid scripts, so
    // this one test lets the browser ignore CSP to load the served client into it.
    const { page, cdp, authenticatorId } = await pageWithAuthenticator({ bypassCSP: true });
    const email = newEmail();
    await withPasskey(page, cdp, authenticatorId, email);
    // Signed out by forgetting the cookies, away from /login: its autofill would sign this browser
    // in again on its own (the virtual authenticator answers conditional requests), racing the test.
    await page.goto("about:blank");
    await page.context().clearCookies();

    await page.goto(`${base}/client/v1/gatehouse.js`);
    await page.addScriptTag({
      type: "module",
      content: `import { createGatehouse } from "/client/v1/gatehouse.js"; window.gatehouse = createGatehouse({ baseUrl: location.origin });`,
    });
    await page.waitForFunction(() => "gatehouse" in window);
    const result = await page.evaluate(async (authBase) => {
      const gh = (window as unknown as { gatehouse: GatehouseClient }).gatehouse;
      const session = await gh.signInWithPasskey();
      const me = await gh.fetch(`${authBase}/api/v1/users/me`);
      return { email: session.user.email, hasRefresh: "refresh_token" in session, me: me.status };
    }, base);
    expect(result).toEqual({ email, hasRefresh: false, me: 200 });
    expect((await page.context().cookies(base)).map((c) => c.name)).toContain("__Host-gh_rt");
  });
});

/** The enrolment code mailed to `to` (mail goes out after the answer: it may take a moment). */
async function mailedCode(to: string): Promise<string> {
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const res = await fetch(`${base}/api/v1/dev/outbox?to=${encodeURIComponent(to)}`);
    const { messages } = (await res.json()) as { messages: { subtype?: string; code?: string }[] };
    const code = messages.find((m) => m.subtype === "mfa_enrolment")?.code;
    if (code) return code;
  }
  throw new Error(`no enrolment code mailed to ${to}`);
}

/** How many passkey sign-in options the worker has handed out so far (its request log). */
function optionsRequests(): number {
  return gatehouse.requests().filter((r) => r.method === "POST" && typeof r.route === "string" && r.route.endsWith("/auth/passkey/options"))
    .length;
}
