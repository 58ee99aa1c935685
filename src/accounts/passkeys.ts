import { eq, sql } from "drizzle-orm";
import { enforceIpLimit } from "../abuse/ip-limits";
import { auditRow, recordAudit } from "../audit/audit";
import { base64url, randomBytes } from "../crypto";
import {
  factorsChanged,
  factorsUnchanged,
  noSecondFactor,
  recoveryCodeSet,
  recoveryCodesWithoutFactors,
  remainingFactors,
} from "../db/factors";
import { assertSecondFactorLeft } from "../factors/mfa-policy";
import { enrolmentProof, noResetPending } from "./enrolment-proof";
import {
  counterUnchanged,
  deletePasskey,
  findPasskeyWithUser,
  insertPasskey,
  listPasskeys,
  passkeyUsed,
  renamePasskey,
} from "../db/passkeys";
import { users, type Passkey, type User } from "../db/schema";
import { recognizeDevice } from "../devices/devices";
import { countIdentities } from "../db/identities";
import { AppError, isUniqueViolation } from "../errors";
import { eventRows } from "../events/events";
import { challengeSpent, challengeValid, issueChallenge, type ChallengePurpose } from "../factors/passkey-challenges";
import { newRecoveryCodes, recoveryCodeHash } from "../factors/recovery-codes";
import { authenticatorName } from "../factors/authenticator-names";
import {
  credentialIdOf,
  SUPPORTED_ALGORITHMS,
  verifyAssertion,
  verifyRegistration,
  WebAuthnError,
  type AssertionJSON,
  type RegistrationJSON,
} from "../factors/webauthn";
import type { Deps } from "../kernel/deps";
import { sendSecurityNotice } from "../mail/notices";
import { DISABLED_PASSWORD } from "./passwords";
import { assertFreshAuthentication, type FreshnessOf } from "./fresh-auth";
import { mailEnrolmentNotice } from "./mfa";
import { afterFirstFactor, finishSecondStep, openSecondStep, type Channel, type SignedIn } from "./sign-in";
import { judgeAnswer } from "../factors/second-factor";

/**
 * Passkeys (API.md v1.2 "Passkeys"): discoverable credentials with user verification required.
 * Adding one needs fresh authentication; it is a way in on its own (a passkey with user
 * verification is two factors: `amr` `hwk` or `swk` and `mfa`) and also serves as a second step.
 * The ceremonies' checks are factors/webauthn.ts; their challenges factors/passkey-challenges.ts.
 */

const TIMEOUT_MS = 300_000;
const NAME_MAX = 100;

export interface PasskeyView {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  /** BS: synced to the provider's cloud (a synced passkey); BE says whether it could be. */
  backed_up: boolean;
  backup_eligible: boolean;
  transports: string[];
  aaguid: string;
  /** The provider's name when its AAGUID is a known one (iCloud Keychain, Google Password Manager…), else null. */
  authenticator: string | null;
}

function view(passkey: Passkey): PasskeyView {
  return {
    id: passkey.id,
    name: passkey.name,
    created_at: passkey.createdAt.toISOString(),
    last_used_at: passkey.lastUsedAt?.toISOString() ?? null,
    backed_up: passkey.backedUp,
    backup_eligible: passkey.backupEligible,
    transports: passkey.transports,
    aaguid: passkey.aaguid,
    authenticator: authenticatorName(passkey.aaguid),
  };
}

/**
 * `POST /users/me/passkeys/options`: creation options for a new passkey of the caller. Also open to
 * an enrolment token; after an administrator's reset it needs the mailed `email_code`, and the
 * challenge then says so (only such a challenge registers a passkey while the reset waits).
 */
export async function passkeyCreationOptions(deps: Deps, caller: FreshnessOf, emailCode?: string) {
  assertFreshAuthentication(deps, caller, { enrolment: "allowed" });
  const { user } = caller;
  const proof = await enrolmentProof(deps, user, emailCode);
  const handle = await userHandleOf(deps, user);
  const existing = await listPasskeys(deps.db, user.id);
  const { webauthn } = deps.config;
  return {
    challenge: await issueChallenge(await deps.keys(), "registration", registrationBinding(user, proof), deps.now()),
    rp: { id: webauthn.id, name: webauthn.name },
    user: { id: handle, name: user.email, displayName: user.fullName || user.email },
    pubKeyCredParams: SUPPORTED_ALGORITHMS.map((alg) => ({ type: "public-key" as const, alg })),
    timeout: TIMEOUT_MS,
    excludeCredentials: existing.map((p) => ({ type: "public-key" as const, id: p.credentialId, transports: p.transports })),
    authenticatorSelection: { residentKey: "required" as const, requireResidentKey: true, userVerification: "required" as const },
    attestation: "none" as const,
  };
}

/** What a registration challenge is bound to: the account, and whether the mailbox was proven for it. */
const registrationBinding = (user: Pick<User, "id">, proof: "mailbox" | "none") => (proof === "mailbox" ? `${user.id}:mailbox` : user.id);

/** The account's WebAuthn user handle: random, made once (never the email or the user id). */
async function userHandleOf(deps: Deps, user: User): Promise<string> {
  if (user.webauthnUserId) return user.webauthnUserId;
  const handle = base64url(randomBytes(32));
  const [row] = await deps.db
    .update(users)
    .set({ webauthnUserId: sql`coalesce(${users.webauthnUserId}, ${handle})` })
    .where(eq(users.id, user.id))
    .returning({ handle: users.webauthnUserId });
  return row?.handle ?? handle;
}

/** `POST /users/me/passkeys`: verifies the registration and stores the passkey (201). */
export async function addPasskey(
  deps: Deps,
  caller: FreshnessOf,
  input: { credential: RegistrationJSON; name?: string | undefined },
): Promise<PasskeyView & { recovery_codes?: string[] }> {
  assertFreshAuthentication(deps, caller, { enrolment: "allowed" });
  const { user } = caller;
  const now = deps.now();
  const keys = await deps.keys();
  let challenge: Uint8Array | null = null;
  let proof: "mailbox" | "none" = "none";
  const verified = await verifyRegistration(deps.config.webauthn, input.credential, async (c) => {
    challenge = c;
    if (await challengeValid(keys, c, "registration", registrationBinding(user, "none"), now)) return true;
    proof = "mailbox";
    return challengeValid(keys, c, "registration", registrationBinding(user, "mailbox"), now);
  }).catch((error: unknown) => {
    throw refusedCredential(error);
  });
  const spent = await challengeSpent(deps.db, challenge!, now);
  const codes = user.secondFactors.length === 0 ? newRecoveryCodes() : null;
  const row = {
    id: crypto.randomUUID(),
    userId: user.id,
    credentialId: verified.credentialId,
    publicKey: verified.publicKey,
    algorithm: verified.algorithm,
    signCount: verified.signCount,
    backupEligible: verified.backupEligible,
    backedUp: verified.backedUp,
    transports: verified.transports,
    aaguid: verified.aaguid,
    name: input.name?.trim() || defaultName(verified.backupEligible),
    createdAt: now,
    lastUsedAt: null,
  };
  // A challenge issued without the mailed code registers nothing while an administrator's reset
  // waits for one; an enrolment token adds one factor, not two in parallel.
  const conditions = [
    spent.unspent,
    sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${user.id} AND ${users.deletedAt} IS NULL)`,
    ...(proof === "none" ? [noResetPending(user.id)] : []),
    ...(caller.enrolment ? [noSecondFactor(user.id)] : []),
  ];
  const work = deps
    .work()
    .fence(sql.join(conditions, sql` AND `))
    .addAll([
      spent.record,
      insertPasskey(deps.db, row),
      factorsChanged(deps.db, user.id, remainingFactors(user.id), now, { enrolled: true }),
    ]);
  if (codes) work.addAll(recoveryCodeSet(deps.db, user.id, await Promise.all(codes.map(async (c) => (await recoveryCodeHash(c))!)), now));
  work
    .audit(
      auditRow(deps, { action: "passkey.added", userId: user.id, resource: `passkey:${row.id}`, metadata: { backed_up: row.backedUp } }),
    )
    .events(eventRows(deps, [{ type: "user.passkey_added", data: { user_id: user.id, passkey_id: row.id } }]));
  try {
    if (!(await work.commit()).committed) throw refusedCredential(new WebAuthnError("challenge_used"));
  } catch (error) {
    if (isUniqueViolation(error, "passkeys.credential_id")) throw refusedCredential(new WebAuthnError("credential_exists"));
    throw error;
  }
  await mailEnrolmentNotice(deps, user, "passkey", now);
  return { ...view(row), ...(codes ? { recovery_codes: codes } : {}) };
}

function defaultName(synced: boolean): string {
  return synced ? "Passkey" : "Security key or device";
}

export async function listOwnPasskeys(deps: Deps, user: User): Promise<{ passkeys: PasskeyView[] }> {
  return { passkeys: (await listPasskeys(deps.db, user.id)).map(view) };
}

export async function renameOwnPasskey(deps: Deps, user: User, id: string, name: string): Promise<PasskeyView> {
  const [row] = await renamePasskey(deps.db, user.id, id, name.trim().slice(0, NAME_MAX));
  if (!row) throw new AppError("not_found", { detail: "No such passkey." });
  return view(row);
}

/**
 * `DELETE /users/me/passkeys/{id}` (fresh authentication): 409 `last_sign_in_method` when it is the
 * account's last way in (no usable password, no other passkey, no linked identity). The list of second factors and
 * the recovery codes follow what is left.
 */
export async function removeOwnPasskey(deps: Deps, caller: FreshnessOf, id: string): Promise<void> {
  assertFreshAuthentication(deps, caller);
  const { user } = caller;
  const mine = await listPasskeys(deps.db, user.id);
  if (!mine.some((p) => p.id === id)) throw new AppError("not_found", { detail: "No such passkey." });
  if (user.passwordHash === DISABLED_PASSWORD && mine.length === 1 && (await countIdentities(deps.db, user.id)) === 0) {
    throw new AppError("last_sign_in_method");
  }
  if (mine.length === 1)
    assertSecondFactorLeft(
      deps.config,
      user,
      user.secondFactors.filter((m) => m !== "passkey"),
    );
  const now = deps.now();
  const work = deps.work().fence(factorsUnchanged(user.id, user.factorsEpoch));
  const removed = work.add(deletePasskey(deps.db, user.id, id));
  work.addAll([factorsChanged(deps.db, user.id, remainingFactors(user.id), now)]);
  // With no second factor left, the recovery codes have nothing to recover.
  work.addAll([recoveryCodesWithoutFactors(deps.db, user.id)]);
  work
    .audit(auditRow(deps, { action: "passkey.removed", userId: user.id, resource: `passkey:${id}` }))
    .events(eventRows(deps, [{ type: "user.passkey_removed", data: { user_id: user.id, passkey_id: id } }]));
  const committed = await work.commit();
  if (!committed.committed || committed.result(removed).length === 0) throw new AppError("not_found", { detail: "No such passkey." });
  await sendSecurityNotice(deps, user.id, "passkey_removed", user);
}

/**
 * `POST /auth/passkey/options`: request options for a discoverable credential (conditional UI too).
 * Not limited: stateless, it writes nothing, and every `/login` view with script asks for one (a
 * limit here would let many people behind one address starve each other's autofill).
 */
export function passkeySignInOptions(deps: Deps) {
  return requestOptions(deps, "sign_in", "", []);
}

async function requestOptions(deps: Deps, purpose: ChallengePurpose, binding: string, allow: Passkey[]) {
  return {
    challenge: await issueChallenge(await deps.keys(), purpose, binding, deps.now()),
    rpId: deps.config.webauthn.id,
    timeout: TIMEOUT_MS,
    userVerification: "required" as const,
    allowCredentials: allow.map((p) => ({ type: "public-key" as const, id: p.credentialId, transports: p.transports })),
  };
}

/**
 * `POST /auth/passkey`: a passkey sign-in. Limited per client IP only (a credential id is not a
 * secret: limiting per credential would let anyone lock the owner's passkey). Every refusal is 401
 * `invalid_credentials`; a counter that did not increase also tells the owner (a cloned key?). The
 * sign-in is the transaction every first factor goes through, fenced on the challenge not being
 * spent and the counter being the one checked.
 */
export async function signInWithPasskey(
  deps: Deps,
  input: { credential: AssertionJSON; device_token?: string | undefined },
  channel: Channel,
): Promise<SignedIn> {
  const credentialId = credentialIdOf(input.credential);
  // The IP's object and the replica at once: one round trip, not two.
  const [, found] = await Promise.all([
    enforceIpLimit(deps, "passkey"),
    credentialId ? deps.replicas.peek(null, (db) => findPasskeyWithUser(db, credentialId)) : undefined,
  ]);
  const refused = async (reason: string, userId: string | null) => {
    await recordAudit(deps, { action: "login.failed", userId, metadata: { reason: `passkey_${reason}`, identifier: "passkey" } });
    return new AppError("invalid_credentials", { detail: "The passkey could not sign you in." });
  };
  if (!found) throw await refused("unknown_credential", null);
  const { passkey, user } = found;
  const now = deps.now();
  const keys = await deps.keys();
  let challenge: Uint8Array | null = null;
  let asserted;
  try {
    asserted = await verifyAssertion(deps.config.webauthn, input.credential, passkey, async (c) => {
      challenge = c;
      return challengeValid(keys, c, "sign_in", "", now);
    });
  } catch (error) {
    const reason = error instanceof WebAuthnError ? error.reason : "malformed";
    if (reason === "counter") deps.waitUntil(sendSecurityNotice(deps, user.id, "passkey_counter", user));
    throw await refused(reason, user.id);
  }
  if (asserted.userHandle !== null && asserted.userHandle !== user.webauthnUserId) throw await refused("user_handle", user.id);
  if (!user.isActive || user.deletedAt) throw await refused("inactive", user.id);
  if (deps.config.requireEmailVerification && !user.emailVerified) throw new AppError("email_not_verified");
  const spent = await challengeSpent(deps.db, challenge!, now);
  const device = await recognizeDevice(deps, user, input.device_token);
  const outcome = await afterFirstFactor(deps, {
    user,
    amr: [passkey.backupEligible ? "swk" : "hwk", "mfa"],
    device,
    channel,
    fence: sql`${spent.unspent} AND ${counterUnchanged(passkey)} AND EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${user.id}
      AND ${users.isActive} = 1 AND ${users.deletedAt} IS NULL AND ${users.credentialsEpoch} = ${user.credentialsEpoch})`,
    rehash: null,
    extra: [spent.record, passkeyUsed(deps.db, passkey, { signCount: asserted.signCount, backedUp: asserted.backedUp, now })],
    deviceToken: input.device_token,
  });
  // A replayed challenge, a parallel use of a counting authenticator, or a change of the account.
  if (!outcome || outcome.kind !== "signed_in") throw await refused("replayed", user.id);
  return outcome.signedIn;
}

/** `POST /auth/mfa/passkey-options`: request options for the second step of this `mfa_token`, naming the account's passkeys. */
export async function secondStepPasskeyOptions(deps: Deps, mfaToken: string, channel: Channel) {
  const step = await openSecondStep(deps, mfaToken, channel);
  return requestOptions(deps, "second_step", step.claims.id, await listPasskeys(deps.db, step.user.id));
}

/**
 * `POST /auth/mfa` with `method: "passkey"`: the assertion is checked here (one of the account's
 * passkeys, this token's challenge), and the account's object judges it like a code (the token's
 * five answers, the answerer's budget); the sign-in then spends the challenge and moves the counter.
 */
export async function completeSecondStepWithPasskey(
  deps: Deps,
  mfaToken: string,
  credential: AssertionJSON,
  channel: Channel,
): Promise<SignedIn> {
  const step = await openSecondStep(deps, mfaToken, channel);
  const proved = await provePasskeyOf(deps, step.user, credential, { purpose: "second_step", binding: step.claims.id }, step);
  return finishSecondStep(deps, step, { method: "passkey", ...proved, enrolledAt: proved.passkey.createdAt });
}

/**
 * A passkey as a second proof (a sign-in's second step, a step-up): one of the account's own, its
 * challenge this ceremony's, judged by the account's object like a code (the token's five answers
 * and the answerer's budget). Returns the amr and what the ceremony's batch writes, while its fence holds.
 */
async function provePasskeyOf(
  deps: Deps,
  user: User,
  credential: AssertionJSON,
  challengeOf: { purpose: ChallengePurpose; binding: string },
  context: Parameters<typeof judgeAnswer>[4],
) {
  const now = deps.now();
  const keys = await deps.keys();
  const credentialId = credentialIdOf(credential);
  const found = credentialId ? await deps.replicas.peek(user.id, (db) => findPasskeyWithUser(db, credentialId)) : undefined;
  const passkey = found?.user.id === user.id ? found.passkey : null;
  let challenge = null as Uint8Array | null;
  let asserted = null as Awaited<ReturnType<typeof verifyAssertion>> | null;
  if (passkey) {
    asserted = await verifyAssertion(deps.config.webauthn, credential, passkey, async (c) => {
      challenge = c;
      return challengeValid(keys, c, challengeOf.purpose, challengeOf.binding, now);
    }).catch(() => null);
  }
  const accepted = await judgeAnswer(deps, user, "passkey", { kind: "match", ok: asserted !== null }, context);
  // The object admitted a verified assertion, so all three are known here.
  if (!passkey || !asserted || !challenge) throw new AppError("invalid_code");
  const spent = await challengeSpent(deps.db, challenge, now);
  return {
    passkey,
    amr: [passkey.backupEligible ? "swk" : "hwk"],
    fence: sql`${spent.unspent} AND ${counterUnchanged(passkey)}`,
    extra: [spent.record, passkeyUsed(deps.db, passkey, { signCount: asserted.signCount, backedUp: asserted.backedUp, now })],
    accepted,
  };
}

/** `POST /auth/step-up/passkey-options`: request options for a step-up of this session, naming the account's passkeys. */
export async function stepUpPasskeyOptions(deps: Deps, caller: Pick<FreshnessOf, "user" | "sessionId">) {
  return requestOptions(deps, "step_up", caller.sessionId, await listPasskeys(deps.db, caller.user.id));
}

/** A step-up's passkey: this session's step-up challenge, on the session's budget (see provePasskeyOf). */
export async function provePasskeyAgain(deps: Deps, caller: Pick<FreshnessOf, "user" | "sessionId">, credential: AssertionJSON) {
  const { user, sessionId } = caller;
  const { amr, fence, extra } = await provePasskeyOf(
    deps,
    user,
    credential,
    { purpose: "step_up", binding: sessionId },
    {
      answerer: { kind: "session", id: sessionId },
    },
  );
  return { amr, fence, extra };
}

/** A refused registration: 422 beside `credential`, the check it failed only in the log. */
function refusedCredential(error: unknown): AppError {
  if (!(error instanceof WebAuthnError)) throw error;
  const message = error.reason === "credential_exists" ? "This passkey is already registered." : "The passkey could not be verified.";
  return new AppError("validation_failed", { errors: [{ field: "credential", message }], detail: "The passkey could not be registered." });
}
