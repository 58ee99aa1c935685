import type { Config } from "../config";
import type { User } from "../db/schema";
import { AppError } from "../errors";

/**
 * `MFA_REQUIRED` (API.md v1.2 "MFA policy"): whose accounts must have a second factor. Such an
 * account without one is signed in only after enrolling one (accounts/sign-in.ts), and cannot
 * remove its last one.
 */
export function mfaRequiredFor(config: Pick<Config, "mfaRequired">, user: Pick<User, "isSuperuser">): boolean {
  return config.mfaRequired === "all" || (config.mfaRequired === "superusers" && user.isSuperuser);
}

/** 409 `last_second_factor` when removing factors would leave none while the policy applies to the account. */
export function assertSecondFactorLeft(
  config: Pick<Config, "mfaRequired">,
  user: Pick<User, "isSuperuser">,
  left: readonly string[],
): void {
  if (left.length === 0 && mfaRequiredFor(config, user)) throw new AppError("last_second_factor");
}
