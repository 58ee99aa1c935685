/**
 * The administration console's words. It stays English (operators read it): these are not in the
 * message catalogue that the pages for everyone speak from (src/i18n).
 */
export const adminStrings = {
  title: "Administration",
  nav: "Administration",
  users: "Users",
  auditLog: "Audit log",
  forbiddenTitle: "Administrators only",
  forbidden: "This page is for administrators. Your account is not one.",
  search: "Find users",
  query: { label: "Email or username starts with", invalid: "Enter up to 254 characters." },
  status: { label: "Status", any: "Any", invalid: "Choose a status." },
  statuses: { active: "Active", deactivated: "Deactivated", unverified: "Not verified", locked: "Locked" } as Record<string, string>,
  mfaFilter: {
    label: "Second factor",
    any: "Any",
    enrolled: "With a second factor",
    none: "Without a second factor",
    invalid: "Choose a value.",
  },
  /** The list's factors column: what each user has as a second step. */
  factorsLine: (factors: string[]) => (factors.length > 0 ? `second factors: ${factors.join(", ")}` : "no second factor"),
  searchSubmit: "Search",
  noUsers: "No users match.",
  nextPage: "Next page",
  firstPage: "First page",
  open: (email: string) => `Open ${email}`,
  userDetails: (created: string, lastLogin: string) => `Created ${created} · last sign-in ${lastLogin}`,
  badges: {
    superuser: "superuser",
    deactivated: "deactivated",
    unverified: "not verified",
    active: "active",
    locked: "locked",
    twoStep: "two-step",
    resetPending: "reset pending",
  },
  backToUsers: "Back to users",
  webhooks: "Webhooks",
  deliveryFilter: { label: "Delivery", any: "Any", delivered: "Delivered", undelivered: "Not delivered yet", invalid: "Choose a value." },
  noDeliveries: "No webhook events yet (nothing is recorded without a configured endpoint).",
  redeliver: "Deliver again",
  deliveryDetails: (e: {
    created_at: string;
    endpoint_url: string;
    attempts: number;
    last_status: number | null;
    delivered_at: string | null;
    next_attempt_at: string | null;
  }) =>
    `${e.created_at} to ${e.endpoint_url} · ${e.attempts} attempt(s)` +
    (e.last_status !== null ? ` · last answer ${e.last_status}` : "") +
    (e.delivered_at ? ` · delivered ${e.delivered_at}` : e.next_attempt_at ? ` · next try ${e.next_attempt_at}` : " · not queued"),
  profile: "Profile",
  fullName: "Full name",
  email: "Email address",
  username: "Username",
  id: "User id",
  created: "Created",
  lastLogin: "Last sign-in",
  roles: "Roles",
  noRoles: "none",
  twoStep: "Two-step verification",
  /** A second factor's name as the console shows it. */
  factors: { totp: "Authenticator app", passkey: "Passkey" } as Record<string, string>,
  twoStepOff: "Off: the password alone signs in",
  secondFactors: "Second factors",
  authenticatorApp: "Authenticator app",
  appOn: (since: string) => `On since ${since}`,
  appOff: "Off",
  passkeys: "Passkeys",
  recoveryCodes: "Recovery codes left",
  policy: "Policy",
  policyRequired: "Required (MFA_REQUIRED): the user cannot remove the last second factor, and a sign-in without one must enrol one",
  policyNotRequired: "Not required",
  resetPending: "An administrator reset the second factors: the user's next enrolment needs a code mailed to their address.",
  resetMfa: "Reset second factors",
  resetMfaIntro:
    "Removes the authenticator app, every passkey and the recovery codes, and mails the user. Sessions stay signed in. The user's next set-up also needs a code mailed to their address, so someone who only knows the password cannot enrol their own factor. A user whose only way in was a passkey needs a password reset too. Check who is asking before you reset: this is what an attacker with a stolen password asks a help desk for.",
  actions: "Actions",
  deactivate: "Deactivate",
  deactivateIntro: "Deactivating signs the user out everywhere and revokes every API key and mailed link at once. It can be undone.",
  reactivate: "Reactivate",
  reactivateIntro: "The user can sign in again; sessions and keys revoked at deactivation stay revoked.",
  forceReset: "Force a password reset",
  forceResetIntro: "Signs the user out everywhere and mails a link to set a new password.",
  superuser: "Superuser",
  grantSuperuser: "Make superuser",
  revokeSuperuser: "Remove superuser",
  rolesField: {
    label: "Roles",
    hint: "Separated by spaces or commas, e.g. editor billing. Tokens carry them from the user's next refresh or sign-in.",
    invalid: "Use up to 32 roles of 1 to 64 of a-z, 0-9, _ . : or -.",
  },
  saveRoles: "Save roles",
  lock: "Sign-in lock",
  locked: (until: string | null, failures: number) =>
    until ? `Locked until ${until} after ${failures} failed sign-ins.` : `Locked after ${failures} failed sign-ins.`,
  notLocked: (failures: number) => `Not locked (${failures} recent failed sign-ins).`,
  unlock: "Unlock",
  sessions: "Sessions",
  noSessions: "No live sessions.",
  revokeSession: "Sign out",
  revokeSessionLabel: (device: string) => `Sign out the session on ${device}`,
  revokeAll: "Sign out everywhere",
  apiKeys: "API keys",
  noKeys: "No API keys.",
  keyDetails: (prefix: string, scopes: string, created: string, expires: string, lastUsed: string) =>
    `${prefix}… · ${scopes} · created ${created} · expires ${expires} · last used ${lastUsed}`,
  devices: "Known devices",
  noDevices: "No known devices.",
  events: "Recent events",
  noEvents: "No events yet.",
  allEvents: "This user's whole audit log",
  filters: "Filter the log",
  userId: { label: "User id", invalid: "Use a user id." },
  action: { label: "Action", hint: "Exact, e.g. login.failed", invalid: "Use an action name, e.g. login.failed." },
  ip: { label: "IP address", invalid: "Use an IPv4 or IPv6 address." },
  since: { label: "From (UTC)", hint: "e.g. 2026-11-22 or 2026-11-22T10:00", invalid: "Use a date and time, e.g. 2026-11-22T10:00." },
  until: { label: "Until (UTC)", hint: "Not included.", invalid: "Use a date and time, e.g. 2026-11-22T10:00." },
  filter: "Show events",
  export: "Download as NDJSON",
  exportHint: "Every event matching these filters, one JSON object a line. Each export is recorded in the log.",
  older: "Older events",
  newest: "Newest events",
  eventDetails: (when: string, user: string | null, actor: string | null, ip: string | null) =>
    [when, user ? `user ${user}` : "", actor ? `by ${actor}` : "", ip ? `IP ${ip}` : ""].filter(Boolean).join(" · "),
  exportRefused: "Start the download from the administration page.",
  sessionDetails: (created: string, lastUsed: string, ip: string | null) =>
    `Signed in ${created} · last active ${lastUsed}${ip ? ` · IP ${ip}` : ""}`,
  deviceDetails: (first: string, last: string, ip: string | null) => `First seen ${first} · last seen ${last}${ip ? ` · IP ${ip}` : ""}`,
  logDetails: (when: string, ip: string | null) => `${when}${ip ? ` · IP ${ip}` : ""}`,
  oauthClients: "OAuth clients",
  oauthClientsIntro:
    "Apps that sign people in with this site through OAuth 2.1 / OpenID Connect. Deleting one ends its sign-ins at once: its grants, codes and tokens stop working.",
  oauthProviderOff: (issuer: string, publicUrl: string) =>
    `The OpenID provider is off: JWT_ISSUER (${issuer}) differs from PUBLIC_URL (${publicUrl}). Clients registered here sign nobody in until they match.`,
  registeredClients: "Registered clients",
  noOauthClients: "No OAuth clients yet.",
  clientTypes: { confidential: "confidential", public: "public" } as Record<string, string>,
  firstPartyBadge: "first-party",
  clientTimes: (created: string, lastUsed: string) => `created ${created} · last used ${lastUsed}`,
  redirectUrisLine: (uris: string[]) => `Redirect URIs: ${uris.join(", ")}`,
  postLogoutUrisLine: (uris: string[]) => `After sign-out: ${uris.join(", ")}`,
  deleteClient: "Delete",
  deleteClientLabel: (name: string) => `Delete the client ${name}`,
  noSuchClient: "That client no longer exists.",
  newClient: "Register a client",
  clientName: {
    label: "Name",
    hint: "People see it on the consent page and in their account's apps.",
    invalid: "Enter a name of up to 100 characters.",
  },
  redirectUris: {
    label: "Redirect URIs",
    hint: "One a line: https, loopback http (any port on 127.0.0.1 or [::1]), or a reverse-domain scheme such as com.example.app:/callback.",
    invalid: "Enter 1 to 20 redirect URIs, one a line.",
  },
  clientType: {
    label: "Type",
    confidential: "Confidential: a server that keeps a secret",
    public: "Public: a mobile or single-page app (no secret, PKCE)",
    invalid: "Choose a type.",
  },
  firstParty: "First-party: the site's own app, which skips the consent page",
  postLogoutUris: {
    label: "Redirect URIs after sign-out (optional)",
    hint: "One a line, by the same rules.",
    invalid: "Enter up to 20 URIs, one a line.",
  },
  createClient: "Register client",
  clientCreated: (name: string) => `The client ${name} was registered.`,
  clientId: "Client id",
  clientSecret: "Client secret: copy it now, it is not shown again.",
  noSecret: "A public client has no secret: it proves itself with PKCE.",
} as const;

/** A timestamp as the console shows it: "2026-11-22 03:25 UTC", sortable and the same for every operator. */
export function adminWhen(at: string | null): string {
  return at ? `${at.slice(0, 10)} ${at.slice(11, 16)} UTC` : "never";
}

/** The console's confirmations after a redirect (`?notice=`). */
export const ADMIN_NOTICES = {
  user_deactivated: "The user was deactivated: every session and API key is revoked.",
  user_reactivated: "The user was reactivated.",
  roles_saved: "The roles were saved. Access tokens carry them from the user's next refresh or sign-in.",
  user_session_revoked: "That session was signed out.",
  webhook_redelivered: "The event will be delivered again, with the same webhook-id.",
  user_sessions_revoked: "The user was signed out everywhere.",
  user_unlocked: "The account was unlocked.",
  password_reset_forced:
    "The user was signed out everywhere, their password and API keys no longer work, and a link to set a new password was mailed.",
  superuser_granted: "The user is now a superuser.",
  superuser_revoked: "The user is no longer a superuser.",
  oauth_client_deleted: "The client was deleted: its grants, codes and tokens no longer work.",
  second_factors_reset:
    "The user's authenticator app, passkeys and recovery codes were removed, and the user was mailed. Their next set-up needs a code mailed to their address.",
} as const;

export type AdminNoticeKey = keyof typeof ADMIN_NOTICES;

export function isAdminNotice(value: string): value is AdminNoticeKey {
  return Object.hasOwn(ADMIN_NOTICES, value);
}
