import type { Deps } from "../kernel/deps";
import { openClaims, sealClaims } from "../kernel/sealed";
import type { ExternalIdentity } from "./provider-identity";

/**
 * An identity the provider proved that is not linked to an account yet: waiting for the person to
 * sign in the existing way and confirm the link, or to name and prove an address. It lives sealed in
 * an HttpOnly cookie of the browser that finished the provider's flow, never in a URL, for 15 minutes.
 */
export interface PendingIdentity {
  identity: ExternalIdentity;
  returnTo: string | null;
  /** The address the person named for a mailed code (`email_needed`), once the code was sent. */
  codeSentTo: string | null;
  exp: number;
}

export const PENDING_TTL_MS = 15 * 60_000;
const PENDING_PREFIX = "gx1.";

export async function sealPending(deps: Deps, pending: Omit<PendingIdentity, "exp"> & { exp?: number }): Promise<string> {
  return sealClaims(await deps.keys(), PENDING_PREFIX, { ...pending, exp: pending.exp ?? deps.now().getTime() + PENDING_TTL_MS });
}

/** The pending identity of this browser, or null (none, forged, or expired). */
export async function openPending(deps: Deps, token: string | undefined): Promise<PendingIdentity | null> {
  if (!token || token.length > 4096) return null;
  const pending = await openClaims<PendingIdentity>(await deps.keys(), PENDING_PREFIX, token);
  return pending && pending.exp > deps.now().getTime() ? pending : null;
}
