import { expect, inject } from "vitest";
import { currentStep, totpCode } from "../../scripts/totp.mjs";
import { uniqueDevIp } from "./shared-server";

/**
 * A browser for the hosted pages of the shared `npm run dev` (test/dev/global-setup.mjs): a cookie
 * jar and one client address, reading forms the way the pages write them, and following an OAuth
 * authorization request through the sign-in and consent pages. Used by the OpenID provider's and
 * the MCP journeys.
 */
export const PASSWORD = "correct horse battery staple 42";

export class PageBrowser {
  readonly jar = new Map<string, string>();
  readonly ip = uniqueDevIp();
  readonly base = inject("devServer").base;

  async go(url: string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url.replace(/^http:\/\/localhost:/, "http://127.0.0.1:"), this.base);
    const headers = new Headers(init.headers);
    headers.set("cf-connecting-ip", this.ip);
    if (this.jar.size) headers.set("cookie", [...this.jar].map(([k, v]) => `${k}=${v}`).join("; "));
    if (init.method === "POST") headers.set("origin", this.base);
    const res = await fetch(target, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      if (/max-age=0/i.test(line)) this.jar.delete(pair.slice(0, at));
      else this.jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return res;
  }

  /** Posts the page's form to `action` with its hidden fields and `fields`. */
  async submit(html: string, action: string, fields: Record<string, string>): Promise<Response> {
    const form = [...html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)].map((m) => m[0]).find((f) => f.includes(`action="${action}"`));
    if (!form) throw new Error(`no form for ${action} in ${html.slice(0, 500)}`);
    const body = new URLSearchParams();
    for (const [input] of form.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input)?.[1];
      const value = (/value="([^"]*)"/.exec(input)?.[1] ?? "")
        .replace(/&amp;/g, "&")
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'");
      if (name) body.set(name, value);
    }
    for (const [name, value] of Object.entries(fields)) body.set(name, value);
    return this.go(action, { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" } });
  }

  /**
   * Follows an authorization request through the hosted pages: the sign-in (when asked), the
   * consent (when shown, allowed), until the redirect to the client's URI.
   */
  async authorize(
    url: string,
    email: string,
    options: { redirect: string; consent?: "allow" | "deny"; totpSecret?: string; seen?: (consentPage: string) => void },
  ): Promise<URL> {
    let res = await this.go(url);
    for (let hops = 0; hops < 10; hops++) {
      // The page that hands the person back to the client says where in `Refresh` (pages/oauth-provider.tsx).
      const location = res.headers.get("location") ?? /^\d+;\s*url=(.+)$/i.exec(res.headers.get("refresh") ?? "")?.[1];
      if (location?.startsWith(new URL(options.redirect).origin)) return new URL(location);
      if (location) {
        res = await this.go(location);
        continue;
      }
      const html = await res.text();
      expect(res.status, html.slice(0, 600)).toBe(200);
      if (html.includes('action="/login"')) res = await this.submit(html, "/login", { identifier: email, password: PASSWORD });
      else if (html.includes('action="/login/verify"') && options.totpSecret) {
        // The step after the one that confirmed the app: a code the account's object has not seen.
        res = await this.submit(html, "/login/verify", { code: totpCode(options.totpSecret, currentStep() + 1) });
      } else if (html.includes('action="/oauth/authorize"')) {
        options.seen?.(html);
        res = await this.submit(html, "/oauth/authorize", { decision: options.consent ?? "allow" });
      } else throw new Error(`unexpected page: ${html.slice(0, 600)}`);
    }
    throw new Error("too many hops");
  }
}
