import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../web/context";
import { problems } from "../openapi";
import { readAssetText } from "../static-assets";

/**
 * `GET /client/v1/gatehouse.js`: the browser client (src/client/gatehouse.ts) as an ES module, for
 * sites that import it straight from Gatehouse. The path is versioned: v1 keeps its API; a breaking
 * client would be v2 next to it. CORS (for the origins in CORS_ORIGINS, which a cross-origin module
 * script needs) comes from the app-wide middleware. The text is the static asset
 * assets/client/v1/gatehouse.js (`npm run build:client`), not part of the worker's script; the worker
 * runs first for every request, so it answers with its own headers.
 */
export const clientRoutes = new OpenAPIHono<AppEnv>();

const CLIENT_MODULE = "text/javascript; charset=utf-8";

const client = createRoute({
  method: "get",
  path: "/client/v1/gatehouse.js",
  tags: ["Browser client"],
  summary: "The browser client (ES module)",
  description:
    '`import { createGatehouse } from "<this URL>"`: cookie-mode sign-in, in-memory access tokens, one refresh for all tabs. Cross-origin pages can load it only from an origin listed in `CORS_ORIGINS`.',
  responses: {
    200: { description: "JavaScript (ES module).", content: { "text/javascript": { schema: z.string() } } },
    ...problems([]),
  },
});

clientRoutes.openapi(client, async (c) =>
  c.body(await readAssetText(c.var.deps.assets, "client/v1/gatehouse.js"), 200, {
    "Content-Type": CLIENT_MODULE,
    // Short, like the JWKS: a new release reaches browsers within minutes.
    "Cache-Control": "public, max-age=300",
    // The app-wide same-origin policy would keep the sites it is for from loading it.
    "Cross-Origin-Resource-Policy": "cross-origin",
  }),
);
