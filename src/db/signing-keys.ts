import { and, eq, sql } from "drizzle-orm";
import type { Db } from "./client";
import { signingKeys } from "./schema";
import type { StoredPrivateJwk } from "../sessions/key-wrapping";

/** Queries on `signing_keys`, the key pairs the worker generates when no `JWT_PRIVATE_JWKS` is set. */

/** `private_jwk` holds a clear JWK (rows from before wrapping) or a wrapped one (sessions/key-wrapping.ts). */
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
