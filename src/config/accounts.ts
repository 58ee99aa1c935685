import { z } from "zod";
import { defineSection, flag, flagOn, seconds } from "./define";

/**
 * Accounts, sessions per user, API keys and retention: MFA_REQUIRED, EMAIL_CODE_SIGN_IN, EMAIL_CODE_SIGN_UP, REQUIRE_EMAIL_VERIFICATION,
 * MAX_SESSIONS_PER_USER, API_KEY_PREFIX, API_KEY_HMAC_SECRET, AUDIT_RETENTION_DAYS,
 * API_KEY_DEFAULT_LIFETIME_DAYS, API_KEY_MAX_LIFETIME_DAYS, API_KEY_ALLOW_NO_EXPIRY,
 * UNVERIFIED_ACCOUNT_TTL_DAYS and ACCOUNT_ERASURE_GRACE_DAYS.
 */
export const accounts = defineSection({
  variables: {
    MAX_SESSIONS_PER_USER: {
      kind: "var",
      schema: z.coerce.number().int().min(1).max(1000).default(50),
      doc: "live sessions per user, 1–1000; a new login ends the least recently used ones beyond it",
    },
    MFA_REQUIRED: {
      kind: "var",
      schema: z.enum(["off", "superusers", "all"]).default("off"),
      doc: "`superusers` or `all`: an account that must have a second factor and has none is signed in only after enrolling one (403 `mfa_enrollment_required` with an enrolment `mfa_token`); removing the last one answers 409 `last_second_factor`",
    },
    EMAIL_CODE_SIGN_IN: {
      kind: "var",
      schema: flagOn,
      doc: '`false` turns off sign-in by a code or link mailed to the address (`POST /auth/email-code`, the pages\' "Email me a code")',
    },
    EMAIL_CODE_SIGN_UP: {
      kind: "var",
      schema: flag,
      doc: "`true`: a code mailed to an address without an account creates one when it is verified (the address verified, no password)",
    },
    REQUIRE_EMAIL_VERIFICATION: {
      kind: "var",
      schema: flag,
      doc: "`true`: registration answers 202 without tokens; login needs a verified address (403 `email_not_verified`)",
    },
    API_KEY_PREFIX: {
      kind: "var",
      schema: z
        .string()
        .regex(/^[a-z][a-z0-9_]{1,15}$/)
        .default("gh_"),
      doc: "prefix of API keys (2–16 of `a-z 0-9 _`, starting with a letter), so secret scanners can match them; changing it invalidates existing keys",
    },
    API_KEY_HMAC_SECRET: {
      kind: "secret",
      schema: z.string().optional(),
      shown: "unset: SHA-256",
      doc: "HMAC key for API-key hashes",
    },
    AUDIT_RETENTION_DAYS: {
      kind: "var",
      schema: seconds(90),
      doc: "audit rows older than this, and API keys revoked or expired longer ago, are deleted by the daily cron",
    },
    API_KEY_DEFAULT_LIFETIME_DAYS: {
      kind: "var",
      schema: z.coerce.number().int().min(1).max(3650).default(90),
      doc: "lifetime of a key created without `expires_in_days`",
    },
    API_KEY_MAX_LIFETIME_DAYS: {
      kind: "var",
      schema: z.coerce.number().int().min(1).max(3650).default(365),
      doc: "longest `expires_in_days` accepted (1–3650)",
    },
    API_KEY_ALLOW_NO_EXPIRY: {
      kind: "var",
      schema: flag,
      doc: "`true` allows `expires_in_days: null` (keys that never expire)",
    },
    UNVERIFIED_ACCOUNT_TTL_DAYS: {
      kind: "var",
      schema: z.coerce.number().int().min(1).max(365).default(7),
      doc: "with verification required, an account unverified this long is deleted and erased, freeing its address",
    },
    ACCOUNT_ERASURE_GRACE_DAYS: {
      kind: "var",
      schema: z.coerce.number().int().min(0).max(365).default(0),
      doc: "days a deleted account keeps its hash, personal fields, KV sign-in profile and the IP addresses and user agents of its audit rows before they are erased (0: at once); its device rows go at the next daily clean-up",
    },
  },
  read: (v) => ({
    /** Live sessions a user may hold; a new one ends the least recently used beyond it. */
    maxSessionsPerUser: v.MAX_SESSIONS_PER_USER,
    requireEmailVerification: v.REQUIRE_EMAIL_VERIFICATION,
    /** Sign-in by a mailed code or link, and whether an unknown address may sign up that way. */
    emailCode: { signIn: v.EMAIL_CODE_SIGN_IN, signUp: v.EMAIL_CODE_SIGN_IN && v.EMAIL_CODE_SIGN_UP },
    /** Whose accounts must have a second factor (API.md v1.2 "MFA policy"). */
    mfaRequired: v.MFA_REQUIRED,
    apiKeyPrefix: v.API_KEY_PREFIX,
    apiKeyHmacSecret: v.API_KEY_HMAC_SECRET,
    auditRetentionDays: v.AUDIT_RETENTION_DAYS,
    apiKeyLifetime: {
      /** Days a key lives when the request names no lifetime. */
      defaultDays: Math.min(v.API_KEY_DEFAULT_LIFETIME_DAYS, v.API_KEY_MAX_LIFETIME_DAYS),
      maxDays: v.API_KEY_MAX_LIFETIME_DAYS,
      /** Whether `expires_in_days: null` (a key that never expires) is allowed. */
      allowNoExpiry: v.API_KEY_ALLOW_NO_EXPIRY,
    },
    /** With verification required, an account unverified this long is erased and its address freed. */
    unverifiedAccountTtlDays: v.UNVERIFIED_ACCOUNT_TTL_DAYS,
    /** Days a deleted account keeps its hash and personal fields before they are overwritten (0: at once). */
    erasureGraceDays: v.ACCOUNT_ERASURE_GRACE_DAYS,
  }),
});
