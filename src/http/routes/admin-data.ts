import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AUDIT_LOGS_MAX_LIMIT, exportAuditEvents, listAuditEvents } from "../../admin/audit-logs";
import { IMPORT_MAX_BYTES, IMPORT_MAX_LINES, importUsers } from "../../admin/import";
import { listDeliveries, redeliver } from "../../admin/webhooks";
import { EVENT_TYPES } from "../../config/webhooks";
import { AppError } from "../../errors";
import type { AppEnv } from "../../web/context";
import { AUTH_ERRORS, jsonResponse, problems, security } from "../openapi";
import { emailField, fullNameField, usernameField } from "../../web/schemas";
import { validationHook } from "../validation";

/**
 * `/api/v1/admin`, bulk data: the user import (an NDJSON upload) and the audit log (pages, or an
 * NDJSON export). Mounted inside the administration routes (admin.ts), behind their gate.
 */
export const adminDataRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ["Administration"];
const ADMIN_ERRORS = [...AUTH_ERRORS, "insufficient_scope", "forbidden"] as const;
const NDJSON = "application/x-ndjson";

/** One line of an import: registration's field rules, with a password hash instead of a password. */
const importLine = z.object({
  email: emailField,
  full_name: fullNameField,
  username: usernameField.optional().nullable(),
  password_hash: z.string().min(1, "Give the password hash.").max(512, "The hash is too long."),
  email_verified: z.boolean().optional(),
});

const ImportReportSchema = z
  .strictObject({
    imported: z.number().int(),
    skipped: z.number().int().openapi({ description: "Lines whose email or username a live account (or an earlier line) already has." }),
    errors: z.array(z.strictObject({ line: z.number().int(), message: z.string() })).openapi({
      description: "Lines refused, by number (1-based), with the rule broken; never the line's content.",
    }),
  })
  .openapi("UserImportReport");

const importRoute = createRoute({
  method: "post",
  path: "/users/import",
  tags,
  summary: "Import users with their password hashes",
  description:
    "Body: NDJSON (`Content-Type: application/x-ndjson`), one user per line: " +
    '`{"email", "full_name", "username"?, "password_hash", "email_verified"?}` with the field rules of registration. ' +
    "`password_hash` is bcrypt (`$2a$`, `$2b$`, `$2y$`) or Gatehouse PBKDF2 (`$pbkdf2-sha256$v=1$i=…`, at most 100,000 iterations); " +
    "each is upgraded to the current parameters at the user's first login. A taken email or username is skipped, a bad line is " +
    `reported in \`errors\`. At most ${IMPORT_MAX_LINES} lines and ${IMPORT_MAX_BYTES} bytes per request: beyond that 413, ` +
    "after the lines before the limit were imported (re-sending them skips them).",
  security: security.accessToken,
  request: {
    body: {
      required: true,
      content: {
        [NDJSON]: { schema: z.string().openapi({ example: '{"email":"ada@example.com","full_name":"Ada","password_hash":"$2b$10$…"}\n' }) },
      },
    },
  },
  responses: {
    200: jsonResponse(ImportReportSchema, "What was imported, skipped and refused."),
    ...problems([...ADMIN_ERRORS, "payload_too_large", "unsupported_media_type"]),
  },
});

adminDataRoutes.openapi(importRoute, async (c) => {
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (mediaType !== NDJSON) {
    throw new AppError("unsupported_media_type", { detail: `Send one JSON object per line with Content-Type: ${NDJSON}.` });
  }
  if (Number(c.req.header("content-length")) > IMPORT_MAX_BYTES) {
    throw new AppError("payload_too_large", { detail: `At most ${IMPORT_MAX_BYTES} bytes per request; nothing was imported.` });
  }
  const report = await importUsers(c.var.deps, c.var.principal.user.id, c.req.raw.body, (value) => importLine.safeParse(value));
  return c.json(report, 200);
});

const auditLogsQuery = z
  .object({
    user_id: z.guid("Use a user id.").optional(),
    action: z
      .string()
      .regex(/^[a-z][a-z0-9_.]{0,63}$/, "Use an action name, e.g. login.failed.")
      .optional(),
    ip: z.union([z.ipv4(), z.ipv6()], "Use an IPv4 or IPv6 address.").optional(),
    since: z.iso.datetime({ offset: true, message: "Use an ISO-8601 time, e.g. 2026-11-22T10:00:00Z." }).optional(),
    until: z.iso.datetime({ offset: true, message: "Use an ISO-8601 time, e.g. 2026-11-22T10:00:00Z." }).optional(),
    cursor: z.string().min(1).max(200).optional(),
    limit: z.coerce.number().int("Use a whole number.").min(1).max(AUDIT_LOGS_MAX_LIMIT).optional(),
  })
  .refine((q) => q.since === undefined || q.until === undefined || Date.parse(q.since) <= Date.parse(q.until), {
    message: "until must not be before since.",
    path: ["until"],
  });

const AuditEventSchema = z
  .strictObject({
    id: z.string(),
    action: z.string(),
    user_id: z.string().nullable().openapi({ description: "The account the event is about." }),
    actor_user_id: z.string().nullable().openapi({ description: "The administrator who acted, when not the owner." }),
    ip_address: z.string().nullable(),
    user_agent: z.string().nullable(),
    created_at: z.string().openapi({ format: "date-time" }),
    metadata: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("AuditEvent");

const AuditEventPageSchema = z
  .strictObject({ events: z.array(AuditEventSchema), next_cursor: z.string().nullable() })
  .openapi("AuditEventPage");

const auditLogsRoute = createRoute({
  method: "get",
  path: "/audit-logs",
  tags,
  summary: "The security log, filtered; or its NDJSON export",
  description:
    "Every audit row, newest first, keyset-paged (`next_cursor`). Filters combine: `user_id` (the account), `action` (exact), " +
    "`ip` (exact), `since` (inclusive) and `until` (exclusive). With `Accept: application/x-ndjson` the answer is an export " +
    "instead: every matching row (from `cursor` on; `limit` does not apply), one event per line, streamed; each export is audited " +
    "(`admin.audit_exported`). A failure midway aborts the transfer rather than ending it cleanly.",
  security: security.accessToken,
  request: {
    query: auditLogsQuery,
    headers: z.object({
      accept: z
        .string()
        .optional()
        .openapi({ description: `\`${NDJSON}\` for the export.` }),
    }),
  },
  responses: {
    200: {
      description: "One page of events (JSON), or the export (NDJSON: one AuditEvent per line).",
      content: { "application/json": { schema: AuditEventPageSchema }, [NDJSON]: { schema: AuditEventSchema } },
    },
    ...problems([...ADMIN_ERRORS, "validation_failed"]),
  },
});

adminDataRoutes.openapi(auditLogsRoute, async (c) => {
  const query = c.req.valid("query");
  if (!(c.req.header("accept") ?? "").toLowerCase().includes(NDJSON)) return c.json(await listAuditEvents(c.var.deps, query), 200);
  const stream = await exportAuditEvents(c.var.deps, c.var.principal.user.id, query);
  const exported = c.body(stream, 200, {
    "Content-Type": `${NDJSON}; charset=utf-8`,
    "Content-Disposition": 'attachment; filename="gatehouse-audit-logs.ndjson"',
  });
  // The typed responses take any "…json" media type for one JSON document; NDJSON is a stream of them.
  return exported as never;
});

const deliveryQuery = z.object({
  status: z.enum(["delivered", "undelivered"]).optional(),
  type: z.enum(EVENT_TYPES).optional(),
  cursor: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int("Use a whole number.").min(1).max(100).optional(),
});

const DeliverySchema = z
  .strictObject({
    id: z.string().openapi({ description: "The stable `webhook-id`." }),
    type: z.string(),
    endpoint_url: z.string(),
    created_at: z.string(),
    queued_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    attempts: z.number().int(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
  })
  .openapi("WebhookDelivery");

const deliveriesRoute = createRoute({
  method: "get",
  path: "/webhook-events",
  tags,
  summary: "The webhook delivery log",
  description:
    "One row per event and endpoint, newest first: attempts, last status and error, next retry. `status` delivered or undelivered.",
  security: security.accessToken,
  request: { query: deliveryQuery },
  responses: {
    200: jsonResponse(z.strictObject({ events: z.array(DeliverySchema), next_cursor: z.string().nullable() }), "One page of deliveries."),
    ...problems([...ADMIN_ERRORS, "validation_failed"]),
  },
});

adminDataRoutes.openapi(deliveriesRoute, async (c) => c.json(await listDeliveries(c.var.deps, c.req.valid("query")), 200));

const redeliverRoute = createRoute({
  method: "post",
  path: "/webhook-events/{id}/redeliver",
  tags,
  summary: "Deliver an event again",
  description: "Posts it once more with the same `webhook-id`; audited.",
  security: security.accessToken,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: {
    202: jsonResponse(z.strictObject({ message: z.string() }), "Queued."),
    ...problems([...ADMIN_ERRORS, "validation_failed", "not_found"]),
  },
});

adminDataRoutes.openapi(redeliverRoute, async (c) => {
  await redeliver(c.var.deps, c.var.principal.user.id, c.req.valid("param").id);
  return c.json({ message: "The event will be delivered again." }, 202);
});
