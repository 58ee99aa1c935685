import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";
import { describeError, log } from "../log";
import { enforceIpLimit } from "./ip-limits";
import { underAttack } from "./spraying";

/**
 * What a login from an unknown device must pass while Gatehouse is under a password-spraying
 * attack (src/abuse/objects/attack-monitor.ts) and `ATTACK_SPRAY_ACTION` is `challenge`:
 * - with Turnstile configured, a solved challenge (`turnstile_token`, verified at
 *   `TURNSTILE_VERIFY_URL`); without one, 403 `challenge_required` with the `site_key`;
 * - without Turnstile, from a hosted page whose browser ran no script (no widget answer), or when
 *   Turnstile cannot be reached: the tighter per-IP limit `login_ip_under_attack_hour`.
 * Known devices never see any of this: their guesses already count only against themselves.
 */

/** How long the server waits for Turnstile before falling back to the tighter limit. */
const VERIFY_TIMEOUT_MS = 3000;

export interface ChallengeAnswer {
  /** The widget's answer (`turnstile_token` in the API, `cf-turnstile-response` on the page). */
  token?: string | undefined;
  /** A hosted page's form posted without the widget's field: the browser runs no script. */
  noScript?: boolean | undefined;
}

/** The site key a sign-in page shows the widget for: set only while the challenge is being asked. */
export function challengeSiteKey(deps: Deps): Promise<string | undefined> {
  const turnstile = deps.config.attack.turnstile;
  const asked = turnstile && deps.config.attack.sprayAction === "challenge" && underAttack(deps);
  return Promise.resolve(asked ? turnstile.siteKey : undefined);
}

/** Throws 403 `challenge_required` or 429 `rate_limited`, or returns when the login may go on. */
export async function passAttackChallenge(deps: Deps, answer: ChallengeAnswer): Promise<void> {
  const turnstile = deps.config.attack.turnstile;
  if (turnstile) {
    if (answer.token) {
      const verdict = await verifyTurnstile(deps, turnstile, answer.token);
      if (verdict === "passed") return;
      if (verdict === "failed")
        throw challengeRequired(turnstile.siteKey, "The challenge answer was not accepted. Solve the challenge again.");
    } else if (!answer.noScript) {
      throw challengeRequired(turnstile.siteKey);
    }
  }
  await enforceIpLimit(deps, "login_under_attack");
}

function challengeRequired(siteKey: string, detail?: string): AppError {
  return new AppError("challenge_required", { extensions: { site_key: siteKey }, ...(detail ? { detail } : {}) });
}

/** Siteverify (https://developers.cloudflare.com/turnstile/get-started/server-side-validation/). */
async function verifyTurnstile(
  deps: Deps,
  turnstile: { secret: string; verifyUrl: string },
  token: string,
): Promise<"passed" | "failed" | "unavailable"> {
  const form = new FormData();
  form.append("secret", turnstile.secret);
  form.append("response", token);
  if (deps.meta.ip) form.append("remoteip", deps.meta.ip);
  try {
    const response = await deps.fetch(turnstile.verifyUrl, { method: "POST", body: form, signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`siteverify answered ${response.status}`);
    const body = await response.json<{ success?: unknown }>();
    return body.success === true ? "passed" : "failed";
  } catch (error) {
    log("warn", "turnstile.unavailable", { request_id: deps.meta.requestId, ...describeError(error) });
    return "unavailable";
  }
}
