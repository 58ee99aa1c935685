import { Hono } from "hono";
import { z } from "zod";
import { confirmTotp, disableTotp, regenerateRecoveryCodes, startTotp } from "../accounts/mfa";
import type { AppEnv } from "../web/context";
import { enrolmentStartBody, totpConfirmBody } from "../web/schemas";
import { accountForm, accountPage } from "./account-page";
import { text, type FieldFor, type FormData } from "./forms";
import { pageSession } from "./session";

/**
 * The account page's second-factor forms (`/account/mfa/…`), each calling the service its
 * `/users/me/mfa` route calls. All are sensitive: a session older than 5 minutes proves itself in
 * the form (fresh-proof.tsx). The password is the proof field of an account without a second factor.
 */
export const accountMfaPages = new Hono<AppEnv>();

/**
 * The `email_code` field of an enrolment's start (authenticator app, passkey options), as the API
 * takes it. People copy codes with spaces or dashes in them; those mean nothing.
 */
export const emailCodeInput = (data: FormData) => ({ email_code: text(data, "email_code")?.replace(/[\s-]/g, "") || undefined });

/** The mailed code's refusals (asked for and mailed; wrong), beside its field. */
export const EMAIL_CODE_ERRORS: FieldFor = { email_code_required: "email_code", invalid_code: "email_code" };

/** The forms that send nothing but their proof. */
const nothing = z.object({});
const sensitive = { passwordField: "current_password" };

accountMfaPages.post(
  "/account/mfa/totp",
  accountForm("mfa_start", {
    schema: enrolmentStartBody,
    input: emailCodeInput,
    fieldFor: EMAIL_CODE_ERRORS,
    sensitive,
    run: async (c, session, { email_code }) => {
      // After an administrator's reset, the first press without a code mails one (403, beside the field).
      await startTotp(c.var.deps, session, email_code);
      // The account page shows a pending set-up's QR code (so a reload keeps it).
      return "totp_started";
    },
  }),
);

accountMfaPages.post(
  "/account/mfa/totp/confirm",
  accountForm("mfa_confirm", {
    schema: totpConfirmBody,
    input: (data) => ({ code: text(data, "code") ?? "" }),
    fieldFor: { invalid_code: "code", rate_limited: "code" },
    sensitive,
    run: async (c, session, { code }) => {
      const { recovery_codes } = await confirmTotp(c.var.deps, session, code);
      // The account's factors changed: the page is drawn from its row as it is now.
      const now = (await pageSession(c)) ?? session;
      return accountPage(c, now, { notice: "totp_enabled", recoveryCodes: recovery_codes });
    },
  }),
);

accountMfaPages.post(
  "/account/mfa/totp/disable",
  accountForm("mfa_disable", {
    schema: nothing,
    input: () => ({}),
    sensitive,
    run: async (c, session) => {
      await disableTotp(c.var.deps, session);
      return "totp_disabled";
    },
  }),
);

accountMfaPages.post(
  "/account/mfa/recovery-codes",
  accountForm("recovery_codes", {
    schema: nothing,
    input: () => ({}),
    sensitive,
    run: async (c, session) => {
      const { recovery_codes } = await regenerateRecoveryCodes(c.var.deps, session);
      // Not a redirect: the codes are shown in this answer and never again.
      return accountPage(c, session, { notice: "recovery_codes_made", recoveryCodes: recovery_codes });
    },
  }),
);
