/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { SHIPPED_LOCALES } from "../src/config/languages";
import { translator } from "../src/i18n";
import { flatten, type CatalogueTree } from "../src/i18n/tree";
import { eventLabel, eventLabelKey } from "../src/pages/event-labels";
import auditSource from "../src/audit/audit.ts?raw";
import { env, login, register } from "./helpers";
import { Browser, textOf } from "./pages-browser";

/**
 * Every kind of security event has a label in every shipped language, and the account page's log
 * shows labels, never codes. The kinds are read from the `AuditAction` union itself (its source),
 * so a new kind without a label fails here, not only in `npm run typecheck` (src/pages/event-labels.ts).
 */

/** The members of `export type AuditAction = | "a" | "b" …;` in src/audit/audit.ts. */
function auditActions(): string[] {
  const union = /export type AuditAction =([^;]+);/.exec(auditSource)?.[1];
  if (!union) throw new Error("no AuditAction union in src/audit/audit.ts");
  return [...union.matchAll(/"([a-z_.]+)"/g)].map((m) => m[1]!);
}

async function shippedCatalogue(locale: string): Promise<Map<string, unknown>> {
  const res = await env.ASSETS.fetch(`https://assets.gatehouse.invalid/locales/${locale}.json`);
  expect(res.status, locale).toBe(200);
  return flatten(await res.json<CatalogueTree>());
}

/** A security log code as it would leak onto a page: `login.new_device`, `mfa.totp_started`. */
const RAW_CODE = /\b[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*\b/;

describe("security event labels", () => {
  it("exist for every audit action in every shipped catalogue (not English filling a gap)", async () => {
    const actions = auditActions();
    expect(actions.length).toBeGreaterThan(50);
    expect(actions).toContain("login.new_device");
    for (const locale of SHIPPED_LOCALES) {
      const catalogue = await shippedCatalogue(locale);
      const missing = actions.filter((action) => {
        const label = catalogue.get(eventLabelKey(action));
        return typeof label !== "string" || label.trim() === "";
      });
      expect(missing, `${locale}: actions without a label`).toEqual([]);
    }
  });

  it("are words, not codes, in each language; an action this version does not know is a generic 'security event'", async () => {
    const source = { assets: env.ASSETS, kv: env.AUTH_KV };
    for (const locale of SHIPPED_LOCALES) {
      const t = await translator(source, locale);
      for (const action of auditActions()) expect(eventLabel(t, action), `${locale} ${action}`).not.toMatch(RAW_CODE);
    }
    const en = await translator(source, "en");
    expect(eventLabel(en, "login.new_device")).toBe("Signed in from a new device");
    expect(eventLabel(en, "future.kind")).toBe("Security event");
    const de = await translator(source, "de");
    expect(eventLabel(de, "login.new_device")).toBe("Anmeldung von einem neuen Gerät");
  });
});

describe("the account page's security log", () => {
  it("shows each entry's label in the person's language, and no code", async () => {
    const user = await register();
    // A failed sign-in and one from a new device (no device token): rows the log must name.
    expect((await login({ email: user.email, password: "not the password 1" })).status).toBe(401);
    const browser = new Browser();
    const signedIn = await browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password: user.password });
    expect(signedIn.status).toBe(303);
    const log = (html: string) => textOf(/<section id="log"[\s\S]*?<\/section>/.exec(html)![0]);
    const english = log(await browser.open("/account"));
    expect(english).toContain("Signed in from a new device");
    expect(english).toContain("Failed sign-in");
    expect(english).toContain("Account created");
    expect(english).not.toMatch(RAW_CODE);
    const german = log(await browser.open("/account?lang=de"));
    expect(german).toContain("Anmeldung von einem neuen Gerät");
    expect(german).not.toMatch(RAW_CODE);
  });
});
