import { OpenAPIHono } from "@hono/zod-openapi";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { AppEnv } from "./web/context";
import { AppError } from "./errors";
import { renderError } from "./http/problem-response";
import { createRequestContext } from "./web/middleware/request-context";
import { createRequestId } from "./web/middleware/request-id";
import { createNoStore, createSecurityHeaders } from "./web/middleware/security-headers";
import { createCookieCsrfGuard } from "./http/middleware/cookie-csrf";
import { createCors } from "./web/middleware/cors";
import { createDevHostGuard } from "./web/middleware/dev-host";
import { createJsonBodyGuard } from "./http/middleware/json-body";
import { adminRoutes } from "./http/routes/admin";
import { authRoutes } from "./http/routes/auth";
import { emailCodeRoutes } from "./http/routes/email-code";
import { clientRoutes } from "./http/routes/client";
import { devOutboxPage, devRoutes } from "./http/routes/dev";
import { userRoutes } from "./http/routes/users";
import { mountReference } from "./http/routes/reference";
import { pageRoutes } from "./pages/routes";
import { wellKnownRoutes } from "./http/routes/well-known";
import { oauthServerRoutes } from "./http/routes/oauth-server";

function createApp() {
  const app = new OpenAPIHono<AppEnv>();

  app.use(createRequestId());
  app.use(createSecurityHeaders());
  // Before CORS: a rebinding page's preflight is refused too, not answered.
  app.use(createDevHostGuard());
  app.use(createCors());
  app.use(createNoStore());
  app.use(createRequestContext());
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) => {
        const error = new AppError("method_not_allowed", { headers: { Allow: methods.join(", ") } });
        return renderError(error, c);
      },
    }),
  );
  // Before the body guard: a cross-site form post is refused as CSRF, not as a media type.
  app.use("/api/v1/auth/*", createCookieCsrfGuard());
  app.use("/api/*", createJsonBodyGuard());

  app.route("/", wellKnownRoutes);
  app.route("/", clientRoutes);
  app.route("/api/v1/auth", authRoutes);
  app.route("/api/v1/auth", emailCodeRoutes);
  app.route("/api/v1/users/me", userRoutes);
  app.route("/api/v1/admin", adminRoutes);
  app.route("/api/v1/dev", devRoutes);
  app.route("/", devOutboxPage);
  app.route("/", oauthServerRoutes);
  mountReference(app);
  app.route("/", pageRoutes);

  app.notFound((c) => renderError(new AppError("not_found"), c));
  app.onError((error, c) => renderError(error, c));
  return app;
}

export const app = createApp();
