import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { expectAccessible, journeySuite } from "./pages";

/**
 * Gatehouse as an OpenID provider in Chromium, against a dev server of its own: a superuser
 * registers a client in the administration console (the secret shown once), then a person is sent
 * to the authorization endpoint by that app, signs in, sees the consent page and allows it, and
 * the browser goes back to the app with a code; the account page lists the app and removes it; the
 * app's logout asks first. axe runs on each of these pages.
 */

const PASSWORD = "correct horse battery staple 42";
// Nothing listens there: the browser's request to it is all the journey needs to see.
const REDIRECT = "http://127.0.0.1:9/callback";
const suite = journeySuite({});
const newPage = suite.newPage;

let people = 0;
async function person(name: string): Promise<string> {
  const email = `${name}.${Date.now().toString(36)}.${++people}@example.com`;
  const res = await fetch(`${suite.base()}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD, full_name: "Olive Provider" }),
  });
  expect(res.status).toBe(201);
  return email;
}

async function signIn(page: Page, email: string) {
  await page.getByLabel("Email or username").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

describe("the OpenID provider's pages in Chromium", () => {
  it("console registration, sign-in and consent, the app on the account page, logout", async () => {
    const adminEmail = await person("admin");
    suite.gatehouse().grantSuperuser(adminEmail);
    const admin = await newPage();
    await admin.goto(`${suite.base()}/login?return_to=%2Fadmin%2Foauth-clients`);
    await signIn(admin, adminEmail);
    await admin.waitForURL(`${suite.base()}/admin/oauth-clients`);
    await expectAccessible(admin);
    await admin.getByLabel("Name", { exact: true }).fill("Partner Notes");
    await admin.getByLabel("Redirect URIs", { exact: true }).fill(REDIRECT);
    await admin.getByRole("button", { name: "Register client" }).click();
    await expectAccessible(admin);
    const clientId = (await admin.locator("main").textContent())!.match(/gc_[A-Za-z0-9_-]{22}/)![0];

    const email = await person("olive");
    const page = await newPage();
    const query = new URLSearchParams({
      client_id: clientId,
      redirect_uri: REDIRECT,
      response_type: "code",
      scope: "openid email offline_access",
      state: "s1",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
    });
    await page.goto(`${suite.base()}/oauth/authorize?${query.toString()}`);
    expect(page.url(), (await page.locator("main").textContent()) ?? "").toMatch(/\/login\?/);
    await signIn(page, email);
    await page.waitForURL(/\/oauth\/authorize\?/);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Allow Partner Notes to use your account?");
    await expectAccessible(page);
    const back = page.waitForRequest((request) => request.url().startsWith(REDIRECT));
    await page.getByRole("button", { name: "Allow" }).click();
    const callback = new URL((await back).url());
    expect(callback.searchParams.get("code")).toBeTruthy();
    expect(callback.searchParams.get("state")).toBe("s1");

    // The app's address answers nothing here; the account goes on in another tab of the same browser.
    const account = await page.context().newPage();
    await account.goto(`${suite.base()}/account#apps`);
    const apps = account.locator("#apps");
    expect(await apps.textContent()).toContain("Partner Notes");
    await expectAccessible(account);
    await apps.getByRole("button", { name: /Remove access/ }).click();
    await account.waitForURL(/notice=grant_revoked/);
    expect(await account.locator("#apps").textContent()).not.toContain("Partner Notes");

    // The app's logout without an id_token_hint asks first.
    await account.goto(`${suite.base()}/oauth/logout?client_id=${clientId}`);
    await expectAccessible(account);
    await account.getByRole("button", { name: "Sign out" }).click();
    await account.waitForURL(/\/login\?notice=signed_out/);
  });
});
