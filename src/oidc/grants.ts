import { auditRow } from "../audit/audit";
import { deleteGrant, listGrantsWithClients, revokeUserTokens } from "../db/oauth";
import { AppError } from "../errors";
import { eventRows } from "../events/events";
import type { Deps } from "../kernel/deps";

/** "Apps with access": a person's grants to OAuth clients, listed and revoked (API.md v1.2). */

export interface GrantView {
  client_id: string;
  name: string;
  scopes: string[];
  created_at: string;
}

export async function ownGrants(deps: Deps, userId: string): Promise<GrantView[]> {
  const rows = await listGrantsWithClients(deps.db, userId);
  return rows.map((r) => ({
    client_id: r.grant.clientId,
    name: r.name ?? r.grant.clientId,
    scopes: r.grant.scopes,
    created_at: r.grant.createdAt.toISOString(),
  }));
}

/** Revokes the app's access at once: the grant (so consent is asked again) and every refresh token of it. */
export async function revokeGrant(deps: Deps, userId: string, clientId: string): Promise<void> {
  const now = deps.now();
  const work = deps.work();
  const removed = work.add(deleteGrant(deps.db, userId, clientId));
  work
    .addAll([revokeUserTokens(deps.db, userId, clientId, now)])
    .events(eventRows(deps, [{ type: "user.grant_revoked", data: { user_id: userId, client_id: clientId } }]))
    .audit(auditRow(deps, { action: "oauth.grant_revoked", userId, resource: `oauth_client:${clientId}` }));
  const committed = await work.commit();
  if (!committed.committed || committed.result(removed).length === 0) throw new AppError("not_found", { detail: "No grant to this app." });
}
