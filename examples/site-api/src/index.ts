import { Hono, type MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import { jwk } from "hono/jwk";
import type { JWTPayload } from "hono/utils/jwt/types";
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import { createJwksCache, kidOf } from "./jwks-cache";

/**
 * A site's own API that trusts Gatehouse access tokens (examples/site-api, README "Examples").
 * Everything a verifier must pin is pinned: the algorithm (ES256, Gatehouse's default), `typ:
 * at+jwt` (so an ID token or any other JWT signed by the same key is refused), the issuer and the
 * audience. Keys come from Gatehouse's JWKS through the GATEHOUSE service binding and are cached.
 */
export interface Env {
  GATEHOUSE: Fetcher;
  GATEHOUSE_ISSUER: string;
  GATEHOUSE_AUDIENCE: string;
}

let cache: ReturnType<typeof createJwksCache> | undefined;

function gatehouseKeys(env: Env) {
  // One cache per isolate; the URL's host is the issuer's, the request itself goes through the binding.
  cache ??= createJwksCache(async () => {
    const res = await env.GATEHOUSE.fetch(`${env.GATEHOUSE_ISSUER}/.well-known/jwks.json`);
    if (!res.ok) throw new Error(`Gatehouse JWKS: ${res.status}`);
    return (await res.json<{ keys: HonoJsonWebKey[] }>()).keys;
  });
  return cache;
}

type AppEnv = { Bindings: Env; Variables: { jwtPayload: JWTPayload } };
const app = new Hono<AppEnv>();

let verifier: MiddlewareHandler<AppEnv> | undefined;
const requireGatehouseToken = createMiddleware<AppEnv>((c, next) => {
  // Made on the first request: the issuer and audience are vars, the same for every request.
  verifier ??= jwk({
    keys: (ctx) => gatehouseKeys(c.env)(kidOf(ctx.req.header("authorization")?.replace(/^Bearer\s+/i, ""))),
    alg: ["ES256"],
    verification: { iss: c.env.GATEHOUSE_ISSUER, aud: c.env.GATEHOUSE_AUDIENCE, typ: "at+jwt" },
  });
  return verifier(c, next);
});
app.use("/api/*", requireGatehouseToken);

/** Who is calling: Gatehouse's user id (`sub`) and session (`sid`). */
app.get("/api/whoami", (c) => {
  const { sub, sid } = c.get("jwtPayload");
  return c.json({ user_id: sub, session_id: sid });
});

export default app;
