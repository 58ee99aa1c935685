import { z } from "zod";
import { defineSection, flag } from "./define";

/**
 * Outgoing mail: MAIL_TRANSPORT, MAIL_FROM, MAIL_API_URL, MAIL_API_KEY, and DEV_OUTBOX, which is
 * here rather than with the other dev switches because it overrides the transport.
 */
export const mail = defineSection({
  variables: {
    MAIL_TRANSPORT: {
      kind: "var",
      schema: z.enum(["none", "http"]).default("none"),
      doc: "`http` (Resend-compatible API) or `none` (nothing sent, a warning logged)",
    },
    MAIL_FROM: {
      kind: "var",
      schema: z.string().min(3).default("Gatehouse <no-reply@localhost>"),
      doc: "sender address",
    },
    MAIL_API_URL: {
      kind: "var",
      schema: z.url().default("https://api.resend.com/emails"),
      doc: "endpoint of the HTTP mail transport",
    },
    MAIL_API_KEY: {
      kind: "secret",
      schema: z.string().optional(),
      doc: "bearer key of the mail API",
    },
    DEV_OUTBOX: {
      kind: "var",
      schema: flag,
      doc: "local development only: mail goes to KV and `GET /api/v1/dev/outbox` exists; `npm run dev` and the tests set it",
    },
  },
  read: (v) => ({
    mail: {
      // The dev outbox wins when switched on, so `npm run dev` never sends real mail.
      transport: v.DEV_OUTBOX ? ("outbox" as const) : v.MAIL_TRANSPORT,
      from: v.MAIL_FROM,
      apiUrl: v.MAIL_API_URL,
      apiKey: v.MAIL_API_KEY,
    },
    devOutbox: v.DEV_OUTBOX,
  }),
});
