import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { sha256Base64 } from "../../crypto";
import type { AppEnv } from "../../web/context";
import { jsonResponse, problems } from "../openapi";
import { readAssetText } from "../static-assets";

/**
 * `GET /openapi.json` (the detailed contract, generated from the route declarations) and
 * `GET /docs` (the same document rendered as a page). Both are generated ahead of time
 * (src/http/reference-document.tsx, `npm run build:openapi`) and served from the static assets, so
 * neither the document generator nor the page's renderer is part of the worker's script. The one
 * part that depends on the configuration, the document's `servers`, is added here.
 */
export function mountReference(app: OpenAPIHono<AppEnv>): void {
  const tags = ["Reference"];
  const openapiJson = createRoute({
    method: "get",
    path: "/openapi.json",
    tags,
    summary: "This document (OpenAPI 3.1)",
    responses: { 200: jsonResponse(z.record(z.string(), z.unknown()), "The OpenAPI document."), ...problems([]) },
  });
  app.openapi(openapiJson, async (c) => {
    const body = await documentText(c.var.deps.assets, c.var.deps.config.publicUrl);
    const res = c.body(body, 200, { "Content-Type": "application/json", "Cache-Control": "public, max-age=300" });
    // Not c.json: the text is serialised once per isolate, not per request; the typed responses know only c.json's.
    return res as never;
  });

  const docs = createRoute({
    method: "get",
    path: "/docs",
    tags,
    summary: "This reference as a page",
    responses: { 200: { description: "HTML.", content: { "text/html": { schema: z.string() } } }, ...problems([]) },
  });
  app.openapi(docs, async (c) => {
    const { html, styleHash } = await docsPage(c.var.deps.assets);
    // Only the page's own stylesheet may apply; nothing else loads, nothing frames it.
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; style-src '${styleHash}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    );
    c.header("Cache-Control", "public, max-age=300");
    return c.html(html);
  });
}

/** The document as served for one PUBLIC_URL, with `servers` where the generator put it (after `info`). */
const documents = new Map<string, string>();

async function documentText(assets: Fetcher | undefined, publicUrl: string): Promise<string> {
  let text = documents.get(publicUrl);
  if (text === undefined) {
    const { openapi, info, ...rest } = JSON.parse(await readAssetText(assets, "openapi.json")) as Record<string, unknown>;
    text = JSON.stringify({ openapi, info, servers: [{ url: publicUrl }], ...rest });
    documents.set(publicUrl, text);
  }
  return text;
}

let page: Promise<{ html: string; styleHash: string }> | undefined;

function docsPage(assets: Fetcher | undefined): Promise<{ html: string; styleHash: string }> {
  if (!page) {
    page = readAssetText(assets, "docs.html").then(async (html) => {
      // The page has one stylesheet (src/http/docs-page.tsx): its hash goes into the CSP.
      const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1];
      if (style === undefined) throw new Error("assets/docs.html has no <style>");
      return { html, styleHash: await sha256Base64(style) };
    });
    page.catch(() => (page = undefined));
  }
  return page;
}
