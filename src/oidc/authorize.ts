import { auditRow } from "../audit/audit";
import { clientUsed, findClient, findGrant, grantUpsert, insertCode, type OAuthClient, type OAuthGrant } from "../db/oauth";
import type { User } from "../db/schema";
import type { Deps } from "../kernel/deps";
import { providerEnabled } from "./discovery";
import { openClaims, sealClaims } from "../kernel/sealed";
import { redirectUriMatches } from "./redirect-uris";
import { allowedScopes, type OAuthScope } from "./scopes";
import { newCode } from "./tokens";

/**
 * The authorization endpoint's decisions (API.md v1.2): which requests are refused on a page (no
 * client, or a redirect URI it never registered: never a redirect), which go back to the client
 * with an error (RFC 6749 4.1.2.1, with `iss`: RFC 9207), whether the person must sign in (again)
 * or consent, and the code once they did.
 */

export interface AuthorizationRequest {
  client: OAuthClient;
  redirectUri: string;
  state: string | null;
  nonce: string | null;
  scopes: OAuthScope[];
  codeChallenge: string;
  prompt: Set<string>;
  maxAge: number | null;
  resource: string | null;
  /** The earliest sign-in this request accepts (ms): `prompt=login` and `max_age` come back with it. */
  authAfter: number | null;
}

export type Parsed =
  | { ok: true; request: AuthorizationRequest }
  | { ok: false; page: "unknown_client" | "bad_redirect_uri" }
  | { ok: false; redirect: string };

/** The client's redirect with the answer's parameters, `state` and `iss` always. */
export function answerUrl(
  deps: Deps,
  request: Pick<AuthorizationRequest, "redirectUri" | "state">,
  params: Record<string, string>,
): string {
  const url = new URL(request.redirectUri);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  if (request.state !== null) url.searchParams.set("state", request.state);
  url.searchParams.set("iss", deps.config.publicUrl);
  return url.href;
}

export async function parseAuthorizationRequest(deps: Deps, q: (name: string) => string | undefined): Promise<Parsed> {
  const clientId = q("client_id");
  // The provider is off while JWT_ISSUER differs from PUBLIC_URL (its issuer): no client is known.
  const client = clientId && clientId.length <= 64 && providerEnabled(deps.config) ? await findClient(deps.db, clientId) : undefined;
  if (!client) return { ok: false, page: "unknown_client" };
  const redirectUri = q("redirect_uri") ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
  if (!redirectUri || !redirectUriMatches(client.redirectUris, redirectUri)) return { ok: false, page: "bad_redirect_uri" };
  const state = q("state") ?? null;
  const fail = (error: string, description: string): Parsed => ({
    ok: false,
    redirect: answerUrl(deps, { redirectUri, state }, { error, error_description: description }),
  });
  if (q("request") !== undefined || q("request_uri") !== undefined)
    return fail("request_not_supported", "Request objects are not supported.");
  if (q("response_type") !== "code") return fail("unsupported_response_type", "Only response_type=code is supported.");
  const responseMode = q("response_mode");
  if (responseMode !== undefined && responseMode !== "query") return fail("invalid_request", "Only response_mode=query is supported.");
  const codeChallenge = q("code_challenge");
  if (!codeChallenge || q("code_challenge_method") !== "S256" || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge)) {
    return fail("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256.");
  }
  // No scope asked (MCP clients often ask none): the identity alone.
  const scopes = allowedScopes(q("scope") ?? "openid", client.scopes);
  if (scopes.length === 0) return fail("invalid_scope", "No scope this client may ask for.");
  const prompt = new Set((q("prompt") ?? "").split(" ").filter(Boolean));
  if ([...prompt].some((p) => !["none", "login", "consent"].includes(p)) || (prompt.has("none") && prompt.size > 1)) {
    return fail("invalid_request", "prompt is none, login or consent.");
  }
  const rawMaxAge = q("max_age");
  const maxAge = rawMaxAge === undefined ? null : /^\d{1,9}$/.test(rawMaxAge) ? Number(rawMaxAge) : NaN;
  if (Number.isNaN(maxAge)) return fail("invalid_request", "max_age is a number of seconds.");
  const resource = q("resource") ?? null;
  if (resource !== null) {
    if (!URL.canParse(resource) || resource.includes("#")) return fail("invalid_target", "resource is an absolute URI without a fragment.");
    if (resource === deps.config.audience) return fail("invalid_target", "Gatehouse's own API is not a resource for OAuth clients.");
  }
  const nonce = q("nonce") ?? null;
  if ((nonce?.length ?? 0) > 512 || (state?.length ?? 0) > 2048) return fail("invalid_request", "state or nonce is too long.");
  const authAfter = await openAuthAfter(deps, q("auth_after"), client.id);
  return {
    ok: true,
    request: {
      client,
      redirectUri,
      state,
      nonce,
      scopes,
      codeChallenge,
      prompt,
      maxAge,
      resource,
      authAfter,
    },
  };
}

const AUTH_AFTER_PREFIX = "ga1.";

/**
 * `auth_after`: the sign-in a request sent the person to (`prompt=login`, `max_age`, or none yet),
 * sealed with the client's id so nobody can write one into a URL and skip the sign-in it stands for.
 */
export async function sealAuthAfter(deps: Deps, clientId: string): Promise<string> {
  return sealClaims(await deps.keys(), AUTH_AFTER_PREFIX, { t: deps.now().getTime(), c: clientId });
}

async function openAuthAfter(deps: Deps, raw: string | undefined, clientId: string): Promise<number | null> {
  if (!raw || raw.length > 512) return null;
  const claims = await openClaims<{ t: number; c: string }>(await deps.keys(), AUTH_AFTER_PREFIX, raw);
  return claims && claims.c === clientId && typeof claims.t === "number" ? claims.t : null;
}

/**
 * What the person's browser session must still do before a code: sign in (again), consent, or
 * nothing; with the person's grant to the client when deciding read it (`undefined`: not read), so
 * issuing the code does not read it again.
 */
export async function nextStep(
  deps: Deps,
  request: AuthorizationRequest,
  session: { user: User; authTime: Date } | null,
): Promise<{ step: "sign_in" | "consent" | "code"; grant?: OAuthGrant | null }> {
  const step = (s: "sign_in" | "consent" | "code") => ({ step: s });
  const now = deps.now().getTime();
  if (!session) return step("sign_in");
  // `auth_after` is the sign-in `prompt=login` or `max_age` sent the person to: once it happened, it
  // satisfies both (even `max_age=0`, which no sign-in could meet a moment later).
  if (request.authAfter !== null) {
    if (session.authTime.getTime() < request.authAfter) return step("sign_in");
  } else if (request.prompt.has("login") || (request.maxAge !== null && session.authTime.getTime() + request.maxAge * 1000 < now)) {
    return step("sign_in");
  }
  // A self-registered client (RFC 7591) is nobody's vouched-for app: it asks every time.
  if (request.client.dynamic) return step("consent");
  if (request.prompt.has("consent")) return step(request.client.firstParty ? "code" : "consent");
  if (request.client.firstParty) return step("code");
  const grant = await findGrant(deps.db, session.user.id, request.client.id);
  return { step: grant && request.scopes.every((s) => grant.scopes.includes(s)) ? "code" : "consent", grant: grant ?? null };
}

/** The code for a signed-in (and, where needed, consenting) person: the grant remembered, the code written, the redirect. */
export async function issueCode(
  deps: Deps,
  request: AuthorizationRequest,
  session: { user: User; authTime: Date; amr: string[] },
  consented: boolean,
  /** The grant as {@link nextStep} read it (null: none), when it did. */
  known?: OAuthGrant | null,
): Promise<string> {
  const now = deps.now();
  const existing = known === undefined ? await findGrant(deps.db, session.user.id, request.client.id) : known;
  const scopes = [...new Set([...(existing?.scopes ?? []), ...request.scopes])];
  const grantId = existing?.id ?? crypto.randomUUID();
  const { code, row } = await newCode(deps, {
    client: request.client,
    userId: session.user.id,
    grantId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    nonce: request.nonce,
    scopes: request.scopes,
    resource: request.resource,
    authTime: session.authTime,
    amr: session.amr,
  });
  const work = deps.work().addAll([
    grantUpsert(deps.db, {
      id: grantId,
      userId: session.user.id,
      clientId: request.client.id,
      scopes,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    }),
    insertCode(deps.db, row),
    clientUsed(deps.db, request.client.id, now),
  ]);
  if (consented) {
    work.audit(
      auditRow(deps, {
        action: "oauth.consent_given",
        userId: session.user.id,
        resource: `oauth_client:${request.client.id}`,
        metadata: { scopes: request.scopes },
      }),
    );
  }
  await work.commit();
  return answerUrl(deps, request, { code });
}
