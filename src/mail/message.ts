/** What a mail is about, as the dev outbox names it (the HTTP contract's outbox `kind`). */
export type MailKind = "email_verification" | "password_reset" | "email_change" | "security_notice" | "sign_in_code";

/** One mail, ready for a transport: both parts, in one language. */
export interface MailMessage {
  to: string;
  kind: MailKind;
  /** The language it is written in (src/mail/templates.tsx). */
  locale: string;
  subject: string;
  /** The plain-text part. */
  text: string;
  /** The HTML part (src/mail/layout.tsx): the same words, links and codes as `text`. */
  html: string;
  /** The one-time token the mail carries, kept only in the dev outbox for tests and local use. */
  token?: string;
  /** The code the mail carries (kind `sign_in_code`), kept only in the dev outbox likewise. */
  code?: string;
  /** What a mail of a broad kind is for (`mfa_enrolment`), for the dev outbox. */
  subtype?: string;
}
