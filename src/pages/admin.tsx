import { Hono, type Context } from "hono";
import { z } from "zod";
import { exportAuditEvents, listAuditEvents, type AuditLogQuery } from "../admin/audit-logs";
import { unlockAccount } from "../admin/unlock";
import { listDeliveries, redeliver } from "../admin/webhooks";
import {
  deactivateUser,
  forcePasswordReset,
  listUsers,
  reactivateUser,
  resetSecondFactors,
  revokeUserSessions,
  setRoles,
  setSuperuserFlag,
  userDetails,
  type UserListQuery,
} from "../admin/users";
import { AppError } from "../errors";
import type { AppEnv } from "../web/context";
import { adminUsersQuery, idParam, rolesBody } from "../web/schemas";
import { AuditPage, queryString, UserPage, UsersPage, WebhooksPage, type AuditFilterValues, type UserPageProps } from "./admin-view";
import type { FormName } from "./csrf";
import { failureFrom, text, type FormData } from "./forms";
import { frameFor, renderPage } from "./kit";
import { formPost, messagePage, noticeOf, redirectWithNotice, toSignIn } from "./respond";
import { pageSession, type PageSession } from "./session";
import { adminStrings } from "./admin-strings";
import { englishTranslator } from "./language";
import type { NoticeKey } from "./respond";

/**
 * `/admin`, the administration console: for a signed-in superuser only (the page
 * session; anyone else signed in gets a 403 page). Each action calls the service its admin API
 * route calls, so each is audited with the signed-in superuser as the actor.
 */
export const adminPages = new Hono<AppEnv>();

/** The signed-in superuser, or the answer for anyone else: sign in first, or a 403 page. */
export async function superuser(c: Context<AppEnv>, session: PageSession | null, returnTo: string): Promise<PageSession | Response> {
  if (!session) return toSignIn(c, returnTo);
  if (!session.user.isSuperuser) return messagePage(c, 403, { english: adminStrings.forbiddenTitle }, { english: adminStrings.forbidden });
  return session;
}

/** A GET path and query to come back to after signing in (only this worker's own /admin paths). */
export const here = (c: Context<AppEnv>) => {
  const url = new URL(c.req.url);
  return `${url.pathname}${url.search}`;
};

/** Query fields as the forms send them: empty means not given. */
const queryOf = (c: Context<AppEnv>, names: readonly string[]) =>
  Object.fromEntries(names.map((name) => [name, c.req.query(name)?.trim() || undefined])) as Record<string, string | undefined>;

export const GENERIC = "This could not be done. Check the form and try again.";

/** Schema field errors in the console's words. */
export function fieldErrors(error: z.ZodError, words: Record<string, { invalid: string } | undefined>): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const name = String(issue.path[0] ?? "");
    fields[name] ??= words[name]?.invalid ?? GENERIC;
  }
  return fields;
}

adminPages.get("/admin", async (c) => {
  const session = await superuser(c, await pageSession(c), here(c));
  if (session instanceof Response) return session;
  const frame = await frameFor(c, session, { admin: true });
  const search = queryOf(c, ["query", "status", "mfa", "cursor"]);
  const checked = adminUsersQuery.safeParse(search);
  if (!checked.success) {
    const errors = fieldErrors(checked.error, { query: adminStrings.query, status: adminStrings.status, mfa: adminStrings.mfaFilter });
    return renderPage(c, frame, <UsersPage frame={frame} notice={null} search={search} errors={errors} result={null} />, 422);
  }
  const query: UserListQuery = { ...checked.data, limit: 25 };
  // A mangled cursor (a hand-edited link): the first page instead.
  const result = await listUsers(c.var.deps, query).catch((error: unknown) => {
    if (query.cursor && error instanceof AppError) return listUsers(c.var.deps, { ...query, cursor: undefined });
    throw error;
  });
  return renderPage(c, frame, <UsersPage frame={frame} notice={noticeOf(c)} search={search} result={result} />);
});

async function userPage(
  c: Context<AppEnv>,
  session: PageSession,
  id: string,
  view: Omit<UserPageProps, "frame" | "details">,
  status = 200,
) {
  const frame = await frameFor(c, session, { admin: true });
  const details = await userDetails(c.var.deps, id);
  return renderPage(c, frame, <UserPage frame={frame} details={details} {...view} />, status);
}

/** An unknown or malformed user id: the pages' "nothing here" answer. */
const noSuchUser = (c: Context<AppEnv>) => messagePage(c, 404, "errors.notFoundTitle", "errors.notFound");

adminPages.get("/admin/users/:id", async (c) => {
  const session = await superuser(c, await pageSession(c), here(c));
  if (session instanceof Response) return session;
  const id = idParam.safeParse({ id: c.req.param("id") });
  if (!id.success) return noSuchUser(c);
  try {
    return await userPage(c, session, id.data.id, { notice: noticeOf(c) });
  } catch (error) {
    if (error instanceof AppError && error.code === "not_found") return noSuchUser(c);
    throw error;
  }
});

/**
 * One action on one user: CSRF-checked, for the superuser only; on success back to the user's
 * page with a notice, on a refusal (409 `last_superuser`, a bad role…) that page with the reason.
 */
function userAction(
  path: string,
  form: FormName,
  run: (c: Context<AppEnv>, actor: PageSession, id: string, data: FormData) => Promise<NoticeKey>,
) {
  adminPages.post(
    `/admin/users/:id/${path}`,
    formPost(form, async (c, data, signedIn) => {
      const session = await superuser(c, signedIn, "/admin");
      if (session instanceof Response) return session;
      const id = idParam.safeParse({ id: c.req.param("id") });
      if (!id.success) return noSuchUser(c);
      const back = `/admin/users/${encodeURIComponent(id.data.id)}`;
      try {
        return redirectWithNotice(c, back, await run(c, session, id.data.id, data));
      } catch (error) {
        if (error instanceof AppError && error.code === "not_found" && error.detail === "No such user.") return noSuchUser(c);
        const failure = failureFrom(await englishTranslator(c), error, {}, { roles: "roles" });
        const fields = failure.state.fields ?? {};
        const roleError = form === "admin_roles" && Object.keys(fields).length > 0;
        const message = failure.state.message ?? Object.values(fields)[0] ?? GENERIC;
        const state = roleError
          ? { fields: { roles: adminStrings.rolesField.invalid }, values: { roles: text(data, "roles") } }
          : { message, values: {} };
        return userPage(c, session, id.data.id, { notice: null, failed: { form, state } }, failure.status);
      }
    }),
  );
}

const actor = (session: PageSession) => session.user.id;

userAction("deactivate", "admin_deactivate", async (c, session, id) => {
  await deactivateUser(c.var.deps, actor(session), id);
  return "user_deactivated";
});

userAction("reactivate", "admin_reactivate", async (c, session, id) => {
  await reactivateUser(c.var.deps, actor(session), id);
  return "user_reactivated";
});

userAction("password-reset", "admin_password_reset", async (c, session, id) => {
  await forcePasswordReset(c.var.deps, actor(session), id);
  return "password_reset_forced";
});

userAction("mfa/reset", "admin_mfa_reset", async (c, session, id) => {
  await resetSecondFactors(c.var.deps, actor(session), id);
  return "second_factors_reset";
});

userAction("superuser", "admin_superuser", async (c, session, id, data) => {
  const grant = text(data, "superuser") === "grant";
  await setSuperuserFlag(c.var.deps, actor(session), id, grant);
  return grant ? "superuser_granted" : "superuser_revoked";
});

userAction("roles", "admin_roles", async (c, session, id, data) => {
  const roles = (text(data, "roles") ?? "").split(/[\s,]+/).filter(Boolean);
  const checked = rolesBody.safeParse({ roles });
  if (!checked.success) throw new AppError("validation_failed", { errors: [{ field: "roles", message: adminStrings.rolesField.invalid }] });
  await setRoles(c.var.deps, actor(session), id, checked.data.roles);
  return "roles_saved";
});

userAction("unlock", "admin_unlock", async (c, session, id) => {
  const { user } = await userDetails(c.var.deps, id);
  await unlockAccount(c.var.deps, actor(session), { email: user.email });
  return "user_unlocked";
});

userAction("sessions/revoke", "admin_session_revoke", async (c, session, id, data) => {
  await revokeUserSessions(c.var.deps, actor(session), id, (text(data, "session_id") ?? "").slice(0, 64));
  return "user_session_revoked";
});

userAction("sessions/revoke-all", "admin_sessions_revoke", async (c, session, id) => {
  await revokeUserSessions(c.var.deps, actor(session), id);
  return "user_sessions_revoked";
});

/** The action paths answer a GET (a reload after a refusal) with the user's page. */
adminPages.get("/admin/users/:id/*", (c) => c.redirect(`/admin/users/${encodeURIComponent(c.req.param("id"))}`, 303));

/** The audit log's filters as the API takes them; a bare date or a time without a zone is UTC. */
const utcTime = z
  .string()
  .transform((value) => {
    const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(:\d{2}(?:\.\d{1,3})?)?)?(Z|[+-]\d{2}:\d{2})?$/i.exec(value);
    return m ? `${m[1]}T${m[2] ?? "00:00"}${m[3] ?? ":00"}${m[4]?.toUpperCase() ?? "Z"}` : value;
  })
  .pipe(z.iso.datetime({ offset: true }));
const auditFilters = z.object({
  user_id: z.guid().optional(),
  action: z
    .string()
    .regex(/^[a-z][a-z0-9_.]{0,63}$/)
    .optional(),
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  since: utcTime.optional(),
  until: utcTime.optional(),
});
const FILTERS = ["user_id", "action", "ip", "since", "until"] as const;
const filterWords = {
  user_id: adminStrings.userId,
  action: adminStrings.action,
  ip: adminStrings.ip,
  since: adminStrings.since,
  until: adminStrings.until,
};

/** The audit filters of the request: the values as typed, and the query for the service (or the field errors). */
function auditQuery(c: Context<AppEnv>) {
  const filters: AuditFilterValues = queryOf(c, FILTERS);
  const checked = auditFilters.safeParse(filters);
  return checked.success
    ? { filters, query: checked.data satisfies AuditLogQuery, errors: undefined }
    : { filters, query: undefined, errors: fieldErrors(checked.error, filterWords) };
}

adminPages.get("/admin/audit-logs", async (c) => {
  const session = await superuser(c, await pageSession(c), here(c));
  if (session instanceof Response) return session;
  const frame = await frameFor(c, session, { admin: true });
  const { filters, query, errors } = auditQuery(c);
  if (!query)
    return renderPage(c, frame, <AuditPage frame={frame} filters={filters} cursor={undefined} errors={errors} result={null} />, 422);
  const cursor = c.req.query("cursor")?.slice(0, 200) || undefined;
  const result = await listAuditEvents(c.var.deps, { ...query, cursor, limit: 50 }).catch((error: unknown) => {
    if (cursor && error instanceof AppError) return listAuditEvents(c.var.deps, { ...query, limit: 50 });
    throw error;
  });
  return renderPage(c, frame, <AuditPage frame={frame} filters={filters} cursor={cursor} result={result} />);
});

/**
 * The NDJSON export for the console: the API's export (GET /api/v1/admin/audit-logs with
 * `Accept: application/x-ndjson`) wants a bearer token, which a page does not have. Guarded by the
 * page session, and only started from our own pages (or typed in): another site cannot make an
 * administrator's browser run one.
 */
adminPages.get("/admin/audit-logs.ndjson", async (c) => {
  const session = await superuser(c, await pageSession(c), "/admin/audit-logs");
  if (session instanceof Response) return session;
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none")
    return messagePage(c, 403, "errors.csrfTitle", { english: adminStrings.exportRefused });
  const { query } = auditQuery(c);
  if (!query) return c.redirect(`/admin/audit-logs${queryString(queryOf(c, FILTERS))}`, 303);
  const stream = await exportAuditEvents(c.var.deps, actor(session), query);
  return c.body(stream, 200, {
    "Content-Type": "application/x-ndjson; charset=utf-8",
    "Content-Disposition": 'attachment; filename="gatehouse-audit-logs.ndjson"',
    "Cache-Control": "no-store",
  });
});

const deliveryStatus = z.object({ status: z.enum(["delivered", "undelivered"]).optional() });

adminPages.get("/admin/webhooks", async (c) => {
  const session = await superuser(c, await pageSession(c), here(c));
  if (session instanceof Response) return session;
  const frame = await frameFor(c, session, { admin: true });
  const status = c.req.query("status")?.trim() || undefined;
  const checked = deliveryStatus.safeParse({ status });
  if (!checked.success) {
    return renderPage(
      c,
      frame,
      <WebhooksPage frame={frame} notice={null} status={status} error={adminStrings.deliveryFilter.invalid} result={null} />,
      422,
    );
  }
  const cursor = c.req.query("cursor")?.slice(0, 200) || undefined;
  const query = { ...checked.data, limit: 50 };
  const result = await listDeliveries(c.var.deps, { ...query, cursor }).catch((error: unknown) => {
    if (cursor && error instanceof AppError) return listDeliveries(c.var.deps, query);
    throw error;
  });
  return renderPage(c, frame, <WebhooksPage frame={frame} notice={noticeOf(c)} status={status} result={result} />);
});

adminPages.post(
  "/admin/webhooks/:id/redeliver",
  formPost("admin_redeliver", async (c, _data, signedIn) => {
    const session = await superuser(c, signedIn, "/admin/webhooks");
    if (session instanceof Response) return session;
    const id = (c.req.param("id") ?? "").slice(0, 64);
    try {
      await redeliver(c.var.deps, actor(session), id);
    } catch (error) {
      if (error instanceof AppError && error.code === "not_found") return noSuchUser(c);
      throw error;
    }
    return redirectWithNotice(c, "/admin/webhooks", "webhook_redelivered");
  }),
);
