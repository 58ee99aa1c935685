import { and, isNotNull, lt, or, sql } from "drizzle-orm";
import { createDb } from "./db/client";
import { consumedTokens, sessions } from "./db/schema";
import type { Bindings } from "./env";
import { log } from "./log";

/**
 * The daily cron: drops what can no longer matter. Single-use markers outlive their token's TTL
 * by a day; dead sessions (expired, or revoked more than a day ago) go with their retired tokens.
 */
export async function runScheduledMaintenance(env: Bindings, now: Date): Promise<void> {
  const db = createDb(env.DB);
  const dayAgo = new Date(now.getTime() - 86_400_000);
  const consumed = await db.delete(consumedTokens).where(lt(consumedTokens.expiresAt, dayAgo)).run();
  const deadSessions = or(lt(sessions.expiresAt, dayAgo), and(isNotNull(sessions.revokedAt), lt(sessions.revokedAt, dayAgo)));
  const [retired, dead] = await db.batch([
    db.run(sql`DELETE FROM retired_refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE ${deadSessions})`),
    db.delete(sessions).where(deadSessions),
  ]);
  log("info", "maintenance.done", {
    consumed_tokens: consumed.meta.changes,
    retired_refresh_tokens: retired.meta.changes,
    sessions: dead.meta.changes,
  });
}
