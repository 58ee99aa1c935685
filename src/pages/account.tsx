import { Hono, type Context } from "hono";
import { changePassword, deleteAccount } from "../accounts/credentials";
import { updateProfile } from "../accounts/profile";
import { createApiKey, listApiKeys, revokeApiKey, type CreatedApiKey } from "../api-keys/api-keys";
import { listSecurityEvents } from "../audit/security-events";
import { listDevices, revokeOwnDevice } from "../devices/devices";
import { AppError } from "../errors";
import type { AppEnv } from "../web/context";
import {
  apiKeyIdParam,
  changeEmailBody,
  changePasswordBody,
  createApiKeyBody,
  deleteAccountBody,
  idParam,
  updateProfileBody,
} from "../web/schemas";
import { outstandingReverts, requestEmailChange } from "../recovery/email-change";
import { listSessions, revokeOwnSession } from "../sessions/sessions";
import { AccountPage, type AccountData } from "./account-view";
import type { FormName } from "./csrf";
import { failureFrom, list, text, validate, type FieldFor, type Failure, type FormData } from "./forms";
import { frameFor, renderPage, type FormState } from "./kit";
import { accountPost, noticeOf, redirectWithNotice, toSignIn } from "./respond";
import { pageSession, signOutBrowser, type PageSession } from "./session";
import type { NoticeKey } from "./respond";
import { formTranslator, rememberLanguage } from "./language";

/** `/account` and the forms on it (`/account/<form>`): each calls the service its API route calls. */
export const accountPages = new Hono<AppEnv>();

async function loadData(c: Context<AppEnv>, session: PageSession, eventsCursor: string | undefined): Promise<AccountData> {
  const { deps } = c.var;
  const { user } = session;
  const events = async () => {
    try {
      return await listSecurityEvents(deps, user.id, { limit: 20, cursor: eventsCursor });
    } catch (error) {
      // A mangled `?events=` cursor: show the newest events instead.
      if (eventsCursor && error instanceof AppError) return listSecurityEvents(deps, user.id, { limit: 20 });
      throw error;
    }
  };
  const [sessions, devices, apiKeys, eventPage, reverts] = await Promise.all([
    listSessions(deps, user.id, session.sessionId, { limit: 50 }),
    listDevices(deps, user),
    listApiKeys(deps, user),
    events(),
    outstandingReverts(deps, user.id),
  ]);
  return { sessions, devices, apiKeys, events: eventPage, reverts };
}

interface Outcome {
  status?: number;
  headers?: Record<string, string>;
  notice?: string | null;
  failed?: { form: FormName; state: FormState };
  createdKey?: CreatedApiKey;
}

async function accountPage(c: Context<AppEnv>, session: PageSession, outcome: Outcome = {}) {
  const frame = await frameFor(c, session, { here: "/account" });
  const data = await loadData(c, session, c.req.method === "GET" ? c.req.query("events") : undefined);
  const page = (
    <AccountPage
      frame={frame}
      session={session}
      data={data}
      notice={outcome.notice ?? null}
      failed={outcome.failed}
      createdKey={outcome.createdKey}
    />
  );
  return renderPage(c, frame, page, outcome.status ?? 200, outcome.headers);
}

accountPages.get("/account", async (c) => {
  const session = await pageSession(c);
  if (!session) return toSignIn(c);
  return accountPage(c, session, { notice: noticeOf(c) });
});

/** The account page again with one form's problems (and the values typed, never passwords). */
function failedForm(
  c: Context<AppEnv>,
  session: PageSession,
  form: FormName,
  failure: Pick<Failure, "status" | "state"> & { headers?: Record<string, string> },
  values: Record<string, string | undefined> = {},
) {
  return accountPage(c, session, {
    status: failure.status,
    headers: failure.headers,
    failed: { form, state: { ...failure.state, values } },
  });
}

/** One account form: validate with the API's schema, call its service, redirect with a notice. */
function accountForm<T>(
  form: FormName,
  options: {
    schema: Parameters<typeof validate<T>>[1];
    input: (data: FormData) => Record<string, unknown>;
    values?: (data: FormData) => Record<string, string | undefined>;
    fieldFor?: FieldFor;
    run: (c: Context<AppEnv>, session: PageSession, input: T) => Promise<Response | NoticeKey>;
  },
) {
  return accountPost(form, async (c, data, session) => {
    const values = options.values?.(data) ?? {};
    const t = formTranslator(c);
    const checked = validate(t, options.schema, options.input(data));
    if (!checked.ok) return failedForm(c, session, form, { status: 422, state: { fields: checked.fields } }, values);
    try {
      const result = await options.run(c, session, checked.data);
      return typeof result === "string" ? redirectWithNotice(c, "/account", result, `#${anchorOf(form)}`) : result;
    } catch (error) {
      return failedForm(c, session, form, failureFrom(t, error, options.fieldFor), values);
    }
  });
}

const anchorOf = (form: FormName) =>
  ({ session_revoke: "sessions", device_revoke: "devices", api_key_create: "api-keys", api_key_revoke: "api-keys" })[form as string] ??
  form;

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
    run: async (c, session, input) => {
      await changePassword(c.var.deps, session, input);
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
    fieldFor: {
      invalid_current_password: "current_password",
      reauthentication_required: "current_password",
      account_locked: "current_password",
    },
    run: async (c, session, input) => {
      const createdKey = await createApiKey(c.var.deps, session, input);
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
    run: async (c, session, { password }) => {
      await deleteAccount(c.var.deps, session, password);
      signOutBrowser(c);
      return redirectWithNotice(c, "/login", "account_deleted");
    },
  }),
);

/** The form paths answer a GET (a reload, a bookmark) with the account page rather than a 405. */
accountPages.get("/account/*", (c) => c.redirect("/account", 303));
