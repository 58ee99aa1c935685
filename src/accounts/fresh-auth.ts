import type { User } from "../db/schema";
import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";
import { SECOND_FACTOR_AMR } from "../factors/second-factor";

/** How long after a sign-in or step-up a session counts as freshly authenticated. */
const FRESH_AUTHENTICATION_MS = 5 * 60_000;

/**
 * `amr` values that prove a second factor (a passkey's `hwk` / `swk` join them; `mfa` where an
 * external provider's own second factor is trusted, its entry's `trust_provider_mfa`).
 */
const SECOND_FACTOR_AMRS = new Set([SECOND_FACTOR_AMR, "hwk", "swk", "mfa"]);

/** Who asks for a sensitive action: their session's last authentication and how it was made. */
export interface FreshnessOf {
  user: User;
  sessionId: string;
  /** When the session last authenticated (the access token's `auth_time`; a page's session row). */
  authTime: Date;
  amr: string[];
  /** An API caller's token was issued by a sign-in or step-up (a refresh's never is); pages have no token. */
  fresh?: boolean;
  /**
   * An enrolment `mfa_token` stands for the caller (policy requires a second factor and the account
   * has none; accounts/sign-in.ts `openEnrolment`): it counts as fresh only where enrolling is allowed.
   */
  enrolment?: boolean;
}

/**
 * Fresh authentication (API.md v1.2) for the sensitive actions (password, address, deletion, API
 * keys, factors): a sign-in or step-up within the last 5 minutes, proven by the access token it
 * issued, whatever the body carries (a password in the body never replaces it). For an account
 * with a second factor, that sign-in or step-up must have proved one. Otherwise 403
 * `reauthentication_required`: the client steps up (`POST /auth/step-up`) and tries again. A hosted
 * page's caller (no access token: the browser's own session cookie) is judged by its session row.
 */
export function assertFreshAuthentication(deps: Deps, caller: FreshnessOf, options: { enrolment?: "allowed" } = {}): void {
  if (caller.enrolment) {
    if (options.enrolment === "allowed") return;
    throw new AppError("invalid_token", { detail: "An enrolment token only enrols a second factor." });
  }
  const recent = deps.now().getTime() - caller.authTime.getTime() <= FRESH_AUTHENTICATION_MS;
  const provedSecond = caller.user.secondFactors.length === 0 || caller.amr.some((m) => SECOND_FACTOR_AMRS.has(m));
  if (recent && caller.fresh !== false && provedSecond) return;
  throw new AppError("reauthentication_required", {
    detail: provedSecond
      ? "Sign in again or step up (POST /api/v1/auth/step-up) within 5 minutes of this action."
      : "This account has a second factor: step up with it (POST /api/v1/auth/step-up) within 5 minutes of this action.",
  });
}
