import { auditRow } from "../audit/audit";
import { randomToken } from "../crypto";
import { insertClient, type OAuthClient } from "../db/oauth";
import type { Deps } from "../kernel/deps";
import { redirectUriProblem } from "./redirect-uris";
import { OAUTH_SCOPES } from "./scopes";
import { OAuthError } from "./tokens";

/**
 * RFC 7591 dynamic client registration (API.md v1.2, issue #33), on when
 * `OAUTH_DYNAMIC_CLIENT_REGISTRATION=true`: what MCP clients use to register themselves. Only public
 * clients (`token_endpoint_auth_method: none`: nobody is handed a secret), only the code and refresh
 * grants, always consent (the page says the app is unverified and shows where it sends you). URIs a
 * client names (`logo_uri`, `client_uri`, `jwks_uri`…) are never fetched nor shown as links: they are
 * not kept at all. Limited per client IP (`oauth_register_ip_hour`); a client never used for 30 days
 * is removed by the daily clean-up.
 */

export const DYNAMIC_CLIENT_UNUSED_DAYS = 30;

/** An RFC 7591 error (`invalid_redirect_uri`, `invalid_client_metadata`). */
const invalid = (error: "invalid_redirect_uri" | "invalid_client_metadata", description: string) => new OAuthError(error, description);

const list = (value: unknown): string[] | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined;

export async function registerClient(deps: Deps, metadata: Record<string, unknown>): Promise<Record<string, unknown>> {
  const redirectUris = list(metadata.redirect_uris);
  if (!redirectUris || redirectUris.length === 0 || redirectUris.length > 10) {
    throw invalid("invalid_redirect_uri", "redirect_uris: one to ten URIs.");
  }
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw invalid("invalid_redirect_uri", `${uri.slice(0, 200)} ${problem}.`);
  }
  const method = metadata.token_endpoint_auth_method ?? "none";
  if (method !== "none")
    throw invalid("invalid_client_metadata", "Only public clients register here: token_endpoint_auth_method must be none.");
  const grantTypes = list(metadata.grant_types) ?? ["authorization_code"];
  if (grantTypes.some((g) => g !== "authorization_code" && g !== "refresh_token")) {
    throw invalid("invalid_client_metadata", "grant_types: authorization_code and refresh_token only.");
  }
  const responseTypes = list(metadata.response_types) ?? ["code"];
  if (responseTypes.some((r) => r !== "code")) throw invalid("invalid_client_metadata", "response_types: code only.");
  const name = typeof metadata.client_name === "string" ? metadata.client_name.trim().slice(0, 100) : "";
  // eslint-disable-next-line no-control-regex -- a name with control characters or markup is refused, not shown
  if (name && /[\u0000-\u001f\u007f<>]/.test(name)) throw invalid("invalid_client_metadata", "client_name must be plain text.");
  const asked = typeof metadata.scope === "string" ? metadata.scope.split(" ").filter(Boolean) : null;
  const scopes = asked ? OAUTH_SCOPES.filter((s) => asked.includes(s)) : null;
  const client: OAuthClient = {
    id: `gcd_${randomToken(16)}`,
    name: name || "Unnamed app",
    type: "public",
    secretHash: null,
    redirectUris,
    postLogoutRedirectUris: [],
    scopes: scopes && scopes.length > 0 ? scopes : null,
    firstParty: false,
    dynamic: true,
    createdAt: deps.now(),
    lastUsedAt: null,
  };
  await deps
    .work()
    .addAll([insertClient(deps.db, client)])
    .audit(auditRow(deps, { action: "oauth.client_registered", resource: `oauth_client:${client.id}`, metadata: { name: client.name } }))
    .commit();
  return {
    client_id: client.id,
    client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
    client_name: client.name,
    redirect_uris: client.redirectUris,
    token_endpoint_auth_method: "none",
    grant_types: grantTypes,
    response_types: ["code"],
    ...(client.scopes ? { scope: client.scopes.join(" ") } : {}),
  };
}
