import { eq, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { identitiesOf } from "./identities";
import { oauthRowsOf } from "./oauth";
import { apiKeys, auditLogs, devices, users } from "./schema";

/**
 * What erasing an account clears besides its own row (users.ts: the tombstone): its linked
 * identities (the provider account is free to sign up again), its device rows
 * (IP address, user agent), the client fields of its own audit rows (`ip_address`, `user_agent`;
 * the rows stay for the trail) and the last-used IP of its API keys. The KV sign-in profile goes
 * too (devices/erasure.ts). These are statements for the batch that erases the row, for the
 * accounts matching `accounts`, a condition over `users`: put them before the statement that
 * changes the row when that change would make the condition false.
 */
export function traceErasure(db: Db, accounts: SQL): BatchItem<"sqlite">[] {
  const ids = sql`(SELECT ${users.id} FROM ${users} WHERE ${accounts})`;
  return [
    identitiesOf(db, accounts),
    ...oauthRowsOf(db, accounts),
    db.delete(devices).where(sql`${devices.userId} IN ${ids}`),
    db
      .update(auditLogs)
      .set({ ipAddress: null, userAgent: null })
      .where(sql`${auditLogs.userId} IN ${ids} AND (${auditLogs.ipAddress} IS NOT NULL OR ${auditLogs.userAgent} IS NOT NULL)`),
    db
      .update(apiKeys)
      .set({ lastUsedIp: null })
      .where(sql`${apiKeys.userId} IN ${ids} AND ${apiKeys.lastUsedIp} IS NOT NULL`),
  ];
}

/** {@link traceErasure} of one account, for the batch that erases it. */
export function accountTraceErasure(db: Db, userId: string): BatchItem<"sqlite">[] {
  return traceErasure(db, eq(users.id, userId));
}

/**
 * Deletes dead device rows, at most `batchSize`: those of deleted accounts, and those created
 * before `cutoff` (now minus a device token's lifetime: their token can no longer be valid, however
 * recently it was used, so the row only keeps an IP address and a user agent).
 */
export async function pruneDeadDevices(db: Db, cutoff: Date, batchSize: number): Promise<number> {
  const result = await db.run(sql`
    DELETE FROM ${devices} WHERE ${devices.id} IN (
      SELECT ${devices.id} FROM ${devices}
      WHERE ${devices.createdAt} < ${cutoff.getTime()}
         OR ${devices.userId} IN (SELECT ${users.id} FROM ${users} WHERE ${users.deletedAt} IS NOT NULL)
      LIMIT ${batchSize})`);
  return result.meta.changes;
}
