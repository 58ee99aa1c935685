import type { User } from "../db/schema";
import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";
import { assertCurrentPassword } from "./credentials";

/** How long after proving a password a session counts as freshly authenticated. */
const FRESH_AUTHENTICATION_MS = 5 * 60_000;

/**
 * Step-up for sensitive actions (creating an API key today; MFA and other step-ups later): passes
 * when the session proved a password within the last 5 minutes (`auth_time`) and, for an API
 * caller, the access token is the one that sign-in issued (`fresh`: a token a refresh issued never
 * is, so a refresh token stolen right after a sign-in mints nothing lasting); or when the request
 * carries the current password, which is then checked as a guarded guess (a wrong one counts toward
 * the lockout and answers 400 `invalid_current_password`). Otherwise 403 `reauthentication_required`.
 * A hosted page's caller (no access token: the browser's own session cookie) is judged by the time.
 */
export async function assertFreshAuthentication(
  deps: Deps,
  caller: { user: User; sessionId: string; authTime: Date; fresh?: boolean },
  currentPassword: string | undefined,
): Promise<void> {
  if (currentPassword !== undefined) return assertCurrentPassword(deps, caller, currentPassword);
  const recent = deps.now().getTime() - caller.authTime.getTime() <= FRESH_AUTHENTICATION_MS;
  if (recent && caller.fresh !== false) return;
  throw new AppError("reauthentication_required");
}
