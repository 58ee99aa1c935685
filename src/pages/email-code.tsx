import { Hono, type Context } from "hono";
import type { FC } from "hono/jsx";
import { z } from "zod";
import { challengeSiteKey } from "../abuse/challenge";
import type { SignedIn } from "../accounts/sign-in";
import { AppError } from "../errors";
import { person } from "../i18n";
import { requestEmailCode, verifyEmailCode } from "../recovery/email-sign-in";
import type { AppEnv } from "../web/context";
import { deviceCookie } from "../web/cookies";
import { emailBody, fullNameField } from "../web/schemas";
import { failureFrom, text, validate, type Failure, type FormData } from "./forms";
import {
  ErrorSummary,
  Field,
  Form,
  frameFor,
  Hidden,
  Layout,
  Notice,
  renderPage,
  TurnstileWidget,
  type Frame,
  type FormState,
} from "./kit";
import { formTranslator } from "./language";
import { afterSignIn, formPost, noticeOf, returnToOf } from "./respond";
import { isSecondStep, toSecondStep, withReturn } from "./second-step";
import { pageSession, signInBrowser } from "./session";

/**
 * `/login/email` and `/login/email/code`: signing in with a code mailed to the address (API.md v1.2
 * "Email codes and magic links"), without script. The first page asks for the address; the second
 * takes the code. Neither says whether the address has an account: the code page says the same
 * for every address, and the mail goes out after the answer (the service's part).
 */
export const emailCodePages = new Hono<AppEnv>();

/** Codes are 8 digits; people copy them with spaces or dashes, which mean nothing. */
const codeOf = (data: FormData) => text(data, "code")?.replace(/[\s-]/g, "") ?? "";
const codeBody = z.object({ code: z.string().regex(/^\d{8}$/) });
/** The optional name of an account the code would create (EMAIL_CODE_SIGN_UP); empty means none. */
const nameBody = z.object({ new_account_name: fullNameField.optional() });

/** Whether this deployment signs in by mailed code at all (EMAIL_CODE_SIGN_IN). */
export const emailCodeOn = (c: Context<AppEnv>) => c.var.deps.config.emailCode.signIn;

/** The Turnstile answer of a form, and whether script ran at all (the widget adds the field, empty until solved). */
const challengeAnswer = (data: FormData) => ({
  turnstile_token: text(data, "cf-turnstile-response")?.slice(0, 2048),
  noScript: !("cf-turnstile-response" in data),
});

/** A sign-in page's frame: with the Turnstile widget while sign-ins are under attack. */
async function signInFrame(c: Context<AppEnv>, here?: string): Promise<Frame> {
  const frame = await frameFor(c, null, here ? { here } : {});
  const siteKey = await challengeSiteKey(c.var.deps);
  if (siteKey) frame.turnstileSiteKey = siteKey;
  return frame;
}

/** The name field of a sign-up by code, shown only where EMAIL_CODE_SIGN_UP lets a code create an account. */
export const NewAccountName: FC<{ frame: Frame; form: string; state: FormState | undefined }> = ({ frame, form, state }) => (
  <Field
    form={form}
    name="new_account_name"
    label={frame.t.text("fields.new_account_name.label")}
    hint={frame.t.text("fields.new_account_name.hint")}
    value={state?.values?.new_account_name}
    error={state?.fields?.new_account_name}
    autocomplete="name"
    maxlength={255}
  />
);

/** The optional new account's name of a form, checked; `null` when it is bad (the field error then). */
export function newAccountName(
  c: Context<AppEnv>,
  data: FormData,
): { ok: true; name: string | undefined } | { ok: false; failure: Failure } {
  if (!c.var.deps.config.emailCode.signUp) return { ok: true, name: undefined };
  const checked = validate(formTranslator(c), nameBody, { new_account_name: text(data, "new_account_name")?.trim() || undefined });
  if (checked.ok) return { ok: true, name: checked.data.new_account_name };
  return { ok: false, failure: { status: 422, state: { fields: checked.fields }, headers: {} } };
}

/**
 * A code's or link's sign-in, as the password's on /login: the browser's cookies, or the second
 * step when the account has a second factor (or policy asks for one). Other failures are returned
 * with their wording for the page to show: a wrong or spent code, and the limits, beside `field`
 * (the link page has no field: there they head the page).
 */
export async function signInWith(
  c: Context<AppEnv>,
  returnTo: string | undefined,
  field: string | null,
  signIn: () => Promise<SignedIn>,
): Promise<Response | Failure> {
  try {
    signInBrowser(c, await signIn());
    return afterSignIn(c, returnTo);
  } catch (error) {
    if (isSecondStep(error)) return toSecondStep(c, error, returnTo);
    const t = formTranslator(c);
    const beside = field ? { invalid_code: field, rate_limited: field } : {};
    const failure = failureFrom(t, error, beside, { full_name: "new_account_name" });
    const code = error instanceof AppError ? error.code : undefined;
    if (code === "rate_limited") {
      const said = t.text("emailCode.rateLimited", { duration: t.duration((error as AppError).retryAfter ?? 60) });
      failure.state = field ? { fields: { [field]: said } } : { message: said };
    }
    if (code === "challenge_required") failure.state = { message: t.text("emailCode.challenge") };
    if (code === "forbidden") failure.state = { message: t.text("emailCode.disabled") };
    return failure;
  }
}

async function requestPage(
  c: Context<AppEnv>,
  returnTo: string | undefined,
  state?: FormState,
  status = 200,
  headers: Record<string, string> = {},
) {
  const frame = await signInFrame(c, withReturn("/login/email", returnToOf(c, returnTo)));
  const { t } = frame;
  const checkedReturn = returnToOf(c, returnTo);
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("emailCode.title")} failed={state !== undefined}>
      <Notice t={t} notice={noticeOf(c)} />
      <ErrorSummary t={t} state={state} form="email_code_request" />
      <p>{t.text("emailCode.intro")}</p>
      <Form frame={frame} name="email_code_request" action="/login/email">
        <Hidden name="return_to" value={checkedReturn} />
        <Field
          form="email_code_request"
          name="email"
          type="email"
          label={t.text("fields.email.label")}
          value={state?.values?.email}
          error={state?.fields?.email}
          autocomplete="email"
          required
          maxlength={254}
        />
        <TurnstileWidget frame={frame} />
        <button type="submit">{t.text("emailCode.send")}</button>
      </Form>
      <p class="links">
        <a href={withReturn("/login", checkedReturn)}>{t.text("emailCode.usePassword")}</a>
      </p>
    </Layout>,
    status,
    headers,
  );
}

async function codePage(
  c: Context<AppEnv>,
  email: string,
  returnTo: string | undefined,
  state?: FormState,
  status = 200,
  headers: Record<string, string> = {},
) {
  const checkedReturn = returnToOf(c, returnTo);
  const here = withReturn("/login/email/code", checkedReturn, { email });
  const frame = await signInFrame(c, here);
  const { t } = frame;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("emailCode.codeTitle")} failed={state !== undefined}>
      <ErrorSummary t={t} state={state} form="email_code" />
      <div class="notice" role="status">
        <p>{t.rich("emailCode.sent", { email: person(email) })}</p>
      </div>
      <p>{t.text("emailCode.warning")}</p>
      <Form frame={frame} name="email_code" action="/login/email/code">
        <Hidden name="return_to" value={checkedReturn} />
        <Hidden name="email" value={email} />
        <Field
          form="email_code"
          name="code"
          label={t.text("fields.sign_in_code.label")}
          hint={t.text("fields.sign_in_code.hint")}
          error={state?.fields?.code}
          autocomplete="one-time-code"
          inputmode="numeric"
          spellcheck={false}
          required
          maxlength={16}
        />
        {c.var.deps.config.emailCode.signUp ? <NewAccountName frame={frame} form="email_code" state={state} /> : null}
        <TurnstileWidget frame={frame} />
        <button type="submit">{t.text("emailCode.submit")}</button>
      </Form>
      <p class="links">
        <a href={withReturn("/login/email", checkedReturn, { email })}>{t.text("emailCode.sendAgain")}</a>
        <a href={withReturn("/login", checkedReturn)}>{t.text("emailCode.usePassword")}</a>
      </p>
    </Layout>,
    status,
    headers,
  );
}

/** The address of a query or form, when it is one (the API's own rule). */
function addressOf(raw: string | undefined): string | null {
  const checked = emailBody.safeParse({ email: raw ?? "" });
  return checked.success ? checked.data.email : null;
}

emailCodePages.get("/login/email", async (c) => {
  const returnTo = c.req.query("return_to");
  if (!emailCodeOn(c)) return c.redirect(withReturn("/login", returnToOf(c, returnTo)), 303);
  if (await pageSession(c)) return afterSignIn(c, returnTo);
  // "Send a new code" comes back here with the address already filled in.
  return requestPage(c, returnTo, c.req.query("email") ? { values: { email: c.req.query("email") } } : undefined);
});

emailCodePages.post(
  "/login/email",
  formPost("email_code_request", async (c, data) => {
    const returnTo = text(data, "return_to");
    if (!emailCodeOn(c)) return c.redirect(withReturn("/login", returnToOf(c, returnTo)), 303);
    const values = { email: text(data, "email")?.trim() };
    const t = formTranslator(c);
    const checked = validate(t, emailBody, { email: values.email ?? "" });
    if (!checked.ok) return requestPage(c, returnTo, { fields: checked.fields, values }, 422);
    try {
      await requestEmailCode(c.var.deps, { email: checked.data.email, device_token: deviceCookie(c), ...challengeAnswer(data) });
      // The same answer for every address; the code page does not know either.
      return c.redirect(withReturn("/login/email/code", returnToOf(c, returnTo), { email: checked.data.email }), 303);
    } catch (error) {
      const failure = failureFrom(t, error);
      const code = error instanceof AppError ? error.code : undefined;
      if (code === "challenge_required") failure.state = { message: t.text("emailCode.challenge") };
      if (code === "forbidden") failure.state = { message: t.text("emailCode.disabled") };
      return requestPage(c, returnTo, { ...failure.state, values }, failure.status, failure.headers);
    }
  }),
);

emailCodePages.get("/login/email/code", async (c) => {
  const returnTo = c.req.query("return_to");
  if (!emailCodeOn(c)) return c.redirect(withReturn("/login", returnToOf(c, returnTo)), 303);
  if (await pageSession(c)) return afterSignIn(c, returnTo);
  const email = addressOf(c.req.query("email"));
  if (!email) return c.redirect(withReturn("/login/email", returnToOf(c, returnTo)), 303);
  return codePage(c, email, returnTo);
});

emailCodePages.post(
  "/login/email/code",
  formPost("email_code", async (c, data) => {
    const returnTo = text(data, "return_to");
    const email = addressOf(text(data, "email"));
    if (!emailCodeOn(c) || !email) return c.redirect(withReturn(emailCodeOn(c) ? "/login/email" : "/login", returnToOf(c, returnTo)), 303);
    const t = formTranslator(c);
    const values = { new_account_name: text(data, "new_account_name") };
    const checked = validate(t, codeBody, { code: codeOf(data) }, {}, { code: { invalid: t.text("fields.sign_in_code.invalid") } });
    const name = newAccountName(c, data);
    if (!checked.ok || !name.ok) {
      const fields = { ...(checked.ok ? {} : checked.fields), ...(name.ok ? {} : name.failure.state.fields) };
      return codePage(c, email, returnTo, { fields, values }, 422);
    }
    const { deps } = c.var;
    const input = { email, code: checked.data.code, device_token: deviceCookie(c), full_name: name.name, ...challengeAnswer(data) };
    const outcome = await signInWith(c, returnTo, "code", () => verifyEmailCode(deps, input, "page"));
    if (outcome instanceof Response) return outcome;
    return codePage(c, email, returnTo, { ...outcome.state, values }, outcome.status, outcome.headers);
  }),
);
