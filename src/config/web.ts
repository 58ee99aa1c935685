import { z } from "zod";
import { ConfigError, defineSection } from "./define";
import { mail } from "./mail";

/**
 * Where the worker lives and who may talk to it, and how its pages look: PUBLIC_URL, APP_URL,
 * CORS_ORIGINS, CORS_ALLOW_CREDENTIALS, COOKIE_DOMAIN, BRAND_NAME, BRAND_ACCENT_COLOR,
 * BRAND_LOGO_URL and SUPPORT_EMAIL; and which requests get a log line (REQUEST_LOG).
 */

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** The passkeys' relying party (API.md v1.2 "Passkeys"): its id, name, and the exact origins allowed to use it. */
export interface RelyingPartyConfig {
  id: string;
  name: string;
  origins: string[];
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * WEBAUTHN_RP_ID checked where configuration is read: a domain name (no IP address, no port, no bare
 * suffix such as `com`; `localhost` is the one single-label name browsers accept), equal to
 * PUBLIC_URL's host or a parent of it. The origins are PUBLIC_URL's and those of CORS_ORIGINS that
 * lie within the RP ID, exactly.
 */
function relyingParty(publicUrl: string, corsOrigins: string[], configured: string | undefined, name: string): RelyingPartyConfig {
  const host = new URL(publicUrl).hostname;
  const id = configured ?? host;
  const domain = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(id);
  const ip = IPV4.test(id) || id.includes(":") || id.startsWith("[");
  const within = (h: string) => h === id || h.endsWith(`.${id}`);
  if (configured !== undefined && (!domain || ip || (!id.includes(".") && id !== "localhost") || !within(host))) {
    throw new ConfigError(
      "invalid configuration: WEBAUTHN_RP_ID must be a domain equal to PUBLIC_URL's host or a parent of it (never an IP address)",
    );
  }
  const origins = [new URL(publicUrl).origin, ...corsOrigins.filter((o) => URL.canParse(o) && within(new URL(o).hostname))];
  return { id, name, origins: [...new Set(origins)] };
}

/** The web section: URLs, CORS, the cookie domain and `branding`. */
export const web = defineSection({
  variables: {
    PUBLIC_URL: {
      kind: "var",
      schema: z.url().default("http://localhost:8787"),
      doc: "this worker's public URL (the hosted pages are at its root)",
    },
    APP_URL: {
      kind: "var",
      schema: z.url().optional(),
      shown: "`PUBLIC_URL`",
      doc: 'where mailed links go: `${APP_URL}/verify-email?token=…`, `/reset-password?token=…`, `/revert-email-change?token=…`, `/revert-sign-in?token=…`, `/sign-in/email?token=…`, `/login`, `/forgot-password`, `/register`; set it only if your site serves these pages itself (see "Hosted pages")',
    },
    CORS_ORIGINS: {
      kind: "var",
      schema: list,
      note: "no CORS",
      doc: "comma-separated exact origins, e.g. `https://app.example.com`: the one allowlist for CORS, cookie-mode CSRF and redirects; others get no CORS headers",
    },
    CORS_ALLOW_CREDENTIALS: {
      kind: "var",
      // On by default: cookie mode needs it, and only listed origins ever get CORS headers.
      schema: z
        .enum(["true", "false", "1", "0", ""])
        .optional()
        .transform((v) => v === undefined || v === "true" || v === "1"),
      doc: "send `Access-Control-Allow-Credentials: true` to listed origins (cookie mode needs it; unlisted origins never get any CORS header)",
    },
    COOKIE_DOMAIN: {
      kind: "var",
      schema: z
        .string()
        .transform((v) => v.trim().toLowerCase().replace(/^\./, ""))
        .pipe(z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)*$/))
        .optional(),
      doc: "a parent domain of `PUBLIC_URL`'s host (e.g. `example.com`): cookie mode also sets `__Secure-gh_at` (the access token) there for your own servers; any other domain is a configuration error",
    },
    BRAND_NAME: {
      kind: "var",
      schema: z
        .string()
        .trim()
        .min(1)
        .max(60)
        // eslint-disable-next-line no-control-regex -- a product name with control characters or markup is a mistake
        .refine((v) => !/[\u0000-\u001f\u007f<>]/.test(v))
        .default("Gatehouse"),
      doc: "product name on the hosted pages and in mail (1–60 characters, no markup)",
    },
    BRAND_ACCENT_COLOR: {
      kind: "var",
      schema: z
        .string()
        .regex(/^#[0-9a-fA-F]{6}$/)
        .default("#1f5fbf"),
      doc: "`#rrggbb` of buttons and links; darkened or lightened where needed for 4.5:1 contrast in light and dark mode",
    },
    BRAND_LOGO_URL: {
      kind: "var",
      // The pages load nothing from another host: a data: image, or a path or URL on PUBLIC_URL's origin.
      schema: z
        .string()
        .max(16_384)
        .regex(/^(data:image\/(png|gif|jpeg|webp|svg\+xml);base64,[A-Za-z0-9+/=]+|\/[^/\\].*|https?:\/\/.+)$/)
        .optional(),
      doc: "logo beside the name: a `data:image/…;base64,` URI (≤ 16 KiB) or a path/URL on `PUBLIC_URL`'s origin; another host is a configuration error (the pages load nothing from elsewhere)",
    },
    SUPPORT_EMAIL: {
      kind: "var",
      schema: z.email().optional(),
      doc: 'a "Contact support" `mailto:` link in the pages\' footer',
    },
    WEBAUTHN_RP_ID: {
      kind: "var",
      schema: z
        .string()
        .trim()
        .transform((v) => v.toLowerCase())
        .optional(),
      shown: "`PUBLIC_URL`'s host",
      doc: "the passkeys' relying party: a domain (never an IP address or a bare public suffix) equal to `PUBLIC_URL`'s host or a parent of it, e.g. `example.com` so that `auth.example.com` and `app.example.com` share passkeys; changing it later orphans every passkey",
    },
    WEBAUTHN_RP_NAME: {
      kind: "var",
      schema: z.string().trim().min(1).max(60).optional(),
      shown: "`BRAND_NAME`",
      doc: "the name authenticators show beside a passkey",
    },
    REQUEST_LOG: {
      kind: "var",
      schema: z.enum(["all", "errors"]).optional(),
      shown: "`all`; `errors` in dev mode",
      doc: "which requests write the one JSON `request` log line (route, status, duration, storage round trips; never the URL): `all`, or `errors` (status 400 and above). Dev mode (`DEV_OUTBOX`) defaults to `errors`: wrangler prints its own line for every request there, and passing a second one through wrangler's log pipeline cost more CPU than the request itself",
    },
  },
  uses: { DEV_OUTBOX: mail.variables.DEV_OUTBOX },
  read: (v) => {
    const publicHost = new URL(v.PUBLIC_URL).hostname;
    if (v.COOKIE_DOMAIN !== undefined && publicHost !== v.COOKIE_DOMAIN && !publicHost.endsWith(`.${v.COOKIE_DOMAIN}`)) {
      throw new ConfigError("invalid configuration: COOKIE_DOMAIN must be PUBLIC_URL's host or a parent domain of it");
    }
    const logo = v.BRAND_LOGO_URL;
    if (logo?.startsWith("http") && (!URL.canParse(logo) || new URL(logo).origin !== new URL(v.PUBLIC_URL).origin)) {
      throw new ConfigError("invalid configuration: BRAND_LOGO_URL must be a data: image or on PUBLIC_URL's origin");
    }
    return {
      webauthn: relyingParty(v.PUBLIC_URL, v.CORS_ORIGINS, v.WEBAUTHN_RP_ID, v.WEBAUTHN_RP_NAME ?? v.BRAND_NAME),
      corsOrigins: v.CORS_ORIGINS,
      corsAllowCredentials: v.CORS_ALLOW_CREDENTIALS,
      /** Where cookie mode also puts the access token (`__Secure-gh_at`); undefined: nowhere. */
      cookieDomain: v.COOKIE_DOMAIN,
      publicUrl: v.PUBLIC_URL.replace(/\/+$/, ""),
      /** Base URL of the pages mailed links open (the hosted pages unless APP_URL says otherwise); never the request's Host. */
      appUrl: (v.APP_URL ?? v.PUBLIC_URL).replace(/\/+$/, ""),
      /** How the hosted pages present themselves. */
      branding: {
        productName: v.BRAND_NAME,
        /** `#rrggbb`; the pages derive readable text and link colours from it for light and dark mode. */
        accentColor: v.BRAND_ACCENT_COLOR.toLowerCase(),
        logoUrl: v.BRAND_LOGO_URL,
        supportEmail: v.SUPPORT_EMAIL,
      },
      /** Which responses get the request log line (src/web/middleware/request-context.ts). */
      requestLog: v.REQUEST_LOG ?? (v.DEV_OUTBOX ? "errors" : "all"),
    };
  },
});
