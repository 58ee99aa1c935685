import type { FC } from "hono/jsx";
import type { OAuthProviderConfig } from "../config/oauth";
import type { MfaStatus } from "../accounts/mfa";
import type { ApiKeyResponse, CreatedApiKey } from "../api-keys/api-keys";
import { API_KEY_SCOPES } from "../api-keys/api-keys";
import type { SecurityEventPage } from "../audit/security-events";
import type { DeviceView } from "../devices/devices";
import type { OutstandingRevert } from "../recovery/email-change";
import type { SessionPage } from "../sessions/sessions";
import type { FormName } from "./csrf";
import { nativeName, person, SHIPPED_LOCALES, type Translator } from "../i18n";
import { ProofField, type ProofKind } from "./fresh-proof";
import { ErrorSummary, Field, Form, Hidden, Layout, Notice, Select, whenText, type Frame, type FormState } from "./kit";
import { RecoveryCodes, SecuritySection, type Enrolment } from "./security-view";
import { PasskeySection } from "./passkey-view";
import { EmailCodeSection } from "./email-code-setting";
import type { PasskeyView } from "../accounts/passkeys";
import { DISABLED_PASSWORD } from "../accounts/passwords";
import type { IdentityView } from "../federation/identities";
import type { GrantView } from "../oidc/grants";
import { IdentitiesSection } from "./external-view";
import type { PageSession } from "./session";
import { eventLabel } from "./event-labels";
import { SectionNotice, type AccountSection } from "./account-notices";

/** `/account`: everything a signed-in user manages, one section per form. */

export interface AccountData {
  /** Undo links of email changes that can still be used. */
  reverts: OutstandingRevert[];
  sessions: SessionPage;
  devices: DeviceView[];
  apiKeys: ApiKeyResponse[];
  events: SecurityEventPage;
  mfa: MfaStatus;
  /** An authenticator app's set-up begun and not confirmed yet. */
  enrolment: Enrolment | null;
  passkeys: PasskeyView[];
  /** The deployment signs in by mailed code (EMAIL_CODE_SIGN_IN): the account may turn it off. */
  emailCodeOffered: boolean;
  /** External identities linked to the account (OAUTH_PROVIDERS). */
  identities: IdentityView[];
  /** Apps with access: the OAuth clients the person allowed (Gatehouse as an OpenID provider). */
  grants: GrantView[];
}

export interface AccountView {
  frame: Frame;
  session: PageSession;
  data: AccountData;
  notice: string | null;
  /** The form that failed, and how. */
  failed?: { form: FormName; state: FormState } | undefined;
  /** A key just created: its secret is shown this once. */
  createdKey?: CreatedApiKey | undefined;
  /** Recovery codes just made: shown this once. */
  recoveryCodes?: string[] | undefined;
  /** The proof sensitive forms need now (the session is older than 5 minutes), or null. */
  proof: ProofKind | null;
  /** The deployment's external providers (OAUTH_PROVIDERS), for the link buttons. */
  providers: OAuthProviderConfig[];
}

/** A short label for a user agent: "Chrome on Linux", or the agent cut short. */
export function deviceLabel(t: Translator, userAgent: string | null): string {
  if (!userAgent) return t.text("account.unknownDevice");
  const browser = /(Edg|Firefox|Chrome|Safari|curl|okhttp)\//.exec(userAgent)?.[1];
  const os = /(Windows|Android|iPhone|iPad|Mac OS X|Linux|CrOS)/.exec(userAgent)?.[1];
  if (browser) return os ? t.text("account.deviceLabel", { browser, system: os }) : browser;
  return userAgent.slice(0, 40);
}

/** Whether the page has `section`: two of them show only where the deployment offers what they manage. */
export function hasSection(section: AccountSection, data: AccountData, providers: OAuthProviderConfig[]): boolean {
  if (section === "identities") return providers.length > 0 || data.identities.length > 0;
  if (section === "email-code") return data.emailCodeOffered;
  return true;
}

/** "Signed in … · last active … · IP …": the IP part only when there is one. */
function withIp(t: Translator, ip: string | null, without: string, withIt: (ip: string) => string): string {
  return ip ? withIt(ip) : without;
}

export const AccountPage: FC<AccountView> = (view) => {
  const { frame, session, data, failed, proof } = view;
  const { t } = frame;
  const { user } = session;
  const { providers } = view;
  const stateOf = (form: FormName) => (failed?.form === form ? failed.state : undefined);
  const errorOf = (form: FormName, field: string) => stateOf(form)?.fields?.[field];
  const valueOf = (form: FormName, field: string) => stateOf(form)?.values?.[field];
  const summary = (form: FormName) => <ErrorSummary t={t} state={stateOf(form)} form={form} />;
  return (
    <Layout frame={frame} title={t.text("account.title")} wide failed={failed !== undefined}>
      {frame.placedNotice ? null : <Notice t={t} notice={view.notice} />}
      {view.recoveryCodes ? <RecoveryCodes frame={frame} codes={view.recoveryCodes} email={user.email} /> : null}
      <nav class="toc" aria-label={t.text("account.contents")}>
        <a href="#profile">{t.text("account.profile")}</a>
        <a href="#email">{t.text("account.email")}</a>
        <a href="#password">{t.text("account.password")}</a>
        <a href="#security">{t.text("security.title")}</a>
        {hasSection("email-code", data, providers) ? <a href="#email-code">{t.text("emailCodeSetting.title")}</a> : null}
        {hasSection("identities", data, providers) ? <a href="#identities">{t.text("identities.title")}</a> : null}
        <a href="#apps">{t.text("oauth.appsTitle")}</a>
        <a href="#sessions">{t.text("account.sessions")}</a>
        <a href="#devices">{t.text("account.devices")}</a>
        <a href="#api-keys">{t.text("account.apiKeys")}</a>
        <a href="#log">{t.text("account.log")}</a>
        <a href="#delete">{t.text("account.delete")}</a>
      </nav>

      <section id="profile" aria-labelledby="profile-h">
        <h2 id="profile-h">{t.text("account.profile")}</h2>
        <SectionNotice frame={frame} section="profile" />
        {summary("profile")}
        <Form frame={frame} name="profile" action="/account/profile">
          <Field
            form="profile"
            name="full_name"
            label={t.text("fields.full_name.label")}
            value={valueOf("profile", "full_name") ?? user.fullName}
            error={errorOf("profile", "full_name")}
            autocomplete="name"
            required
            maxlength={255}
          />
          <Field
            form="profile"
            name="username"
            label={t.text("fields.username.label")}
            hint={t.text("fields.username.hint")}
            value={valueOf("profile", "username") ?? user.username ?? ""}
            error={errorOf("profile", "username")}
            autocomplete="username"
            maxlength={50}
          />
          <Select
            form="profile"
            name="locale"
            label={t.text("fields.locale.label")}
            options={[["", t.text("fields.locale.automatic")], ...SHIPPED_LOCALES.map((l) => [l, nativeName(l)] as const)]}
            value={valueOf("profile", "locale") ?? user.locale ?? ""}
            error={errorOf("profile", "locale")}
          />
          <button type="submit">{t.text("account.profileSubmit")}</button>
        </Form>
      </section>

      <section id="email" aria-labelledby="email-h">
        <h2 id="email-h">{t.text("account.email")}</h2>
        <SectionNotice frame={frame} section="email" />
        {summary("email")}
        <p>
          {t.rich("account.current", { email: person(user.email) })}
          <span class="badge">{user.emailVerified ? t.text("account.verified") : t.text("account.unverified")}</span>
        </p>
        {data.reverts.map((revert) => (
          <p class="notice">
            {t.rich("account.revertOutstanding", {
              sentTo: person(revert.sentTo),
              movedTo: person(revert.movedTo),
              until: whenText(t, revert.expiresAt),
            })}{" "}
            {t.text("account.revertHowToEnd")}
          </p>
        ))}
        {user.emailVerified ? null : (
          <Form frame={frame} name="resend" action="/resend-verification">
            <Hidden name="email" value={user.email} />
            <button type="submit" class="secondary">
              {t.text("account.resend")}
            </button>
          </Form>
        )}
        <p>{t.text("account.emailIntro")}</p>
        <Form frame={frame} name="email" action="/account/email">
          <Field
            form="email"
            name="new_email"
            type="email"
            label={t.text("fields.new_email.label")}
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
            label={t.text("fields.current_password.label")}
            error={errorOf("email", "password")}
            autocomplete="current-password"
            required
          />
          <ProofField frame={frame} form="email" kind={proof} hasPassword error={errorOf("email", "proof_code")} />
          <button type="submit">{t.text("account.emailSubmit")}</button>
        </Form>
      </section>

      <section id="password" aria-labelledby="password-h">
        <h2 id="password-h">{t.text("account.password")}</h2>
        <SectionNotice frame={frame} section="password" />
        {summary("password")}
        <p>{t.text("account.passwordIntro")}</p>
        <Form frame={frame} name="password" action="/account/password">
          <input type="text" name="username" value={user.email} autocomplete="username" hidden />
          <Field
            form="password"
            name="current_password"
            type="password"
            label={t.text("fields.current_password.label")}
            error={errorOf("password", "current_password")}
            autocomplete="current-password"
            required
          />
          <Field
            form="password"
            name="new_password"
            type="password"
            label={t.text("fields.new_password.label")}
            hint={t.text("passwordHint", { count: frame.passwordMinLength })}
            error={errorOf("password", "new_password")}
            autocomplete="new-password"
            required
          />
          <ProofField frame={frame} form="password" kind={proof} hasPassword error={errorOf("password", "proof_code")} />
          <button type="submit">{t.text("account.passwordSubmit")}</button>
        </Form>
      </section>

      <SecuritySection frame={frame} mfa={data.mfa} enrolment={data.enrolment} proof={proof} stateOf={stateOf} />
      <PasskeySection
        frame={frame}
        passkeys={data.passkeys}
        proof={proof}
        emailCodeRequired={data.mfa.email_code_required}
        stateOf={stateOf}
      />
      {data.emailCodeOffered ? <EmailCodeSection frame={frame} enabled={user.emailCodeSignIn} proof={proof} stateOf={stateOf} /> : null}
      <IdentitiesSection
        frame={frame}
        providers={providers}
        identities={data.identities}
        proof={proof}
        signInAgain={proof === "password" && user.passwordHash === DISABLED_PASSWORD}
        stateOf={stateOf}
      />
      <Apps frame={frame} grants={data.grants} failed={stateOf("grant_revoke")} />

      <Sessions frame={frame} data={data} failed={stateOf("session_revoke")} />
      <Devices frame={frame} devices={data.devices} failed={stateOf("device_revoke")} />
      <ApiKeys
        frame={frame}
        proof={proof}
        keys={data.apiKeys}
        createdKey={view.createdKey}
        state={stateOf("api_key_create")}
        revokeState={stateOf("api_key_revoke")}
      />
      <SecurityLog t={t} events={data.events} />

      <section id="delete" aria-labelledby="delete-h">
        <h2 id="delete-h">{t.text("account.delete")}</h2>
        {summary("delete")}
        <p>{t.text("account.deleteIntro")}</p>
        <Form frame={frame} name="delete" action="/account/delete">
          <Field
            form="delete"
            name="password"
            type="password"
            label={t.text("fields.delete_password.label")}
            error={errorOf("delete", "password")}
            autocomplete="current-password"
            required
          />
          <ProofField frame={frame} form="delete" kind={proof} hasPassword error={errorOf("delete", "proof_code")} />
          <button type="submit" class="danger">
            {t.text("account.deleteSubmit")}
          </button>
        </Form>
      </section>
    </Layout>
  );
};

/** `/account#apps`: the apps with access, each with its scopes and a button that removes its access at once. */
const Apps: FC<{ frame: Frame; grants: GrantView[]; failed: FormState | undefined }> = ({ frame, grants, failed }) => {
  const { t } = frame;
  return (
    <section id="apps" aria-labelledby="apps-h">
      <h2 id="apps-h">{t.text("oauth.appsTitle")}</h2>
      <SectionNotice frame={frame} section="apps" />
      <ErrorSummary t={t} state={failed} form="grant_revoke" />
      <p>{t.text("oauth.appsIntro")}</p>
      {grants.length === 0 ? <p class="muted">{t.text("oauth.appsNone")}</p> : null}
      <ul class="items">
        {grants.map((grant, i) => (
          <li>
            <span>
              <strong id={`app-${i}`}>{grant.name}</strong>
              {grant.scopes.length > 0 ? (
                <>
                  <br />
                  <span>{grant.scopes.map((scope) => t.maybe(`oauth.scopes.${scope}`) ?? scope).join(" · ")}</span>
                </>
              ) : null}
              <br />
              <span class="muted">{t.text("oauth.appsSince", { date: whenText(t, grant.created_at) })}</span>
            </span>
            <Form frame={frame} name="grant_revoke" action="/account/grants/revoke" class="inline">
              <Hidden name="client_id" value={grant.client_id} />
              <button type="submit" class="secondary" aria-describedby={`app-${i}`}>
                {t.text("oauth.appsRemove")}
              </button>
            </Form>
          </li>
        ))}
      </ul>
    </section>
  );
};

const Sessions: FC<{ frame: Frame; data: AccountData; failed: FormState | undefined }> = ({ frame, data, failed }) => {
  const { t } = frame;
  const now = new Date();
  return (
    <section id="sessions" aria-labelledby="sessions-h">
      <h2 id="sessions-h">{t.text("account.sessions")}</h2>
      <SectionNotice frame={frame} section="sessions" />
      <ErrorSummary t={t} state={failed} form="session_revoke" />
      <p>{t.text("account.sessionCount", { count: data.sessions.sessions.length })}</p>
      <ul class="items">
        {data.sessions.sessions.map((session) => {
          const label = session.device ? session.device : deviceLabel(t, session.user_agent);
          const times = {
            created: whenText(t, session.created_at),
            lastUsed: session.last_used_at ? t.relative(session.last_used_at, now) : t.text("time.never"),
          };
          return (
            <li>
              <span>
                <strong>{label}</strong>
                {session.current ? <span class="badge">{t.text("account.thisDevice")}</span> : null}
                <br />
                <span class="muted">
                  {withIp(t, session.ip_address, t.text("account.sessionDetails", times), (ip) =>
                    t.text("account.sessionDetailsIp", { ...times, ip }),
                  )}
                </span>
              </span>
              {session.current ? null : (
                <Form frame={frame} name="session_revoke" action="/account/sessions/revoke" class="inline">
                  <Hidden name="id" value={session.id} />
                  <button type="submit" class="secondary" aria-label={t.text("account.revokeSessionLabel", { device: label })}>
                    {t.text("account.revokeSession")}
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
            {t.text("account.signOutHere")}
          </button>
        </Form>
        <Form frame={frame} name="logout" action="/logout" class="inline">
          <input type="hidden" name="scope" value="all" />
          <button type="submit" class="secondary">
            {t.text("account.signOutEverywhere")}
          </button>
        </Form>
      </div>
    </section>
  );
};

const Devices: FC<{ frame: Frame; devices: DeviceView[]; failed: FormState | undefined }> = ({ frame, devices, failed }) => {
  const { t } = frame;
  const now = new Date();
  return (
    <section id="devices" aria-labelledby="devices-h">
      <h2 id="devices-h">{t.text("account.devices")}</h2>
      <SectionNotice frame={frame} section="devices" />
      <ErrorSummary t={t} state={failed} form="device_revoke" />
      <p>{t.text("account.devicesIntro")}</p>
      {devices.length === 0 ? <p class="muted">{t.text("account.noDevices")}</p> : null}
      <ul class="items">
        {devices.map((device) => {
          const label = deviceLabel(t, device.user_agent);
          const times = { first: whenText(t, device.created_at), last: t.relative(device.last_seen_at, now) };
          return (
            <li>
              <span>
                <strong>{label}</strong>
                <br />
                <span class="muted">
                  {withIp(t, device.ip_address, t.text("account.deviceDetails", times), (ip) =>
                    t.text("account.deviceDetailsIp", { ...times, ip }),
                  )}
                </span>
              </span>
              <Form frame={frame} name="device_revoke" action="/account/devices/revoke" class="inline">
                <Hidden name="id" value={device.id} />
                <button type="submit" class="secondary" aria-label={t.text("account.forgetDeviceLabel", { device: label })}>
                  {t.text("account.forgetDevice")}
                </button>
              </Form>
            </li>
          );
        })}
      </ul>
    </section>
  );
};

const ApiKeys: FC<{
  frame: Frame;
  proof: ProofKind | null;
  keys: ApiKeyResponse[];
  createdKey: CreatedApiKey | undefined;
  state: FormState | undefined;
  revokeState: FormState | undefined;
}> = ({ frame, proof, keys, createdKey, state, revokeState }) => {
  const { t } = frame;
  const chosen = state?.values?.scopes?.split(",") ?? [...API_KEY_SCOPES];
  return (
    <section id="api-keys" aria-labelledby="api-keys-h">
      <h2 id="api-keys-h">{t.text("account.apiKeys")}</h2>
      <SectionNotice frame={frame} section="api-keys" />
      <ErrorSummary t={t} state={state} form="api_key_create" />
      <ErrorSummary t={t} state={revokeState} form="api_key_revoke" />
      {createdKey ? (
        <div class="notice" role="status">
          <p>{t.text("account.newKey")}</p>
          <p class="secret" id="new-api-key">
            {createdKey.api_key}
          </p>
        </div>
      ) : null}
      <p>{t.text("account.apiKeysIntro")}</p>
      {keys.length === 0 ? <p class="muted">{t.text("account.noKeys")}</p> : null}
      <ul class="items">
        {keys.map((key) => (
          <li>
            <span>
              <strong>{key.name}</strong> <code>{key.prefix}…</code>
              <br />
              <span class="muted">
                {t.text("account.keyDetails", {
                  created: whenText(t, key.created_at),
                  expires: whenText(t, key.expires_at),
                  lastUsed: whenText(t, key.last_used_at),
                })}{" "}
                · {t.list(key.scopes.map((scope) => t.maybe(`scopeLabels.${scope}`) ?? scope))}
              </span>
            </span>
            <Form frame={frame} name="api_key_revoke" action="/account/api-keys/revoke" class="inline">
              <Hidden name="id" value={key.id} />
              <button type="submit" class="danger" aria-label={t.text("account.revokeKeyLabel", { name: key.name })}>
                {t.text("account.revokeKey")}
              </button>
            </Form>
          </li>
        ))}
      </ul>
      <Form frame={frame} name="api_key_create" action="/account/api-keys">
        <Field
          form="api_key_create"
          name="name"
          label={t.text("fields.name.label")}
          hint={t.text("fields.name.hint")}
          value={state?.values?.name}
          error={state?.fields?.name}
          required
          maxlength={100}
        />
        <Field
          form="api_key_create"
          name="expires_in_days"
          type="number"
          label={t.text("fields.expires_in_days.label")}
          value={state?.values?.expires_in_days ?? "90"}
          error={state?.fields?.expires_in_days}
          min={1}
          max={3650}
        />
        <fieldset aria-describedby={state?.fields?.scopes ? "api_key_create-scopes-error" : undefined}>
          <legend>{t.text("fields.scopes.legend")}</legend>
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
              {t.maybe(`scopeLabels.${scope}`) ?? scope}
            </label>
          ))}
        </fieldset>
        <ProofField frame={frame} form="api_key_create" kind={proof} error={state?.fields?.current_password ?? state?.fields?.proof_code} />
        <button type="submit">{t.text("account.createKey")}</button>
      </Form>
    </section>
  );
};

const SecurityLog: FC<{ t: Translator; events: SecurityEventPage }> = ({ t, events }) => (
  <section id="log" aria-labelledby="log-h">
    <h2 id="log-h">{t.text("account.log")}</h2>
    {events.events.length === 0 ? <p class="muted">{t.text("account.logEmpty")}</p> : null}
    <ul class="items">
      {events.events.map((event) => (
        <li>
          <span>
            <strong>{eventLabel(t, event.action)}</strong>
            <br />
            <span class="muted">
              {withIp(t, event.ip_address, t.text("account.logDetails", { when: whenText(t, event.created_at) }), (ip) =>
                t.text("account.logDetailsIp", { when: whenText(t, event.created_at), ip }),
              )}
              {event.user_agent ? ` · ${deviceLabel(t, event.user_agent)}` : ""}
            </span>
          </span>
        </li>
      ))}
    </ul>
    {events.next_cursor ? (
      <p>
        <a href={`/account?events=${encodeURIComponent(events.next_cursor)}#log`}>{t.text("account.logOlder")}</a>
      </p>
    ) : null}
  </section>
);
