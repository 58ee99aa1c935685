import { sql } from "drizzle-orm";
import { passAttackChallenge } from "../abuse/challenge";
import { enforceIpLimit } from "../abuse/ip-limits";
import { accountObjectName } from "../abuse/object-names";
import { countLoginFailure, underAttack } from "../abuse/spraying";
import { assertFreshAuthentication, type FreshnessOf } from "../accounts/fresh-auth";
import { DISABLED_PASSWORD } from "../accounts/passwords";
import { newUserRow } from "../accounts/registration";
import { afterFirstFactor, type Channel, type SignedIn } from "../accounts/sign-in";
import { auditRow, recordAudit } from "../audit/audit";
import { secondFactorPolicies } from "../config/rate-limits";
import { sha256 } from "../crypto";
import { users, type User } from "../db/schema";
import { findUserByEmail, insertUser, userUpdate } from "../db/users";
import { recognizeDevice } from "../devices/devices";
import { AppError, findCause, isDependencyError, isUniqueViolation } from "../errors";
import { eventRows } from "../events/events";
import { newEmailCode } from "../factors/email-codes";
import { mailboxObjectName } from "../kernel/budgets";
import { afterResponse, type Deps } from "../kernel/deps";
import { invalidLink } from "../kernel/one-time-tokens";
import { openClaims, sealClaims } from "../kernel/sealed";
import type { KeySet } from "../kernel/signing-keys";
import { describeError, log } from "../log";
import { mailToken } from "../mail/mail";
import { sendSecurityNotice } from "../mail/notices";
import { signInCodeMail } from "../mail/templates";
import { proveMailboxFirstTime } from "./first-proof";

/**
 * Sign-in by a code or link mailed to the address (API.md v1.2 "Email codes and magic links"). A
 * first factor only, never `mfa` (NIST 800-63B-4 does not accept email as an out-of-band
 * authenticator): it hands `amr: ["email"]` to the one sign-in transaction, which asks for the
 * account's second factor when it has one.
 *
 * The code lives in the address's Durable Object (abuse/objects/sign-in-codes.ts): 8 digits, 10
 * minutes, live only once its mail was admitted, 5 wrong answers, replaced by a stranger's request
 * only once expired; strangers' wrong answers spend the address's budgets. The mailed link carries
 * the code sealed (no extra state): its page names the address and signs in only the browser that
 * presses its button.
 */

const CODE_TTL_MS = 10 * 60_000;
const LINK_PREFIX = "ge1.";

/** The code's hash as the address's object keeps it. */
const codeHash = (email: string, code: string) => sha256(`sign_in_code:${email}:${code.trim()}`);

function strangersBudget(deps: Deps) {
  return { action: "email_code:strangers", policies: secondFactorPolicies(deps.config.rateLimits, "email_code_stranger") };
}

function assertEnabled(deps: Deps): void {
  if (!deps.config.emailCode.signIn) throw new AppError("forbidden", { detail: "Sign-in by emailed code is turned off here." });
}

/** The wrong-code answer: the same bytes for a wrong, spent or expired code and for an address without one. */
const invalidCode = () => new AppError("invalid_code");

/**
 * `POST /auth/email-code`: answered at once, the same way whether or not the address has an
 * account; the lookup, the code and the mail come after the response (as forgot-password's do), so
 * neither the bytes nor the time tell. Only a request carrying a device token reads the account
 * first (its known devices may replace a live code and mail from their own budget).
 */
export async function requestEmailCode(
  deps: Deps,
  input: { email: string; device_token?: string | undefined; turnstile_token?: string | undefined; noScript?: boolean },
): Promise<void> {
  assertEnabled(deps);
  await enforceIpLimit(deps, "email_code");
  const device = input.device_token ? await recognizeDevice(deps, await findUserByEmail(deps.db, input.email), input.device_token) : null;
  if (!device) await challengeStrangers(deps, input);
  afterResponse(deps, () => mailSignInCode(deps, input.email, device !== null));
}

/** Under a spraying attack, unknown clients solve the challenge; their requests feed the signal. */
async function challengeStrangers(deps: Deps, input: { email: string; turnstile_token?: string | undefined; noScript?: boolean }) {
  countLoginFailure(deps, accountObjectName({ email: input.email }));
  if (underAttack(deps) && deps.config.attack.sprayAction === "challenge") {
    await passAttackChallenge(deps, { token: input.turnstile_token, noScript: input.noScript });
  }
}

/**
 * An external sign-in whose provider gave no verified address (federation/): the person names one
 * and proves it with a mailed code before an account is made for it. The same code and budgets as a
 * sign-in code (one live code per address), mailed whether or not an account has the address: the
 * code proves the mailbox; what it may then do is the caller's decision.
 */
export async function requestProofCode(deps: Deps, email: string): Promise<void> {
  await enforceIpLimit(deps, "email_code");
  afterResponse(deps, () => mailSignInCode(deps, email, false, "proof"));
}

/** The code of {@link requestProofCode}, judged as a sign-in code is (wrong, spent, rate-limited). */
export async function checkProofCode(deps: Deps, email: string, code: string): Promise<void> {
  await enforceIpLimit(deps, "email_code_verify");
  await judgeCode(deps, { email, code }, null, await deps.replicas.peek(null, (db) => findUserByEmail(db, email)));
}

async function mailSignInCode(
  deps: Deps,
  email: string,
  fromKnownDevice: boolean,
  purpose: "sign_in" | "proof" = "sign_in",
): Promise<void> {
  try {
    const user = await findUserByEmail(deps.db, email);
    if (purpose === "sign_in" && (user ? !user.isActive || !user.emailCodeSignIn : !deps.config.emailCode.signUp)) return;
    const code = newEmailCode();
    const hash = await codeHash(email, code);
    const now = deps.now().getTime();
    const mailbox = mailboxObjectName(email);
    const { prepared } = await deps.limiter(mailbox, (stub) =>
      stub.prepareSignInCode(
        { hash, expiresAt: now + CODE_TTL_MS, replaceLive: fromKnownDevice, strangers: fromKnownDevice ? null : strangersBudget(deps) },
        now,
      ),
    );
    if (!prepared) return;
    const token = await sealLink(await deps.keys(), { email, code, exp: now + CODE_TTL_MS });
    // An address without an account is not anyone's own yet: its mail counts as unsolicited.
    const trigger = user ? { class: fromKnownDevice ? ("device" as const) : ("stranger" as const) } : { class: "unsolicited" as const };
    await mailToken(deps, email, "sign_in_code", trigger, async () => {
      const live = await deps.limiter(mailbox, (stub) => stub.activateSignInCode(hash, deps.now().getTime()));
      return live ? signInCodeMail(deps, user ?? { email, locale: null }, code, token) : null;
    });
  } catch (error) {
    log("error", "email_code.request_failed", { request_id: deps.meta.requestId, ...describeError(error) });
  }
}

export interface CodeSignIn {
  email: string;
  code: string;
  device_token?: string | undefined;
  /** The name of an account a sign-up by code creates (EMAIL_CODE_SIGN_UP). */
  full_name?: string | undefined;
  turnstile_token?: string | undefined;
  noScript?: boolean;
}

/** `POST /auth/email-code/verify`: the code signs in the client that sends it. */
export function verifyEmailCode(deps: Deps, input: CodeSignIn, channel: Channel): Promise<SignedIn> {
  assertEnabled(deps);
  return signInByCode(deps, input, channel);
}

/** The link's page: the address it was mailed to, without using it up (400 `invalid_token` when bad or expired). */
export async function openEmailLink(deps: Deps, token: string): Promise<{ email: string }> {
  const { email, code } = await liveLink(deps, token);
  // A link whose code was used, replaced or guessed to death says so at once (its GET spends nothing).
  const hash = await codeHash(email, code);
  if (!(await deps.limiter(mailboxObjectName(email), (stub) => stub.peekSignInCode(hash, deps.now().getTime())))) throw invalidLink();
  return { email };
}

async function liveLink(deps: Deps, token: string): Promise<LinkClaims> {
  const claims = await openLink(await deps.keys(), token);
  if (!claims || claims.exp <= deps.now().getTime()) throw invalidLink();
  return claims;
}

/** The link page's POST: signs in the browser that pressed its button, exactly as its code would. */
export async function verifyEmailLink(
  deps: Deps,
  input: { token: string; device_token?: string | undefined; full_name?: string | undefined },
  channel: Channel,
): Promise<SignedIn> {
  assertEnabled(deps);
  const { email, code } = await liveLink(deps, input.token);
  return signInByCode(deps, { email, code, device_token: input.device_token, full_name: input.full_name }, channel);
}

/**
 * The code's check in the address's object (one call), then the account: an unverified one is
 * proved by it for the first time (the squatter's password, sessions, keys and factors die), an
 * unknown address signs up when EMAIL_CODE_SIGN_UP allows, and the sign-in transaction decides the rest.
 */
async function signInByCode(deps: Deps, input: CodeSignIn, channel: Channel): Promise<SignedIn> {
  // The IP's object and the replica at once: one round trip, not two.
  const [, near] = await Promise.all([
    enforceIpLimit(deps, "email_code_verify"),
    deps.replicas.peek(null, (db) => findUserByEmail(db, input.email)),
  ]);
  const device = await recognizeDevice(deps, near, input.device_token);
  if (!device && underAttack(deps) && deps.config.attack.sprayAction === "challenge") {
    await passAttackChallenge(deps, { token: input.turnstile_token, noScript: input.noScript });
  }
  const accepted = await judgeCode(deps, input, device, near);
  try {
    return await signInByAcceptedCode(deps, input, channel);
  } catch (error) {
    if (findCause(error, isDependencyError)) await giveCodeBack(deps, input.email, accepted);
    throw error;
  }
}

/** What a right code leads to: the account (proved, created or refused), then the sign-in transaction. */
async function signInByAcceptedCode(deps: Deps, input: CodeSignIn, channel: Channel): Promise<SignedIn> {
  const user = await accountOf(deps, input);
  const known = await recognizeDevice(deps, user, input.device_token);
  const outcome = await afterFirstFactor(deps, {
    user,
    amr: ["email"],
    device: known,
    channel,
    fence: sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${user.id} AND ${users.isActive} = 1 AND ${users.deletedAt} IS NULL
      AND ${users.credentialsEpoch} = ${user.credentialsEpoch})`,
    rehash: null,
    deviceToken: input.device_token,
  });
  // The account changed between the code and the sign-in (a password change, a deactivation).
  if (!outcome) throw invalidCode();
  if (outcome.kind === "second_step") throw outcome.error;
  return outcome.signedIn;
}

/**
 * A sign-in that failed on a dependency after its code was accepted (a 503) spends nothing: the code
 * is live again, so the person's retry with it works. Should the failure have come after the
 * sign-in's own batch was written (a reply lost on its way back), the code's holder could sign in
 * once more with it before it expires: only the person who read the mail can. Best effort: the
 * address's object may be what is down, and then the person asks for a new code.
 */
async function giveCodeBack(deps: Deps, email: string, accepted: AcceptedCode): Promise<void> {
  try {
    await deps.limiter(mailboxObjectName(email), (stub) => stub.restoreSignInCode(accepted.hash, accepted.expiresAt, deps.now().getTime()));
  } catch (error) {
    log("warn", "email_code.restore_failed", { request_id: deps.meta.requestId, ...describeError(error) });
  }
}

interface AcceptedCode {
  hash: string;
  expiresAt: number;
}

/** The code's check in the address's object (one call): returns the accepted code, or throws `invalid_code` or `rate_limited`. */
async function judgeCode(
  deps: Deps,
  input: Pick<CodeSignIn, "email" | "code">,
  device: unknown,
  near: User | undefined,
): Promise<AcceptedCode> {
  const check = {
    hash: await codeHash(input.email, input.code),
    strangers: device ? null : strangersBudget(deps),
    notice: secondFactorPolicies(deps.config.rateLimits, "email_code_notice")[0]!,
  };
  const verdict = await deps.limiter(mailboxObjectName(input.email), (stub) => stub.checkSignInCode(check, deps.now().getTime()));
  if (verdict.result === "rate_limited") {
    throw new AppError("rate_limited", {
      retryAfter: verdict.retryAfter,
      limits: verdict.limits,
      detail: "Too many wrong codes for this address: try again later.",
    });
  }
  if (verdict.result === "wrong") {
    if (!device) countLoginFailure(deps, accountObjectName({ email: input.email }));
    await recordAudit(deps, {
      action: "login.failed",
      userId: near?.id ?? null,
      metadata: { reason: "email_code_wrong", identifier: "email_code" },
    });
    if (verdict.notify && near) deps.waitUntil(sendSecurityNotice(deps, near.id, "email_code_failures", near));
    throw invalidCode();
  }
  return { hash: check.hash, expiresAt: verdict.expiresAt };
}

/** The account the right code signs in, on the primary: proved, created, or refused. */
async function accountOf(deps: Deps, input: CodeSignIn): Promise<User> {
  const user = await findUserByEmail(deps.db, input.email);
  if (!user) {
    if (!deps.config.emailCode.signUp) throw invalidCode();
    return signUpByCode(deps, input);
  }
  if (!user.isActive || !user.emailCodeSignIn) throw invalidCode();
  if (user.emailVerified) return user;
  return firstProofByCode(deps, user);
}

/**
 * The first proof of an address that was not verified (API.md "Account integrity"): it makes the
 * mailbox's owner the account's owner, so everything added before it goes: the password (disabled),
 * sessions, API keys, device tokens, passkeys, TOTP and recovery codes, the username and name.
 */
async function firstProofByCode(deps: Deps, user: User): Promise<User> {
  const proved = await proveMailboxFirstTime(deps, user, { method: "email_code", revokeSessionsReason: "email_code_first_proof" });
  if (!proved || proved.email !== user.email) throw invalidCode();
  return proved;
}

/** EMAIL_CODE_SIGN_UP: the code made an account for its address (verified by the code, no password). */
async function signUpByCode(deps: Deps, input: CodeSignIn): Promise<User> {
  const now = deps.now();
  const user = newUserRow(
    {
      id: crypto.randomUUID(),
      email: input.email,
      emailVerified: true,
      passwordHash: DISABLED_PASSWORD,
      fullName: input.full_name?.trim() ?? "",
      username: null,
    },
    now,
  );
  const created = { user_id: user.id, email: user.email, username: null, email_verified: true };
  try {
    await deps
      .work()
      .addAll([insertUser(deps.db, user)])
      .events(eventRows(deps, [{ type: "user.created", data: created }]))
      .audit(
        auditRow(deps, { action: "user.registered", userId: user.id, resource: `user:${user.id}`, metadata: { method: "email_code" } }),
      )
      .commit();
  } catch (error) {
    // The address got an account meanwhile (another way in): the code proves that one.
    if (!isUniqueViolation(error, "users.email")) throw error;
    const existing = await findUserByEmail(deps.db, input.email);
    if (!existing || !existing.isActive || !existing.emailCodeSignIn) throw invalidCode();
    return existing.emailVerified ? existing : firstProofByCode(deps, existing);
  }
  return user;
}

/** `PUT /users/me/email-code-sign-in`: the person turns sign-in by mailed code on or off (fresh authentication). */
export async function setEmailCodeSignIn(deps: Deps, caller: FreshnessOf, enabled: boolean): Promise<{ enabled: boolean }> {
  assertFreshAuthentication(deps, caller);
  const { user } = caller;
  if (user.emailCodeSignIn === enabled) return { enabled };
  await deps
    .work()
    .addAll([userUpdate(deps.db, user.id, { emailCodeSignIn: enabled, updatedAt: deps.now() })])
    .audit(
      auditRow(deps, { action: "user.updated", userId: user.id, resource: `user:${user.id}`, metadata: { email_code_sign_in: enabled } }),
    )
    .commit();
  return { enabled };
}

/** What the link carries, sealed (AES-256-GCM under the signing key's derived key): the address, the code, the code's expiry. */
interface LinkClaims {
  email: string;
  code: string;
  exp: number;
}

const sealLink = (keys: KeySet, claims: LinkClaims) => sealClaims(keys, LINK_PREFIX, claims);
const openLink = (keys: KeySet, token: string) => openClaims<LinkClaims>(keys, LINK_PREFIX, token);
