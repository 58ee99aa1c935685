import type { Config } from "../config";
import { SHIPPED_LOCALES } from "../config/languages";
import { OAUTH_SCOPES } from "./scopes";

/**
 * Discovery (OpenID Connect Discovery and RFC 8414): only what works. The provider runs only when
 * `JWT_ISSUER` equals `PUBLIC_URL` (its issuer); otherwise the document names the issuer and keys
 * alone, and the provider's endpoints refuse (the preflight says why).
 */
export const providerEnabled = (config: Pick<Config, "issuer" | "publicUrl">) => config.issuer === config.publicUrl;

export function discoveryDocument(config: Config): {
  issuer: string;
  jwks_uri: string;
  ui_locales_supported: string[];
  [field: string]: string | string[] | boolean;
} {
  const base = { issuer: config.issuer, jwks_uri: `${config.publicUrl}/.well-known/jwks.json`, ui_locales_supported: [...SHIPPED_LOCALES] };
  if (!providerEnabled(config)) return base;
  const at = (path: string) => `${config.publicUrl}${path}`;
  return {
    ...base,
    authorization_endpoint: at("/oauth/authorize"),
    token_endpoint: at("/oauth/token"),
    userinfo_endpoint: at("/oauth/userinfo"),
    revocation_endpoint: at("/oauth/revoke"),
    introspection_endpoint: at("/oauth/introspect"),
    end_session_endpoint: at("/oauth/logout"),
    ...(config.oauthDynamicRegistration ? { registration_endpoint: at("/oauth/register") } : {}),
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["ES256"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
    revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    scopes_supported: [...OAUTH_SCOPES],
    claims_supported: ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "email", "email_verified", "name", "locale"],
    prompt_values_supported: ["none", "login", "consent"],
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
  };
}
