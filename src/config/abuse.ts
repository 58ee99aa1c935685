import { z } from "zod";
import { parseRateLimits, type RateLimitSettings } from "./rate-limits";
import { ConfigError, defineSection, flag, type Values, type Variables } from "./define";

/**
 * Abuse and attack protection: RATE_LIMITS, ATTACK_IP_SPREAD_ACTION, BLOCK_DISPOSABLE_EMAIL,
 * ATTACK_SPRAY_ACTION, NEW_SIGN_IN_ACTION, IMPOSSIBLE_TRAVEL_KMH, TURNSTILE_SITE_KEY,
 * TURNSTILE_SECRET, TURNSTILE_VERIFY_URL, BREACHED_PASSWORD_CHECK and HIBP_API_URL.
 */

const variables = {
  RATE_LIMITS: {
    kind: "var",
    // A string here; read() parses it against the names and defaults of rate-limits.ts.
    schema: z.string().optional(),
    shown: 'built-in limits (see "Abuse protection")',
    doc: 'JSON overrides, e.g. `{"login_ip_minute":{"limit":10,"window":60},"lockout":{"soft_after":3}}`',
  },
  BREACHED_PASSWORD_CHECK: {
    kind: "var",
    schema: z.enum(["off", "register", "always"]).default("off"),
    doc: '`register`: new passwords (registration, change, reset, set at verification) found in the breach range API are refused (422 `weak_password`); `always`: also flags a breached password at login (still admitted: audit row and one notice); set `register` when deploying (see "Breached passwords and new sign-ins")',
  },
  HIBP_API_URL: {
    kind: "var",
    schema: z
      .url()
      .refine((v) => /^https?:/.test(v))
      .default("https://api.pwnedpasswords.com/range/"),
    doc: "k-anonymity range API base (the 5-hex SHA-1 prefix is appended); point it at a loopback fake to try the check under `npm run dev`",
  },
  ATTACK_IP_SPREAD_ACTION: {
    kind: "var",
    schema: z.enum(["block", "log"]).default("block"),
    doc: '`log`: a client failing across many identifiers is audited, not blocked (see "Attack protection")',
  },
  BLOCK_DISPOSABLE_EMAIL: {
    kind: "var",
    schema: flag,
    doc: '`true`: registration and email change refuse disposable addresses (see "Attack protection")',
  },
  NEW_SIGN_IN_ACTION: {
    kind: "var",
    schema: z.enum(["notify", "log"]).default("notify"),
    doc: '`log`: a new device or place is only audited (flagged sign-ins still send `security.alert`); the owner gets no new-sign-in mail (see "Breached passwords and new sign-ins")',
  },
  IMPOSSIBLE_TRAVEL_KMH: {
    kind: "var",
    schema: z.coerce.number().int().min(100).max(100_000).default(900),
    doc: "speed between consecutive successful logins above which a login is flagged as impossible travel (100–100,000)",
  },
  ATTACK_SPRAY_ACTION: {
    kind: "var",
    schema: z.enum(["challenge", "log"]).default("challenge"),
    doc: '`log`: a password-spraying attack is audited and announced, but logins are not challenged (see "Attack protection")',
  },
  TURNSTILE_SITE_KEY: {
    kind: "var",
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,100}$/)
      .optional(),
    doc: "Turnstile site key; with `TURNSTILE_SECRET`, unknown devices solve a Turnstile challenge while sign-ins are under attack (without: a tighter per-IP limit)",
  },
  TURNSTILE_SECRET: {
    kind: "secret",
    schema: z.string().optional(),
    doc: "Turnstile secret key, sent only to `TURNSTILE_VERIFY_URL`; needs `TURNSTILE_SITE_KEY`",
  },
  TURNSTILE_VERIFY_URL: {
    kind: "var",
    schema: z
      .url()
      .refine((v) => /^https?:/.test(v))
      .default("https://challenges.cloudflare.com/turnstile/v0/siteverify"),
    doc: "where answers are verified (3 s timeout); `npm run fakes` serves a loopback one",
  },
} satisfies Variables;

/** The abuse section: `rateLimits`, `attack` and `breachedPasswords` of Config. */
export const abuse = defineSection({
  variables,
  read: (v) => ({
    /** Every abuse limit with overrides applied (see src/config/rate-limits.ts). */
    rateLimits: readRateLimits(v.RATE_LIMITS),
    /** Attack protection: what the spread and spraying signals do, and whether disposable addresses are refused. */
    attack: {
      ipSpreadAction: v.ATTACK_IP_SPREAD_ACTION,
      blockDisposableEmail: v.BLOCK_DISPOSABLE_EMAIL,
      /** `challenge`: under a spraying attack, unknown devices solve Turnstile or get tighter per-IP limits; `log`: only recorded. */
      sprayAction: v.ATTACK_SPRAY_ACTION,
      /** Both Turnstile keys, or null: no challenge, only the tighter limits. */
      turnstile: readTurnstile(v),
      /** `notify`: a new device or place mails the owner; `log`: only its audit row and event. */
      newSignInAction: v.NEW_SIGN_IN_ACTION,
      /** Faster than this between consecutive successful logins is flagged as impossible travel. */
      impossibleTravelKmh: v.IMPOSSIBLE_TRAVEL_KMH,
    },
    /** The breached-password check (src/abuse/breached-passwords.ts). */
    breachedPasswords: {
      /** `off`: never; `register`: new passwords; `always`: also flagged (not refused) at login. */
      mode: v.BREACHED_PASSWORD_CHECK,
      /** Range API base; the 5-hex SHA-1 prefix is appended. */
      apiUrl: v.HIBP_API_URL,
    },
  }),
});

/** RATE_LIMITS's own messages name the bad entry; they become configuration errors. */
function readRateLimits(raw: string | undefined): RateLimitSettings {
  try {
    return parseRateLimits(raw);
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
}

/** The site key and the secret go together: one without the other is a half-done setup. */
function readTurnstile(v: Values<typeof variables>): { siteKey: string; secret: string; verifyUrl: string } | null {
  if ((v.TURNSTILE_SITE_KEY === undefined) !== (v.TURNSTILE_SECRET === undefined)) {
    throw new ConfigError("invalid configuration: TURNSTILE_SITE_KEY and TURNSTILE_SECRET go together");
  }
  if (v.TURNSTILE_SITE_KEY === undefined || v.TURNSTILE_SECRET === undefined) return null;
  return { siteKey: v.TURNSTILE_SITE_KEY, secret: v.TURNSTILE_SECRET, verifyUrl: v.TURNSTILE_VERIFY_URL };
}
