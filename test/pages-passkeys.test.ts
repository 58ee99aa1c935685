import { describe, expect, it } from "vitest";
import { call, register, type Registered } from "./helpers";
import { Browser, formOf, OWN, textOf } from "./pages-browser";
import { SoftwareAuthenticator } from "./webauthn-authenticator";

/**
 * Passkeys on the hosted pages: the passkey button and autofill of /login, a passkey as the second
 * step of /login/verify, and the account page's list, add (fresh sessions only), rename and remove.
 * The page script's part (options, the ceremony, the form post) is played here with the software
 * authenticator; test/e2e/pages-passkeys.test.ts runs the real script in Chromium.
 */

/** A passkey added through the API with the registration's fresh access token. */
async function withPasskey(user?: Registered, backedUp = false) {
  const account = user ?? (await register());
  const authenticator = await SoftwareAuthenticator.create({ backupEligible: backedUp, backedUp });
  const options = await (await call("/api/v1/users/me/passkeys/options", { method: "POST", token: account.accessToken })).json<never>();
  const credential = await authenticator.register(options, OWN);
  const res = await call("/api/v1/users/me/passkeys", { token: account.accessToken, body: { credential, name: "Laptop" } });
  expect(res.status).toBe(201);
  return { user: account, authenticator };
}

/** What the page script does on /login: the API's options, the ceremony, the form post. */
async function passkeySignIn(browser: Browser, page: string, authenticator: SoftwareAuthenticator) {
  const options = await (await call("/api/v1/auth/passkey/options", { body: {}, ip: browser.ip })).json<never>();
  const credential = await authenticator.assert(options, OWN);
  return browser.submit(page, "/login/passkey", { credential: JSON.stringify(credential) });
}

/** The CSRF token of the form posting to `action`, which the page script sends with its options request. */
function tokenOf(html: string, action: string): string {
  return /name="csrf_token" value="([^"]+)"/.exec(formOf(html, action))![1]!;
}

async function passwordSignIn(user: Registered) {
  const browser = new Browser();
  const res = await browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password: user.password });
  expect(res.status).toBe(303);
  return { browser, res };
}

describe("/login with a passkey", () => {
  it("offers the passkey button (hidden until the script shows it) and the autofill, under the page's nonce", async () => {
    const browser = new Browser();
    const res = await browser.get("/login");
    const html = await res.text();
    const form = formOf(html, "/login/passkey");
    expect(form).toMatch(/<form[^>]* hidden[^>]*data-passkey="get"/);
    expect(form).toContain('data-options="/api/v1/auth/passkey/options"');
    expect(form).toContain("data-conditional");
    expect(html).toMatch(/name="identifier"[^>]*autocomplete="username webauthn"/);
    const csp = res.headers.get("content-security-policy")!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(html).toContain("mediation = mediation");
    expect(csp).toContain("connect-src 'self'");
  });

  it("signs the browser in like the password does, to return_to, and refuses a replayed assertion", async () => {
    const { user, authenticator } = await withPasskey();
    const browser = new Browser();
    const returnTo = `${OWN}/account?from=app`; // an address of this worker comes back as its path
    const page = await browser.open(`/login?return_to=${encodeURIComponent(returnTo)}`);
    const options = await (await call("/api/v1/auth/passkey/options", { body: {}, ip: browser.ip })).json<never>();
    const credential = JSON.stringify(await authenticator.assert(options, OWN));
    const res = await browser.submit(page, "/login/passkey", { credential });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account?from=app");
    expect(browser.jar.has("__Host-gh_rt")).toBe(true);
    expect(textOf(await browser.open("/account"))).toContain(user.email);

    // The same assertion again, in another browser: its challenge is spent.
    const other = new Browser();
    const again = await other.submit(await other.open("/login"), "/login/passkey", { credential });
    expect(again.status).toBe(401);
    expect(textOf(await again.text())).toContain("That passkey could not sign you in.");
    expect(other.jar.has("__Host-gh_rt")).toBe(false);
  });

  it("refuses a post without the form's token, and a mangled credential with the login page", async () => {
    const { authenticator } = await withPasskey();
    const browser = new Browser();
    const page = await browser.open("/login");
    const forged = await browser.post("/login/passkey", { credential: "{}" });
    expect(forged.status).toBe(403);
    const mangled = await browser.submit(page, "/login/passkey", { credential: "not json" });
    expect(mangled.status).toBe(422);
    expect(textOf(await mangled.text())).toContain("That passkey could not sign you in.");
    expect((await passkeySignIn(browser, page, authenticator)).status).toBe(303);
  });
});

describe("/login/verify with a passkey", () => {
  it("offers the passkey for an account that has one, and its assertion finishes the sign-in", async () => {
    const { user, authenticator } = await withPasskey();
    const { browser, res } = await passwordSignIn(user);
    expect(res.headers.get("location")).toBe("/login/verify");
    const page = await browser.open("/login/verify");
    const form = formOf(page, "/login/verify/passkey");
    expect(form).toContain('data-options="/login/verify/passkey-options"');
    expect(page).toContain("Use a passkey");

    // The options need the page's form token (and read the HttpOnly mfa cookie).
    expect((await browser.post("/login/verify/passkey-options", {})).status).toBe(403);
    const optionsRes = await browser.post("/login/verify/passkey-options", { csrf_token: tokenOf(page, "/login/verify/passkey") });
    expect(optionsRes.status).toBe(200);
    const options = await optionsRes.json<{ allowCredentials: { id: string }[] }>();
    expect(options.allowCredentials.map((c) => c.id)).toEqual([authenticator.credentialId]);
    const credential = await authenticator.assert(options as never, OWN);

    const done = await browser.submit(page, "/login/verify/passkey", { credential: JSON.stringify(credential) });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/account");
    expect(browser.jar.has("__Host-gh_rt")).toBe(true);
    expect(browser.jar.has("__Host-gh_mfa")).toBe(false);
  });

  it("a sign-in passkey's assertion does not answer the second step", async () => {
    const { user, authenticator } = await withPasskey();
    const { browser } = await passwordSignIn(user);
    const page = await browser.open("/login/verify");
    // Options of the sign-in, not of this second step: refused, and the page says so.
    const signInOptions = await (await call("/api/v1/auth/passkey/options", { body: {}, ip: browser.ip })).json<never>();
    const wrong = await browser.submit(page, "/login/verify/passkey", {
      credential: JSON.stringify(await authenticator.assert(signInOptions, OWN)),
    });
    expect(wrong.status).toBe(401);
    expect(textOf(await wrong.text())).toContain("That passkey could not verify this sign-in.");
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);
  });
});

describe("passkeys on /account", () => {
  it("adds a passkey in a fresh session (recovery codes with the first factor), lists it, renames and removes it", async () => {
    const user = await register();
    const { browser } = await passwordSignIn(user);
    const account = await browser.open("/account");
    expect(textOf(account)).toContain("You have no passkeys yet.");
    const form = formOf(account, "/account/passkeys");
    expect(form).toMatch(/data-passkey="create"/);
    expect(form).toContain('data-options="/account/passkeys/options"');

    expect((await browser.post("/account/passkeys/options", {})).status).toBe(403);
    const optionsRes = await browser.post("/account/passkeys/options", { csrf_token: tokenOf(account, "/account/passkeys") });
    expect(optionsRes.status).toBe(200);
    const options = await optionsRes.json<{ user: { name: string } }>();
    expect(options.user.name).toBe(user.email);
    const authenticator = await SoftwareAuthenticator.create({ backupEligible: true, backedUp: true, counts: false });
    const credential = await authenticator.register(options as never, OWN);
    const added = await browser.submit(account, "/account/passkeys", { credential: JSON.stringify(credential), name: "Phone" });
    const addedHtml = await added.text();
    expect(added.status, textOf(addedHtml).slice(0, 400)).toBe(200);
    expect(textOf(addedHtml)).toContain("Your passkey was added");
    expect([...addedHtml.matchAll(/<li><code>[0-9a-z-]{19}<\/code><\/li>/g)]).toHaveLength(10);
    expect(textOf(addedHtml)).toContain("Phone");
    expect(textOf(addedHtml)).toContain("Synced with your password manager or cloud account");
    expect(textOf(addedHtml)).toContain("Not used yet");

    // Now the account has a second factor: a password-only session must prove one before adding another.
    const stale = await browser.open("/account");
    expect(() => formOf(stale, "/account/passkeys")).toThrow();
    expect(formOf(stale, "/account/passkeys/prove")).toContain('name="proof_code"');
    const id = /name="id" value="([^"]+)"/.exec(formOf(stale, "/account/passkeys/rename"))![1]!;

    const renamed = await browser.submit(stale, "/account/passkeys/rename", { name: "Work phone" });
    expect(renamed.status).toBe(303);
    expect(renamed.headers.get("location")).toBe("/account?notice=passkey_renamed#passkeys");
    const list = await (
      await call("/api/v1/users/me/passkeys", { token: user.accessToken })
    ).json<{ passkeys: { id: string; name: string }[] }>();
    expect(list.passkeys).toEqual([expect.objectContaining({ id, name: "Work phone" })]);

    // Removing needs the proof: without it, the page says so and the passkey stays.
    const refused = await browser.submit(stale, "/account/passkeys/remove");
    expect(refused.status).toBe(403);
    const codes = [...addedHtml.matchAll(/<li><code>([0-9a-z-]{19})<\/code><\/li>/g)].map((m) => m[1]!);
    const proved = await browser.submit(stale, "/account/passkeys/prove", { proof_code: codes[0]! });
    expect(proved.status).toBe(303);
    expect(proved.headers.get("location")).toBe("/account?notice=identity_confirmed#passkeys");
    const fresh = await browser.open("/account?notice=identity_confirmed");
    expect(formOf(fresh, "/account/passkeys")).toContain("data-passkey");
    const removed = await browser.submit(fresh, "/account/passkeys/remove");
    expect(removed.status).toBe(303);
    expect(removed.headers.get("location")).toBe("/account?notice=passkey_removed#passkeys");
    expect(textOf(await browser.open("/account"))).toContain("You have no passkeys yet.");
  });

  it("a signed-out browser gets no options and is sent to sign in", async () => {
    const browser = new Browser();
    const page = await browser.open("/login");
    // The login page's token for another form does not open the account's options.
    const res = await browser.post("/account/passkeys/options", { csrf_token: /name="csrf_token" value="([^"]+)"/.exec(page)![1]! });
    expect(res.status).toBe(403);
  });
});
