import { and, asc, eq, isNull, lt, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { oauthClients, oauthCodes, oauthGrants, oauthRefreshTokens, users } from "./schema";

/** Queries of Gatehouse as an OAuth 2.1 / OpenID Connect provider (issue #32). */

export type OAuthClient = typeof oauthClients.$inferSelect;
export type OAuthGrant = typeof oauthGrants.$inferSelect;
export type OAuthCode = typeof oauthCodes.$inferSelect;
export type OAuthRefreshToken = typeof oauthRefreshTokens.$inferSelect;

export async function findClient(db: Db, id: string): Promise<OAuthClient | undefined> {
  return (await db.select().from(oauthClients).where(eq(oauthClients.id, id)).limit(1))[0];
}

export function listClients(db: Db): Promise<OAuthClient[]> {
  return db.select().from(oauthClients).orderBy(asc(oauthClients.createdAt)).limit(500);
}

export function insertClient(db: Db, row: OAuthClient) {
  return db.insert(oauthClients).values(row);
}

export function deleteClient(db: Db, id: string) {
  return db.delete(oauthClients).where(eq(oauthClients.id, id)).returning({ id: oauthClients.id });
}

export async function findGrant(db: Db, userId: string, clientId: string): Promise<OAuthGrant | undefined> {
  return (
    await db
      .select()
      .from(oauthGrants)
      .where(and(eq(oauthGrants.userId, userId), eq(oauthGrants.clientId, clientId)))
      .limit(1)
  )[0];
}

/** The grant of `scopes` (added to any earlier ones of the same client). */
export function grantUpsert(db: Db, row: OAuthGrant) {
  return db
    .insert(oauthGrants)
    .values(row)
    .onConflictDoUpdate({ target: [oauthGrants.userId, oauthGrants.clientId], set: { scopes: row.scopes, updatedAt: row.updatedAt } });
}

export function listGrantsWithClients(db: Db, userId: string) {
  return db
    .select({ grant: oauthGrants, name: oauthClients.name })
    .from(oauthGrants)
    .leftJoin(oauthClients, eq(oauthClients.id, oauthGrants.clientId))
    .where(eq(oauthGrants.userId, userId))
    .orderBy(asc(oauthGrants.createdAt))
    .limit(200);
}

export function deleteGrant(db: Db, userId: string, clientId: string) {
  return db
    .delete(oauthGrants)
    .where(and(eq(oauthGrants.userId, userId), eq(oauthGrants.clientId, clientId)))
    .returning({ id: oauthGrants.id });
}

/** Revokes every refresh token of the user's grants to `clientId` (all clients when null). */
export function revokeUserTokens(db: Db, userId: string, clientId: string | null, now: Date) {
  return db
    .update(oauthRefreshTokens)
    .set({ revokedAt: now })
    .where(
      and(
        eq(oauthRefreshTokens.userId, userId),
        clientId ? eq(oauthRefreshTokens.clientId, clientId) : undefined,
        isNull(oauthRefreshTokens.revokedAt),
      ),
    );
}

export function insertCode(db: Db, row: OAuthCode) {
  return db.insert(oauthCodes).values(row);
}

/**
 * Claims a code: exactly one of any number of concurrent redemptions gets its row; a used or
 * expired code gets none (the used row is read by {@link findCode} to revoke what the first issued).
 */
export async function claimCode(db: Db, hash: string, now: Date): Promise<OAuthCode | undefined> {
  return (
    await db
      .update(oauthCodes)
      .set({ usedAt: now })
      .where(and(eq(oauthCodes.hash, hash), isNull(oauthCodes.usedAt), sql`${oauthCodes.expiresAt} > ${now.getTime()}`))
      .returning()
  )[0];
}

export async function findCode(db: Db, hash: string): Promise<OAuthCode | undefined> {
  return (await db.select().from(oauthCodes).where(eq(oauthCodes.hash, hash)).limit(1))[0];
}

export function insertRefreshToken(db: Db, row: OAuthRefreshToken) {
  return db.insert(oauthRefreshTokens).values(row);
}

/** Uses a refresh token once: its row if it was live (not used, not revoked, not expired, its family live). */
export async function claimRefreshToken(db: Db, hash: string, now: Date): Promise<OAuthRefreshToken | undefined> {
  return (
    await db
      .update(oauthRefreshTokens)
      .set({ usedAt: now })
      .where(
        and(
          eq(oauthRefreshTokens.hash, hash),
          isNull(oauthRefreshTokens.usedAt),
          isNull(oauthRefreshTokens.revokedAt),
          sql`${oauthRefreshTokens.expiresAt} > ${now.getTime()}`,
        ),
      )
      .returning()
  )[0];
}

export async function findRefreshToken(db: Db, hash: string): Promise<OAuthRefreshToken | undefined> {
  return (await db.select().from(oauthRefreshTokens).where(eq(oauthRefreshTokens.hash, hash)).limit(1))[0];
}

/** Ends a family: every token descended from one code (a replay, a revocation, a second redemption). */
export function revokeFamily(db: Db, familyId: string, now: Date) {
  return db
    .update(oauthRefreshTokens)
    .set({ revokedAt: now })
    .where(and(eq(oauthRefreshTokens.familyId, familyId), isNull(oauthRefreshTokens.revokedAt)));
}

/**
 * Whether tokens of this family may still be honoured: the grant exists, the family is not
 * revoked, and the account is active with the credentials epoch the family began under.
 */
export async function familyIsLive(
  db: Db,
  args: { familyId: string; userId: string; clientId: string; credentialsEpoch: number },
): Promise<boolean> {
  const row = await db.get<{ live: number }>(sql`SELECT (
    EXISTS (SELECT 1 FROM ${oauthGrants} WHERE ${oauthGrants.userId} = ${args.userId} AND ${oauthGrants.clientId} = ${args.clientId})
    AND NOT EXISTS (SELECT 1 FROM ${oauthRefreshTokens} WHERE ${oauthRefreshTokens.familyId} = ${args.familyId} AND ${oauthRefreshTokens.revokedAt} IS NOT NULL)
    AND EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${args.userId} AND ${users.isActive} = 1 AND ${users.deletedAt} IS NULL
      AND ${users.credentialsEpoch} <= ${args.credentialsEpoch})
  ) AS live`);
  return Boolean(row?.live);
}

/** A deleted client's grants and refresh tokens: nothing of it is honoured any more. */
export function clientGrantsRemoval(db: Db, clientId: string, now: Date) {
  return [
    db.delete(oauthGrants).where(eq(oauthGrants.clientId, clientId)),
    db
      .update(oauthRefreshTokens)
      .set({ revokedAt: now })
      .where(and(eq(oauthRefreshTokens.clientId, clientId), isNull(oauthRefreshTokens.revokedAt))),
  ];
}

/** An erased account's grants, codes and OAuth refresh tokens (`accounts`: a condition over `users`). */
export function oauthRowsOf(db: Db, accounts: SQL) {
  const ids = sql`(SELECT ${users.id} FROM ${users} WHERE ${accounts})`;
  return [
    db.delete(oauthGrants).where(sql`${oauthGrants.userId} IN ${ids}`),
    db.delete(oauthCodes).where(sql`${oauthCodes.userId} IN ${ids}`),
    db.delete(oauthRefreshTokens).where(sql`${oauthRefreshTokens.userId} IN ${ids}`),
  ];
}

/** Expired codes and tokens, for the daily clean-up. */
export async function deleteExpiredOAuthRows(db: Db, cutoff: Date): Promise<void> {
  await db.batch([
    db.delete(oauthCodes).where(lt(oauthCodes.expiresAt, cutoff)),
    db.delete(oauthRefreshTokens).where(lt(oauthRefreshTokens.expiresAt, cutoff)),
  ]);
}
