import { z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../web/context";

/**
 * The external providers' browser flow (API.md v1.2 "Sign in with an external provider") in the
 * OpenAPI document. The hosted pages serve it (pages/external-sign-in.tsx: HTML and form posts, no
 * JSON), so it is declared here for the reader and routed there.
 */
export function documentOAuthFlow(app: OpenAPIHono<AppEnv>): void {
  const tags = ["External providers"];
  const provider = z.object({ provider: z.string().openapi({ description: "An `OAUTH_PROVIDERS` id." }) });
  const html = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });
  // Pages: their unexpected failures are pages too (pages/respond.tsx), not problem+json.
  const failures = { 500: html("Something went wrong."), 503: html("A dependency is briefly unavailable (with Retry-After).") };
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/api/v1/auth/oauth/{provider}/start",
    tags,
    summary: "Start signing in with an external provider (browser)",
    description:
      "302 to the provider with `state`, PKCE `S256` and (OpenID) `nonce`, bound to this browser by the HttpOnly `__Host-gh_oauth` cookie for 10 minutes. `return_to` as the sign-in page's. Linking to an account starts on the account page (a POST with a form token and fresh authentication), never here.",
    request: { params: provider, query: z.object({ return_to: z.string().optional() }) },
    responses: {
      302: { description: "To the provider." },
      400: html("A link attempt by GET."),
      404: html("No such provider."),
      502: html("The provider cannot be reached."),
      ...failures,
    },
  });
  for (const method of ["get", "post"] as const) {
    app.openAPIRegistry.registerPath({
      method,
      path: "/api/v1/auth/oauth/{provider}/callback",
      tags,
      summary: method === "get" ? "The provider's answer (browser)" : "The provider's `form_post` answer (browser: Apple)",
      description:
        method === "get"
          ? "Checks the flow cookie, `state` (once), RFC 9207 `iss`, the code exchange with the verifier, and the id_token (claims, `nonce`, signature against the provider's JWKS). Then a cookie-mode session and 303 to `return_to` (or `/account`); or the second step (`/login/verify`), the link page (`/login/link`: an account has the address; sign in the existing way to link) or the address page (`/login/external`: no verified address). Refusals are HTML pages with no session."
          : "A cross-site form post carries no Lax cookie: answered with 303 to the same callback as a GET, with `code`, `state`, `iss`, `error` and `user` in its query.",
      request: { params: provider },
      responses:
        method === "get"
          ? {
              200: html("A page that moves on to the second step (`/login/verify` or `/login/enrol`)."),
              303: { description: "Signed in, or on to the next page." },
              400: html("A bad, replayed or foreign `state`, another browser, a wrong `iss`, `nonce` or id_token."),
              403: html("The account is deactivated."),
              404: html("No such provider."),
              409: html("Linking: the identity belongs to another account; or the account changed during the sign-in."),
              502: html("The provider cannot be reached."),
              ...failures,
            }
          : {
              303: { description: "To the GET callback." },
              404: html("No such provider."),
              413: html("The form was too large."),
              ...failures,
            },
    });
  }
}
