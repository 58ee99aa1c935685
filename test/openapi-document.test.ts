import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import { buildOpenApiDocument, renderDocsPage } from "../src/http/reference-document";

/**
 * `GET /openapi.json` and `GET /docs` serve assets/openapi.json and assets/docs.html, generated ahead
 * of time from the route declarations (src/http/reference-document.tsx) so the worker's script
 * carries neither the generator nor the renderer. This fails while the committed files are not what
 * the declarations generate now; `npm run build:openapi` (this file with `--update`) rewrites them.
 */

const STALE = "stale: run `npm run build:openapi` after changing a route declaration";

describe("the reference built ahead of time", () => {
  it("assets/openapi.json is the document the route declarations generate", async () => {
    await expect(`${JSON.stringify(buildOpenApiDocument(app), null, 2)}\n`).toMatchFileSnapshot("../assets/openapi.json", STALE);
  });

  it("assets/docs.html is that document rendered", async () => {
    await expect(await renderDocsPage(buildOpenApiDocument(app))).toMatchFileSnapshot("../assets/docs.html", STALE);
  });
});
