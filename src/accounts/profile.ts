import { enforceIpLimit } from "../abuse/ip-limits";
import { enforceUserLimit } from "../abuse/request-limits";
import { auditRow } from "../audit/audit";
import { eventRows } from "../events/events";
import type { User } from "../db/schema";
import { findUserByUsername, isLiveUser, userUpdate } from "../db/users";
import type { Deps } from "../kernel/deps";
import { AppError, isUniqueViolation } from "../errors";

/** Profile changes by the signed-in user. */
export interface ProfileChanges {
  full_name?: string | undefined;
  username?: string | null | undefined;
  /** A shipped locale, or null for "as the browser asks" (the schema refuses anything else). */
  locale?: string | null | undefined;
}

/**
 * `PUT /users/me`: only the name, username and language; everything else is not changeable here. A call that
 * changes nothing writes nothing and answers the profile as it is. A change spends the user's
 * `profile_update_user_hour` (each one writes D1, an audit row, an event and a webhook POST); a
 * username that differs from the current one (taken or not: a probe for taken names counts too)
 * also spends the user's daily budget, then the IP's, before anything is looked up (429 when any is
 * spent). The change, its audit row and its `user.updated` event are one unit of work.
 */
export async function updateProfile(deps: Deps, user: User, changes: ProfileChanges): Promise<User> {
  const set: Partial<User> = {};
  if (changes.full_name !== undefined && changes.full_name !== user.fullName) set.fullName = changes.full_name;
  if (changes.locale !== undefined && changes.locale !== user.locale) set.locale = changes.locale;
  const usernameChanges = changes.username !== undefined && changes.username !== user.username;
  if (Object.keys(set).length === 0 && !usernameChanges) return user;
  await enforceUserLimit(deps, "profile_update", user.id);
  if (usernameChanges) {
    await enforceUserLimit(deps, "username_change", user.id);
    await enforceIpLimit(deps, "username_change");
    const holder = changes.username ? await findUserByUsername(deps.db, changes.username) : undefined;
    if (holder && holder.id !== user.id) throw new AppError("username_taken");
    set.username = changes.username ?? null;
  }
  const fields = Object.keys(set);
  const work = deps.work().fence(isLiveUser(user.id));
  const updated = work.add(userUpdate(deps.db, user.id, { ...set, updatedAt: deps.now() }));
  work.audit(auditRow(deps, { action: "user.updated", userId: user.id, metadata: { fields } }));
  work.events(eventRows(deps, [{ type: "user.updated", data: { user_id: user.id, fields } }]));
  let committed;
  try {
    committed = await work.commit();
  } catch (error) {
    if (isUniqueViolation(error, "username")) throw new AppError("username_taken");
    throw error;
  }
  if (!committed.committed) throw new AppError("not_found");
  return committed.result(updated)[0] ?? user;
}
