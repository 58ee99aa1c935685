import { afterEach, describe, expect, it, vi } from "vitest";
import { auditRows, call, env, register, superuser, type Registered } from "./helpers";
import { Browser, fieldError, formOf, textOf } from "./pages-browser";

/**
 * Gatehouse as an OpenID provider on the pages (issue #32): the console's OAuth clients
 * (`/admin/oauth-clients`) and the account page's "Apps with access" (`/account#apps`).
 */

async function signedIn(user: Registered): Promise<Browser> {
  const browser = new Browser();
  const res = await browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password: user.password });
  expect(res.status).toBe(303);
  return browser;
}

/** The form token a page would carry for this browser (csrf.ts: HMAC of the cookie and the form name). */
async function formToken(browser: Browser, form: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(browser.jar.get("__Host-gh_csrf") ?? ""),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`gatehouse-page-form:${form}`)));
  return btoa(String.fromCharCode(...mac))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

const unique = (prefix: string) => `${prefix} ${crypto.randomUUID().slice(0, 8)}`;

/** A client straight in D1 (the console's form is tested on its own below). */
async function insertClient(name: string): Promise<string> {
  const id = `gc_test_${crypto.randomUUID().replaceAll("-", "")}`;
  await env.DB.prepare(
    "INSERT INTO oauth_clients (id, name, type, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, first_party, dynamic, created_at) VALUES (?, ?, 'public', NULL, ?, '[]', NULL, 0, 0, ?)",
  )
    .bind(id, name, JSON.stringify(["https://app.example.com/callback"]), Date.now())
    .run();
  return id;
}

/** A grant (the consent of `userId` to `clientId`) and one live refresh token of it, straight in D1. */
async function insertGrant(userId: string, clientId: string, scopes: string[]): Promise<{ tokenHash: string }> {
  const now = Date.now();
  const grantId = crypto.randomUUID();
  await env.DB.prepare("INSERT INTO oauth_grants (id, user_id, client_id, scopes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(grantId, userId, clientId, JSON.stringify(scopes), now, now)
    .run();
  const tokenHash = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO oauth_refresh_tokens (hash, family_id, grant_id, client_id, user_id, scopes, resource, auth_time, amr, credentials_epoch, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, '[\"pwd\"]', 0, ?, ?)",
  )
    .bind(tokenHash, crypto.randomUUID(), grantId, clientId, userId, JSON.stringify(scopes), now, now, now + 86_400_000)
    .run();
  return { tokenHash };
}

async function apiGrants(user: Registered): Promise<{ client_id: string; name: string; scopes: string[] }[]> {
  const res = await call("/api/v1/users/me/grants", { token: user.accessToken });
  expect(res.status).toBe(200);
  return (await res.json<{ grants: { client_id: string; name: string; scopes: string[] }[] }>()).grants;
}

const clientRow = (id: string) => env.DB.prepare("SELECT * FROM oauth_clients WHERE id = ?").bind(id).first<Record<string, unknown>>();

afterEach(() => {
  vi.useRealTimers();
});

describe("/admin/oauth-clients", () => {
  it("is for superusers only, and its menu entry is on every console page", async () => {
    const out = await new Browser().get("/admin/oauth-clients");
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/login?return_to=%2Fadmin%2Foauth-clients");

    const plain = await signedIn(await register());
    const refused = await plain.get("/admin/oauth-clients");
    expect(refused.status).toBe(403);
    expect(textOf(await refused.text())).toContain("This page is for administrators.");

    const admin = await signedIn(await superuser());
    expect(await admin.open("/admin")).toContain('<a href="/admin/oauth-clients">OAuth clients</a>');
    const res = await admin.get("/admin/oauth-clients");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('id="new-client"');
    // Forged posts are refused before anything runs: no token, or another site.
    const noToken = await plain.post("/admin/oauth-clients", { name: "x", redirect_uris: "https://x.example.com/cb", type: "public" });
    expect(noToken.status).toBe(403);
    const form = formOf(html, "/admin/oauth-clients");
    expect(form).toContain('name="csrf_token"');
    const crossSite = await admin.submit(html, "/admin/oauth-clients", { name: "x" }, undefined, { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    // A non-superuser with a genuine token is still refused, and nothing is registered.
    const name = unique("Sneaky");
    const genuine = await plain.post("/admin/oauth-clients", {
      csrf_token: await formToken(plain, "admin_oauth_client_create"),
      name,
      redirect_uris: "https://sneaky.example.com/cb",
      type: "public",
    });
    expect(genuine.status).toBe(403);
    expect(await env.DB.prepare("SELECT id FROM oauth_clients WHERE name = ?").bind(name).first()).toBeNull();
  });

  it("registers a confidential client, shows its secret once, lists it, and deletes it", async () => {
    const admin = await superuser();
    const browser = await signedIn(admin);
    const name = unique("Billing portal");
    const created = await browser.submit(await browser.open("/admin/oauth-clients"), "/admin/oauth-clients", {
      name,
      redirect_uris: "https://billing.example.com/callback\r\n\r\n  https://billing.example.com/cb2  \r\n",
      type: "confidential",
      first_party: "true",
      post_logout_redirect_uris: "https://billing.example.com/",
    });
    const html = await created.text();
    expect(created.status, textOf(html).slice(0, 500)).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const clientId = /<code id="new-client-id">(gc_[A-Za-z0-9_-]+)<\/code>/.exec(html)?.[1];
    const secret = /<p class="secret" id="new-client-secret">(gcs_[A-Za-z0-9_-]+)<\/p>/.exec(html)?.[1];
    expect(clientId).toBeDefined();
    expect(secret).toBeDefined();
    expect(textOf(html)).toContain(`The client ${name} was registered.`);
    expect(textOf(html)).toContain("it is not shown again");

    // Stored as the admin API stores it: the secret only as a hash.
    const row = (await clientRow(clientId!))!;
    expect(row).toMatchObject({ name, type: "confidential", first_party: 1, dynamic: 0 });
    expect(JSON.parse(String(row.redirect_uris))).toEqual(["https://billing.example.com/callback", "https://billing.example.com/cb2"]);
    expect(JSON.parse(String(row.post_logout_redirect_uris))).toEqual(["https://billing.example.com/"]);
    expect(row.secret_hash).not.toContain(secret!);
    const audit = await auditRows("action = 'oauth.client_created' AND resource = ?", `oauth_client:${clientId}`);
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor_user_id).toBe(admin.userId);

    // Listed, with its details; the secret is never shown again.
    const list = await browser.open("/admin/oauth-clients");
    expect(list).not.toContain(secret!);
    expect(list).not.toContain('id="new-client-secret"');
    const entry = /<li>((?:(?!<\/li>)[\s\S])*)<\/li>/g;
    const item = [...list.matchAll(entry)].map((m) => m[1]!).find((li) => li.includes(clientId!));
    expect(item).toBeDefined();
    const itemText = textOf(item!);
    expect(itemText).toContain(name);
    expect(itemText).toContain("confidential");
    expect(itemText).toContain("first-party");
    expect(itemText).toContain("Redirect URIs: https://billing.example.com/callback, https://billing.example.com/cb2");
    expect(itemText).toContain("After sign-out: https://billing.example.com/");
    expect(item).toContain(`aria-label="Delete the client ${name}"`);

    // The API sees the same client.
    const api = await call("/api/v1/admin/oauth/clients", { token: admin.accessToken });
    const { clients } = await api.json<{ clients: { client_id: string; first_party: boolean }[] }>();
    expect(clients.find((c) => c.client_id === clientId)).toMatchObject({ first_party: true });

    // A person's grant to it ends with it.
    const user = await register();
    await insertGrant(user.userId, clientId!, ["openid"]);
    expect(await apiGrants(user)).toHaveLength(1);

    const deletePath = `/admin/oauth-clients/${clientId}/delete`;
    const deleted = await browser.submit(list, deletePath);
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get("location")).toBe("/admin/oauth-clients?notice=oauth_client_deleted");
    const after = await browser.open(deleted.headers.get("location")!);
    expect(textOf(after)).toContain("The client was deleted: its grants, codes and tokens no longer work.");
    expect(after).not.toContain(clientId!);
    expect(await clientRow(clientId!)).toBeNull();
    expect(await apiGrants(user)).toEqual([]);
    expect(await auditRows("action = 'oauth.client_deleted' AND resource = ?", `oauth_client:${clientId}`)).toHaveLength(1);

    // The same form again (a double click, a reload): the client is gone, and the page says so.
    const again = await browser.submit(list, deletePath);
    expect(again.status).toBe(404);
    expect(textOf(await again.text())).toContain("That client no longer exists.");
    // A reload of an action path is the list.
    const reload = await browser.get(deletePath);
    expect(reload.status).toBe(303);
    expect(reload.headers.get("location")).toBe("/admin/oauth-clients");
  });

  it("registers a public client without a secret", async () => {
    const browser = await signedIn(await superuser());
    const name = unique("Phone app");
    const res = await browser.submit(await browser.open("/admin/oauth-clients"), "/admin/oauth-clients", {
      name,
      redirect_uris: "com.example.phone:/callback",
      type: "public",
    });
    const html = await res.text();
    expect(res.status).toBe(201);
    expect(html).not.toContain('id="new-client-secret"');
    expect(textOf(html)).toContain("A public client has no secret");
    const clientId = /<code id="new-client-id">([^<]+)<\/code>/.exec(html)![1]!;
    expect(await clientRow(clientId)).toMatchObject({ type: "public", secret_hash: null, first_party: 0, post_logout_redirect_uris: "[]" });
  });

  it("shows each problem beside its field and keeps what was typed", async () => {
    const browser = await signedIn(await superuser());
    const page = await browser.open("/admin/oauth-clients");
    const empty = await browser.submit(page, "/admin/oauth-clients", { name: "  ", redirect_uris: "\n", type: "neither" });
    const emptyHtml = await empty.text();
    expect(empty.status).toBe(422);
    expect(fieldError(emptyHtml, "client-name")).toBe("Enter a name of up to 100 characters.");
    expect(fieldError(emptyHtml, "client-redirect_uris")).toBe("Enter 1 to 20 redirect URIs, one a line.");
    expect(fieldError(emptyHtml, "client-type")).toBe("Choose a type.");
    expect(emptyHtml).toContain('href="#client-name"');
    expect(textOf(emptyHtml)).toContain("Error: OAuth clients");

    // The service's own rules for redirect URIs: the refusal sits beside the field holding the URI.
    const name = unique("Shop");
    const badRedirect = await browser.submit(page, "/admin/oauth-clients", {
      name,
      redirect_uris: "https://shop.example.com/cb\nhttp://shop.example.com/cb",
      type: "confidential",
      first_party: "true",
    });
    const badHtml = await badRedirect.text();
    expect(badRedirect.status).toBe(422);
    expect(fieldError(badHtml, "client-redirect_uris")).toBe("http://shop.example.com/cb uses http: to a host that is not loopback.");
    expect(badHtml).toContain(`value="${name}"`);
    expect(badHtml).toContain("https://shop.example.com/cb\nhttp://shop.example.com/cb</textarea>");
    expect(badHtml).toMatch(/<input type="checkbox" id="client-first_party" name="first_party" value="true" checked/);
    expect(badHtml).not.toContain('id="new-client-secret"');

    const badLogout = await browser.submit(page, "/admin/oauth-clients", {
      name,
      redirect_uris: "https://shop.example.com/cb",
      type: "public",
      post_logout_redirect_uris: "javascript:alert(1)",
    });
    const logoutHtml = await badLogout.text();
    expect(badLogout.status).toBe(422);
    expect(fieldError(logoutHtml, "client-post_logout_redirect_uris")).toBe("javascript:alert(1) uses the javascript: scheme.");
    expect(fieldError(logoutHtml, "client-redirect_uris")).toBeNull();
    expect(await env.DB.prepare("SELECT id FROM oauth_clients WHERE name = ?").bind(name).first()).toBeNull();
  });
});

describe("/account: apps with access", () => {
  it("lists the apps a person allowed and removes one's access at once, without a fresh sign-in", async () => {
    const user = await register();
    const browser = await signedIn(user);
    const before = await browser.open("/account");
    expect(before).toContain('<section id="apps" aria-labelledby="apps-h">');
    expect(before).toContain('<a href="#apps">Apps with access</a>');
    expect(textOf(before)).toContain("No app has access.");

    const name = unique("Recipe planner");
    const clientId = await insertClient(name);
    const { tokenHash } = await insertGrant(user.userId, clientId, ["openid", "email", "offline_access"]);
    // Someone else's grant to the same app: not theirs to see or remove.
    const other = await register();
    await insertGrant(other.userId, clientId, ["openid"]);

    const page = await browser.open("/account");
    const section = /<section id="apps"[\s\S]*?<\/section>/.exec(page)![0];
    const text = textOf(section);
    expect(text).toContain(name);
    expect(text).toContain("Allowed ");
    expect(text).toContain("Know who you are here");
    expect(text).toContain("See your email address");
    expect(text).toContain("Keep access while you are away, until you remove it");
    expect(text).not.toContain("No app has access.");
    const form = formOf(section, "/account/grants/revoke", clientId);
    expect(form).toContain(`<input type="hidden" name="client_id" value="${clientId}"/>`);
    expect(form).toContain("Remove access");
    expect(await apiGrants(user)).toEqual([expect.objectContaining({ client_id: clientId, name })]);

    // Taking access away is not a sensitive action: a session older than 5 minutes still may.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 10 * 60_000 });
    const removed = await browser.submit(page, "/account/grants/revoke", {}, clientId);
    expect(removed.status).toBe(303);
    expect(removed.headers.get("location")).toBe("/account?notice=grant_revoked#apps");
    const after = await browser.open("/account?notice=grant_revoked");
    vi.useRealTimers();
    expect(textOf(after)).toContain("The app's access was removed.");
    const afterSection = textOf(/<section id="apps"[\s\S]*?<\/section>/.exec(after)![0]);
    expect(afterSection).not.toContain(name);
    expect(afterSection).toContain("No app has access.");

    // Gone for the API too, its refresh token revoked with it, recorded; the other person's grant stays.
    expect(await apiGrants(user)).toEqual([]);
    const token = await env.DB.prepare("SELECT revoked_at FROM oauth_refresh_tokens WHERE hash = ?")
      .bind(tokenHash)
      .first<{ revoked_at: number | null }>();
    expect(token?.revoked_at).not.toBeNull();
    expect(await auditRows("action = 'oauth.grant_revoked' AND user_id = ?", user.userId)).toHaveLength(1);
    expect(await apiGrants(other)).toHaveLength(1);

    // The same form again: nothing left to remove, and the page says so beside the list.
    const again = await browser.submit(page, "/account/grants/revoke", {}, clientId);
    expect(again.status).toBe(404);
    const againHtml = await again.text();
    expect(textOf(/<section id="apps"[\s\S]*?<\/section>/.exec(againHtml)![0])).toContain("There is nothing here any more.");
    expect(await apiGrants(other)).toHaveLength(1);
  });

  it("refuses a forged removal and sends a signed-out browser to sign in", async () => {
    const user = await register();
    const clientId = await insertClient(unique("Forged"));
    await insertGrant(user.userId, clientId, ["openid"]);
    const browser = await signedIn(user);
    const forged = await browser.post("/account/grants/revoke", { client_id: clientId });
    expect(forged.status).toBe(403);
    const page = await browser.open("/account");
    const crossSite = await browser.submit(page, "/account/grants/revoke", {}, clientId, { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    expect(await apiGrants(user)).toHaveLength(1);

    // A signed-out browser with a genuine token of its own: to the sign-in page, nothing removed.
    const out = new Browser();
    await out.open("/login");
    const signedOut = await out.post("/account/grants/revoke", { csrf_token: await formToken(out, "grant_revoke"), client_id: clientId });
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get("location")).toBe("/login?return_to=%2Faccount");
    expect(await apiGrants(user)).toHaveLength(1);
  });
});
