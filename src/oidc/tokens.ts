import { jwtVerify, SignJWT, type JWTHeaderParameters } from "jose";
import { randomToken, sha256 } from "../crypto";
import {
  familyIsLive,
  findCode,
  findRefreshToken,
  redeemCodeBatch,
  refreshBatch,
  revokeFamily,
  type OAuthClient,
  type OAuthRefreshToken,
} from "../db/oauth";
import { oauthRefreshTokens } from "../db/schema";
import type { Deps } from "../kernel/deps";
import type { KeySet } from "../kernel/signing-keys";
import { auditRow } from "../audit/audit";
import { isOAuthScope } from "./scopes";

/**
 * The token side of Gatehouse as an OAuth 2.1 / OpenID Connect provider: the code and refresh
 * grants, the tokens they issue, and what userinfo, introspection and revocation read of them.
 *
 * - Access tokens are RFC 9068 JWTs (`typ: at+jwt`) with `client_id`, `scope` and `aud` = the
 *   resource (RFC 8707) or the client itself: never `JWT_AUDIENCE`, so every `/api/v1` endpoint
 *   refuses them (its verification pins that audience). `sid` names the token family, which
 *   userinfo and introspection check on the primary (revoked grant, family or account: refused).
 * - Refresh tokens are opaque, kept by hash, rotated on every use with no grace: a used one
 *   presented again ends its family.
 * - ID tokens are signed with the deployment's ES256 key (the JWKS's): `id_token_signing_alg_values_supported`
 *   says ES256 only, which is a stated departure from OpenID Connect's RS256 requirement.
 */

/** An error of the token, revocation or introspection endpoint, in RFC 6749 form. */
export class OAuthError extends Error {
  override name = "OAuthError";
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status: 400 | 401 = 400,
  ) {
    super(description);
  }
}

const CODE_TTL_MS = 60_000;
const REFRESH_TTL_MS = 30 * 86_400_000;
const ID_TOKEN_TTL_S = 600;

const tokenHash = (token: string) => sha256(`oauth-token:${token}`);

/** What a code is bound to, and what its redemption issues. */
export interface CodeGrant {
  client: OAuthClient;
  userId: string;
  grantId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | null;
  scopes: string[];
  resource: string | null;
  authTime: Date;
  amr: string[];
}

/** A new authorization code (60 s, single use): the code and the row to write. */
export async function newCode(deps: Deps, grant: CodeGrant) {
  const code = randomToken(32);
  const now = deps.now();
  const row = {
    hash: await tokenHash(code),
    clientId: grant.client.id,
    userId: grant.userId,
    grantId: grant.grantId,
    redirectUri: grant.redirectUri,
    codeChallenge: grant.codeChallenge,
    nonce: grant.nonce,
    scopes: grant.scopes,
    resource: grant.resource,
    authTime: grant.authTime,
    amr: grant.amr,
    familyId: crypto.randomUUID(),
    expiresAt: new Date(now.getTime() + CODE_TTL_MS),
    usedAt: null,
  };
  return { code, row };
}

export interface TokenAnswer {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
  id_token?: string;
  refresh_token?: string;
}

/** The PKCE S256 challenge of a verifier, or null for a verifier RFC 7636 does not allow. */
async function challengeOf(verifier: string | undefined): Promise<string | null> {
  if (!verifier || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return null;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  return btoa(String.fromCharCode(...digest))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * `grant_type=authorization_code`: one batch claims the code for this client, redirect URI and
 * verifier, reads the account and writes the first refresh token; the tokens are signed here.
 */
export async function redeemCode(
  deps: Deps,
  client: OAuthClient,
  form: { code?: string | undefined; redirect_uri?: string | undefined; code_verifier?: string | undefined; resource?: string | undefined },
): Promise<TokenAnswer> {
  if (!form.code || form.code.length > 256) throw new OAuthError("invalid_request", "code is required.");
  if (!form.redirect_uri) throw new OAuthError("invalid_request", "redirect_uri is required.");
  const challenge = await challengeOf(form.code_verifier);
  if (!challenge) throw new OAuthError("invalid_grant", "A code_verifier (43 to 128 characters) is required.");
  const hash = await tokenHash(form.code);
  const now = deps.now();
  const refresh = `gro_${randomToken(32)}`;
  const { code, user } = await redeemCodeBatch(deps.db, {
    hash,
    clientId: client.id,
    redirectUri: form.redirect_uri,
    challenge,
    refreshHash: await tokenHash(refresh),
    now,
    refreshExpiresAt: new Date(now.getTime() + REFRESH_TTL_MS),
  });
  if (!code) {
    // A code used before: whatever its first redemption issued is revoked (OAuth 2.1). A code that
    // did not match (another client, redirect URI or verifier) stays as it was.
    const known = await findCode(deps.db, hash);
    if (known?.usedAt && known.clientId === client.id) {
      await deps
        .work()
        .addAll([revokeFamily(deps.db, known.familyId, now), familyMarker(deps, known, now)])
        .commit();
    }
    throw new OAuthError(
      "invalid_grant",
      "The code is invalid, expired, already used, or was issued for another redirect_uri or code_challenge.",
    );
  }
  if (!user || !user.isActive || user.deletedAt) throw new OAuthError("invalid_grant", "The account is no longer active.");
  if (form.resource !== undefined && form.resource !== code.resource) {
    await deps
      .work()
      .addAll([revokeFamily(deps.db, code.familyId, now)])
      .commit();
    throw new OAuthError("invalid_target", "The resource differs from the authorization request's.");
  }
  return signTokens(deps, client, {
    ...code,
    credentialsEpoch: user.credentialsEpoch,
    user,
    includeIdToken: code.scopes.includes("openid"),
    refresh: code.scopes.includes("offline_access") ? refresh : null,
  });
}

/** A revoked marker for a family that may have no refresh token (no `offline_access`): its access tokens end too. */
function familyMarker(
  deps: Deps,
  of: { familyId: string; grantId: string; clientId: string; userId: string; scopes: string[] },
  now: Date,
) {
  return deps.db.insert(oauthRefreshTokens).values({
    hash: `revoked:${of.familyId}:${crypto.randomUUID()}`,
    familyId: of.familyId,
    grantId: of.grantId,
    clientId: of.clientId,
    userId: of.userId,
    scopes: of.scopes,
    resource: null,
    authTime: now,
    amr: [],
    credentialsEpoch: 0,
    createdAt: now,
    expiresAt: new Date(now.getTime() + REFRESH_TTL_MS),
    usedAt: now,
    revokedAt: now,
  });
}

/** `grant_type=refresh_token`: one batch rotates (no grace); a replay ends the family. */
export async function refreshGrant(
  deps: Deps,
  client: OAuthClient,
  form: { refresh_token?: string | undefined; scope?: string | undefined },
) {
  if (!form.refresh_token || form.refresh_token.length > 256) throw new OAuthError("invalid_request", "refresh_token is required.");
  const hash = await tokenHash(form.refresh_token);
  const now = deps.now();
  const next = `gro_${randomToken(32)}`;
  const asked = form.scope === undefined ? [] : form.scope.split(" ").filter(Boolean);
  if (asked.some((s) => !isOAuthScope(s))) throw new OAuthError("invalid_scope", "Unknown scope.");
  const { token, user } = await refreshBatch(deps.db, {
    hash,
    clientId: client.id,
    nextHash: await tokenHash(next),
    now,
    expiresAt: new Date(now.getTime() + REFRESH_TTL_MS),
    scopes: asked,
  });
  if (!token) {
    const known = await findRefreshToken(deps.db, hash);
    if (known && !known.usedAt && !known.revokedAt && known.clientId === client.id && asked.some((s) => !known.scopes.includes(s))) {
      throw new OAuthError("invalid_scope", "A refresh cannot widen the scopes.");
    }
    if (known?.usedAt && !known.revokedAt && known.clientId === client.id) {
      await deps
        .work()
        .addAll([revokeFamily(deps.db, known.familyId, now)])
        .audit(auditRow(deps, { action: "oauth.refresh_reused", userId: known.userId, resource: `oauth_client:${known.clientId}` }))
        .commit();
    }
    throw new OAuthError("invalid_grant", "The refresh token is invalid, expired, revoked, already used, or another client's.");
  }
  if (!user) throw new OAuthError("invalid_grant", "The grant was revoked.");
  const scopes = asked.length > 0 ? asked : token.scopes;
  return signTokens(deps, client, { ...token, scopes, user, nonce: null, includeIdToken: false, refresh: next });
}

/** The access token, an ID token (`openid`, at the code grant), and the refresh token the batch wrote. */
async function signTokens(
  deps: Deps,
  client: OAuthClient,
  grant: Pick<OAuthRefreshToken, "familyId" | "grantId" | "resource" | "authTime" | "amr" | "credentialsEpoch"> & {
    scopes: string[];
    user: { id: string; email: string; emailVerified: boolean; fullName: string; locale: string | null };
    nonce: string | null;
    includeIdToken: boolean;
    refresh: string | null;
  },
): Promise<TokenAnswer> {
  const keys = await deps.keys();
  const iat = Math.floor(deps.now().getTime() / 1000);
  const ttl = deps.config.oauthAccessTokenTtl;
  const authTime = Math.floor(grant.authTime.getTime() / 1000);
  const sign = (payload: Record<string, unknown>, typ: string) =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: keys.signing.alg, kid: keys.signing.kid, typ })
      .setIssuer(deps.config.publicUrl)
      .setIssuedAt(iat);
  const scope = grant.scopes.join(" ");
  const access = sign(
    {
      client_id: client.id,
      scope,
      sid: grant.familyId,
      gid: grant.grantId,
      auth_time: authTime,
      amr: grant.amr,
      ep: grant.credentialsEpoch,
    },
    "at+jwt",
  )
    .setSubject(grant.user.id)
    .setAudience(grant.resource ?? client.id)
    .setJti(crypto.randomUUID())
    .setExpirationTime(iat + ttl)
    .sign(keys.signing.key);
  const id = grant.includeIdToken
    ? sign(
        {
          auth_time: authTime,
          amr: grant.amr,
          azp: client.id,
          ...(grant.nonce ? { nonce: grant.nonce } : {}),
          ...userClaims(grant.user, grant.scopes),
        },
        "JWT",
      )
        .setSubject(grant.user.id)
        .setAudience(client.id)
        .setExpirationTime(iat + ID_TOKEN_TTL_S)
        .sign(keys.signing.key)
    : null;
  const [accessToken, idToken] = await Promise.all([access, id]);
  return {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: ttl,
    scope,
    ...(idToken ? { id_token: idToken } : {}),
    ...(grant.refresh ? { refresh_token: grant.refresh } : {}),
  };
}

/** The claims `profile` and `email` release, in an ID token and at userinfo. */
export function userClaims(
  user: { email: string; emailVerified: boolean; fullName: string; locale: string | null },
  scopes: readonly string[],
) {
  return {
    ...(scopes.includes("email") ? { email: user.email, email_verified: user.emailVerified } : {}),
    ...(scopes.includes("profile") ? { name: user.fullName, ...(user.locale ? { locale: user.locale } : {}) } : {}),
  };
}

/** The claims of a Gatehouse OAuth access token. */
export interface OAuthAccessClaims {
  sub: string;
  client_id: string;
  scope: string;
  sid: string;
  /** The grant it was issued under: a grant removed and given again does not revive it. */
  gid: string;
  ep: number;
  aud: string | string[];
  exp: number;
  iat: number;
  iss: string;
}

/** jose's key lookup for a token this deployment signed: the key its `kid` names. */
export const keyOfKid = (keys: KeySet) => (header: JWTHeaderParameters) => {
  const key = header.kid ? keys.byKid.get(header.kid) : undefined;
  if (!key) throw new Error("unknown kid");
  return key.key;
};

/** Verifies an OAuth access token this deployment issued (any audience); null for anything else. */
async function verifyOAuthAccessToken(deps: Deps, token: string): Promise<OAuthAccessClaims | null> {
  const keys = await deps.keys();
  try {
    const { payload } = await jwtVerify(token, keyOfKid(keys), {
      issuer: deps.config.publicUrl,
      typ: "at+jwt",
      algorithms: [...new Set([...keys.byKid.values()].map((k) => k.alg))],
      currentDate: deps.now(),
    });
    if (
      typeof payload.client_id !== "string" ||
      typeof payload.sid !== "string" ||
      typeof payload.gid !== "string" ||
      typeof payload.sub !== "string"
    ) {
      return null;
    }
    return payload as unknown as OAuthAccessClaims;
  } catch {
    return null;
  }
}

/** An access token still honoured: valid, and its grant, family and account live (read on the primary). */
export async function liveAccessToken(deps: Deps, token: string): Promise<OAuthAccessClaims | null> {
  const claims = await verifyOAuthAccessToken(deps, token);
  if (!claims) return null;
  const live = await familyIsLive(deps.db, {
    familyId: claims.sid,
    grantId: claims.gid,
    userId: claims.sub,
    clientId: claims.client_id,
    credentialsEpoch: claims.ep,
  });
  return live ? claims : null;
}

/** RFC 7009: ends the token's family when it is this client's; unknown tokens are not an error. */
export async function revokeToken(deps: Deps, client: OAuthClient, token: string): Promise<void> {
  const now = deps.now();
  const refresh = await findRefreshToken(deps.db, await tokenHash(token));
  if (refresh) {
    if (refresh.clientId === client.id)
      await deps
        .work()
        .addAll([revokeFamily(deps.db, refresh.familyId, now)])
        .commit();
    return;
  }
  const access = await verifyOAuthAccessToken(deps, token);
  if (access && access.client_id === client.id) {
    await deps
      .work()
      .addAll([
        familyMarker(
          deps,
          { familyId: access.sid, grantId: access.gid, clientId: client.id, userId: access.sub, scopes: access.scope.split(" ") },
          now,
        ),
      ])
      .commit();
  }
}

/** RFC 7662 for the client's own tokens: access and refresh. */
export async function introspect(deps: Deps, client: OAuthClient, token: string): Promise<Record<string, unknown>> {
  const access = await liveAccessToken(deps, token);
  if (access) {
    if (access.client_id !== client.id) return { active: false };
    return {
      active: true,
      token_type: "access_token",
      client_id: access.client_id,
      sub: access.sub,
      scope: access.scope,
      aud: access.aud,
      iss: access.iss,
      exp: access.exp,
      iat: access.iat,
    };
  }
  const refresh = await findRefreshToken(deps.db, await tokenHash(token));
  const now = deps.now();
  if (!refresh || refresh.clientId !== client.id || refresh.usedAt || refresh.revokedAt || refresh.expiresAt <= now)
    return { active: false };
  if (!(await familyIsLive(deps.db, refresh))) return { active: false };
  return {
    active: true,
    token_type: "refresh_token",
    client_id: refresh.clientId,
    sub: refresh.userId,
    scope: refresh.scopes.join(" "),
    exp: Math.floor(refresh.expiresAt.getTime() / 1000),
    iat: Math.floor(refresh.createdAt.getTime() / 1000),
    iss: deps.config.publicUrl,
  };
}
