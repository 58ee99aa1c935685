import { z } from "zod";
import type { RateLimiter } from "./durable-objects/rate-limiter";
import { parseRateLimits, type RateLimitSettings } from "./services/rate-limit-policy";

/**
 * Bindings and raw variables as the runtime hands them over. Every variable is optional here:
 * {@link readConfig} applies the defaults, so a bare `wrangler dev` works with no configuration.
 */
export interface Bindings {
  DB: D1Database;
  AUTH_KV: KVNamespace;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;

  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  JWT_ALG?: string;
  /** Secret: `{"keys":[<private JWK>, …]}`; the first key signs, all are published. */
  JWT_PRIVATE_JWKS?: string;
  ACCESS_TOKEN_TTL_SECONDS?: string;
  REFRESH_TOKEN_TTL_SECONDS?: string;
  SESSION_IDLE_TTL_SECONDS?: string;
  REFRESH_REUSE_GRACE_SECONDS?: string;

  PBKDF2_ITERATIONS?: string;
  /** Secret: mixed into every password hash with HMAC before PBKDF2. */
  PASSWORD_PEPPER?: string;
  PASSWORD_REQUIRE_CHARACTER_CLASSES?: string;

  CORS_ORIGINS?: string;
  CORS_ALLOW_CREDENTIALS?: string;
  REQUIRE_EMAIL_VERIFICATION?: string;
  PUBLIC_URL?: string;

  MAIL_TRANSPORT?: string;
  MAIL_FROM?: string;
  MAIL_API_URL?: string;
  /** Secret: bearer key for the HTTP mail API. */
  MAIL_API_KEY?: string;
  DEV_OUTBOX?: string;

  API_KEY_PREFIX?: string;
  /** Secret: HMAC key for API key hashes; without it keys are stored as SHA-256. */
  API_KEY_HMAC_SECRET?: string;
  AUDIT_RETENTION_DAYS?: string;

  /**
   * Rate-limit and lockout overrides as JSON, e.g. `{"login_ip_minute":{"limit":10,"window":60}}`;
   * names and defaults in src/services/rate-limit-policy.ts (docs/rate-limits.md).
   */
  RATE_LIMITS?: string;
}

const flag = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((v) => v === "true" || v === "1");

const seconds = (fallback: number, min = 1) =>
  z.coerce.number().int().min(min).default(fallback);

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** Production workerd refuses PBKDF2 above 100,000 iterations, so the cap is enforced here. */
export const PBKDF2_MAX_ITERATIONS = 100_000;

const configSchema = z.object({
  JWT_ISSUER: z.string().min(1).default("http://localhost:8787"),
  JWT_AUDIENCE: z.string().min(1).default("gatehouse"),
  JWT_ALG: z.enum(["ES256", "EdDSA", "RS256", "PS256"]).default("ES256"),
  JWT_PRIVATE_JWKS: z.string().optional(),
  ACCESS_TOKEN_TTL_SECONDS: seconds(900, 60),
  REFRESH_TOKEN_TTL_SECONDS: seconds(30 * 86400, 60),
  SESSION_IDLE_TTL_SECONDS: seconds(7 * 86400, 60),
  REFRESH_REUSE_GRACE_SECONDS: seconds(10, 0),
  PBKDF2_ITERATIONS: z.coerce.number().int().min(10_000).max(PBKDF2_MAX_ITERATIONS).default(PBKDF2_MAX_ITERATIONS),
  PASSWORD_PEPPER: z.string().optional(),
  PASSWORD_REQUIRE_CHARACTER_CLASSES: flag,
  CORS_ORIGINS: list,
  CORS_ALLOW_CREDENTIALS: flag,
  REQUIRE_EMAIL_VERIFICATION: flag,
  PUBLIC_URL: z.url().default("http://localhost:8787"),
  MAIL_TRANSPORT: z.enum(["none", "http"]).default("none"),
  MAIL_FROM: z.string().min(3).default("Gatehouse <no-reply@localhost>"),
  MAIL_API_URL: z.url().default("https://api.resend.com/emails"),
  MAIL_API_KEY: z.string().optional(),
  DEV_OUTBOX: flag,
  API_KEY_PREFIX: z.string().regex(/^[a-z][a-z0-9_]{1,15}$/).default("gh_"),
  API_KEY_HMAC_SECRET: z.string().optional(),
  AUDIT_RETENTION_DAYS: seconds(90),
  RATE_LIMITS: z.string().optional(),
});

/** Parsed, validated configuration: the only shape the rest of the code reads. */
export interface Config {
  issuer: string;
  audience: string;
  jwtAlg: "ES256" | "EdDSA" | "RS256" | "PS256";
  privateJwks: string | undefined;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  sessionIdleTtl: number;
  refreshReuseGrace: number;
  pbkdf2Iterations: number;
  pepper: string | undefined;
  requireCharacterClasses: boolean;
  corsOrigins: string[];
  corsAllowCredentials: boolean;
  requireEmailVerification: boolean;
  publicUrl: string;
  mail: {
    transport: "outbox" | "http" | "none";
    from: string;
    apiUrl: string;
    apiKey: string | undefined;
  };
  devOutbox: boolean;
  apiKeyPrefix: string;
  apiKeyHmacSecret: string | undefined;
  auditRetentionDays: number;
  /** Every abuse limit with overrides applied (see src/services/rate-limit-policy.ts). */
  rateLimits: RateLimitSettings;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const cache = new WeakMap<object, Config>();

/**
 * Reads and validates every variable once per `env` object (the runtime reuses it across
 * requests in an isolate). A bad value fails loudly instead of silently using a default.
 */
export function readConfig(env: Bindings): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = (env as unknown as Record<string, unknown>)[key];
    // An empty string means "unset" for everything but the flags and lists, which accept it.
    if (typeof value === "string" && value !== "") raw[key] = value;
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join(".")).join(", ");
    throw new ConfigError(`invalid configuration: ${fields}`);
  }
  const v = parsed.data;
  let rateLimits: RateLimitSettings;
  try {
    rateLimits = parseRateLimits(v.RATE_LIMITS);
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
  const config: Config = {
    issuer: v.JWT_ISSUER,
    audience: v.JWT_AUDIENCE,
    jwtAlg: v.JWT_ALG,
    privateJwks: v.JWT_PRIVATE_JWKS,
    accessTokenTtl: v.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtl: v.REFRESH_TOKEN_TTL_SECONDS,
    sessionIdleTtl: v.SESSION_IDLE_TTL_SECONDS,
    refreshReuseGrace: v.REFRESH_REUSE_GRACE_SECONDS,
    pbkdf2Iterations: v.PBKDF2_ITERATIONS,
    pepper: v.PASSWORD_PEPPER,
    requireCharacterClasses: v.PASSWORD_REQUIRE_CHARACTER_CLASSES,
    corsOrigins: v.CORS_ORIGINS,
    corsAllowCredentials: v.CORS_ALLOW_CREDENTIALS,
    requireEmailVerification: v.REQUIRE_EMAIL_VERIFICATION,
    publicUrl: v.PUBLIC_URL.replace(/\/+$/, ""),
    mail: {
      // The dev outbox wins when switched on, so `npm run dev` never sends real mail.
      transport: v.DEV_OUTBOX ? "outbox" : v.MAIL_TRANSPORT,
      from: v.MAIL_FROM,
      apiUrl: v.MAIL_API_URL,
      apiKey: v.MAIL_API_KEY,
    },
    devOutbox: v.DEV_OUTBOX,
    apiKeyPrefix: v.API_KEY_PREFIX,
    apiKeyHmacSecret: v.API_KEY_HMAC_SECRET,
    auditRetentionDays: v.AUDIT_RETENTION_DAYS,
    rateLimits,
  };
  cache.set(env, config);
  return config;
}
