import { describe, expect, it, vi } from "vitest";
import { SHIPPED_LOCALES, type Locale } from "../src/config/languages";
import { translator } from "../src/i18n";
import { createDeps, type Deps } from "../src/kernel/deps";
import { buttonColours } from "../src/kernel/accent";
import type { MailMessage } from "../src/mail/message";
import { linksIn } from "../src/mail/outbox-view";
import {
  emailChangeMail,
  emailRevertMail,
  enrolmentCodeMail,
  enrolmentNoticeMail,
  newSignInMail,
  passwordResetMail,
  registrationAttemptMail,
  securityNoticeMail,
  signInCodeMail,
  usernameUnavailableMail,
  verificationMail,
} from "../src/mail/templates";
import { call, env, freshIp, register } from "./helpers";

/**
 * The HTML part of every mail: the layout (brand, heading, paragraphs, button with its address
 * written out, footer), every shipped language with its direction, values escaped, and the same
 * links and codes as the text part.
 */

const APP = "https://app.example.com";
const HOSTILE = `<script>alert("x")</script>" onload="alert(1)`;

function siteDeps(options: { locale?: Locale; productName?: string; accentColor?: string } = {}): Deps {
  const deps = createDeps(env, {
    meta: { ip: "203.0.113.9", userAgent: null, requestId: "test", locale: options.locale },
    waitUntil: () => undefined,
  });
  const branding = {
    ...deps.config.branding,
    ...(options.productName ? { productName: options.productName } : {}),
    ...(options.accentColor ? { accentColor: options.accentColor } : {}),
  };
  return { ...deps, config: { ...deps.config, appUrl: APP, branding } };
}

const to = (email: string, locale: string | null = null) => ({ email, locale });

/** Every href of the HTML part, as the browser reads it (`&amp;` → `&`). */
function hrefsIn(html: string): string[] {
  return [...new Set([...html.matchAll(/ href="([^"]*)"/g)].map((m) => m[1]!.replaceAll("&amp;", "&")))];
}

/** One mail of every template, for the same recipient. */
async function everyMail(deps: Deps, locale: string | null = null): Promise<MailMessage[]> {
  const r = to("ada@example.com", locale);
  const now = new Date("2026-12-01T10:00:00Z");
  return Promise.all([
    verificationMail(deps, r, "tok-verify"),
    passwordResetMail(deps, r, "tok-reset"),
    emailChangeMail(deps, r, "tok-change"),
    emailRevertMail(deps, r, "tok-revert", "new@example.com"),
    registrationAttemptMail(deps, r),
    usernameUnavailableMail(deps, r),
    securityNoticeMail(deps, r, "api_key_created", { ip: "203.0.113.9", time: now, items: [{ apiKey: "ci" }] }),
    enrolmentNoticeMail(deps, r, "tok-enrol", { factor: "passkey", ip: null, time: now }),
    enrolmentCodeMail(deps, r, "12345678"),
    signInCodeMail(deps, r, "87654321", "tok-code"),
    newSignInMail(deps, r, "tok-sign-in", { time: now, ip: "203.0.113.9", place: "Berlin, DE", userAgent: "Firefox", warnings: [] }),
  ]);
}

describe("the HTML part", () => {
  it("has the brand, the subject as heading, a button with its address written out, and the footer", async () => {
    const mail = await passwordResetMail(siteDeps({ productName: "Acme" }), to("ada@example.com"), "tok");
    const link = `${APP}/reset-password?token=tok&lang=en`;
    const escaped = link.replaceAll("&", "&amp;");
    expect(mail.html).toMatch(/^<!DOCTYPE html><html lang="en" dir="ltr">/);
    expect(mail.html).toContain('<meta name="color-scheme" content="light dark"/>');
    expect(mail.html).toContain('<div role="article" aria-label="Reset your password" lang="en" dir="ltr"');
    expect(mail.html).toMatch(/<p style="[^"]*border-bottom:3px solid #1f5fbf">Acme<\/p>/);
    expect(mail.html).toMatch(/<h1 style="[^"]*">Reset your password<\/h1>/);
    expect(mail.html).toMatch(
      new RegExp(`<a href="${escapeRegExp(escaped)}" style="[^"]*background-color:#1f5fbf;color:#ffffff">Choose a new password</a>`),
    );
    expect(mail.html).toContain(
      `If the button does not work, copy this address into your browser:<br/><span dir="ltr" style="word-break:break-all;overflow-wrap:anywhere">${escaped}</span>`,
    );
    expect(mail.html).toContain("This message was sent by <bdi>Acme</bdi>.<br/>You received it at <bdi>ada@example.com</bdi> because");
    // The text part has the same footer lines.
    expect(mail.text).toContain("--\n\nThis message was sent by \u2068Acme\u2069.\nYou received it at \u2068ada@example.com\u2069 because");
  });

  it("loads nothing and runs nothing: inline styles only, no images, scripts, style sheets or tables", async () => {
    for (const mail of await everyMail(siteDeps())) {
      expect(mail.html, mail.subject).not.toMatch(/<(script|style|img|link|table|iframe|object|form)\b/i);
      expect(mail.html, mail.subject).not.toMatch(/\ssrc=|\bon[a-z]+=/i);
      for (const href of hrefsIn(mail.html)) expect(href.startsWith(`${APP}/`), href).toBe(true);
    }
  });

  it("carries the same links and the same code as the text part, in every template", async () => {
    for (const mail of await everyMail(siteDeps())) {
      const links = linksIn(mail.text);
      expect(hrefsIn(mail.html).sort(), mail.subject).toEqual([...links].sort());
      if (mail.token)
        expect(
          links.some((l) => l.includes(`token=${mail.token}`)),
          mail.subject,
        ).toBe(true);
      if (mail.code) {
        expect(mail.text).toContain(mail.code);
        expect(mail.html).toMatch(new RegExp(`<strong dir="ltr" style="[^"]*">${mail.code}</strong>`));
      }
    }
    // The links written into a sentence are links in HTML too.
    const attempt = await registrationAttemptMail(siteDeps(), to("ada@example.com"));
    expect(hrefsIn(attempt.html)).toEqual([`${APP}/login?lang=en`, `${APP}/forgot-password?lang=en`]);
  });

  it("renders in every shipped language, with its direction, and no English left in the layout", async () => {
    const english = await translator(siteDeps(), "en");
    for (const locale of SHIPPED_LOCALES) {
      const t = await translator(siteDeps(), locale);
      const dir = locale === "ar" ? "rtl" : "ltr";
      for (const mail of await everyMail(siteDeps(), locale)) {
        expect(mail.locale).toBe(locale);
        expect(mail.html, `${locale}: ${mail.subject}`).toMatch(new RegExp(`^<!DOCTYPE html><html lang="${locale}" dir="${dir}">`));
        expect(mail.html).toContain(`lang="${locale}" dir="${dir}" style=`);
        expect(mail.html).toContain(`<title>${escapeHtml(mail.subject)}</title>`);
        expect(hrefsIn(mail.html).sort()).toEqual(linksIn(mail.text).sort());
        expect(mail.html).toContain(escapeHtml(t.text("mail.footer", { product: "X" }).split("X")[0]!));
        if (locale !== "en") expect(mail.html).not.toContain(english.text("mail.layout.linkFallback"));
      }
      const reset = await passwordResetMail(siteDeps(), to("ada@example.com", locale), "tok");
      expect(reset.html).toContain(escapeHtml(t.text("mail.layout.linkFallback")));
      expect(reset.html).toContain(`lang=${locale}`);
    }
  });

  it("escapes what people and the configuration chose: names, user agents, places, the brand", async () => {
    const deps = siteDeps({ productName: `Acme "<b>"` });
    const r = to("ada@example.com");
    const now = new Date();
    const mails = [
      await newSignInMail(deps, r, "tok", { time: now, ip: "203.0.113.9", place: HOSTILE, userAgent: HOSTILE, warnings: [] }),
      await securityNoticeMail(deps, r, "api_key_created", { ip: null, time: now, items: [{ apiKey: HOSTILE }] }),
      await emailRevertMail(deps, r, "tok", `"><script>@example.com`),
    ];
    for (const mail of mails) {
      expect(mail.html).not.toMatch(/<script|<b>|onload="/);
      expect(mail.html).toContain("Acme &quot;&lt;b&gt;&quot;");
    }
    expect(mails[0]!.html).toContain(`<bdi>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&quot; onload=&quot;alert(1)</bdi>`);
    expect(mails[0]!.text).toContain(`\u2068${HOSTILE}\u2069`);
  });

  it("gives the button a label colour that reads on it, whatever the accent", () => {
    expect(buttonColours("#1f5fbf")).toEqual({ background: "#1f5fbf", label: "#ffffff" });
    for (const accent of ["#ffff00", "#88ccff", "#777777", "#000000", "#ffffff"]) {
      const { background, label } = buttonColours(accent);
      expect(contrast(background, label), accent).toBeGreaterThanOrEqual(4.5);
    }
  });
});

describe("mail through the API", () => {
  it("a hostile user agent at a new sign-in is inert in the mail's HTML part (dev outbox, include=html)", async () => {
    const user = await register({ full_name: `Ada "the Countess" Lovelace` });
    const login = await call("/api/v1/auth/login", {
      body: { email: user.email, password: user.password },
      ip: freshIp(),
      headers: { "User-Agent": HOSTILE },
    });
    expect(login.status).toBe(200);
    const res = await call(`/api/v1/dev/outbox?to=${encodeURIComponent(user.email)}&include=html`);
    expect(res.status).toBe(200);
    const { messages } = await res.json<{ messages: (MailMessage & { created_at: string })[] }>();
    const notice = messages.find((m) => m.subject === "New sign-in to your account")!;
    expect(notice.html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(notice.html).not.toMatch(/<script|onload="/);
    expect(hrefsIn(notice.html)).toEqual(linksIn(notice.text));
    expect(notice.text).toContain(`/revert-sign-in?token=${notice.token}`);
  });
});

describe("the HTTP transport", () => {
  it("sends both parts of a real mail, with the same link, in the Resend shape", async () => {
    const user = await register();
    const fetchSpy = vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response('{"id":"1"}', { status: 200 }));
    const httpMail = {
      DEV_OUTBOX: "false",
      MAIL_TRANSPORT: "http",
      MAIL_API_URL: "https://mail.example/v1/emails",
      MAIL_API_KEY: "re_test",
    };
    const res = await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp(), env: httpMail });
    expect(res.status).toBe(202);
    expect(fetchSpy).toHaveBeenCalledTimes(1);
    const sent = JSON.parse(fetchSpy.mock.calls[0]![1]!.body as string) as Record<string, unknown> & { text: string; html: string };
    expect(Object.keys(sent).sort()).toEqual(["from", "html", "subject", "text", "to"]);
    const [link] = linksIn(sent.text);
    expect(link).toMatch(/\/reset-password\?token=[\w-]+&lang=en$/);
    expect(hrefsIn(sent.html)).toEqual([link]);
    expect(sent.html).toMatch(/^<!DOCTYPE html><html lang="en" dir="ltr">/);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** WCAG 2 contrast of two `#rrggbb` colours. */
function contrast(a: string, b: string): number {
  const luminance = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => {
      const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}
