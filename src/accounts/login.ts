import { passAttackChallenge } from "../abuse/challenge";
import {
  accountObjectName,
  admitLoginFromIp,
  DeviceBudgetSpent,
  guardPasswordCheck,
  settleRefusedLogin,
  type Guesser,
} from "../abuse/limits";
import { countLoginFailure, underAttack } from "../abuse/spraying";
import { auditRow, logAudit, recordAuditRow } from "../audit/audit";
import { auditInsert } from "../db/audit-logs";
import { loginWrites, readLoginState, readPrimaryRecordingRefusal } from "../db/logins";
import type { AuditLog, Device, User } from "../db/schema";
import { isStaleFence } from "../db/sessions";
import { findUserByIdentifier, identifierOf, type AccountIdentifier } from "../db/users";
import type { Deps } from "../kernel/deps";
import { deviceIdOf } from "../devices/device-tokens";
import { deviceSignIn, recognizeDevice, voidDevice } from "../devices/devices";
import { afterSuccessfulLogin } from "../devices/sign-in-signals";
import { AppError } from "../errors";
import { startSession, type TokenResponse } from "../sessions/sessions";
import { burnPasswordCheck, hashPassword, passwordParams, verifyPassword } from "./passwords";

/** Password login. */

export interface LoginInput {
  email?: string | undefined;
  username?: string | undefined;
  password: string;
  /** The device token this client got at an earlier sign-in, if any. */
  device_token?: string | undefined;
  /** The Turnstile answer, needed only from unknown devices while sign-ins are under attack. */
  turnstile_token?: string | undefined;
  /** Set by the hosted login page when its form came without the widget's answer (no script ran). */
  noScript?: boolean | undefined;
}

/** A successful login: the token pair and this client's device token. */
export type LoginResult = TokenResponse & { device_token: string };

/** What the password check decided, about which row. */
type Decision =
  | { kind: "ok"; user: User; needsRehash: boolean }
  /** The right password for an account whose address is not verified yet (while verification is required). */
  | { kind: "unverified"; user: User }
  | { kind: "failure"; reason: "unknown_account" | "bad_password" | "inactive"; user: User | undefined };

/**
 * `POST /auth/login`, built to pay one far round trip (the D1 primary) when it succeeds:
 *
 * 1. near the user, at once: the per-IP limits and spread signal (429 first), the attack mode
 *    (usually cached), and the account and the device row as a D1 read replica has them;
 * 2. the guess, admitted by the guesser's Durable Object (abuse/limits.ts): a stranger's counts
 *    against the identifier (lockout 423, per-address 429), a known device's only against itself;
 * 3. PBKDF2, then one D1 batch on the primary: the session, the last-login time, the device and the
 *    audit row, fenced on the password hash that was checked, so a lagging replica never lets an old
 *    password in (a fence that fails undoes the batch, and the primary's row decides).
 *
 * Every refusal is the primary's: a replica may not have this account, its new password or its
 * verification yet. Precedence is the HTTP contract's: per-IP 429, then (under a spraying attack, unknown
 * devices only) the challenge, then lockout 423, then credentials 401. Every failure answers the same
 * `invalid_credentials`; its reason is kept in the audit row.
 */
export async function logIn(deps: Deps, input: LoginInput): Promise<LoginResult> {
  const identifier = identifierOf(input);
  const claimedDevice = input.device_token ? deviceIdOf(input.device_token) : null;
  const [fromIp, attacked, near] = await Promise.all([
    admitLoginFromIp(deps, identifier),
    underAttack(deps),
    deps.replicas.peek(null, (db) => readLoginState(db, identifier, claimedDevice)),
  ]);
  let device = await recognizeDevice(deps, near.user, input.device_token, { device: near.device });
  if (attacked && !device && deps.config.attack.sprayAction === "challenge") {
    try {
      await passAttackChallenge(deps, { token: input.turnstile_token, noScript: input.noScript });
    } catch (error) {
      await settleRefusedLogin(deps, fromIp);
      throw error;
    }
  }

  const check = async () => {
    const attempt = await checkAndSignIn(deps, identifier, input.password, near.user, () => device);
    return { ...attempt, success: attempt.decision.kind !== "failure", userId: attempt.decision.user?.id ?? null };
  };
  let outcome;
  try {
    outcome = await guardPasswordCheck(deps, identifier, check, device ? { kind: "device", id: device.id } : { kind: "stranger" }, fromIp);
  } catch (error) {
    if (!(error instanceof DeviceBudgetSpent) || !device) throw error;
    await voidDevice(deps, device);
    device = null;
    outcome = await guardPasswordCheck(deps, identifier, check, { kind: "stranger" } satisfies Guesser, fromIp);
  }
  const { decision, signedIn, refusal } = outcome;
  if (decision.kind !== "ok" || !signedIn) {
    if (decision.kind === "failure") countLoginFailure(deps, accountObjectName(identifier));
    await refusal?.();
    throw new AppError(decision.kind === "unverified" ? "email_not_verified" : "invalid_credentials");
  }
  // New device, place, travel, hour and breach signals: all after the response (devices/sign-in-signals.ts).
  afterSuccessfulLogin(deps, { user: decision.user, newDevice: device === null, password: input.password });
  return { ...signedIn.tokens, device_token: signedIn.deviceToken };
}

interface Attempt {
  decision: Decision;
  /** Set when the login succeeded: the session is written. */
  signedIn?: { tokens: TokenResponse; deviceToken: string };
  /** Finishes the refused login's audit row (after the guess is settled): written, or only logged when already written. */
  refusal?: () => Promise<void> | void;
}

/**
 * The password check and, when it passes, the sign-in's one write. Decided on the replica's row when
 * that lets the client in; otherwise, or when the fenced write finds the row changed, on the primary's.
 */
async function checkAndSignIn(
  deps: Deps,
  identifier: AccountIdentifier,
  password: string,
  nearUser: User | undefined,
  device: () => Device | null,
): Promise<Attempt> {
  let decision = await decide(deps, nearUser, password);
  if (decision.kind === "ok") {
    try {
      return { decision, signedIn: await signIn(deps, decision, password, device()) };
    } catch (error) {
      if (!isStaleFence(error)) throw error;
    }
  }
  // The primary decides every refusal. A refusal's audit row rides with that read, written only if
  // the primary's row is the one the refusal was decided on: one round trip for both.
  const refusedRow = decision.kind === "ok" ? null : refusalRow(deps, decision, identifier, device() !== null);
  const { user: primary, recorded } = refusedRow
    ? await readPrimaryRecordingRefusal(deps.db, identifier, nearUser, refusedRow)
    : { user: await findUserByIdentifier(deps.db, identifier), recorded: false };
  if (recorded && refusedRow) return { decision, refusal: () => logAudit(deps, refusedRow) };
  if (!sameRow(primary, nearUser) || decision.kind === "ok") decision = await decide(deps, primary, password);
  if (decision.kind === "ok") return { decision, signedIn: await signIn(deps, decision, password, device()) };
  const row = refusalRow(deps, decision, identifier, device() !== null);
  return { decision, refusal: () => recordAuditRow(deps, row) };
}

/** The `login.failed` row of a refusal; it names the kind of identifier only, never the identifier. */
function refusalRow(deps: Deps, refused: Exclude<Decision, { kind: "ok" }>, identifier: AccountIdentifier, knownDevice: boolean): AuditLog {
  return auditRow(deps, {
    action: "login.failed",
    userId: refused.user?.id ?? null,
    metadata:
      refused.kind === "unverified"
        ? { reason: "email_not_verified" }
        : { reason: refused.reason, identifier: "email" in identifier ? "email" : "username", known_device: knownDevice },
  });
}

/** Whether two reads of the account would decide alike: same row, same password, same state. */
function sameRow(a: User | undefined, b: User | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    a.id === b.id &&
    a.passwordHash === b.passwordHash &&
    a.isActive === b.isActive &&
    a.emailVerified === b.emailVerified &&
    a.credentialsEpoch === b.credentialsEpoch
  );
}

/** Checks the password against `user`. An unknown account still costs one hash, so timing tells nothing. */
async function decide(deps: Deps, user: User | undefined, password: string): Promise<Decision> {
  if (!user) {
    await burnPasswordCheck(password, passwordParams(deps));
    return { kind: "failure", reason: "unknown_account", user };
  }
  const { valid, needsRehash } = await verifyPassword(password, user.passwordHash, passwordParams(deps));
  if (!valid) return { kind: "failure", reason: "bad_password", user };
  if (!user.isActive) return { kind: "failure", reason: "inactive", user };
  if (deps.config.requireEmailVerification && !user.emailVerified) return { kind: "unverified", user };
  return { kind: "ok", user, needsRehash };
}

/**
 * The sign-in's one D1 batch, fenced on the checked password hash: the session (and the sessions
 * beyond the cap ended), the last-login time, an outdated hash upgraded while the password is at
 * hand, the device, and the `login.succeeded` row. Throws what isStaleFence recognizes when the
 * primary's row has moved on.
 */
async function signIn(
  deps: Deps,
  decision: Extract<Decision, { kind: "ok" }>,
  password: string,
  known: Device | null,
): Promise<{ tokens: TokenResponse; deviceToken: string }> {
  const { user } = decision;
  const now = deps.now();
  const device = deviceSignIn(deps, user.id, known);
  // Imported bcrypt hashes and outdated PBKDF2 parameters are upgraded at the first login.
  const rehash = decision.needsRehash ? await hashPassword(password, passwordParams(deps)) : null;
  const audit = auditRow(deps, { action: "login.succeeded", userId: user.id, resource: `user:${user.id}` });
  const tokens = await startSession(
    deps,
    { ...user, lastLoginAt: now },
    {
      fence: { passwordHash: user.passwordHash },
      alongside: [
        ...loginWrites(deps.db, {
          user,
          now,
          rehash,
          device: device.write,
          client: { ip: deps.meta.ip, userAgent: deps.meta.userAgent?.slice(0, 512) ?? null },
        }),
        auditInsert(deps.db, audit),
      ],
    },
  );
  logAudit(deps, audit);
  return { tokens, deviceToken: await device.token() };
}
