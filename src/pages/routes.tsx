import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { accountPages } from "./account";
import { accountMfaPages } from "./account-mfa";
import { accountEmailCodePages } from "./account-email-code";
import { emailCodePages } from "./email-code";
import { emailLinkPages } from "./email-link";
import { externalSignInPages } from "./external-sign-in";
import { oauthProviderPages } from "./oauth-provider";
import { accountIdentityPages } from "./account-identities";
import { accountGrantPages } from "./account-grants";
import { passkeyPages } from "./passkey-pages";
import { enrolmentPages } from "./enrolment";
import { adminPages } from "./admin";
import { landingPages } from "./landing";
import { adminOAuthClientPages } from "./admin-oauth-clients";
import { recoveryPages } from "./recovery";
import { messagePage, pageError } from "./respond";
import { secondStepPages } from "./second-step";
import { signInPages } from "./sign-in";
import { verifyPages } from "./verify";
import type { AppEnv } from "../web/context";

/**
 * The hosted pages (the HTTP contract "Hosted pages"), server-rendered HTML at the worker's root:
 * / (the landing page), /login (and its second step, /login/verify, or first the enrolment policy asks for, /login/enrol), sign-in by mailed
 * code (/login/email, /login/email/code) and its link (/sign-in/email), an external provider's flow
 * (/api/v1/auth/oauth/{provider}/start and /callback: HTML, forms) with /login/link and /login/external, /register, /logout, /forgot-password, /reset-password, /verify-email,
 * /revert-email-change, /resend-verification, /account and the administration console /admin. They are not part of the JSON API's
 * OpenAPI document; their errors are pages too (see pages/respond.tsx).
 */
export const pageRoutes = new Hono<AppEnv>();

/** Forms are small; a bigger body is refused before it is read (the API's limit too). */
const FORM_BODY_LIMIT = 16 * 1024;

// Scoped to the page paths: middleware on "*" here would run for the whole app once mounted at "/".
for (const path of [
  "/login",
  "/login/verify",
  "/login/enrol/*",
  "/login/email",
  "/login/email/code",
  "/login/link",
  "/login/external",
  "/login/external/code",
  "/oauth/authorize",
  "/oauth/logout",
  "/api/v1/auth/oauth/:provider/callback",
  "/sign-in/email",
  "/register",
  "/logout",
  "/forgot-password",
  "/reset-password",
  "/verify-email",
  "/revert-email-change",
  "/revert-sign-in",
  "/resend-verification",
  "/account/*",
  "/admin/*",
]) {
  pageRoutes.post(
    path,
    bodyLimit({
      maxSize: FORM_BODY_LIMIT,
      onError: (c: Context<AppEnv>) => messagePage(c, 413, "errors.tooLargeTitle", "errors.tooLarge"),
    }),
  );
}

pageRoutes.route("/", landingPages);
pageRoutes.route("/", signInPages);
pageRoutes.route("/", externalSignInPages);
pageRoutes.route("/", oauthProviderPages);
pageRoutes.route("/", accountIdentityPages);
pageRoutes.route("/", accountGrantPages);
pageRoutes.route("/", emailCodePages);
pageRoutes.route("/", emailLinkPages);
pageRoutes.route("/", secondStepPages);
pageRoutes.route("/", enrolmentPages);
pageRoutes.route("/", recoveryPages);
pageRoutes.route("/", verifyPages);
pageRoutes.route("/", accountPages);
pageRoutes.route("/", accountMfaPages);
pageRoutes.route("/", accountEmailCodePages);
pageRoutes.route("/", passkeyPages);
pageRoutes.route("/", adminPages);
pageRoutes.route("/", adminOAuthClientPages);
pageRoutes.onError(pageError);
