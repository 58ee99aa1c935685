import type { User } from "../db/schema";
import type { TokenPurpose } from "../kernel/one-time-tokens";

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
