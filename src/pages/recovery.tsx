import { Hono, type Context } from "hono";
import type { Child, FC } from "hono/jsx";
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
import { person, type PlainKey, type Translator } from "../i18n";
import { formTranslator } from "./language";
import type { NoticeKey } from "./respond";

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

/** The GET address of a mailed link's page, for the language switcher of a page its form's POST rendered. */
export function tokenAddress(path: string, token: string | undefined): string | undefined {
  return token ? `${path}?token=${encodeURIComponent(token)}` : undefined;
}

/** A link that cannot be used: why, and where to get a new one. */
export const DeadLink: FC<{ t: Translator; message: string; next: { href: string; label: string } }> = ({ t, message, next }) => (
  <>
    <div class="alert" role="alert">
      <p>{message}</p>
    </div>
    <p class="links">
      <a href={next.href}>{next.label}</a>
      <a href="/login">{t.text("errors.back")}</a>
    </p>
  </>
);

async function forgotPage(c: Context<AppEnv>, state?: FormState, status = 200, headers: Record<string, string> = {}) {
  const frame = await frameFor(c, null);
  const { t } = frame;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("forgot.title")} failed={state !== undefined}>
      <Notice t={t} notice={noticeOf(c)} />
      <ErrorSummary t={t} state={state} form="forgot" />
      <p>{t.text("forgot.intro")}</p>
      <Form frame={frame} name="forgot" action="/forgot-password">
        <Field
          form="forgot"
          name="email"
          type="email"
          label={t.text("fields.email.label")}
          value={state?.values?.email}
          error={state?.fields?.email}
          autocomplete="email"
          required
          maxlength={254}
        />
        <button type="submit">{t.text("forgot.submit")}</button>
      </Form>
      <p class="links">
        <a href="/login">{t.text("forgot.back")}</a>
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
    const t = formTranslator(c);
    const checked = validate(t, emailBody, { email: values.email ?? "" });
    if (!checked.ok) return forgotPage(c, { fields: checked.fields, values }, 422);
    try {
      await enforceIpLimit(c.var.deps, "forgot_password");
      await requestPasswordReset(c.var.deps, checked.data.email, deviceCookie(c));
      // The same answer whether or not the address has an account (the mail goes out after it).
      return redirectWithNotice(c, "/forgot-password", "reset_sent");
    } catch (error) {
      const failure = failureFrom(t, error);
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
  const frame = await frameFor(c, null, { here: tokenAddress("/reset-password", token) });
  const { t } = frame;
  const usable = await peek(c, "reset", token);
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("reset.title")} failed={state !== undefined || !usable}>
      {usable && token ? (
        <>
          <ErrorSummary t={t} state={state} form="reset" />
          <p>{t.text("reset.intro")}</p>
          <Form frame={frame} name="reset" action="/reset-password">
            <Hidden name="token" value={token} />
            <Field
              form="reset"
              name="new_password"
              type="password"
              label={t.text("fields.new_password.label")}
              hint={t.text("passwordHint", { count: frame.passwordMinLength })}
              error={state?.fields?.new_password}
              autocomplete="new-password"
              required
            />
            <button type="submit">{t.text("reset.submit")}</button>
          </Form>
        </>
      ) : (
        <DeadLink
          t={t}
          message={token ? t.text("errors.invalidLink") : t.text("reset.missing")}
          next={{ href: "/forgot-password", label: t.text("reset.requestNew") }}
        />
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
    const t = formTranslator(c);
    const checked = validate(t, resetPasswordBody, { token: token ?? "", new_password: text(data, "new_password") });
    if (!checked.ok) return resetPage(c, token, { fields: checked.fields }, 422);
    try {
      await enforceIpLimit(c.var.deps, "reset_password");
      await resetPassword(c.var.deps, checked.data);
      // Every session of the account ended, this browser's too if it was signed in to it.
      signOutBrowser(c);
      return redirectWithNotice(c, "/login", "password_reset");
    } catch (error) {
      const failure = failureFrom(t, error);
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
  title: PlainKey;
  intro: (t: Translator, payload: TokenPayload) => Child;
  submit: PlainKey;
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
    const frame = await frameFor(c, await pageSession(c), { here: tokenAddress(spec.path, token) });
    const { t } = frame;
    const payload = await peek(c, spec.purpose, token);
    return renderPage(
      c,
      frame,
      <Layout frame={frame} title={t.text(spec.title)} failed={state !== undefined || !payload}>
        {payload && token ? (
          <>
            <ErrorSummary t={t} state={state} form={spec.form} />
            <p>{spec.intro(t, payload)}</p>
            <Form frame={frame} name={spec.form} action={spec.path}>
              <Hidden name="token" value={token} />
              <button type="submit" class={spec.danger ? "danger" : undefined}>
                {t.text(spec.submit)}
              </button>
            </Form>
          </>
        ) : (
          <DeadLink
            t={t}
            message={token ? t.text("errors.invalidLink") : t.text("revert.missing")}
            next={{ href: "/forgot-password", label: t.text("reset.requestNew") }}
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
      const t = formTranslator(c);
      const checked = validate(t, tokenBody, { token: token ?? "" });
      if (!checked.ok) return page(c, undefined);
      try {
        await enforceIpLimit(c.var.deps, "verify_email");
        await spec.undo(c.var.deps, checked.data.token);
        signOutBrowser(c);
        return redirectWithNotice(c, "/login", spec.notice);
      } catch (error) {
        const failure = failureFrom(t, error);
        return page(c, token, failure.state, failure.status, failure.headers);
      }
    }),
  );
}

revertLinkPages({
  path: "/revert-email-change",
  purpose: "email_revert",
  form: "revert",
  title: "revert.title",
  intro: (t, payload) => (payload.newEmail ? t.rich("revert.intro", { email: person(payload.newEmail) }) : t.text("revert.introUnknown")),
  submit: "revert.submit",
  undo: revertEmailChange,
  notice: "email_restored",
});

revertLinkPages({
  path: "/revert-sign-in",
  purpose: "signin_revert",
  form: "revert_sign_in",
  title: "revertSignIn.title",
  intro: (t) => t.text("revertSignIn.intro"),
  submit: "revertSignIn.submit",
  danger: true,
  undo: revertSignIn,
  notice: "sign_in_reverted",
});

/** The "send me a new link" form, on its own page and on the verify page of a dead link. */
export const ResendForm: FC<{ frame: Frame; state?: FormState | undefined; email?: string | undefined }> = ({ frame, state, email }) => {
  const { t } = frame;
  return (
    <Form frame={frame} name="resend" action="/resend-verification" label={t.text("verify.resendHeading")}>
      <Field
        form="resend"
        name="email"
        type="email"
        label={t.text("fields.email.label")}
        value={state?.values?.email ?? email}
        error={state?.fields?.email}
        autocomplete="email"
        required
        maxlength={254}
      />
      <button type="submit" class="secondary">
        {t.text("verify.resendSubmit")}
      </button>
    </Form>
  );
};

async function resendPage(c: Context<AppEnv>, state?: FormState, status = 200, headers: Record<string, string> = {}) {
  const frame = await frameFor(c, null);
  const { t } = frame;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("verify.resendHeading")} failed={state !== undefined}>
      <ErrorSummary t={t} state={state} form="resend" />
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
    const t = formTranslator(c);
    const checked = validate(t, emailBody, { email: values.email ?? "" });
    if (!checked.ok) return resendPage(c, { fields: checked.fields, values }, 422);
    try {
      await enforceIpLimit(c.var.deps, "resend_verification");
      await resendVerification(c.var.deps, checked.data.email, deviceCookie(c));
      return redirectWithNotice(c, "/login", "verification_sent");
    } catch (error) {
      const failure = failureFrom(t, error);
      return resendPage(c, { ...failure.state, values }, failure.status, failure.headers);
    }
  }),
);
