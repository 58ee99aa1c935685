import { sql } from "drizzle-orm";
import { assertFreshAuthentication, type FreshnessOf } from "../accounts/fresh-auth";
import { DISABLED_PASSWORD } from "../accounts/passwords";
import { auditRow } from "../audit/audit";
import { deleteIdentityKeepingAWayIn, findIdentityWithUser, listIdentities } from "../db/identities";
import { users, type User } from "../db/schema";
import { AppError } from "../errors";
import { eventRows } from "../events/events";
import type { Deps } from "../kernel/deps";
import { sendSecurityNotice } from "../mail/notices";
import { addLink } from "./accounts";
import type { ExternalIdentity } from "./provider-identity";

/** The account's linked identities: `GET /users/me/identities`, the account page's list. */

export interface IdentityView {
  id: string;
  /** The OAUTH_PROVIDERS id it came through. */
  provider: string;
  /** The address the provider gave when it was linked (never the account's address). */
  email: string | null;
  created_at: string;
}

export async function ownIdentities(deps: Deps, userId: string): Promise<IdentityView[]> {
  const rows = await listIdentities(deps.db, userId);
  return rows.map((r) => ({ id: r.id, provider: r.provider, email: r.email, created_at: r.createdAt.toISOString() }));
}

/**
 * Links an identity to the signed-in account (the account page's flow: fresh authentication when
 * it started, the same session at the callback). Already this account's: nothing to do. Another
 * account's: 409 `identity_taken`, nothing changes.
 */
export async function linkToAccount(deps: Deps, user: User, identity: ExternalIdentity): Promise<"linked" | "already"> {
  const found = await findIdentityWithUser(deps.db, identity.issuer, identity.subject);
  if (found) {
    if (found.user.id === user.id) return "already";
    throw new AppError("identity_taken");
  }
  const work = deps.work().fence(sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${user.id} AND ${users.isActive} = 1
    AND ${users.deletedAt} IS NULL AND ${users.credentialsEpoch} = ${user.credentialsEpoch})`);
  addLink(deps, work, user, identity, "account");
  try {
    const committed = await work.commit();
    if (!committed.committed) throw new AppError("reauthentication_required", { detail: "The account changed meanwhile: sign in again." });
  } catch (error) {
    // Linked to some account by a parallel request: whose decides the answer.
    const now = await findIdentityWithUser(deps.db, identity.issuer, identity.subject);
    if (now?.user.id === user.id) return "already";
    if (now) throw new AppError("identity_taken");
    throw error;
  }
  await sendSecurityNotice(deps, user.id, "identity_linked", user);
  return "linked";
}

/**
 * `DELETE /users/me/identities/{id}` (fresh authentication): 409 `last_sign_in_method` when the
 * account would have no way in left (no usable password, no passkey, no other identity: the
 * mailbox does not count), decided in the delete itself so parallel removals cannot both pass.
 */
export async function unlinkIdentity(deps: Deps, caller: FreshnessOf, id: string): Promise<void> {
  assertFreshAuthentication(deps, caller);
  const { user } = caller;
  const mine = await listIdentities(deps.db, user.id);
  const target = mine.find((i) => i.id === id);
  if (!target) throw new AppError("not_found", { detail: "No such linked identity." });
  const work = deps.work();
  const removed = work.add(deleteIdentityKeepingAWayIn(deps.db, user.id, id, DISABLED_PASSWORD));
  const gone = sql`NOT EXISTS (SELECT 1 FROM user_identities WHERE id = ${id})`;
  work
    .events(
      eventRows(deps, [{ type: "user.identity_unlinked", data: { user_id: user.id, identity_id: id, provider: target.provider } }]),
      gone,
    )
    .audit(
      auditRow(deps, { action: "identity.unlinked", userId: user.id, resource: `identity:${id}`, metadata: { provider: target.provider } }),
      {
        onlyIf: gone,
      },
    );
  const committed = await work.commit();
  if (!committed.committed || committed.result(removed).length === 0) {
    throw new AppError("last_sign_in_method", { detail: "This is the account's last way in: add a password or a passkey first." });
  }
  await sendSecurityNotice(deps, user.id, "identity_unlinked", user);
}
