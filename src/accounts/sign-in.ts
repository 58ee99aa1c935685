import { sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { auditRow } from "../audit/audit";
import { findDevice } from "../db/devices";
import { factorsUnchanged, recoveryCodeUnused, useRecoveryCode } from "../db/factors";
import { loginWrites } from "../db/logins";
import type { Device, User } from "../db/schema";
import type { UnitOfWork } from "../db/unit-of-work";
import { users } from "../db/schema";
import { findUserById } from "../db/users";
import { deviceSignIn } from "../devices/devices";
import { afterSuccessfulLogin } from "../devices/sign-in-signals";
import { AppError, findCause, isDependencyError } from "../errors";
import { isEnrolment, MFA_TOKEN_TTL_MS, openMfaToken, sealMfaToken, tokenStillValid, type MfaTokenClaims } from "../factors/mfa-tokens";
import { mfaRequiredFor } from "../factors/mfa-policy";
import {
  giveAnswerBack,
  proveSecondFactor,
  recordSecondStepIssued,
  SECOND_FACTOR_AMR,
  type Answerer,
  type SecondFactorProof,
} from "../factors/second-factor";
import type { Deps } from "../kernel/deps";
import type { SecondFactorGiveBack } from "../kernel/objects";
import { sendSecurityNotice } from "../mail/notices";
import { addSession, type TokenResponse } from "../sessions/sessions";
import type { FreshnessOf } from "./fresh-auth";

/**
 * The sign-in transaction: every first factor (a password today; a passkey, an email code or an
 * external provider next) hands its result to {@link afterFirstFactor}, the only way to a session.
 * An account with a second factor gets no session from a first factor alone: it gets an `mfa_token`
 * (factors/mfa-tokens.ts) and `403 mfa_required`, and {@link completeSecondStep} finishes the
 * sign-in with the same unit of work, the same fence and the same answer as a one-step sign-in.
 */

/** A sign-in's answer: the token pair and this client's device token. */
export type SignedIn = TokenResponse & { device_token: string };

/** Where a first factor came from: the JSON API, or the hosted pages (whose `mfa_token` lives in a cookie). */
export type Channel = "api" | "page";

export interface FirstFactor {
  /** The account's row the first factor was decided on. */
  user: User;
  /** The first factor's RFC 8176 values: `pwd` for a password. */
  amr: string[];
  /** The known device it came from (its device token verified), or null. */
  device: Device | null;
  channel: Channel;
  /** The first factor's own condition on the primary (the row it decided on is still the row there). */
  fence: SQL;
  /** A rehashed password, written only while the verified hash is still the row's. */
  rehash: string | null;
  /** What the first factor used up, written in the sign-in's batch (a passkey's challenge and counter). */
  extra?: BatchItem<"sqlite">[];
  /** More of the sign-in's batch, with its own events and audit rows (an external identity linked by it). */
  alsoWrite?: (work: UnitOfWork) => void;
  /** The device token the client presented (known or not), for the sign-in's signals. */
  deviceToken?: string | undefined;
  /** A password first factor's password, kept in memory for the breach check after the response. */
  password?: string | undefined;
}

/** What a first factor led to: a sign-in, a second step to take, or nothing (the primary's row moved on). */
export type FirstFactorOutcome = { kind: "signed_in"; signedIn: SignedIn } | { kind: "second_step"; error: AppError } | null;

/**
 * What a first factor alone leaves to do: nothing (a passkey with user verification is two factors,
 * `mfa`), prove the account's second factor, or (policy requires one and the account has none)
 * enrol one first.
 */
function secondStepOf(deps: Deps, user: User, first: Pick<FirstFactor, "amr">): "sign_in" | "enrol" | null {
  if (first.amr.includes("mfa")) return null;
  if (user.secondFactors.length > 0) return "sign_in";
  return mfaRequiredFor(deps.config, user) ? "enrol" : null;
}

/** What an enrolment may add, and then prove to finish the sign-in. */
const ENROLMENT_METHODS = ["totp", "passkey"];

/** The methods an `mfa_required` offers (a recovery code whenever a second factor exists). */
function secondStepMethods(user: User): string[] {
  return [...user.secondFactors, "recovery_code"];
}

export async function afterFirstFactor(deps: Deps, first: FirstFactor): Promise<FirstFactorOutcome> {
  const { user } = first;
  const step = secondStepOf(deps, user, first);
  if (step) return { kind: "second_step", error: await secondStepRequired(deps, first, step) };
  const signedIn = await writeSignIn(deps, {
    user,
    amr: first.amr,
    device: first.device,
    fence: sql`${first.fence} AND ${factorsUnchanged(user.id, user.factorsEpoch)}`,
    rehash: first.rehash,
    extra: first.extra ?? [],
    alsoWrite: first.alsoWrite,
  });
  if (!signedIn) return null;
  // New device, place, travel, hour (and, for a password, breach) signals: all after the response.
  afterSuccessfulLogin(deps, { user, newDevice: first.device === null, deviceToken: first.deviceToken, password: first.password });
  return { kind: "signed_in", signedIn };
}

/**
 * A new account that `MFA_REQUIRED` stops before its first session (registration.ts): the
 * enrolment `mfa_token` its registration earned, as a sign-in with its password would have.
 */
export function enrolmentAfterRegistration(deps: Deps, user: User, channel: Channel): Promise<AppError> {
  return secondStepRequired(deps, { user, amr: ["pwd"], device: null, channel, fence: sql`1`, rehash: null }, "enrol");
}

/** Issues the `mfa_token` and builds the 403 that carries it. Nothing else is issued. */
async function secondStepRequired(deps: Deps, first: FirstFactor, purpose: "sign_in" | "enrol"): Promise<AppError> {
  const claims: MfaTokenClaims = {
    purpose,
    userId: first.user.id,
    id: crypto.randomUUID(),
    amr: first.amr,
    deviceId: first.device?.id ?? null,
    channel: first.channel,
    credentialsEpoch: first.user.credentialsEpoch,
    factorsEpoch: first.user.factorsEpoch,
    expiresAt: deps.now().getTime() + MFA_TOKEN_TTL_MS[purpose],
  };
  const token = await sealMfaToken(await deps.keys(), claims);
  if (purpose === "enrol") {
    return new AppError("mfa_enrollment_required", { extensions: { mfa_token: token, methods: ENROLMENT_METHODS } });
  }
  // Off the answer's path: the object only needs it to notice abandoned second steps.
  deps.waitUntil(recordSecondStepIssued(deps, first.user, { id: claims.id, expiresAt: claims.expiresAt }).catch(() => undefined));
  return new AppError("mfa_required", { extensions: { mfa_token: token, methods: secondStepMethods(first.user) } });
}

/**
 * `POST /auth/mfa`: the second step. The token must open, be this channel's, be within its 5
 * minutes and match the account's credentials and factors epochs; the proof is judged by the
 * account's object (one call), then the sign-in is the usual fenced unit of work, which also marks
 * a recovery code used (two sign-ins with one code: one wins).
 */
export async function completeSecondStep(deps: Deps, mfaToken: string, proof: SecondFactorProof, channel: Channel): Promise<SignedIn> {
  const step = await openSecondStep(deps, mfaToken, channel);
  if (isEnrolment(step.claims) && proof.method === "recovery_code") {
    throw new AppError("invalid_code", { detail: "Finish an enrolment with a code of the new authenticator app, or the new passkey." });
  }
  const proven = await proveSecondFactor(deps, step.user, proof, { answerer: step.answerer, token: step.token });
  const now = deps.now();
  return finishSecondStep(deps, step, {
    method: proof.method,
    amr: [SECOND_FACTOR_AMR],
    fence: proven.recoveryCodeId ? recoveryCodeUnused(proven.recoveryCodeId) : null,
    extra: proven.recoveryCodeId ? [useRecoveryCode(deps.db, proven.recoveryCodeId, now)] : [],
    enrolledAt: proven.enrolledAt,
    recoveryCodeUsed: proven.recoveryCodeId !== null,
    accepted: proven.accepted,
  });
}

/** A second step under way: the token's claims, the account and the known device it came with. */
export interface SecondStep {
  claims: MfaTokenClaims;
  user: User;
  known: Device | null;
  answerer: Answerer;
  token: { id: string; expiresAt: number };
}

/**
 * Opens an `mfa_token`: it must open, be this channel's, be within its 5 minutes (an enrolment's 10)
 * and match the account's credentials and factors epochs (read near the user); else 401 `invalid_token`.
 */
export async function openSecondStep(deps: Deps, mfaToken: string, channel: Channel): Promise<SecondStep> {
  const claims = await openMfaToken(await deps.keys(), mfaToken);
  if (!claims || claims.channel !== channel) throw new AppError("invalid_token");
  const read = async (db: Deps["db"]) => ({
    user: await findUserById(db, claims.userId),
    device: claims.deviceId ? await findDevice(db, claims.deviceId, claims.userId) : undefined,
  });
  // An enrolment moves the account's factors between its requests, which may reach other places: its
  // reads go to the primary (once per account, ever), so a replica behind the new factor never
  // refuses the step that finishes it.
  const { user, device } = isEnrolment(claims) ? await read(deps.db) : await deps.replicas.peek(claims.userId, read);
  if (!user || !tokenStillValid(claims, user, deps.now())) throw new AppError("invalid_token");
  const known = device && device.revokedAt === null ? device : null;
  return {
    claims,
    user,
    known,
    answerer: known ? { kind: "device", id: known.id } : { kind: "stranger" },
    token: { id: claims.id, expiresAt: claims.expiresAt },
  };
}

/**
 * The caller an enrolment token stands for at the four enrolment endpoints (API.md names them;
 * `Authorization: MFA <mfa_token>`, or the pages' cookie): the account, while it still has no
 * second factor. Once one is enrolled the token's only use left is finishing the sign-in at
 * `POST /auth/mfa` with a proof from it; here it is then 401 `invalid_token`.
 */
export async function openEnrolment(deps: Deps, mfaToken: string, channel: Channel): Promise<FreshnessOf> {
  const { claims, user } = await openSecondStep(deps, mfaToken, channel);
  if (!isEnrolment(claims)) throw new AppError("invalid_token", { detail: "This token is not an enrolment token." });
  if (user.secondFactors.length > 0) {
    throw new AppError("invalid_token", { detail: "The second factor is enrolled: finish the sign-in at POST /api/v1/auth/mfa." });
  }
  return {
    user,
    sessionId: `enrol:${claims.id}`,
    authTime: new Date(claims.expiresAt - MFA_TOKEN_TTL_MS.enrol),
    amr: claims.amr,
    enrolment: true,
  };
}

/**
 * The sign-in a proven second step makes: the usual fenced unit of work (the account still as the
 * token was issued under, and whatever the proof used up still unused), then the sign-in's signals.
 */
export async function finishSecondStep(
  deps: Deps,
  step: SecondStep,
  proof: {
    method: string;
    amr: string[];
    fence: SQL | null;
    extra: BatchItem<"sqlite">[];
    enrolledAt: Date | null;
    recoveryCodeUsed?: boolean;
    accepted: SecondFactorGiveBack;
  },
): Promise<SignedIn> {
  const { claims, user, known } = step;
  // An enrolment token was issued before the factor it is finished with: its factors are the ones read now.
  const factorsEpoch = isEnrolment(claims) ? user.factorsEpoch : claims.factorsEpoch;
  const stillAsIssued = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${user.id} AND ${users.deletedAt} IS NULL
    AND ${users.isActive} = 1 AND ${users.credentialsEpoch} = ${claims.credentialsEpoch} AND ${users.factorsEpoch} = ${factorsEpoch})`;
  const signedIn = await writeSignIn(deps, {
    user,
    amr: [...claims.amr, ...proof.amr, "mfa"],
    factors: [proof.method],
    device: known,
    fence: proof.fence ? sql`${stillAsIssued} AND ${proof.fence}` : stillAsIssued,
    rehash: null,
    extra: proof.extra,
  }).catch(async (error: unknown) => {
    if (findCause(error, isDependencyError)) await giveAnswerBack(deps, user, proof.accepted);
    throw error;
  });
  // The account moved on between the steps (password, factors, a parallel use of what the proof used).
  if (!signedIn) throw new AppError("invalid_token");
  if (proof.recoveryCodeUsed) deps.waitUntil(sendSecurityNotice(deps, user.id, "recovery_code_used", user));
  afterSuccessfulLogin(deps, {
    user,
    newDevice: known === null,
    deviceToken: undefined,
    password: undefined,
    secondFactorSince: proof.enrolledAt,
  });
  return signedIn;
}

/** The names audit rows give the factors of a sign-in. */
const FACTOR_NAMES: Record<string, string> = {
  pwd: "password",
  hwk: "passkey",
  swk: "passkey",
  email: "email_code",
  fed: "external_provider",
};

/**
 * The sign-in's one unit of work, fenced: the session (and the sessions beyond the cap ended), the
 * last-login time, an outdated hash upgraded, the device, what the second step used up, and the
 * `login.succeeded` row naming the factors. Null when the fence failed (nothing written).
 */
async function writeSignIn(
  deps: Deps,
  args: {
    user: User;
    amr: string[];
    /** Second factors by method name, for the audit row. */
    factors?: string[];
    device: Device | null;
    fence: SQL;
    rehash: string | null;
    extra?: BatchItem<"sqlite">[];
    alsoWrite?: ((work: UnitOfWork) => void) | undefined;
  },
): Promise<SignedIn | null> {
  const { user } = args;
  const now = deps.now();
  const device = deviceSignIn(deps, user.id, args.device);
  const work = deps.work().fence(args.fence);
  const session = await addSession(deps, work, { ...user, lastLoginAt: now }, args.amr);
  const factors = [...args.amr.filter((m) => m in FACTOR_NAMES).map((m) => FACTOR_NAMES[m]!), ...(args.factors ?? [])];
  work
    .addAll(
      loginWrites(deps.db, {
        user,
        now,
        rehash: args.rehash,
        device: device.write,
        client: { ip: deps.meta.ip, userAgent: deps.meta.userAgent?.slice(0, 512) ?? null },
      }),
    )
    .addAll(args.extra ?? [])
    .audit(auditRow(deps, { action: "login.succeeded", userId: user.id, resource: `user:${user.id}`, metadata: { factors } }));
  args.alsoWrite?.(work);
  const committed = await work.commit();
  if (!committed.committed) return null;
  return { ...(await session.issue(committed)), device_token: await device.token() };
}
