import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../web/context";
import { BOOKMARK_HEADER } from "../web/context";
import { DocsPage, type OpenApiDocument } from "./docs-page";
import { BOOKMARK_DESCRIPTION, securitySchemes } from "./openapi";
import { documentOAuthFlow } from "./routes/oauth-flow-docs";
import { documentOAuthServer } from "./routes/oauth-server";

/**
 * The reference as it is built ahead of time: `GET /openapi.json` and `GET /docs` serve
 * assets/openapi.json and assets/docs.html, which test/openapi-document.test.ts generates from the
 * app's route declarations (`npm run build:openapi`) and fails on while they are stale. The worker
 * never imports this module: the document generator, the page's renderer and the declarations that
 * exist only for the reader stay out of its bundle.
 */

/** Where the reference routes start in the app's declarations: the reader-only declarations go just before them. */
const FIRST_REFERENCE_PATH = "/openapi.json";

type Definition = OpenAPIHono["openAPIRegistry"]["definitions"][number];

/** What the document declares besides the app's own routes: components, and routes other routers serve. */
function readerOnlyDefinitions(): Definition[] {
  const app = new OpenAPIHono<AppEnv>();
  for (const [name, scheme] of Object.entries(securitySchemes)) app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  documentOAuthFlow(app);
  documentOAuthServer(app);
  app.openAPIRegistry.registerComponent("headers", BOOKMARK_HEADER, { description: BOOKMARK_DESCRIPTION, schema: { type: "string" } });
  app.openAPIRegistry.registerComponent("parameters", "bookmark", {
    name: BOOKMARK_HEADER,
    in: "header",
    required: false,
    description: BOOKMARK_DESCRIPTION,
    schema: { type: "string" },
  });
  return app.openAPIRegistry.definitions;
}

/** Every declaration of the document in its order: the app's, with the reader-only ones where the reference routes start. */
export function referenceDefinitions(app: OpenAPIHono<AppEnv>): Definition[] {
  const own = app.openAPIRegistry.definitions;
  const at = own.findIndex((d) => d.type === "route" && d.route.path === FIRST_REFERENCE_PATH);
  if (at < 0) throw new Error(`the app declares no ${FIRST_REFERENCE_PATH}`);
  return [...own.slice(0, at), ...readerOnlyDefinitions(), ...own.slice(at)];
}

/** The OpenAPI document without `servers`, which the worker adds from PUBLIC_URL. */
export function buildOpenApiDocument(app: OpenAPIHono<AppEnv>): OpenApiDocument {
  const documented = new OpenAPIHono<AppEnv>();
  for (const definition of referenceDefinitions(app)) {
    if (definition.type === "route") documented.openAPIRegistry.registerPath(definition.route);
    else if (definition.type === "component")
      documented.openAPIRegistry.registerComponent(definition.componentType, definition.name, definition.component);
    else throw new Error(`an OpenAPI declaration of type ${definition.type}: teach buildOpenApiDocument to copy it`);
  }
  return documented.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Gatehouse",
      version: "1.1",
      description:
        "Authentication at the edge: registration, login with JWT access tokens and rotating refresh tokens, recovery by email, sessions and API keys.\n\n" +
        `Read your own writes: \`${BOOKMARK_HEADER}\` (request and response header). ${BOOKMARK_DESCRIPTION}`,
    },
  }) as OpenApiDocument;
}

/** `GET /docs` as served: the document rendered as one page. */
export async function renderDocsPage(doc: OpenApiDocument): Promise<string> {
  // A hono/jsx element is its HTML (a String object), or a promise of it when a component is async.
  return String(await (<DocsPage doc={doc} />));
}
