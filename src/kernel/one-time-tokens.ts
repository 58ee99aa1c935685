import {
  claimToken,
  consumedAmong,
  insertMarker,
  keysBetween,
  voidTokenHashes,
  isConsumed,
  isUsedOrSuperseded,
  newestKeyBetween,
  type ConsumedRow,
  type MarkerRange,
} from "../db/consumed-tokens";
import { AppError } from "../errors";
import { randomToken, sha256 } from "../crypto";
import type { Deps } from "./deps";

/**
 * Mailed one-time tokens (email verification, password reset, email change and its revert link).
 *
 *   KV   <purpose>:<sha256(token)>  → JSON payload    TTL: the purpose's lifetime
 *   D1   consumed_tokens(token_hash = sha256(token))  the single-use arbiter
 *   D1   consumed_tokens(token_hash = issued:<purpose>:<userId>:<issuedAt>:<sha256(token)>)
 *        an issuance marker: for every purpose the latest token wins
 *
 * KV holds only the token's hash. KV alone cannot make a token single-use under concurrency (a
 * read-then-delete races), so consumption is decided by one conditional INSERT in D1: of any number
 * of parallel submissions exactly one inserts the row and wins.
 *
 * "A fresh request invalidates older tokens" is decided in D1 too, not with a KV pointer (KV is
 * eventually consistent, so a pointer read in another location could miss the newer token). Each
 * token writes an issuance marker whose key sorts by issue time within the
 * user's range; consuming a token requires that no marker of the same purpose and user sorts after
 * its own, in the same INSERT that claims it. The markers are rows of `consumed_tokens` because the
 * schema is fixed; they expire with the token and the daily clean-up removes them.
 *
 * A link mailed before the change it reports is made (the old address's email-change revert link,
 * which must reach the old address before the address moves) is usable only once that change
 * committed: its marker is written in the change's own batch ({@link prepareOneTimeToken}), and its
 * purpose requires the marker to exist.
 *
 * Revert links of email changes coexist: a newer one never voids an older one (a phisher who moves
 * the account twice must not kill the owner's link by the second move). Only void markers, and a
 * token's own consumed row, end one.
 */
export type TokenPurpose = "verify" | "reset" | "email_change" | "email_revert" | "signin_revert";

const TOKEN_TTL_SECONDS: Record<TokenPurpose, number> = {
  verify: 24 * 3600,
  reset: 15 * 60,
  email_change: 3600,
  /** The old address's "this wasn't me" link after an email change. */
  email_revert: 7 * 86_400,
  /** The "this wasn't me" link of a new-sign-in notice. */
  signin_revert: 7 * 86_400,
};

export interface TokenPayload {
  userId: string;
  /** The address the token was mailed to; every purpose is bound to it. */
  email: string;
  /** Milliseconds since the epoch; lets expiry be judged by the injectable clock as well as KV's TTL. */
  issuedAt: number;
  /** email_change: the session that asked (it survives the change); email_revert: the address it moved to. */
  sessionId?: string | undefined;
  newEmail?: string | undefined;
  /** signin_revert from an enrolment notice: when the enrolled factor was added (the revert removes factors since). */
  since?: number | undefined;
}

/** A bad mailed link: 400 `invalid_token` (the HTTP contract), without saying which check failed. */
export function invalidLink(): AppError {
  return new AppError("invalid_token", { status: 400, detail: "The link is invalid, expired or already used." });
}

const kvKey = (purpose: TokenPurpose, hash: string) => `${purpose}:${hash}`;

/** Purposes whose tokens are usable only once their own issuance marker exists (see above). */
const MARKER_REQUIRED: ReadonlySet<TokenPurpose> = new Set(["email_revert"]);
/** Purposes whose tokens coexist: only void markers supersede them, not newer tokens. */
const COEXISTING: ReadonlySet<TokenPurpose> = new Set(["email_revert", "signin_revert"]);

/** Marker keys of one user and purpose sort by issue time: 13-digit milliseconds, then the hash. */
const markerRange = (purpose: TokenPurpose, userId: string) => `issued:${purpose}:${userId}:`;
const markerKey = (purpose: TokenPurpose, payload: TokenPayload, hash: string) =>
  `${markerRange(purpose, payload.userId)}${String(payload.issuedAt).padStart(13, "0")}:${hash}`;
/** ';' is the character after ':', so `< end` bounds the user's range. */
const markerEnd = (purpose: TokenPurpose, userId: string) => `issued:${purpose}:${userId};`;

/** Where a newer token (or a void marker) of the same purpose and user would have left its marker. */
function newerMarkers(purpose: TokenPurpose, payload: TokenPayload, hash: string): MarkerRange {
  return { after: markerKey(purpose, payload, hash), before: markerEnd(purpose, payload.userId), voidsOnly: COEXISTING.has(purpose) };
}

/**
 * Issues a token (256 random bits) and returns it; only its hash is stored. `firstForUser`: the
 * user id is brand new (a registration's), so no older token can exist to be voided and the marker
 * (a D1 write on the primary) is skipped; a later token of the same purpose still voids this one.
 */
export async function issueOneTimeToken(
  deps: Deps,
  purpose: TokenPurpose,
  payload: Omit<TokenPayload, "issuedAt">,
  options: { firstForUser?: boolean } = {},
): Promise<string> {
  const token = randomToken(32);
  const hash = await sha256(token);
  const value: TokenPayload = { ...payload, issuedAt: deps.now().getTime() };
  const expiresAt = value.issuedAt + TOKEN_TTL_SECONDS[purpose] * 1000;
  // Issuing a token makes every older one of the same purpose and user unusable. Written before the
  // token exists: if this fails nothing was mailed, and if the KV write below fails the older tokens
  // are already dead (fail closed).
  if (!options.firstForUser) {
    await insertMarker(deps.db, { key: markerKey(purpose, value, hash), purpose: `${purpose}_issued`, at: value.issuedAt, expiresAt });
  }
  await deps.kv.put(kvKey(purpose, hash), JSON.stringify(value), { expirationTtl: TOKEN_TTL_SECONDS[purpose] });
  return token;
}

/**
 * Issues a token whose issuance marker the caller writes in its own D1 batch (`markers` of a
 * credential change, which writes them only if the change applies). Until then the token is stored
 * but unusable; if the batch never commits it never becomes usable. For MARKER_REQUIRED purposes.
 */
export async function prepareOneTimeToken(
  deps: Deps,
  purpose: TokenPurpose,
  payload: Omit<TokenPayload, "issuedAt">,
): Promise<{ token: string; marker: ConsumedRow }> {
  const token = randomToken(32);
  const hash = await sha256(token);
  const value: TokenPayload = { ...payload, issuedAt: deps.now().getTime() };
  const expiresAt = value.issuedAt + TOKEN_TTL_SECONDS[purpose] * 1000;
  await deps.kv.put(kvKey(purpose, hash), JSON.stringify(value), { expirationTtl: TOKEN_TTL_SECONDS[purpose] });
  return { token, marker: { key: markerKey(purpose, value, hash), purpose: `${purpose}_issued`, at: value.issuedAt, expiresAt } };
}

/**
 * Markers that void every outstanding token of these purposes for the user (a marker no token
 * matches sorts after them all). Credential changes write them in their D1 batch: a password change
 * voids reset links, a reset voids every other mailed token.
 */
export function voidMarkers(userId: string, purposes: readonly TokenPurpose[], now: number): ConsumedRow[] {
  return purposes.map((purpose) => ({
    key: markerKey(purpose, { userId, email: "", issuedAt: now }, `void-${crypto.randomUUID()}`),
    purpose: `${purpose}_voided`,
    at: now,
    expiresAt: now + TOKEN_TTL_SECONDS[purpose] * 1000,
  }));
}

const wellFormed = (token: string) => token.length >= 16 && token.length <= 128;

function isExpired(deps: Deps, purpose: TokenPurpose, payload: TokenPayload): boolean {
  return deps.now().getTime() - payload.issuedAt > TOKEN_TTL_SECONDS[purpose] * 1000;
}

/** D1 check that the token is neither used nor superseded (KV may lag behind in other locations). */
async function assertStillUsable(deps: Deps, purpose: TokenPurpose, payload: TokenPayload, hash: string): Promise<void> {
  const ownMarker = MARKER_REQUIRED.has(purpose) ? markerKey(purpose, payload, hash) : undefined;
  if (await isUsedOrSuperseded(deps.db, hash, newerMarkers(purpose, payload, hash), ownMarker)) throw invalidLink();
}

/** Reads a token without using it up (e.g. to check the password policy before consuming). */
export async function peekOneTimeToken(deps: Deps, purpose: TokenPurpose, token: string): Promise<TokenPayload> {
  return (await findOneTimeToken(deps, [purpose], token)).payload;
}

/**
 * Finds which of `purposes` a token belongs to (one bulk KV read), without using it up. Lets one
 * endpoint (`/auth/verify-email`) accept verification and email-change tokens alike.
 */
export async function findOneTimeToken(
  deps: Deps,
  purposes: readonly TokenPurpose[],
  token: string,
): Promise<{ purpose: TokenPurpose; payload: TokenPayload }> {
  if (!wellFormed(token)) throw invalidLink();
  const hash = await sha256(token);
  const keys = purposes.map((p) => kvKey(p, hash));
  const values = await deps.kv.get<TokenPayload>(keys, "json");
  const index = keys.findIndex((k) => values.get(k));
  const purpose = purposes[index];
  const payload = values.get(keys[index] ?? "");
  if (!purpose || !payload || isExpired(deps, purpose, payload)) throw invalidLink();
  await assertStillUsable(deps, purpose, payload, hash);
  return { purpose, payload };
}

/**
 * Uses a token up: succeeds exactly once per token however many requests race, and never for a
 * token superseded by a newer one of the same purpose and user.
 */
export async function consumeOneTimeToken(deps: Deps, purpose: TokenPurpose, token: string): Promise<TokenPayload> {
  const payload = await peekOneTimeToken(deps, purpose, token);
  const hash = await sha256(token);
  const now = deps.now().getTime();
  const expiresAt = payload.issuedAt + TOKEN_TTL_SECONDS[purpose] * 1000;
  const claimed = await claimToken(deps.db, { key: hash, purpose, at: now, expiresAt }, newerMarkers(purpose, payload, hash));
  if (!claimed) throw invalidLink();
  await deps.kv.delete(kvKey(purpose, hash));
  return payload;
}

/**
 * Whether the user's newest token of `purpose` is still usable (issued within its lifetime, not
 * voided, not used): an anonymous forgot-password then leaves it alone instead of replacing it.
 */
export async function hasLiveToken(deps: Deps, purpose: TokenPurpose, userId: string): Promise<boolean> {
  const newest = await newestKeyBetween(deps.db, markerRange(purpose, userId), markerEnd(purpose, userId));
  const match = newest ? /:(\d{13}):([^:]+)$/.exec(newest) : null;
  if (!match) return false;
  const [, issuedAt, hash] = match as unknown as [string, string, string];
  if (hash.startsWith("void-") || Number(issuedAt) + TOKEN_TTL_SECONDS[purpose] * 1000 <= deps.now().getTime()) return false;
  return !(await isConsumed(deps.db, hash));
}

/** A token of a user that is still usable: its hash, what it says and when it expires. */
export interface OutstandingToken {
  hash: string;
  payload: TokenPayload;
  expiresAt: Date;
}

/**
 * The user's tokens of a coexisting purpose that are still usable (issued within their lifetime,
 * not used, not voided), oldest first: the email-change revert links the account page shows.
 */
export async function outstandingTokens(deps: Deps, purpose: TokenPurpose, userId: string): Promise<OutstandingToken[]> {
  const keys = await keysBetween(deps.db, markerRange(purpose, userId), markerEnd(purpose, userId));
  const now = deps.now().getTime();
  const lifetime = TOKEN_TTL_SECONDS[purpose] * 1000;
  const parsed = keys.flatMap((key) => {
    const match = /:(\d{13}):([^:]+)$/.exec(key);
    return match ? [{ key, issuedAt: Number(match[1]), hash: match[2]! }] : [];
  });
  const voidedBefore = Math.max(0, ...parsed.filter((m) => m.hash.startsWith("void-")).map((m) => m.issuedAt));
  const live = parsed.filter((m) => !m.hash.startsWith("void-") && m.issuedAt >= voidedBefore && m.issuedAt + lifetime > now);
  const consumed = await consumedAmong(
    deps.db,
    live.map((m) => m.hash),
  );
  const candidates = live.filter((m) => !consumed.has(m.hash));
  if (candidates.length === 0) return [];
  const payloads = await deps.kv.get<TokenPayload>(
    candidates.map((m) => kvKey(purpose, m.hash)),
    "json",
  );
  return candidates.flatMap((m) => {
    const payload = payloads.get(kvKey(purpose, m.hash));
    return payload ? [{ hash: m.hash, payload, expiresAt: new Date(m.issuedAt + lifetime) }] : [];
  });
}

/** Voids single tokens (by their hashes): each gets a consumed row, so it can never be used. */
export async function voidTokens(deps: Deps, purpose: TokenPurpose, tokens: OutstandingToken[]): Promise<void> {
  const now = deps.now().getTime();
  await voidTokenHashes(
    deps.db,
    tokens.map((t) => ({ key: t.hash, purpose: `${purpose}_voided`, at: now, expiresAt: t.expiresAt.getTime() })),
  );
}
