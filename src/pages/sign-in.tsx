import { Hono, type Context } from "hono";
import { challengeSiteKey } from "../abuse/challenge";
import { enforceIpLimit } from "../abuse/ip-limits";
import { logIn, refusedAsDeactivated } from "../accounts/login";
import { registerUser } from "../accounts/registration";
import { AppError } from "../errors";
import type { AppEnv } from "../web/context";
import { deviceCookie } from "../web/cookies";
import { loginBody, registerBody } from "../web/schemas";
import { logOut } from "../sessions/sessions";
import { failureFrom, text, validate, type FormData } from "./forms";
import { ErrorSummary, Field, Form, frameFor, Hidden, Layout, Notice, renderPage, TurnstileWidget, type FormState } from "./kit";
import { afterSignIn, formPost, noticeOf, redirectWithNotice, returnToOf } from "./respond";
import { formTranslator } from "./language";
import { person, type Translator } from "../i18n";
import { isSecondStep, toSecondStep } from "./second-step";
import { PASSKEY_SCRIPT, PasskeyForm } from "./passkey-view";
import { ProviderButtons } from "./external-view";
import { pageSession, signInBrowser, signOutBrowser, type PageSession } from "./session";

/** `/login`, `/register` and `/logout`. */
export const signInPages = new Hono<AppEnv>();

interface LoginView {
  returnTo?: string | undefined;
  notice?: string | null;
  state?: FormState;
  /** Offer a new verification link (the address is not confirmed yet). */
  offerResend?: boolean;
  /** The identifier to fill in (an OpenID client's `login_hint`). */
  identifier?: string | undefined;
}

/** The sign-in page, with its passkey button (and the passkeys in the identifier's autofill) where script runs. */
export async function loginPage(c: Context<AppEnv>, view: LoginView, status = 200, headers: Record<string, string> = {}) {
  const frame = await frameFor(c, null);
  const siteKey = await challengeSiteKey(c.var.deps);
  if (siteKey) frame.turnstileSiteKey = siteKey;
  frame.inlineScript = PASSKEY_SCRIPT;
  const { state } = view;
  const { t } = frame;
  const values = state?.values ?? (view.identifier ? { identifier: view.identifier } : {});
  const returnTo = returnToOf(c, view.returnTo);
  const withReturn = (path: string) => (returnTo ? `${path}?return_to=${encodeURIComponent(returnTo)}` : path);
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("login.title")} failed={state !== undefined}>
      <Notice t={t} notice={view.notice} />
      <ErrorSummary t={t} state={state} form="login" />
      <Form frame={frame} name="login" action="/login">
        <Hidden name="return_to" value={returnTo} />
        <Field
          form="login"
          name="identifier"
          label={t.text("fields.identifier.label")}
          value={values.identifier}
          error={state?.fields?.identifier}
          autocomplete="username webauthn"
          required
          maxlength={254}
        />
        <Field
          form="login"
          name="password"
          type="password"
          label={t.text("fields.password.label")}
          error={state?.fields?.password}
          autocomplete="current-password"
          required
        />
        <TurnstileWidget frame={frame} />
        <button type="submit">{t.text("login.submit")}</button>
      </Form>
      <PasskeyForm
        frame={frame}
        name="login_passkey"
        action="/login/passkey"
        ceremony="get"
        options="/api/v1/auth/passkey/options"
        failed={t.text("login.passkeyCancelled")}
        returnTo={returnTo}
        conditional
      >
        <button type="submit" class="secondary">
          {t.text("login.passkey")}
        </button>
      </PasskeyForm>
      <ProviderButtons frame={frame} providers={c.var.deps.config.oauthProviders} returnTo={returnTo} />
      {view.offerResend ? (
        <Form frame={frame} name="resend" action="/resend-verification" label={t.text("verify.resendHeading")}>
          <Hidden name="email" value={values.identifier} />
          <button type="submit" class="secondary">
            {t.text("verify.resendSubmit")}
          </button>
        </Form>
      ) : null}
      <p class="links">
        {c.var.deps.config.emailCode.signIn ? <a href={withReturn("/login/email")}>{t.text("emailCode.offer")}</a> : null}
        <a href="/forgot-password">{t.text("login.forgot")}</a>
        <a href={withReturn("/register")}>{t.text("login.register")}</a>
      </p>
    </Layout>,
    status,
    headers,
  );
}

signInPages.get("/login", async (c) => {
  const returnTo = c.req.query("return_to");
  // `reauth`: an OpenID client asked for a new sign-in (`prompt=login`, `max_age`): the form even with a session.
  if (c.req.query("reauth") !== "1" && (await pageSession(c))) return afterSignIn(c, returnTo);
  // `login_hint` of an OpenID client's request: the identifier filled in (the person may change it).
  const hint = c.req.query("login_hint")?.slice(0, 254);
  return loginPage(c, { returnTo, notice: noticeOf(c), identifier: hint });
});

signInPages.post(
  "/login",
  formPost("login", async (c, data) => {
    const identifier = text(data, "identifier")?.trim() ?? "";
    const password = text(data, "password");
    const returnTo = text(data, "return_to");
    const values = { identifier };
    const input = identifier.includes("@") ? { email: identifier, password } : { username: identifier || undefined, password };
    const t = formTranslator(c);
    const checked = validate(t, loginBody, input, { email: "identifier", username: "identifier" });
    if (!checked.ok || !identifier) {
      // zod skips the either-or rule while another field is bad: the empty identifier is named here.
      const fields = { ...(identifier ? {} : { identifier: t.text("fields.identifier.invalid") }), ...(checked.ok ? {} : checked.fields) };
      return loginPage(c, { returnTo, state: { fields, values } }, 422);
    }
    const { deps } = c.var;
    try {
      // The widget adds `cf-turnstile-response` (empty until solved); without it, no script ran.
      const answer = text(data, "cf-turnstile-response")?.slice(0, 2048);
      const signedIn = await logIn(deps, {
        ...checked.data,
        device_token: deviceCookie(c),
        turnstile_token: answer,
        noScript: !("cf-turnstile-response" in data),
        channel: "page",
      });
      signInBrowser(c, signedIn);
      return afterSignIn(c, returnTo);
    } catch (error) {
      // The right password of an account with a second factor (or one policy requires): on to the second step.
      if (isSecondStep(error)) return toSecondStep(c, error, returnTo);
      const failure = failureFrom(t, error);
      const code = (error as AppError).code;
      if (code === "invalid_credentials") failure.state = { message: t.text("login.invalid") };
      // The right password of a deactivated account: its owner learns why, and whom to ask.
      if (refusedAsDeactivated(error)) failure.state = { message: deactivatedMessage(t, c.var.deps.config.branding.supportEmail) };
      if (code === "challenge_required") failure.state = { message: t.text("login.challenge") };
      if (code === "account_locked") {
        const wait = (error as AppError).retryAfter ?? 0;
        failure.state = { message: wait > 0 ? t.text("login.locked", { duration: t.duration(wait) }) : t.text("login.lockedHard") };
      }
      const offerResend = code === "email_not_verified" && identifier.includes("@");
      return loginPage(c, { returnTo, state: { ...failure.state, values }, offerResend }, failure.status, failure.headers);
    }
  }),
);

/** What a deactivated account's owner is told after the right password: the support address when there is one. */
function deactivatedMessage(t: Translator, supportEmail: string | undefined): string {
  return supportEmail ? t.text("login.deactivatedContact", { email: person(supportEmail) }) : t.text("login.deactivatedAdmin");
}

async function registerPage(c: Context<AppEnv>, returnTo: string | undefined, state?: FormState, status = 200) {
  const frame = await frameFor(c, null);
  const { t } = frame;
  const values = state?.values ?? {};
  const checkedReturn = returnToOf(c, returnTo);
  const field = (name: string) => ({ form: "register", name, value: values[name], error: state?.fields?.[name] });
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("register.title")} failed={state !== undefined}>
      <ErrorSummary t={t} state={state} form="register" />
      <Form frame={frame} name="register" action="/register">
        <Hidden name="return_to" value={checkedReturn} />
        <Field {...field("full_name")} label={t.text("fields.full_name.label")} autocomplete="name" required maxlength={255} />
        <Field {...field("email")} type="email" label={t.text("fields.email.label")} autocomplete="email" required maxlength={254} />
        <Field
          {...field("username")}
          label={t.text("fields.username.label")}
          hint={t.text("fields.username.hint")}
          autocomplete="username"
          maxlength={50}
        />
        <Field
          {...field("password")}
          type="password"
          label={t.text("fields.password.label")}
          hint={t.text("passwordHint", { count: frame.passwordMinLength })}
          autocomplete="new-password"
          required
        />
        <button type="submit">{t.text("register.submit")}</button>
      </Form>
      <ProviderButtons frame={frame} providers={c.var.deps.config.oauthProviders} returnTo={checkedReturn} />
      <p class="links">
        {t.rich("register.haveAccount", null, {
          link: (children) => <a href={checkedReturn ? `/login?return_to=${encodeURIComponent(checkedReturn)}` : "/login"}>{children}</a>,
        })}
      </p>
    </Layout>,
    status,
  );
}

signInPages.get("/register", async (c) => {
  const returnTo = c.req.query("return_to");
  if (await pageSession(c)) return afterSignIn(c, returnTo);
  return registerPage(c, returnTo);
});

signInPages.post(
  "/register",
  formPost("register", async (c, data) => {
    const values = { full_name: text(data, "full_name"), email: text(data, "email"), username: text(data, "username") };
    const returnTo = text(data, "return_to");
    const input = { ...values, full_name: values.full_name ?? "", email: values.email ?? "", password: text(data, "password") };
    const t = formTranslator(c);
    const checked = validate(t, registerBody, input);
    if (!checked.ok) return registerPage(c, returnTo, { fields: checked.fields, values }, 422);
    const { deps } = c.var;
    try {
      await enforceIpLimit(deps, "register");
      const result = await registerUser(deps, checked.data, "page");
      // MFA_REQUIRED=all: the new account sets up its second factor before its first session.
      if (result.kind === "accepted" && result.next === "enrol" && result.enrolment) return toSecondStep(c, result.enrolment, returnTo);
      if (result.kind === "accepted") return redirectWithNotice(c, "/login", "check_inbox");
      signInBrowser(c, result.tokens);
      return afterSignIn(c, returnTo, "welcome");
    } catch (error) {
      const failure = failureFrom(t, error, { email_taken: "email", username_taken: "username" });
      const code = (error as AppError).code;
      if (code === "email_taken") failure.state.fields = { email: t.text("register.emailTaken") };
      if (code === "username_taken") failure.state.fields = { username: t.text("register.usernameTaken") };
      return registerPage(c, returnTo, { ...failure.state, values }, failure.status);
    }
  }),
);

signInPages.get("/logout", async (c) => {
  const session = await pageSession(c);
  const frame = await frameFor(c, session);
  const { t } = frame;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("logout.title")}>
      <Notice t={t} notice={noticeOf(c)} />
      {session ? (
        <>
          <p>{t.text("logout.intro")}</p>
          <Form frame={frame} name="logout" action="/logout" class="inline">
            <button type="submit">{t.text("logout.submit")}</button>
          </Form>{" "}
          <Form frame={frame} name="logout" action="/logout" class="inline">
            <input type="hidden" name="scope" value="all" />
            <button type="submit" class="secondary">
              {t.text("logout.everywhere")}
            </button>
          </Form>
        </>
      ) : (
        <p>
          {t.text("logout.signedOut")} <a href="/login">{t.text("nav.signIn")}</a>
        </p>
      )}
    </Layout>,
  );
});

/** POST /logout: ends this browser's session (`scope=all`: every session of the account), then the sign-in page. */
async function signOut(c: Context<AppEnv>, data: FormData, session: PageSession | null) {
  const everywhere = text(data, "scope") === "all";
  if (session) await logOut(c.var.deps, { userId: session.user.id, sessionId: session.sessionId }, { everywhere });
  signOutBrowser(c);
  return redirectWithNotice(c, "/login", everywhere && session ? "signed_out_everywhere" : "signed_out");
}

signInPages.post(
  "/logout",
  formPost("logout", (c, data, session) => signOut(c, data, session)),
);
