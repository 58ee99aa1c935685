import type { User } from "../db/schema";
import { expireUnverifiedAccounts, findHolders, insertUser } from "../db/users";
import { deleteSignInProfiles } from "../devices/erasure";
import { deviceInserts } from "../db/logins";
import { AppError, isUniqueViolation } from "../errors";
import { auditRow } from "../audit/audit";
import type { Deps } from "../kernel/deps";
import { eventRows } from "../events/events";
import { mailToken, sendMail } from "../mail/mail";
import { registrationAttemptMail, usernameUnavailableMail, verificationMail } from "../mail/templates";
import { issueOneTimeToken } from "../kernel/one-time-tokens";
import { hashPassword, passwordParams } from "./passwords";
import { assertStrongPassword } from "./password-policy";
import { assertNotDisposable } from "./disposable-email";
import { assertNotBreached } from "../abuse/breached-passwords";
import { deviceSignIn } from "../devices/devices";
import { addSession, type TokenResponse } from "../sessions/sessions";
import { mfaRequiredFor } from "../factors/mfa-policy";
import { enrolmentAfterRegistration, type Channel } from "./sign-in";

/** Registration. */

export interface RegisterInput {
  email: string;
  password: string;
  full_name: string;
  username?: string | null | undefined;
}

/**
 * `accepted`: no session; `verify` (the address must be verified first, new and taken addresses
 * alike) or `enrol` (`MFA_REQUIRED=all`: the account must enrol a second factor, which its first
 * sign-in walks it through, so registering never yields a session without one).
 */
export type RegisterResult =
  | { kind: "created"; tokens: TokenResponse & { device_token: string } }
  | { kind: "accepted"; next: "verify" }
  /** `enrolment`: the hosted pages' enrolment token (the API's client signs in to get its own). */
  | { kind: "accepted"; next: "enrol"; enrolment?: AppError };

/**
 * Mails a fresh verification link to the user, within the budget of whoever asked (`stranger` or the
 * account's known `device`). The token is issued only once the mail is admitted: a new link voids
 * the older ones, so one nobody receives must never exist.
 */
export async function sendVerificationMail(
  deps: Deps,
  user: Pick<User, "id" | "email" | "locale">,
  asker: "stranger" | "device",
): Promise<void> {
  await mailToken(deps, user.email, "email_verification", { class: asker }, async () =>
    verificationMail(deps, user, await issueOneTimeToken(deps, "verify", { userId: user.id, email: user.email })),
  );
}

/**
 * `POST /auth/register`. When email verification is required the answer is the same 202 for new
 * and existing addresses (the owner of an existing one is told by mail instead), so registration
 * cannot be used to find out who has an account.
 */
export async function registerUser(deps: Deps, input: RegisterInput, channel: Channel = "api"): Promise<RegisterResult> {
  const { requireEmailVerification } = deps.config;
  await assertNotDisposable(deps, input.email, "email");
  assertStrongPassword(input.password, { email: input.email, username: input.username, fullName: input.full_name }, deps.config);
  await assertNotBreached(deps, input.password);

  const userId = crypto.randomUUID();
  // Independent I/O at once, near the user: whether the address or username is held (a replica's
  // answer; the unique indexes decide on the primary), the hash (even when the address is taken, so
  // every answer costs the same time) and the verification token. The token is stored before the
  // account: when KV is down the request fails (503) with nothing written. A token whose account is
  // never inserted (the address taken, a lost race) names no user and expires.
  const [near, passwordHash, verificationToken] = await Promise.all([
    deps.replicas.peek(null, (db) => findHolders(db, input.email, input.username ?? null)),
    hashPassword(input.password, passwordParams(deps)),
    issueOneTimeToken(deps, "verify", { userId, email: input.email }, { firstForUser: true }),
  ]);
  if (near.byEmail || near.byUsername) {
    // Every refusal is the primary's: a replica may still show an account that was since deleted.
    const held = await findHolders(deps.db, input.email, input.username ?? null);
    const existing = await reclaimIfExpired(deps, held.byEmail);
    if (existing) return emailTaken(deps, existing);
    if (held.byUsername) return usernameTaken(deps, input.email);
  }

  const now = deps.now();
  const user = newUserRow(
    { id: userId, email: input.email, passwordHash, fullName: input.full_name, username: input.username ?? null },
    now,
  );

  // One unit of work (one far round trip): the account, its outbox and audit rows and, when it may
  // sign in at once, its session and device. The audit row never exists without the account, nor the reverse.
  const created = { user_id: userId, email: input.email, username: input.username ?? null, email_verified: false };
  const work = deps
    .work()
    .addAll([insertUser(deps.db, user)])
    .events(eventRows(deps, [{ type: "user.created", data: created }]))
    .audit(auditRow(deps, { action: "user.registered", userId, resource: `user:${userId}` }));
  const device = deviceSignIn(deps, userId, null);
  const enrolFirst = mfaRequiredFor(deps.config, user);
  const session = requireEmailVerification || enrolFirst ? null : await addSession(deps, work, user, ["pwd"]);
  if (session) work.addAll(deviceInserts(deps.db, device.write));
  let committed;
  try {
    committed = await work.commit();
  } catch (error) {
    // A concurrent registration won the race for the same address or username.
    if (isUniqueViolation(error, "users.email")) return emailTaken(deps, { email: input.email, locale: null });
    if (isUniqueViolation(error, "username")) return usernameTaken(deps, input.email);
    throw error;
  }
  const tokens = session && committed.committed ? await session.issue(committed) : null;
  // Anyone can register any address: until it is verified it is not the account's own.
  sendMail(deps, verificationMail(deps, user, verificationToken), { class: "unsolicited" });
  if (requireEmailVerification || !committed.committed) return { kind: "accepted", next: "verify" };
  if (!tokens) {
    return {
      kind: "accepted",
      next: "enrol",
      ...(channel === "page" ? { enrolment: await enrolmentAfterRegistration(deps, user, "page") } : {}),
    };
  }
  return { kind: "created", tokens: { ...tokens, device_token: await device.token() } };
}

/** A new account's row: unverified, active, no roles, no factors (a sign-up by mailed code then verifies it). */
export function newUserRow(
  fields: Pick<User, "id" | "email" | "passwordHash" | "fullName" | "username"> & { emailVerified?: boolean },
  now: Date,
): User {
  return {
    id: fields.id,
    email: fields.email,
    emailVerified: fields.emailVerified ?? false,
    passwordHash: fields.passwordHash,
    fullName: fields.fullName,
    username: fields.username,
    isActive: true,
    isSuperuser: false,
    roles: [],
    deactivatedAt: null,
    lastLoginAt: null,
    credentialsEpoch: 0,
    createdAt: now,
    updatedAt: now,
    deletedAt: null,
    erasedAt: null,
    locale: null,
    secondFactors: [],
    factorsEpoch: 0,
    webauthnUserId: null,
    mfaResetAt: null,
    emailCodeSignIn: true,
  };
}

/** With verification required, the owner of the address learns of the attempt by mail; the client does not. */
function emailTaken(deps: Deps, holder: Pick<User, "email" | "locale">): RegisterResult {
  if (!deps.config.requireEmailVerification) throw new AppError("email_taken");
  sendMail(deps, registrationAttemptMail(deps, holder), { class: "unsolicited", registrationAttempt: true });
  return { kind: "accepted", next: "verify" };
}

/** Likewise the username: answering 409 there would tell whether the address is new. */
function usernameTaken(deps: Deps, email: string): RegisterResult {
  if (!deps.config.requireEmailVerification) throw new AppError("username_taken");
  sendMail(deps, usernameUnavailableMail(deps, { email, locale: null }), { class: "unsolicited", registrationAttempt: true });
  return { kind: "accepted", next: "verify" };
}

/**
 * With verification required, an address registered but never verified within
 * UNVERIFIED_ACCOUNT_TTL_DAYS is free again: that account is deleted and erased, so squatting on an
 * address (or planting a password for its owner to verify) does not last.
 */
async function reclaimIfExpired(deps: Deps, existing: User | undefined): Promise<User | undefined> {
  const { requireEmailVerification, unverifiedAccountTtlDays } = deps.config;
  if (!existing || !requireEmailVerification || existing.emailVerified) return existing;
  const now = deps.now();
  const cutoff = new Date(now.getTime() - unverifiedAccountTtlDays * 86_400_000);
  if (existing.createdAt.getTime() >= cutoff.getTime()) return existing;
  await expireUnverifiedAccounts(deps.db, cutoff, now, [existing.id]);
  await deleteSignInProfiles(deps.kv, [existing.id]);
  return undefined;
}
