import { and, count, eq, gte, isNull, or, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { passkeys, recoveryCodes, totpFactors, users, type WrappedSecret } from "./schema";

/** The second factors of one account: its authenticator app (pending or enabled) and its recovery codes. */

export type TotpFactor = typeof totpFactors.$inferSelect;

export interface FactorState {
  totp: TotpFactor | undefined;
  recoveryCodesRemaining: number;
}

export async function readFactors(db: Db, userId: string): Promise<FactorState> {
  const [[totp], [remaining]] = await db.batch([
    db.select().from(totpFactors).where(eq(totpFactors.userId, userId)).limit(1),
    db
      .select({ n: count() })
      .from(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt))),
  ]);
  return { totp, recoveryCodesRemaining: remaining?.n ?? 0 };
}

export async function findTotp(db: Db, userId: string): Promise<TotpFactor | undefined> {
  return (await db.select().from(totpFactors).where(eq(totpFactors.userId, userId)).limit(1))[0];
}

/** The unused recovery code of the account with this hash, if any. */
export async function findRecoveryCode(db: Db, userId: string, codeHash: string): Promise<{ id: string; createdAt: Date } | undefined> {
  const rows = await db
    .select({ id: recoveryCodes.id, createdAt: recoveryCodes.createdAt })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, codeHash), isNull(recoveryCodes.usedAt)))
    .limit(1);
  return rows[0];
}

/** A pending authenticator replaces any earlier pending one; an enabled one is never replaced here. */
export function pendingTotpUpsert(db: Db, userId: string, secret: WrappedSecret, now: Date) {
  return db
    .insert(totpFactors)
    .values({ userId, secret, createdAt: now, confirmedAt: null })
    .onConflictDoUpdate({ target: totpFactors.userId, set: { secret, createdAt: now }, setWhere: isNull(totpFactors.confirmedAt) });
}

/** SQL: the account's authenticator is still the pending one with this secret (a confirmation's fence). */
export function stillPending(userId: string, secret: WrappedSecret): SQL {
  return sql`EXISTS (SELECT 1 FROM ${totpFactors} WHERE ${totpFactors.userId} = ${userId} AND ${totpFactors.confirmedAt} IS NULL
    AND ${totpFactors.secret} = ${JSON.stringify(secret)})`;
}

export function confirmTotp(db: Db, userId: string, now: Date) {
  return db
    .update(totpFactors)
    .set({ confirmedAt: now })
    .where(and(eq(totpFactors.userId, userId), isNull(totpFactors.confirmedAt)));
}

/** SQL: the account's factors are still the ones a decision was made on (see users.factors_epoch). */
export function factorsUnchanged(userId: string, factorsEpoch: number): SQL {
  return sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${userId} AND ${users.factorsEpoch} = ${factorsEpoch})`;
}

/**
 * The user-row side of a change of factors: the enabled methods and the epoch moved forward. An
 * enrolment (`enrolled`) also ends the wait for a mailed code after an administrator's reset.
 */
export function factorsChanged(db: Db, userId: string, methods: SQL | string[], now: Date, change: { enrolled?: boolean } = {}) {
  return db
    .update(users)
    .set({
      secondFactors: Array.isArray(methods) ? methods : sql`${methods}`,
      factorsEpoch: sql`max(${users.factorsEpoch} + 1, ${now.getTime()})`,
      updatedAt: now,
      ...(change.enrolled ? { mfaResetAt: null } : {}),
    })
    .where(eq(users.id, userId));
}

/** SQL: the account has no second factor (an enrolment token enrols one, not two in parallel). */
export function noSecondFactor(userId: string): SQL {
  return sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${userId} AND ${users.secondFactors} = '[]')`;
}

/** A fresh set of recovery codes (by hash) replacing every earlier one (none: they all go). */
export function recoveryCodeSet(db: Db, userId: string, hashes: string[], now: Date): BatchItem<"sqlite">[] {
  const removal = db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
  if (hashes.length === 0) return [removal];
  return [
    removal,
    db.insert(recoveryCodes).values(hashes.map((codeHash) => ({ id: crypto.randomUUID(), userId, codeHash, createdAt: now }))),
  ];
}

/** SQL: this recovery code is still unused (a sign-in's fence: two sign-ins with one code, one wins). */
export function recoveryCodeUnused(id: string): SQL {
  return sql`EXISTS (SELECT 1 FROM ${recoveryCodes} WHERE ${recoveryCodes.id} = ${id} AND ${recoveryCodes.usedAt} IS NULL)`;
}

export function useRecoveryCode(db: Db, id: string, now: Date) {
  return db
    .update(recoveryCodes)
    .set({ usedAt: now })
    .where(and(eq(recoveryCodes.id, id), isNull(recoveryCodes.usedAt)));
}

/**
 * Removes factors: every one (`since` null: a first proof of the address, an administrator) or those
 * enrolled at or after `since` (a revert: older factors stay). The user row's list follows what is
 * left, and its factors epoch moves, in the same batch.
 */
export function factorRemoval(db: Db, userId: string, since: Date | null, now: Date): BatchItem<"sqlite">[] {
  const totpSince = since ? or(gte(totpFactors.createdAt, since), gte(totpFactors.confirmedAt, since)) : undefined;
  const codesSince = since ? gte(recoveryCodes.createdAt, since) : undefined;
  const passkeysSince = since ? gte(passkeys.createdAt, since) : undefined;
  return [
    db.delete(totpFactors).where(and(eq(totpFactors.userId, userId), totpSince)),
    db.delete(recoveryCodes).where(and(eq(recoveryCodes.userId, userId), codesSince)),
    db.delete(passkeys).where(and(eq(passkeys.userId, userId), passkeysSince)),
    factorsChanged(db, userId, remainingFactors(userId), now),
  ];
}

/** SQL: the second factors the account has left, as the JSON list `users.second_factors` keeps. */
export function remainingFactors(userId: string): SQL {
  const totp = sql`EXISTS (SELECT 1 FROM ${totpFactors} WHERE ${totpFactors.userId} = ${userId} AND ${totpFactors.confirmedAt} IS NOT NULL)`;
  const passkey = sql`EXISTS (SELECT 1 FROM ${passkeys} WHERE ${passkeys.userId} = ${userId})`;
  return sql`(SELECT CASE WHEN ${totp} AND ${passkey} THEN '["totp","passkey"]' WHEN ${totp} THEN '["totp"]'
    WHEN ${passkey} THEN '["passkey"]' ELSE '[]' END)`;
}

/** Deletes the recovery codes once the account has no second factor left (run after the list was updated). */
export function recoveryCodesWithoutFactors(db: Db, userId: string) {
  return db
    .delete(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), sql`(SELECT ${users.secondFactors} FROM ${users} WHERE ${users.id} = ${userId}) = '[]'`));
}
