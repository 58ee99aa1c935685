import { decodeJwt } from "jose";
import * as oauth from "oauth4webapi";
import type { OAuthProviderConfig } from "../config/oauth";
import { sha256 } from "../crypto";
import { claimToken } from "../db/consumed-tokens";
import type { Deps } from "../kernel/deps";
import { openClaims, sealClaims } from "../kernel/sealed";
import { authorizationServer, clientOf, jwksCacheOf, reach, requestOptions } from "./provider-client";
import { identityOf, type ExternalIdentity } from "./provider-identity";

/**
 * The authorization code flow with one external provider (API.md v1.2 "Sign in with an external
 * provider"): `state`, PKCE S256 and (OpenID) `nonce`, kept sealed in an HttpOnly cookie of the
 * browser that started, with what the flow is for (a sign-in, or linking to the signed-in account)
 * and where it returns; the callback's answer is checked by oauth4webapi (state, RFC 9207 `iss`,
 * the code exchange with the verifier, the id_token's claims and its signature against the
 * provider's JWKS), and its state is used once, exactly, on the primary.
 */

/** A flow lives this long: a person choosing an account at the provider, not a session. */
export const FLOW_TTL_MS = 10 * 60_000;
const FLOW_PREFIX = "go1.";

export type FlowIntent = "sign_in" | "link";

/** What the flow cookie carries, sealed under the deployment's key. */
export interface FlowClaims {
  provider: string;
  state: string;
  verifier: string;
  nonce: string | null;
  intent: FlowIntent;
  /** A checked `return_to` (sign-in), or null. */
  returnTo: string | null;
  /** Linking: the account and the session that started it (fresh then). */
  link: { userId: string; sessionId: string } | null;
  exp: number;
}

/** Why a callback was refused: the page says which, never the details. */
export class FlowRefused extends Error {
  override name = "FlowRefused";
  constructor(
    readonly reason: "flow" | "provider" | "cancelled",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The exact redirect URI registered with the provider: `PUBLIC_URL` + the callback path. */
function redirectUri(deps: Deps, provider: OAuthProviderConfig): string {
  return `${deps.config.publicUrl}/api/v1/auth/oauth/${provider.id}/callback`;
}

/** The scopes each kind of provider is asked for: identity and address only. */
function scopeOf(provider: OAuthProviderConfig): string {
  if (provider.type === "github") return "read:user user:email";
  if (provider.type === "apple") return "name email";
  return "openid email profile";
}

const isOpenId = (provider: OAuthProviderConfig) => provider.type !== "github";

/** The provider's authorization URL for a new flow, and the sealed cookie that binds it to this browser. */
export async function startFlow(
  deps: Deps,
  provider: OAuthProviderConfig,
  flow: { intent: FlowIntent; returnTo: string | null; link: FlowClaims["link"] },
): Promise<{ location: string; cookie: string }> {
  const as = await authorizationServer(deps, provider);
  const verifier = oauth.generateRandomCodeVerifier();
  const claims: FlowClaims = {
    provider: provider.id,
    state: oauth.generateRandomState(),
    verifier,
    nonce: isOpenId(provider) ? oauth.generateRandomNonce() : null,
    intent: flow.intent,
    returnTo: flow.returnTo,
    link: flow.link,
    exp: deps.now().getTime() + FLOW_TTL_MS,
  };
  const url = new URL(as.authorization_endpoint!);
  const params = {
    client_id: provider.clientId,
    redirect_uri: redirectUri(deps, provider),
    response_type: "code",
    scope: scopeOf(provider),
    state: claims.state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    ...(claims.nonce ? { nonce: claims.nonce } : {}),
    // Apple returns the code by a cross-site form POST whenever a name or address is asked for.
    ...(provider.type === "apple" ? { response_mode: "form_post" } : {}),
    ...(provider.type === "google" || provider.type === "microsoft" ? { prompt: "select_account" } : {}),
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return { location: url.href, cookie: await sealClaims(await deps.keys(), FLOW_PREFIX, claims) };
}

/** The flow cookie's claims, when it is this deployment's, for this provider, and not expired. */
export async function openFlow(deps: Deps, providerId: string, cookie: string | undefined): Promise<FlowClaims> {
  const claims = cookie && cookie.length < 4096 ? await openClaims<FlowClaims>(await deps.keys(), FLOW_PREFIX, cookie) : null;
  if (!claims) throw new FlowRefused("flow", "no flow cookie: expired, or started in another browser");
  if (claims.provider !== providerId || claims.exp <= deps.now().getTime())
    throw new FlowRefused("flow", "flow cookie of another provider, or expired");
  return claims;
}

/**
 * The callback: the answer's state and issuer, the state used once, the code exchanged with the
 * verifier, the id_token checked (claims, nonce, signature), then the identity the provider asserts.
 */
export async function finishFlow(
  deps: Deps,
  provider: OAuthProviderConfig,
  flow: FlowClaims,
  params: URLSearchParams,
): Promise<ExternalIdentity> {
  // A state that is not this browser's flow: another browser's, a replay of an older flow, a forgery.
  if (params.get("state") !== flow.state) throw new FlowRefused("flow", "state does not match the flow cookie");
  const as = answeringServer(provider, await authorizationServer(deps, provider), params);
  const { client, auth } = await clientOf(deps, provider, as);
  let answer: URLSearchParams;
  try {
    answer = oauth.validateAuthResponse(as, client, params, flow.state);
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      throw new FlowRefused(error.error === "access_denied" ? "cancelled" : "provider", `provider error ${error.error}`, { cause: error });
    }
    // RFC 9207: an `iss` that is not this provider's (a mix-up with another provider), or none where it must be.
    throw new FlowRefused("provider", "the answer's iss is not the provider's", { cause: error });
  }
  // Single use, exactly: the first callback with this state wins, whatever the cookie.
  const now = deps.now().getTime();
  const key = `oauth_state:${await sha256(flow.state)}`;
  if (!(await claimToken(deps.db, { key, purpose: "oauth_state", at: now, expiresAt: flow.exp }, null))) {
    throw new FlowRefused("flow", "state used already");
  }
  const options = requestOptions(deps, provider);
  try {
    const response = await reach(() =>
      oauth.authorizationCodeGrantRequest(as, client, auth, answer, redirectUri(deps, provider), flow.verifier, options),
    );
    if (!isOpenId(provider)) {
      const tokens = await reach(() => oauth.processAuthorizationCodeResponse(as, client, response));
      return identityOf(deps, provider, { accessToken: tokens.access_token, appleUser: null, as });
    }
    // A multi-tenant Microsoft app: the issuer is the tenant's, named by the token's `tid`.
    const issuedBy = await tenantIssuer(provider, as, response);
    if (as.issuer !== provider.issuer && as.issuer !== issuedBy.issuer)
      throw new FlowRefused("provider", "iss and the id_token's tenant differ");
    const tokens = await reach(() =>
      oauth.processAuthorizationCodeResponse(issuedBy, client, response, {
        expectedNonce: flow.nonce ?? oauth.expectNoNonce,
        requireIdToken: true,
      }),
    );
    await reach(() =>
      oauth.validateApplicationLevelSignature(issuedBy, response, { ...options, [oauth.jwksCache]: jwksCacheOf(issuedBy) }),
    );
    return identityOf(deps, provider, {
      accessToken: tokens.access_token,
      idToken: oauth.getValidatedIdTokenClaims(tokens)!,
      appleUser: params.get("user"),
      as: issuedBy,
    });
  } catch (error) {
    if (error instanceof FlowRefused || !(error instanceof Error) || error.name === "ProviderUnavailable") throw error;
    throw new FlowRefused("provider", "the provider's answer did not verify", { cause: error });
  }
}

/**
 * A `{tenantid}` template issuer (Microsoft's `common`) cannot be compared with an answer's `iss`
 * as it stands: an `iss` that fits the template (a tenant GUID) is the one to check the rest against.
 */
function answeringServer(provider: OAuthProviderConfig, as: oauth.AuthorizationServer, params: URLSearchParams): oauth.AuthorizationServer {
  const iss = params.get("iss");
  if (!provider.issuer.includes("{tenantid}") || !iss) return as;
  const [before, after] = provider.issuer.split("{tenantid}") as [string, string];
  const tid = iss.startsWith(before) && iss.endsWith(after) ? iss.slice(before.length, iss.length - after.length) : "";
  return TENANT_ID.test(tid) ? { ...as, issuer: iss } : as;
}

const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The authorization server with the issuer a `{tenantid}` template names for this token (Microsoft's `common`). */
async function tenantIssuer(
  provider: OAuthProviderConfig,
  as: oauth.AuthorizationServer,
  response: Response,
): Promise<oauth.AuthorizationServer> {
  if (!provider.issuer.includes("{tenantid}")) return as;
  let tid: unknown;
  try {
    const body = await response.clone().json<{ id_token?: unknown }>();
    tid = typeof body.id_token === "string" ? decodeJwt(body.id_token).tid : undefined;
  } catch {
    tid = undefined;
  }
  // The tenant id only picks which issuer to expect; the token must then match it, signature included.
  if (typeof tid !== "string" || !TENANT_ID.test(tid)) throw new FlowRefused("provider", "no tenant id in the id_token");
  return { ...as, issuer: provider.issuer.replace("{tenantid}", tid) };
}
