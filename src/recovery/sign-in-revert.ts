import { DISABLED_PASSWORD } from "../accounts/passwords";
import { recordAudit } from "../audit/audit";
import { findUserById } from "../db/users";
import type { Deps } from "../kernel/deps";
import { sendSecurityNotice } from "../mail/notices";
import { changeCredentials, keyNames } from "../sessions/credential-change";
import { consumeOneTimeToken, invalidLink, peekOneTimeToken, voidMarkers } from "../kernel/one-time-tokens";
import { mailResetLink } from "./password-reset";

/**
 * `POST /auth/revert-sign-in`: the "this wasn't me" link of a new-sign-in notice
 * (devices/sign-in-signals.ts). Like the email-change revert (email-change.ts), it treats the
 * account as taken over: every session and device dies (the epoch moves), every API key is revoked,
 * outstanding mailed links are void, the second factors enrolled since the event it reports are
 * removed (older ones stay: signing in after the reset still needs them), the password is disabled (login answers 401 like any wrong
 * password) and a reset link goes to the account's address. The link works once, for 7 days, and
 * only while the account still has the address it was mailed to.
 */
export async function revertSignIn(deps: Deps, token: string): Promise<void> {
  const payload = await peekOneTimeToken(deps, "signin_revert", token);
  const user = await findUserById(deps.db, payload.userId);
  if (!user || !user.isActive || user.email !== payload.email) throw invalidLink();
  await consumeOneTimeToken(deps, "signin_revert", token);
  const { revokedApiKeys } = await changeCredentials(deps, {
    userId: user.id,
    set: { passwordHash: DISABLED_PASSWORD },
    bumpEpoch: true,
    // Factors enrolled since the sign-in (or the enrolment) this link reports go; older ones stay.
    removeFactors: { since: new Date(payload.since ?? payload.issuedAt) },
    revokeSessionsReason: "sign_in_reverted",
    revokeApiKeys: "all",
    events: [{ type: "session.revoked", data: { user_id: user.id, session_id: null, reason: "sign_in_reverted" } }],
    markers: voidMarkers(user.id, ["reset", "email_change", "signin_revert"], deps.now().getTime()),
  });
  await recordAudit(deps, {
    action: "login.reverted",
    userId: user.id,
    resource: `user:${user.id}`,
    metadata: { api_keys_revoked: revokedApiKeys.map((k) => k.id) },
  });
  // An enrolment notice's link also says that the factors added since are gone.
  await sendSecurityNotice(
    deps,
    user.id,
    payload.since === undefined ? "sign_in_reverted" : "factors_removed",
    user,
    keyNames(revokedApiKeys),
  );
  // Issued after the batch voided older links, so this one is the newest and stays usable.
  deps.waitUntil(mailResetLink(deps, user, { class: "account" }));
}
