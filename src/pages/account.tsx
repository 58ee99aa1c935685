import { Hono } from "hono";
import { changePassword, deleteAccount } from "../accounts/credentials";
import { updateProfile } from "../accounts/profile";
import { createApiKey, revokeApiKey } from "../api-keys/api-keys";
import { deviceAfterPasswordChange, revokeOwnDevice } from "../devices/devices";
import type { AppEnv } from "../web/context";
import { setDeviceCookie } from "../web/cookies";
import {
  apiKeyIdParam,
  changeEmailBody,
  changePasswordBody,
  createApiKeyBody,
  deleteAccountBody,
  idParam,
  updateProfileBody,
} from "../web/schemas";
import { requestEmailChange } from "../recovery/email-change";
import { revokeOwnSession } from "../sessions/sessions";
import { accountForm, accountPage } from "./account-page";
import { list, text } from "./forms";
import { noticeOf, redirectWithNotice, toSignIn } from "./respond";
import { pageSession, signOutBrowser } from "./session";
import { rememberLanguage } from "./language";

/**
 * `/account` and the forms on it (`/account/<form>`): each calls the service its API route calls.
 * The second factors' forms are in account-mfa.tsx.
 */
export const accountPages = new Hono<AppEnv>();

accountPages.get("/account", async (c) => {
  const session = await pageSession(c);
  if (!session) return toSignIn(c);
  return accountPage(c, session, { notice: noticeOf(c) });
});

accountPages.post(
  "/account/profile",
  accountForm("profile", {
    schema: updateProfileBody,
    input: (data) => ({
      full_name: text(data, "full_name") ?? "",
      username: text(data, "username") ?? null,
      locale: text(data, "locale") ?? null,
    }),
    values: (data) => ({ full_name: text(data, "full_name"), username: text(data, "username"), locale: text(data, "locale") }),
    fieldFor: { username_taken: "username" },
    run: async (c, session, input) => {
      const saved = await updateProfile(c.var.deps, session.user, input);
      // The language chosen here is this browser's from now on too (a `?lang=` cookie would outrank it).
      rememberLanguage(c, saved.locale);
      return "profile_saved";
    },
  }),
);

accountPages.post(
  "/account/email",
  accountForm("email", {
    schema: changeEmailBody,
    input: (data) => ({ new_email: text(data, "new_email") ?? "", password: text(data, "password") }),
    values: (data) => ({ new_email: text(data, "new_email") }),
    fieldFor: { invalid_current_password: "password", account_locked: "password" },
    // The service checks the password again: a wrong one is refused by the proof, counted once.
    sensitive: { passwordField: "password" },
    run: async (c, session, input) => {
      await requestEmailChange(c.var.deps, session, input);
      return "email_change_sent";
    },
  }),
);

accountPages.post(
  "/account/password",
  accountForm("password", {
    schema: changePasswordBody,
    input: (data) => ({ current_password: text(data, "current_password"), new_password: text(data, "new_password") }),
    fieldFor: { invalid_current_password: "current_password", account_locked: "current_password" },
    sensitive: { passwordField: "current_password" },
    run: async (c, session, input) => {
      await changePassword(c.var.deps, session, input);
      // This browser proved the password: it stays a known device, so its next sign-in is no "new device".
      const deviceToken = await deviceAfterPasswordChange(c.var.deps, session.user.id);
      if (deviceToken) setDeviceCookie(c, deviceToken);
      return "password_changed";
    },
  }),
);

accountPages.post(
  "/account/sessions/revoke",
  accountForm("session_revoke", {
    schema: idParam,
    input: (data) => ({ id: text(data, "id") ?? "" }),
    run: async (c, session, { id }) => {
      await revokeOwnSession(c.var.deps, session.user.id, id);
      return "session_revoked";
    },
  }),
);

accountPages.post(
  "/account/devices/revoke",
  accountForm("device_revoke", {
    schema: idParam,
    input: (data) => ({ id: text(data, "id") ?? "" }),
    run: async (c, session, { id }) => {
      await revokeOwnDevice(c.var.deps, session.user.id, id);
      return "device_forgotten";
    },
  }),
);

accountPages.post(
  "/account/api-keys",
  accountForm("api_key_create", {
    schema: createApiKeyBody,
    input: (data) => {
      const days = text(data, "expires_in_days");
      return {
        name: text(data, "name") ?? "",
        expires_in_days: days === undefined ? undefined : /^\d{1,5}$/.test(days) ? Number(days) : days,
        scopes: list(data, "scopes"),
        current_password: text(data, "current_password"),
      };
    },
    values: (data) => ({
      name: text(data, "name"),
      expires_in_days: text(data, "expires_in_days"),
      scopes: list(data, "scopes").join(","),
    }),
    fieldFor: { invalid_current_password: "current_password", account_locked: "current_password" },
    sensitive: { passwordField: "current_password" },
    run: async (c, session, input, provedWith) => {
      // A password that just made the session fresh is not checked a second time.
      const createdKey = await createApiKey(c.var.deps, session, provedWith ? { ...input, current_password: undefined } : input);
      // Not a redirect: the key is shown in this answer and never again.
      return accountPage(c, session, { status: 201, createdKey });
    },
  }),
);

accountPages.post(
  "/account/api-keys/revoke",
  accountForm("api_key_revoke", {
    schema: apiKeyIdParam,
    input: (data) => ({ id: text(data, "id") ?? "" }),
    run: async (c, session, { id }) => {
      await revokeApiKey(c.var.deps, session.user, id);
      return "api_key_revoked";
    },
  }),
);

accountPages.post(
  "/account/delete",
  accountForm("delete", {
    schema: deleteAccountBody,
    input: (data) => ({ password: text(data, "password") }),
    fieldFor: { invalid_current_password: "password", account_locked: "password" },
    sensitive: { passwordField: "password" },
    run: async (c, session, { password }) => {
      await deleteAccount(c.var.deps, session, password);
      signOutBrowser(c);
      return redirectWithNotice(c, "/login", "account_deleted");
    },
  }),
);

/** The form paths answer a GET (a reload, a bookmark) with the account page rather than a 405. */
accountPages.get("/account/*", (c) => c.redirect("/account", 303));
