import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { completeSecondStep, openSecondStep } from "../accounts/sign-in";
import { AppError } from "../errors";
import { MFA_TOKEN_TTL_MS } from "../factors/mfa-tokens";
import type { AppEnv } from "../web/context";
import { totpConfirmBody } from "../web/schemas";
import { failureFrom, text, validate } from "./forms";
import { ErrorSummary, Field, Form, frameFor, Hidden, Layout, renderPage, type FormState } from "./kit";
import { formTranslator } from "./language";
import { afterSignIn, formPost, returnToOf } from "./respond";
import { pageSession, signInBrowser } from "./session";
import { PASSKEY_SCRIPT, PasskeyForm } from "./passkey-view";

/**
 * `/login/verify`: the second step of a page sign-in (API.md v1.2 "One sign-in model"). The right
 * password of an account with a second factor signs nothing in: the `mfa_token` it earned waits in
 * an HttpOnly cookie (never in a URL or the page, so nothing the page shows or logs can leak it),
 * bound to this browser, for 5 minutes. This page takes a code from the authenticator app, or a
 * recovery code, and then signs the browser in as the password page does.
 */
export const secondStepPages = new Hono<AppEnv>();

export const MFA_COOKIE = "__Host-gh_mfa";
/** Strict: only this site's own forms ever send the token back. */
export const mfaCookieOptions = { httpOnly: true, secure: true, sameSite: "Strict", path: "/" } as const;

type Method = "totp" | "recovery_code";

const methodOf = (raw: string | undefined): Method => (raw === "recovery_code" ? "recovery_code" : "totp");

const withReturn = (path: string, returnTo: string | null, query: Record<string, string> = {}) => {
  const params = new URLSearchParams(query);
  if (returnTo) params.set("return_to", returnTo);
  const search = params.toString();
  return search ? `${path}?${search}` : path;
};

/** The answer to a right password that needs a second step: the token in its cookie, the browser on to `/login/verify`. */
export function toSecondStep(c: Context<AppEnv>, error: AppError, returnTo: string | undefined): Response {
  const token = error.extensions.mfa_token;
  if (!token) throw error;
  setCookie(c, MFA_COOKIE, token, { ...mfaCookieOptions, maxAge: MFA_TOKEN_TTL_MS.sign_in / 1000 });
  return c.redirect(withReturn("/login/verify", returnToOf(c, returnTo)), 303);
}

/** Back to the password: the second step's token is gone (expired, used, or wrong too often). */
export function startAgain(c: Context<AppEnv>, returnTo: string | null): Response {
  deleteCookie(c, MFA_COOKIE, mfaCookieOptions);
  return c.redirect(withReturn("/login", returnTo, { notice: "second_step_expired" }), 303);
}

export async function secondStepPage(
  c: Context<AppEnv>,
  view: { method: Method; returnTo: string | null; state?: FormState; passkey: boolean },
  status = 200,
  headers: Record<string, string> = {},
) {
  const frame = await frameFor(c, null);
  const { t } = frame;
  const { method, returnTo, state } = view;
  const app = method === "totp";
  // The account has a passkey: offer it, through the one script this page then carries.
  if (view.passkey) frame.inlineScript = PASSKEY_SCRIPT;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("secondStep.title")} failed={state !== undefined}>
      <ErrorSummary t={t} state={state} form="login_verify" />
      <p>{t.text(app ? "secondStep.intro" : "secondStep.recoveryIntro")}</p>
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
      {view.passkey ? (
        <PasskeyForm
          frame={frame}
          name="login_verify_passkey"
          action="/login/verify/passkey"
          ceremony="get"
          options="/login/verify/passkey-options"
          failed={t.text("secondStep.passkeyCancelled")}
          returnTo={returnTo}
        >
          <button type="submit" class="secondary">
            {t.text("secondStep.usePasskey")}
          </button>
        </PasskeyForm>
      ) : null}
      <p class="links">
        <a href={withReturn("/login/verify", returnTo, app ? { method: "recovery_code" } : {})}>
          {t.text(app ? "secondStep.useRecoveryCode" : "secondStep.useApp")}
        </a>
        <a href={withReturn("/login", returnTo)}>{t.text("secondStep.startAgain")}</a>
      </p>
    </Layout>,
    status,
    headers,
  );
}

/** Whether the second step of this token can take a passkey; null when the token is dead. */
async function offersPasskey(c: Context<AppEnv>, token: string): Promise<boolean | null> {
  try {
    const step = await openSecondStep(c.var.deps, token, "page");
    return step.user.secondFactors.includes("passkey");
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
  const passkey = await offersPasskey(c, token);
  if (passkey === null) return startAgain(c, returnTo);
  return secondStepPage(c, { method: methodOf(c.req.query("method")), returnTo, passkey });
});

secondStepPages.post(
  "/login/verify",
  formPost("login_verify", async (c, data) => {
    const method = methodOf(text(data, "method"));
    const returnTo = returnToOf(c, text(data, "return_to"));
    const token = getCookie(c, MFA_COOKIE);
    if (!token || token.length > 4096) return startAgain(c, returnTo);
    const t = formTranslator(c);
    const words = { code: { invalid: t.text(method === "totp" ? "fields.code.invalid" : "fields.recovery_code.invalid") } };
    const checked = validate(t, totpConfirmBody, { code: text(data, "code") ?? "" }, {}, words);
    const passkey = (await offersPasskey(c, token)) ?? false;
    if (!checked.ok) return secondStepPage(c, { method, returnTo, state: { fields: checked.fields }, passkey }, 422);
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
      return secondStepPage(c, { method, returnTo, state: failure.state, passkey }, failure.status, failure.headers);
    }
  }),
);
