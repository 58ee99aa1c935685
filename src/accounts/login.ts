import { passAttackChallenge } from "../abuse/challenge";
import { admitGuess, guessRefusal, releaseGuess, runGuess, type Admission, type GuessOf } from "../abuse/guess-guard";
import { admitLoginFromIp, settleLoginFromIp, type IpTicket } from "../abuse/ip-limits";
import { accountObjectName } from "../abuse/object-names";
import { countLoginFailure, underAttack } from "../abuse/spraying";
import { auditRow, logAudit, recordAuditRow } from "../audit/audit";
import { decidesAlike, readLoginState, readPrimaryRecordingRefusal, stillAsDecided } from "../db/logins";
import type { AuditLog, Device, User } from "../db/schema";
import { findUserByIdentifier, identifierOf, type AccountIdentifier } from "../db/users";
import { deviceIdOf } from "../devices/device-tokens";
import { recognizeDevice, voidDevice } from "../devices/devices";
import { AppError } from "../errors";
import type { Deps } from "../kernel/deps";
import { burnPasswordCheck, hashPassword, passwordParams, verifyPassword } from "./passwords";
import { afterFirstFactor, type Channel, type FirstFactorOutcome, type SignedIn } from "./sign-in";

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
  /** The hosted login page's sign-ins keep their second step's token in a cookie (sign-in.ts). */
  channel?: Channel;
}

/** What the password check decided, about which row. */
type Decision =
  | { kind: "ok"; user: User; needsRehash: boolean }
  /** The right password for an account whose address is not verified yet (while verification is required). */
  | { kind: "unverified"; user: User }
  | { kind: "failure"; reason: "unknown_account" | "bad_password" | "inactive"; user: User | undefined };

/** One guess's outcome: the decision and, when it let the client in, the written sign-in. */
interface Attempt {
  decision: Decision;
  signedIn?: NonNullable<FirstFactorOutcome>;
  /** A refusal's audit row: already written with the primary's read, or still to write. */
  refusal?: { row: AuditLog; written: boolean };
  success: boolean;
  userId: string | null;
}

/**
 * `POST /auth/login`, read top to bottom:
 *
 * 1. near the user, at once: the per-IP limits and spread signal, the account and device row as a
 *    D1 read replica has them (an address blocked for failing across many identifiers stops
 *    strangers here; the account's known devices pass it), and the guess, admitted by the guesser's
 *    Durable Object (abuse/guess-guard.ts): a stranger's counts against the identifier, a claimed
 *    device's only against itself. The attack mode is this isolate's view (abuse/spraying.ts: never
 *    waited for);
 * 2. under a spraying attack, the challenge for unknown devices (abuse/challenge.ts); a stranger's
 *    guess is then admitted only after it, so unchallenged requests hold no pending guesses;
 * 3. the admission's answer; a claimed device that turns out not to be the account's known device
 *    has its ticket released and is admitted as a stranger (one more trip, in that rare case), and
 *    a device that spent its own budget is voided and tries again as a stranger;
 * 4. PBKDF2, then one unit of work on the primary (the session, the last-login time, the device, the
 *    audit row), fenced on the row whose password was checked, so a lagging replica never lets an
 *    old password in; a refusal is decided on the primary's row;
 * 5. after the response: the guess and the IP attempt settled (and any lock or block they begin
 *    announced), the stranger's failure counted for the spraying signal. The answer depends on none
 *    of it; until a settle lands its guess counts as pending, so the limits stay exact.
 *
 * A request refused before its password is checked releases its admitted guess uncounted (after
 * the response), and its IP attempt counts as failed.
 *
 * The answers' precedence is the HTTP contract's, and it is this order: 429 `rate_limited` (per IP,
 * step 1), 403 `challenge_required` (step 2), 423 `account_locked` and 429 for the identifier
 * (step 3: {@link guessRefusal}), 401 `invalid_credentials` for every failure (its reason is kept in
 * the audit row), 403 `email_not_verified` only after the right password ({@link refusalOf}).
 */
export async function logIn(deps: Deps, input: LoginInput): Promise<SignedIn> {
  const identifier = identifierOf(input);
  const claimedDevice = input.device_token ? deviceIdOf(input.device_token) : null;
  const challenged = underAttack(deps) && deps.config.attack.sprayAction === "challenge";
  const early: GuessOf | null = claimedDevice
    ? { identifier, guesser: { kind: "device", id: claimedDevice } }
    : challenged
      ? null
      : { identifier, guesser: { kind: "stranger" } };
  const [fromIp, near, admitted] = await allOrRelease(deps, [
    admitLoginFromIp(deps, identifier, claimedDevice !== null),
    deps.replicas.peek(null, (db) => readLoginState(db, identifier, claimedDevice)),
    early ? admitGuess(deps, early) : null,
  ]);
  const settleIp = onceOnly((failed: boolean) => settleLoginFromIp(deps, fromIp, failed));
  try {
    return await afterFirstStep(deps, input, { identifier, claimedDevice, challenged, near, admitted, fromIp, settleIp });
  } catch (error) {
    // Refusals and failed checks have settled the IP's attempt as failed already; what is left
    // (an object or D1 unreachable) decided nothing about the identifier: not counted.
    settleIp(false);
    throw error;
  }
}

interface FirstStep {
  identifier: AccountIdentifier;
  claimedDevice: string | null;
  challenged: boolean;
  near: Awaited<ReturnType<typeof readLoginState>>;
  admitted: Admission | null;
  fromIp: IpTicket;
  /** Reports the IP's attempt after the response (the first call wins). */
  settleIp: (failed: boolean) => void;
}

/** Steps 2 to 5 (see {@link logIn}). */
async function afterFirstStep(deps: Deps, input: LoginInput, first: FirstStep): Promise<SignedIn> {
  const { identifier, claimedDevice, near, fromIp, settleIp } = first;
  const stranger: GuessOf = { identifier, guesser: { kind: "stranger" } };
  let admission = first.admitted;
  let device = await recognizeDevice(deps, near.user, input.device_token, { device: near.device });
  if (claimedDevice && !device) admission = released(deps, admission);
  const refuse = (error: unknown): never => {
    released(deps, admission);
    settleIp(true);
    throw error;
  };
  // A shared address blocked for strangers' failures: the account's known devices go on, on their own budget.
  if (fromIp.spreadBlocked && !device) refuse(fromIp.spreadBlocked);
  if (first.challenged && !device) {
    await passAttackChallenge(deps, { token: input.turnstile_token, noScript: input.noScript }).catch(refuse);
  }

  admission ??= await admitGuess(deps, stranger);
  if (admission.status === "device_spent" && device) {
    await voidDevice(deps, device);
    device = null;
    admission = await admitGuess(deps, stranger);
  }
  if (admission.status !== "admitted") return refuse(guessRefusal(admission));

  const check = () => checkAndSignIn(deps, identifier, input, near.user, () => device, input.channel ?? "api");
  const { decision, signedIn, refusal } = await runGuess(deps, admission.guess, check).catch((error: unknown) => {
    // The guess is settled as a failure (runGuess); the IP's attempt fails with it.
    settleIp(true);
    throw error;
  });
  settleIp(decision.kind !== "ok" || !signedIn);
  if (decision.kind !== "ok" || !signedIn) {
    // Only strangers feed the spraying signal: a known device's failures are its own business.
    if (decision.kind === "failure" && !device) countLoginFailure(deps, accountObjectName(identifier));
    if (refusal?.written) logAudit(deps, refusal.row);
    else if (refusal) await recordAuditRow(deps, refusal.row);
    throw refusalOf(decision);
  }
  // The password was right, and the account needs its second step: nothing was issued.
  if (signedIn.kind === "second_step") throw signedIn.error;
  return signedIn.signedIn;
}

/** `report`, run on its first call only: an attempt has one outcome. */
function onceOnly(report: (failed: boolean) => void): (failed: boolean) => void {
  let done = false;
  return (failed) => {
    if (done) return;
    done = true;
    report(failed);
  };
}

/** Releases an admitted guess (the request goes no further with it); null, for the caller's variable. */
function released(deps: Deps, admission: Admission | null): null {
  if (admission?.status === "admitted") releaseGuess(deps, admission.guess);
  return null;
}

/**
 * The first step's calls, all at once. When one fails, a guess the others admitted is released,
 * and the IP's refusal is the answer before any other failure (the contract's precedence).
 */
async function allOrRelease<B>(
  deps: Deps,
  calls: [Promise<IpTicket>, Promise<B>, Promise<Admission> | null],
): Promise<[IpTicket, B, Admission | null]> {
  const [ip, near, admitted] = await Promise.allSettled([calls[0], calls[1], calls[2] ?? Promise.resolve(null)]);
  if (ip.status === "fulfilled" && near.status === "fulfilled" && admitted.status === "fulfilled")
    return [ip.value, near.value, admitted.value];
  if (admitted.status === "fulfilled") released(deps, admitted.value);
  // Nothing was decided about the identifier: the IP's attempt is dropped, not counted.
  if (ip.status === "fulfilled") settleLoginFromIp(deps, ip.value, false);
  throw [ip, near, admitted].flatMap((result) => (result.status === "rejected" ? [result.reason as unknown] : []))[0];
}

/**
 * The cause an `invalid_credentials` carries when the password was right but the account is
 * deactivated. The JSON API renders the same 401 as for a wrong password (a cause is never
 * serialized); the hosted sign-in page, which just saw the person type the right password, may
 * tell them what happened ({@link refusedAsDeactivated}).
 */
const DEACTIVATED = new Error("the right password of a deactivated account");

/** The answer to a password check that did not sign in. */
function refusalOf(decision: Decision): AppError {
  if (decision.kind === "unverified") return new AppError("email_not_verified");
  const deactivated = decision.kind === "failure" && decision.reason === "inactive";
  return new AppError("invalid_credentials", deactivated ? { cause: DEACTIVATED } : {});
}

/**
 * Whether a login refusal was for a deactivated account whose password was right: only the
 * person who knows the password learns the account's state; anyone else gets "wrong email or
 * password", exactly as for a wrong password or an unknown account.
 */
export function refusedAsDeactivated(error: unknown): boolean {
  return error instanceof AppError && error.code === "invalid_credentials" && error.cause === DEACTIVATED;
}

/**
 * The password check and, when it passes, the sign-in's one write. Decided on the replica's row when
 * that lets the client in; otherwise, or when the fenced write finds the row changed, on the primary's.
 */
async function checkAndSignIn(
  deps: Deps,
  identifier: AccountIdentifier,
  input: Pick<LoginInput, "password" | "device_token">,
  nearUser: User | undefined,
  device: () => Device | null,
  channel: Channel,
): Promise<Attempt> {
  const { password } = input;
  const signIn = (ok: Extract<Decision, { kind: "ok" }>) => passFirstFactor(deps, ok, input, device(), channel);
  let decision = await decide(deps, nearUser, password);
  if (decision.kind === "ok") {
    const signedIn = await signIn(decision);
    if (signedIn) return attempt(decision, { signedIn });
  }
  // The primary decides every refusal. A refusal's audit row rides with that read, written only if
  // the primary's row is the one the refusal was decided on: one round trip for both.
  const refusedRow = decision.kind === "ok" ? null : refusalRow(deps, decision, identifier, device() !== null);
  const { user: primary, recorded } = refusedRow
    ? await readPrimaryRecordingRefusal(deps.db, identifier, nearUser, refusedRow)
    : { user: await findUserByIdentifier(deps.db, identifier), recorded: false };
  if (recorded && refusedRow) return attempt(decision, { refusal: { row: refusedRow, written: true } });
  if (!decidesAlike(primary, nearUser) || decision.kind === "ok") decision = await decide(deps, primary, password);
  if (decision.kind === "ok") {
    // The primary's own row: only a change committed since this very read can stale it.
    const signedIn = await signIn(decision);
    if (signedIn) return attempt(decision, { signedIn });
    decision = { kind: "failure", reason: "bad_password", user: decision.user };
  }
  return attempt(decision, { refusal: { row: refusalRow(deps, decision, identifier, device() !== null), written: false } });
}

function attempt(decision: Decision, rest: Pick<Attempt, "signedIn" | "refusal">): Attempt {
  return { decision, ...rest, success: decision.kind !== "failure", userId: decision.user?.id ?? null };
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
 * The password passed: the sign-in transaction takes over (sign-in.ts), fenced on the checked row;
 * an imported or outdated hash is upgraded in its batch while the password is at hand. Null when
 * the primary's row has moved on (nothing written).
 */
async function passFirstFactor(
  deps: Deps,
  decision: Extract<Decision, { kind: "ok" }>,
  { password, device_token: deviceToken }: Pick<LoginInput, "password" | "device_token">,
  known: Device | null,
  channel: Channel,
): Promise<FirstFactorOutcome> {
  const { user } = decision;
  // (A second step's sign-in writes no hash: the upgrade waits for a one-step sign-in or a change.)
  const rehash = decision.needsRehash && user.secondFactors.length === 0 ? await hashPassword(password, passwordParams(deps)) : null;
  return afterFirstFactor(deps, { user, amr: ["pwd"], device: known, channel, fence: stillAsDecided(user), rehash, deviceToken, password });
}
