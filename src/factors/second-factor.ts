import { secondFactorPolicies, type SecondFactorBudget } from "../config/rate-limits";
import { recordAudit } from "../audit/audit";
import type { User } from "../db/schema";
import { findRecoveryCode, findTotp } from "../db/factors";
import { AppError } from "../errors";
import { describeError, log } from "../log";
import type { Deps } from "../kernel/deps";
import { unwrapSecret } from "../kernel/key-wrapping";
import type { SecondFactorAnswer, SecondFactorGiveBack } from "../kernel/objects";
import { sendSecurityNotice } from "../mail/notices";
import { recoveryCodeHash } from "./recovery-codes";
import { matchingSteps, TOTP_PERIOD_MS } from "./totp";

/**
 * Checks one second-factor proof (a sign-in's second step, a step-up, an enrolment's confirmation):
 * the worker works out the verdict near the user (the TOTP steps a code matches, whether a recovery
 * code is one of the account's unused ones), then one call to the account's Durable Object decides
 * whether it counts (abuse/objects/second-factor.ts). Every wrong answer is audited; when a token
 * is spent or a budget runs out, the owner hears that someone has the password.
 */
export type SecondFactorMethod = "totp" | "recovery_code";

export interface SecondFactorProof {
  method: SecondFactorMethod;
  code: string;
}

/** Who answers decides whose budget a wrong answer spends (config/rate-limits.ts SECOND_FACTOR_BUDGETS). */
export type Answerer = { kind: "stranger" } | { kind: "device"; id: string } | { kind: "session"; id: string };

/** What a passed check proved. */
export interface ProvenFactor {
  method: SecondFactorMethod;
  /** The recovery code to mark used in the caller's batch (fenced on it still being unused). */
  recoveryCodeId: string | null;
  /** When the proven factor was enrolled (an email-change revert link older than that is no longer needed). */
  enrolledAt: Date | null;
  /** What the account's object accepted, to undo should the sign-in fail on a dependency ({@link giveAnswerBack}). */
  accepted: SecondFactorGiveBack;
}

/** RFC 8176 `amr` of a proven second factor (a recovery code is a one-time code too). */
export const SECOND_FACTOR_AMR = "otp";

export interface ProofContext {
  answerer: Answerer;
  /** A sign-in's token: its id and expiry (it dies at the first success or the fifth wrong answer). */
  token?: { id: string; expiresAt: number };
  /** An enrolment's confirmation checks the pending secret, not the enabled one. */
  pendingSecret?: Uint8Array;
}

export async function proveSecondFactor(deps: Deps, user: User, proof: SecondFactorProof, context: ProofContext): Promise<ProvenFactor> {
  const { verdict, recoveryCodeId, enrolledAt } = await verdictOf(deps, user, proof, context.pendingSecret);
  const accepted = await judgeAnswer(deps, user, proof.method, verdict, context);
  return { method: proof.method, recoveryCodeId, enrolledAt, accepted };
}

/**
 * Has the account's object judge a verdict the caller worked out (a passkey's assertion checked by
 * the caller counts as `match`): returns what it accepted when it counts, throws 401 `invalid_code`
 * / `invalid_token` or 429 otherwise (see abuse/objects/second-factor.ts).
 */
export async function judgeAnswer(
  deps: Deps,
  user: User,
  method: SecondFactorMethod | "passkey",
  verdict: SecondFactorAnswer["verdict"],
  context: Pick<ProofContext, "answerer" | "token">,
): Promise<SecondFactorGiveBack> {
  const answer: SecondFactorAnswer = {
    ...(context.token ? { token: context.token } : {}),
    budget: budgetOf(deps, context.answerer, method),
    verdict,
    notice: secondFactorPolicies(deps.config.rateLimits, "notice")[0]!,
  };
  const result = await deps.limiter(`user:${user.id}`, (stub) => stub.secondFactorAnswer(answer, deps.now().getTime()));
  if (result.ok) return { tokenId: context.token?.id ?? null, step: result.step, previousStep: result.previousStep };
  if (result.reason === "invalid_token") throw new AppError("invalid_token");
  await recordAudit(deps, {
    action: result.reason === "rate_limited" ? "mfa.throttled" : "mfa.failed",
    userId: user.id,
    resource: `user:${user.id}`,
    metadata: {
      method,
      answerer: context.answerer.kind,
      ...(result.reason === "rate_limited" ? { policy: result.blockedBy } : { token_spent: result.spent }),
    },
  });
  if (result.notify) deps.waitUntil(sendSecurityNotice(deps, user.id, "second_factor_failures", user));
  if (result.reason === "rate_limited") throw new AppError("rate_limited", { retryAfter: result.retryAfter, limits: result.limits });
  throw new AppError("invalid_code");
}

/**
 * A sign-in that failed on a dependency after its second step was accepted (a 503) spends nothing:
 * the `mfa_token` and the TOTP code work again for the person's retry. Should the failure have come
 * after the sign-in's batch was written, the token's holder, who has both factors, could sign in
 * once more with it before it expires. Best effort: the account's object may be what is down.
 */
export async function giveAnswerBack(deps: Deps, user: User, accepted: SecondFactorGiveBack): Promise<void> {
  try {
    await deps.limiter(`user:${user.id}`, (stub) => stub.secondFactorGiveBack(accepted, deps.now().getTime()));
  } catch (error) {
    log("warn", "mfa.give_back_failed", { request_id: deps.meta.requestId, ...describeError(error) });
  }
}

/** Tells the account's object that a sign-in now waits for its second step (abandoned ones are noticed). */
export async function recordSecondStepIssued(deps: Deps, user: User, token: { id: string; expiresAt: number }): Promise<void> {
  const notice = secondFactorPolicies(deps.config.rateLimits, "notice")[0]!;
  const { notify } = await deps.limiter(`user:${user.id}`, (stub) =>
    stub.secondFactorIssued({ tokenId: token.id, expiresAt: token.expiresAt, notice }, deps.now().getTime()),
  );
  if (!notify) return;
  await recordAudit(deps, { action: "mfa.abandoned", userId: user.id, resource: `user:${user.id}` });
  await sendSecurityNotice(deps, user.id, "second_factor_failures", user);
}

/** A password change or reset: strangers' wrong answers are forgotten (whoever guessed had the old password). */
export async function forgiveStrangers(deps: Deps, userId: string): Promise<void> {
  await deps.limiter(`user:${userId}`, (stub) => stub.forgiveSecondFactor(["mfa:stranger", "mfa:stranger_recovery"], deps.now().getTime()));
}

function budgetOf(deps: Deps, answerer: Answerer, method: SecondFactorMethod | "passkey"): SecondFactorAnswer["budget"] {
  const named = (budget: SecondFactorBudget, action: string) => ({
    action,
    policies: secondFactorPolicies(deps.config.rateLimits, budget),
  });
  if (answerer.kind === "device") return named("device", `mfa:device:${answerer.id}`);
  if (answerer.kind === "session") return named("session", `mfa:session:${answerer.id}`);
  return method === "recovery_code" ? named("stranger_recovery", "mfa:stranger_recovery") : named("stranger", "mfa:stranger");
}

async function verdictOf(
  deps: Deps,
  user: User,
  proof: SecondFactorProof,
  pendingSecret: Uint8Array | undefined,
): Promise<{ verdict: SecondFactorAnswer["verdict"]; recoveryCodeId: string | null; enrolledAt: Date | null }> {
  const now = deps.now();
  if (proof.method === "totp") {
    const enabled = pendingSecret ? null : await enabledSecret(deps, user);
    const secret = pendingSecret ?? enabled?.secret ?? null;
    const steps = secret ? matchingSteps(secret, proof.code, now) : [];
    return { verdict: { kind: "totp", steps, periodMs: TOTP_PERIOD_MS }, recoveryCodeId: null, enrolledAt: enabled?.enrolledAt ?? null };
  }
  const hash = await recoveryCodeHash(proof.code);
  // Near first; a code the replica has not seen yet (a set just made) is looked up on the primary.
  const find = (db: Deps["db"]) => (hash ? findRecoveryCode(db, user.id, hash) : Promise.resolve(undefined));
  const code = hash ? ((await deps.replicas.peek(user.id, find)) ?? (await find(deps.db))) : undefined;
  return { verdict: { kind: "match", ok: code !== undefined }, recoveryCodeId: code?.id ?? null, enrolledAt: code?.createdAt ?? null };
}

/** The enabled authenticator's secret and enrolment time (near first, then the primary), or null when there is none. */
async function enabledSecret(deps: Deps, user: User): Promise<{ secret: Uint8Array; enrolledAt: Date } | null> {
  const near = await deps.replicas.peek(user.id, (db) => findTotp(db, user.id));
  const factor = near?.confirmedAt ? near : await findTotp(deps.db, user.id);
  if (!factor?.confirmedAt) return null;
  const secret = await unwrapSecret(factor.secret, user.id, deps.config.signingKeyEncryptionSecret);
  if (!secret) throw new Error("a TOTP secret does not decrypt: SIGNING_KEY_ENCRYPTION_SECRET is not the one it was stored with");
  return { secret, enrolledAt: factor.confirmedAt };
}
