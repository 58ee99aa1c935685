import { findUserById } from "../db/users";
import type { Deps } from "../kernel/deps";
import { sendMail } from "./mail";
import { securityNoticeMail, type SecurityEvent } from "./templates";

/**
 * Mails the account owner a security notice (after the response; never changes the answer).
 * `items` are listed under the notice, e.g. the API keys that a change revoked.
 */
export async function sendSecurityNotice(
  deps: Deps,
  userId: string,
  event: SecurityEvent,
  to?: string,
  items: string[] = [],
): Promise<void> {
  const address = to ?? (await findUserById(deps.db, userId))?.email;
  if (!address) return;
  sendMail(deps, securityNoticeMail(address, event, { ip: deps.meta.ip, time: deps.now(), items }), { class: "account" });
}
