import { describe, expect, it } from "vitest";
import { call, freshIp, problem, register, uniqueEmail } from "./helpers";

/**
 * The dev outbox keeps both parts of every mail: the JSON route's messages keep their shape and add
 * the HTML part on request (`include=html`), and `GET /dev/outbox` shows the mail as a page. Both
 * are an ordinary 404 without DEV_OUTBOX.
 */

interface Message {
  to: string;
  kind: string;
  subject: string;
  text: string;
  html?: string;
  token: string | null;
  created_at: string;
}

async function messages(query: string): Promise<Message[]> {
  const res = await call(`/api/v1/dev/outbox?${query}`);
  expect(res.status).toBe(200);
  return (await res.json<{ messages: Message[] }>()).messages;
}

/** Decodes the HTML a `srcdoc` attribute holds (hono/jsx escapes `&`, `"`, `<`, `>` and `'`). */
function unescapeAttribute(value: string): string {
  return value.replaceAll("&quot;", '"').replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&#39;", "'").replaceAll("&amp;", "&");
}

describe("GET /api/v1/dev/outbox", () => {
  it("keeps its shape, and adds each mail's HTML part with include=html", async () => {
    const user = await register();
    const [plain] = await messages(`to=${encodeURIComponent(user.email)}`);
    expect(Object.keys(plain!).sort()).toEqual(["created_at", "kind", "locale", "subject", "text", "to", "token"]);
    const [full] = await messages(`to=${encodeURIComponent(user.email)}&include=html`);
    expect({ ...full, html: undefined }).toEqual({ ...plain, html: undefined });
    expect(full!.html).toMatch(/^<!DOCTYPE html><html lang="en" dir="ltr">/);
    expect(full!.html).toContain(`/verify-email?token=${full!.token}&amp;lang=en`);
  });

  it("refuses an unknown include", async () => {
    const res = await call(`/api/v1/dev/outbox?to=${encodeURIComponent(uniqueEmail())}&include=everything`);
    const body = await problem(res, 422, "validation_failed");
    expect(body.errors).toEqual([expect.objectContaining({ field: "include" })]);
  });
});

describe("GET /dev/outbox", () => {
  it("shows the newest mail first, with recipient, subject, time, links, and both parts", async () => {
    const first = await register();
    const second = await register();
    const res = await call("/dev/outbox");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const page = await res.text();
    const [mail] = await messages(`to=${encodeURIComponent(second.email)}&include=html`);
    // The newest mail is the second account's, above the first's.
    const at = (email: string) => page.indexOf(`>${email}</a>`);
    expect(at(second.email)).toBeGreaterThan(0);
    expect(at(first.email)).toBeGreaterThan(at(second.email));
    // Other tests mail at the same time, into the same outbox: read the second account's entry, which
    // starts at its subject heading (just before its recipient) and ends where the next one starts.
    const start = page.lastIndexOf('<h2 id="mail-', at(second.email));
    const end = page.indexOf('<h2 id="mail-', at(second.email));
    const entry = page.slice(start, end < 0 ? undefined : end);
    expect(entry).toMatch(/^<h2 id="mail-\d+-subject" lang="en" dir="auto">Verify your email address<\/h2>/);
    expect(entry).toContain(`<time datetime="${mail!.created_at}">`);
    // The link it carries, clickable.
    const link = `https://auth.example.com/verify-email?token=${mail!.token}&lang=en`.replaceAll("&", "&amp;");
    expect(entry).toContain(`<a href="${link}">${link}</a>`);
    // The HTML part, whole, in a sandboxed frame's srcdoc; the text part beside it.
    const frame =
      /<iframe title="HTML part: Verify your email address" sandbox="allow-top-navigation-by-user-activation" srcdoc="([^"]*)"/.exec(entry);
    expect(frame).not.toBeNull();
    expect(unescapeAttribute(frame![1]!)).toBe(mail!.html!.replace("<head>", '<head><base target="_top">'));
    expect(entry).toContain(`<summary>Text part</summary><pre lang="en" dir="auto">`);
  });

  it("filters by recipient, and refuses a malformed one with a clear message", async () => {
    const user = await register();
    const other = await register();
    const page = await (await call(`/dev/outbox?to=${encodeURIComponent(user.email.toUpperCase())}`)).text();
    expect(page).toContain(`1 mail to ${user.email.toUpperCase()}.`);
    expect(page).toContain(`>${user.email}</a>`);
    expect(page).not.toContain(other.email);
    const refused = await call(`/dev/outbox?to=${"a".repeat(300)}`);
    expect(refused.status).toBe(422);
    const body = await refused.text();
    expect(body).toContain('<p class="alert" role="alert">Enter a recipient&#39;s address of 3 to 254 characters');
    expect(body).not.toContain("<iframe");
  });

  it("escapes what a mail carries: a hostile user agent stays text, in the frame too", async () => {
    const user = await register();
    const hostile = `"><script>alert(1)</script><iframe srcdoc="x">`;
    await call("/api/v1/auth/login", {
      body: { email: user.email, password: user.password },
      ip: freshIp(),
      headers: { "User-Agent": hostile },
    });
    const page = await (await call(`/dev/outbox?to=${encodeURIComponent(user.email)}`)).text();
    expect(page).not.toContain("<script");
    // Twice escaped in the attribute: once in the mail's HTML, once more as the attribute's value.
    expect(page).toContain("&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;");
    // The text part shows it as text.
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page.match(/<iframe /g)).toHaveLength(2);
  });

  it("has the pages' headers: a strict CSP that lets only the frames' inline styles through, no caching", async () => {
    const res = await call("/dev/outbox");
    const csp = res.headers.get("content-security-policy")!;
    const nonce = /style-src 'nonce-([^']+)'/.exec(csp)![1]!;
    expect(csp).toBe(
      `default-src 'none'; style-src 'nonce-${nonce}'; style-src-attr 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    );
    expect(await res.text()).toContain(`<style nonce="${nonce}">`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("same-origin");
  });

  it("is an ordinary 404 when DEV_OUTBOX is off, exactly like the JSON route", async () => {
    const email = encodeURIComponent(uniqueEmail());
    const page = await call(`/dev/outbox?to=${email}`, { env: { DEV_OUTBOX: "false" } });
    const json = await call(`/api/v1/dev/outbox?to=${email}`, { env: { DEV_OUTBOX: "false" } });
    const pageBody = await problem(page, 404, "not_found");
    const jsonBody = await problem(json, 404, "not_found");
    expect({ ...pageBody, request_id: null }).toEqual({ ...jsonBody, request_id: null });
    expect(page.headers.get("content-security-policy")).toBe(json.headers.get("content-security-policy"));
  });
});
