import { jsx } from "hono/jsx";
import { afterEach, describe, expect, it } from "vitest";
import { SHIPPED_LOCALES, type Locale } from "../src/config/languages";
import { negotiate, person, shippedLocale, translator } from "../src/i18n";
import { forgetCatalogues } from "../src/i18n/catalogue";
import { stylesheet } from "../src/pages/theme";
import { call, captureLogs, env, freshIp, outbox, register, STRONG_PASSWORD, uniqueEmail } from "./helpers";
import { Browser, fieldError, textOf } from "./pages-browser";

/** Languages (the HTTP contract v1.2 "Languages"): negotiation, pages, mail, the API, overrides. */

const source = { assets: env.ASSETS, kv: env.AUTH_KV };
const words = (locale: Locale) => translator(source, locale);

afterEach(() => forgetCatalogues());

describe("negotiation", () => {
  it("names a shipped locale by tag or language, nothing else", () => {
    expect(shippedLocale("de-CH")).toBe("de");
    expect(shippedLocale("zh-Hans-CN")).toBe("zh");
    expect(shippedLocale("PT-br")).toBe("pt");
    for (const bad of ["xx", "", "de_DE", "en;q=1", "<script>", "a".repeat(40), null, undefined]) expect(shippedLocale(bad)).toBeNull();
  });

  it("takes ?lang=, then the cookie, the account, Accept-Language, then the default", () => {
    const all = { query: "ar", cookie: "ja", account: "fr", acceptLanguage: "de" };
    expect(negotiate(all, "en")).toBe("ar");
    expect(negotiate({ ...all, query: "xx" }, "en")).toBe("ja");
    expect(negotiate({ ...all, query: null, cookie: "nope" }, "en")).toBe("fr");
    expect(negotiate({ acceptLanguage: "xx, nl;q=0.5, pl;q=0.9" }, "en")).toBe("pl");
    expect(negotiate({ acceptLanguage: "ko;q=0, it;q=0.1" }, "en")).toBe("it");
    expect(negotiate({ acceptLanguage: "*" }, "es")).toBe("es");
  });
});

describe("the translator", () => {
  it("picks plural forms by the platform's rules", async () => {
    const pl = await words("pl");
    const forms = [1, 2, 5, 22].map((count) => pl.text("passwordPolicy.tooShort", { count }));
    expect(new Set(forms).size).toBeGreaterThanOrEqual(3);
    const ar = await words("ar");
    expect(new Set([0, 1, 2, 3, 11, 100].map((count) => ar.text("passwordPolicy.tooShort", { count }))).size).toBe(6);
  });

  it("isolates people's values for bidi and escapes them on pages", async () => {
    const t = await words("ar");
    expect(t.text("signedInAs", { email: person("a@example.com") })).toContain("\u2068a@example.com\u2069");
    const html = String(jsx("p", {}, t.rich("signedInAs", { email: person("<i>x</i>") })));
    expect(html).toContain("<bdi>&lt;i&gt;x&lt;/i&gt;</bdi>");
    expect(html).not.toContain("<i>");
  });

  it("writes dates, durations and lists as each language does", async () => {
    const at = new Date("2026-12-05T09:30:00Z");
    expect((await words("ja")).date(at)).toMatch(/2026年12月5日/);
    expect((await words("de")).duration(120)).toBe("2 Minuten");
    expect((await words("fr")).list(["a", "b", "c"])).toBe("a, b et c");
    expect((await words("en")).relative(new Date(at.getTime() - 3 * 3_600_000), at)).toBe("3 hours ago");
  });
});

describe("pages", () => {
  it("speak the browser's language, with <html lang dir>, and mirror for Arabic", async () => {
    const de = await new Browser().get("/login", { "Accept-Language": "de-DE,de;q=0.9,en;q=0.5" });
    const html = await de.text();
    expect(html).toContain('<html lang="de" dir="ltr">');
    expect(html).toContain(`<h1>${(await words("de")).text("login.title")}</h1>`);
    const ar = await (await new Browser().get("/register", { "Accept-Language": "ar" })).text();
    expect(ar).toContain('<html lang="ar" dir="rtl">');
    expect(textOf(ar)).toContain((await words("ar")).text("register.submit"));
  });

  it("lay out with logical CSS properties only, so right-to-left mirrors", () => {
    expect(stylesheet("#1f5fbf")).not.toMatch(/\b(left|right)\b/);
    expect(stylesheet("#1f5fbf")).toContain("inset-inline-start");
  });

  it("remember ?lang= in the gh_lang cookie, which outranks Accept-Language", async () => {
    const browser = new Browser();
    const res = await browser.get("/login?lang=ja", { "Accept-Language": "de" });
    expect(await res.text()).toContain('<html lang="ja" dir="ltr">');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("gh_lang="))!;
    expect(cookie).toMatch(/^gh_lang=ja;/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(await (await browser.get("/forgot-password", { "Accept-Language": "de" })).text()).toContain('lang="ja"');
  });

  it("ignore a ?lang= or cookie that names no shipped locale", async () => {
    const res = await new Browser().get("/login?lang=xx-evil", { "Accept-Language": "fr", Cookie: "gh_lang=<script>" });
    expect(await res.text()).toContain('<html lang="fr"');
    expect(res.headers.getSetCookie().some((c) => c.startsWith("gh_lang="))).toBe(false);
  });

  it("offer every shipped language, named in itself, keeping the page's query (a mailed link's token)", async () => {
    const html = await (await new Browser().get("/reset-password?token=abc", { "Accept-Language": "de" })).text();
    const links = [...html.matchAll(/<a href="([^"]+)" hreflang="([a-z]+)" rel="alternate">([^<]+)<\/a>/g)];
    expect(links.map((l) => l[2]).sort()).toEqual(SHIPPED_LOCALES.filter((l) => l !== "de").sort());
    for (const [, href = "", locale] of links) expect(href.replaceAll("&amp;", "&")).toBe(`/reset-password?token=abc&lang=${locale}`);
    expect(html).toContain('<span aria-current="true">Deutsch</span>');
    expect(html).toContain("日本語");
    expect(html).toContain("العربية");
  });

  it("say a form's problems in the page's language", async () => {
    const browser = new Browser();
    const page = await (await browser.get("/register?lang=de")).text();
    const res = await browser.submit(page, "/register", { full_name: "Kim", email: uniqueEmail(), password: "short" });
    const html = await res.text();
    expect(res.status).toBe(422);
    expect(fieldError(html, "register-password")).toBe((await words("de")).text("passwordPolicy.tooShort", { count: 8 }));
  });

  it("follow the account's language once it is chosen, and the account page can choose it", async () => {
    const user = await register();
    const browser = new Browser();
    const login = await (await browser.get("/login")).text();
    await browser.submit(login, "/login", { identifier: user.email, password: user.password });
    const account = await (await browser.get("/account")).text();
    expect(account).toContain('<html lang="en"');
    expect(account).toContain('<option value="" selected="">');
    const res = await browser.submit(account, "/account/profile", { full_name: "Test User", locale: "fr" }, 'name="locale"');
    expect(res.status).toBe(303);
    expect((await (await browser.get("/account", { "Accept-Language": "de" })).text()).slice(0, 200)).toContain('<html lang="fr"');
    // A fresh browser with no cookie: the account's language still decides (above Accept-Language).
    const other = new Browser();
    await other.submit(await (await other.get("/login")).text(), "/login", { identifier: user.email, password: user.password });
    expect(await (await other.get("/account", { "Accept-Language": "de" })).text()).toContain('<html lang="fr"');
  });
});

describe("the JSON API", () => {
  it("carries locale in UserResponse and accepts only shipped locales or null in PUT /users/me", async () => {
    const user = await register();
    const auth = { Authorization: `Bearer ${user.accessToken}` };
    expect((user.body.user as { locale: unknown }).locale).toBeNull();
    for (const bad of ["xx", "de-DE", "", 7]) {
      expect((await call("/api/v1/users/me", { method: "PUT", headers: auth, body: { locale: bad } })).status).toBe(422);
    }
    const set = await call("/api/v1/users/me", { method: "PUT", headers: auth, body: { locale: "ko" } });
    expect(await set.json()).toMatchObject({ locale: "ko" });
    const cleared = await call("/api/v1/users/me", { method: "PUT", headers: auth, body: { locale: null } });
    expect(await cleared.json()).toMatchObject({ locale: null });
  });

  it("stays English whatever the request asks, without the pages' message keys", async () => {
    const res = await call("/api/v1/auth/register", {
      body: { email: uniqueEmail(), password: "short", full_name: "X" },
      headers: { "Accept-Language": "de" },
      ip: freshIp(),
    });
    const body = await res.json<{ detail: string; errors: Record<string, unknown>[] }>();
    expect(body.detail).toBe("Use at least 8 characters.");
    expect(body.errors).toEqual([{ field: "password", message: "Use at least 8 characters." }]);
  });

  it("publishes ui_locales_supported in discovery", async () => {
    const res = await call("/.well-known/openid-configuration");
    expect((await res.json<{ ui_locales_supported: string[] }>()).ui_locales_supported).toEqual([...SHIPPED_LOCALES]);
  });
});

describe("mail", () => {
  it("speaks the request's language to an address without a chosen language, with links that keep it", async () => {
    const email = uniqueEmail();
    const res = await call("/api/v1/auth/register", {
      body: { email, password: STRONG_PASSWORD, full_name: "نور" },
      headers: { "Accept-Language": "ar" },
      ip: freshIp(),
    });
    expect(res.status).toBe(201);
    const [mail] = await outbox(email, "email_verification");
    expect(mail).toMatchObject({ locale: "ar", subject: (await words("ar")).text("mail.verification.subject") });
    expect(mail!.text).toMatch(/\/verify-email\?token=[\w-]+&lang=ar/);
  });

  it("speaks the account's language, whatever the request asks", async () => {
    const user = await register();
    await call("/api/v1/users/me", { method: "PUT", headers: { Authorization: `Bearer ${user.accessToken}` }, body: { locale: "ja" } });
    await call("/api/v1/auth/forgot-password", { body: { email: user.email }, headers: { "Accept-Language": "de" }, ip: freshIp() });
    const [mail] = await outbox(user.email, "password_reset");
    expect(mail).toMatchObject({ locale: "ja", subject: (await words("ja")).text("mail.reset.subject") });
    expect(mail!.subject).not.toMatch(/[\r\n]/);
  });
});

describe("operator overrides", () => {
  it("replace a shipped text from KV; an invalid one is refused with a warning and the shipped text stays", async () => {
    const logs = captureLogs();
    const shipped = (await words("de")).text("login.submit");
    await env.AUTH_KV.put(
      "i18n:overrides:de",
      JSON.stringify({ "login.title": "Willkommen zurück", "login.submit": "<b>Los</b>", "errors.rateLimited": "Zu oft." }),
    );
    forgetCatalogues();
    try {
      const html = await (await new Browser().get("/login?lang=de")).text();
      expect(html).toContain("<h1>Willkommen zurück</h1>");
      expect(textOf(html)).toContain(shipped);
      expect(html).not.toContain("Los");
      const warning = logs.problems().find((l) => l.event === "i18n.overrides_refused");
      expect(warning).toMatchObject({ locale: "de" });
      expect(JSON.stringify(warning)).toContain("login.submit");
      expect(JSON.stringify(warning)).toContain("errors.rateLimited");
    } finally {
      await env.AUTH_KV.delete("i18n:overrides:de");
    }
  });
});
