import type { Context } from "hono";
import type { FC } from "hono/jsx";
import { assertFreshAuthentication } from "../accounts/fresh-auth";
import { confirmIdentity, type StepUpInput } from "../accounts/step-up";
import { AppError } from "../errors";
import type { Translator } from "../i18n";
import type { AppEnv } from "../web/context";
import { failureFrom, text, type Failure, type FormData } from "./forms";
import { Field, type Frame } from "./kit";
import { formTranslator } from "./language";
import type { PageSession } from "./session";

/**
 * Fresh authentication on the hosted pages (API.md v1.2): a sensitive form (password, address,
 * deletion, API keys, second factors) works only within 5 minutes of a sign-in, and for an account
 * with a second factor only if that sign-in proved one. A page has no step-up dialog, so a form
 * whose session is older carries its proof inline: the current password, or for an account with a
 * second factor a code from the app or a recovery code. The proof makes the session fresh in place
 * (accounts/step-up.ts `confirmIdentity`), so the forms after it within 5 minutes need none.
 */

/** What a stale session proves itself with. */
export type ProofKind = "password" | "code";

/** The code field's name on every sensitive form. */
const PROOF_CODE_FIELD = "proof_code";

/** Which proof a sensitive form needs now, or null while the session is fresh enough. */
export function proofNeeded(c: Context<AppEnv>, session: PageSession): ProofKind | null {
  try {
    assertFreshAuthentication(c.var.deps, session);
    return null;
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== "reauthentication_required") throw error;
    return proofKindOf(session);
  }
}

/** A session made fresh for a sensitive form and what proved it (null: it was fresh already), or the failed proof. */
export type Proven = { ok: true; session: PageSession; provedWith: ProofKind | null } | { ok: false; failure: Failure };

/**
 * Makes the page session fresh with the form's proof when it is not. `passwordField` is the field
 * that holds the current password on this form (a form that asks for it anyway uses its own).
 */
export async function proveFreshness(c: Context<AppEnv>, session: PageSession, data: FormData, passwordField: string): Promise<Proven> {
  const kind = proofNeeded(c, session);
  if (kind === null) return { ok: true, session, provedWith: null };
  try {
    const proved = await confirmIdentity(c.var.deps, session, proofOf(kind, data, passwordField));
    return { ok: true, session: { ...session, ...proved }, provedWith: kind };
  } catch (error) {
    return { ok: false, failure: proofFailure(formTranslator(c), error, kind, passwordField) };
  }
}

function proofOf(kind: ProofKind, data: FormData, passwordField: string): StepUpInput {
  if (kind === "password") {
    const password = text(data, passwordField);
    if (password === undefined) throw new AppError("reauthentication_required");
    return { method: "password", password };
  }
  const code = text(data, PROOF_CODE_FIELD)?.trim();
  if (code === undefined) throw new AppError("reauthentication_required");
  if (code.length > 64) throw new AppError("invalid_code");
  // An app's code is 6 digits, a recovery code 16 characters: the form needs no switch between them.
  return { method: /^\d{6}$/.test(code.replace(/[\s-]/g, "")) ? "totp" : "recovery_code", code };
}

/**
 * A failed proof, its message beside the field that holds it. Also for a service that found the
 * session stale after all (the 5 minutes ran out between the proof and the action).
 */
export function proofFailure(t: Translator, error: unknown, kind: ProofKind, passwordField: string): Failure {
  const field = kind === "code" ? PROOF_CODE_FIELD : passwordField;
  const failure = failureFrom(t, error, {
    reauthentication_required: field,
    invalid_code: field,
    invalid_current_password: field,
    account_locked: field,
    rate_limited: field,
  });
  if (error instanceof AppError && error.code === "reauthentication_required") {
    failure.state = { fields: { [field]: t.text(kind === "code" ? "fields.proof_code.stale" : "fields.current_password.stale") } };
  }
  return failure;
}

/** The proof an account gives once its session is stale. */
export function proofKindOf(session: PageSession): ProofKind {
  return session.user.secondFactors.length > 0 ? "code" : "password";
}

/**
 * The proof field a sensitive form shows while its session is stale. A form that asks for the
 * current password anyway (`hasPassword`) needs only the code of an account with a second factor.
 */
export const ProofField: FC<{ frame: Frame; form: string; kind: ProofKind | null; hasPassword?: boolean; error?: string | undefined }> = (
  p,
) => {
  const { t } = p.frame;
  if (p.kind === "code") {
    return (
      <Field
        form={p.form}
        name={PROOF_CODE_FIELD}
        label={t.text("fields.proof_code.label")}
        hint={t.text("fields.proof_code.hint")}
        error={p.error}
        autocomplete="one-time-code"
        spellcheck={false}
        required
        maxlength={64}
      />
    );
  }
  if (p.kind === "password" && !p.hasPassword) {
    return (
      <Field
        form={p.form}
        name="current_password"
        type="password"
        label={t.text("fields.current_password.label")}
        hint={t.text("account.currentPasswordHint")}
        error={p.error}
        autocomplete="current-password"
        required
      />
    );
  }
  return null;
};
