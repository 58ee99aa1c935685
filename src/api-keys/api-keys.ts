import { findApiKeyWithUser, insertApiKeyWithinCap, listUserApiKeys, markApiKeyRevoked, touchApiKey } from "../db/api-keys";
import type { ApiKey, User } from "../db/schema";
import { AppError, type FieldError } from "../errors";
import { assertFreshAuthentication, type FreshnessOf } from "../accounts/fresh-auth";
import { assertCurrentPassword } from "../accounts/credentials";
import { clientKey } from "../abuse/client-key";
import { spendBudgets } from "../kernel/budgets";
import { enforceUserLimit } from "../abuse/request-limits";
import { recordRefusal } from "../abuse/refusals";
import { sendSecurityNotice } from "../mail/notices";
import { displayPrefix, generateApiKey, hashApiKeySecret, parseApiKey, verifyApiKeySecret } from "./format";
import { auditRow, logAudit, recordAudit } from "../audit/audit";
import { auditInsertIf } from "../db/audit-logs";
import type { Deps } from "../kernel/deps";
import { describeError, log } from "../log";

/**
 * API keys: long-lived credentials for scripts. A key authenticates as its user on ordinary
 * endpoints, limited by its scopes, and can never manage credentials (see requireInteractiveSession).
 */

/** Every scope a key can hold. Credential management is deliberately not among them. */
export const API_KEY_SCOPES = ["profile:read", "profile:write", "security_events:read"] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** Live (unrevoked, unexpired) keys a user may hold at once. */
const MAX_API_KEYS_PER_USER = 25;

/** `last_used_at` is written at most this often per key, so authentication is normally read-only. */
const LAST_USED_WRITE_INTERVAL_MS = 5 * 60_000;

/**
 * How long a client stays "known" for a key: a use from an unknown one is audited. Clients are
 * keyed like the per-IP limits (client-key.ts): an IPv4 address or an IPv6 /64, so a host cycling
 * through its /64 is one client, not 2^64 new ones.
 */
const SEEN_IP_TTL_SECONDS = 30 * 86_400;
const seenIpKey = (apiKeyId: string, ip: string) => `apikey_ip:${apiKeyId}:${clientKey(ip)}`;

/** The listing shape (the HTTP contract): everything but the key itself. */
export interface ApiKeyResponse {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
}

function toApiKeyResponse(key: ApiKey, prefix: string): ApiKeyResponse {
  return {
    id: key.id,
    name: key.name,
    prefix: displayPrefix(prefix, key.keyId),
    scopes: key.scopes,
    created_at: key.createdAt.toISOString(),
    expires_at: key.expiresAt?.toISOString() ?? null,
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    last_used_ip: key.lastUsedIp,
  };
}

export interface CreateApiKeyInput {
  name: string;
  /** Days until the key expires; absent: the configured default (90); null: never, only where allowed. */
  expires_in_days?: number | null | undefined;
  scopes?: ApiKeyScope[] | undefined;
  /** Optional: checked when sent; fresh authentication is what this needs. */
  current_password?: string | undefined;
}

/** The creation answer: the only time `api_key` is ever shown. */
export interface CreatedApiKey {
  id: string;
  name: string;
  api_key: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
}

/**
 * `POST /users/me/api-keys`: a lasting credential, so it needs fresh authentication (see
 * accounts/fresh-auth.ts) and, where verification is required, a verified address; the owner is
 * told by mail. Refuses (422) a lifetime beyond the configured maximum, a key that never expires
 * unless allowed, and a user who already holds the maximum of live keys; 429 beyond
 * `api_key_create_user_hour` creations (each one also mails the owner).
 */
export async function createApiKey(deps: Deps, caller: FreshnessOf, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  const { user } = caller;
  const { apiKeyPrefix, apiKeyHmacSecret, apiKeyLifetime } = deps.config;
  if (deps.config.requireEmailVerification && !user.emailVerified) {
    throw new AppError("email_not_verified", { detail: "Verify your email address before creating API keys." });
  }
  const lifetimeDays = input.expires_in_days === undefined ? apiKeyLifetime.defaultDays : input.expires_in_days;
  if (lifetimeDays === null && !apiKeyLifetime.allowNoExpiry) {
    throw invalidLifetime("API keys must expire here: give expires_in_days.", { key: "errors.keyMustExpire" });
  }
  if (lifetimeDays !== null && lifetimeDays > apiKeyLifetime.maxDays) {
    throw invalidLifetime(`Use at most ${apiKeyLifetime.maxDays} days.`, {
      key: "errors.keyLifetime",
      values: { count: apiKeyLifetime.maxDays },
    });
  }
  assertFreshAuthentication(deps, caller);
  // A password sent along is still checked: a wrong one is a guess like any other.
  if (input.current_password !== undefined) await assertCurrentPassword(deps, caller, input.current_password);
  await enforceUserLimit(deps, "api_key_create", user.id);
  const now = deps.now();
  const scopes = input.scopes ? API_KEY_SCOPES.filter((s) => input.scopes!.includes(s)) : [...API_KEY_SCOPES];
  const expiresAt = lifetimeDays === null ? null : new Date(now.getTime() + lifetimeDays * 86_400_000);
  const generated = generateApiKey(apiKeyPrefix);
  const id = crypto.randomUUID();
  const inserted = await insertApiKeyWithinCap(
    deps.db,
    {
      id,
      userId: user.id,
      name: input.name,
      keyId: generated.keyId,
      secretHash: await hashApiKeySecret(apiKeyHmacSecret, generated.keyId, generated.secret),
      scopes,
      createdAt: now,
      expiresAt,
      createdBySessionId: caller.sessionId,
    },
    MAX_API_KEYS_PER_USER,
  );
  if (!inserted) {
    const message = `You can hold at most ${MAX_API_KEYS_PER_USER} active API keys; revoke one first.`;
    const reason = { key: "errors.tooManyKeys", values: { count: MAX_API_KEYS_PER_USER } };
    throw new AppError("validation_failed", { detail: message, errors: [{ field: "body", message, reason }] });
  }
  const prefix = displayPrefix(apiKeyPrefix, generated.keyId);
  await recordAudit(deps, {
    action: "api_key.created",
    userId: user.id,
    resource: `api_key:${id}`,
    metadata: { api_key_id: id, name: input.name, prefix, scopes, expires_at: expiresAt?.toISOString() ?? null },
  });
  await sendSecurityNotice(deps, user.id, "api_key_created", user, [{ apiKey: `${input.name} (${prefix}…)` }]);
  return {
    id,
    name: input.name,
    api_key: generated.apiKey,
    prefix,
    scopes,
    created_at: now.toISOString(),
    expires_at: expiresAt?.toISOString() ?? null,
  };
}

export async function listApiKeys(deps: Deps, user: User): Promise<ApiKeyResponse[]> {
  const keys = await listUserApiKeys(deps.db, user.id);
  return keys.map((k) => toApiKeyResponse(k, deps.config.apiKeyPrefix));
}

/** `DELETE /users/me/api-keys/{id}`: 404 unless it is one of the caller's live keys. Effective at once. */
export async function revokeApiKey(deps: Deps, user: User, id: string): Promise<void> {
  const revoked = await markApiKeyRevoked(deps.db, id, user.id, deps.now());
  if (!revoked) throw new AppError("not_found", { detail: "No such API key." });
  await recordAudit(deps, {
    action: "api_key.revoked",
    userId: user.id,
    resource: `api_key:${id}`,
    metadata: { api_key_id: id, name: revoked.name, prefix: displayPrefix(deps.config.apiKeyPrefix, revoked.keyId) },
  });
}

/** True when a bearer credential is meant as an API key (JWTs start with "eyJ", prefixes are lower-case). */
export function looksLikeApiKey(deps: Deps, bearer: string): boolean {
  return bearer.startsWith(deps.config.apiKeyPrefix);
}

/**
 * Authenticates a presented key: parse, one indexed read of key + owner, constant-time hash
 * comparison, then revocation, expiry and the owner's state (read in the same query, so a
 * deactivated or deleted user's keys stop at once). Throws 401-class AppErrors: `invalid_token`
 * for anything unknown; `token_revoked`/`token_expired` only once the secret has matched.
 */
export async function authenticateApiKey(deps: Deps, presented: string): Promise<{ key: ApiKey; user: User }> {
  const parsed = parseApiKey(deps.config.apiKeyPrefix, presented);
  if (!parsed) throw new AppError("invalid_token");
  const now = deps.now();
  // Near the user (db/replica-reads.ts): a live key of an active owner may come from a replica or
  // the isolate's cache; anything else is asked of the primary.
  const found = await deps.replicas.read(
    `api_key:${parsed.keyId}`,
    null,
    (db) => findApiKeyWithUser(db, parsed.keyId),
    (row) => row !== undefined && usable(row.key, row.user, now),
  );
  // Unknown key ids still cost one hash, so timing does not tell known ids from made-up ones.
  const stored = found?.key.secretHash ?? "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  const valid = await verifyApiKeySecret(deps.config.apiKeyHmacSecret, parsed.keyId, parsed.secret, stored);
  if (!found || !valid) throw new AppError("invalid_token");
  const { key, user } = found;
  if (key.revokedAt !== null) throw new AppError("token_revoked");
  if (key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime()) throw new AppError("token_expired");
  if (!user.isActive) throw new AppError("invalid_token");
  noteUse(deps, key, user, now);
  return { key, user };
}

/**
 * Bookkeeping after a successful authentication, off the response path. Nothing is written unless
 * `last_used_at` is older than the write interval or the request comes from another client (IPv4
 * address or IPv6 /64) than the stored IP's; a client this key has not used within
 * {@link SEEN_IP_TTL_SECONDS} is remembered and audited once, at most `api_key_new_ip_day` times
 * per key and day (counted in the key's RateLimiter object, `api_key:<id>`). Beyond that, a
 * leaked key used from ever more addresses costs no KV write and one audit row per hour, whose
 * `count` says how many uses from unrecorded addresses there were.
 */
function noteUse(deps: Deps, key: ApiKey, user: User, now: Date): void {
  const due = key.lastUsedAt === null || now.getTime() - key.lastUsedAt.getTime() >= LAST_USED_WRITE_INTERVAL_MS;
  const ip = deps.meta.ip;
  const otherIp = ip !== null && (key.lastUsedIp === null || clientKey(ip) !== clientKey(key.lastUsedIp)) ? ip : null;
  if (!due && otherIp === null) return;
  deps.waitUntil(
    (async () => {
      let unknownIp = otherIp !== null && (await deps.kv.get(seenIpKey(key.id, otherIp))) === null;
      if (unknownIp) {
        const budget = await spendBudgets(deps, `api_key:${key.id}`, ["api_key_new_ip"], true);
        if (!budget.ok) {
          unknownIp = false;
          await recordRefusal(deps, budget.report, () => ({
            action: "api_key.used_new_ip",
            userId: user.id,
            resource: `api_key:${key.id}`,
            metadata: { api_key_id: key.id, name: key.name, unrecorded: true, policy: budget.blockedBy },
          }));
        }
      }
      if (!due && !unknownIp) return;
      // The new-IP audit row rides in the touch's batch, written only if the touch was: once the key
      // names the new IP, no later use from it reports it again, so the row must not depend on a
      // step after the write (the request's after-response work can end at any point).
      const audit =
        unknownIp && otherIp !== null
          ? auditRow(deps, {
              action: "api_key.used_new_ip",
              userId: user.id,
              resource: `api_key:${key.id}`,
              metadata: { api_key_id: key.id, name: key.name, previous_ip: key.lastUsedIp },
            })
          : null;
      const wrote = await touchApiKey(
        deps.db,
        key.id,
        { at: key.lastUsedAt, ip: key.lastUsedIp },
        { at: now, ip: ip ?? key.lastUsedIp },
        audit ? (applied) => [auditInsertIf(deps.db, audit, applied)] : undefined,
      );
      if (!audit || !wrote || otherIp === null) return;
      logAudit(deps, audit);
      await deps.kv.put(seenIpKey(key.id, otherIp), "1", { expirationTtl: SEEN_IP_TTL_SECONDS });
    })().catch((error: unknown) => log("warn", "api_key.touch_failed", { api_key_id: key.id, ...describeError(error) })),
  );
}

function usable(key: ApiKey, user: User, now: Date): boolean {
  return key.revokedAt === null && (key.expiresAt === null || key.expiresAt.getTime() > now.getTime()) && user.isActive;
}

function invalidLifetime(message: string, reason: FieldError["reason"]): AppError {
  return new AppError("validation_failed", { errors: [{ field: "expires_in_days", message, reason }] });
}
