import type { Context } from "hono";
import type { FC } from "hono/jsx";
import type { CatalogueNotice } from "../i18n";
import type { NoticeKey } from "./respond";
import type { AppEnv } from "../web/context";
import { Notice, type Frame } from "./kit";

/**
 * Where an account form's confirmation shows: in the section of the form that was sent, which is
 * where the redirect after it scrolls (`/account?notice=password_changed#password`), so the person
 * sees it where they were looking, not at the top of a long page. A notice without a section (an
 * address confirmed from a mailed link) shows at the top, where its redirect lands.
 */

/** The account page's sections (their element ids). */
export type AccountSection =
  "profile" | "email" | "password" | "security" | "passkeys" | "email-code" | "identities" | "apps" | "sessions" | "devices" | "api-keys";

const SECTION_OF: Partial<Record<CatalogueNotice, AccountSection>> = {
  profile_saved: "profile",
  email_change_sent: "email",
  password_changed: "password",
  totp_started: "security",
  totp_enabled: "security",
  totp_disabled: "security",
  recovery_codes_made: "security",
  passkey_added: "passkeys",
  passkey_renamed: "passkeys",
  passkey_removed: "passkeys",
  identity_confirmed: "passkeys",
  email_code_sign_in_on: "email-code",
  email_code_sign_in_off: "email-code",
  identity_linked: "identities",
  identity_already_linked: "identities",
  identity_unlinked: "identities",
  link_cancelled: "identities",
  grant_revoked: "apps",
  session_revoked: "sessions",
  device_forgotten: "devices",
  api_key_revoked: "api-keys",
};

/** The section a notice belongs to, or null (it shows at the top). */
export function sectionOfNotice(notice: string | null | undefined): AccountSection | null {
  return notice ? (SECTION_OF[notice as CatalogueNotice] ?? null) : null;
}

/** To the account page with `notice`, scrolled to the section that shows it. */
export function toAccountWithNotice(c: Context<AppEnv>, notice: NoticeKey): Response {
  const section = sectionOfNotice(notice);
  return c.redirect(`/account?notice=${notice}${section ? `#${section}` : ""}`, 303);
}

/**
 * The notice of this section, if the page has one placed here: right under the section's heading,
 * so the section the redirect targets (`#password`, where the browser scrolls and keyboard and
 * screen-reader users continue) starts with the result of what they did.
 */
export const SectionNotice: FC<{ frame: Frame; section: AccountSection }> = ({ frame, section }) =>
  frame.placedNotice?.section === section ? <Notice t={frame.t} notice={frame.placedNotice.notice} /> : null;
