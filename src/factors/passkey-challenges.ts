import { sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { base64url, randomBytes, sha256, timingSafeEqual, utf8 } from "../crypto";
import type { Db } from "../db/client";
import { markerInsert } from "../db/consumed-tokens";
import { consumedTokens } from "../db/schema";
import type { KeySet } from "../kernel/signing-keys";

/**
 * WebAuthn challenges, stateless: 16 random bytes, the expiry, the purpose and a hash of what the
 * challenge is bound to (the account for a registration, the `mfa_token` for a second step, the
 * session for a step-up, nothing for a sign-in), MACed with a key derived from the signing key. So a
 * `/login` view that offers passkeys writes nothing. Single use is decided where the challenge is
 * spent: the ceremony's own fenced batch records its hash in `consumed_tokens`, and a batch that
 * finds it recorded writes nothing ({@link challengeSpent}), so two concurrent uses admit one.
 */
export type ChallengePurpose = "registration" | "sign_in" | "second_step" | "step_up";

const PURPOSE_BYTE: Record<ChallengePurpose, number> = { registration: 1, sign_in: 2, second_step: 3, step_up: 4 };

/** How long a ceremony may take (API.md: 5 minutes). */
const CHALLENGE_TTL_MS = 5 * 60_000;

const MAC_BYTES = 16;
const BODY_BYTES = 16 + 8 + 1 + 16;

async function mac(keys: KeySet, body: Uint8Array): Promise<Uint8Array> {
  const message = new Uint8Array([...utf8("gatehouse webauthn challenge v1:"), ...body]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", keys.deviceKey, message)).slice(0, MAC_BYTES);
}

async function bindingHash(binding: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(`${binding}`))).slice(0, 16);
}

/** A new challenge (base64url) for `purpose`, bound to `binding`. */
export async function issueChallenge(keys: KeySet, purpose: ChallengePurpose, binding: string, now: Date): Promise<string> {
  const body = new Uint8Array(BODY_BYTES);
  body.set(randomBytes(16), 0);
  new DataView(body.buffer).setBigUint64(16, BigInt(now.getTime() + CHALLENGE_TTL_MS));
  body[24] = PURPOSE_BYTE[purpose];
  body.set(await bindingHash(binding), 25);
  return base64url(new Uint8Array([...body, ...(await mac(keys, body))]));
}

/** Whether `challenge` is one this deployment issued for `purpose` and `binding`, and still within its 5 minutes. */
export async function challengeValid(keys: KeySet, challenge: Uint8Array, purpose: ChallengePurpose, binding: string, now: Date) {
  if (challenge.length !== BODY_BYTES + MAC_BYTES) return false;
  const body = challenge.slice(0, BODY_BYTES);
  if (!timingSafeEqual(challenge.slice(BODY_BYTES), await mac(keys, body))) return false;
  const expires = Number(new DataView(body.buffer).getBigUint64(16));
  if (body[24] !== PURPOSE_BYTE[purpose] || expires <= now.getTime()) return false;
  return timingSafeEqual(body.slice(25), await bindingHash(binding));
}

/** The spending of a challenge in a ceremony's batch: the fence (not spent yet) and the record. */
export async function challengeSpent(db: Db, challenge: Uint8Array, now: Date): Promise<{ unspent: SQL; record: BatchItem<"sqlite"> }> {
  const key = `webauthn:${await sha256(base64url(challenge))}`;
  const expires = Number(new DataView(challenge.buffer, challenge.byteOffset).getBigUint64(16));
  return {
    unspent: sql`NOT EXISTS (SELECT 1 FROM ${consumedTokens} WHERE ${consumedTokens.tokenHash} = ${key})`,
    record: markerInsert(db, { key, purpose: "webauthn_challenge", at: now.getTime(), expiresAt: expires }, sql`1`),
  };
}
