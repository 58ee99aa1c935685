import type { FC, PropsWithChildren } from "hono/jsx";
import type { AdminAuditEvent } from "../admin/audit-logs";
import type { AdminUserDetails, AdminUserView } from "../admin/users";
import type { DeliveryView } from "../admin/webhooks";
import type { FormName } from "./csrf";
import { ErrorSummary, Field, Form, Hidden, Layout, Notice, Select, type Frame, type FormState } from "./kit";
import { adminStrings, adminWhen } from "./admin-strings";
import { deviceLabel } from "./account-view";
import { eventLabel } from "./event-labels";

/**
 * `/admin`: the administration console's views (users, one user, the audit log, webhooks; the
 * OAuth clients' view is in admin-oauth-clients.tsx). Every action is a POST form with its own
 * CSRF token; the handlers are in admin.tsx.
 */

const w = adminStrings;

/** The layout of every console view: its sections as a menu, then the notice, if any. */
export const AdminLayout: FC<PropsWithChildren<{ frame: Frame; title: string; notice: string | null; failed?: boolean }>> = (p) => (
  <Layout frame={p.frame} title={p.title} wide failed={p.failed ?? false}>
    <nav class="toc" aria-label={w.nav}>
      <a href="/admin">{w.users}</a>
      <a href="/admin/audit-logs">{w.auditLog}</a>
      <a href="/admin/webhooks">{w.webhooks}</a>
      <a href="/admin/oauth-clients">{w.oauthClients}</a>
    </nav>
    <Notice t={p.frame.t} notice={p.notice} />
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

function statusOf(user: AdminUserView): keyof typeof adminStrings.badges {
  return !user.is_active ? "deactivated" : !user.is_verified ? "unverified" : "active";
}

const Badges: FC<{ user: AdminUserView; locked?: boolean }> = ({ user, locked }) => (
  <>
    <span class="badge">{w.badges[statusOf(user)]}</span>
    {user.is_superuser ? <span class="badge">{w.badges.superuser}</span> : null}
    {user.second_factors.length > 0 ? <span class="badge">{w.badges.twoStep}</span> : null}
    {locked ? <span class="badge">{w.badges.locked}</span> : null}
  </>
);

export interface UserSearch {
  query?: string | undefined;
  status?: string | undefined;
  /** `enrolled` or `none`: with or without a second factor. */
  mfa?: string | undefined;
  cursor?: string | undefined;
}

const mfaOptions = [
  ["", w.mfaFilter.any],
  ["enrolled", w.mfaFilter.enrolled],
  ["none", w.mfaFilter.none],
] as const;

/** A user's second factors in the console's words, lower case for the list's line. */
const factorNames = (user: AdminUserView) => user.second_factors.map((f) => (w.factors[f] ?? f).toLowerCase());

export const UsersPage: FC<{
  frame: Frame;
  notice: string | null;
  search: UserSearch;
  errors?: Record<string, string> | undefined;
  result: { users: AdminUserView[]; next_cursor: string | null } | null;
}> = ({ frame, notice, search, errors, result }) => {
  const statusOptions = [["", w.status.any], ...Object.entries(w.statuses)] as const;
  // Every filter, for the links that page through the same list.
  const filters = { query: search.query, status: search.status, mfa: search.mfa };
  return (
    <AdminLayout frame={frame} title={w.title} notice={notice} failed={errors !== undefined}>
      <section id="users" aria-labelledby="users-h">
        <h2 id="users-h">{w.search}</h2>
        <ErrorSummary t={frame.t} state={errors ? { fields: errors } : undefined} form="search" />
        <form method="get" action="/admin" role="search" aria-label={w.search}>
          <div class="grid">
            <Field form="search" name="query" label={w.query.label} value={search.query} error={errors?.query} maxlength={254} />
            <Select
              form="search"
              name="status"
              label={w.status.label}
              options={statusOptions}
              value={search.status}
              error={errors?.status}
            />
            <Select form="search" name="mfa" label={w.mfaFilter.label} options={mfaOptions} value={search.mfa} error={errors?.mfa} />
          </div>
          <button type="submit">{w.searchSubmit}</button>
        </form>
        {result ? (
          <>
            <ul class="items" aria-label={w.users}>
              {result.users.map((user) => (
                <li>
                  <span>
                    <a href={`/admin/users/${encodeURIComponent(user.id)}`} aria-label={w.open(user.email)}>
                      <strong>{user.email}</strong>
                    </a>
                    {user.username ? <span class="muted"> · {user.username}</span> : null}
                    <Badges user={user} />
                    <br />
                    <span class="muted">
                      {user.full_name} · {w.userDetails(adminWhen(user.created_at), adminWhen(user.last_login_at))} ·{" "}
                      {w.factorsLine(factorNames(user))}
                    </span>
                  </span>
                </li>
              ))}
            </ul>
            {result.users.length === 0 ? <p>{w.noUsers}</p> : null}
            <p class="links">
              {search.cursor ? <a href={`/admin${queryString(filters)}`}>{w.firstPage}</a> : null}
              {result.next_cursor ? <a href={`/admin${queryString({ ...filters, cursor: result.next_cursor })}`}>{w.nextPage}</a> : null}
            </p>
          </>
        ) : null}
      </section>
    </AdminLayout>
  );
};

export interface UserPageProps {
  frame: Frame;
  notice: string | null;
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
        <a href="/admin">{w.backToUsers}</a>
      </p>
      {failed && failed.form !== "admin_roles" ? <ErrorSummary t={frame.t} state={failedState} form={failed.form} /> : null}
      <section id="profile" aria-labelledby="profile-h">
        <h2 id="profile-h">{w.profile}</h2>
        <dl>
          <dt>{w.fullName}</dt>
          <dd>{user.full_name}</dd>
          <dt>{w.email}</dt>
          <dd>{user.email}</dd>
          <dt>{w.username}</dt>
          <dd>{user.username ?? "—"}</dd>
          <dt>{w.id}</dt>
          <dd>
            <code>{id}</code>
          </dd>
          <dt>{w.status.label}</dt>
          <dd>
            <Badges user={user} locked={lock.locked} />
          </dd>
          <dt>{w.roles}</dt>
          <dd>{user.roles.length > 0 ? user.roles.join(", ") : w.noRoles}</dd>
          <dt>{w.twoStep}</dt>
          <dd>{user.second_factors.length > 0 ? user.second_factors.map((f) => w.factors[f] ?? f).join(", ") : w.twoStepOff}</dd>
          <dt>{w.created}</dt>
          <dd>{adminWhen(user.created_at)}</dd>
          <dt>{w.lastLogin}</dt>
          <dd>{adminWhen(user.last_login_at)}</dd>
        </dl>
      </section>

      <SecondFactors frame={frame} details={details} />

      <section id="actions" aria-labelledby="actions-h">
        <h2 id="actions-h">{w.actions}</h2>
        <p>{user.is_active ? w.deactivateIntro : w.reactivateIntro}</p>
        <div class="links">
          {user.is_active ? (
            <Action frame={frame} name="admin_deactivate" user={id} path="deactivate" label={w.deactivate} danger />
          ) : (
            <Action frame={frame} name="admin_reactivate" user={id} path="reactivate" label={w.reactivate} />
          )}
          {user.is_active ? (
            <Action frame={frame} name="admin_password_reset" user={id} path="password-reset" label={w.forceReset} />
          ) : null}
          <Action
            frame={frame}
            name="admin_superuser"
            user={id}
            path="superuser"
            label={user.is_superuser ? w.revokeSuperuser : w.grantSuperuser}
          >
            <Hidden name="superuser" value={user.is_superuser ? "revoke" : "grant"} />
          </Action>
        </div>
        {user.is_active ? <p class="muted">{w.forceResetIntro}</p> : null}
        <h3>{w.roles}</h3>
        <ErrorSummary t={frame.t} state={failed?.form === "admin_roles" ? failedState : undefined} form="roles" />
        <Form frame={frame} name="admin_roles" action={`/admin/users/${encodeURIComponent(id)}/roles`}>
          <Field
            form="roles"
            name="roles"
            label={w.rolesField.label}
            hint={w.rolesField.hint}
            value={rolesValue}
            error={failed?.form === "admin_roles" ? failedState?.fields?.roles : undefined}
          />
          <button type="submit">{w.saveRoles}</button>
        </Form>
        <h3>{w.lock}</h3>
        <p>{lock.locked ? w.locked(lock.locked_until ? adminWhen(lock.locked_until) : null, lock.failures) : w.notLocked(lock.failures)}</p>
        <Action frame={frame} name="admin_unlock" user={id} path="unlock" label={w.unlock} />
      </section>

      <section id="sessions" aria-labelledby="sessions-h">
        <h2 id="sessions-h">{w.sessions}</h2>
        {details.sessions.length === 0 ? <p>{w.noSessions}</p> : null}
        <ul class="items">
          {details.sessions.map((session) => {
            const label = session.device ?? deviceLabel(frame.t, session.user_agent);
            return (
              <li>
                <span>
                  <strong>{label}</strong>
                  <br />
                  <span class="muted">
                    {w.sessionDetails(adminWhen(session.created_at), adminWhen(session.last_used_at), session.ip_address)}
                  </span>
                </span>
                <Action
                  frame={frame}
                  name="admin_session_revoke"
                  user={id}
                  path="sessions/revoke"
                  label={w.revokeSession}
                  aria={w.revokeSessionLabel(label)}
                >
                  <Hidden name="session_id" value={session.id} />
                </Action>
              </li>
            );
          })}
        </ul>
        <Action frame={frame} name="admin_sessions_revoke" user={id} path="sessions/revoke-all" label={w.revokeAll} />
      </section>

      <section id="api-keys" aria-labelledby="api-keys-h">
        <h2 id="api-keys-h">{w.apiKeys}</h2>
        {details.api_keys.length === 0 ? <p>{w.noKeys}</p> : null}
        <ul class="items">
          {details.api_keys.map((key) => (
            <li>
              <span>
                <strong>{key.name}</strong>
                <br />
                <span class="muted">
                  {w.keyDetails(
                    key.prefix,
                    key.scopes.join(", "),
                    adminWhen(key.created_at),
                    adminWhen(key.expires_at),
                    adminWhen(key.last_used_at),
                  )}
                </span>
              </span>
            </li>
          ))}
        </ul>
      </section>

      <section id="devices" aria-labelledby="devices-h">
        <h2 id="devices-h">{w.devices}</h2>
        {details.devices.length === 0 ? <p>{w.noDevices}</p> : null}
        <ul class="items">
          {details.devices.map((device) => (
            <li>
              <span>
                <strong>{deviceLabel(frame.t, device.user_agent)}</strong>
                <br />
                <span class="muted">
                  {w.deviceDetails(adminWhen(device.created_at), adminWhen(device.last_seen_at), device.ip_address)}
                </span>
              </span>
            </li>
          ))}
        </ul>
      </section>

      <section id="events" aria-labelledby="events-h">
        <h2 id="events-h">{w.events}</h2>
        {details.recent_events.length === 0 ? <p>{w.noEvents}</p> : null}
        <ul class="items">
          {details.recent_events.map((event) => (
            <li>
              <span>
                <strong>{eventLabel(frame.t, event.action)} </strong>
                <code>{event.action}</code>
                <br />
                <span class="muted">{w.logDetails(adminWhen(event.created_at), event.ip_address)}</span>
              </span>
            </li>
          ))}
        </ul>
        <p>
          <a href={`/admin/audit-logs${queryString({ user_id: id })}`}>{w.allEvents}</a>
        </p>
      </section>
    </AdminLayout>
  );
};

/**
 * What the user has as second steps, whether `MFA_REQUIRED` applies, whether a reset waits for the
 * mailed code, and the help-desk reset (`DELETE /admin/users/{id}/mfa`).
 */
const SecondFactors: FC<{ frame: Frame; details: AdminUserDetails }> = ({ frame, details: { user, mfa } }) => (
  <section id="mfa" aria-labelledby="mfa-h">
    <h2 id="mfa-h">{w.secondFactors}</h2>
    <dl>
      <dt>{w.authenticatorApp}</dt>
      <dd>{mfa.totp.enabled ? w.appOn(adminWhen(mfa.totp.created_at)) : w.appOff}</dd>
      <dt>{w.passkeys}</dt>
      <dd>{mfa.passkeys}</dd>
      <dt>{w.recoveryCodes}</dt>
      <dd>{mfa.recovery_codes_remaining}</dd>
      <dt>{w.policy}</dt>
      <dd>{mfa.required ? w.policyRequired : w.policyNotRequired}</dd>
    </dl>
    {mfa.email_code_required ? (
      <p>
        <span class="badge">{w.badges.resetPending}</span> {w.resetPending}
      </p>
    ) : null}
    <p class="muted">{w.resetMfaIntro}</p>
    <Action frame={frame} name="admin_mfa_reset" user={user.id} path="mfa/reset" label={w.resetMfa} danger />
  </section>
);

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
    <AdminLayout frame={frame} title={w.auditLog} notice={null} failed={errors !== undefined}>
      <section id="filters" aria-labelledby="filters-h">
        <h2 id="filters-h">{w.filters}</h2>
        <ErrorSummary t={frame.t} state={errors ? { fields: errors } : undefined} form="audit" />
        <form method="get" action="/admin/audit-logs" role="search" aria-label={w.filters}>
          <div class="grid">
            {field("user_id", w.userId)}
            {field("action", w.action)}
            {field("ip", w.ip)}
            {field("since", w.since)}
            {field("until", w.until)}
          </div>
          <button type="submit">{w.filter}</button>
        </form>
        {errors ? null : (
          <p>
            <a href={`/admin/audit-logs.ndjson${queryString({ ...filters })}`} download="gatehouse-audit-logs.ndjson">
              {w.export}
            </a>
            <br />
            <span class="muted">{w.exportHint}</span>
          </p>
        )}
      </section>
      {result ? (
        <section id="log" aria-labelledby="log-h">
          <h2 id="log-h">{w.auditLog}</h2>
          {result.events.length === 0 ? <p>{w.noEvents}</p> : null}
          <ul class="items">
            {result.events.map((event) => (
              <li>
                <span>
                  <code>{event.action}</code>
                  <br />
                  <span class="muted">
                    {w.eventDetails(adminWhen(event.created_at), event.user_id, event.actor_user_id, event.ip_address)}
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
            {cursor ? <a href={`/admin/audit-logs${queryString({ ...filters })}`}>{w.newest}</a> : null}
            {result.next_cursor ? (
              <a href={`/admin/audit-logs${queryString({ ...filters, cursor: result.next_cursor })}`}>{w.older}</a>
            ) : null}
          </p>
        </section>
      ) : null}
    </AdminLayout>
  );
};

const deliveryOptions = [
  ["", w.deliveryFilter.any],
  ["delivered", w.deliveryFilter.delivered],
  ["undelivered", w.deliveryFilter.undelivered],
] as const;

/** `/admin/webhooks`: the delivery log, one row per event and endpoint, each with "deliver again". */
export const WebhooksPage: FC<{
  frame: Frame;
  notice: string | null;
  status: string | undefined;
  error?: string | undefined;
  result: { events: DeliveryView[]; next_cursor: string | null } | null;
}> = ({ frame, notice, status, error, result }) => (
  <AdminLayout frame={frame} title={w.webhooks} notice={notice} failed={error !== undefined}>
    <form method="get" action="/admin/webhooks" role="search" aria-label={w.webhooks}>
      <Select form="deliveries" name="status" label={w.deliveryFilter.label} options={deliveryOptions} value={status} error={error} />
      <button type="submit">{w.filter}</button>
    </form>
    {result ? (
      <section id="deliveries" aria-labelledby="deliveries-h">
        <h2 id="deliveries-h">{w.webhooks}</h2>
        {result.events.length === 0 ? <p>{w.noDeliveries}</p> : null}
        <ul class="items">
          {result.events.map((event) => (
            <li>
              <span>
                <code>{event.type}</code> <code>{event.id}</code>
                <br />
                <span class="muted">{w.deliveryDetails(event)}</span>
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
                <button type="submit" class="secondary" aria-label={`${w.redeliver}: ${event.id}`}>
                  {w.redeliver}
                </button>
              </Form>
            </li>
          ))}
        </ul>
        {result.next_cursor ? (
          <p class="links">
            <a href={`/admin/webhooks${queryString({ status, cursor: result.next_cursor })}`}>{w.nextPage}</a>
          </p>
        ) : null}
      </section>
    ) : null}
  </AdminLayout>
);
