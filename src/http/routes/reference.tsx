import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Config } from "../../config";
import { sha256Base64 } from "../../crypto";
import type { AppEnv } from "../../web/context";
import { DOCS_STYLE, DocsPage, type OpenApiDocument } from "../docs-page";
import { BOOKMARK_HEADER } from "../../web/context";
import { documentOAuthFlow } from "./oauth-flow-docs";
import { documentOAuthServer } from "./oauth-server";
import { BOOKMARK_DESCRIPTION, jsonResponse, problems, securitySchemes } from "../openapi";

/**
 * `GET /openapi.json` (the detailed contract, generated from the route declarations) and
 * `GET /docs` (the same document rendered as a page). Both are built once per configuration.
 */
export function mountReference(app: OpenAPIHono<AppEnv>): void {
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

  const documents = new WeakMap<Config, OpenApiDocument>();
  const documentFor = (config: Config): OpenApiDocument => {
    let doc = documents.get(config);
    if (!doc) {
      doc = app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "Gatehouse",
          version: "1.1",
          description:
            "Authentication at the edge: registration, login with JWT access tokens and rotating refresh tokens, recovery by email, sessions and API keys.\n\n" +
            `Read your own writes: \`${BOOKMARK_HEADER}\` (request and response header). ${BOOKMARK_DESCRIPTION}`,
        },
        servers: [{ url: config.publicUrl }],
      }) as OpenApiDocument;
      documents.set(config, doc);
    }
    return doc;
  };

  const tags = ["Reference"];
  const openapiJson = createRoute({
    method: "get",
    path: "/openapi.json",
    tags,
    summary: "This document (OpenAPI 3.1)",
    responses: { 200: jsonResponse(z.record(z.string(), z.unknown()), "The OpenAPI document."), ...problems([]) },
  });
  app.openapi(openapiJson, (c) => c.json(documentFor(c.var.deps.config), 200, { "Cache-Control": "public, max-age=300" }));

  const docs = createRoute({
    method: "get",
    path: "/docs",
    tags,
    summary: "This reference as a page",
    responses: { 200: { description: "HTML.", content: { "text/html": { schema: z.string() } } }, ...problems([]) },
  });

  let styleHash: Promise<string> | undefined;
  app.openapi(docs, async (c) => {
    styleHash ??= sha256Base64(DOCS_STYLE);
    // Only the page's own stylesheet may apply; nothing else loads, nothing frames it.
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; style-src '${await styleHash}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    );
    c.header("Cache-Control", "public, max-age=300");
    return c.html(<DocsPage doc={documentFor(c.var.deps.config)} />);
  });
}
