import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { AppError } from "../../errors";
import { readOutbox } from "../../mail/mail";
import type { AppEnv } from "../../web/context";
import { jsonResponse, problems } from "../openapi";
import { CookieDiagnosisSchema, outboxQuery, OutboxSchema } from "../../web/schemas";
import { diagnoseCookies } from "../cookie-doctor";
import { optionalAuth } from "../middleware/require-auth";
import { validationHook } from "../validation";

/**
 * `/api/v1/dev`: the dev outbox and the cookie doctor. They answer only when DEV_OUTBOX is switched
 * on (`npm run dev` and the tests do; wrangler.toml and a deploy do not), the doctor also for a
 * superuser's access token; otherwise they are an ordinary 404.
 */
export const devRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

devRoutes.use("*", optionalAuth(), async (c, next) => {
  const superuser = c.req.path.endsWith("/cookie-doctor") && c.var.principal?.kind === "access_token" && c.var.principal.user.isSuperuser;
  if (!c.var.deps.config.devOutbox && !superuser) throw new AppError("not_found");
  await next();
});

const outbox = createRoute({
  method: "get",
  path: "/outbox",
  tags: ["Development"],
  summary: "Mail sent to an address (dev outbox)",
  description: "Newest first. Exists only when `DEV_OUTBOX` is on, which a deploy never is by default.",
  request: { query: outboxQuery },
  responses: { 200: jsonResponse(OutboxSchema, "The messages."), ...problems(["validation_failed", "not_found"]) },
});

devRoutes.openapi(outbox, async (c) => c.json({ messages: await readOutbox(c.var.deps, c.req.valid("query").to) }, 200));

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
