import { and, eq, sql } from "drizzle-orm";
import type { Db } from "./client";
import { signingKeys } from "./schema";
import type { JWK } from "jose";

/** Queries on `signing_keys`, the key pairs the worker generates when no `JWT_PRIVATE_JWKS` is set. */

/** A private key wrapped with AES-256-GCM (kernel/key-wrapping.ts), as the `private_jwk` column stores it. */
export interface WrappedJwk {
  wrapped: "A256GCM";
  kek: "secret" | "dev";
  iv: string;
  ciphertext: string;
}

/** What the `private_jwk` column holds: a clear JWK (older rows) or an envelope. */
export type StoredPrivateJwk = JWK | WrappedJwk;

/** `private_jwk` holds a clear JWK (rows from before wrapping) or a wrapped one (kernel/key-wrapping.ts). */
export type SigningKeyRow = Omit<typeof signingKeys.$inferSelect, "privateJwk"> & { privateJwk: StoredPrivateJwk };

export function listSigningKeys(db: Db, alg: string): Promise<SigningKeyRow[]> {
  return db.select().from(signingKeys).where(eq(signingKeys.alg, alg)).all();
}

/**
 * Replaces a row's stored private key (a clear one by its wrapped form) only if it still holds what
 * the caller read: concurrent isolates re-wrapping the same row write once, and nothing is lost.
 */
export async function replacePrivateJwk(db: Db, kid: string, from: StoredPrivateJwk, to: StoredPrivateJwk): Promise<void> {
  await db.run(sql`
    UPDATE ${signingKeys} SET private_jwk = ${JSON.stringify(to)}
    WHERE ${eq(signingKeys.kid, kid)} AND private_jwk = ${JSON.stringify(from)}`);
}

/**
 * Retires an active key (it no longer signs; it stays published so its tokens verify), only while
 * it still holds what the caller read: concurrent isolates retire it once.
 */
export async function retireKey(db: Db, kid: string, stored: StoredPrivateJwk): Promise<void> {
  await db.run(sql`
    UPDATE ${signingKeys} SET status = 'retired'
    WHERE ${eq(signingKeys.kid, kid)} AND status = 'active' AND private_jwk = ${JSON.stringify(stored)}`);
}

/**
 * Stores a generated key pair only if no active key of `alg` exists, in one statement: two isolates
 * starting at once cannot both add a key.
 */
export async function insertKeyIfNoneActive(
  db: Db,
  key: { kid: string; alg: string; privateJwk: StoredPrivateJwk; publicJwk: object; createdAt: Date },
): Promise<void> {
  await db.run(sql`
    INSERT INTO ${signingKeys} (kid, alg, private_jwk, public_jwk, status, created_at)
    SELECT ${key.kid}, ${key.alg}, ${JSON.stringify(key.privateJwk)}, ${JSON.stringify(key.publicJwk)}, 'active', ${key.createdAt.getTime()}
    WHERE NOT EXISTS (SELECT 1 FROM ${signingKeys} WHERE ${and(eq(signingKeys.status, "active"), eq(signingKeys.alg, key.alg))})`);
}
