import type { FC } from "hono/jsx";
import type { ApiKeyResponse, CreatedApiKey } from "../api-keys/api-keys";
import { API_KEY_SCOPES } from "../api-keys/api-keys";
import type { SecurityEventPage } from "../audit/security-events";
import type { DeviceView } from "../devices/devices";
import type { OutstandingRevert } from "../recovery/email-change";
import type { SessionPage } from "../sessions/sessions";
import type { FormName } from "./csrf";
import { ErrorSummary, Field, Form, Hidden, Layout, Notice, whenText, type Frame, type FormState } from "./kit";
import type { PageSession } from "./session";
import { strings as s, type NoticeKey } from "./strings";

/** `/account`: everything a signed-in user manages, one section per form. */

export interface AccountData {
  /** Undo links of email changes that can still be used. */
  reverts: OutstandingRevert[];
  sessions: SessionPage;
  devices: DeviceView[];
  apiKeys: ApiKeyResponse[];
  events: SecurityEventPage;
}

export interface AccountView {
  frame: Frame;
  session: PageSession;
  data: AccountData;
  notice: NoticeKey | null;
  /** The form that failed, and how. */
  failed?: { form: FormName; state: FormState } | undefined;
  /** A key just created: its secret is shown this once. */
  createdKey?: CreatedApiKey | undefined;
}

const a = s.account;

/** A short label for a user agent: "Chrome on Linux", or the agent cut short. */
export function deviceLabel(userAgent: string | null): string {
  if (!userAgent) return a.unknownDevice;
  const browser = /(Edg|Firefox|Chrome|Safari|curl|okhttp)\//.exec(userAgent)?.[1];
  const os = /(Windows|Android|iPhone|iPad|Mac OS X|Linux|CrOS)/.exec(userAgent)?.[1];
  if (browser) return os ? `${browser} on ${os}` : browser;
  return userAgent.slice(0, 40);
}

export const AccountPage: FC<AccountView> = (view) => {
  const { frame, session, data, failed } = view;
  const { user } = session;
  const stateOf = (form: FormName) => (failed?.form === form ? failed.state : undefined);
  const errorOf = (form: FormName, field: string) => stateOf(form)?.fields?.[field];
  const valueOf = (form: FormName, field: string) => stateOf(form)?.values?.[field];
  const summary = (form: FormName) => <ErrorSummary state={stateOf(form)} form={form} />;
  return (
    <Layout frame={frame} title={a.title} wide failed={failed !== undefined}>
      <Notice notice={view.notice} />
      <nav class="toc" aria-label={a.contents}>
        <a href="#profile">{a.profile}</a>
        <a href="#email">{a.email}</a>
        <a href="#password">{a.password}</a>
        <a href="#sessions">{a.sessions}</a>
        <a href="#devices">{a.devices}</a>
        <a href="#api-keys">{a.apiKeys}</a>
        <a href="#log">{a.log}</a>
        <a href="#delete">{a.delete}</a>
      </nav>

      <section id="profile" aria-labelledby="profile-h">
        <h2 id="profile-h">{a.profile}</h2>
        {summary("profile")}
        <Form frame={frame} name="profile" action="/account/profile">
          <Field
            form="profile"
            name="full_name"
            label={s.fields.full_name.label}
            value={valueOf("profile", "full_name") ?? user.fullName}
            error={errorOf("profile", "full_name")}
            autocomplete="name"
            required
            maxlength={255}
          />
          <Field
            form="profile"
            name="username"
            label={s.fields.username.label}
            hint={s.fields.username.hint}
            value={valueOf("profile", "username") ?? user.username ?? ""}
            error={errorOf("profile", "username")}
            autocomplete="username"
            maxlength={50}
          />
          <button type="submit">{a.profileSubmit}</button>
        </Form>
      </section>

      <section id="email" aria-labelledby="email-h">
        <h2 id="email-h">{a.email}</h2>
        {summary("email")}
        <p>
          {a.current(user.email)}
          <span class="badge">{user.emailVerified ? a.verified : a.unverified}</span>
        </p>
        {data.reverts.map((revert) => (
          <p class="notice">
            {a.revertOutstanding(revert.sentTo, revert.movedTo, whenText(revert.expiresAt))} {a.revertHowToEnd}
          </p>
        ))}
        {user.emailVerified ? null : (
          <Form frame={frame} name="resend" action="/resend-verification">
            <Hidden name="email" value={user.email} />
            <button type="submit" class="secondary">
              {a.resend}
            </button>
          </Form>
        )}
        <p>{a.emailIntro}</p>
        <Form frame={frame} name="email" action="/account/email">
          <Field
            form="email"
            name="new_email"
            type="email"
            label={s.fields.new_email.label}
            value={valueOf("email", "new_email")}
            error={errorOf("email", "new_email")}
            autocomplete="email"
            required
            maxlength={254}
          />
          <Field
            form="email"
            name="password"
            type="password"
            label={s.fields.current_password.label}
            error={errorOf("email", "password")}
            autocomplete="current-password"
            required
          />
          <button type="submit">{a.emailSubmit}</button>
        </Form>
      </section>

      <section id="password" aria-labelledby="password-h">
        <h2 id="password-h">{a.password}</h2>
        {summary("password")}
        <p>{a.passwordIntro}</p>
        <Form frame={frame} name="password" action="/account/password">
          <input type="text" name="username" value={user.email} autocomplete="username" hidden />
          <Field
            form="password"
            name="current_password"
            type="password"
            label={s.fields.current_password.label}
            error={errorOf("password", "current_password")}
            autocomplete="current-password"
            required
          />
          <Field
            form="password"
            name="new_password"
            type="password"
            label={s.fields.new_password.label}
            hint={s.passwordHint(frame.passwordMinLength)}
            error={errorOf("password", "new_password")}
            autocomplete="new-password"
            required
          />
          <button type="submit">{a.passwordSubmit}</button>
        </Form>
      </section>

      <Sessions frame={frame} data={data} failed={stateOf("session_revoke")} />
      <Devices frame={frame} devices={data.devices} failed={stateOf("device_revoke")} />
      <ApiKeys
        frame={frame}
        keys={data.apiKeys}
        createdKey={view.createdKey}
        state={stateOf("api_key_create")}
        revokeState={stateOf("api_key_revoke")}
      />
      <SecurityLog events={data.events} />

      <section id="delete" aria-labelledby="delete-h">
        <h2 id="delete-h">{a.delete}</h2>
        {summary("delete")}
        <p>{a.deleteIntro}</p>
        <Form frame={frame} name="delete" action="/account/delete">
          <Field
            form="delete"
            name="password"
            type="password"
            label={s.fields.delete_password.label}
            error={errorOf("delete", "password")}
            autocomplete="current-password"
            required
          />
          <button type="submit" class="danger">
            {a.deleteSubmit}
          </button>
        </Form>
      </section>
    </Layout>
  );
};

const Sessions: FC<{ frame: Frame; data: AccountData; failed: FormState | undefined }> = ({ frame, data, failed }) => (
  <section id="sessions" aria-labelledby="sessions-h">
    <h2 id="sessions-h">{a.sessions}</h2>
    <ErrorSummary state={failed} form="session_revoke" />
    <ul class="items">
      {data.sessions.sessions.map((session) => {
        const label = session.device ?? deviceLabel(session.user_agent);
        return (
          <li>
            <span>
              <strong>{label}</strong>
              {session.current ? <span class="badge">{a.thisDevice}</span> : null}
              <br />
              <span class="muted">
                {a.sessionDetails(whenText(session.created_at), whenText(session.last_used_at), session.ip_address)}
              </span>
            </span>
            {session.current ? null : (
              <Form frame={frame} name="session_revoke" action="/account/sessions/revoke" class="inline">
                <Hidden name="id" value={session.id} />
                <button type="submit" class="secondary" aria-label={a.revokeSessionLabel(label)}>
                  {a.revokeSession}
                </button>
              </Form>
            )}
          </li>
        );
      })}
    </ul>
    <div class="links">
      <Form frame={frame} name="logout" action="/logout" class="inline">
        <button type="submit" class="secondary">
          {a.signOutHere}
        </button>
      </Form>
      <Form frame={frame} name="logout" action="/logout" class="inline">
        <input type="hidden" name="scope" value="all" />
        <button type="submit" class="secondary">
          {a.signOutEverywhere}
        </button>
      </Form>
    </div>
  </section>
);

const Devices: FC<{ frame: Frame; devices: DeviceView[]; failed: FormState | undefined }> = ({ frame, devices, failed }) => (
  <section id="devices" aria-labelledby="devices-h">
    <h2 id="devices-h">{a.devices}</h2>
    <ErrorSummary state={failed} form="device_revoke" />
    <p>{a.devicesIntro}</p>
    {devices.length === 0 ? <p class="muted">{a.noDevices}</p> : null}
    <ul class="items">
      {devices.map((device) => {
        const label = deviceLabel(device.user_agent);
        return (
          <li>
            <span>
              <strong>{label}</strong>
              <br />
              <span class="muted">{a.deviceDetails(whenText(device.created_at), whenText(device.last_seen_at), device.ip_address)}</span>
            </span>
            <Form frame={frame} name="device_revoke" action="/account/devices/revoke" class="inline">
              <Hidden name="id" value={device.id} />
              <button type="submit" class="secondary" aria-label={a.forgetDeviceLabel(label)}>
                {a.forgetDevice}
              </button>
            </Form>
          </li>
        );
      })}
    </ul>
  </section>
);

const ApiKeys: FC<{
  frame: Frame;
  keys: ApiKeyResponse[];
  createdKey: CreatedApiKey | undefined;
  state: FormState | undefined;
  revokeState: FormState | undefined;
}> = ({ frame, keys, createdKey, state, revokeState }) => {
  const chosen = state?.values?.scopes?.split(",") ?? [...API_KEY_SCOPES];
  return (
    <section id="api-keys" aria-labelledby="api-keys-h">
      <h2 id="api-keys-h">{a.apiKeys}</h2>
      <ErrorSummary state={state} form="api_key_create" />
      <ErrorSummary state={revokeState} form="api_key_revoke" />
      {createdKey ? (
        <div class="notice" role="status">
          <p>{a.newKey}</p>
          <p class="secret" id="new-api-key">
            {createdKey.api_key}
          </p>
        </div>
      ) : null}
      <p>{a.apiKeysIntro}</p>
      {keys.length === 0 ? <p class="muted">{a.noKeys}</p> : null}
      <ul class="items">
        {keys.map((key) => (
          <li>
            <span>
              <strong>{key.name}</strong> <code>{key.prefix}…</code>
              <br />
              <span class="muted">
                {a.keyDetails(whenText(key.created_at), whenText(key.expires_at), whenText(key.last_used_at))} ·{" "}
                {key.scopes.map((scope) => s.scopeLabels[scope] ?? scope).join(", ")}
              </span>
            </span>
            <Form frame={frame} name="api_key_revoke" action="/account/api-keys/revoke" class="inline">
              <Hidden name="id" value={key.id} />
              <button type="submit" class="danger" aria-label={a.revokeKeyLabel(key.name)}>
                {a.revokeKey}
              </button>
            </Form>
          </li>
        ))}
      </ul>
      <Form frame={frame} name="api_key_create" action="/account/api-keys">
        <Field
          form="api_key_create"
          name="name"
          label={s.fields.name.label}
          hint={s.fields.name.hint}
          value={state?.values?.name}
          error={state?.fields?.name}
          required
          maxlength={100}
        />
        <Field
          form="api_key_create"
          name="expires_in_days"
          type="number"
          label={s.fields.expires_in_days.label}
          value={state?.values?.expires_in_days ?? "90"}
          error={state?.fields?.expires_in_days}
          min={1}
          max={3650}
        />
        <fieldset aria-describedby={state?.fields?.scopes ? "api_key_create-scopes-error" : undefined}>
          <legend>{s.fields.scopes.legend}</legend>
          {state?.fields?.scopes ? (
            <span class="field-error" id="api_key_create-scopes-error">
              {state.fields.scopes}
            </span>
          ) : null}
          {API_KEY_SCOPES.map((scope, i) => (
            <label class="check">
              <input
                type="checkbox"
                name="scopes"
                value={scope}
                checked={chosen.includes(scope)}
                id={i === 0 ? "api_key_create-scopes" : undefined}
              />
              {s.scopeLabels[scope]}
            </label>
          ))}
        </fieldset>
        <Field
          form="api_key_create"
          name="current_password"
          type="password"
          label={s.fields.current_password.label}
          hint={a.currentPasswordHint}
          error={state?.fields?.current_password}
          autocomplete="current-password"
        />
        <button type="submit">{a.createKey}</button>
      </Form>
    </section>
  );
};

const SecurityLog: FC<{ events: SecurityEventPage }> = ({ events }) => (
  <section id="log" aria-labelledby="log-h">
    <h2 id="log-h">{a.log}</h2>
    {events.events.length === 0 ? <p class="muted">{a.logEmpty}</p> : null}
    <ul class="items">
      {events.events.map((event) => (
        <li>
          <span>
            <strong>{s.events[event.action] ?? event.action}</strong>
            <br />
            <span class="muted">
              {a.logDetails(whenText(event.created_at), event.ip_address)}
              {event.user_agent ? ` · ${deviceLabel(event.user_agent)}` : ""}
            </span>
          </span>
        </li>
      ))}
    </ul>
    {events.next_cursor ? (
      <p>
        <a href={`/account?events=${encodeURIComponent(events.next_cursor)}#log`}>{a.logOlder}</a>
      </p>
    ) : null}
  </section>
);
