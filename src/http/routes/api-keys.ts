import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireInteractiveSession } from "../middleware/require-auth";
import { validate } from "../middleware/validate";
import { API_KEY_SCOPES, createApiKey, listApiKeys, revokeApiKey } from "../../api-keys/api-keys";

/**
 * `/api/v1/users/me/api-keys`, mounted from users.ts behind `requireAuth()`. Managing keys is
 * credential management, so an API key itself gets 403 `insufficient_scope` here.
 */
export const apiKeyRoutes = new Hono<AppEnv>();

/** Control characters and bidi overrides would let a key name disguise itself in a listing. */
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export const createApiKeyBody = z.object({
  name: z
    .string()
    .trim()
    .min(1, "Name the key.")
    .max(100, "Use at most 100 characters.")
    .refine((v) => !CONTROL_OR_BIDI.test(v), "Control characters are not allowed."),
  expires_in_days: z.number().int("Use a whole number of days.").min(1).max(3650).nullable().optional(),
  scopes: z
    .array(z.enum(API_KEY_SCOPES))
    .min(1, "Give the key at least one scope, or leave scopes out for all of them.")
    .max(API_KEY_SCOPES.length * 2)
    .optional(),
});

apiKeyRoutes.use("*", requireInteractiveSession());

apiKeyRoutes.post("/", validate("json", createApiKeyBody), async (c) => {
  const created = await createApiKey(c.var.deps, c.var.principal.user, c.req.valid("json"), c.var.meta);
  return c.json(created, 201);
});

apiKeyRoutes.get("/", async (c) => c.json({ api_keys: await listApiKeys(c.var.deps, c.var.principal.user) }));

apiKeyRoutes.delete("/:id", async (c) => {
  await revokeApiKey(c.var.deps, c.var.principal.user, c.req.param("id").slice(0, 64), c.var.meta);
  return c.body(null, 204);
});
