import { describe, expect, it } from "vitest";
import { fakeProviderVars, startFakeServices, type FakeServices } from "../../scripts/fake-services.mjs";
import { expectAccessible, journeySuite } from "./pages";

/**
 * Signing in with an external provider in Chromium, against a dev server of its own and the
 * loopback providers of `npm run fakes` (another site: 127.0.0.1 beside localhost). "Continue with
 * Fake ID" goes to the provider and back to /account; Apple's answer comes back as the provider
 * page's cross-site form POST, which carries none of Gatehouse's Lax cookies, and still lands
 * signed in; linking from the account page goes to the provider and back with a confirmation.
 */

let fakes: FakeServices;
const suite = journeySuite({
  before: async () => {
    fakes = await startFakeServices();
  },
  vars: () => fakeProviderVars(fakes),
  after: async () => {
    await fakes?.close();
  },
});
const newPage = suite.newPage;

/** What the fake `provider` asserts at its next sign-in. */
async function nextIdentity(provider: keyof FakeServices["issuers"], identity: Record<string, unknown>) {
  const res = await fetch(`${fakes.issuers[provider]}/_test/next-identity`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(identity),
  });
  expect(res.status).toBe(204);
}

let people = 0;
const address = (name: string) => `${name}.${Date.now().toString(36)}.${++people}@example.com`;

describe("external providers in Chromium", () => {
  it("signs up with a generic OpenID provider from /login and lands on /account, the provider listed", async () => {
    const email = address("fed");
    await nextIdentity("oidc", { sub: `e2e-${email}`, email, email_verified: true, name: "Fay Federated" });
    const page = await newPage();
    await page.goto(`${suite.base()}/login`);
    await expectAccessible(page);
    await page.getByRole("link", { name: "Continue with Fake ID" }).click();
    await page.waitForURL(`${suite.base()}/account`);
    await expectAccessible(page);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Your account");
    expect(await page.getByRole("heading", { name: "Sign-in providers" }).isVisible()).toBe(true);
    const section = page.locator("#identities");
    expect(await section.textContent()).toContain("Fake ID");
    expect(await page.textContent("header")).toContain(email);
  });

  it("signs in with Apple through its cross-site form_post", async () => {
    const email = address("apple");
    await nextIdentity("apple", { sub: `e2e-${email}`, email, email_verified: true, name: "Ann Apple" });
    const page = await newPage();
    await page.goto(`${suite.base()}/register`);
    await page.getByRole("link", { name: "Continue with Apple" }).click();
    // The fake's page posts the answer to Gatehouse by script (Apple's does the same).
    await page.waitForURL(`${suite.base()}/account`);
    expect(await page.textContent("header")).toContain(email);
    expect(await page.locator("#profile").getByLabel("Full name").inputValue()).toBe("Ann Apple");
  });

  it("asks for an address when GitHub gives no verified one, and creates the account once its mailed code is typed", async () => {
    const email = address("hub");
    await nextIdentity("github", {
      sub: String(Date.now() + people),
      email,
      emails: [{ email, primary: true, verified: false }],
      name: "Hu B",
    });
    const page = await newPage();
    await page.goto(`${suite.base()}/login`);
    await page.getByRole("link", { name: "Continue with GitHub" }).click();
    await page.waitForURL(`${suite.base()}/login/external`);
    await expectAccessible(page);
    await page.getByLabel("Email address").fill(email);
    await page.getByRole("button", { name: "Email me a code" }).click();
    let code: string | undefined;
    for (const deadline = Date.now() + 5_000; !code && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const res = await fetch(`${suite.base()}/api/v1/dev/outbox?to=${encodeURIComponent(email)}`);
      code = ((await res.json()) as { messages: { kind: string; code?: string }[] }).messages.find((m) => m.kind === "sign_in_code")?.code;
    }
    expect(code).toMatch(/^\d{8}$/);
    await expectAccessible(page);
    await page.getByLabel("Code from the email").fill(code!);
    await page.getByRole("button", { name: "Create my account" }).click();
    await page.waitForURL(`${suite.base()}/account`);
    expect(await page.textContent("header")).toContain(email);
  });

  it("links a provider from the account page and confirms it", async () => {
    const email = address("linker");
    const password = "correct horse battery staple 42";
    const registered = await fetch(`${suite.base()}/api/v1/auth/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password, full_name: "Lin Ker" }),
    });
    expect(registered.status).toBe(201);
    const page = await newPage();
    await page.goto(`${suite.base()}/login`);
    await page.getByLabel("Email or username").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${suite.base()}/account`);
    await nextIdentity("github", { sub: String(Date.now()), email: `gh-${email}`, email_verified: true, name: "Lin Hub" });
    await page.getByRole("button", { name: "Link GitHub" }).click();
    await page.waitForURL(/\/account\?notice=identity_linked/);
    expect(await page.getByRole("status").first().textContent()).toContain("The provider is linked");
    expect(await page.locator("#identities").textContent()).toContain("GitHub");
  });
});
