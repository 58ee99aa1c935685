import { Hono, type Context } from "hono";
import { deleteCookie, getCookie } from "hono/cookie";
import { z } from "zod";
import {
  addPasskey,
  completeSecondStepWithPasskey,
  passkeyCreationOptions,
  removeOwnPasskey,
  renameOwnPasskey,
  secondStepPasskeyOptions,
  signInWithPasskey,
} from "../accounts/passkeys";
import { AppError } from "../errors";
import type { AppEnv } from "../web/context";
import { deviceCookie } from "../web/cookies";
import { addPasskeyBody, enrolmentStartBody, passkeySignInBody, renamePasskeyBody } from "../web/schemas";
import { accountForm, accountPage } from "./account-page";
import type { FormName } from "./csrf";
import { failureFrom, readForm, text, validate, type FieldFor, type FormData } from "./forms";
import { formTranslator, pageTranslator } from "./language";
import { EMAIL_CODE_ERRORS, emailCodeInput } from "./account-mfa";
import { afterSignIn, formPost, returnToOf } from "./respond";
import { MFA_COOKIE, mfaCookieOptions, secondStepOf, secondStepPage, startAgain } from "./second-step";
import { loginPage } from "./sign-in";
import { pageSession, signInBrowser } from "./session";

/**
 * The hosted pages' passkey endpoints. The ceremonies run in the page's script (passkey-view.tsx),
 * which fetches options here (or from the API, for a sign-in) and posts the credential back as a
 * form field, so every sign-in and change is an ordinary form POST with the pages' CSRF checks.
 * Each calls the service its API route calls, on the `page` channel.
 */
export const passkeyPages = new Hono<AppEnv>();

/** The `credential` field: the JSON the script put there (null when absent or not JSON). */
export function credentialOf(data: FormData): unknown {
  const raw = text(data, "credential");
  if (raw === undefined || raw.length > 65_536) return null;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return null;
  }
}

/**
 * Options for a ceremony a page script is about to run: JSON, for the script only. The form's CSRF
 * token and Origin are checked like a form POST's (a script of another site could not read the
 * answer anyway, but it would spend a challenge); a refusal is a bare status, the script says why.
 * With `fieldFor`, a refusal about one of the form's fields also carries the page's words for it
 * (`fields`), which the script shows beside the field: the account's passkey asks for a mailed code
 * there. Other refusals keep the form's one "try again" (a stale session's words are the API keys').
 */
export function optionsPost(form: FormName, make: (c: Context<AppEnv>, data: FormData) => Promise<unknown>, fieldFor?: FieldFor) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const data = await readForm(c, form);
    if (!data) return c.json({ code: "forbidden" }, 403);
    try {
      return c.json(await make(c, data));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      if (!fieldFor) return c.json({ code: error.code }, error.status as 400);
      // Negotiated already when `make` found the session; without one, from the request alone.
      const { fields } = failureFrom(await pageTranslator(c, null), error, fieldFor).state;
      const said = fields && Object.keys(fields).length > 0 ? { fields } : {};
      return c.json({ code: error.code, ...said }, error.status as 400);
    }
  };
}

passkeyPages.post(
  "/login/passkey",
  formPost("login_passkey", async (c, data) => {
    const returnTo = text(data, "return_to");
    const t = formTranslator(c);
    const checked = passkeySignInBody.safeParse({ credential: credentialOf(data) });
    if (!checked.success) return loginPage(c, { returnTo, state: { message: t.text("login.passkeyFailed") } }, 422);
    try {
      const signedIn = await signInWithPasskey(c.var.deps, { credential: checked.data.credential, device_token: deviceCookie(c) }, "page");
      signInBrowser(c, signedIn);
      return afterSignIn(c, returnTo);
    } catch (error) {
      const failure = failureFrom(t, error);
      const code = error instanceof AppError ? error.code : "";
      if (code === "invalid_credentials") failure.state = { message: t.text("login.passkeyFailed") };
      if (code === "email_not_verified") failure.state = { message: t.text("login.notVerified") };
      return loginPage(c, { returnTo, state: failure.state }, failure.status, failure.headers);
    }
  }),
);

passkeyPages.post(
  "/login/verify/passkey-options",
  optionsPost("login_verify_passkey", (c) => {
    const token = getCookie(c, MFA_COOKIE);
    if (!token || token.length > 4096) throw new AppError("invalid_token");
    return secondStepPasskeyOptions(c.var.deps, token, "page");
  }),
);

passkeyPages.post(
  "/login/verify/passkey",
  formPost("login_verify_passkey", async (c, data) => {
    const returnTo = returnToOf(c, text(data, "return_to"));
    const token = getCookie(c, MFA_COOKIE);
    if (!token || token.length > 4096) return startAgain(c, returnTo);
    const step = await secondStepOf(c, token);
    if (!step) return startAgain(c, returnTo);
    const t = formTranslator(c);
    const checked = passkeySignInBody.safeParse({ credential: credentialOf(data) });
    const failed = (state: { message: string }, status: number, headers: Record<string, string> = {}) =>
      secondStepPage(c, { method: "totp", returnTo, state, step }, status, headers);
    // An enrolment that set up a passkey has no code to fall back on: the message does not offer one.
    const refused = t.text(step.enrolment && !step.app ? "enrolment.verifyPasskeyFailed" : "secondStep.passkeyFailed");
    if (!checked.success) return failed({ message: refused }, 422);
    try {
      const signedIn = await completeSecondStepWithPasskey(c.var.deps, token, checked.data.credential, "page");
      deleteCookie(c, MFA_COOKIE, mfaCookieOptions);
      signInBrowser(c, signedIn);
      return afterSignIn(c, returnTo ?? undefined);
    } catch (error) {
      if (error instanceof AppError && error.code === "invalid_token") return startAgain(c, returnTo);
      const failure = failureFrom(t, error);
      if (error instanceof AppError && (error.code === "invalid_code" || error.code === "invalid_credentials")) {
        return failed({ message: refused }, failure.status);
      }
      return failed({ message: failure.state.message ?? refused }, failure.status, failure.headers);
    }
  }),
);

passkeyPages.post(
  "/account/passkeys/options",
  optionsPost(
    "passkey_add",
    async (c, data) => {
      const session = await pageSession(c);
      const t = await pageTranslator(c, session);
      if (!session) throw new AppError("invalid_token");
      const checked = validate(t, enrolmentStartBody, emailCodeInput(data));
      if (!checked.ok) {
        throw new AppError("validation_failed", { errors: Object.entries(checked.fields).map(([field, message]) => ({ field, message })) });
      }
      // After an administrator's reset, the mailed code (asked for and mailed by the first try without it).
      return passkeyCreationOptions(c.var.deps, session, checked.data.email_code);
    },
    EMAIL_CODE_ERRORS,
  ),
);

const sensitive = { passwordField: "current_password" };

passkeyPages.post(
  "/account/passkeys",
  accountForm("passkey_add", {
    schema: addPasskeyBody,
    input: (data) => ({ credential: credentialOf(data), name: text(data, "name") }),
    values: (data) => ({ name: text(data, "name") }),
    fieldFor: { validation_failed: "name" },
    sensitive,
    run: async (c, session, input) => {
      const added = await addPasskey(c.var.deps, session, input);
      if (!added.recovery_codes) return "passkey_added";
      // The account's first second factor: its recovery codes, shown in this answer only.
      const now = (await pageSession(c)) ?? session;
      return accountPage(c, now, { notice: "passkey_added", recoveryCodes: added.recovery_codes });
    },
  }),
);

passkeyPages.post(
  "/account/passkeys/prove",
  accountForm("passkey_prove", {
    schema: z.object({}),
    input: () => ({}),
    sensitive,
    // The proof itself made the session fresh: the page now offers the passkey button.
    run: () => Promise.resolve("identity_confirmed" as const),
  }),
);

const idField = z.string().min(1).max(64);

passkeyPages.post(
  "/account/passkeys/rename",
  accountForm("passkey_rename", {
    schema: renamePasskeyBody.extend({ id: idField }),
    input: (data) => ({ name: text(data, "name") ?? "", id: text(data, "id") ?? "" }),
    run: async (c, session, { id, name }) => {
      await renameOwnPasskey(c.var.deps, session.user, id, name);
      return "passkey_renamed";
    },
  }),
);

passkeyPages.post(
  "/account/passkeys/remove",
  accountForm("passkey_remove", {
    schema: z.object({ id: idField }),
    input: (data) => ({ id: text(data, "id") ?? "" }),
    sensitive,
    run: async (c, session, { id }) => {
      await removeOwnPasskey(c.var.deps, session, id);
      return "passkey_removed";
    },
  }),
);
