import { importPKCS8, SignJWT } from "jose";
import * as oauth from "oauth4webapi";
import type { OAuthProviderConfig } from "../config/oauth";
import type { Deps } from "../kernel/deps";

/**
 * The client side of one external provider, through oauth4webapi (the protocol: PKCE, state,
 * RFC 9207 `iss`, id_token claims and signature): its authorization server's metadata, this
 * deployment as its client, and the outbound options every request uses (the injected `fetch`,
 * a timeout, plain http only for a dev-mode loopback fake).
 */

/** One outbound call to a provider may take this long: a slow provider gives a clear page, not a hung sign-in. */
const PROVIDER_TIMEOUT_MS = 8_000;
/** Discovery documents are kept this long per isolate (a generic OpenID provider's, or a dev fake's). */
const DISCOVERY_TTL_MS = 60 * 60_000;
/** Apple's client secret is a JWT we sign; a short one is made per exchange. */
const APPLE_SECRET_TTL_S = 300;

/** A provider that cannot be reached or answers nonsense: a 502 page, never a 500. */
export class ProviderUnavailable extends Error {
  override name = "ProviderUnavailable";
}

const discovered = new Map<string, { as: oauth.AuthorizationServer; at: number }>();
/** Per-isolate JWKS caches by jwks_uri (oauth4webapi refreshes one when a kid is unknown). */
const jwks = new Map<string, oauth.JWKSCacheInput>();

/** The options of every request to the provider. */
export function requestOptions(deps: Deps, provider: OAuthProviderConfig) {
  const insecure =
    deps.config.devOutbox && Object.values({ ...provider.endpoints, issuer: provider.issuer }).some((u) => u?.startsWith("http:"));
  return {
    [oauth.customFetch]: (url: string, init: RequestInit) => {
      // GitHub's API refuses requests without a User-Agent.
      const headers = new Headers(init.headers);
      headers.set("user-agent", "Gatehouse");
      return deps.fetch(url, { ...init, headers, signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS) });
    },
    ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

/**
 * The provider's authorization server: the preset's published endpoints (no request), or its
 * discovery document (generic OpenID providers, dev fakes), fetched once an hour per isolate.
 */
export async function authorizationServer(deps: Deps, provider: OAuthProviderConfig): Promise<oauth.AuthorizationServer> {
  const { endpoints } = provider;
  if (endpoints.authorization && endpoints.token) {
    return {
      issuer: provider.issuer,
      authorization_endpoint: endpoints.authorization,
      token_endpoint: endpoints.token,
      ...(endpoints.userinfo ? { userinfo_endpoint: endpoints.userinfo } : {}),
      ...(endpoints.jwks ? { jwks_uri: endpoints.jwks } : {}),
      // The presets sign with RS256 and send no `iss` with the code (their fakes too).
      id_token_signing_alg_values_supported: ["RS256", "ES256"],
    };
  }
  const cached = discovered.get(provider.issuer);
  if (cached && deps.now().getTime() - cached.at < DISCOVERY_TTL_MS) return cached.as;
  const issuer = new URL(provider.issuer);
  const as = await reach(async () =>
    oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...requestOptions(deps, provider), algorithm: "oidc" })),
  );
  discovered.set(provider.issuer, { as, at: deps.now().getTime() });
  return as;
}

/** This deployment as the provider's client, and how it authenticates at the token endpoint. */
export async function clientOf(
  deps: Deps,
  provider: OAuthProviderConfig,
  as: oauth.AuthorizationServer,
): Promise<{ client: oauth.Client; auth: oauth.ClientAuth }> {
  const client: oauth.Client = { client_id: provider.clientId };
  if (provider.apple) return { client, auth: oauth.ClientSecretPost(await appleClientSecret(deps, provider)) };
  if (!provider.clientSecret) return { client, auth: oauth.None() };
  const methods = as.token_endpoint_auth_methods_supported;
  // RFC 8414's default is client_secret_basic; GitHub, Google, Microsoft and Apple all take a posted secret.
  const basic = provider.type === "oidc" && (!methods || methods.includes("client_secret_basic"));
  return { client, auth: basic ? oauth.ClientSecretBasic(provider.clientSecret) : oauth.ClientSecretPost(provider.clientSecret) };
}

/** Apple's client secret: an ES256 JWT from the team's key (developer.apple.com, "Creating a client secret"). */
async function appleClientSecret(deps: Deps, provider: OAuthProviderConfig): Promise<string> {
  const apple = provider.apple!;
  const key = await importPKCS8(apple.privateKey, "ES256");
  const now = Math.floor(deps.now().getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: apple.keyId })
    .setIssuer(apple.teamId)
    .setSubject(provider.clientId)
    .setAudience("https://appleid.apple.com")
    .setIssuedAt(now)
    .setExpirationTime(now + APPLE_SECRET_TTL_S)
    .sign(key);
}

/** The JWKS cache of this provider's keys, kept across requests of the isolate. */
export function jwksCacheOf(as: oauth.AuthorizationServer): oauth.JWKSCacheInput {
  const key = as.jwks_uri ?? as.issuer;
  let cache = jwks.get(key);
  if (!cache) jwks.set(key, (cache = {}));
  return cache;
}

/**
 * Runs a request to the provider: a network failure, a timeout, a 5xx or a body that is not what
 * the protocol says becomes {@link ProviderUnavailable}; the protocol's own refusals pass through.
 */
export async function reach<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError && error.status < 500) throw error;
    if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.WWWAuthenticateChallengeError) throw error;
    if (error instanceof oauth.OperationProcessingError && !isTransport(error)) throw error;
    throw new ProviderUnavailable("the provider could not be reached", { cause: error });
  }
}

/** oauth4webapi's codes for an answer that is not JSON or not an answer at all (a proxy's error page, an outage). */
function isTransport(error: oauth.OperationProcessingError): boolean {
  return error.code === oauth.RESPONSE_IS_NOT_JSON || error.code === oauth.RESPONSE_IS_NOT_CONFORM || error.code === oauth.PARSE_ERROR;
}

/** The name on a provider's button and in messages: the brand's own spelling, or an OpenID entry's `name`. */
export function providerName(provider: Pick<OAuthProviderConfig, "type" | "id" | "name">): string {
  const brands: Record<string, string> = { google: "Google", github: "GitHub", apple: "Apple", microsoft: "Microsoft" };
  return brands[provider.type] ?? provider.name ?? provider.id;
}
