import { Hono, type Context } from "hono";
import { cors } from "hono/cors";
import { gatehouse, type GatehouseOptions, type GatehouseVariables } from "gatehouse/hono";

/**
 * A site's own API that trusts Gatehouse access tokens (examples/site-api; its README.md says how
 * to run and deploy it), on gatehouse/hono: offline verification with Gatehouse's published keys,
 * the algorithm (ES256), `typ: at+jwt` (an ID token or any other JWT of the same key is refused),
 * the issuer and the audience pinned. A refused token gets problem+json saying which check failed,
 * with the RFC 6750 challenge the browser client refreshes on.
 */
export interface Env {
  /** Gatehouse as a service binding (deployed): the keys come through it, no public round trip. */
  GATEHOUSE?: Fetcher;
  /** Gatehouse's JWT_ISSUER and JWT_AUDIENCE: tokens are accepted only with exactly these. */
  GATEHOUSE_ISSUER: string;
  GATEHOUSE_AUDIENCE: string;
  /**
   * Where to fetch the keys over the network instead of through the binding: locally, Gatehouse's
   * dev server on loopback (wrangler.toml's top level), so the example reaches the server you
   * started rather than whichever dev server of a worker named "gatehouse" registered last.
   */
  GATEHOUSE_JWKS_URL?: string;
  /** Your site's origin, allowed to call this API from the browser (CORS); unset: no CORS. */
  SITE_ORIGIN?: string;
}

type AppEnv = { Bindings: Env; Variables: GatehouseVariables };

/** The verifier's options from the bindings (read at the first request; the same for every later one). */
function verifierOptions(env: Env): GatehouseOptions {
  const binding = env.GATEHOUSE;
  if (!env.GATEHOUSE_JWKS_URL && !binding) throw new Error("site-api: bind GATEHOUSE (a service binding) or set GATEHOUSE_JWKS_URL.");
  return {
    issuer: env.GATEHOUSE_ISSUER,
    audience: env.GATEHOUSE_AUDIENCE,
    ...(env.GATEHOUSE_JWKS_URL
      ? { jwksUrl: env.GATEHOUSE_JWKS_URL }
      : // The URL's host is the issuer's; the request itself goes through the binding.
        { fetch: (input: string, init: RequestInit) => binding!.fetch(input, init) }),
  };
}

const problem = (c: Context<AppEnv>, status: 404 | 500, code: string, title: string, detail: string) =>
  c.body(JSON.stringify({ type: `urn:gatehouse:problem:${code}`, title, status, detail, code }), status, {
    "content-type": "application/problem+json",
  });

const app = new Hono<AppEnv>();

app.use(
  "/api/*",
  cors({
    // Your site only; the page reads WWW-Authenticate to learn that its token was refused and a refresh is due.
    origin: (origin, c) => (origin === (c.env as Env).SITE_ORIGIN ? origin : null),
    allowMethods: ["GET"],
    allowHeaders: ["Authorization"],
    exposeHeaders: ["WWW-Authenticate"],
    maxAge: 600,
  }),
);
app.use(
  "/api/*",
  gatehouse((c: Context<AppEnv>) => verifierOptions(c.env)),
);

/** Who is calling: Gatehouse's user id (`sub`) and session (`sid`). */
app.get("/api/whoami", (c) => {
  const { sub, sid } = c.var.gatehouse;
  return c.json({ user_id: sub, session_id: sid });
});

app.notFound((c) => problem(c, 404, "not_found", "Not found", "This API has one endpoint: GET /api/whoami."));
app.onError((error, c) => {
  console.error(error);
  return problem(c, 500, "internal_error", "Internal error", "Something went wrong on our side.");
});

export default app;
