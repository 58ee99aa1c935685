import { log } from "../log";

/**
 * The KV half of erasing an account: its sign-in profile (`signin:<user id>`, written by
 * sign-in-signals.ts: last coordinates, login hours, countries and networks), which would otherwise
 * live on for up to 180 days. The D1 half is db/erasure.ts.
 */

/** The KV key of an account's sign-in profile; sign-in-signals.ts writes the same key. */
/** The KV key of a user's sign-in profile: written by sign-in-signals.ts, deleted here. */
export const signInProfileKey = (userId: string) => `signin:${userId}`;

/**
 * Deletes the sign-in profiles of `userIds` (a missing one is fine). Returns the ids whose profile
 * is gone; a failed delete is logged and its id left out, so a caller can erase those accounts later.
 */
export async function deleteSignInProfiles(kv: KVNamespace, userIds: string[]): Promise<string[]> {
  const results = await Promise.allSettled(userIds.map((id) => kv.delete(signInProfileKey(id))));
  const failed = userIds.filter((_, i) => results[i]!.status === "rejected");
  if (failed.length > 0) log("warn", "erasure.sign_in_profile_failed", { user_ids: failed });
  return userIds.filter((_, i) => results[i]!.status === "fulfilled");
}
