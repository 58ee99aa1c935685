import { sql } from "drizzle-orm";
import { AppError } from "../errors";
import { randomToken, sha256 } from "./crypto";
import type { Deps } from "./deps";

/**
 * Mailed one-time tokens (email verification, password reset, email change).
 *
 *   KV   <purpose>:<sha256(token)>  → JSON payload    TTL: the purpose's lifetime
 *   D1   consumed_tokens(token_hash)                  the single-use arbiter
 *
 * KV holds only the token's hash. KV alone cannot make a token single-use under concurrency (a
 * read-then-delete races), so consumption is decided by one conditional INSERT in D1: of any number
 * of parallel submissions exactly one inserts the row and wins.
 */
export type TokenPurpose = "verify" | "reset" | "email_change";

export const TOKEN_TTL_SECONDS: Record<TokenPurpose, number> = {
  verify: 24 * 3600,
  reset: 15 * 60,
  email_change: 3600,
};

export interface TokenPayload {
  userId: string;
  /** The address the token was mailed to; verification and email change are bound to it. */
  email: string;
  /** Milliseconds since the epoch; lets expiry be judged by the injectable clock as well as KV's TTL. */
  issuedAt: number;
}

const kvKey = (purpose: TokenPurpose, hash: string) => `${purpose}:${hash}`;

export async function issueOneTimeToken(deps: Deps, purpose: TokenPurpose, payload: Omit<TokenPayload, "issuedAt">): Promise<string> {
  const token = randomToken(32);
  const value: TokenPayload = { ...payload, issuedAt: deps.now().getTime() };
  await deps.kv.put(kvKey(purpose, await sha256(token)), JSON.stringify(value), { expirationTtl: TOKEN_TTL_SECONDS[purpose] });
  return token;
}

/** Reads a token without using it up (e.g. to check the password policy before consuming). */
export async function peekOneTimeToken(deps: Deps, purpose: TokenPurpose, token: string): Promise<TokenPayload> {
  if (token.length < 16 || token.length > 128) throw new AppError("invalid_token", { detail: "The link is invalid or has expired." });
  const payload = await deps.kv.get<TokenPayload>(kvKey(purpose, await sha256(token)), "json");
  const expired = payload && deps.now().getTime() - payload.issuedAt > TOKEN_TTL_SECONDS[purpose] * 1000;
  if (!payload || expired) throw new AppError("invalid_token", { detail: "The link is invalid or has expired." });
  return payload;
}

/** Uses a token up: succeeds exactly once per token, however many requests race. */
export async function consumeOneTimeToken(deps: Deps, purpose: TokenPurpose, token: string): Promise<TokenPayload> {
  const payload = await peekOneTimeToken(deps, purpose, token);
  const hash = await sha256(token);
  const now = deps.now().getTime();
  const result = await deps.db.run(sql`
    INSERT INTO consumed_tokens (token_hash, purpose, consumed_at, expires_at)
    VALUES (${hash}, ${purpose}, ${now}, ${payload.issuedAt + TOKEN_TTL_SECONDS[purpose] * 1000})
    ON CONFLICT (token_hash) DO NOTHING`);
  if (result.meta.changes !== 1) throw new AppError("invalid_token", { detail: "The link is invalid or has expired." });
  await deps.kv.delete(kvKey(purpose, hash));
  return payload;
}
