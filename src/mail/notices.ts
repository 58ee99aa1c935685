import { findUserById } from "../db/users";
import type { Deps } from "../kernel/deps";
import { sendMail } from "./mail";
import { securityNoticeMail, type NoticeItem, type Recipient, type SecurityEvent } from "./templates";

/**
 * Mails the account owner a security notice (after the response; never changes the answer).
 * `items` are listed under the notice, e.g. the API keys that a change revoked.
 */
export async function sendSecurityNotice(
  deps: Deps,
  userId: string,
  event: SecurityEvent,
  to?: Recipient,
  items: NoticeItem[] = [],
): Promise<void> {
  const recipient = to ?? (await findUserById(deps.db, userId));
  if (!recipient) return;
  sendMail(deps, securityNoticeMail(deps, recipient, event, { ip: deps.meta.ip, time: deps.now(), items }), { class: "account" });
}
