import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Milliseconds since the epoch, read back as `Date`. */
const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });

/**
 * Accounts. `email` is stored trimmed and lower-cased, so equality is the case-insensitive match;
 * `username` keeps the user's casing and is unique on `lower(username)`. Both are unique only among
 * rows that are not soft-deleted, so a deleted account's address can register again.
 */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    emailVerified: integer("email_verified", { mode: "boolean" }).notNull().default(false),
    passwordHash: text("password_hash").notNull(),
    fullName: text("full_name").notNull(),
    username: text("username"),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    isSuperuser: integer("is_superuser", { mode: "boolean" }).notNull().default(false),
    /** Site-defined role names, carried in access tokens (`roles`) so the site's servers authorize offline. */
    roles: text("roles", { mode: "json" })
      .$type<string[]>()
      .notNull()
      .default(sql`'[]'`),
    /** Set while an administrator has deactivated the account (reversible, unlike deletion). */
    deactivatedAt: timestamp("deactivated_at"),
    lastLoginAt: timestamp("last_login_at"),
    /**
     * The credentials epoch: a session whose own `credentials_epoch` is older is dead. Bumped (to
     * the time, in ms) by password change and reset, email revert and logout-all, in the same D1
     * batch as the change itself.
     */
    credentialsEpoch: integer("credentials_epoch").notNull().default(0),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
    deletedAt: timestamp("deleted_at"),
    /** When a deleted account's password hash and personal fields were overwritten (tombstone). */
    erasedAt: timestamp("erased_at"),
    /** The language the person chose for pages and mail (a shipped locale), or null: as the browser asks. */
    locale: text("locale"),
    /**
     * The second factors the account has enabled (`totp` today), kept with the row a sign-in reads
     * anyway, so deciding whether a first factor is enough costs no extra read. Written in the same
     * batch as the factor's own rows.
     */
    secondFactors: text("second_factors", { mode: "json" })
      .$type<string[]>()
      .notNull()
      .default(sql`'[]'`),
    /**
     * Moves (to the time, in ms) whenever a factor is added or removed, or the recovery codes are
     * replaced: an `mfa_token` carries the value it was issued under, and a sign-in's second step is
     * fenced on it (sessions/sign-in).
     */
    factorsEpoch: integer("factors_epoch").notNull().default(0),
    /** The WebAuthn user handle (random, base64url; never the email), made with the first passkey. */
    webauthnUserId: text("webauthn_user_id"),
    /**
     * Set when an administrator removed the account's second factors (a help-desk reset): until the
     * next one is enrolled, enrolling needs a code mailed to the account's address too, so whoever
     * talked the help desk into the reset cannot enrol their own factor with the password alone.
     */
    mfaResetAt: timestamp("mfa_reset_at"),
    /** Whether a code or link mailed to the address may sign in (the person can turn it off). */
    emailCodeSignIn: integer("email_code_sign_in", { mode: "boolean" }).notNull().default(true),
  },
  (t) => [
    uniqueIndex("users_email_live_uq")
      .on(t.email)
      .where(sql`deleted_at IS NULL`),
    uniqueIndex("users_username_live_uq")
      .on(sql`lower(${t.username})`)
      .where(sql`deleted_at IS NULL`),
  ],
);

/**
 * One row per login (a device). The row holds the hash of the live refresh token (the ones it
 * replaced are in `retired_refresh_tokens`); rotation is a conditional UPDATE on
 * `refresh_token_hash`, so exactly one request can advance a token. `rotation_key` derives the
 * successor token (see sessions/sessions.ts).
 */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    refreshTokenHash: text("refresh_token_hash").notNull(),
    rotationKey: text("rotation_key").notNull(),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    deviceInfo: text("device_info"),
    /** The user's credentials epoch when this session proved the password (see users). */
    credentialsEpoch: integer("credentials_epoch").notNull().default(0),
    /** When the user last authenticated in this session (sign-in or step-up): the access token's `auth_time`. */
    authTime: timestamp("auth_time"),
    /** How they did (RFC 8176 values, e.g. `["pwd","otp","mfa"]`): the access token's `amr`. Null: a password (older rows). */
    amr: text("amr", { mode: "json" }).$type<string[]>(),
    createdAt: timestamp("created_at").notNull(),
    lastUsedAt: timestamp("last_used_at").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
    revokedAt: timestamp("revoked_at"),
    revokedReason: text("revoked_reason"),
  },
  (t) => [
    uniqueIndex("sessions_refresh_token_hash_uq").on(t.refreshTokenHash),
    index("sessions_user_idx").on(t.userId, t.createdAt),
    index("sessions_expires_idx").on(t.expiresAt),
  ],
);

/**
 * Hashes of refresh tokens that were rotated out, so presenting any of them later is recognised
 * as reuse (theft) rather than as an unknown token. Pruned with the session.
 */
export const retiredRefreshTokens = sqliteTable(
  "retired_refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id),
    retiredAt: timestamp("retired_at").notNull(),
  },
  (t) => [index("retired_refresh_tokens_session_idx").on(t.sessionId)],
);

/** API keys: `key_id` is the public lookup part; only a hash of the secret part is stored. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    name: text("name").notNull(),
    keyId: text("key_id").notNull(),
    secretHash: text("secret_hash").notNull(),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: timestamp("created_at").notNull(),
    expiresAt: timestamp("expires_at"),
    lastUsedAt: timestamp("last_used_at"),
    lastUsedIp: text("last_used_ip"),
    /** The session that created the key: a password change there keeps the keys it made. */
    createdBySessionId: text("created_by_session_id"),
    revokedAt: timestamp("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_key_id_uq").on(t.keyId), index("api_keys_user_idx").on(t.userId, t.createdAt)],
);

/**
 * Devices a user signed in from with a device token (the OWASP device-cookie idea). A known device
 * keeps its own small failure budget instead of the account's lockout, so a stranger's guesses
 * never lock its owner out. The token itself is signed (see devices/device-tokens.ts); the row
 * makes it listable and revocable. Tokens issued before the user's credentials epoch are dead.
 */
export const devices = sqliteTable(
  "devices",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    createdAt: timestamp("created_at").notNull(),
    lastSeenAt: timestamp("last_seen_at").notNull(),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    revokedAt: timestamp("revoked_at"),
    revokedReason: text("revoked_reason"),
  },
  (t) => [index("devices_user_idx").on(t.userId, t.createdAt)],
);

/** The security log. `metadata` is JSON and never holds secrets. */
export const auditLogs = sqliteTable(
  "audit_logs",
  {
    id: text("id").primaryKey(),
    userId: text("user_id"),
    /** Who acted, when not the account's owner (an administrator). */
    actorUserId: text("actor_user_id"),
    action: text("action").notNull(),
    resource: text("resource"),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    metadata: text("metadata", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [index("audit_logs_user_idx").on(t.userId, t.createdAt, t.id), index("audit_logs_created_idx").on(t.createdAt)],
);

/**
 * Signing keys generated by the worker itself when no `JWT_PRIVATE_JWKS` secret is set.
 * `status` is `active` (signs and is published) or `retired` (published until its tokens expire).
 */
export const signingKeys = sqliteTable(
  "signing_keys",
  {
    kid: text("kid").primaryKey(),
    alg: text("alg").notNull(),
    privateJwk: text("private_jwk", { mode: "json" }).$type<JsonWebKey>().notNull(),
    publicJwk: text("public_jwk", { mode: "json" }).$type<JsonWebKey>().notNull(),
    status: text("status", { enum: ["active", "retired"] }).notNull(),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [index("signing_keys_status_idx").on(t.status, t.createdAt)],
);

/**
 * Single-use arbiter for mailed tokens (reset, verification, email change): the first INSERT of a
 * token hash wins, every later or concurrent one sees a conflict. Rows outlive the token's TTL only
 * until the scheduled clean-up.
 */
export const consumedTokens = sqliteTable(
  "consumed_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    purpose: text("purpose").notNull(),
    consumedAt: timestamp("consumed_at").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
  },
  (t) => [index("consumed_tokens_expires_idx").on(t.expiresAt)],
);

/**
 * The events outbox: one row per event and endpoint, written in the same D1 batch as the change it
 * reports where that change is a batch. `id` is the stable `webhook-id`; `payload` is the exact body
 * that is signed and POSTed. `queued_at` is set once the id went to the queue; the cron re-drives
 * rows never queued, or not delivered by `next_attempt_at`.
 */
export const webhookEvents = sqliteTable(
  "webhook_events",
  {
    id: text("id").primaryKey(),
    endpointUrl: text("endpoint_url").notNull(),
    type: text("type").notNull(),
    payload: text("payload").notNull(),
    createdAt: timestamp("created_at").notNull(),
    queuedAt: timestamp("queued_at"),
    deliveredAt: timestamp("delivered_at"),
    attempts: integer("attempts").notNull().default(0),
    /** HTTP status of the last attempt; null when it got none (network error, timeout). */
    lastStatus: integer("last_status"),
    /** Why the last attempt failed, short and without secrets. */
    lastError: text("last_error"),
    nextAttemptAt: timestamp("next_attempt_at"),
  },
  (t) => [index("webhook_events_pending_idx").on(t.deliveredAt, t.nextAttemptAt), index("webhook_events_created_idx").on(t.createdAt)],
);

/**
 * Fences of units of work (db/unit-of-work.ts). A batch that must apply only while a condition holds
 * on the primary starts by inserting one row here whose NOT NULL `ok` is NULL when the condition
 * fails, so the whole batch (one transaction) is undone; the same batch deletes the row at its end.
 * Always empty between batches.
 */
export const batchFences = sqliteTable("batch_fences", {
  id: text("id").primaryKey(),
  ok: integer("ok").notNull(),
});

/**
 * An authenticator app (TOTP, RFC 6238) of one account: at most one row, pending (`confirmed_at`
 * null) until a code proves the person copied the secret. The secret is stored wrapped
 * (AES-256-GCM under SIGNING_KEY_ENCRYPTION_SECRET, like generated signing keys; kernel/key-wrapping.ts).
 */
export const totpFactors = sqliteTable("totp_factors", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id),
  secret: text("secret", { mode: "json" }).$type<WrappedSecret>().notNull(),
  createdAt: timestamp("created_at").notNull(),
  confirmedAt: timestamp("confirmed_at"),
});

/** A wrapped secret (kernel/key-wrapping.ts): AES-256-GCM, the key derived from the named secret. */
export interface WrappedSecret {
  wrapped: "A256GCM";
  kek: "secret" | "dev";
  iv: string;
  ciphertext: string;
}

/** Recovery codes: only a SHA-256 of each (they carry 80 random bits), each usable once. */
export const recoveryCodes = sqliteTable(
  "recovery_codes",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    codeHash: text("code_hash").notNull(),
    createdAt: timestamp("created_at").notNull(),
    usedAt: timestamp("used_at"),
  },
  (t) => [index("recovery_codes_user_idx").on(t.userId), uniqueIndex("recovery_codes_hash_uq").on(t.codeHash)],
);

/**
 * Passkeys (WebAuthn discoverable credentials). `credential_id` is the authenticator's id
 * (base64url, unique); `public_key` the credential's public key as a JWK, for WebCrypto.
 * `sign_count` is the last signature counter seen (0 for authenticators that do not count);
 * `backup_eligible` / `backed_up` are the BE / BS flags (a synced passkey: `amr` `swk`).
 */
export const passkeys = sqliteTable(
  "passkeys",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    credentialId: text("credential_id").notNull(),
    publicKey: text("public_key", { mode: "json" }).$type<JsonWebKey>().notNull(),
    algorithm: integer("algorithm").notNull(),
    signCount: integer("sign_count").notNull().default(0),
    backupEligible: integer("backup_eligible", { mode: "boolean" }).notNull(),
    backedUp: integer("backed_up", { mode: "boolean" }).notNull(),
    transports: text("transports", { mode: "json" }).$type<string[]>().notNull(),
    aaguid: text("aaguid").notNull(),
    name: text("name").notNull(),
    createdAt: timestamp("created_at").notNull(),
    lastUsedAt: timestamp("last_used_at"),
  },
  (t) => [uniqueIndex("passkeys_credential_id_uq").on(t.credentialId), index("passkeys_user_idx").on(t.userId, t.createdAt)],
);

export type Passkey = typeof passkeys.$inferSelect;

/**
 * External sign-in identities (API.md v1.2 "Sign in with an external provider"): keyed by
 * (`issuer`, `subject`), never by email. `provider` is the OAUTH_PROVIDERS id the identity was
 * linked through (what `GET /users/me/identities` shows); `issuer` the provider's issuer (for
 * Microsoft the tenant's, from the token's `tid`; GitHub's is `https://github.com`), so renaming
 * a provider's id does not orphan or merge identities. `email` and `email_verified` are what the
 * provider asserted, from one document, when the identity was linked; a later change at the
 * provider never changes the account. `email` is null when the provider gave none.
 */
export const userIdentities = sqliteTable(
  "user_identities",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    provider: text("provider").notNull(),
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    email: text("email"),
    emailVerified: integer("email_verified", { mode: "boolean" }).notNull().default(false),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("user_identities_issuer_subject_uq").on(t.issuer, t.subject),
    index("user_identities_user_idx").on(t.userId, t.createdAt),
  ],
);

/**
 * Gatehouse as an OAuth 2.1 / OpenID Connect provider (issue #32): the site's other apps. A client's
 * secret is kept as a hash only; `redirect_uris` match exactly (a loopback IP's port aside).
 */
export const oauthClients = sqliteTable("oauth_clients", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  type: text("type").$type<"public" | "confidential">().notNull(),
  secretHash: text("secret_hash"),
  redirectUris: text("redirect_uris", { mode: "json" }).$type<string[]>().notNull(),
  postLogoutRedirectUris: text("post_logout_redirect_uris", { mode: "json" }).$type<string[]>().notNull(),
  /** The scopes it may ask for; null: `openid profile email offline_access`. */
  scopes: text("scopes", { mode: "json" }).$type<string[] | null>(),
  /** The site's own app: no consent page. */
  firstParty: integer("first_party", { mode: "boolean" }).notNull().default(false),
  /** Registered by RFC 7591 dynamic registration (public, always consent, expires unused). */
  dynamic: integer("dynamic", { mode: "boolean" }).notNull().default(false),
  createdAt: timestamp("created_at").notNull(),
  lastUsedAt: timestamp("last_used_at"),
});

/** A person's consent to a client: the scopes granted, remembered until revoked. */
export const oauthGrants = sqliteTable(
  "oauth_grants",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    clientId: text("client_id").notNull(),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
  },
  (t) => [uniqueIndex("oauth_grants_user_client_uq").on(t.userId, t.clientId)],
);

/**
 * Authorization codes, by hash: single use (a conditional update claims one), 60 s, bound to the
 * client, redirect URI, PKCE challenge, nonce, resource and the sign-in's `auth_time` and `amr`.
 * `family_id` names the refresh tokens its redemption issued, so a second redemption revokes them.
 */
export const oauthCodes = sqliteTable(
  "oauth_codes",
  {
    hash: text("hash").primaryKey(),
    clientId: text("client_id").notNull(),
    userId: text("user_id").notNull(),
    grantId: text("grant_id").notNull(),
    redirectUri: text("redirect_uri").notNull(),
    codeChallenge: text("code_challenge").notNull(),
    nonce: text("nonce"),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    resource: text("resource"),
    authTime: timestamp("auth_time").notNull(),
    amr: text("amr", { mode: "json" }).$type<string[]>().notNull(),
    familyId: text("family_id").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
    usedAt: timestamp("used_at"),
  },
  (t) => [index("oauth_codes_expires_idx").on(t.expiresAt)],
);

/**
 * OAuth refresh tokens, by hash, rotated on every use with no grace: a used token presented again
 * revokes its whole family (every token descended from one code).
 */
export const oauthRefreshTokens = sqliteTable(
  "oauth_refresh_tokens",
  {
    hash: text("hash").primaryKey(),
    familyId: text("family_id").notNull(),
    grantId: text("grant_id").notNull(),
    clientId: text("client_id").notNull(),
    userId: text("user_id").notNull(),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    resource: text("resource"),
    authTime: timestamp("auth_time").notNull(),
    amr: text("amr", { mode: "json" }).$type<string[]>().notNull(),
    /** The user's credentials epoch when the family began: a password change or logout-all ends it. */
    credentialsEpoch: integer("credentials_epoch").notNull(),
    createdAt: timestamp("created_at").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
    usedAt: timestamp("used_at"),
    revokedAt: timestamp("revoked_at"),
  },
  (t) => [
    index("oauth_refresh_family_idx").on(t.familyId),
    index("oauth_refresh_user_client_idx").on(t.userId, t.clientId),
    index("oauth_refresh_expires_idx").on(t.expiresAt),
  ],
);

export type User = typeof users.$inferSelect;
export type Session = typeof sessions.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
export type AuditLog = typeof auditLogs.$inferSelect;
export type Device = typeof devices.$inferSelect;
export type WebhookEvent = typeof webhookEvents.$inferSelect;
