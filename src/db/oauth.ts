import { and, asc, eq, isNull, lt, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { oauthClients, oauthCodes, oauthGrants, oauthRefreshTokens, users, type User } from "./schema";

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

/** A client's last use (a code issued to it), moved at most once a day. */
export function clientUsed(db: Db, id: string, now: Date) {
  const dayAgo = now.getTime() - 86_400_000;
  return db
    .update(oauthClients)
    .set({ lastUsedAt: now })
    .where(and(eq(oauthClients.id, id), sql`(${oauthClients.lastUsedAt} IS NULL OR ${oauthClients.lastUsedAt} < ${dayAgo})`));
}

/** Dynamically registered clients unused since `cutoff` (never used: created before it), with their grants: the daily clean-up. */
export async function deleteUnusedDynamicClients(db: Db, cutoff: Date): Promise<void> {
  const stale = sql`SELECT ${oauthClients.id} FROM ${oauthClients} WHERE ${oauthClients.dynamic} = 1
    AND coalesce(${oauthClients.lastUsedAt}, ${oauthClients.createdAt}) < ${cutoff.getTime()}`;
  await db.batch([
    db.delete(oauthGrants).where(sql`${oauthGrants.clientId} IN (${stale})`),
    db
      .update(oauthRefreshTokens)
      .set({ revokedAt: cutoff })
      .where(sql`${oauthRefreshTokens.clientId} IN (${stale}) AND ${oauthRefreshTokens.revokedAt} IS NULL`),
    db.delete(oauthClients).where(sql`${oauthClients.id} IN (${stale})`),
  ]);
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

/** Revokes every refresh token of the user's grant to `clientId`. */
export function revokeUserTokens(db: Db, userId: string, clientId: string, now: Date) {
  return db
    .update(oauthRefreshTokens)
    .set({ revokedAt: now })
    .where(and(eq(oauthRefreshTokens.userId, userId), eq(oauthRefreshTokens.clientId, clientId), isNull(oauthRefreshTokens.revokedAt)));
}

export function insertCode(db: Db, row: OAuthCode) {
  return db.insert(oauthCodes).values(row);
}

export async function findCode(db: Db, hash: string): Promise<OAuthCode | undefined> {
  return (await db.select().from(oauthCodes).where(eq(oauthCodes.hash, hash)).limit(1))[0];
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
  args: { familyId: string; grantId: string; userId: string; clientId: string; credentialsEpoch: number },
): Promise<boolean> {
  const row = await db.get<{ live: number }>(sql`SELECT (${familyLive(args)}) AS live`);
  return Boolean(row?.live);
}

/** A value or a column of the statement around (`t.user_id`). */
type Operand = string | number | SQL;

/** SQL: the grant a family was issued under still stands, by id: a grant removed and given again is another one. */
const grantStands = (f: { grantId: Operand; userId: Operand; clientId: Operand }) =>
  sql`EXISTS (SELECT 1 FROM ${oauthGrants} AS g WHERE g.id = ${f.grantId} AND g.user_id = ${f.userId} AND g.client_id = ${f.clientId})`;

/** SQL: {@link familyIsLive}'s rule, for values or for the columns of a code or token the statement reads. */
const familyLive = (f: { familyId: Operand; grantId: Operand; userId: Operand; clientId: Operand; credentialsEpoch: Operand }) =>
  sql`${grantStands(f)}
    AND NOT EXISTS (SELECT 1 FROM ${oauthRefreshTokens} AS r WHERE r.family_id = ${f.familyId} AND r.revoked_at IS NOT NULL)
    AND EXISTS (SELECT 1 FROM ${users} AS u WHERE u.id = ${f.userId} AND u.is_active = 1 AND u.deleted_at IS NULL
      AND u.credentials_epoch <= ${f.credentialsEpoch})`;

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

/** SQL: the family of token `hash` may still be honoured (grant there, family not revoked, account active at its epoch). */
function refreshFamilyLive(hash: string) {
  const t = {
    familyId: sql`t.family_id`,
    grantId: sql`t.grant_id`,
    userId: sql`t.user_id`,
    clientId: sql`t.client_id`,
    credentialsEpoch: sql`t.credentials_epoch`,
  };
  return sql`EXISTS (SELECT 1 FROM ${oauthRefreshTokens} AS t WHERE t.hash = ${hash} AND ${familyLive(t)})`;
}

/**
 * SQL: the claim just before in the batch (its UPDATE) changed a row, so this request won it. Not
 * "the row's used_at is this request's time": two requests of the same millisecond (workerd's clock
 * moves only between I/O) would both see that, and the loser would write a second successor.
 */
const claimWon = sql`changes() = 1`;

/** The columns of the code `c` a redemption reads, for {@link grantStands}. */
const codeGrant = { grantId: sql`c.grant_id`, userId: sql`c.user_id`, clientId: sql`c.client_id` };

/**
 * A code's redemption as one batch (one round trip to the primary): the claim, which holds only for
 * this client, redirect URI and PKCE challenge while the code is unused and unexpired; the account;
 * and, with `offline_access`, the family's first refresh token (`refreshHash`), written only if this
 * claim won and the account is active (right after the claim, for {@link claimWon}).
 */
export async function redeemCodeBatch(
  db: Db,
  args: { hash: string; clientId: string; redirectUri: string; challenge: string; refreshHash: string; now: Date; refreshExpiresAt: Date },
): Promise<{ code: OAuthCode | undefined; user: User | undefined }> {
  const at = args.now.getTime();
  const [claimed, , account] = await db.batch([
    db
      .update(oauthCodes)
      .set({ usedAt: args.now })
      .where(
        and(
          eq(oauthCodes.hash, args.hash),
          isNull(oauthCodes.usedAt),
          sql`${oauthCodes.expiresAt} > ${at}`,
          eq(oauthCodes.clientId, args.clientId),
          eq(oauthCodes.redirectUri, args.redirectUri),
          eq(oauthCodes.codeChallenge, args.challenge),
        ),
      )
      .returning(),
    db.insert(oauthRefreshTokens)
      .select(sql`SELECT ${args.refreshHash}, c.family_id, c.grant_id, c.client_id, c.user_id, c.scopes, c.resource,
      c.auth_time, c.amr, u.credentials_epoch, ${at}, ${args.refreshExpiresAt.getTime()}, NULL, NULL
      FROM ${oauthCodes} AS c JOIN ${users} AS u ON u.id = c.user_id
      WHERE ${claimWon} AND c.hash = ${args.hash} AND c.used_at = ${at} AND c.client_id = ${args.clientId} AND c.scopes LIKE '%"offline_access"%'
        AND u.is_active = 1 AND u.deleted_at IS NULL
        AND ${grantStands(codeGrant)}`),
    db
      .select()
      .from(users)
      .where(
        sql`${users.id} = (SELECT c.user_id FROM ${oauthCodes} AS c WHERE c.hash = ${args.hash}
          AND ${grantStands(codeGrant)})`,
      ),
  ]);
  return { code: claimed[0], user: account[0] };
}

/**
 * A refresh as one batch: the claim (unused, unrevoked, unexpired, this client's), the family's next
 * token (`nextHash`, right after it), written only if this claim won while the family is live, and
 * the account while the family is live.
 */
export async function refreshBatch(
  db: Db,
  args: { hash: string; clientId: string; nextHash: string; now: Date; expiresAt: Date; scopes: readonly string[] },
): Promise<{ token: OAuthRefreshToken | undefined; user: User | undefined }> {
  const at = args.now.getTime();
  // A refresh never widens: the claim holds only while the token has every scope asked for (names from
  // OAUTH_SCOPES, checked by the caller), so a refusal uses nothing up.
  const hasScopes = args.scopes.map((s) => sql`${oauthRefreshTokens.scopes} LIKE ${`%"${s}"%`}`);
  const [claimed, , account] = await db.batch([
    db
      .update(oauthRefreshTokens)
      .set({ usedAt: args.now })
      .where(
        and(
          eq(oauthRefreshTokens.hash, args.hash),
          isNull(oauthRefreshTokens.usedAt),
          isNull(oauthRefreshTokens.revokedAt),
          sql`${oauthRefreshTokens.expiresAt} > ${at}`,
          eq(oauthRefreshTokens.clientId, args.clientId),
          ...hasScopes,
        ),
      )
      .returning(),
    db.insert(oauthRefreshTokens).select(sql`SELECT ${args.nextHash}, t.family_id, t.grant_id, t.client_id, t.user_id, t.scopes, t.resource,
      t.auth_time, t.amr, t.credentials_epoch, ${at}, ${args.expiresAt.getTime()}, NULL, NULL
      FROM ${oauthRefreshTokens} AS t WHERE ${claimWon} AND t.hash = ${args.hash} AND t.used_at = ${at} AND t.client_id = ${args.clientId}
        AND ${refreshFamilyLive(args.hash)}`),
    db
      .select()
      .from(users)
      .where(
        sql`${users.id} = (SELECT ${oauthRefreshTokens.userId} FROM ${oauthRefreshTokens} WHERE ${oauthRefreshTokens.hash} = ${args.hash}) AND ${refreshFamilyLive(args.hash)}`,
      ),
  ]);
  return { token: claimed[0], user: account[0] };
}
