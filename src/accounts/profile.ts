import { enforceIpLimit } from "../abuse/ip-limits";
import { enforceUserLimit } from "../abuse/request-limits";
import { recordAudit } from "../audit/audit";
import { emitEvents } from "../events/events";
import type { User } from "../db/schema";
import { findUserByUsername, updateUser } from "../db/users";
import type { Deps } from "../kernel/deps";
import { AppError, isUniqueViolation } from "../errors";

/** Profile changes by the signed-in user. */
export interface ProfileChanges {
  full_name?: string | undefined;
  username?: string | null | undefined;
}

/**
 * `PUT /users/me`: only the name and username; everything else is not changeable here. A username
 * that differs from the current one (taken or not: a probe for taken names counts too) spends the
 * user's daily budget, then the IP's, before anything is looked up (429 when either is spent).
 */
export async function updateProfile(deps: Deps, user: User, changes: ProfileChanges): Promise<User> {
  const set: Partial<User> = {};
  if (changes.full_name !== undefined) set.fullName = changes.full_name;
  if (changes.username !== undefined && changes.username !== user.username) {
    await enforceUserLimit(deps, "username_change", user.id);
    await enforceIpLimit(deps, "username_change");
    const holder = changes.username ? await findUserByUsername(deps.db, changes.username) : undefined;
    if (holder && holder.id !== user.id) throw new AppError("username_taken");
    set.username = changes.username;
  }
  if (Object.keys(set).length === 0) return user;
  set.updatedAt = deps.now();
  try {
    const updated = await updateUser(deps.db, user.id, set);
    if (!updated) throw new AppError("not_found");
    await recordAudit(deps, {
      action: "user.updated",
      userId: user.id,
      metadata: { fields: Object.keys(set).filter((k) => k !== "updatedAt") },
    });
    await emitEvents(deps, [
      { type: "user.updated", data: { user_id: user.id, fields: Object.keys(set).filter((k) => k !== "updatedAt") } },
    ]);
    return updated;
  } catch (error) {
    if (isUniqueViolation(error, "username")) throw new AppError("username_taken");
    throw error;
  }
}
