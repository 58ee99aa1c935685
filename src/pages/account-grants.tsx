import { Hono } from "hono";
import { z } from "zod";
import { revokeGrant } from "../oidc/grants";
import type { AppEnv } from "../web/context";
import { accountForm } from "./account-page";
import { text } from "./forms";

/**
 * `POST /account/grants/revoke`: "Apps with access" (API.md v1.2), removing one app's access: its
 * grant (consent is asked again) and its refresh tokens at once, as `DELETE /users/me/grants/{id}`
 * does. Not a sensitive form: taking access away never needs a fresh sign-in.
 */
export const accountGrantPages = new Hono<AppEnv>();

accountGrantPages.post(
  "/account/grants/revoke",
  accountForm("grant_revoke", {
    schema: z.object({ client_id: z.string().min(1).max(64) }),
    input: (data) => ({ client_id: text(data, "client_id") ?? "" }),
    run: async (c, session, { client_id }) => {
      await revokeGrant(c.var.deps, session.user.id, client_id);
      return "grant_revoked";
    },
  }),
);
