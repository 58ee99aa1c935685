import { Hono } from "hono";
import type { AppEnv } from "../context";

/** Public, unauthenticated endpoints: the JWKS and the health check. */
export const wellKnownRoutes = new Hono<AppEnv>();

/** Verifiers may cache the key set briefly; rotation keeps old keys published for longer than this. */
const JWKS_CACHE = "public, max-age=300, stale-while-revalidate=60";

wellKnownRoutes.get("/.well-known/jwks.json", async (c) => {
  const keys = await c.var.deps.keys();
  return c.json({ keys: keys.publicJwks }, 200, { "Cache-Control": JWKS_CACHE });
});

wellKnownRoutes.get("/health", (c) => c.json({ status: "ok" }));
