import { clearLockout } from "../abuse/lockout-admin";
import { findUserByIdentifier, type AccountIdentifier } from "../db/users";
import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";

/**
 * `POST /admin/unlock`: lifts an account's lockout, the hard tier included, recorded with the acting
 * administrator (also when nothing was locked). 404 for no such account.
 */
export async function unlockAccount(deps: Deps, actorUserId: string, identifier: AccountIdentifier): Promise<void> {
  const user = await findUserByIdentifier(deps.db, identifier);
  if (!user) throw new AppError("not_found", { detail: "No such account." });
  await clearLockout(deps, user, "admin", actorUserId);
}
