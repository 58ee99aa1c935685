/** The scopes Gatehouse grants to OAuth clients (API.md v1.2). `offline_access` (a refresh token) always needs consent. */
export const OAUTH_SCOPES = ["openid", "profile", "email", "offline_access"] as const;

export type OAuthScope = (typeof OAUTH_SCOPES)[number];

export const isOAuthScope = (scope: string): scope is OAuthScope => (OAUTH_SCOPES as readonly string[]).includes(scope);

/** The requested scopes this client may have, in a stable order; unknown ones are dropped. */
export function allowedScopes(requested: string | undefined, clientScopes: readonly string[] | null): OAuthScope[] {
  const asked = new Set((requested ?? "").split(" ").filter(Boolean));
  const allowed = clientScopes ?? OAUTH_SCOPES;
  return OAUTH_SCOPES.filter((s) => asked.has(s) && allowed.includes(s));
}
