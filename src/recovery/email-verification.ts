import { enforceAccountLimit } from "../abuse/limits";
import { findUserByEmail, findUserById, markEmailVerified } from "../db/users";
import { describeError, log } from "../log";
import { sendVerificationMail } from "../accounts/registration";
import { recordAudit } from "../audit/audit";
import type { Deps } from "../deps";
import { confirmEmailChange } from "./email-change";
import { consumeOneTimeToken, findOneTimeToken, invalidLink } from "./one-time-tokens";

/**
 * `GET|POST /auth/verify-email`: one endpoint for both kinds of mailed address links. The token's
 * purpose is found by looking it up under both prefixes in one bulk KV read, so tokens carry no
 * visible type and a reset token is never accepted here.
 */
export async function confirmEmailToken(deps: Deps, token: string): Promise<"verified" | "changed"> {
  const { purpose, payload } = await findOneTimeToken(deps, ["verify", "email_change"], token);
  if (purpose === "email_change") {
    await confirmEmailChange(deps, token, payload);
    return "changed";
  }
  const user = await findUserById(deps.db, payload.userId);
  // Bound to the address it was mailed to: after an email change an old link verifies nothing.
  if (!user || user.email !== payload.email) throw invalidLink();
  await consumeOneTimeToken(deps, "verify", token);
  const updated = await markEmailVerified(deps.db, user.id, payload.email, deps.now());
  if (!updated) throw invalidLink();
  if (!user.emailVerified) await recordAudit(deps, { action: "email.verified", userId: user.id, resource: `user:${user.id}` });
  return "verified";
}

/**
 * `POST /auth/resend-verification`: the same answer for every address; only an existing, active,
 * unverified account gets a new link, after the response.
 */
export async function resendVerification(deps: Deps, email: string): Promise<void> {
  await enforceAccountLimit(deps, "resend_verification", { email });
  deps.waitUntil(
    (async () => {
      try {
        const user = await findUserByEmail(deps.db, email);
        if (!user || !user.isActive || user.emailVerified) return;
        await sendVerificationMail(deps, user);
      } catch (error) {
        log("error", "verification.resend_failed", { request_id: deps.meta.requestId, ...describeError(error) });
      }
    })(),
  );
}
