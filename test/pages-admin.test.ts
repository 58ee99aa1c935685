import { describe, expect, it } from "vitest";
import { auditRows, call, env, login, outbox, register, superuser, userRow, type Registered } from "./helpers";
import { Browser, fieldError, formOf, gzippedSize, textOf } from "./pages-browser";

/** The `/admin` console, for signed-in superusers, each action through its service. */

async function signedIn(user: Registered): Promise<Browser> {
  const browser = new Browser();
  const res = await browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password: user.password });
  expect(res.status).toBe(303);
  return browser;
}

async function admin(): Promise<{ browser: Browser; id: string; email: string }> {
  const user = await superuser();
  return { browser: await signedIn(user), id: user.userId, email: user.email };
}

async function idOf(email: string): Promise<string> {
  return String((await userRow(email))!.id);
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

/** The newest audit row of `action` about `userId`. */
async function auditRow(action: string, userId: string) {
  return (await auditRows("action = ? AND user_id = ?", action, userId)).at(-1);
}

/** Submits the action form of a user's page (the one posting to `/admin/users/{id}/{path}`). */
async function act(browser: Browser, id: string, path: string, fields: Record<string, string> = {}, marker?: string) {
  const page = await browser.open(`/admin/users/${id}`);
  return browser.submit(page, `/admin/users/${id}/${path}`, fields, marker);
}

describe("/admin access", () => {
  it("sends a signed-out visitor to sign in, refuses a non-superuser with a 403 page, serves a superuser", async () => {
    const out = await new Browser().get("/admin");
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/login?return_to=%2Fadmin");
    const deep = await new Browser().get("/admin/audit-logs?action=login.failed");
    expect(deep.headers.get("location")).toBe(`/login?return_to=${encodeURIComponent("/admin/audit-logs?action=login.failed")}`);
    expect((await new Browser().get("/admin/audit-logs.ndjson")).status).toBe(303);

    const plain = await signedIn(await register());
    for (const path of [
      "/admin",
      "/admin/audit-logs",
      "/admin/audit-logs.ndjson",
      `/admin/users/${await idOf((await register()).email)}`,
    ]) {
      const res = await plain.get(path);
      expect(res.status, path).toBe(403);
      expect(textOf(await res.text())).toContain("This page is for administrators.");
    }
    expect(textOf(await plain.open("/account"))).not.toContain("Administration");

    const { browser } = await admin();
    const res = await browser.get("/admin");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("script-src");
    const html = await res.text();
    expect(html).not.toMatch(/<script/i);
    expect(textOf(await browser.open("/account"))).toContain("Administration"); // the header's link
  });

  it("refuses a POST from a non-superuser, a signed-out browser and a forged form", async () => {
    const { browser } = await admin();
    const target = await register();
    const id = await idOf(target.email);
    const page = await browser.open(`/admin/users/${id}`);
    const forged = await browser.submit(page, `/admin/users/${id}/deactivate`, {}, undefined, {
      origin: "https://evil.test",
      site: "cross-site",
    });
    expect(forged.status).toBe(403);
    // A token of another form does not pass either.
    const token = /name="csrf_token" value="([^"]+)"/.exec(formOf(page, `/admin/users/${id}/unlock`))![1]!;
    expect((await browser.post(`/admin/users/${id}/deactivate`, { csrf_token: token })).status).toBe(403);
    expect((await userRow(target.email))!.is_active).toBe(1);

    const plain = await signedIn(await register());
    const plainPage = await plain.open("/account");
    // A genuine form of a signed-in user who is not a superuser still meets the superuser check.
    expect(plainPage).toContain("csrf_token");
    const refused = await plain.post(`/admin/users/${id}/deactivate`, { csrf_token: await formToken(plain, "admin_deactivate") });
    expect(refused.status).toBe(403);
    expect(textOf(await refused.text())).toContain("This page is for administrators.");
    const stranger = new Browser();
    stranger.jar.set("__Host-gh_csrf", browser.jar.get("__Host-gh_csrf")!);
    const signedOut = await stranger.post(`/admin/users/${id}/deactivate`, {
      csrf_token: /name="csrf_token" value="([^"]+)"/.exec(formOf(page, `/admin/users/${id}/deactivate`))![1]!,
    });
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get("location")).toBe("/login?return_to=%2Fadmin");
    expect((await userRow(target.email))!.is_active).toBe(1);
  });
});

describe("/admin users", () => {
  it("searches by prefix and status, pages with the cursor, and stays under 30 KiB gzipped", async () => {
    const { browser } = await admin();
    const tag = `findme${Date.now().toString(36)}`;
    await Promise.all(Array.from({ length: 27 }, (_, i) => register({ email: `${tag}.${i}@example.com` })));
    await register({ email: `${tag}.unverified@example.com` });
    let html = await browser.open(`/admin?query=${tag}`);
    expect(html.match(/href="\/admin\/users\//g)).toHaveLength(25);
    const next = /<a href="(\/admin\?[^"]*cursor=[^"]+)">Next page<\/a>/.exec(html)![1]!.replace(/&amp;/g, "&");
    html = await browser.open(next);
    expect(html.match(/href="\/admin\/users\//g)).toHaveLength(3);
    expect(textOf(html)).toContain("First page");
    expect(await gzippedSize(await browser.open(`/admin?query=${tag}`))).toBeLessThanOrEqual(30 * 1024);

    const deactivated = await register({ email: `${tag}.gone@example.com` });
    await env.DB.prepare("UPDATE users SET is_active = 0, deactivated_at = 1 WHERE email = ?").bind(deactivated.email).run();
    html = await browser.open(`/admin?query=${tag}&status=deactivated`);
    expect(html.match(/href="\/admin\/users\//g)).toHaveLength(1);
    expect(textOf(html)).toContain(deactivated.email);
    expect(html).toContain('<option value="deactivated" selected="">');

    const bad = await browser.get("/admin?status=sleeping");
    expect(bad.status).toBe(422);
    expect(fieldError(await bad.text(), "search-status")).toBe("Choose a status.");
    // A mangled cursor shows the first page.
    expect((await browser.get("/admin?cursor=garbage")).status).toBe(200);
  });

  it("shows one user: profile, roles, sessions, API keys without secrets, devices, lock state, recent events", async () => {
    const { browser } = await admin();
    const target = await register({ username: `grace_${Date.now().toString(36)}` });
    const id = await idOf(target.email);
    await env.DB.prepare("UPDATE users SET roles = ? WHERE id = ?").bind('["editor"]', id).run();
    const key = await createKey(target.accessToken);
    const html = await browser.open(`/admin/users/${id}`);
    const text = textOf(html);
    for (const words of [target.email, "Sessions", "API keys", "Known devices", "Recent events", "Not locked", "editor", "backup"])
      expect(text).toContain(words);
    expect(html).not.toContain(key);
    expect(text).toContain("Account created");
    expect(await gzippedSize(html)).toBeLessThanOrEqual(30 * 1024);
    expect((await browser.get("/admin/users/no-such-user")).status).toBe(404);
  });
});

/** Creates an API key for the user (bearer), returning its secret. */
async function createKey(accessToken: string): Promise<string> {
  const res = await call("/api/v1/users/me/api-keys", {
    method: "POST",
    token: accessToken,
    body: { name: "backup", scopes: ["profile:read"] },
  });
  expect(res.status).toBe(201);
  return (await res.json<{ key: string }>()).key;
}

describe("/admin actions", () => {
  it("deactivates (the user's session dies) and reactivates, audited with the superuser as actor", async () => {
    const { browser, id: actorId } = await admin();
    const target = await register();
    const id = await idOf(target.email);
    const victim = await signedIn(target);
    let res = await act(browser, id, "deactivate");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/admin/users/${id}?notice=user_deactivated`);
    expect(textOf(await browser.open(res.headers.get("location")!))).toContain("The user was deactivated");
    expect((await userRow(target.email))!.is_active).toBe(0);
    expect((await victim.get("/account")).status).toBe(303);
    expect((await login({ email: target.email, password: target.password })).status).toBe(401);
    expect(await auditRow("user.deactivated", id)).toMatchObject({ actor_user_id: actorId });

    res = await act(browser, id, "reactivate");
    expect(res.headers.get("location")).toBe(`/admin/users/${id}?notice=user_reactivated`);
    expect((await userRow(target.email))!.is_active).toBe(1);
    expect((await login({ email: target.email, password: target.password })).status).toBe(200);
    expect(await auditRow("user.reactivated", id)).toMatchObject({ actor_user_id: actorId });
  });

  it("sets roles, refusing bad ones beside the field", async () => {
    const { browser, id: actorId } = await admin();
    const target = await register();
    const id = await idOf(target.email);
    let res = await act(browser, id, "roles", { roles: "Bad Role!" });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(fieldError(html, "roles-roles")).toContain("Use up to 32 roles");
    expect(html).toContain('value="Bad Role!"');
    res = await act(browser, id, "roles", { roles: "editor, billing  editor" });
    expect(res.headers.get("location")).toBe(`/admin/users/${id}?notice=roles_saved`);
    expect((await userRow(target.email))!.roles).toBe('["billing","editor"]');
    expect(await auditRow("user.roles_changed", id)).toMatchObject({ actor_user_id: actorId });
  });

  it("revokes one session, then all of them", async () => {
    const { browser, id: actorId } = await admin();
    const target = await register();
    const id = await idOf(target.email);
    const first = await signedIn(target);
    const second = await signedIn(target);
    const page = await browser.open(`/admin/users/${id}`);
    const sessionIds = [...page.matchAll(/name="session_id" value="([^"]+)"/g)].map((m) => m[1]!);
    expect(sessionIds.length).toBe(3); // registration's, and the two browsers'
    // The newest first: the second browser's session.
    let res = await browser.submit(page, `/admin/users/${id}/sessions/revoke`, {}, sessionIds[0]);
    expect(res.headers.get("location")).toBe(`/admin/users/${id}?notice=user_session_revoked`);
    expect((await second.get("/account")).status).toBe(303);
    expect((await first.get("/account")).status).toBe(200);
    expect(await auditRow("session.revoked", id)).toMatchObject({ actor_user_id: actorId });
    res = await act(browser, id, "sessions/revoke", { session_id: "nope" }, sessionIds[1]);
    expect(res.status).toBe(404);
    res = await act(browser, id, "sessions/revoke-all");
    expect(res.headers.get("location")).toBe(`/admin/users/${id}?notice=user_sessions_revoked`);
    expect((await first.get("/account")).status).toBe(303);
  });

  it("unlocks a locked account", async () => {
    const { browser, id: actorId } = await admin();
    const target = await register();
    const id = await idOf(target.email);
    for (let i = 0; i < 5; i++) await login({ email: target.email, password: `wrong guess ${i}` });
    expect((await login({ email: target.email, password: target.password })).status).toBe(423);
    expect(textOf(await browser.open(`/admin/users/${id}`))).toMatch(/Locked (until|after)/);
    const res = await act(browser, id, "unlock");
    expect(res.headers.get("location")).toBe(`/admin/users/${id}?notice=user_unlocked`);
    expect((await login({ email: target.email, password: target.password })).status).toBe(200);
    expect(await auditRow("account.unlocked", id)).toMatchObject({ actor_user_id: actorId });
  });

  it("forces a password reset: signed out everywhere, a link mailed", async () => {
    const { browser, id: actorId } = await admin();
    const target = await register();
    const id = await idOf(target.email);
    const victim = await signedIn(target);
    const res = await act(browser, id, "password-reset");
    expect(res.headers.get("location")).toBe(`/admin/users/${id}?notice=password_reset_forced`);
    expect((await victim.get("/account")).status).toBe(303);
    expect(await outbox(target.email, "password_reset")).toHaveLength(1);
    expect(await auditRow("admin.password_reset", id)).toMatchObject({ actor_user_id: actorId });
  });

  it("grants and revokes superuser", async () => {
    const { browser, id: actorId } = await admin();
    const target = await register();
    const id = await idOf(target.email);
    let res = await act(browser, id, "superuser", {}, 'value="grant"');
    expect(res.headers.get("location")).toBe(`/admin/users/${id}?notice=superuser_granted`);
    expect((await userRow(target.email))!.is_superuser).toBe(1);
    expect(await auditRow("admin.superuser_granted", id)).toMatchObject({ actor_user_id: actorId });
    res = await act(browser, id, "superuser", {}, 'value="revoke"');
    expect(res.headers.get("location")).toBe(`/admin/users/${id}?notice=superuser_revoked`);
    expect(await auditRow("admin.superuser_revoked", id)).toMatchObject({ actor_user_id: actorId });

    // The last one is never removed, and the page says why: test/last-superuser.test.ts (it runs alone).
  });
});

describe("/admin audit log", () => {
  it("filters, pages, refuses bad filters beside the field, and exports NDJSON", async () => {
    const { browser, id: actorId } = await admin();
    const target = await register();
    const id = await idOf(target.email);
    for (let i = 0; i < 3; i++) await login({ email: target.email, password: `wrong guess ${i}` });
    let html = await browser.open(`/admin/audit-logs?user_id=${id}&action=login.failed`);
    expect(html.match(/<code>login\.failed<\/code>/g)).toHaveLength(3);
    expect(await gzippedSize(await browser.open("/admin/audit-logs"))).toBeLessThanOrEqual(30 * 1024);
    html = await browser.open(`/admin/audit-logs?user_id=${id}&since=2000-01-01&until=2000-01-02`);
    expect(textOf(html)).toContain("No events yet.");

    const bad = await browser.get("/admin/audit-logs?ip=not-an-ip&since=yesterday");
    expect(bad.status).toBe(422);
    const badHtml = await bad.text();
    expect(fieldError(badHtml, "audit-ip")).toBe("Use an IPv4 or IPv6 address.");
    expect(fieldError(badHtml, "audit-since")).toContain("Use a date and time");

    const link = /href="(\/admin\/audit-logs\.ndjson[^"]*)"/.exec(html)![1]!.replace(/&amp;/g, "&");
    expect(link).toBe(`/admin/audit-logs.ndjson?user_id=${id}&since=2000-01-01&until=2000-01-02`);
    const res = await browser.get(`/admin/audit-logs.ndjson?user_id=${id}`, { "Sec-Fetch-Site": "same-origin" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    expect(res.headers.get("content-disposition")).toContain("attachment");
    expect(res.headers.get("cache-control")).toBe("no-store");
    // Read as bytes: the runtime warns about .text() on a body whose type is not text/*.
    const lines = new TextDecoder()
      .decode(await res.arrayBuffer())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { action: string; user_id: string });
    expect(lines.filter((l) => l.action === "login.failed")).toHaveLength(3);
    expect(lines.every((l) => l.user_id === id)).toBe(true);
    expect(
      await env.DB.prepare("SELECT actor_user_id FROM audit_logs WHERE action = 'admin.audit_exported' AND actor_user_id = ?")
        .bind(actorId)
        .first(),
    ).toBeTruthy();
    // Another site cannot start one in the administrator's browser.
    expect((await browser.get(`/admin/audit-logs.ndjson`, { "Sec-Fetch-Site": "cross-site" })).status).toBe(403);
  });
});
