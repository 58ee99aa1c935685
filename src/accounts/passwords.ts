import { PBKDF2_MAX_ITERATIONS } from "../config";
import { base64url, fromBase64url, hmacSha256, randomBytes, timingSafeEqual, utf8 } from "../crypto";
import type { Deps } from "../kernel/deps";
import { verifyBcrypt } from "./bcrypt";

/**
 * Password hashing: PBKDF2-HMAC-SHA256 through WebCrypto, stored as a self-describing string
 *
 *   $pbkdf2-sha256$v=1$i=<iterations>,p=<0|1>$<salt>$<hash>
 *
 * so the parameters can change later and old hashes are upgraded on the next login. `p=1` means
 * the password was first mixed with the server-side pepper (HMAC-SHA256), so a stolen database
 * alone cannot be brute-forced. Imported bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) verify too and are
 * always flagged for rehashing.
 */
/**
 * A stored "hash" that no password matches (verification burns the usual time and fails): an
 * account whose password was disabled by an email-change revert until its owner resets it.
 */
export const DISABLED_PASSWORD = "!disabled";

/** The configured hashing parameters. */
export function passwordParams(deps: Pick<Deps, "config">): PasswordParams {
  return { iterations: deps.config.pbkdf2Iterations, pepper: deps.config.pepper };
}

export interface PasswordParams {
  iterations: number;
  pepper: string | undefined;
}

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const PBKDF2_FORMAT = /^\$pbkdf2-sha256\$v=1\$i=(\d+),p=([01])\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;
const BCRYPT_FORMAT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

async function derive(password: string, salt: Uint8Array, iterations: number, pepper: string | undefined) {
  if (iterations > PBKDF2_MAX_ITERATIONS) {
    // Production workerd refuses more; failing here keeps local and deployed behaviour identical.
    throw new Error(`PBKDF2 iterations above ${PBKDF2_MAX_ITERATIONS} are not supported on Workers`);
  }
  const input = pepper ? await hmacSha256(pepper, password) : utf8(password);
  const key = await crypto.subtle.importKey("raw", input, "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BYTES * 8);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, params: PasswordParams): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, params.iterations, params.pepper);
  const peppered = params.pepper ? 1 : 0;
  return `$pbkdf2-sha256$v=1$i=${params.iterations},p=${peppered}$${base64url(salt)}$${base64url(hash)}`;
}

export interface VerifyResult {
  valid: boolean;
  /** The hash uses other parameters (or bcrypt) than configured now: store a fresh one. */
  needsRehash: boolean;
}

export async function verifyPassword(password: string, stored: string, params: PasswordParams): Promise<VerifyResult> {
  const pbkdf2 = PBKDF2_FORMAT.exec(stored);
  if (pbkdf2) {
    const [, iter, peppered, salt, hash] = pbkdf2 as unknown as [string, string, string, string, string];
    const iterations = Number(iter);
    const usesPepper = peppered === "1";
    if (usesPepper && !params.pepper) {
      // The pepper secret was removed: no password can verify. Burn the same time and refuse.
      await derive(password, salt ? fromBase64url(salt) : randomBytes(SALT_BYTES), params.iterations, undefined);
      return { valid: false, needsRehash: false };
    }
    const actual = await derive(password, fromBase64url(salt), iterations, usesPepper ? params.pepper : undefined);
    const valid = timingSafeEqual(actual, fromBase64url(hash));
    const needsRehash = iterations !== params.iterations || usesPepper !== Boolean(params.pepper);
    return { valid, needsRehash };
  }
  if (BCRYPT_FORMAT.test(stored)) {
    // Compared in constant time (./bcrypt); imported hashes are always upgraded after a success.
    return { valid: verifyBcrypt(password, stored), needsRehash: true };
  }
  await burnPasswordCheck(password, params);
  return { valid: false, needsRehash: false };
}

/**
 * The costliest bcrypt hash an import accepts. Each step doubles the work of one check: with the
 * WebAssembly bcrypt (./bcrypt) cost 10 is about 60 ms of CPU here and cost 13 about half a second,
 * while cost 31, which bcrypt itself allows, is days; one login on such a hash would burn that CPU
 * for whoever sends it.
 */
const BCRYPT_IMPORT_MAX_COST = 13;

/**
 * Why a password hash brought from another system could never verify here, or null when it can:
 * bcrypt (`$2a$`/`$2b$`/`$2y$`, cost 4 to {@link BCRYPT_IMPORT_MAX_COST}) or this module's PBKDF2
 * form with at most PBKDF2_MAX_ITERATIONS, a 32-byte hash, and, when peppered (`p=1`), a pepper
 * configured here. The message names the rule, never the hash.
 */
export function importedHashProblem(stored: string, params: PasswordParams): string | null {
  const bcryptCost = /^\$2[aby]\$(\d\d)\$/.exec(stored);
  if (bcryptCost && BCRYPT_FORMAT.test(stored)) {
    const cost = Number(bcryptCost[1]);
    return cost >= 4 && cost <= BCRYPT_IMPORT_MAX_COST ? null : `The bcrypt cost must be 4 to ${BCRYPT_IMPORT_MAX_COST}.`;
  }
  const pbkdf2 = PBKDF2_FORMAT.exec(stored);
  if (!pbkdf2) return "password_hash must be a bcrypt hash ($2a$, $2b$, $2y$) or Gatehouse's $pbkdf2-sha256$v=1$ form.";
  const [, iterations, peppered, , hash] = pbkdf2 as unknown as [string, string, string, string, string];
  if (Number(iterations) < 1 || Number(iterations) > PBKDF2_MAX_ITERATIONS) {
    return `PBKDF2 iterations must be 1 to ${PBKDF2_MAX_ITERATIONS} (Workers refuse more).`;
  }
  if (hash.length !== 43 || fromBase64url(hash).length !== HASH_BYTES) return `The PBKDF2 hash must be ${HASH_BYTES} bytes.`;
  if (peppered === "1" && !params.pepper) return "The hash is peppered (p=1) but PASSWORD_PEPPER is not set.";
  return null;
}

const DUMMY_SALT = new Uint8Array(SALT_BYTES);

/**
 * Costs the same as verifying a real password, for logins naming an account that does not exist,
 * so response time does not reveal which emails are registered.
 */
export async function burnPasswordCheck(password: string, params: PasswordParams): Promise<void> {
  await derive(password, DUMMY_SALT, params.iterations, params.pepper);
}
