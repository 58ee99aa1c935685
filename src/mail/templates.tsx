import type { Deps } from "../kernel/deps";
import { person, shippedLocale, translator, type Translator } from "../i18n";
import { compose } from "./compose";
import type { MailKind, MailMessage } from "./message";

/**
 * The mails, text and HTML, in the recipient's language (the HTTP contract "Languages"): the
 * account's `locale`, else the language of the request that caused the mail, else DEFAULT_LOCALE.
 * Every word comes from the message catalogue (src/i18n, `mail.*`); every value is escaped by
 * hono/jsx in the HTML part, and values a person chose (addresses, the product's name) are
 * isolated for bidi (`<bdi>` in HTML, FSI…PDI in text). Each template names its words, links and
 * code; ./compose.tsx puts both parts together (the HTML layout: ./layout.tsx).
 *
 * Links are built from the configured APP_URL only (PUBLIC_URL unless set), never from a request's
 * Host or X-Forwarded-Host, so a forged header cannot point a mailed link elsewhere. Every link
 * opens a hosted page (src/pages/) in the mail's language (`lang=`): /sign-in/email, /verify-email,
 * /reset-password, /revert-email-change, /revert-sign-in, /login, /forgot-password, /register; a
 * site that sets APP_URL to its own pages serves those paths itself.
 */

/** Who a mail goes to: an address, and the language of the account it belongs to (null: not chosen, or no account). */
export interface Recipient {
  email: string;
  locale: string | null;
}

/** The translator of a mail to `to`. */
async function mailTranslator(deps: Deps, to: Recipient): Promise<Translator> {
  return translator(deps, shippedLocale(to.locale) ?? deps.meta.locale ?? deps.config.defaultLocale);
}

/** A page link of the mail: APP_URL, the path, the query, and the mail's language. */
function pageUrl(deps: Deps, t: Translator, path: string, query: Record<string, string> = {}): string {
  const params = new URLSearchParams({ ...query, lang: t.locale });
  return `${deps.config.appUrl}${path}?${params.toString()}`;
}

const product = (deps: Deps) => ({ product: person(deps.config.branding.productName) });

/**
 * A mail whose one purpose is its link (`mail.<words>.*` of the catalogue: subject, body, ignore,
 * link): the page of `path` with the token, which uses it up only when its form is posted.
 */
async function linkMail(
  deps: Deps,
  to: Recipient,
  token: string,
  mail: { kind: MailKind; words: "verification" | "reset" | "emailChange"; path: string },
): Promise<MailMessage> {
  const t = await mailTranslator(deps, to);
  const { kind, words, path } = mail;
  return compose(deps, t, to.email, {
    kind,
    subject: t.text(`mail.${words}.subject`),
    paragraphs: [t.line(`mail.${words}.body`, product(deps)), t.line(`mail.${words}.ignore`)],
    action: { url: pageUrl(deps, t, path, { token }), label: t.text(`mail.${words}.link`) },
    token,
  });
}

/** The page asks for the password chosen at registration (or a new one) before it confirms anything. */
export function verificationMail(deps: Deps, to: Recipient, token: string): Promise<MailMessage> {
  return linkMail(deps, to, token, { kind: "email_verification", words: "verification", path: "/verify-email" });
}

/** The reset link opens the reset page, which posts the token and the new password. */
export function passwordResetMail(deps: Deps, to: Recipient, token: string): Promise<MailMessage> {
  return linkMail(deps, to, token, { kind: "password_reset", words: "reset", path: "/reset-password" });
}

/** Sent to the new address; the change happens only when this link is opened. */
export function emailChangeMail(deps: Deps, to: Recipient, token: string): Promise<MailMessage> {
  return linkMail(deps, to, token, { kind: "email_change", words: "emailChange", path: "/verify-email" });
}

export async function emailRevertMail(deps: Deps, to: Recipient, token: string, newEmail: string): Promise<MailMessage> {
  const t = await mailTranslator(deps, to);
  return compose(deps, t, to.email, {
    kind: "security_notice",
    subject: t.text("mail.emailRevert.subject"),
    paragraphs: [t.line("mail.emailRevert.body", { ...product(deps), email: person(newEmail) }), t.line("mail.emailRevert.action")],
    action: { url: pageUrl(deps, t, "/revert-email-change", { token }), label: t.text("mail.emailRevert.link") },
    token,
  });
}

/** Anyone can cause this one by registering a taken address: sent as an unsolicited registration attempt. */
export async function registrationAttemptMail(deps: Deps, to: Recipient): Promise<MailMessage> {
  const t = await mailTranslator(deps, to);
  const links = { signIn: pageUrl(deps, t, "/login"), reset: pageUrl(deps, t, "/forgot-password") };
  return compose(deps, t, to.email, {
    kind: "security_notice",
    subject: t.text("mail.registrationAttempt.subject"),
    paragraphs: [t.line("mail.registrationAttempt.body", product(deps)), t.line("mail.registrationAttempt.action", links)],
    inlineLinks: [links.signIn, links.reset],
  });
}

/** Likewise: whoever registers this address with a taken username causes it, so it shares that daily budget. */
export async function usernameUnavailableMail(deps: Deps, to: Recipient): Promise<MailMessage> {
  const t = await mailTranslator(deps, to);
  const register = pageUrl(deps, t, "/register");
  return compose(deps, t, to.email, {
    kind: "security_notice",
    subject: t.text("mail.usernameUnavailable.subject"),
    paragraphs: [t.line("mail.usernameUnavailable.body", product(deps)), t.line("mail.usernameUnavailable.action", { register })],
    inlineLinks: [register],
  });
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
  | "session_locked_for_good"
  | "second_factor_failures"
  | "recovery_code_used"
  | "mfa_disabled"
  | "recovery_codes_regenerated"
  | "factors_removed"
  | "passkey_removed"
  | "passkey_counter"
  | "mfa_reset"
  | "email_code_failures"
  | "identity_linked"
  | "identity_unlinked";

/** What a notice lists as revoked or affected: for now the API keys a change revoked, by name. */
export interface NoticeItem {
  apiKey: string;
}

export async function securityNoticeMail(
  deps: Deps,
  to: Recipient,
  event: SecurityEvent,
  details: { ip: string | null; time: Date; items?: NoticeItem[] },
): Promise<MailMessage> {
  const t = await mailTranslator(deps, to);
  const items = details.items ?? [];
  const time = t.date(details.time);
  return compose(deps, t, to.email, {
    kind: "security_notice",
    subject: t.text(`mail.notice.${event}.subject`),
    paragraphs: [
      t.line(`mail.notice.${event}.body`),
      ...(items.length
        ? [
            t.line("mail.notice.affected", {
              items: t.list(items.map((item) => t.text("mail.notice.api_key_item", { name: person(item.apiKey) }))),
            }),
          ]
        : []),
      details.ip ? t.line("mail.notice.whenIp", { time, ip: details.ip }) : t.line("mail.notice.when", { time }),
      t.line("mail.notice.notYou"),
    ],
  });
}

/**
 * A second factor was enabled: told to the account's address with a link that undoes it (and every
 * factor enrolled since) and secures the account, in case it was not the owner (sign-in-revert.ts).
 */
export async function enrolmentNoticeMail(
  deps: Deps,
  to: Recipient,
  token: string,
  details: { factor: "totp" | "passkey"; ip: string | null; time: Date },
): Promise<MailMessage> {
  const t = await mailTranslator(deps, to);
  const time = t.date(details.time);
  return compose(deps, t, to.email, {
    kind: "security_notice",
    subject: t.text(details.factor === "passkey" ? "mail.enrolment.passkeySubject" : "mail.enrolment.subject"),
    paragraphs: [
      t.line(details.factor === "passkey" ? "mail.enrolment.passkeyBody" : "mail.enrolment.body", product(deps)),
      details.ip ? t.line("mail.notice.whenIp", { time, ip: details.ip }) : t.line("mail.notice.when", { time }),
      t.line("mail.enrolment.action"),
    ],
    action: { url: pageUrl(deps, t, "/revert-sign-in", { token }), label: t.text("mail.enrolment.link") },
    token,
  });
}

/**
 * The code that the first enrolment after an administrator's reset of the second factors needs
 * (API.md "MFA policy"): proof that whoever enrols also reads the account's mail.
 */
export async function enrolmentCodeMail(deps: Deps, to: Recipient, code: string): Promise<MailMessage> {
  const t = await mailTranslator(deps, to);
  const mail = await compose(deps, t, to.email, {
    kind: "sign_in_code",
    subject: t.text("mail.enrolmentCode.subject"),
    paragraphs: [
      t.line("mail.enrolmentCode.body", product(deps)),
      t.line("mail.enrolmentCode.code", { code }),
      t.line("mail.enrolmentCode.ignore"),
    ],
    code,
  });
  return { ...mail, subtype: "mfa_enrolment" };
}

/**
 * A sign-in code (API.md "Email codes and magic links"): the 8 digits to type, and a link to the
 * page that signs in whichever browser presses its button (opening it does nothing by itself).
 */
export async function signInCodeMail(deps: Deps, to: Recipient, code: string, token: string): Promise<MailMessage> {
  const t = await mailTranslator(deps, to);
  return compose(deps, t, to.email, {
    kind: "sign_in_code",
    subject: t.text("mail.signInCode.subject", product(deps)),
    paragraphs: [t.line("mail.signInCode.body", product(deps)), t.line("mail.signInCode.code", { code }), t.line("mail.signInCode.ignore")],
    action: { url: pageUrl(deps, t, "/sign-in/email", { token }), label: t.text("mail.signInCode.link") },
    token,
    code,
  });
}

/** Why a new sign-in looks unusual, as the notice names it. */
export type SignInWarning =
  { kind: "travel"; km: number } | { kind: "hour"; hour: number } | { kind: "country"; country: string } | { kind: "network"; asn: number };

/** What a new-sign-in notice says about the sign-in; every field is shown as text, escaped in HTML. */
export interface SignInDetails {
  time: Date;
  ip: string | null;
  /** "Berlin, DE"-style coarse location from Cloudflare, when known. */
  place: string | null;
  userAgent: string | null;
  warnings: SignInWarning[];
}

function warningLine(t: Translator, warning: SignInWarning) {
  switch (warning.kind) {
    case "travel":
      return t.line("mail.newSignIn.travel", { km: warning.km });
    case "hour":
      return t.line("mail.newSignIn.hour", { hour: `${String(warning.hour).padStart(2, "0")}:00` });
    case "country": {
      // The country's name in the mail's language ("Deutschland", "ألمانيا"), its code if unknown.
      const name = new Intl.DisplayNames([t.locale], { type: "region", fallback: "code" }).of(warning.country) ?? warning.country;
      return t.line("mail.newSignIn.newCountry", { country: name });
    }
    case "network":
      return t.line("mail.newSignIn.newNetwork", { network: `AS${warning.asn}` });
  }
}

/** A sign-in from a device the account had not used: who, when, where, and a link that undoes it. */
export async function newSignInMail(deps: Deps, to: Recipient, token: string, details: SignInDetails): Promise<MailMessage> {
  const t = await mailTranslator(deps, to);
  const facts = [
    t.line("mail.newSignIn.when", { time: t.date(details.time) }),
    ...(details.ip ? [t.line("mail.newSignIn.ip", { ip: details.ip })] : []),
    ...(details.place ? [t.line("mail.newSignIn.place", { place: person(details.place) })] : []),
    ...(details.userAgent ? [t.line("mail.newSignIn.userAgent", { userAgent: person(details.userAgent.slice(0, 200)) })] : []),
  ];
  return compose(deps, t, to.email, {
    kind: "security_notice",
    subject: t.text(details.warnings.length ? "mail.newSignIn.subjectUnusual" : "mail.newSignIn.subject"),
    paragraphs: [
      t.line("mail.newSignIn.body", product(deps)),
      facts,
      ...details.warnings.map((w) => warningLine(t, w)),
      t.line("mail.newSignIn.action"),
    ],
    action: { url: pageUrl(deps, t, "/revert-sign-in", { token }), label: t.text("mail.newSignIn.link") },
    token,
  });
}
