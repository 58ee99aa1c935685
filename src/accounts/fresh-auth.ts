import type { User } from "../db/schema";
import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";
import { assertCurrentPassword } from "./credentials";

/** How long after proving a password a session counts as freshly authenticated. */
const FRESH_AUTHENTICATION_MS = 5 * 60_000;

/**
 * Step-up for sensitive actions (creating an API key today; MFA and other step-ups later): passes
 * when the session proved a password within the last 5 minutes (`auth_time`), or when the request
 * carries the current password, which is then checked as a guarded guess (a wrong one counts
 * toward the lockout and answers 400 `invalid_current_password`). Otherwise 403
 * `reauthentication_required`: a stolen 15-minute access token alone cannot mint lasting credentials.
 */
export async function assertFreshAuthentication(
  deps: Deps,
  caller: { user: User; sessionId: string; authTime: Date },
  currentPassword: string | undefined,
): Promise<void> {
  if (currentPassword !== undefined) return assertCurrentPassword(deps, caller, currentPassword);
  if (deps.now().getTime() - caller.authTime.getTime() <= FRESH_AUTHENTICATION_MS) return;
  throw new AppError("reauthentication_required");
}
