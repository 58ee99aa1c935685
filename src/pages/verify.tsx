import { Hono, type Context } from "hono";
import { enforceIpLimit } from "../abuse/ip-limits";
import { AppError } from "../errors";
import type { AppEnv } from "../web/context";
import { verifyEmailBody } from "../web/schemas";
import { confirmEmailToken } from "../recovery/email-verification";
import { findOneTimeToken, type TokenPayload, type TokenPurpose } from "../kernel/one-time-tokens";
import { failureFrom, text, validate } from "./forms";
import { ErrorSummary, Field, Form, frameFor, Hidden, Layout, renderPage, type FormState } from "./kit";
import { person } from "../i18n";
import { formTranslator } from "./language";
import { DeadLink, ResendForm, tokenAddress } from "./recovery";
import { formPost, redirectWithNotice } from "./respond";
import { pageSession, signOutBrowser, type PageSession } from "./session";

/**
 * `/verify-email?token=`: the page of both address links, registration and email change (the HTTP contract
 * v1.1). The GET reads the token to know which kind it is and never uses it up. A registration is
 * confirmed only with the password chosen at registration, or by this browser's session of that
 * same account, or by setting a new password (which ends every session and key of the account):
 * whoever registered someone else's address gains nothing from its owner's click.
 */
export const verifyPages = new Hono<AppEnv>();

type Intent = "password" | "new_password";

async function lookUp(c: Context<AppEnv>, token: string | undefined): Promise<{ purpose: TokenPurpose; payload: TokenPayload } | null> {
  if (!token) return null;
  try {
    return await findOneTimeToken(c.var.deps, ["verify", "email_change"], token);
  } catch (error) {
    if (error instanceof AppError) return null;
    throw error;
  }
}

async function verifyPage(
  c: Context<AppEnv>,
  token: string | undefined,
  session: PageSession | null,
  failed?: { intent: Intent; state: FormState; status: number; headers: Record<string, string> },
) {
  const frame = await frameFor(c, session, { here: tokenAddress("/verify-email", token) });
  const { t } = frame;
  const found = await lookUp(c, token);
  const isChange = found?.purpose === "email_change";
  const ownSession = found !== null && session?.user.id === found.payload.userId;
  const stateOf = (intent: Intent) => (failed?.intent === intent ? failed.state : undefined);
  const page =
    found && token ? (
      <>
        <ErrorSummary t={t} state={failed?.state} form={failed?.intent === "new_password" ? "verify_new_password" : "verify"} />
        <p>{t.rich("verify.address", { email: person(found.payload.email) })}</p>
        <p>{isChange ? t.text("verify.changeIntro") : ownSession ? t.text("verify.signedIn") : t.text("verify.intro")}</p>
        <Form frame={frame} name="verify" action="/verify-email">
          <Hidden name="token" value={token} />
          <input type="hidden" name="intent" value="password" />
          {isChange || ownSession ? null : (
            <Field
              form="verify"
              name="password"
              type="password"
              label={t.text("fields.registration_password.label")}
              error={stateOf("password")?.fields?.password}
              autocomplete="current-password"
              required
            />
          )}
          <button type="submit">{t.text("verify.submit")}</button>
        </Form>
        {isChange ? null : (
          <section aria-labelledby="new-password-heading">
            <h2 id="new-password-heading">{t.text("verify.newPasswordHeading")}</h2>
            <p>{t.text("verify.newPasswordIntro")}</p>
            <Form frame={frame} name="verify_new_password" action="/verify-email">
              <Hidden name="token" value={token} />
              <input type="hidden" name="intent" value="new_password" />
              <Field
                form="verify_new_password"
                name="new_password"
                type="password"
                label={t.text("fields.new_password.label")}
                hint={t.text("passwordHint", { count: frame.passwordMinLength })}
                error={stateOf("new_password")?.fields?.new_password}
                autocomplete="new-password"
                required
              />
              <button type="submit" class="secondary">
                {t.text("verify.newPasswordSubmit")}
              </button>
            </Form>
          </section>
        )}
      </>
    ) : (
      <>
        <DeadLink
          t={t}
          message={token ? t.text("errors.invalidLink") : t.text("verify.missing")}
          next={{ href: "/login", label: t.text("nav.signIn") }}
        />
        <section>
          <h2>{t.text("verify.resendHeading")}</h2>
          <ResendForm frame={frame} email={session?.user.email} />
        </section>
      </>
    );
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={isChange ? t.text("verify.changeTitle") : t.text("verify.title")} failed={failed !== undefined || !found}>
      {page}
    </Layout>,
    found ? (failed?.status ?? 200) : 400,
    failed?.headers,
  );
}

verifyPages.get("/verify-email", async (c) => verifyPage(c, c.req.query("token"), await pageSession(c)));

const intentOf = (value: string | undefined): Intent => (value === "new_password" ? "new_password" : "password");

verifyPages.post(
  "/verify-email",
  formPost(
    (data) => (intentOf(text(data, "intent")) === "new_password" ? "verify_new_password" : "verify"),
    async (c, data, session) => {
      const token = text(data, "token");
      const intent = intentOf(text(data, "intent"));
      const password = intent === "password" ? text(data, "password") : undefined;
      const newPassword = intent === "new_password" ? (text(data, "new_password") ?? "") : undefined;
      const t = formTranslator(c);
      const checked = validate(t, verifyEmailBody, { token: token ?? "", password, new_password: newPassword });
      if (!checked.ok) return verifyPage(c, token, session, { intent, state: { fields: checked.fields }, status: 422, headers: {} });
      const { deps } = c.var;
      try {
        await enforceIpLimit(deps, "verify_email");
        const outcome = await confirmEmailToken(deps, checked.data.token, {
          password: checked.data.password,
          newPassword: checked.data.new_password,
          callerUserId: session?.user.id,
        });
        if (outcome === "verified_new_password") {
          // Every session of the account ended; this browser's cookie, if it had one, is dead.
          signOutBrowser(c);
          return redirectWithNotice(c, "/login", "verified_new_password");
        }
        if (outcome === "changed") {
          // Only the session that asked for the change survives it; any other one of the account ended.
          const alive = session ? await pageSession(c) : null;
          return redirectWithNotice(c, alive ? "/account" : "/login", "email_changed");
        }
        return redirectWithNotice(c, session ? "/account" : "/login", "email_verified");
      } catch (error) {
        const failure = failureFrom(t, error, { password_required: "password", invalid_credentials: "password" });
        const code = (error as AppError).code;
        if (code === "password_required") failure.state = { fields: { password: t.text("verify.passwordRequired") } };
        if (code === "invalid_credentials") failure.state = { fields: { password: t.text("verify.wrongPassword") } };
        return verifyPage(c, token, session, { intent, ...failure });
      }
    },
  ),
);
