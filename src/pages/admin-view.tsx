import type { FC, PropsWithChildren } from "hono/jsx";
import type { AdminAuditEvent } from "../admin/audit-logs";
import type { AdminUserDetails, AdminUserView } from "../admin/users";
import type { DeliveryView } from "../admin/webhooks";
import { deviceLabel } from "./account-view";
import type { FormName } from "./csrf";
import { ErrorSummary, Field, Form, Hidden, Layout, Notice, Select, whenText, type Frame, type FormState } from "./kit";
import { strings as s, type NoticeKey } from "./strings";

/**
 * `/admin`: the administration console's three views (users, one user, the audit log). Every
 * action is a POST form with its own CSRF token; the handlers are in admin.tsx.
 */

const t = s.admin;

/** The layout of every console view: the two sections as a menu, then the notice, if any. */
const AdminLayout: FC<PropsWithChildren<{ frame: Frame; title: string; notice: NoticeKey | null; failed?: boolean }>> = (p) => (
  <Layout frame={p.frame} title={p.title} wide failed={p.failed ?? false}>
    <nav class="toc" aria-label={t.nav}>
      <a href="/admin">{t.users}</a>
      <a href="/admin/audit-logs">{t.auditLog}</a>
      <a href="/admin/webhooks">{t.webhooks}</a>
    </nav>
    <Notice notice={p.notice} />
    {p.children}
  </Layout>
);

/** `?a=1&b=2` of the set values (empty ones left out). */
export function queryString(values: Record<string, string | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value) params.set(name, value);
  const text = params.toString();
  return text ? `?${text}` : "";
}

function statusOf(user: AdminUserView): keyof typeof t.badges {
  return !user.is_active ? "deactivated" : !user.is_verified ? "unverified" : "active";
}

const Badges: FC<{ user: AdminUserView; locked?: boolean }> = ({ user, locked }) => (
  <>
    <span class="badge">{t.badges[statusOf(user)]}</span>
    {user.is_superuser ? <span class="badge">{t.badges.superuser}</span> : null}
    {locked ? <span class="badge">{t.badges.locked}</span> : null}
  </>
);

export interface UserSearch {
  query?: string | undefined;
  status?: string | undefined;
  cursor?: string | undefined;
}

export const UsersPage: FC<{
  frame: Frame;
  notice: NoticeKey | null;
  search: UserSearch;
  errors?: Record<string, string> | undefined;
  result: { users: AdminUserView[]; next_cursor: string | null } | null;
}> = ({ frame, notice, search, errors, result }) => {
  const statusOptions = [["", t.status.any], ...Object.entries(t.statuses)] as const;
  return (
    <AdminLayout frame={frame} title={t.title} notice={notice} failed={errors !== undefined}>
      <section id="users" aria-labelledby="users-h">
        <h2 id="users-h">{t.search}</h2>
        <ErrorSummary state={errors ? { fields: errors } : undefined} form="search" />
        <form method="get" action="/admin" role="search" aria-label={t.search}>
          <div class="grid">
            <Field form="search" name="query" label={t.query.label} value={search.query} error={errors?.query} maxlength={254} />
            <Select
              form="search"
              name="status"
              label={t.status.label}
              options={statusOptions}
              value={search.status}
              error={errors?.status}
            />
          </div>
          <button type="submit">{t.searchSubmit}</button>
        </form>
        {result ? (
          <>
            <ul class="items" aria-label={t.users}>
              {result.users.map((user) => (
                <li>
                  <span>
                    <a href={`/admin/users/${encodeURIComponent(user.id)}`} aria-label={t.open(user.email)}>
                      <strong>{user.email}</strong>
                    </a>
                    {user.username ? <span class="muted"> · {user.username}</span> : null}
                    <Badges user={user} />
                    <br />
                    <span class="muted">
                      {user.full_name} · {t.userDetails(whenText(user.created_at), whenText(user.last_login_at))}
                    </span>
                  </span>
                </li>
              ))}
            </ul>
            {result.users.length === 0 ? <p>{t.noUsers}</p> : null}
            <p class="links">
              {search.cursor ? <a href={`/admin${queryString({ query: search.query, status: search.status })}`}>{t.firstPage}</a> : null}
              {result.next_cursor ? (
                <a href={`/admin${queryString({ query: search.query, status: search.status, cursor: result.next_cursor })}`}>
                  {t.nextPage}
                </a>
              ) : null}
            </p>
          </>
        ) : null}
      </section>
    </AdminLayout>
  );
};

export interface UserPageProps {
  frame: Frame;
  notice: NoticeKey | null;
  details: AdminUserDetails;
  /** The action that failed, and how (a 409 `last_superuser`, a bad role…). */
  failed?: { form: FormName; state: FormState } | undefined;
}

/** One action: a POST form to `/admin/users/{id}/{path}` with one button. */
const Action: FC<
  PropsWithChildren<{ frame: Frame; name: FormName; user: string; path: string; label: string; danger?: boolean; aria?: string }>
> = (p) => (
  <Form frame={p.frame} name={p.name} action={`/admin/users/${encodeURIComponent(p.user)}/${p.path}`} class="inline">
    {p.children}
    <button type="submit" class={p.danger ? "danger" : "secondary"} aria-label={p.aria}>
      {p.label}
    </button>
  </Form>
);

export const UserPage: FC<UserPageProps> = ({ frame, notice, details, failed }) => {
  const { user, lock } = details;
  const id = user.id;
  const failedState = failed?.state;
  const rolesValue = failed?.form === "admin_roles" ? failed.state.values?.roles : user.roles.join(" ");
  return (
    <AdminLayout frame={frame} title={user.email} notice={notice} failed={failed !== undefined}>
      <p>
        <a href="/admin">{t.backToUsers}</a>
      </p>
      {failed && failed.form !== "admin_roles" ? <ErrorSummary state={failedState} form={failed.form} /> : null}
      <section id="profile" aria-labelledby="profile-h">
        <h2 id="profile-h">{t.profile}</h2>
        <dl>
          <dt>{t.fullName}</dt>
          <dd>{user.full_name}</dd>
          <dt>{t.email}</dt>
          <dd>{user.email}</dd>
          <dt>{t.username}</dt>
          <dd>{user.username ?? "—"}</dd>
          <dt>{t.id}</dt>
          <dd>
            <code>{id}</code>
          </dd>
          <dt>{t.status.label}</dt>
          <dd>
            <Badges user={user} locked={lock.locked} />
          </dd>
          <dt>{t.roles}</dt>
          <dd>{user.roles.length > 0 ? user.roles.join(", ") : t.noRoles}</dd>
          <dt>{t.created}</dt>
          <dd>{whenText(user.created_at)}</dd>
          <dt>{t.lastLogin}</dt>
          <dd>{whenText(user.last_login_at)}</dd>
        </dl>
      </section>

      <section id="actions" aria-labelledby="actions-h">
        <h2 id="actions-h">{t.actions}</h2>
        <p>{user.is_active ? t.deactivateIntro : t.reactivateIntro}</p>
        <div class="links">
          {user.is_active ? (
            <Action frame={frame} name="admin_deactivate" user={id} path="deactivate" label={t.deactivate} danger />
          ) : (
            <Action frame={frame} name="admin_reactivate" user={id} path="reactivate" label={t.reactivate} />
          )}
          {user.is_active ? (
            <Action frame={frame} name="admin_password_reset" user={id} path="password-reset" label={t.forceReset} />
          ) : null}
          <Action
            frame={frame}
            name="admin_superuser"
            user={id}
            path="superuser"
            label={user.is_superuser ? t.revokeSuperuser : t.grantSuperuser}
          >
            <Hidden name="superuser" value={user.is_superuser ? "revoke" : "grant"} />
          </Action>
        </div>
        {user.is_active ? <p class="muted">{t.forceResetIntro}</p> : null}
        <h3>{t.roles}</h3>
        <ErrorSummary state={failed?.form === "admin_roles" ? failedState : undefined} form="roles" />
        <Form frame={frame} name="admin_roles" action={`/admin/users/${encodeURIComponent(id)}/roles`}>
          <Field
            form="roles"
            name="roles"
            label={t.rolesField.label}
            hint={t.rolesField.hint}
            value={rolesValue}
            error={failed?.form === "admin_roles" ? failedState?.fields?.roles : undefined}
          />
          <button type="submit">{t.saveRoles}</button>
        </Form>
        <h3>{t.lock}</h3>
        <p>{lock.locked ? t.locked(lock.locked_until ? whenText(lock.locked_until) : null, lock.failures) : t.notLocked(lock.failures)}</p>
        <Action frame={frame} name="admin_unlock" user={id} path="unlock" label={t.unlock} />
      </section>

      <section id="sessions" aria-labelledby="sessions-h">
        <h2 id="sessions-h">{t.sessions}</h2>
        {details.sessions.length === 0 ? <p>{t.noSessions}</p> : null}
        <ul class="items">
          {details.sessions.map((session) => {
            const label = session.device ?? deviceLabel(session.user_agent);
            return (
              <li>
                <span>
                  <strong>{label}</strong>
                  <br />
                  <span class="muted">
                    {s.account.sessionDetails(whenText(session.created_at), whenText(session.last_used_at), session.ip_address)}
                  </span>
                </span>
                <Action
                  frame={frame}
                  name="admin_session_revoke"
                  user={id}
                  path="sessions/revoke"
                  label={t.revokeSession}
                  aria={t.revokeSessionLabel(label)}
                >
                  <Hidden name="session_id" value={session.id} />
                </Action>
              </li>
            );
          })}
        </ul>
        <Action frame={frame} name="admin_sessions_revoke" user={id} path="sessions/revoke-all" label={t.revokeAll} />
      </section>

      <section id="api-keys" aria-labelledby="api-keys-h">
        <h2 id="api-keys-h">{t.apiKeys}</h2>
        {details.api_keys.length === 0 ? <p>{t.noKeys}</p> : null}
        <ul class="items">
          {details.api_keys.map((key) => (
            <li>
              <span>
                <strong>{key.name}</strong>
                <br />
                <span class="muted">
                  {t.keyDetails(
                    key.prefix,
                    key.scopes.join(", "),
                    whenText(key.created_at),
                    whenText(key.expires_at),
                    whenText(key.last_used_at),
                  )}
                </span>
              </span>
            </li>
          ))}
        </ul>
      </section>

      <section id="devices" aria-labelledby="devices-h">
        <h2 id="devices-h">{t.devices}</h2>
        {details.devices.length === 0 ? <p>{t.noDevices}</p> : null}
        <ul class="items">
          {details.devices.map((device) => (
            <li>
              <span>
                <strong>{deviceLabel(device.user_agent)}</strong>
                <br />
                <span class="muted">
                  {s.account.deviceDetails(whenText(device.created_at), whenText(device.last_seen_at), device.ip_address)}
                </span>
              </span>
            </li>
          ))}
        </ul>
      </section>

      <section id="events" aria-labelledby="events-h">
        <h2 id="events-h">{t.events}</h2>
        {details.recent_events.length === 0 ? <p>{t.noEvents}</p> : null}
        <ul class="items">
          {details.recent_events.map((event) => (
            <li>
              <span>
                {s.events[event.action] ? <strong>{s.events[event.action]} </strong> : null}
                <code>{event.action}</code>
                <br />
                <span class="muted">{s.account.logDetails(whenText(event.created_at), event.ip_address)}</span>
              </span>
            </li>
          ))}
        </ul>
        <p>
          <a href={`/admin/audit-logs${queryString({ user_id: id })}`}>{t.allEvents}</a>
        </p>
      </section>
    </AdminLayout>
  );
};

export interface AuditFilterValues {
  user_id?: string | undefined;
  action?: string | undefined;
  ip?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

export const AuditPage: FC<{
  frame: Frame;
  filters: AuditFilterValues;
  cursor: string | undefined;
  errors?: Record<string, string> | undefined;
  result: { events: AdminAuditEvent[]; next_cursor: string | null } | null;
}> = ({ frame, filters, cursor, errors, result }) => {
  const field = (name: keyof AuditFilterValues, spec: { label: string; hint?: string }) => (
    <Field form="audit" name={name} label={spec.label} hint={spec.hint} value={filters[name]} error={errors?.[name]} maxlength={64} />
  );
  return (
    <AdminLayout frame={frame} title={t.auditLog} notice={null} failed={errors !== undefined}>
      <section id="filters" aria-labelledby="filters-h">
        <h2 id="filters-h">{t.filters}</h2>
        <ErrorSummary state={errors ? { fields: errors } : undefined} form="audit" />
        <form method="get" action="/admin/audit-logs" role="search" aria-label={t.filters}>
          <div class="grid">
            {field("user_id", t.userId)}
            {field("action", t.action)}
            {field("ip", t.ip)}
            {field("since", t.since)}
            {field("until", t.until)}
          </div>
          <button type="submit">{t.filter}</button>
        </form>
        {errors ? null : (
          <p>
            <a href={`/admin/audit-logs.ndjson${queryString({ ...filters })}`} download="gatehouse-audit-logs.ndjson">
              {t.export}
            </a>
            <br />
            <span class="muted">{t.exportHint}</span>
          </p>
        )}
      </section>
      {result ? (
        <section id="log" aria-labelledby="log-h">
          <h2 id="log-h">{t.auditLog}</h2>
          {result.events.length === 0 ? <p>{t.noEvents}</p> : null}
          <ul class="items">
            {result.events.map((event) => (
              <li>
                <span>
                  <code>{event.action}</code>
                  <br />
                  <span class="muted">
                    {t.eventDetails(whenText(event.created_at), event.user_id, event.actor_user_id, event.ip_address)}
                  </span>
                  {event.metadata ? (
                    <>
                      <br />
                      <code>{JSON.stringify(event.metadata).slice(0, 300)}</code>
                    </>
                  ) : null}
                </span>
              </li>
            ))}
          </ul>
          <p class="links">
            {cursor ? <a href={`/admin/audit-logs${queryString({ ...filters })}`}>{t.newest}</a> : null}
            {result.next_cursor ? (
              <a href={`/admin/audit-logs${queryString({ ...filters, cursor: result.next_cursor })}`}>{t.older}</a>
            ) : null}
          </p>
        </section>
      ) : null}
    </AdminLayout>
  );
};

const deliveryOptions = [
  ["", t.deliveryFilter.any],
  ["delivered", t.deliveryFilter.delivered],
  ["undelivered", t.deliveryFilter.undelivered],
] as const;

/** `/admin/webhooks`: the delivery log, one row per event and endpoint, each with "deliver again". */
export const WebhooksPage: FC<{
  frame: Frame;
  notice: NoticeKey | null;
  status: string | undefined;
  error?: string | undefined;
  result: { events: DeliveryView[]; next_cursor: string | null } | null;
}> = ({ frame, notice, status, error, result }) => (
  <AdminLayout frame={frame} title={t.webhooks} notice={notice} failed={error !== undefined}>
    <form method="get" action="/admin/webhooks" role="search" aria-label={t.webhooks}>
      <Select form="deliveries" name="status" label={t.deliveryFilter.label} options={deliveryOptions} value={status} error={error} />
      <button type="submit">{t.filter}</button>
    </form>
    {result ? (
      <section id="deliveries" aria-labelledby="deliveries-h">
        <h2 id="deliveries-h">{t.webhooks}</h2>
        {result.events.length === 0 ? <p>{t.noDeliveries}</p> : null}
        <ul class="items">
          {result.events.map((event) => (
            <li>
              <span>
                <code>{event.type}</code> <code>{event.id}</code>
                <br />
                <span class="muted">{t.deliveryDetails(event)}</span>
                {event.last_error ? (
                  <>
                    <br />
                    <span class="muted">{event.last_error}</span>
                  </>
                ) : null}
              </span>
              <Form
                frame={frame}
                name="admin_redeliver"
                action={`/admin/webhooks/${encodeURIComponent(event.id)}/redeliver`}
                class="inline"
              >
                <button type="submit" class="secondary" aria-label={`${t.redeliver}: ${event.id}`}>
                  {t.redeliver}
                </button>
              </Form>
            </li>
          ))}
        </ul>
        {result.next_cursor ? (
          <p class="links">
            <a href={`/admin/webhooks${queryString({ status, cursor: result.next_cursor })}`}>{t.nextPage}</a>
          </p>
        ) : null}
      </section>
    ) : null}
  </AdminLayout>
);
