import { Hono, type Context } from "hono";
import type { FC } from "hono/jsx";
import { enforceIpLimit } from "../abuse/ip-limits";
import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";
import type { AppEnv } from "../web/context";
import { deviceCookie } from "../web/cookies";
import { emailBody, resetPasswordBody, tokenBody } from "../web/schemas";
import { requestPasswordReset, resetPassword } from "../recovery/password-reset";
import { resendVerification } from "../recovery/email-verification";
import { revertEmailChange } from "../recovery/email-change";
import { revertSignIn } from "../recovery/sign-in-revert";
import { peekOneTimeToken, type TokenPayload } from "../kernel/one-time-tokens";
import { failureFrom, text, validate } from "./forms";
import { ErrorSummary, Field, Form, frameFor, Hidden, Layout, Notice, renderPage, type Frame, type FormState } from "./kit";
import { formPost, noticeOf, redirectWithNotice } from "./respond";
import { pageSession, signOutBrowser } from "./session";
import { strings as s, type NoticeKey } from "./strings";

/**
 * `/forgot-password`, `/reset-password`, `/revert-email-change` and `/resend-verification`. A GET
 * of a mailed link only reads its token (to say at once when it is no longer valid); the token is
 * used up only by the form's POST, so a mail scanner that follows links changes nothing.
 */
export const recoveryPages = new Hono<AppEnv>();

/** The state of a mailed link, read without using it up. */
async function peek(
  c: Context<AppEnv>,
  purpose: "reset" | "email_revert" | "signin_revert",
  token: string | undefined,
): Promise<TokenPayload | null> {
  if (!token) return null;
  try {
    return await peekOneTimeToken(c.var.deps, purpose, token);
  } catch (error) {
    if (error instanceof AppError) return null;
    throw error;
  }
}

/** A link that cannot be used: why, and where to get a new one. */
export const DeadLink: FC<{ message: string; next: { href: string; label: string } }> = ({ message, next }) => (
  <>
    <div class="alert" role="alert">
      <p>{message}</p>
    </div>
    <p class="links">
      <a href={next.href}>{next.label}</a>
      <a href="/login">{s.errors.back}</a>
    </p>
  </>
);

async function forgotPage(c: Context<AppEnv>, state?: FormState, status = 200, headers: Record<string, string> = {}) {
  const frame = await frameFor(c, null);
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={s.forgot.title} failed={state !== undefined}>
      <Notice notice={noticeOf(c)} />
      <ErrorSummary state={state} form="forgot" />
      <p>{s.forgot.intro}</p>
      <Form frame={frame} name="forgot" action="/forgot-password">
        <Field
          form="forgot"
          name="email"
          type="email"
          label={s.fields.email.label}
          value={state?.values?.email}
          error={state?.fields?.email}
          autocomplete="email"
          required
          maxlength={254}
        />
        <button type="submit">{s.forgot.submit}</button>
      </Form>
      <p class="links">
        <a href="/login">{s.forgot.back}</a>
      </p>
    </Layout>,
    status,
    headers,
  );
}

recoveryPages.get("/forgot-password", (c) => forgotPage(c));

recoveryPages.post(
  "/forgot-password",
  formPost("forgot", async (c, data) => {
    const values = { email: text(data, "email") };
    const checked = validate(emailBody, { email: values.email ?? "" });
    if (!checked.ok) return forgotPage(c, { fields: checked.fields, values }, 422);
    try {
      await enforceIpLimit(c.var.deps, "forgot_password");
      await requestPasswordReset(c.var.deps, checked.data.email, deviceCookie(c));
      // The same answer whether or not the address has an account (the mail goes out after it).
      return redirectWithNotice(c, "/forgot-password", "reset_sent");
    } catch (error) {
      const failure = failureFrom(error);
      return forgotPage(c, { ...failure.state, values }, failure.status, failure.headers);
    }
  }),
);

async function resetPage(
  c: Context<AppEnv>,
  token: string | undefined,
  state?: FormState,
  status = 200,
  headers: Record<string, string> = {},
) {
  const frame = await frameFor(c, null);
  const usable = await peek(c, "reset", token);
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={s.reset.title} failed={state !== undefined || !usable}>
      {usable && token ? (
        <>
          <ErrorSummary state={state} form="reset" />
          <p>{s.reset.intro}</p>
          <Form frame={frame} name="reset" action="/reset-password">
            <Hidden name="token" value={token} />
            <Field
              form="reset"
              name="new_password"
              type="password"
              label={s.fields.new_password.label}
              hint={s.passwordHint(frame.passwordMinLength)}
              error={state?.fields?.new_password}
              autocomplete="new-password"
              required
            />
            <button type="submit">{s.reset.submit}</button>
          </Form>
        </>
      ) : (
        <DeadLink message={token ? s.errors.invalidLink : s.reset.missing} next={{ href: "/forgot-password", label: s.reset.requestNew }} />
      )}
    </Layout>,
    usable ? status : 400,
    headers,
  );
}

recoveryPages.get("/reset-password", (c) => resetPage(c, c.req.query("token")));

recoveryPages.post(
  "/reset-password",
  formPost("reset", async (c, data) => {
    const token = text(data, "token");
    const checked = validate(resetPasswordBody, { token: token ?? "", new_password: text(data, "new_password") });
    if (!checked.ok) return resetPage(c, token, { fields: checked.fields }, 422);
    try {
      await enforceIpLimit(c.var.deps, "reset_password");
      await resetPassword(c.var.deps, checked.data);
      // Every session of the account ended, this browser's too if it was signed in to it.
      signOutBrowser(c);
      return redirectWithNotice(c, "/login", "password_reset");
    } catch (error) {
      const failure = failureFrom(error);
      return resetPage(c, token, failure.state, failure.status, failure.headers);
    }
  }),
);

/**
 * A "this wasn't me" link (after an email change, or a new sign-in): a GET shows what confirming
 * does without using the link up; the form's POST runs `undo`, signs this browser out and sends it
 * to the sign-in page.
 */
function revertLinkPages(spec: {
  path: "/revert-email-change" | "/revert-sign-in";
  purpose: "email_revert" | "signin_revert";
  form: "revert" | "revert_sign_in";
  title: string;
  intro: (payload: TokenPayload) => string;
  submit: string;
  danger?: boolean;
  undo: (deps: Deps, token: string) => Promise<void>;
  notice: NoticeKey;
}) {
  async function page(
    c: Context<AppEnv>,
    token: string | undefined,
    state?: FormState,
    status = 200,
    headers: Record<string, string> = {},
  ) {
    const frame = await frameFor(c, await pageSession(c));
    const payload = await peek(c, spec.purpose, token);
    return renderPage(
      c,
      frame,
      <Layout frame={frame} title={spec.title} failed={state !== undefined || !payload}>
        {payload && token ? (
          <>
            <ErrorSummary state={state} form={spec.form} />
            <p>{spec.intro(payload)}</p>
            <Form frame={frame} name={spec.form} action={spec.path}>
              <Hidden name="token" value={token} />
              <button type="submit" class={spec.danger ? "danger" : undefined}>
                {spec.submit}
              </button>
            </Form>
          </>
        ) : (
          <DeadLink
            message={token ? s.errors.invalidLink : s.revert.missing}
            next={{ href: "/forgot-password", label: s.reset.requestNew }}
          />
        )}
      </Layout>,
      payload ? status : 400,
      headers,
    );
  }

  recoveryPages.get(spec.path, (c) => page(c, c.req.query("token")));
  recoveryPages.post(
    spec.path,
    formPost(spec.form, async (c, data) => {
      const token = text(data, "token");
      const checked = validate(tokenBody, { token: token ?? "" });
      if (!checked.ok) return page(c, undefined);
      try {
        await enforceIpLimit(c.var.deps, "verify_email");
        await spec.undo(c.var.deps, checked.data.token);
        signOutBrowser(c);
        return redirectWithNotice(c, "/login", spec.notice);
      } catch (error) {
        const failure = failureFrom(error);
        return page(c, token, failure.state, failure.status, failure.headers);
      }
    }),
  );
}

revertLinkPages({
  path: "/revert-email-change",
  purpose: "email_revert",
  form: "revert",
  title: s.revert.title,
  intro: (payload) => (payload.newEmail ? s.revert.intro(payload.newEmail) : s.revert.introUnknown),
  submit: s.revert.submit,
  undo: revertEmailChange,
  notice: "email_restored",
});

revertLinkPages({
  path: "/revert-sign-in",
  purpose: "signin_revert",
  form: "revert_sign_in",
  title: s.revertSignIn.title,
  intro: () => s.revertSignIn.intro,
  submit: s.revertSignIn.submit,
  danger: true,
  undo: revertSignIn,
  notice: "sign_in_reverted",
});

/** The "send me a new link" form, on its own page and on the verify page of a dead link. */
export const ResendForm: FC<{ frame: Frame; state?: FormState | undefined; email?: string | undefined }> = ({ frame, state, email }) => (
  <Form frame={frame} name="resend" action="/resend-verification" label={s.verify.resendHeading}>
    <Field
      form="resend"
      name="email"
      type="email"
      label={s.fields.email.label}
      value={state?.values?.email ?? email}
      error={state?.fields?.email}
      autocomplete="email"
      required
      maxlength={254}
    />
    <button type="submit" class="secondary">
      {s.verify.resendSubmit}
    </button>
  </Form>
);

async function resendPage(c: Context<AppEnv>, state?: FormState, status = 200, headers: Record<string, string> = {}) {
  const frame = await frameFor(c, null);
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={s.verify.resendHeading} failed={state !== undefined}>
      <ErrorSummary state={state} form="resend" />
      <ResendForm frame={frame} state={state} />
    </Layout>,
    status,
    headers,
  );
}

recoveryPages.get("/resend-verification", (c) => resendPage(c));

recoveryPages.post(
  "/resend-verification",
  formPost("resend", async (c, data) => {
    const values = { email: text(data, "email") };
    const checked = validate(emailBody, { email: values.email ?? "" });
    if (!checked.ok) return resendPage(c, { fields: checked.fields, values }, 422);
    try {
      await enforceIpLimit(c.var.deps, "resend_verification");
      await resendVerification(c.var.deps, checked.data.email, deviceCookie(c));
      return redirectWithNotice(c, "/login", "verification_sent");
    } catch (error) {
      const failure = failureFrom(error);
      return resendPage(c, { ...failure.state, values }, failure.status, failure.headers);
    }
  }),
);
