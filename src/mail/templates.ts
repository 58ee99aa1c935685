import { html } from "hono/html";
import type { Config } from "../config";
import type { MailKind, MailMessage } from "./mail";

/** Where mailed links point (APP_URL) and the product name they speak of (BRAND_NAME). */
type Site = Pick<Config, "appUrl" | "branding">;

/**
 * Small text + HTML templates. Links are built from the configured APP_URL only (PUBLIC_URL unless set), never
 * from a request's Host or X-Forwarded-Host, so a forged header cannot point a mailed link elsewhere. Every
 * link opens a hosted page (src/pages/): /verify-email, /reset-password, /revert-email-change, /login,
 * /forgot-password, /register; a site that sets APP_URL to its own pages serves those paths itself.
 * Every interpolated value is HTML-escaped by hono/html.
 */

/** hono/html's `html`, which escapes every value; with only strings interpolated it is synchronous. */
function markup(strings: TemplateStringsArray, ...values: string[]): string {
  const out = html(strings, ...values);
  if (out instanceof Promise) throw new Error("mail markup must be synchronous");
  return String(out);
}

function compose(
  to: string,
  kind: MailKind,
  subject: string,
  paragraphs: string[],
  link?: { url: string; label: string },
  token?: string,
): MailMessage {
  const text = [...paragraphs, ...(link ? [`${link.label}: ${link.url}`] : [])].join("\n\n");
  const html = [
    ...paragraphs.map((p) => markup`<p>${p}</p>`),
    ...(link ? [markup`<p><a href="${link.url}">${link.label}</a></p>`] : []),
  ].join("\n");
  return { to, kind, subject, text, html, ...(token ? { token } : {}) };
}

/** The page asks for the password chosen at registration (or a new one) before it confirms anything. */
export function verificationMail(to: string, site: Site, token: string): MailMessage {
  const url = `${site.appUrl}/verify-email?token=${encodeURIComponent(token)}`;
  return compose(
    to,
    "email_verification",
    "Verify your email address",
    [
      `Confirm that this address belongs to your ${site.branding.productName} account. The link is valid for 24 hours.`,
      "If you did not sign up, ignore this message.",
    ],
    { url, label: "Verify email" },
    token,
  );
}

/** The reset link opens the reset page, which posts the token and the new password. */
export function passwordResetMail(to: string, site: Site, token: string): MailMessage {
  const url = `${site.appUrl}/reset-password?token=${encodeURIComponent(token)}`;
  return compose(
    to,
    "password_reset",
    "Reset your password",
    [
      `Someone asked to reset the password of the ${site.branding.productName} account for this address. The link is valid for 15 minutes and works once.`,
      "If it was not you, ignore this message: your password stays as it is.",
    ],
    { url, label: "Choose a new password" },
    token,
  );
}

/** Sent to the new address; the change happens only when this link is opened. */
export function emailChangeMail(to: string, site: Site, token: string): MailMessage {
  const url = `${site.appUrl}/verify-email?token=${encodeURIComponent(token)}`;
  return compose(
    to,
    "email_change",
    "Confirm your new email address",
    [
      `Confirm that your ${site.branding.productName} account should use this address from now on. The link is valid for 1 hour.`,
      "If you did not ask for this, ignore this message and nothing changes.",
    ],
    { url, label: "Confirm new address" },
    token,
  );
}

export function emailRevertMail(to: string, site: Site, token: string, newEmail: string): MailMessage {
  const url = `${site.appUrl}/revert-email-change?token=${encodeURIComponent(token)}`;
  return compose(
    to,
    "security_notice",
    "Your email address was changed",
    [
      `The email address of your ${site.branding.productName} account was changed to ${newEmail}.`,
      "If this was not you, open the link below within 7 days: it restores this address, signs every session out, revokes every API key and sends you a link to set a new password.",
    ],
    { url, label: "This wasn't me: restore my address" },
    token,
  );
}

/** Anyone can cause this one by registering a taken address: sent as an unsolicited registration attempt. */
export function registrationAttemptMail(to: string, site: Site): MailMessage {
  return compose(to, "security_notice", "Someone tried to register with your address", [
    `Someone tried to create a ${site.branding.productName} account with this email address, which already has an account.`,
    `If it was you, log in at ${site.appUrl}/login or reset your password at ${site.appUrl}/forgot-password. Otherwise you can ignore this message.`,
  ]);
}

/** Likewise: whoever registers this address with a taken username causes it, so it shares that daily budget. */
export function usernameUnavailableMail(to: string, site: Site): MailMessage {
  return compose(to, "security_notice", "Your registration was not completed", [
    `You tried to create a ${site.branding.productName} account with a username that is already taken, so no account was created.`,
    `Register again at ${site.appUrl}/register with another username, or without one.`,
  ]);
}

export type SecurityEvent =
  | "password_changed"
  | "password_reset"
  | "email_changed"
  | "email_change_requested"
  | "email_change_reverted"
  | "email_change_reverted_away"
  | "refresh_token_reused"
  | "account_locked"
  | "api_key_created"
  | "password_set_at_verification"
  | "password_breached"
  | "sign_in_reverted"
  | "session_locked"
  | "session_locked_for_good";

const SECURITY_TEXT: Record<SecurityEvent, { subject: string; body: string }> = {
  password_changed: {
    subject: "Your password was changed",
    body: "The password of your account was changed and your other sessions were signed out.",
  },
  password_reset: { subject: "Your password was reset", body: "The password of your account was reset and every session was signed out." },
  email_changed: { subject: "Your email address was changed", body: "The email address of your account was changed." },
  email_change_requested: {
    subject: "A change of your email address was requested",
    body: "Someone with your password asked to move your account to another email address. It changes only when the new address is confirmed.",
  },
  refresh_token_reused: {
    subject: "A session was signed out for your safety",
    body: "An old sign-in token of your account was used again, which can mean it was stolen. We signed that session out.",
  },
  email_change_reverted: {
    subject: "Your email address was restored",
    body: "The change of your account's email address was undone from the link sent to this address. Every session and API key was revoked and the password was disabled: use the reset link we are sending you to choose a new one.",
  },
  email_change_reverted_away: {
    subject: "Your account left this email address",
    body: "A link sent to the account's previous email address undid an earlier change of address, so the account no longer uses this one. Every session and API key was revoked. If you did not expect this, contact support.",
  },
  api_key_created: {
    subject: "An API key was created",
    body: "A new API key was created for your account. If this was not you, revoke it in your account and change your password.",
  },
  password_set_at_verification: {
    subject: "Your password was set",
    body: "A new password was set while confirming this address, and every earlier session and API key was revoked.",
  },
  password_breached: {
    subject: "Your password appears in a data breach",
    body: "You signed in with a password that appears in a public list of breached passwords, so attackers are likely to try it. Change it now, and anywhere else you used it.",
  },
  sign_in_reverted: {
    subject: "Your account was secured",
    body: "From the link in a new-sign-in notice, every session and API key of your account was revoked and the password was disabled: use the reset link we are sending you to choose a new one.",
  },
  session_locked: {
    subject: "Wrong passwords were entered in one of your sessions",
    body: "In a signed-in session of your account, the current password was entered wrongly again and again, so that session cannot confirm the password for 30 minutes. If this was not you, someone has access to that session: sign out every session in your account and change your password.",
  },
  session_locked_for_good: {
    subject: "A session of your account can no longer confirm the password",
    body: "In a signed-in session of your account, the current password was entered wrongly too many times, so that session can no longer change the password, the email address or the API keys, nor delete the account. If this was not you, someone has access to that session: sign out every session in your account and change your password.",
  },
  account_locked: {
    subject: "Your account was locked",
    body: "Too many wrong passwords were tried for your account, so logins are paused. Reset your password to unlock it now.",
  },
};

export function securityNoticeMail(
  to: string,
  event: SecurityEvent,
  details: { ip: string | null; time: Date; items?: string[] },
): MailMessage {
  const { subject, body } = SECURITY_TEXT[event];
  const items = details.items?.length ? [`Revoked or affected: ${details.items.join(", ")}.`] : [];
  return compose(to, "security_notice", subject, [
    body,
    ...items,
    `When: ${details.time.toISOString()}${details.ip ? `, from IP address ${details.ip}` : ""}.`,
    "If this was not you, reset your password right away.",
  ]);
}

/** What a new-sign-in notice says about the sign-in; every field is shown as text, escaped in HTML. */
export interface SignInDetails {
  time: Date;
  ip: string | null;
  /** "Berlin, DE"-style coarse location from Cloudflare, when known. */
  place: string | null;
  userAgent: string | null;
  /** Human-readable warnings (impossible travel, unusual hour). */
  warnings: string[];
}

/** A sign-in from a device the account had not used: who, when, where, and a link that undoes it. */
export function newSignInMail(to: string, site: Site, token: string, details: SignInDetails): MailMessage {
  const url = `${site.appUrl}/revert-sign-in?token=${encodeURIComponent(token)}`;
  const lines = [
    `When: ${details.time.toISOString()}`,
    ...(details.ip ? [`IP address: ${details.ip}`] : []),
    ...(details.place ? [`Approximate location: ${details.place}`] : []),
    ...(details.userAgent ? [`Browser or app: ${details.userAgent.slice(0, 200)}`] : []),
  ];
  return compose(
    to,
    "security_notice",
    details.warnings.length ? "Unusual sign-in to your account" : "New sign-in to your account",
    [
      `Your ${site.branding.productName} account was signed in to from a device it had not used before.`,
      lines.join("\n"),
      ...details.warnings,
      "If this was you, there is nothing to do. If it was not, open the link below within 7 days: it signs every session out, revokes every API key, disables the password and sends you a link to set a new one.",
    ],
    { url, label: "This wasn't me: secure my account" },
    token,
  );
}
