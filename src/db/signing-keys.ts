import { and, eq, sql } from "drizzle-orm";
import type { Db } from "./client";
import { signingKeys } from "./schema";

/** Queries on `signing_keys`, the key pairs the worker generates when no `JWT_PRIVATE_JWKS` is set. */

export type SigningKeyRow = typeof signingKeys.$inferSelect;

export function listSigningKeys(db: Db, alg: string): Promise<SigningKeyRow[]> {
  return db.select().from(signingKeys).where(eq(signingKeys.alg, alg)).all();
}

/**
 * Stores a generated key pair only if no active key of `alg` exists, in one statement: two isolates
 * starting at once cannot both add a key.
 */
export async function insertKeyIfNoneActive(
  db: Db,
  key: { kid: string; alg: string; privateJwk: object; publicJwk: object; createdAt: Date },
): Promise<void> {
  await db.run(sql`
    INSERT INTO ${signingKeys} (kid, alg, private_jwk, public_jwk, status, created_at)
    SELECT ${key.kid}, ${key.alg}, ${JSON.stringify(key.privateJwk)}, ${JSON.stringify(key.publicJwk)}, 'active', ${key.createdAt.getTime()}
    WHERE NOT EXISTS (SELECT 1 FROM ${signingKeys} WHERE ${and(eq(signingKeys.status, "active"), eq(signingKeys.alg, key.alg))})`);
}
