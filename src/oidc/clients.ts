import { auditRow } from "../audit/audit";
import { randomToken, sha256, timingSafeEqual, utf8 } from "../crypto";
import { clientGrantsRemoval, deleteClient, findClient, insertClient, listClients, type OAuthClient } from "../db/oauth";
import { AppError } from "../errors";
import type { Deps } from "../kernel/deps";
import { providerEnabled } from "./discovery";
import { redirectUriProblem } from "./redirect-uris";
import { isOAuthScope } from "./scopes";

/**
 * OAuth clients (API.md v1.2 "Clients"): registered by a superuser. A confidential client's secret
 * is shown once and kept as a SHA-256 hash (it is 256 random bits: nothing to stretch).
 */

export interface NewClient {
  name: string;
  redirect_uris: string[];
  type: "public" | "confidential";
  first_party?: boolean | undefined;
  post_logout_redirect_uris?: string[] | undefined;
  scopes?: string[] | undefined;
}

export interface ClientView {
  client_id: string;
  name: string;
  type: "public" | "confidential";
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  scopes: string[] | null;
  first_party: boolean;
  created_at: string;
  last_used_at: string | null;
}

const clientView = (c: OAuthClient): ClientView => ({
  client_id: c.id,
  name: c.name,
  type: c.type,
  redirect_uris: c.redirectUris,
  post_logout_redirect_uris: c.postLogoutRedirectUris,
  scopes: c.scopes,
  first_party: c.firstParty,
  created_at: c.createdAt.toISOString(),
  last_used_at: c.lastUsedAt?.toISOString() ?? null,
});

const secretHash = (secret: string) => sha256(`oauth-client-secret:${secret}`);

export async function createClient(deps: Deps, actorId: string, input: NewClient): Promise<ClientView & { client_secret?: string }> {
  for (const uri of [...input.redirect_uris, ...(input.post_logout_redirect_uris ?? [])]) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new AppError("validation_failed", { detail: `${uri} ${problem}.` });
  }
  const unknown = (input.scopes ?? []).filter((s) => !isOAuthScope(s));
  if (unknown.length) throw new AppError("validation_failed", { detail: `Unknown scopes: ${unknown.join(", ")}.` });
  const secret = input.type === "confidential" ? `gcs_${randomToken(32)}` : undefined;
  const row: OAuthClient = {
    id: `gc_${randomToken(16)}`,
    name: input.name.trim(),
    type: input.type,
    secretHash: secret ? await secretHash(secret) : null,
    redirectUris: input.redirect_uris,
    postLogoutRedirectUris: input.post_logout_redirect_uris ?? [],
    scopes: input.scopes ?? null,
    firstParty: input.first_party ?? false,
    dynamic: false,
    createdAt: deps.now(),
    lastUsedAt: null,
  };
  await deps
    .work()
    .addAll([insertClient(deps.db, row)])
    .audit(
      auditRow(deps, {
        action: "oauth.client_created",
        actorUserId: actorId,
        resource: `oauth_client:${row.id}`,
        metadata: { name: row.name, type: row.type },
      }),
    )
    .commit();
  return { ...clientView(row), ...(secret ? { client_secret: secret } : {}) };
}

export async function adminListClients(deps: Deps): Promise<ClientView[]> {
  return (await listClients(deps.db)).map(clientView);
}

export async function adminGetClient(deps: Deps, id: string): Promise<ClientView> {
  const client = await findClient(deps.db, id);
  if (!client) throw new AppError("not_found", { detail: "No such client." });
  return clientView(client);
}

/** Deleting a client ends everything it holds: its grants' tokens stop at once (their client is gone). */
export async function adminDeleteClient(deps: Deps, actorId: string, id: string): Promise<void> {
  const work = deps.work();
  const removed = work.add(deleteClient(deps.db, id));
  work.addAll(clientGrantsRemoval(deps.db, id, deps.now()));
  work.audit(auditRow(deps, { action: "oauth.client_deleted", actorUserId: actorId, resource: `oauth_client:${id}` }));
  const committed = await work.commit();
  clientCache.delete(id);
  if (!committed.committed || committed.result(removed).length === 0) throw new AppError("not_found", { detail: "No such client." });
}

/** How a client authenticated at the token, revocation or introspection endpoint (or that it did not). */
export type ClientCredentials = { clientId: string; secret: string | undefined; method: "basic" | "post" | "none" };

/**
 * Clients as this isolate last read them (from the nearest replica), for a minute: the token
 * endpoint then costs one round trip to the primary (its batch), and a cold isolate one near read more. A deleted client's grants and tokens die in its deletion's
 * batch, and the code and refresh batches require a live grant, so a cached entry admits nothing.
 */
const CLIENT_CACHE_MS = 60_000;
const clientCache = new Map<string, { client: OAuthClient | undefined; at: number }>();

async function cachedClient(deps: Deps, id: string): Promise<OAuthClient | undefined> {
  const now = deps.now().getTime();
  const hit = clientCache.get(id);
  if (hit && now - hit.at < CLIENT_CACHE_MS) return hit.client;
  // A replica's answer (near the caller): clients change rarely, and nothing a deleted one holds is honoured.
  const client = await deps.replicas.peek(null, (db) => findClient(db, id));
  if (clientCache.size > 1000) clientCache.clear();
  clientCache.set(id, { client, at: now });
  return client;
}

/** The client, when its credentials hold: a confidential one by its secret, a public one by its id alone. */
export async function authenticateClient(deps: Deps, credentials: ClientCredentials): Promise<OAuthClient | null> {
  const client = providerEnabled(deps.config) ? await cachedClient(deps, credentials.clientId) : undefined;
  if (!client) return null;
  if (client.type === "public") return credentials.secret === undefined ? client : null;
  if (credentials.secret === undefined || !client.secretHash) return null;
  return timingSafeEqual(utf8(await secretHash(credentials.secret)), utf8(client.secretHash)) ? client : null;
}
