import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { randomToken } from "../../crypto";
import { AppError } from "../../errors";
import { readOutbox, readRecentOutbox, type OutboxEntry } from "../../mail/outbox";
import { outboxViewCsp, renderOutboxView } from "../../mail/outbox-view";
import type { AppEnv } from "../../web/context";
import { jsonResponse, problems } from "../openapi";
import { CookieDiagnosisSchema, outboxQuery, OutboxSchema } from "../../web/schemas";
import { diagnoseCookies } from "../cookie-doctor";
import { optionalAuth } from "../middleware/require-auth";
import { validationHook } from "../validation";

/**
 * `/api/v1/dev`: the dev outbox and the cookie doctor, and the dev outbox's page at `/dev/outbox`
 * ({@link devOutboxPage}). They answer only when DEV_OUTBOX is switched on (`npm run dev` and the
 * tests do; wrangler.toml and a deploy do not), the doctor also for a superuser's access token;
 * otherwise they are an ordinary 404.
 */
export const devRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

devRoutes.use("*", optionalAuth(), async (c, next) => {
  const superuser = c.req.path.endsWith("/cookie-doctor") && c.var.principal?.kind === "access_token" && c.var.principal.user.isSuperuser;
  if (!c.var.deps.config.devOutbox && !superuser) throw new AppError("not_found");
  await next();
});

/** `include=html` adds each mail's HTML part; without it the messages keep their original shape. */
const outboxRequest = outboxQuery.extend({
  include: z.literal("html").optional().openapi({ description: "`html`: each message also carries its HTML part (`html`)." }),
});

const OutboxMessageSchema = OutboxSchema.shape.messages.element;
const OutboxWithHtmlSchema = OutboxSchema.extend({
  messages: z.array(
    OutboxMessageSchema.extend({
      html: z.string().optional().openapi({ description: "The HTML part, with `include=html` only." }),
    }),
  ),
});

const outbox = createRoute({
  method: "get",
  path: "/outbox",
  tags: ["Development"],
  summary: "Mail sent to an address (dev outbox)",
  description:
    "Newest first, each with its text part (and with `include=html` its HTML part). Exists only when `DEV_OUTBOX` is on, which a deploy never is by default. A page of every address's mail: `GET /dev/outbox`.",
  request: { query: outboxRequest },
  responses: { 200: jsonResponse(OutboxWithHtmlSchema, "The messages."), ...problems(["validation_failed", "not_found"]) },
});

devRoutes.openapi(outbox, async (c) => {
  const { to, include } = c.req.valid("query");
  const entries = await readOutbox(c.var.deps, to);
  return c.json({ messages: entries.map((entry) => asMessage(entry, include === "html")) }, 200);
});

/** An entry as the API shows it: the HTML part only when asked for (older entries have none: ""). */
function asMessage(entry: OutboxEntry, withHtml: boolean) {
  const { html, ...message } = entry;
  return withHtml ? { ...message, html: html ?? "" } : message;
}

const cookieDoctor = createRoute({
  method: "get",
  path: "/cookie-doctor",
  tags: ["Development"],
  summary: "Explain Gatehouse's cookies for this request",
  description:
    'Call it from your app the way your app calls Gatehouse (`fetch(url, { credentials: "include", headers: { "Gatehouse-Token-Delivery": "cookie" } })`): it answers which cookies this browser would store and send, and why not (Secure, SameSite, host, COOKIE_DOMAIN, Origin, CORS). Names only, never values. Exists with `DEV_OUTBOX` on, or for a superuser\'s access token.',
  responses: { 200: jsonResponse(CookieDiagnosisSchema, "The diagnosis."), ...problems(["not_found"]) },
});

devRoutes.openapi(cookieDoctor, (c) => {
  const cookieNames = (c.req.header("cookie") ?? "")
    .split(";")
    .map((part) => part.split("=")[0]!.trim())
    .filter(Boolean);
  const diagnosis = diagnoseCookies(
    {
      url: c.req.url,
      origin: c.req.header("origin"),
      secFetchSite: c.req.header("sec-fetch-site"),
      deliveryHeader: c.req.header("gatehouse-token-delivery"),
      cookieNames,
    },
    c.var.deps.config,
  );
  return c.json(diagnosis, 200);
});

/**
 * `GET /dev/outbox`: the dev outbox as a page (src/mail/outbox-view.tsx), every address's mail or
 * one address's (`?to=`). Mounted at the root, beside the hosted pages. Like the JSON routes, an
 * ordinary 404 unless DEV_OUTBOX is on. A malformed `to` is answered by the page itself (422, saying
 * why), so the query is declared as any string and checked here.
 */
export const devOutboxPage = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const page = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });

const outboxPage = createRoute({
  method: "get",
  path: "/dev/outbox",
  tags: ["Development"],
  summary: "The dev outbox as a page",
  description:
    "Newest first, every address's mail or one address's (`to`): recipient, subject, time, the links each mail carries, its HTML part in a sandboxed frame and its text part. English only. Exists only when `DEV_OUTBOX` is on.",
  request: { query: z.object({ to: z.string().optional().openapi({ description: "Only the mail to this address." }) }) },
  responses: {
    200: page("The page."),
    422: page("The page, saying why `to` was refused (3 to 254 characters)."),
    ...problems(["not_found"]),
  },
});

devOutboxPage.openapi(outboxPage, async (c) => {
  const { deps } = c.var;
  if (!deps.config.devOutbox) throw new AppError("not_found");
  const asked = c.req.valid("query").to?.trim() || null;
  const filter = asked === null ? null : outboxQuery.safeParse({ to: asked });
  const refused = filter?.success === false;
  const entries = filter?.success ? await readOutbox(deps, filter.data.to) : refused ? [] : await readRecentOutbox(deps);
  const nonce = randomToken(18);
  const html = await renderOutboxView({
    productName: deps.config.branding.productName,
    entries,
    to: asked,
    error: refused ? "Enter a recipient's address of 3 to 254 characters, or none to see everyone's mail." : null,
    nonce,
  });
  return c.html(html, refused ? 422 : 200, {
    "Content-Security-Policy": outboxViewCsp(nonce),
    // As the hosted pages: the outbox is full of one-time links, so nothing about it leaves this origin.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
  });
});
