import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { FC } from "hono/jsx";
import { completeSecondStep, openSecondStep } from "../accounts/sign-in";
import { AppError } from "../errors";
import { isEnrolment, MFA_TOKEN_TTL_MS } from "../factors/mfa-tokens";
import type { AppEnv } from "../web/context";
import { totpConfirmBody } from "../web/schemas";
import { failureFrom, text, validate } from "./forms";
import { ErrorSummary, Field, Form, frameFor, Hidden, Layout, renderPage, type FormState, type Frame } from "./kit";
import { formTranslator } from "./language";
import { afterSignIn, formPost, returnToOf } from "./respond";
import { pageSession, signInBrowser } from "./session";
import { PASSKEY_SCRIPT, PasskeyForm } from "./passkey-view";

/**
 * `/login/verify`: the second step of a page sign-in (API.md v1.2 "One sign-in model"). The right
 * password of an account with a second factor signs nothing in: the `mfa_token` it earned waits in
 * an HttpOnly cookie (never in a URL or the page, so nothing the page shows or logs can leak it),
 * bound to this browser, for 5 minutes. This page takes a code from the authenticator app, or a
 * recovery code, and then signs the browser in as the password page does. An account that policy
 * requires to have a second factor, and has none, sets one up first (`/login/enrol`, enrolment.tsx)
 * and then comes here to prove it with the same token.
 */
export const secondStepPages = new Hono<AppEnv>();

export const MFA_COOKIE = "__Host-gh_mfa";
/** Strict: only this site's own forms ever send the token back. */
export const mfaCookieOptions = { httpOnly: true, secure: true, sameSite: "Strict", path: "/" } as const;

type Method = "totp" | "recovery_code";

const methodOf = (raw: string | undefined): Method => (raw === "recovery_code" ? "recovery_code" : "totp");

/** `path` with `query` and the checked `return_to` the sign-in carries from page to page. */
export const withReturn = (path: string, returnTo: string | null, query: Record<string, string> = {}) => {
  const params = new URLSearchParams(query);
  if (returnTo) params.set("return_to", returnTo);
  const search = params.toString();
  return search ? `${path}?${search}` : path;
};

/** Whether a first factor's answer is a second step: prove the account's second factor, or (policy) enrol one first. */
export function isSecondStep(error: unknown): error is AppError {
  return error instanceof AppError && (error.code === "mfa_required" || error.code === "mfa_enrollment_required");
}

/**
 * The answer to a right password that needs a second step: the token in its cookie, the browser on
 * to `/login/verify`, or to `/login/enrol` when the account must first set up the second factor
 * policy requires (its token lives 10 minutes, and so does the cookie: a set-up takes longer than a code).
 */
export function toSecondStep(c: Context<AppEnv>, error: AppError, returnTo: string | undefined): Response {
  const token = error.extensions.mfa_token;
  if (!token) throw error;
  const enrol = error.code === "mfa_enrollment_required";
  setCookie(c, MFA_COOKIE, token, { ...mfaCookieOptions, maxAge: MFA_TOKEN_TTL_MS[enrol ? "enrol" : "sign_in"] / 1000 });
  return c.redirect(withReturn(enrol ? "/login/enrol" : "/login/verify", returnToOf(c, returnTo)), 303);
}

/** Back to the password: the second step's token is gone (expired, used, or wrong too often). */
export function startAgain(c: Context<AppEnv>, returnTo: string | null): Response {
  deleteCookie(c, MFA_COOKIE, mfaCookieOptions);
  return c.redirect(withReturn("/login", returnTo, { notice: "second_step_expired" }), 303);
}

/** What the second step of a live token can take. */
export interface SecondStepView {
  /** The account has a passkey: the page offers it. */
  passkey: boolean;
  /** The account has an authenticator app. */
  app: boolean;
  /**
   * The token is an enrolment's (policy, `/login/enrol`): the sign-in is finished with the factor
   * just set up (never a recovery code), and until one is set up there is nothing to prove here.
   */
  enrolment: boolean;
}

/** An enrolment whose factor is not set up yet: its place is `/login/enrol`. */
const awaitsEnrolment = (step: SecondStepView) => step.enrolment && !step.app && !step.passkey;

/** The method the page asks for: an enrolment is finished with the new app's code, never a recovery code. */
const methodFor = (step: SecondStepView, raw: string | undefined): Method => (step.enrolment ? "totp" : methodOf(raw));

function introOf(step: SecondStepView, app: boolean) {
  if (!step.enrolment) return app ? "secondStep.intro" : "secondStep.recoveryIntro";
  return step.app ? "enrolment.verifyIntro" : "enrolment.verifyPasskeyIntro";
}

export async function secondStepPage(
  c: Context<AppEnv>,
  view: { method: Method; returnTo: string | null; state?: FormState; step: SecondStepView },
  status = 200,
  headers: Record<string, string> = {},
) {
  const frame = await frameFor(c, null);
  const { t } = frame;
  const { method, returnTo, state, step } = view;
  const app = method === "totp";
  // A code form, unless an enrolment set up a passkey (its sign-in takes that passkey alone).
  const codes = !step.enrolment || step.app;
  // The account has a passkey: offer it, through the one script this page then carries.
  if (step.passkey) frame.inlineScript = PASSKEY_SCRIPT;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("secondStep.title")} failed={state !== undefined}>
      <ErrorSummary t={t} state={state} form="login_verify" />
      <p>{t.text(introOf(step, app))}</p>
      {codes ? <CodeForm frame={frame} method={method} returnTo={returnTo} state={state} /> : null}
      {step.passkey ? (
        <PasskeyForm
          frame={frame}
          name="login_verify_passkey"
          action="/login/verify/passkey"
          ceremony="get"
          options="/login/verify/passkey-options"
          failed={t.text(codes ? "secondStep.passkeyCancelled" : "enrolment.verifyPasskeyCancelled")}
          returnTo={returnTo}
        >
          <button type="submit" class={codes ? "secondary" : undefined}>
            {t.text("secondStep.usePasskey")}
          </button>
        </PasskeyForm>
      ) : null}
      <p class="links">
        {step.enrolment ? null : (
          <a href={withReturn("/login/verify", returnTo, app ? { method: "recovery_code" } : {})}>
            {t.text(app ? "secondStep.useRecoveryCode" : "secondStep.useApp")}
          </a>
        )}
        <a href={withReturn("/login", returnTo)}>{t.text("secondStep.startAgain")}</a>
      </p>
    </Layout>,
    status,
    headers,
  );
}

const CodeForm: FC<{ frame: Frame; method: Method; returnTo: string | null; state: FormState | undefined }> = (p) => {
  const { frame, method, returnTo, state } = p;
  const { t } = frame;
  const app = method === "totp";
  return (
    <Form frame={frame} name="login_verify" action="/login/verify">
      <Hidden name="return_to" value={returnTo} />
      <Hidden name="method" value={method} />
      <Field
        form="login_verify"
        name="code"
        label={t.text(app ? "fields.code.label" : "fields.recovery_code.label")}
        hint={t.text(app ? "fields.code.hint" : "fields.recovery_code.hint")}
        error={state?.fields?.code}
        autocomplete="one-time-code"
        inputmode={app ? "numeric" : "text"}
        spellcheck={false}
        required
        maxlength={app ? 10 : 64}
      />
      <button type="submit">{t.text("secondStep.submit")}</button>
    </Form>
  );
};

/** What the second step of this token can take; null when the token is dead. */
export async function secondStepOf(c: Context<AppEnv>, token: string): Promise<SecondStepView | null> {
  try {
    const { user, claims } = await openSecondStep(c.var.deps, token, "page");
    const factors = user.secondFactors;
    return { passkey: factors.includes("passkey"), app: factors.includes("totp"), enrolment: isEnrolment(claims) };
  } catch (error) {
    if (error instanceof AppError && error.code === "invalid_token") return null;
    throw error;
  }
}

secondStepPages.get("/login/verify", async (c) => {
  const returnTo = returnToOf(c, c.req.query("return_to"));
  if (await pageSession(c)) return afterSignIn(c, returnTo ?? undefined);
  const token = getCookie(c, MFA_COOKIE);
  if (!token || token.length > 4096) return startAgain(c, returnTo);
  const step = await secondStepOf(c, token);
  if (!step) return startAgain(c, returnTo);
  if (awaitsEnrolment(step)) return c.redirect(withReturn("/login/enrol", returnTo), 303);
  return secondStepPage(c, { method: methodFor(step, c.req.query("method")), returnTo, step });
});

secondStepPages.post(
  "/login/verify",
  formPost("login_verify", async (c, data) => {
    const returnTo = returnToOf(c, text(data, "return_to"));
    const token = getCookie(c, MFA_COOKIE);
    if (!token || token.length > 4096) return startAgain(c, returnTo);
    const step = await secondStepOf(c, token);
    if (!step) return startAgain(c, returnTo);
    if (awaitsEnrolment(step)) return c.redirect(withReturn("/login/enrol", returnTo), 303);
    const method = methodFor(step, text(data, "method"));
    const t = formTranslator(c);
    const words = { code: { invalid: t.text(method === "totp" ? "fields.code.invalid" : "fields.recovery_code.invalid") } };
    const checked = validate(t, totpConfirmBody, { code: text(data, "code") ?? "" }, {}, words);
    if (!checked.ok) return secondStepPage(c, { method, returnTo, state: { fields: checked.fields }, step }, 422);
    try {
      const signedIn = await completeSecondStep(c.var.deps, token, { method, code: checked.data.code }, "page");
      deleteCookie(c, MFA_COOKIE, mfaCookieOptions);
      signInBrowser(c, signedIn);
      return afterSignIn(c, returnTo ?? undefined);
    } catch (error) {
      if (error instanceof AppError && error.code === "invalid_token") return startAgain(c, returnTo);
      // A wrong code leaves the token alive (until its fifth wrong answer): the person tries again here.
      const failure = failureFrom(t, error, { invalid_code: "code", rate_limited: "code" });
      if (error instanceof AppError && error.code === "rate_limited") {
        failure.state = { fields: { code: t.text("secondStep.rateLimited", { duration: t.duration(error.retryAfter ?? 60) }) } };
      }
      return secondStepPage(c, { method, returnTo, state: failure.state, step }, failure.status, failure.headers);
    }
  }),
);
