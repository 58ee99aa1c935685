import { sql } from "drizzle-orm";
import { DISABLED_PASSWORD } from "../accounts/passwords";
import { newUserRow } from "../accounts/registration";
import { afterFirstFactor, type FirstFactorOutcome } from "../accounts/sign-in";
import { auditRow } from "../audit/audit";
import { findIdentityWithUser, insertIdentity, type UserIdentity } from "../db/identities";
import { users, type User } from "../db/schema";
import type { UnitOfWork } from "../db/unit-of-work";
import { findUserByEmail, insertUser } from "../db/users";
import { recognizeDevice } from "../devices/devices";
import { AppError, isUniqueViolation } from "../errors";
import { eventRows } from "../events/events";
import type { Deps } from "../kernel/deps";
import { sendSecurityNotice } from "../mail/notices";
import { checkProofCode } from "../recovery/email-sign-in";
import { proveMailboxFirstTime } from "../recovery/first-proof";
import type { ExternalIdentity } from "./provider-identity";

/**
 * Which account an external identity signs in to (API.md "Sign in with an external provider"):
 * - an identity already linked (by issuer and subject, never by address) signs in to its account;
 * - a verified provider address that no account has creates one (verified, no password);
 * - a verified provider address of an account whose address is unverified is the first proof of
 *   the address: the squatter's password, sessions, keys, factors and identities go, then it links;
 * - a verified provider address of a verified account links only when the provider's entry says
 *   `link_by_verified_email`; otherwise, and for an unverified provider address that an account
 *   has, the person signs in the existing way and links from there (`link_needed`);
 * - no verified address and no account to match: the person gives one and proves it by a mailed
 *   code before the account exists (`email_needed`).
 * The sign-in itself is the one sign-in transaction's (`amr` `fed`), which asks for the account's
 * second factor when it has one; a link made by a sign-in is written in the sign-in's own batch.
 */

export type ExternalOutcome =
  | Exclude<FirstFactorOutcome, null>
  | { kind: "link_needed"; identity: ExternalIdentity }
  | { kind: "email_needed"; identity: ExternalIdentity }
  | { kind: "refused"; reason: "deactivated" };

/** The sign-in's answer when the account changed under it (deactivated meanwhile, a password change). */
const moved = () => new AppError("invalid_token", { detail: "The account changed during the sign-in: try again." });

export async function signInWithIdentity(
  deps: Deps,
  identity: ExternalIdentity,
  deviceToken: string | undefined,
): Promise<ExternalOutcome> {
  // Read on the primary: which account an identity belongs to must never be a replica's old answer.
  const found = await findIdentityWithUser(deps.db, identity.issuer, identity.subject);
  if (found) return signInAs(deps, found.user, identity, deviceToken, null);
  if (!identity.email) return { kind: "email_needed", identity };
  const local = await findUserByEmail(deps.db, identity.email);
  if (!identity.emailVerified) return local ? { kind: "link_needed", identity } : { kind: "email_needed", identity };
  if (!local) return createAccount(deps, identity, identity.email, deviceToken);
  if (!local.isActive) return { kind: "refused", reason: "deactivated" };
  if (!local.emailVerified) return signInAs(deps, await firstProofByProvider(deps, local, identity), identity, deviceToken, "first_proof");
  const provider = deps.config.oauthProviders.find((p) => p.id === identity.provider);
  if (provider?.linkByVerifiedEmail) return signInAs(deps, local, identity, deviceToken, "verified_email");
  return { kind: "link_needed", identity };
}

/**
 * The account signs in with the identity's first factor; `linkBy` links the identity in the same
 * batch (a sign-in that stops for a second step links nothing: the identity is linked once a sign-in
 * with it completes).
 */
async function signInAs(
  deps: Deps,
  user: User,
  identity: ExternalIdentity,
  deviceToken: string | undefined,
  linkBy: "first_proof" | "verified_email" | null,
): Promise<ExternalOutcome> {
  if (!user.isActive) return { kind: "refused", reason: "deactivated" };
  const device = await recognizeDevice(deps, user, deviceToken);
  const outcome = await afterFirstFactor(deps, {
    user,
    amr: identity.providerMfa ? ["fed", "mfa"] : ["fed"],
    device,
    channel: "page",
    fence: sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${user.id} AND ${users.isActive} = 1 AND ${users.deletedAt} IS NULL
      AND ${users.credentialsEpoch} = ${user.credentialsEpoch})`,
    rehash: null,
    deviceToken,
    ...(linkBy ? { alsoWrite: (work: UnitOfWork) => addLink(deps, work, user, identity, linkBy) } : {}),
  });
  if (!outcome) throw moved();
  if (outcome.kind === "signed_in" && linkBy) deps.waitUntil(sendSecurityNotice(deps, user.id, "identity_linked", user));
  return outcome;
}

/** The identity's row, its event and its audit row, in a unit of work of the caller's. */
export function addLink(deps: Deps, work: UnitOfWork, user: Pick<User, "id">, identity: ExternalIdentity, by: string): UserIdentity {
  const row: UserIdentity = {
    id: crypto.randomUUID(),
    userId: user.id,
    provider: identity.provider,
    issuer: identity.issuer,
    subject: identity.subject,
    email: identity.email,
    emailVerified: identity.emailVerified,
    createdAt: deps.now(),
  };
  work
    .addAll([insertIdentity(deps.db, row)])
    .events(eventRows(deps, [{ type: "user.identity_linked", data: { user_id: user.id, identity_id: row.id, provider: row.provider } }]))
    .audit(
      auditRow(deps, {
        action: "identity.linked",
        userId: user.id,
        resource: `identity:${row.id}`,
        metadata: { provider: row.provider, by },
      }),
    );
  return row;
}

/**
 * A verified provider address on an account whose address was never proved (API.md "Account
 * integrity"): the first proof, as a reset or an email code would be. Everything the squatter
 * added goes (password disabled, sessions, API keys, device tokens, factors, identities, name).
 */
async function firstProofByProvider(deps: Deps, user: User, identity: ExternalIdentity): Promise<User> {
  const proved = await proveMailboxFirstTime(deps, user, {
    method: "external_provider",
    revokeSessionsReason: "external_first_proof",
    metadata: { provider: identity.provider },
  });
  if (!proved) throw moved();
  return proved;
}

/**
 * A new account for the identity at `email` (asserted verified by the provider, or proved by a
 * mailed code), verified, without a password, the identity linked, in one batch; then its sign-in.
 */
async function createAccount(
  deps: Deps,
  identity: ExternalIdentity,
  email: string,
  deviceToken: string | undefined,
): Promise<ExternalOutcome> {
  const user = newUserRow(
    { id: crypto.randomUUID(), email, emailVerified: true, passwordHash: DISABLED_PASSWORD, fullName: identity.name ?? "", username: null },
    deps.now(),
  );
  const work = deps
    .work()
    .addAll([insertUser(deps.db, user)])
    .events(eventRows(deps, [{ type: "user.created", data: { user_id: user.id, email, username: null, email_verified: true } }]))
    .audit(
      auditRow(deps, {
        action: "user.registered",
        userId: user.id,
        resource: `user:${user.id}`,
        metadata: { method: "external_provider", provider: identity.provider },
      }),
    );
  addLink(deps, work, user, identity, "sign_up");
  try {
    await work.commit();
  } catch (error) {
    // A parallel sign-in with the same identity, or a registration of the address, won: decide again.
    if (isUniqueViolation(error, "users.email") || isUniqueViolation(error, "user_identities")) {
      const found = await findIdentityWithUser(deps.db, identity.issuer, identity.subject);
      if (found) return signInAs(deps, found.user, identity, deviceToken, null);
      return { kind: "link_needed", identity };
    }
    throw error;
  }
  return signInAs(deps, user, identity, deviceToken, null);
}

/**
 * An identity without a verified address, once the person proved the address they named with the
 * mailed code: a new account for it, or (the address has one) the existing way in, then the link.
 */
export async function signUpWithProvedAddress(
  deps: Deps,
  identity: ExternalIdentity,
  proof: { email: string; code: string },
  deviceToken: string | undefined,
): Promise<ExternalOutcome> {
  await checkProofCode(deps, proof.email, proof.code);
  if (await findUserByEmail(deps.db, proof.email))
    return { kind: "link_needed", identity: { ...identity, email: proof.email, emailVerified: false } };
  return createAccount(deps, { ...identity, email: proof.email, emailVerified: true }, proof.email, deviceToken);
}
