import type { User } from "../db/schema";
import type { Deps } from "../kernel/deps";
import { assertNotBreached } from "../abuse/breached-passwords";
import { hashPassword, passwordParams } from "./passwords";
import { assertStrongPassword } from "./password-policy";

/**
 * A replacement password for an existing account (change, reset, set while verifying): judged by
 * the policy against the account's own data (422 `weak_password` on the `new_password` field),
 * and against known breaches when `BREACHED_PASSWORD_CHECK` is on, then hashed with the configured parameters.
 */
export async function hashNewPassword(deps: Deps, user: Pick<User, "email" | "username" | "fullName">, password: string): Promise<string> {
  assertStrongPassword(password, { email: user.email, username: user.username, fullName: user.fullName }, deps.config, "new_password");
  await assertNotBreached(deps, password, "new_password");
  return hashPassword(password, passwordParams(deps));
}
