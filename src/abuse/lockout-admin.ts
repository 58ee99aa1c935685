import type { User } from "../db/schema";
import type { Deps } from "../kernel/deps";
import { recordAudit } from "../audit/audit";
import { accountObjectName, identifiersOf } from "./object-names";

/** What administrators see of an account's lockout: the worst state over its identifiers. */
export interface LockView {
  locked: boolean;
  hard: boolean;
  locked_until: string | null;
  failures: number;
}

export async function inspectLockout(deps: Deps, user: Pick<User, "email" | "username">): Promise<LockView> {
  const now = deps.now().getTime();
  const states = await Promise.all(
    identifiersOf(user).map((identifier) => deps.limiter(accountObjectName(identifier), (stub) => stub.inspect(now))),
  );
  const hard = states.some((s) => s.hardLocked);
  const until = Math.max(0, ...states.map((s) => (s.lockedUntil !== null && s.lockedUntil > now ? s.lockedUntil : 0)));
  return {
    locked: hard || until > 0,
    hard,
    locked_until: until > 0 ? new Date(until).toISOString() : null,
    failures: Math.max(0, ...states.map((s) => s.failures)),
  };
}

/**
 * Clears the failure count and any lock (30-minute or hard) on every identifier of `user`. Call it
 * after a successful password reset (`reason: "password_reset"`) or from an administrator's
 * unlock. Writes `account.unlocked` when something was actually locked, and always for an
 * administrator (`actorUserId`).
 */
export async function clearLockout(
  deps: Deps,
  user: Pick<User, "id" | "email" | "username">,
  reason: "password_reset" | "admin",
  actorUserId: string | null = null,
): Promise<void> {
  const now = deps.now().getTime();
  const results = await Promise.all(
    identifiersOf(user).map((identifier) => deps.limiter(accountObjectName(identifier), (stub) => stub.unlock(now))),
  );
  const wasLocked = results.some((r) => r.wasLocked);
  // An administrator's unlock is recorded even when there was nothing to lift: the act is the event.
  if (wasLocked || actorUserId !== null) {
    await recordAudit(deps, {
      action: "account.unlocked",
      userId: user.id,
      actorUserId,
      resource: `user:${user.id}`,
      metadata: { reason, was_locked: wasLocked },
    });
  }
}
