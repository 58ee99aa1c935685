import { sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { AssertionJSON } from "../factors/webauthn";
import { provePasskeyAgain } from "./passkeys";
import { auditRow } from "../audit/audit";
import { recoveryCodeUnused, useRecoveryCode } from "../db/factors";
import { users } from "../db/schema";
import { AppError } from "../errors";
import { proveSecondFactor, SECOND_FACTOR_AMR, type SecondFactorMethod } from "../factors/second-factor";
import type { Deps } from "../kernel/deps";
import { sendSecurityNotice } from "../mail/notices";
import { confirmedSession } from "../db/sessions";
import { stepUpSession, type TokenResponse } from "../sessions/sessions";
import { assertCurrentPassword } from "./credentials";
import type { FreshnessOf } from "./fresh-auth";

export interface StepUpInput {
  method: "password" | SecondFactorMethod | "passkey";
  code?: string | undefined;
  password?: string | undefined;
  credential?: AssertionJSON | undefined;
}

/**
 * `POST /auth/step-up`: a signed-in session proves its user again and becomes freshly
 * authenticated, without a new sign-in: the same session (`sid`), a rotated refresh token,
 * `auth_time` now and the `amr` of this proof. A password is checked as the session's own guess (its
 * lockout); a code spends the session's second-factor budget in the account's object. For an
 * account with a second factor, only a second factor makes the session fresh (fresh-auth.ts).
 */
export async function stepUp(deps: Deps, caller: Pick<FreshnessOf, "user" | "sessionId">, input: StepUpInput): Promise<TokenResponse> {
  const { user, sessionId } = caller;
  const { amr, recoveryCodeId, extra, fence } = await proveAgain(deps, caller, input);
  const work = deps.work();
  const live = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${user.id} AND ${users.isActive} = 1
    AND ${users.credentialsEpoch} = ${user.credentialsEpoch})`;
  work.fence(fence ? sql`${live} AND ${fence}` : live);
  const session = await stepUpSession(deps, work, user, sessionId, amr);
  work.addAll(extra);
  work.audit(
    auditRow(deps, {
      action: "session.stepped_up",
      userId: user.id,
      resource: `session:${sessionId}`,
      metadata: { factors: [input.method] },
    }),
  );
  const committed = await work.commit();
  if (!committed.committed) throw new AppError("invalid_token");
  if (recoveryCodeId) deps.waitUntil(sendSecurityNotice(deps, user.id, "recovery_code_used", user));
  return session.issue(committed);
}

/**
 * The hosted pages' step-up: a sensitive form carries its proof (the password, or a code for an
 * account with a second factor). The browser's session is not rotated (its cookie holds the refresh
 * token); its row's `auth_time` and `amr` move, so the pages' next sensitive actions within 5
 * minutes need no proof again. Returns the caller as now authenticated.
 */
export async function confirmIdentity(deps: Deps, caller: FreshnessOf, input: StepUpInput): Promise<FreshnessOf> {
  const { amr, recoveryCodeId, extra, fence } = await proveAgain(deps, caller, input);
  const now = deps.now();
  const work = deps.work().addAll([confirmedSession(deps.db, caller.sessionId, amr, now), ...extra]);
  if (fence) work.fence(fence);
  work.audit(
    auditRow(deps, {
      action: "session.stepped_up",
      userId: caller.user.id,
      resource: `session:${caller.sessionId}`,
      metadata: { factors: [input.method] },
    }),
  );
  if (!(await work.commit()).committed) throw new AppError("invalid_code");
  if (recoveryCodeId) deps.waitUntil(sendSecurityNotice(deps, caller.user.id, "recovery_code_used", caller.user));
  return { ...caller, authTime: now, amr };
}

/** What a step-up's proof used up: written (`extra`) in its batch, while `fence` holds. */
interface Proved {
  amr: string[];
  recoveryCodeId: string | null;
  extra: BatchItem<"sqlite">[];
  fence: SQL | null;
}

/**
 * Checks a step-up's proof: the password as the session's guess, a code on the session's
 * second-factor budget, a passkey's assertion against this session's step-up challenge (judged by
 * the account's object on the same budget).
 */
async function proveAgain(deps: Deps, caller: Pick<FreshnessOf, "user" | "sessionId">, input: StepUpInput): Promise<Proved> {
  if (input.method === "password") {
    if (input.password === undefined) throw missing("password", "Enter your password.");
    await assertCurrentPassword(deps, caller, input.password);
    return { amr: ["pwd"], recoveryCodeId: null, extra: [], fence: null };
  }
  if (input.method === "passkey") {
    if (input.credential === undefined) throw missing("credential", "Send the passkey's assertion.");
    const proved = await provePasskeyAgain(deps, caller, input.credential);
    return { ...proved, recoveryCodeId: null };
  }
  if (input.code === undefined) throw missing("code", "Enter the code.");
  const proof = { method: input.method, code: input.code };
  const proven = await proveSecondFactor(deps, caller.user, proof, { answerer: { kind: "session", id: caller.sessionId } });
  const id = proven.recoveryCodeId;
  return {
    amr: [SECOND_FACTOR_AMR],
    recoveryCodeId: id,
    extra: id ? [useRecoveryCode(deps.db, id, deps.now())] : [],
    fence: id ? recoveryCodeUnused(id) : null,
  };
}

function missing(field: string, message: string): AppError {
  return new AppError("validation_failed", { errors: [{ field, message }] });
}
