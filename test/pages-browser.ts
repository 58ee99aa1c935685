import { expect } from "vitest";
import type { Bindings } from "../src/config";
import { call, freshIp } from "./helpers";

/**
 * A small browser for the hosted-page tests: a cookie jar, one client IP, and form posts the way a
 * browser sends them (urlencoded, `Origin` and `Sec-Fetch-Site` of the page itself), with the
 * CSRF token read from the page that holds the form.
 */

export const OWN = "https://auth.example.com";

export interface PostOptions {
  /** `Origin` to send; null sends none. Defaults to the worker's own. */
  origin?: string | null;
  /** `Sec-Fetch-Site` to send; null sends none. Defaults to same-origin. */
  site?: string | null;
  headers?: Record<string, string>;
}

export class Browser {
  readonly jar = new Map<string, string>();
  readonly ip = freshIp();

  constructor(readonly env?: Partial<Bindings>) {}

  cookieHeader(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  private store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
      const [name = "", ...rest] = pair.split("=");
      const gone = attributes.some((a) => /^max-age=0$/i.test(a) || /^expires=thu, 01 jan 1970/i.test(a));
      if (gone) this.jar.delete(name);
      else this.jar.set(name, rest.join("="));
    }
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await call(path, {
      ip: this.ip,
      env: this.env,
      headers: { "Sec-Fetch-Site": "none", ...(this.jar.size ? { Cookie: this.cookieHeader() } : {}), ...headers },
    });
    this.store(res);
    return res;
  }

  /** Opens `path` and returns its HTML (asserting the status). */
  async open(path: string, status = 200): Promise<string> {
    const res = await this.get(path);
    const html = await res.text();
    expect(res.status, html.slice(0, 2000)).toBe(status);
    return html;
  }

  async post(path: string, fields: Record<string, string | string[]>, options: PostOptions = {}): Promise<Response> {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
    const origin = options.origin === undefined ? OWN : options.origin;
    const site = options.site === undefined ? "same-origin" : options.site;
    const res = await call(path, {
      method: "POST",
      body: body.toString(),
      ip: this.ip,
      env: this.env,
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        ...(origin === null ? {} : { Origin: origin }),
        ...(site === null ? {} : { "Sec-Fetch-Site": site }),
        ...(this.jar.size ? { Cookie: this.cookieHeader() } : {}),
        ...options.headers,
      },
    });
    this.store(res);
    return res;
  }

  /**
   * Submits the form of `html` whose action is `action` (and whose markup contains `marker`, when
   * several share the action) with its hidden fields and `fields`.
   */
  async submit(html: string, action: string, fields: Record<string, string | string[]> = {}, marker?: string, options?: PostOptions) {
    return this.post(action, { ...hiddenFields(formOf(html, action, marker)), ...fields }, options);
  }
}

/** The markup of the form posting to `action` (containing `marker`, if given). */
export function formOf(html: string, action: string, marker?: string): string {
  const forms = [...html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)].map((m) => m[0]);
  const form = forms.find((f) => f.includes(`action="${action}"`) && (marker === undefined || f.includes(marker)));
  if (!form) throw new Error(`no form posting to ${action}${marker ? ` with ${marker}` : ""}`);
  return form;
}

function hiddenFields(form: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [input] of form.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(input)?.[1];
    const value = /value="([^"]*)"/.exec(input)?.[1];
    if (name) fields[name] = decode(value ?? "");
  }
  return fields;
}

function decode(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** The text a field's error shows (the element tied to the input by aria-describedby). */
export function fieldError(html: string, id: string): string | null {
  const match = new RegExp(`<span class="field-error" id="${id}-error">([^<]*)</span>`).exec(html);
  return match ? decode(match[1]!) : null;
}

/** The page's text without tags, for "says …" assertions. */
export function textOf(html: string): string {
  return decode(html.replace(/<style[\s\S]*?<\/style>/g, "").replace(/<[^>]+>/g, " ")).replace(/\s+/g, " ");
}

/** Gzipped size of a body, as a browser would download it with `Content-Encoding: gzip`. */
export async function gzippedSize(html: string): Promise<number> {
  const stream = new Response(html).body!.pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** The key a pending authenticator-app set-up shows (spaces between groups removed). */
export function secretOf(html: string): string {
  const shown = /<code class="secret" id="totp-secret">([^<]+)<\/code>/.exec(html)?.[1];
  expect(shown, "the key in text").toMatch(/^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/);
  return shown!.replace(/ /g, "");
}

/** The recovery codes an answer shows. */
export function codesOf(html: string): string[] {
  return [...html.matchAll(/<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})<\/code><\/li>/g)].map((m) => m[1]!);
}
