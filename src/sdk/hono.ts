import type { Context, Env, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import {
  createVerifier,
  insufficientScope,
  isOAuthClaims,
  problemFor,
  VerifyError,
  type ClaimsOf,
  type ProblemResponse,
  type TokenKind,
  type Verifier,
  type VerifierOptions,
} from "./server.ts";

/**
 * `gatehouse/hono`: Hono middleware that accepts Gatehouse access tokens, built on
 * `gatehouse/server`'s verifier. A good token puts its typed claims in `c.var.gatehouse`; anything
 * else is answered here, as Gatehouse's own API would: problem+json 401 with an RFC 6750 challenge
 * (the browser client then refreshes once), 403 `insufficient_scope`, or 503 when the issuer's keys
 * cannot be fetched (fail closed).
 */

/** What a route needs beyond a valid token. */
export interface Requirements {
  /** OAuth scopes the token's `scope` must all contain. Session tokens carry no scope: they get 403. */
  scopes?: string[];
  /** Gatehouse roles the token's `roles` must all contain. OAuth clients' tokens carry no roles: they get 403. */
  roles?: string[];
  /** `realm` of the `WWW-Authenticate` challenge. */
  realm?: string;
}

/** A verifier's options, or a verifier to share between several middlewares (one key cache), plus the route's needs. */
export type GatehouseOptions<K extends TokenKind = "session"> = (VerifierOptions<K> | { verifier: Verifier<K> }) & Requirements;

/** The options, or a function of the first request's context (for bindings and vars: `c.env`). */
export type GatehouseOptionsInput<K extends TokenKind, E extends Env> = GatehouseOptions<K> | ((c: Context<E>) => GatehouseOptions<K>);

/** The variables the middleware sets: declare them in your app's `Variables` when you use it with `app.use`. */
export interface GatehouseVariables<K extends TokenKind = "session"> {
  gatehouse: ClaimsOf<K>;
}

interface Prepared<K extends TokenKind> {
  verify: Verifier<K>;
  scopes: string[];
  roles: string[];
  realm: string | undefined;
}

function prepare<K extends TokenKind>(options: GatehouseOptions<K>): Prepared<K> {
  const verify = "verifier" in options ? options.verifier : createVerifier(options);
  return { verify, scopes: options.scopes ?? [], roles: options.roles ?? [], realm: options.realm };
}

const send = (c: Context, problem: ProblemResponse) => c.body(JSON.stringify(problem.body), problem.status, problem.headers);

/** The 403 a valid token gets for lacking a required scope or role, or null when it has them all. */
function lacking<K extends TokenKind>(claims: ClaimsOf<K>, needs: Prepared<K>): ProblemResponse | null {
  const scopes = isOAuthClaims(claims) ? claims.scope.split(" ") : [];
  const roles = isOAuthClaims(claims) ? [] : claims.roles;
  const missingScopes = needs.scopes.filter((s) => !scopes.includes(s));
  const missingRoles = needs.roles.filter((r) => !roles.includes(r));
  if (missingScopes.length === 0 && missingRoles.length === 0) return null;
  return insufficientScope({ scopes: needs.scopes, missingScopes, missingRoles }, { realm: needs.realm });
}

function middleware<K extends TokenKind, E extends Env>(input: GatehouseOptionsInput<K, E>, anonymous: boolean) {
  // Static options are checked now (a TypeError at start-up); a function runs at the first request,
  // and its verifier, with its key cache, then serves every later one.
  let prepared = typeof input === "function" ? undefined : prepare(input);
  return createMiddleware(async (c: Context, next) => {
    prepared ??= prepare((input as (c: Context<E>) => GatehouseOptions<K>)(c as Context<E>));
    let claims: ClaimsOf<K>;
    try {
      claims = await prepared.verify(c.req.header("authorization"));
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      // No Bearer credential at all is who an anonymous route is for; a bad one is still refused.
      if (anonymous && error.code === "authentication_required") {
        c.set("gatehouse", undefined);
        return next();
      }
      // An operator's problem (keys or introspection unreachable), not the caller's: say why in the logs.
      if (error.code === "service_unavailable") console.error(`gatehouse: ${error.reason}`, error.cause);
      return send(c, problemFor(error, { realm: prepared.realm }));
    }
    const refused = lacking(claims, prepared);
    if (refused) return send(c, refused);
    c.set("gatehouse", claims);
    return next();
  });
}

/**
 * Requires a Gatehouse access token: `c.var.gatehouse` holds its claims in the handlers after it.
 *
 * @example
 * app.use("/api/*", gatehouse({ issuer: "https://auth.example.com", audience: "gatehouse" }));
 * app.get("/api/me", (c) => c.json({ user_id: c.var.gatehouse.sub }));
 */
export function gatehouse<K extends TokenKind = "session", E extends Env = Env>(
  options: GatehouseOptionsInput<K, E>,
): MiddlewareHandler<E & { Variables: GatehouseVariables<K> }> {
  return middleware(options, false) as MiddlewareHandler<E & { Variables: GatehouseVariables<K> }>;
}

/**
 * The same, for routes that also serve anonymous callers: a request without a Bearer credential goes
 * through with `c.var.gatehouse` undefined; a request with one that fails is refused as by `gatehouse`
 * (a bad token is not anonymity, and the client learns it should refresh).
 */
export function gatehouseOptional<K extends TokenKind = "session", E extends Env = Env>(
  options: GatehouseOptionsInput<K, E>,
): MiddlewareHandler<E & { Variables: { gatehouse: ClaimsOf<K> | undefined } }> {
  return middleware(options, true) as MiddlewareHandler<E & { Variables: { gatehouse: ClaimsOf<K> | undefined } }>;
}
