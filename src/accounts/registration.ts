import type { User } from "../db/schema";
import { findUserByEmail, findUserByIdentifier, findUserByUsername, identifierOf, insertUser, updateUser } from "../db/users";
import { AppError, isUniqueViolation } from "../errors";
import { describeError, log } from "../log";
import { recordAudit } from "../audit/audit";
import type { Deps, RequestMeta } from "../deps";
import { sendMail } from "../mail/mail";
import { registrationAttemptMail, usernameUnavailableMail, verificationMail } from "../mail/templates";
import { issueOneTimeToken } from "../recovery/one-time-tokens";
import { burnPasswordCheck, hashPassword, verifyPassword, type PasswordParams } from "./passwords";
import { assertStrongPassword } from "./password-policy";
import { startSession, type TokenResponse } from "../sessions/sessions";

/** Registration, password login and profile changes. */

export function passwordParams(deps: Deps): PasswordParams {
  return { iterations: deps.config.pbkdf2Iterations, pepper: deps.config.pepper };
}

export interface RegisterInput {
  email: string;
  password: string;
  full_name: string;
  username?: string | null | undefined;
}

export type RegisterResult = { kind: "created"; tokens: TokenResponse } | { kind: "accepted" };

/** Mails a fresh verification link for `email` to the user. */
export async function sendVerificationMail(deps: Deps, user: Pick<User, "id" | "email">): Promise<void> {
  const token = await issueOneTimeToken(deps, "verify", { userId: user.id, email: user.email });
  sendMail(deps, verificationMail(user.email, deps.config.publicUrl, token));
}

/**
 * `POST /auth/register`. When email verification is required the answer is the same 202 for new
 * and existing addresses (the owner of an existing one is told by mail instead), so registration
 * cannot be used to find out who has an account.
 */
export async function registerUser(deps: Deps, input: RegisterInput, meta: RequestMeta): Promise<RegisterResult> {
  const { requireEmailVerification } = deps.config;
  assertStrongPassword(input.password, { email: input.email, username: input.username, fullName: input.full_name }, deps.config);

  const existing = await findUserByEmail(deps.db, input.email);
  const usernameHolder = input.username ? await findUserByUsername(deps.db, input.username) : undefined;
  // Hash even when the address is taken, so every answer costs the same time.
  const passwordHash = await hashPassword(input.password, passwordParams(deps));
  if (existing) return emailTaken(deps, existing.email);
  if (usernameHolder) return usernameTaken(deps, input.email);

  const now = deps.now();
  const userId = crypto.randomUUID();
  // The verification token is stored before the account: when KV is down the request fails (503)
  // with nothing written, instead of leaving an account whose owner never got the link and whose
  // retry now answers email_taken. A token orphaned by a lost insert race names no user and expires.
  const verificationToken = await issueOneTimeToken(deps, "verify", { userId, email: input.email });
  let user: User;
  try {
    user = await insertUser(deps.db, {
      id: userId,
      email: input.email,
      passwordHash,
      fullName: input.full_name,
      username: input.username ?? null,
      createdAt: now,
      updatedAt: now,
    });
  } catch (error) {
    // A concurrent registration won the race for the same address or username.
    if (isUniqueViolation(error, "users.email")) return emailTaken(deps, input.email);
    if (isUniqueViolation(error, "username")) return usernameTaken(deps, input.email);
    throw error;
  }
  await recordAudit(deps, meta, { action: "user.registered", userId: user.id, resource: `user:${user.id}` });
  sendMail(deps, verificationMail(user.email, deps.config.publicUrl, verificationToken));
  if (requireEmailVerification) return { kind: "accepted" };
  return { kind: "created", tokens: await startSession(deps, user, meta) };
}

/** With verification required, the owner of the address learns of the attempt by mail; the client does not. */
function emailTaken(deps: Deps, email: string): RegisterResult {
  if (!deps.config.requireEmailVerification) throw new AppError("email_taken");
  sendMail(deps, registrationAttemptMail(email, deps.config.publicUrl));
  return { kind: "accepted" };
}

/** Likewise the username: answering 409 there would tell whether the address is new. */
function usernameTaken(deps: Deps, email: string): RegisterResult {
  if (!deps.config.requireEmailVerification) throw new AppError("username_taken");
  sendMail(deps, usernameUnavailableMail(email, deps.config.publicUrl));
  return { kind: "accepted" };
}

export interface LoginInput {
  email?: string | undefined;
  username?: string | undefined;
  password: string;
}

export type LoginFailure = "unknown_account" | "bad_password" | "inactive";

/**
 * Checks a password login. Returns the user, or the reason it failed (kept server-side: the
 * client always sees the same `invalid_credentials`). An unknown account still costs one hash.
 */
export async function checkCredentials(deps: Deps, input: LoginInput): Promise<{ user: User } | { failure: LoginFailure; user?: User }> {
  const user = await findUserByIdentifier(deps.db, identifierOf(input));
  if (!user) {
    await burnPasswordCheck(input.password, passwordParams(deps));
    return { failure: "unknown_account" };
  }
  const { valid, needsRehash } = await verifyPassword(input.password, user.passwordHash, passwordParams(deps));
  if (!valid) return { failure: "bad_password", user };
  if (!user.isActive) return { failure: "inactive", user };
  if (needsRehash) {
    // Upgrade imported bcrypt hashes and outdated PBKDF2 parameters while the password is at hand.
    // Best effort: a failed write must not turn a correct password into a distinguishable error.
    const passwordHash = await hashPassword(input.password, passwordParams(deps));
    await updateUser(deps.db, user.id, { passwordHash }).catch((error: unknown) => {
      log("warn", "password.rehash_failed", { user_id: user.id, ...describeError(error) });
    });
  }
  return { user };
}

/** Completes a successful login: verification gate, last-login time, session and tokens. */
export async function completeLogin(deps: Deps, user: User, meta: RequestMeta): Promise<TokenResponse> {
  if (deps.config.requireEmailVerification && !user.emailVerified) {
    // A refused login is a failed login: it gets its audit row like a wrong password does.
    await recordAudit(deps, meta, { action: "login.failed", userId: user.id, metadata: { reason: "email_not_verified" } });
    throw new AppError("email_not_verified");
  }
  const updated = (await updateUser(deps.db, user.id, { lastLoginAt: deps.now() })) ?? user;
  const tokens = await startSession(deps, updated, meta);
  await recordAudit(deps, meta, { action: "login.succeeded", userId: user.id, resource: `user:${user.id}` });
  return tokens;
}

export interface ProfileChanges {
  full_name?: string | undefined;
  username?: string | null | undefined;
}

/** `PUT /users/me`: only the name and username; everything else is not changeable here. */
export async function updateProfile(deps: Deps, user: User, changes: ProfileChanges, meta: RequestMeta): Promise<User> {
  const set: Partial<User> = {};
  if (changes.full_name !== undefined) set.fullName = changes.full_name;
  if (changes.username !== undefined && changes.username !== user.username) {
    const holder = changes.username ? await findUserByUsername(deps.db, changes.username) : undefined;
    if (holder && holder.id !== user.id) throw new AppError("username_taken");
    set.username = changes.username;
  }
  if (Object.keys(set).length === 0) return user;
  set.updatedAt = deps.now();
  try {
    const updated = await updateUser(deps.db, user.id, set);
    if (!updated) throw new AppError("not_found");
    await recordAudit(deps, meta, { action: "user.updated", userId: user.id, metadata: { fields: Object.keys(set).filter((k) => k !== "updatedAt") } });
    return updated;
  } catch (error) {
    if (isUniqueViolation(error, "username")) throw new AppError("username_taken");
    throw error;
  }
}
