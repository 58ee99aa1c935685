import type { User } from "../db/schema";
import { openClaims, sealClaims } from "../kernel/sealed";
import type { KeySet } from "../kernel/signing-keys";

/**
 * The `mfa_token` of a sign-in waiting for its second step: opaque to the client, sealed
 * (AES-256-GCM under a key derived from the signing key) so it can neither be read nor forged, and
 * self-contained: it names the account, the first factor, the device token that came with it, where
 * it was issued (the API or the hosted pages, whose token lives in an HttpOnly cookie), and the
 * account's credentials and factors epochs it is valid under. Its state (used, wrong answers) lives
 * in the account's Durable Object under `id`.
 */
export interface MfaTokenClaims {
  /** The account. */
  userId: string;
  /** The token's own id (its state in the account's object). */
  id: string;
  /** The first factor's RFC 8176 values (`pwd`…). */
  amr: string[];
  /** The known device the first factor came from, or null. */
  deviceId: string | null;
  channel: "api" | "page";
  /**
   * `sign_in`: the account has a second factor, prove it. `enrol`: policy requires one and the
   * account has none; the token lets its holder enrol one (API.md names the four endpoints) and then
   * finish the sign-in with a proof from it. Absent in tokens sealed before enrolment existed.
   */
  purpose?: "sign_in" | "enrol";
  credentialsEpoch: number;
  factorsEpoch: number;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** How long a second step may take (API.md: 5 minutes); an enrolment gets 10. */
export const MFA_TOKEN_TTL_MS = { sign_in: 5 * 60_000, enrol: 10 * 60_000 } as const;

export const isEnrolment = (claims: MfaTokenClaims) => claims.purpose === "enrol";

const PREFIX = "gm1.";

export function sealMfaToken(keys: KeySet, claims: MfaTokenClaims): Promise<string> {
  return sealClaims(keys, PREFIX, claims);
}

/** The claims of a token this deployment sealed, whatever its age; null for anything else. */
export function openMfaToken(keys: KeySet, token: string): Promise<MfaTokenClaims | null> {
  return openClaims<MfaTokenClaims>(keys, PREFIX, token);
}

/**
 * Whether the account is still as the token was issued under (else a password change, reset,
 * revert, logout-all or change of factors voided it). An enrolment token's whole point is a change
 * of factors, so it survives those (a revert still kills it through the credentials epoch).
 */
export function tokenStillValid(
  claims: MfaTokenClaims,
  user: Pick<User, "id" | "isActive" | "credentialsEpoch" | "factorsEpoch">,
  now: Date,
) {
  return (
    claims.userId === user.id &&
    user.isActive &&
    claims.credentialsEpoch === user.credentialsEpoch &&
    (isEnrolment(claims) || claims.factorsEpoch === user.factorsEpoch) &&
    claims.expiresAt > now.getTime()
  );
}
