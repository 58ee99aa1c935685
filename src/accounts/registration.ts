import type { User } from "../db/schema";
import { expireUnverifiedAccounts, findUserByEmail, findUserByUsername, insertUser } from "../db/users";
import { AppError, isUniqueViolation } from "../errors";
import { auditRow, logAudit } from "../audit/audit";
import { auditInsert } from "../db/audit-logs";
import type { Deps } from "../deps";
import { enqueueEvents, eventRows } from "../events/events";
import { sendMail } from "../mail/mail";
import { registrationAttemptMail, usernameUnavailableMail, verificationMail } from "../mail/templates";
import { issueOneTimeToken } from "../recovery/one-time-tokens";
import { hashPassword, passwordParams } from "./passwords";
import { assertStrongPassword } from "./password-policy";
import { assertNotDisposable } from "./disposable-email";
import { assertNotBreached } from "./breached-passwords";
import { newDeviceToken } from "../devices/devices";
import { startSession, type TokenResponse } from "../sessions/sessions";

/** Registration. */

export interface RegisterInput {
  email: string;
  password: string;
  full_name: string;
  username?: string | null | undefined;
}

export type RegisterResult = { kind: "created"; tokens: TokenResponse & { device_token: string } } | { kind: "accepted" };

/** Mails a fresh verification link for `email` to the user. */
export async function sendVerificationMail(deps: Deps, user: Pick<User, "id" | "email">): Promise<void> {
  const token = await issueOneTimeToken(deps, "verify", { userId: user.id, email: user.email });
  sendMail(deps, verificationMail(user.email, deps.config, token));
}

/**
 * `POST /auth/register`. When email verification is required the answer is the same 202 for new
 * and existing addresses (the owner of an existing one is told by mail instead), so registration
 * cannot be used to find out who has an account.
 */
export async function registerUser(deps: Deps, input: RegisterInput): Promise<RegisterResult> {
  const { requireEmailVerification } = deps.config;
  await assertNotDisposable(deps, input.email, "email");
  assertStrongPassword(input.password, { email: input.email, username: input.username, fullName: input.full_name }, deps.config);
  await assertNotBreached(deps, input.password);

  const userId = crypto.randomUUID();
  // Independent I/O at once (one round trip far from the primary instead of three): the lookups, the
  // hash (even when the address is taken, so every answer costs the same time) and the verification
  // token. The token is stored before the account: when KV is down the request fails (503) with
  // nothing written, instead of leaving an account whose owner never got the link and whose retry
  // now answers email_taken. A token whose account is never inserted (the address taken, a lost
  // insert race) names no user and expires.
  const [found, usernameHolder, passwordHash, verificationToken] = await Promise.all([
    findUserByEmail(deps.db, input.email),
    input.username ? findUserByUsername(deps.db, input.username) : undefined,
    hashPassword(input.password, passwordParams(deps)),
    issueOneTimeToken(deps, "verify", { userId, email: input.email }),
  ]);
  const existing = await reclaimIfExpired(deps, found);
  if (existing) return emailTaken(deps, existing.email);
  if (usernameHolder) return usernameTaken(deps, input.email);

  const now = deps.now();
  const events = eventRows(deps, [
    { type: "user.created", data: { user_id: userId, email: input.email, username: input.username ?? null, email_verified: false } },
  ]);
  const audit = auditRow(deps, { action: "user.registered", userId, resource: `user:${userId}` });
  let user: User;
  try {
    user = await insertUser(
      deps.db,
      {
        id: userId,
        email: input.email,
        passwordHash,
        fullName: input.full_name,
        username: input.username ?? null,
        createdAt: now,
        updatedAt: now,
      },
      events,
      // The audit row rides in the account's own batch: no round trip of its own, never one without the other.
      [auditInsert(deps.db, audit)],
    );
  } catch (error) {
    // A concurrent registration won the race for the same address or username.
    if (isUniqueViolation(error, "users.email")) return emailTaken(deps, input.email);
    if (isUniqueViolation(error, "username")) return usernameTaken(deps, input.email);
    throw error;
  }
  enqueueEvents(deps, events);
  logAudit(deps, audit);
  sendMail(deps, verificationMail(user.email, deps.config, verificationToken));
  if (requireEmailVerification) return { kind: "accepted" };
  const tokens = await startSession(deps, user);
  return { kind: "created", tokens: { ...tokens, device_token: await newDeviceToken(deps, user.id) } };
}

/** With verification required, the owner of the address learns of the attempt by mail; the client does not. */
function emailTaken(deps: Deps, email: string): RegisterResult {
  if (!deps.config.requireEmailVerification) throw new AppError("email_taken");
  sendMail(deps, registrationAttemptMail(email, deps.config));
  return { kind: "accepted" };
}

/** Likewise the username: answering 409 there would tell whether the address is new. */
function usernameTaken(deps: Deps, email: string): RegisterResult {
  if (!deps.config.requireEmailVerification) throw new AppError("username_taken");
  sendMail(deps, usernameUnavailableMail(email, deps.config));
  return { kind: "accepted" };
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
  await expireUnverifiedAccounts(deps.db, cutoff, now, existing.id);
  return undefined;
}
