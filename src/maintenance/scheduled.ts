import { pruneDeadApiKeys } from "../db/api-keys";
import { pruneAuditLogs } from "../db/audit-logs";
import { createDb, type Db } from "../db/client";
import { deleteExpiredConsumedTokens } from "../db/consumed-tokens";
import { deleteDeadSessions } from "../db/sessions";
import { deleteExpiredOAuthRows, deleteUnusedDynamicClients } from "../db/oauth";
import { DYNAMIC_CLIENT_UNUSED_DAYS } from "../oidc/registration";
import { pruneDeadDevices } from "../db/erasure";
import { accountsToErase, eraseDeletedAccounts, expireUnverifiedAccounts, unverifiedAccountsToExpire } from "../db/users";
import { DEVICE_TOKEN_LIFETIME_MS } from "../devices/device-tokens";
import { deleteSignInProfiles } from "../devices/erasure";
import { readConfig, type Bindings } from "../config";
import { log } from "../log";
import { pruneEvents } from "../db/webhook-events";
import { redriveEvents } from "../events/redrive";

/** Rows deleted per statement, and statements per run: bounded work for one cron invocation. */
const PRUNE_BATCH = 5_000;
const PRUNE_MAX_BATCHES = 40;

/**
 * Runs a batched delete of rows older than `cutoff` until a batch comes back short; whatever a run
 * leaves over (more than 200,000 rows) goes the next day.
 */
async function pruneInBatches(prune: (db: Db, cutoff: Date, batchSize: number) => Promise<number>, db: Db, cutoff: Date): Promise<number> {
  let total = 0;
  for (let i = 0; i < PRUNE_MAX_BATCHES; i++) {
    const deleted = await prune(db, cutoff, PRUNE_BATCH);
    total += deleted;
    if (deleted < PRUNE_BATCH) break;
  }
  return total;
}

/** Accounts erased per round (one KV delete each, then one D1 batch), and rounds per run and kind. */
const ERASE_BATCH = 50;
const ERASE_MAX_ROUNDS = 5;

/**
 * Erases accounts in rounds of ERASE_BATCH: their KV sign-in profiles first, then (in one D1 batch)
 * those whose profile is gone; an account whose profile could not be deleted waits for the next run.
 * At most ERASE_MAX_ROUNDS rounds (KV operations per invocation are limited); the rest goes the next day.
 */
async function eraseInRounds(
  kv: KVNamespace,
  due: (limit: number) => Promise<string[]>,
  erase: (ids: string[]) => Promise<number>,
): Promise<number> {
  let total = 0;
  for (let round = 0; round < ERASE_MAX_ROUNDS; round++) {
    const ids = await due(ERASE_BATCH);
    total += await erase(await deleteSignInProfiles(kv, ids));
    if (ids.length < ERASE_BATCH) break;
  }
  return total;
}

/**
 * The daily cron: drops what can no longer matter. Single-use markers outlive their token's TTL
 * by a day; dead sessions (expired, or revoked more than a day ago) go with their retired tokens;
 * audit rows go after the configured retention (AUDIT_RETENTION_DAYS), and so do API keys that
 * were revoked or expired that long ago; deleted accounts are erased after their grace
 * period (their personal fields, device rows, KV sign-in profile and the IP and user agent of their
 * audit rows); with verification required, accounts unverified for UNVERIFIED_ACCOUNT_TTL_DAYS are
 * deleted and erased likewise, freeing their addresses. Device rows of deleted accounts, and those
 * older than a device token's lifetime (their token is dead), go too. Events (webhook_events) go after the audit retention too.
 */
export async function runScheduledMaintenance(env: Bindings, now: Date): Promise<void> {
  const db = createDb(env.DB);
  const dayAgo = new Date(now.getTime() - 86_400_000);
  const consumed = await deleteExpiredConsumedTokens(db, dayAgo);
  const dead = await deleteDeadSessions(db, dayAgo);
  // OAuth codes (60 s) and refresh tokens a day past their expiry (used rows keep replays detectable until then).
  await deleteExpiredOAuthRows(db, dayAgo);
  await deleteUnusedDynamicClients(db, new Date(now.getTime() - DYNAMIC_CLIENT_UNUSED_DAYS * 86_400_000));
  const config = readConfig(env);
  const retentionCutoff = new Date(now.getTime() - config.auditRetentionDays * 86_400_000);
  const auditLogs = await pruneInBatches(pruneAuditLogs, db, retentionCutoff);
  const apiKeys = await pruneInBatches(pruneDeadApiKeys, db, retentionCutoff);
  const events = await pruneInBatches(pruneEvents, db, retentionCutoff);
  const graceCutoff = new Date(now.getTime() - config.erasureGraceDays * 86_400_000);
  const erased = await eraseInRounds(
    env.AUTH_KV,
    (limit) => accountsToErase(db, graceCutoff, limit),
    (ids) => eraseDeletedAccounts(db, ids, now),
  );
  const unverifiedCutoff = new Date(now.getTime() - config.unverifiedAccountTtlDays * 86_400_000);
  const expired = config.requireEmailVerification
    ? await eraseInRounds(
        env.AUTH_KV,
        (limit) => unverifiedAccountsToExpire(db, unverifiedCutoff, limit),
        (ids) => expireUnverifiedAccounts(db, unverifiedCutoff, now, ids),
      )
    : 0;
  const devices = await pruneInBatches(pruneDeadDevices, db, new Date(now.getTime() - DEVICE_TOKEN_LIFETIME_MS));
  log("info", "maintenance.done", {
    erased_accounts: erased,
    expired_unverified_accounts: expired,
    audit_logs: auditLogs,
    webhook_events: events,
    api_keys: apiKeys,
    devices,
    consumed_tokens: consumed,
    retired_refresh_tokens: dead.retiredTokens,
    sessions: dead.sessions,
  });
}

/**
 * The frequent cron: puts events that never reached the queue, or whose retry is long overdue,
 * back on it. Nothing to do without an endpoint.
 */
export async function runEventRedrive(env: Bindings, now: Date): Promise<void> {
  if (readConfig(env).webhookEndpoints.length === 0) return;
  const redriven = await redriveEvents({ db: createDb(env.DB), webhooks: (env as Partial<Bindings>).WEBHOOKS, now: () => now });
  if (redriven > 0) log("info", "events.redriven", { count: redriven });
}
