import { describe, expect, inject, it } from "vitest";
import { freshSubject, ProviderBrowser, providerEnv } from "./external-browser";
import { formOf, textOf } from "./pages-browser";
import { auditRows, call, env, login, outbox, problem, register, uniqueEmail, userRow, type Registered } from "./helpers";
import { enableTotp, totpCode } from "./totp";

/**
 * Sign in with an external provider (API.md v1.2, issue #31), driven through the real HTTP surface
 * against the loopback fakes of scripts/fake-oidc.mjs: the flow's guards (state, iss, nonce,
 * id_token), the linking rules (by issuer and subject; by address only when it is proven on both
 * sides and the entry allows it), each preset's quirks, linking and unlinking from the account.
 */

const FLOW_COOKIE = "__Host-gh_oauth";
const MFA_COOKIE = "__Host-gh_mfa";
const issuers = () => inject("oauthFakes").issuers as Record<"oidc" | "google" | "github" | "apple" | "microsoft", string>;

/** What the refusal pages say (assets/locales/en.json `external.*`). */
const SAYS = {
  flow: "This sign-in expired, was already used, or was started in another browser.",
  refused: (provider: string) => `${provider} did not confirm who you are, so you are not signed in.`,
  linkFromAccount: "Linking an account at another service starts from your account page.",
  sessionChanged: "You signed out or in as someone else while linking.",
  lastWayIn: "This is your last way to sign in",
  deactivated: "This account is deactivated.",
};

/** GitHub's subject is its numeric user id (the fake answers 4242 for anything not a number). */
const githubSubject = () => String(Number.parseInt(crypto.randomUUID().replace(/-/g, "").slice(0, 12), 16));

/** A registered account whose address is proven (so a provider's address cannot be its first proof). */
async function verifiedUser(overrides: Record<string, unknown> = {}): Promise<Registered> {
  const user = await register(overrides);
  await env.DB.prepare("UPDATE users SET email_verified = 1 WHERE id = ?").bind(user.userId).run();
  return user;
}

interface IdentityRow {
  id: string;
  user_id: string;
  provider: string;
  issuer: string;
  subject: string;
  email: string | null;
}

/** The identities stored for an account (D1, oldest first). */
async function identityRows(userId: string): Promise<IdentityRow[]> {
  const { results } = await env.DB.prepare("SELECT * FROM user_identities WHERE user_id = ? ORDER BY created_at")
    .bind(userId)
    .all<IdentityRow>();
  return results;
}

/** The identity stored for (provider's issuer, subject), whoever has it. */
async function identityOf(subject: string): Promise<IdentityRow | null> {
  return env.DB.prepare("SELECT * FROM user_identities WHERE subject = ?").bind(subject).first<IdentityRow>();
}

/** The sessions of an account that are not revoked. */
async function liveSessions(userId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL")
    .bind(userId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** A fresh access token by the account's password (API login). */
async function freshToken(user: Pick<Registered, "email" | "password">): Promise<string> {
  const res = await login({ email: user.email, password: user.password });
  const body = await res.json<{ access_token: string }>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access_token;
}

/** `GET /users/me/identities` with a token. */
async function apiIdentities(token: string): Promise<{ id: string; provider: string; email: string | null; created_at: string }[]> {
  const res = await call("/api/v1/users/me/identities", { token });
  const body = await res.json<{ identities: { id: string; provider: string; email: string | null; created_at: string }[] }>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.identities;
}

/** Signs `browser` in on the /login page with the account's password (optionally on to `returnTo`). */
async function pageSignIn(browser: ProviderBrowser, user: Pick<Registered, "email" | "password">, returnTo?: string) {
  const page = await browser.open(returnTo ? `/login?return_to=${encodeURIComponent(returnTo)}` : "/login");
  const res = await browser.submit(page, "/login", { identifier: user.email, password: user.password });
  expect(res.status, textOf(await res.clone().text()).slice(0, 400)).toBe(303);
  expect(browser.signedIn()).toBe(true);
  return res;
}

/**
 * Where the account page's link POST sends the browser on: the provider's authorize URL, reached
 * from a page (a meta refresh and its link: the account page's `form-action` names only this site,
 * so a 302 to the provider straight from the form post would be blocked), or by a plain 302.
 */
async function onToProvider(res: Response): Promise<URL> {
  if (res.status === 302) return new URL(res.headers.get("location")!);
  const html = await res.text();
  expect(res.status, textOf(html).slice(0, 400)).toBe(200);
  const refresh = /<meta http-equiv="refresh" content="0;url=([^"]+)"/.exec(html)?.[1];
  expect(refresh, "a meta refresh on to the provider").toBeDefined();
  const to = refresh!.replace(/&amp;/g, "&");
  expect(html).toContain(`href="${refresh!}"`);
  return new URL(to);
}

/** A refusal of the flow: an HTML page with `status`, saying `says`, and no session cookie set. */
async function expectRefused(res: Response, status: number, says?: string) {
  const html = await res.text();
  expect(res.status, textOf(html).slice(0, 400)).toBe(status);
  expect(res.headers.get("content-type")).toContain("text/html");
  expect(res.headers.getSetCookie().some((c) => c.startsWith("__Host-gh_rt="))).toBe(false);
  if (says) expect(textOf(html)).toContain(says);
  return html;
}

describe("signing in with an external provider", () => {
  it("creates a verified account without a password from a verified Google address and signs the browser in", async () => {
    const browser = new ProviderBrowser();
    const email = uniqueEmail("google");
    const res = await browser.signInWith("google", { sub: freshSubject(), email, email_verified: true, name: "Gina Google" });
    expect(res.status, await res.clone().text()).toBe(303);
    expect(res.headers.get("location")).toBe("/account");
    expect(browser.signedIn()).toBe(true);
    const page = textOf(await browser.open("/account"));
    expect(page).toContain(email);
    expect(page).toContain("Google");
    expect(await userRow(email)).toMatchObject({ email_verified: 1, full_name: "Gina Google", password_hash: "!disabled" });
  });
});

// A provider chooses neither where the browser goes (return_to is checked as the sign-in page's) nor
// what the account is: a later address of the same identity, or a name that breaks full_name's rules.
describe("what a provider's sign-in keeps and ignores", () => {
  it("returns to a checked return_to, and ignores one of another site", async () => {
    const browser = new ProviderBrowser();
    const sub = freshSubject();
    const email = uniqueEmail("return");
    const res = await browser.signInWith(
      "fake",
      { sub, email, email_verified: true },
      `?return_to=${encodeURIComponent("/account?from=fake")}`,
    );
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account?from=fake");

    const other = new ProviderBrowser();
    const offSite = await other.signInWith(
      "fake",
      { sub, email, email_verified: true },
      `?return_to=${encodeURIComponent("https://evil.example.net/x")}`,
    );
    expect(offSite.status).toBe(303);
    expect(offSite.headers.get("location")).toBe("/account");
    expect(other.signedIn()).toBe(true);
  });

  it("never changes the account when the provider later asserts another address, and drops a name that is not a valid full_name", async () => {
    const email = uniqueEmail("first");
    const sub = freshSubject();
    const first = new ProviderBrowser();
    const created = await first.signInWith("google", { sub, email, email_verified: true, name: "<b>Bold</b>" });
    expect(created.status).toBe(303);
    const row = (await userRow(email))!;
    expect(row.full_name).toBe("");

    const later = uniqueEmail("later");
    const browser = new ProviderBrowser();
    const again = await browser.signInWith("google", { sub, email: later, email_verified: true, name: "Other Name" });
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe("/account");
    expect(textOf(await browser.open("/account"))).toContain(email);
    expect(await userRow(email)).toMatchObject({ id: row.id, email, full_name: "" });
    expect(await userRow(later)).toBeNull();
  });
});

// The flow's own guards: a callback counts only once, only in the browser that started it, only
// with the provider's own `iss`, nonce and signature. Each refusal is a 4xx page and no session.
describe("the flow's state", () => {
  it("is used once: a replayed callback, with the flow cookie put back, signs nobody in again", async () => {
    const browser = new ProviderBrowser();
    const email = uniqueEmail("replay");
    const url = await browser.start("fake");
    const flowCookie = browser.jar.get(FLOW_COOKIE);
    expect(flowCookie).toBeTruthy();
    const answer = await browser.authorize(url, { sub: freshSubject(), email, email_verified: true });
    const first = await browser.answer(answer);
    expect(first.status, textOf(await first.clone().text()).slice(0, 400)).toBe(303);
    expect(first.headers.get("location")).toBe("/account");
    expect(browser.signedIn()).toBe(true);
    const user = (await userRow(email))!;
    expect(await liveSessions(user.id as string)).toBe(1);

    // The same browser, its flow cookie put back: the state was spent (the page says so, before any code exchange).
    browser.jar.set(FLOW_COOKIE, flowCookie!);
    await expectRefused(await browser.answer(answer), 400, SAYS.flow);
    // Another browser that copied both the cookie and the callback URL.
    const thief = new ProviderBrowser();
    thief.jar.set(FLOW_COOKIE, flowCookie!);
    await expectRefused(await thief.answer(answer), 400, SAYS.flow);
    expect(thief.signedIn()).toBe(false);
    expect(await liveSessions(user.id as string)).toBe(1);
  });

  it("belongs to the browser that started: another browser's callback, or one with no flow cookie, is refused", async () => {
    const a = new ProviderBrowser();
    const b = new ProviderBrowser();
    const email = uniqueEmail("crossed");
    const urlA = await a.start("fake");
    await b.start("fake");
    const answerA = await a.authorize(urlA, { sub: freshSubject(), email, email_verified: true });
    // B brings A's answer (a login CSRF: the attacker's identity in the victim's browser, or the reverse).
    await expectRefused(await b.answer(answerA), 400, SAYS.flow);
    // A browser that never started a flow.
    const none = new ProviderBrowser();
    await expectRefused(await none.answer(answerA), 400, SAYS.flow);
    expect(a.signedIn()).toBe(false);
    expect(b.signedIn()).toBe(false);
    expect(none.signedIn()).toBe(false);
    expect(await userRow(email)).toBeNull();
  });
});

describe("the provider's answer", () => {
  it("refuses an `iss` that is not the provider's (RFC 9207 mix-up), and a missing one where the provider advertises it", async () => {
    const wrong = new ProviderBrowser();
    const email = uniqueEmail("mixup");
    // Google's answer claiming to come from the other provider.
    const mixed = await wrong.signInWith("google", { sub: freshSubject(), email, email_verified: true, tamper: { iss: issuers().oidc } });
    await expectRefused(mixed, 400, SAYS.refused("Google"));
    expect(wrong.signedIn()).toBe(false);

    // The generic provider advertises `authorization_response_iss_parameter_supported`: no `iss` is refused.
    const missing = new ProviderBrowser();
    const omitted = await missing.signInWith("fake", { sub: freshSubject(), email, email_verified: true, tamper: { omit_iss: true } });
    await expectRefused(omitted, 400, SAYS.refused("Fake ID"));
    expect(missing.signedIn()).toBe(false);
    expect(await userRow(email)).toBeNull();
  });

  it("refuses a Microsoft answer whose `iss` names another tenant than the id_token's", async () => {
    const browser = new ProviderBrowser();
    const email = uniqueEmail("tenant");
    const otherTenant = issuers().microsoft.replace(/[0-9a-f-]{36}/, "0badbeef-0000-4000-8000-000000000bad");
    expect(otherTenant).not.toBe(issuers().microsoft);
    const res = await browser.signInWith("microsoft", { sub: freshSubject(), email, tamper: { iss: otherTenant } });
    await expectRefused(res, 400, SAYS.refused("Microsoft"));
    expect(browser.signedIn()).toBe(false);
  });

  it.each([
    ["a wrong nonce", { nonce: "not-the-flows-nonce" }],
    ["an id_token of another issuer", { id_token_iss: "https://evil.example.com" }],
    ["an id_token signed by another key", { signature: "bad" as const }],
  ])("refuses %s: a 400 page, no session, no account", async (_, tamper) => {
    const browser = new ProviderBrowser();
    const email = uniqueEmail("tamper");
    const res = await browser.signInWith("fake", { sub: freshSubject(), email, email_verified: true, tamper });
    await expectRefused(res, 400, SAYS.refused("Fake ID"));
    expect(browser.signedIn()).toBe(false);
    expect(await userRow(email)).toBeNull();
  });

  it("refuses to start with an unknown provider: a 404 page", async () => {
    const browser = new ProviderBrowser();
    await expectRefused(await browser.get("/api/v1/auth/oauth/nope/start"), 404);
    expect(browser.jar.has(FLOW_COOKIE)).toBe(false);
  });

  it("answers a callback of an unknown provider with a 404 page (GET and form_post)", async () => {
    const browser = new ProviderBrowser();
    await expectRefused(await browser.get("/api/v1/auth/oauth/nope/callback?code=x&state=y"), 404);
    const posted = await browser.post(
      "/api/v1/auth/oauth/nope/callback",
      { code: "x", state: "y" },
      { origin: "https://appleid.apple.com", site: "cross-site" },
    );
    await expectRefused(posted, 404);
  });
});

// Which account an identity reaches: by (issuer, subject) once linked; by address only when the
// provider proves it, the local address is proven too and the entry says `link_by_verified_email`.
describe("an address that an account already has", () => {
  it("is never linked when the provider does not vouch for it: /login/link, no session, nothing changes", async () => {
    // An unverified local account and an unverified provider address: no first proof, no link.
    const unverified = await register();
    const browser = new ProviderBrowser();
    const res = await browser.signInWith("fake", { sub: freshSubject(), email: unverified.email, email_verified: false });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login/link");
    expect(browser.signedIn()).toBe(false);
    expect(await identityRows(unverified.userId)).toEqual([]);
    expect(await userRow(unverified.email)).toMatchObject({ email_verified: 0, full_name: "Test User" });
    expect(await apiIdentities(await freshToken(unverified))).toEqual([]);

    // Google links by verified address, but not an address Google does not say is verified.
    const verified = await verifiedUser();
    const google = new ProviderBrowser();
    const viaGoogle = await google.signInWith("google", { sub: freshSubject(), email: verified.email, email_verified: false });
    expect(viaGoogle.status).toBe(303);
    expect(viaGoogle.headers.get("location")).toBe("/login/link");
    expect(google.signedIn()).toBe(false);
    expect(await apiIdentities(await freshToken(verified))).toEqual([]);
  });

  it("is linked at once by a provider whose entry links by verified address (Google), with a notice", async () => {
    const user = await verifiedUser();
    const subject = freshSubject();
    const browser = new ProviderBrowser();
    const res = await browser.signInWith("google", { sub: subject, email: user.email, email_verified: true, name: "Someone Else" });
    expect(res.status, textOf(await res.clone().text()).slice(0, 400)).toBe(303);
    expect(res.headers.get("location")).toBe("/account");
    expect(browser.signedIn()).toBe(true);
    expect(textOf(await browser.open("/account"))).toContain(user.email);
    // The account is the existing one, unchanged: its password still works, its name stays.
    expect(await userRow(user.email)).toMatchObject({ id: user.userId, full_name: "Test User" });
    const identities = await apiIdentities(await freshToken(user));
    expect(identities).toEqual([expect.objectContaining({ provider: "google", email: user.email })]);
    expect((await identityOf(subject))?.user_id).toBe(user.userId);
    const notices = await outbox(user.email, "security_notice");
    expect(notices.map((n) => n.subject)).toContain("A sign-in provider was linked to your account");
    expect(await auditRows("action = 'identity.linked' AND user_id = ?", user.userId)).toEqual([
      expect.objectContaining({ metadata: { provider: "google", by: "verified_email" } }),
    ]);
  });

  it("asks to sign in the existing way when the entry does not link by address, then links on confirmation", async () => {
    const user = await verifiedUser();
    const subject = freshSubject();
    const browser = new ProviderBrowser();
    const res = await browser.signInWith("fake", { sub: subject, email: user.email, email_verified: true });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login/link");
    expect(browser.signedIn()).toBe(false);
    expect(await identityOf(subject)).toBeNull();

    const ask = await browser.open("/login/link");
    expect(textOf(ask)).toContain(`An account here already uses the address ${user.email}`);
    expect(ask).toContain('href="/login?return_to=%2Flogin%2Flink"');
    expect(() => formOf(ask, "/login/link")).toThrow();

    const signedIn = await pageSignIn(browser, user, "/login/link");
    expect(signedIn.headers.get("location")).toBe("/login/link");
    const confirm = await browser.open("/login/link");
    expect(textOf(confirm)).toContain("Link the Fake ID account");
    const linked = await browser.submit(confirm, "/login/link", { action: "link" });
    expect(linked.status, textOf(await linked.clone().text()).slice(0, 400)).toBe(303);
    expect(linked.headers.get("location")).toMatch(/^\/account\?notice=identity_linked(#identities)?$/);
    expect((await identityOf(subject))?.user_id).toBe(user.userId);
    expect(await apiIdentities(await freshToken(user))).toEqual([expect.objectContaining({ provider: "fake" })]);

    // From now on the provider signs in to that account directly.
    const later = new ProviderBrowser();
    const again = await later.signInWith("fake", { sub: subject, email: user.email, email_verified: true });
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe("/account");
    expect(later.signedIn()).toBe(true);
    expect(textOf(await later.open("/account"))).toContain(user.email);
  });

  it("takes a squatter's unverified account back: a verified provider address is the first proof", async () => {
    const squatter = await register({ full_name: "Squatter Sam" });
    const subject = freshSubject();
    const owner = new ProviderBrowser();
    const res = await owner.signInWith("google", { sub: subject, email: squatter.email, email_verified: true, name: "Rightful Owner" });
    expect(res.status, textOf(await res.clone().text()).slice(0, 400)).toBe(303);
    expect(res.headers.get("location")).toBe("/account");
    expect(owner.signedIn()).toBe(true);

    const row = (await userRow(squatter.email))!;
    expect(row).toMatchObject({ id: squatter.userId, email_verified: 1, password_hash: "!disabled" });
    expect(row.full_name).not.toBe("Squatter Sam");
    expect((await identityOf(subject))?.user_id).toBe(squatter.userId);
    // The squatter's password, refresh token and access token are all dead.
    await problem(await login({ email: squatter.email, password: squatter.password }), 401, "invalid_credentials");
    const refreshed = await call("/api/v1/auth/refresh", { body: { refresh_token: squatter.refreshToken } });
    expect(refreshed.status).toBe(401);
    expect((await call("/api/v1/users/me", { token: squatter.accessToken })).status).toBe(401);
    // Only the owner's new session is left.
    expect(await liveSessions(squatter.userId)).toBe(1);
    const proofs = await auditRows("action = 'email.verified' AND user_id = ?", squatter.userId);
    expect(proofs).toHaveLength(1);
    expect(proofs[0]!.metadata).toMatchObject({ method: "external_provider", provider: "google", first_proof: true });
  });
});

// Each preset's quirks, as the fakes reproduce them.
describe("Apple", () => {
  it("answers by a cross-site form POST without cookies, which continues as a same-site GET and signs in", async () => {
    const browser = new ProviderBrowser();
    const email = uniqueEmail("apple");
    const answer = await browser.authorize(await browser.start("apple"), {
      sub: freshSubject(),
      email,
      email_verified: true,
      name: "Ada Lovelace",
    });
    expect(answer.kind).toBe("form_post");
    expect(answer.path).toBe("/api/v1/auth/oauth/apple/callback");
    // Apple sends no `iss` (and does not advertise it); the unsigned `user` field carries the name.
    expect(Object.keys(answer.fields).sort()).toEqual(["code", "state", "user"]);

    const posted = await browser.post(answer.path, answer.fields, {
      origin: "https://appleid.apple.com",
      site: "cross-site",
      headers: { Cookie: "" },
    });
    expect(posted.status).toBe(303);
    const to = new URL(posted.headers.get("location")!, "https://auth.example.com");
    expect(to.pathname).toBe("/api/v1/auth/oauth/apple/callback");
    expect(to.searchParams.get("state")).toBe(answer.fields.state);
    expect(browser.signedIn()).toBe(false);

    const res = await browser.get(to.pathname + to.search);
    expect(res.status, textOf(await res.clone().text()).slice(0, 400)).toBe(303);
    expect(res.headers.get("location")).toBe("/account");
    expect(browser.signedIn()).toBe(true);
    // `email_verified` came as the string "true": verified. The name is the `user` field's.
    expect(await userRow(email)).toMatchObject({ email_verified: 1, full_name: "Ada Lovelace", password_hash: "!disabled" });
  });

  it('counts `email_verified` "false" as unverified: the address page, no account yet', async () => {
    const browser = new ProviderBrowser();
    const email = uniqueEmail("apple-unverified");
    const res = await browser.signInWith("apple", { sub: freshSubject(), email, email_verified: false, name: "Not Sure" });
    expect(res.status, textOf(await res.clone().text()).slice(0, 400)).toBe(303);
    expect(res.headers.get("location")).toBe("/login/external");
    expect(browser.signedIn()).toBe(false);
    expect(await userRow(email)).toBeNull();
  });
});

describe("GitHub", () => {
  it("does not take an unverified primary address: the person names one, proves it by a mailed code, then the account exists", async () => {
    const email = uniqueEmail("github");
    const other = uniqueEmail("github-secondary");
    const subject = githubSubject();
    const browser = new ProviderBrowser();
    const res = await browser.signInWith("github", {
      sub: subject,
      name: "Octo Cat",
      emails: [
        { email, primary: true, verified: false },
        // A verified address that is not the primary one is not GitHub's answer either.
        { email: other, primary: false, verified: true },
      ],
    });
    expect(res.status, textOf(await res.clone().text()).slice(0, 400)).toBe(303);
    expect(res.headers.get("location")).toBe("/login/external");
    expect(browser.signedIn()).toBe(false);
    expect(await userRow(email)).toBeNull();
    expect(await userRow(other)).toBeNull();

    const ask = await browser.open("/login/external");
    expect(textOf(ask)).toContain("GitHub did not give us a confirmed email address");
    const sent = await browser.submit(ask, "/login/external", { email });
    const sentHtml = await sent.text();
    expect(sent.status, textOf(sentHtml).slice(0, 400)).toBe(200);
    expect(textOf(sentHtml)).toContain(`We mailed a code to ${email}`);
    expect(await userRow(email)).toBeNull();

    const [mail] = (await outbox(email, "sign_in_code")) as unknown as { code: string }[];
    expect(mail?.code).toMatch(/^\d{8}$/);
    const done = await browser.submit(sentHtml, "/login/external/code", { code: mail!.code });
    expect(done.status, textOf(await done.clone().text()).slice(0, 400)).toBe(303);
    expect(done.headers.get("location")).toBe("/account");
    expect(browser.signedIn()).toBe(true);
    const row = (await userRow(email))!;
    expect(row).toMatchObject({ email_verified: 1, password_hash: "!disabled", full_name: "Octo Cat" });
    expect(await identityRows(row.id as string)).toEqual([
      expect.objectContaining({ provider: "github", subject, issuer: issuers().github }),
    ]);
    expect(textOf(await browser.open("/account"))).toContain("GitHub");
  });
});

describe("Microsoft", () => {
  it("never treats its `email` as verified: an account at that address is not linked", async () => {
    const user = await verifiedUser();
    const subject = freshSubject();
    const browser = new ProviderBrowser();
    const res = await browser.signInWith("microsoft", { sub: subject, email: user.email, email_verified: true });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login/link");
    expect(browser.signedIn()).toBe(false);
    expect(await identityOf(subject)).toBeNull();
    expect(await identityRows(user.userId)).toEqual([]);
    expect(await liveSessions(user.userId)).toBe(1); // the registration's only
  });

  it("keys the identity by the tenant's issuer: once created through /login/external, the same subject signs straight in", async () => {
    const email = uniqueEmail("microsoft");
    const subject = freshSubject();
    const browser = new ProviderBrowser();
    const res = await browser.signInWith("microsoft", { sub: subject, email, name: "Tenant Person" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login/external");
    expect(await userRow(email)).toBeNull();

    const ask = await browser.open("/login/external");
    const sent = await browser.submit(ask, "/login/external", { email });
    const sentHtml = await sent.text();
    expect(sent.status, textOf(sentHtml).slice(0, 400)).toBe(200);
    const [mail] = (await outbox(email, "sign_in_code")) as unknown as { code: string }[];
    const done = await browser.submit(sentHtml, "/login/external/code", { code: mail!.code });
    expect(done.status, textOf(await done.clone().text()).slice(0, 400)).toBe(303);
    expect(browser.signedIn()).toBe(true);
    const identity = (await identityOf(subject))!;
    // The tenant's issuer (from `tid`), not the `{tenantid}` template of the entry.
    expect(identity.issuer).toBe(issuers().microsoft);
    expect(identity.issuer).not.toContain("{tenantid}");

    const later = new ProviderBrowser();
    const again = await later.signInWith("microsoft", { sub: subject, email, name: "Tenant Person" });
    expect(again.status, textOf(await again.clone().text()).slice(0, 400)).toBe(303);
    expect(again.headers.get("location")).toBe("/account");
    expect(later.signedIn()).toBe(true);
    expect(await identityRows(identity.user_id)).toHaveLength(1);
  });
});

// Linking from the account page: a POST with a form token and a fresh session, never a GET, and
// only for the session that started it.
describe("linking from /account", () => {
  it("refuses to start a link with a GET", async () => {
    const browser = new ProviderBrowser();
    await expectRefused(await browser.get("/api/v1/auth/oauth/google/start?intent=link"), 400, SAYS.linkFromAccount);
    expect(browser.jar.has(FLOW_COOKIE)).toBe(false);
    const user = await register();
    await pageSignIn(browser, user);
    const viaGet = await browser.get("/account/identities/link?provider=google");
    expect(viaGet.status).toBeGreaterThanOrEqual(300);
    expect(viaGet.headers.get("location") ?? "").not.toContain(issuers().google);
    expect(browser.jar.has(FLOW_COOKIE)).toBe(false);
    expect(await identityRows(user.userId)).toEqual([]);
  });

  it("links through a POST of the account page, confirms, and lists the identity", async () => {
    const user = await register();
    const subject = freshSubject();
    const browser = new ProviderBrowser();
    await pageSignIn(browser, user);
    const account = await browser.open("/account");
    const url = await onToProvider(await browser.submit(account, "/account/identities/link", {}, 'value="fake"'));
    expect(url.href.startsWith(`${issuers().oidc}/authorize?`)).toBe(true);
    expect(browser.jar.has(FLOW_COOKIE)).toBe(true);

    // The provider's address is another one: linking from the account does not depend on it.
    const providerEmail = uniqueEmail("elsewhere");
    const res = await browser.answer(await browser.authorize(url, { sub: subject, email: providerEmail, email_verified: true }));
    expect(res.status, textOf(await res.clone().text()).slice(0, 400)).toBe(303);
    const location = res.headers.get("location")!;
    expect(location).toMatch(/^\/account\?notice=identity_linked(#identities)?$/);
    const page = textOf(await browser.open(location.replace(/#.*$/, "")));
    expect(page).toContain("The provider is linked");
    expect(page).toContain(`Fake ID · ${providerEmail}`);
    expect(await apiIdentities(await freshToken(user))).toEqual([expect.objectContaining({ provider: "fake", email: providerEmail })]);
    expect(await userRow(providerEmail)).toBeNull();
  });

  it("refuses to link an identity that already belongs to another account: a 409 page, nothing moves", async () => {
    const ownerEmail = uniqueEmail("owner");
    const subject = freshSubject();
    expect((await new ProviderBrowser().signInWith("fake", { sub: subject, email: ownerEmail, email_verified: true })).status).toBe(303);
    const owner = (await userRow(ownerEmail))!;

    const user = await register();
    const browser = new ProviderBrowser();
    await pageSignIn(browser, user);
    const url = await onToProvider(await browser.submit(await browser.open("/account"), "/account/identities/link", {}, 'value="fake"'));
    const res = await browser.answer(await browser.authorize(url, { sub: subject, email: ownerEmail, email_verified: true }));
    await expectRefused(res, 409, "This Fake ID account is already linked to another account here.");
    expect((await identityOf(subject))?.user_id).toBe(owner.id);
    expect(await identityRows(user.userId)).toEqual([]);
  });

  it("refuses a link callback that another session reaches (signed out, then in as someone else)", async () => {
    const alice = await register();
    const mallory = await register();
    const subject = freshSubject();
    const browser = new ProviderBrowser();
    await pageSignIn(browser, alice);
    const url = await onToProvider(await browser.submit(await browser.open("/account"), "/account/identities/link", {}, 'value="fake"'));

    const logout = await browser.submit(await browser.open("/logout"), "/logout");
    expect(logout.status).toBe(303);
    expect(browser.signedIn()).toBe(false);
    await pageSignIn(browser, mallory);
    expect(browser.jar.has(FLOW_COOKIE)).toBe(true);

    const res = await browser.answer(await browser.authorize(url, { sub: subject, email: uniqueEmail("x"), email_verified: true }));
    await expectRefused(res, 400, SAYS.sessionChanged);
    expect(await identityOf(subject)).toBeNull();
    expect(await identityRows(alice.userId)).toEqual([]);
    expect(await identityRows(mallory.userId)).toEqual([]);
  });
});

// The last way in: an identity that is the account's only way to sign in stays (409
// `last_sign_in_method`); with a password (or another way) it can go.
describe("unlinking", () => {
  it("refuses on the account page to unlink the only way in of an account a provider created", async () => {
    const email = uniqueEmail("only-google");
    const subject = freshSubject();
    const browser = new ProviderBrowser();
    expect((await browser.signInWith("google", { sub: subject, email, email_verified: true })).status).toBe(303);
    const account = await browser.open("/account");
    const res = await browser.submit(account, "/account/identities/unlink");
    const html = await res.text();
    expect(res.status, textOf(html).slice(0, 400)).toBe(409);
    expect(textOf(html)).toContain(SAYS.lastWayIn);
    expect(await identityOf(subject)).not.toBeNull();
    expect(browser.signedIn()).toBe(true);
  });

  it("unlinks on the account page when the account has a password, with its audit row", async () => {
    const user = await verifiedUser();
    const subject = freshSubject();
    const provider = new ProviderBrowser();
    expect((await provider.signInWith("google", { sub: subject, email: user.email, email_verified: true })).status).toBe(303);
    const identity = (await identityOf(subject))!;
    expect(identity.user_id).toBe(user.userId);

    const browser = new ProviderBrowser();
    await pageSignIn(browser, user);
    const res = await browser.submit(await browser.open("/account"), "/account/identities/unlink");
    expect(res.status, textOf(await res.clone().text()).slice(0, 400)).toBe(303);
    expect(res.headers.get("location")).toMatch(/^\/account\?notice=identity_unlinked(#identities)?$/);
    expect(await identityOf(subject)).toBeNull();
    expect(await auditRows("action = 'identity.unlinked' AND user_id = ?", user.userId)).toEqual([
      expect.objectContaining({ resource: `identity:${identity.id}`, metadata: { provider: "google" } }),
    ]);
    expect((await outbox(user.email, "security_notice")).map((n) => n.subject)).toContain("A sign-in provider was unlinked");
  });

  it("through the API: 204 with a password (and the event), 409 last_sign_in_method without one", async () => {
    const webhooks = {
      WEBHOOK_URL: "https://hooks.example.com/identities",
      WEBHOOK_SECRET: `whsec_${btoa("0123456789abcdef0123456789abcdef")}`,
      WEBHOOKS: { send: () => Promise.resolve(), sendBatch: () => Promise.resolve() } as unknown as Queue,
    };
    const withPassword = await verifiedUser();
    const subject = freshSubject();
    expect(
      (await new ProviderBrowser().signInWith("google", { sub: subject, email: withPassword.email, email_verified: true })).status,
    ).toBe(303);
    const token = await freshToken(withPassword);
    const [listed] = await apiIdentities(token);
    expect(listed).toMatchObject({ provider: "google", email: withPassword.email });
    const removed = await call(`/api/v1/users/me/identities/${listed!.id}`, {
      method: "DELETE",
      token,
      env: { ...providerEnv(), ...webhooks },
    });
    expect(removed.status, await removed.clone().text()).toBe(204);
    expect(await apiIdentities(token)).toEqual([]);
    const event = await env.DB.prepare(
      "SELECT count(*) AS n FROM webhook_events WHERE type = 'user.identity_unlinked' AND json_extract(payload, '$.data.identity_id') = ?",
    )
      .bind(listed!.id)
      .first<{ n: number }>();
    expect(event?.n).toBe(1);

    // An account whose only way in is the identity (its password disabled after the token was issued).
    const identityOnly = await verifiedUser();
    const only = freshSubject();
    expect((await new ProviderBrowser().signInWith("google", { sub: only, email: identityOnly.email, email_verified: true })).status).toBe(
      303,
    );
    const onlyToken = await freshToken(identityOnly);
    await env.DB.prepare("UPDATE users SET password_hash = '!disabled' WHERE id = ?").bind(identityOnly.userId).run();
    const [last] = await apiIdentities(onlyToken);
    await problem(
      await call(`/api/v1/users/me/identities/${last!.id}`, { method: "DELETE", token: onlyToken }),
      409,
      "last_sign_in_method",
    );
    expect(await identityOf(only)).not.toBeNull();
  });
});

// The one sign-in model: a provider is a first factor; an account with a second factor still needs it.
describe("the second factor", () => {
  it("stops a linked provider's sign-in at /login/verify for an account with an authenticator app", async () => {
    const user = await verifiedUser();
    const subject = freshSubject();
    expect((await new ProviderBrowser().signInWith("google", { sub: subject, email: user.email, email_verified: true })).status).toBe(303);
    expect((await identityOf(subject))?.user_id).toBe(user.userId);
    const { secret, confirmedStep } = await enableTotp(user);

    const browser = new ProviderBrowser();
    const res = await browser.signInWith("google", { sub: subject, email: user.email, email_verified: true });
    const html = await res.text();
    expect(res.status, textOf(html).slice(0, 400)).toBe(200);
    expect(html).toMatch(/<meta http-equiv="refresh" content="0;url=\/login\/verify"/);
    expect(res.headers.getSetCookie().some((c) => c.startsWith(`${MFA_COOKIE}=`))).toBe(true);
    expect(browser.jar.has(MFA_COOKIE)).toBe(true);
    expect(browser.signedIn()).toBe(false);

    // The second step finishes it.
    const verify = await browser.open("/login/verify");
    const done = await browser.submit(verify, "/login/verify", { code: totpCode(secret, confirmedStep + 1) });
    expect(done.status, textOf(await done.clone().text()).slice(0, 400)).toBe(303);
    expect(browser.signedIn()).toBe(true);
  });

  it("counts the provider's own second factor only where its entry says trust_provider_mfa", async () => {
    const user = await verifiedUser();
    const subject = freshSubject();
    const asserted = { sub: subject, email: user.email, email_verified: true, amr: ["pwd", "otp", "mfa"] };
    expect((await new ProviderBrowser().signInWith("google", asserted)).status).toBe(303);
    await enableTotp(user);
    // The default: the provider's word about its own second factor changes nothing.
    const untrusted = new ProviderBrowser();
    expect((await untrusted.signInWith("google", asserted)).status).toBe(200);
    expect(untrusted.signedIn()).toBe(false);
    // Trusted, an id_token whose amr says it proved more than one factor is the second factor too.
    const providers = (JSON.parse(inject("oauthFakes").OAUTH_PROVIDERS) as { id: string }[]).map((p) =>
      p.id === "google" ? { ...p, trust_provider_mfa: true } : p,
    );
    const trusting = new ProviderBrowser({ OAUTH_PROVIDERS: JSON.stringify(providers) });
    expect((await trusting.signInWith("google", { ...asserted, amr: ["pwd"] })).status).toBe(200);
    const trusted = new ProviderBrowser({ OAUTH_PROVIDERS: JSON.stringify(providers) });
    const res = await trusted.signInWith("google", asserted);
    expect(res.status).toBe(303);
    expect(trusted.signedIn()).toBe(true);
    const row = await env.DB.prepare("SELECT amr FROM sessions WHERE user_id = ? ORDER BY created_at DESC LIMIT 1")
      .bind(user.userId)
      .first<{ amr: string }>();
    expect(JSON.parse(row!.amr)).toEqual(["fed", "mfa"]);
  });
});

describe("a deactivated account", () => {
  it("is not signed in by its linked provider: a 403 page, no session", async () => {
    const email = uniqueEmail("deactivated");
    const subject = freshSubject();
    expect((await new ProviderBrowser().signInWith("google", { sub: subject, email, email_verified: true })).status).toBe(303);
    const row = (await userRow(email))!;
    await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(row.id).run();
    const sessionsBefore = await liveSessions(row.id as string);

    const browser = new ProviderBrowser();
    await expectRefused(await browser.signInWith("google", { sub: subject, email, email_verified: true }), 403, SAYS.deactivated);
    expect(browser.signedIn()).toBe(false);
    expect(await liveSessions(row.id as string)).toBe(sessionsBefore);
  });
});
