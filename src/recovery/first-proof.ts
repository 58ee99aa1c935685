import { DISABLED_PASSWORD } from "../accounts/passwords";
import type { User } from "../db/schema";
import { findUserById } from "../db/users";
import type { Deps } from "../kernel/deps";
import { voidMarkers, type TokenPurpose } from "../kernel/one-time-tokens";
import { changeCredentials } from "../sessions/credential-change";

/**
 * The first proof of an address (a reset through the mailbox, or a verification that sets a new
 * password, while the address is not verified yet) makes the mailbox's owner the account's owner.
 * Someone else may have registered the address first (a squatter), so everything they chose goes:
 * their password and sessions (the caller's credential change), and their username and name.
 * Once the address is verified, a proof of it keeps the profile.
 */
export function firstProofClears(user: Pick<User, "emailVerified">): Partial<Pick<User, "username" | "fullName">> {
  return user.emailVerified ? {} : { username: null, fullName: "" };
}

/**
 * The squatter's second factors go with the rest (a TOTP they enrolled would lock the owner out);
 * once the address is verified, a reset keeps the owner's factors (signing in still needs them).
 */
export function firstProofRemoves(user: Pick<User, "emailVerified">): { removeFactors?: { since: null } } {
  return user.emailVerified ? {} : { removeFactors: { since: null } };
}

/**
 * The mailed links a proof of the mailbox voids: every earlier one, except the revert links of
 * email changes, which die only on proof a phisher cannot have (see devices/sign-in-signals.ts): a
 * phisher who moved the account to their own address can reset it from there.
 */
export const VOIDED_BY_MAILBOX_PROOF: readonly TokenPurpose[] = ["verify", "reset", "email_change"];

/**
 * A sign-in that proves the mailbox of an unverified account for the first time (an email code, an
 * external provider asserting the address verified): the account becomes the mailbox owner's, so
 * everything added before goes (password disabled, sessions, API keys, device tokens, second
 * factors, linked identities, username and name). The account as it is now, or undefined when it
 * changed meanwhile (another address, deleted).
 */
export async function proveMailboxFirstTime(
  deps: Deps,
  user: User,
  how: { method: string; revokeSessionsReason: string; metadata?: Record<string, unknown> },
): Promise<User | undefined> {
  const changed = await changeCredentials(deps, {
    userId: user.id,
    set: { passwordHash: DISABLED_PASSWORD, emailVerified: true, ...firstProofClears(user) },
    removeFactors: { since: null },
    whileEmail: user.email,
    bumpEpoch: true,
    revokeSessionsReason: how.revokeSessionsReason,
    revokeApiKeys: "all",
    events: [{ type: "user.verified", data: { user_id: user.id, email: user.email } }],
    markers: voidMarkers(user.id, VOIDED_BY_MAILBOX_PROOF, deps.now().getTime()),
    audit: {
      action: "email.verified",
      userId: user.id,
      resource: `user:${user.id}`,
      metadata: { method: how.method, ...how.metadata, first_proof: true },
    },
  });
  // Read again: the change's own returned row predates its removal of factors (the factors epoch moved after it).
  return changed.user ? findUserById(deps.db, user.id) : undefined;
}
