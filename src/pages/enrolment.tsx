import { Hono, type Context } from "hono";
import { getCookie } from "hono/cookie";
import { confirmTotp, pendingTotpUri, startTotp } from "../accounts/mfa";
import { addPasskey, passkeyCreationOptions } from "../accounts/passkeys";
import { openEnrolment } from "../accounts/sign-in";
import type { FreshnessOf } from "../accounts/fresh-auth";
import type { User } from "../db/schema";
import { AppError } from "../errors";
import { base32Secret } from "../factors/totp";
import type { AppEnv } from "../web/context";
import { addPasskeyBody, enrolmentStartBody, totpConfirmBody } from "../web/schemas";
import { EnrolledPage, EnrolmentPage, type EnrolmentForm } from "./enrolment-view";
import { failureFrom, text, validate, type FieldFor, type FormData } from "./forms";
import { frameFor, renderPage, type FormState } from "./kit";
import { formTranslator } from "./language";
import { credentialOf, optionsPost } from "./passkey-pages";
import { PASSKEY_SCRIPT } from "./passkey-view";
import { afterSignIn, formPost, noticeOf, returnToOf } from "./respond";
import { MFA_COOKIE, secondStepOf, startAgain, withReturn } from "./second-step";
import { COPY_SCRIPT } from "./security-view";
import { pageSession } from "./session";

/**
 * `/login/enrol`: the sign-in of an account that `MFA_REQUIRED` says must have a second factor and
 * that has none (API.md "MFA policy"). The right password earned an enrolment `mfa_token`, kept in
 * the second step's HttpOnly cookie (second-step.tsx) for its 10 minutes; this page lets its holder
 * set up an authenticator app (plain forms) or a passkey (the pages' passkey script), with the
 * services the API's `Authorization: MFA` routes call. The recovery codes come once, and the same
 * token then finishes the sign-in at `/login/verify` with a proof from the new factor.
 */
export const enrolmentPages = new Hono<AppEnv>();

const ENROL = "/login/enrol";

/**
 * The caller the cookie's token stands for; or, when there is nothing to enrol, where the browser
 * goes instead: on to `/login/verify` once a factor is set up (the token now finishes the sign-in
 * there), else back to the password.
 */
async function enrolmentOf(c: Context<AppEnv>, returnTo: string | null): Promise<{ caller: FreshnessOf } | { elsewhere: Response }> {
  const token = getCookie(c, MFA_COOKIE);
  if (!token || token.length > 4096) return { elsewhere: startAgain(c, returnTo) };
  try {
    return { caller: await openEnrolment(c.var.deps, token, "page") };
  } catch (error) {
    if (!(error instanceof AppError && error.code === "invalid_token")) throw error;
  }
  const alive = await secondStepOf(c, token);
  return { elsewhere: alive ? c.redirect(withReturn("/login/verify", returnTo), 303) : startAgain(c, returnTo) };
}

interface Outcome {
  returnTo: string | null;
  notice?: string | null;
  failed?: { form: EnrolmentForm; state: FormState };
  /** The service just mailed the code an administrator's reset asks for. */
  codeSent?: boolean;
  status?: number;
  headers?: Record<string, string>;
}

async function enrolmentPage(c: Context<AppEnv>, caller: FreshnessOf, outcome: Outcome) {
  const { returnTo } = outcome;
  // A page a form's POST answers stands for the GET address (the language switcher's target).
  const frame = await frameFor(c, null, { here: withReturn(ENROL, returnTo) });
  frame.inlineScript = PASSKEY_SCRIPT;
  const uri = await pendingTotpUri(c.var.deps, caller.user);
  const mailbox = caller.user.mfaResetAt === null ? null : outcome.codeSent ? "sent" : "needed";
  const page = (
    <EnrolmentPage
      frame={frame}
      returnTo={returnTo}
      pending={uri ? { uri, secret: base32Secret(uri) } : null}
      mailbox={mailbox}
      notice={outcome.notice ?? null}
      failed={outcome.failed}
    />
  );
  return renderPage(c, frame, page, outcome.status ?? 200, outcome.headers);
}

/** The factor is set up: the recovery codes, shown in this answer only, and on to `/login/verify`. */
async function enrolledPage(
  c: Context<AppEnv>,
  user: User,
  factor: "totp" | "passkey",
  codes: string[] | undefined,
  returnTo: string | null,
) {
  const frame = await frameFor(c, null, { here: withReturn(ENROL, returnTo) });
  if (codes) frame.inlineScript = COPY_SCRIPT;
  return renderPage(c, frame, <EnrolledPage frame={frame} factor={factor} codes={codes} email={user.email} returnTo={returnTo} />);
}

type EnrolmentHandler = (c: Context<AppEnv>, data: FormData, caller: FreshnessOf, returnTo: string | null) => Promise<Response>;

/** A form of the page: its CSRF checks, then the caller of the browser's enrolment (or the browser sent on). */
function enrolmentPost(form: EnrolmentForm, handle: EnrolmentHandler) {
  return formPost(form, async (c, data) => {
    const returnTo = returnToOf(c, text(data, "return_to"));
    const opened = await enrolmentOf(c, returnTo);
    return "caller" in opened ? handle(c, data, opened.caller, returnTo) : opened.elsewhere;
  });
}

/** The page again with a form's problem beside its field; a code the service just mailed is said so. */
function failedForm(
  c: Context<AppEnv>,
  caller: FreshnessOf,
  returnTo: string | null,
  form: EnrolmentForm,
  error: unknown,
  fieldFor: FieldFor,
) {
  if (error instanceof AppError && error.code === "invalid_token") return startAgain(c, returnTo);
  const t = formTranslator(c);
  if (error instanceof AppError && error.code === "email_code_required") {
    // Not a mistake: the next step. The mailed code goes into the field the page now asks for.
    return enrolmentPage(c, caller, { returnTo, codeSent: true, status: error.status });
  }
  const failure = failureFrom(t, error, fieldFor);
  const codeSent = error instanceof AppError && error.code === "invalid_code" && form === "enrol_totp_start";
  return enrolmentPage(c, caller, {
    returnTo,
    codeSent,
    failed: { form, state: failure.state },
    status: failure.status,
    headers: failure.headers,
  });
}

enrolmentPages.get(ENROL, async (c) => {
  const returnTo = returnToOf(c, c.req.query("return_to"));
  if (await pageSession(c)) return afterSignIn(c, returnTo ?? undefined);
  const opened = await enrolmentOf(c, returnTo);
  if ("elsewhere" in opened) return opened.elsewhere;
  return enrolmentPage(c, opened.caller, { returnTo, notice: noticeOf(c) });
});

enrolmentPages.post(
  `${ENROL}/totp`,
  enrolmentPost("enrol_totp_start", async (c, data, caller, returnTo) => {
    const checked = validate(formTranslator(c), enrolmentStartBody, { email_code: text(data, "email_code") });
    if (!checked.ok) {
      return enrolmentPage(c, caller, { returnTo, failed: { form: "enrol_totp_start", state: { fields: checked.fields } }, status: 422 });
    }
    try {
      await startTotp(c.var.deps, caller, checked.data.email_code);
      // The page draws a pending set-up's QR code, so a reload keeps it.
      return c.redirect(withReturn(ENROL, returnTo, { notice: "totp_started" }), 303);
    } catch (error) {
      return failedForm(c, caller, returnTo, "enrol_totp_start", error, { invalid_code: "email_code", validation_failed: "email_code" });
    }
  }),
);

enrolmentPages.post(
  `${ENROL}/totp/confirm`,
  enrolmentPost("enrol_totp_confirm", async (c, data, caller, returnTo) => {
    const checked = validate(formTranslator(c), totpConfirmBody, { code: text(data, "code") ?? "" });
    if (!checked.ok) {
      return enrolmentPage(c, caller, { returnTo, failed: { form: "enrol_totp_confirm", state: { fields: checked.fields } }, status: 422 });
    }
    try {
      const { recovery_codes } = await confirmTotp(c.var.deps, caller, checked.data.code);
      return enrolledPage(c, caller.user, "totp", recovery_codes, returnTo);
    } catch (error) {
      return failedForm(c, caller, returnTo, "enrol_totp_confirm", error, { invalid_code: "code", rate_limited: "code" });
    }
  }),
);

enrolmentPages.post(
  `${ENROL}/passkey-options`,
  optionsPost("enrol_passkey", async (c, data) => {
    const token = getCookie(c, MFA_COOKIE);
    if (!token || token.length > 4096) throw new AppError("invalid_token");
    const caller = await openEnrolment(c.var.deps, token, "page");
    const checked = enrolmentStartBody.safeParse({ email_code: text(data, "email_code") });
    if (!checked.success) throw new AppError("validation_failed");
    return passkeyCreationOptions(c.var.deps, caller, checked.data.email_code);
  }),
);

enrolmentPages.post(
  `${ENROL}/passkey`,
  enrolmentPost("enrol_passkey", async (c, data, caller, returnTo) => {
    const t = formTranslator(c);
    const refused = (status: number) =>
      enrolmentPage(c, caller, {
        returnTo,
        failed: { form: "enrol_passkey", state: { message: t.text("enrolment.passkeyFailed") } },
        status,
      });
    const checked = addPasskeyBody.safeParse({ credential: credentialOf(data) });
    if (!checked.success) return refused(422);
    try {
      const added = await addPasskey(c.var.deps, caller, { credential: checked.data.credential });
      return enrolledPage(c, caller.user, "passkey", added.recovery_codes, returnTo);
    } catch (error) {
      // The registration did not verify (a spent or foreign challenge, a credential already known).
      if (error instanceof AppError && error.code === "validation_failed") return refused(422);
      return failedForm(c, caller, returnTo, "enrol_passkey", error, {});
    }
  }),
);
