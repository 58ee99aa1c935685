import { Hono } from "hono";
import { z } from "zod";
import { assertFreshAuthentication } from "../accounts/fresh-auth";
import { unlinkIdentity } from "../federation/identities";
import type { AppEnv } from "../web/context";
import { accountForm } from "./account-page";
import { text } from "./forms";
import { continueInPage, redirectToProvider } from "./external-sign-in";
import { providerName } from "../federation/provider-client";
import { pageTranslator } from "./language";

/**
 * `/account` linking and unlinking of external providers (API.md v1.2): linking starts with this
 * POST (form token, fresh authentication: a stale session proves itself in the form), never with a
 * GET; the provider's callback links only for the same account and session, and confirms.
 */
export const accountIdentityPages = new Hono<AppEnv>();

const sensitive = { passwordField: "current_password" };

accountIdentityPages.post(
  "/account/identities/link",
  accountForm("identity_link", {
    schema: z.object({ provider: z.string().min(1).max(32) }),
    input: (data) => ({ provider: text(data, "provider") ?? "" }),
    sensitive,
    run: async (c, session, { provider: id }) => {
      assertFreshAuthentication(c.var.deps, session);
      const provider = c.var.deps.config.oauthProviders.find((p) => p.id === id);
      if (!provider) return "link_cancelled";
      const started = await redirectToProvider(c, provider, {
        intent: "link",
        returnTo: null,
        link: { userId: session.user.id, sessionId: session.sessionId },
      });
      // The account page's form-action names only this site: the provider is reached from a page.
      if (started.status !== 302) return started;
      const t = await pageTranslator(c, session);
      return continueInPage(c, started, t.text("external.continueWith", { provider: providerName(provider) }));
    },
  }),
);

accountIdentityPages.post(
  "/account/identities/unlink",
  accountForm("identity_unlink", {
    schema: z.object({ id: z.uuid() }),
    input: (data) => ({ id: text(data, "id") ?? "" }),
    sensitive,
    run: async (c, session, { id }) => {
      await unlinkIdentity(c.var.deps, session, id);
      return "identity_unlinked";
    },
  }),
);
