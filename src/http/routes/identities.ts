import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { ownIdentities, unlinkIdentity } from "../../federation/identities";
import type { AppEnv } from "../../web/context";
import { idParam, IdentityListSchema } from "../../web/schemas";
import { requireInteractiveSession } from "../middleware/require-auth";
import { AUTH_ERRORS, jsonResponse, noContent, problems, security } from "../openapi";
import { validationHook } from "../validation";

/**
 * `/api/v1/users/me/identities`, mounted from users.ts behind `requireAuth()`: the caller's linked
 * external identities (API.md v1.2). Linking happens in the browser (the account page's POST, then
 * the provider); here they are listed and removed. Only an access token manages them.
 */
export const identityRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ["External providers"];
const SESSION_ONLY = [...AUTH_ERRORS, "insufficient_scope"] as const;

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List linked external identities",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  responses: { 200: jsonResponse(IdentityListSchema, "Oldest first."), ...problems([...SESSION_ONLY]) },
});

identityRoutes.openapi(list, async (c) => c.json({ identities: await ownIdentities(c.var.deps, c.var.session.user.id) }, 200));

const remove = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Unlink an external identity",
  description:
    "Fresh authentication; 409 `last_sign_in_method` when it is the account's last way in (no usable password, no passkey, no other identity: the mailbox does not count). Sends `user.identity_unlinked` and mails a notice.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { params: idParam },
  responses: {
    204: noContent,
    ...problems([...SESSION_ONLY, "reauthentication_required", "validation_failed", "not_found", "last_sign_in_method"]),
  },
});

identityRoutes.openapi(remove, async (c) => {
  await unlinkIdentity(c.var.deps, c.var.session, c.req.valid("param").id);
  return c.body(null, 204);
});
