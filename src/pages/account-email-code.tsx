import { Hono } from "hono";
import { setEmailCodeSignIn } from "../recovery/email-sign-in";
import type { AppEnv } from "../web/context";
import { emailCodeSignInBody } from "../web/schemas";
import { accountForm } from "./account-page";
import { text } from "./forms";

/** `POST /account/email-code`: turns sign-in by mailed code on or off for the account (email-code-setting.tsx). */
export const accountEmailCodePages = new Hono<AppEnv>();

accountEmailCodePages.post(
  "/account/email-code",
  accountForm("email_code_setting", {
    schema: emailCodeSignInBody,
    // The button posts the state it switches to; anything else means off, the safer side.
    input: (data) => ({ enabled: text(data, "enabled") === "true" }),
    sensitive: { passwordField: "current_password" },
    run: async (c, session, { enabled }) => {
      const set = await setEmailCodeSignIn(c.var.deps, session, enabled);
      return set.enabled ? "email_code_sign_in_on" : "email_code_sign_in_off";
    },
  }),
);
