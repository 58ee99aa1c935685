import { z } from "zod";
import { ConfigError, defineSection, type Values, type Variables } from "./define";

/**
 * Where events go: WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_SECRET_PREVIOUS, WEBHOOK_EVENTS and
 * WEBHOOK_ENDPOINTS.
 */

/**
 * The event types Gatehouse sends (the HTTP contract, "Events"); the names are contract. They live here
 * because they are what an operator subscribes an endpoint to.
 */
export const EVENT_TYPES = [
  "user.created",
  "user.verified",
  "user.updated",
  "user.email_changed",
  "user.deactivated",
  "user.reactivated",
  "user.deleted",
  "session.revoked",
  "security.alert",
  "user.mfa_enabled",
  "user.mfa_disabled",
  "user.passkey_added",
  "user.passkey_removed",
  "user.identity_linked",
  "user.identity_unlinked",
  "user.grant_revoked",
] as const;

/** One of {@link EVENT_TYPES}. */
export type EventType = (typeof EVENT_TYPES)[number];

/** Whether a configured name is an event type Gatehouse sends. */
function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** An http(s) URL with no credentials in it (they would be stored with every event row). */
const webhookUrl = z
  .url()
  .refine((v) => /^https?:/.test(v) && new URL(v).username === "" && new URL(v).password === "", "an http(s) URL without credentials");

/** `whsec_<base64>` of at least 24 bytes, decoded to the HMAC key. */
const webhookSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/)
  .transform((v, ctx) => {
    let key: Uint8Array;
    try {
      key = Uint8Array.from(atob(v.slice("whsec_".length)), (c) => c.charCodeAt(0));
    } catch {
      ctx.addIssue({ code: "custom", message: "not base64" });
      return z.NEVER;
    }
    if (key.length < 24 || key.length > 64) ctx.addIssue({ code: "custom", message: "24 to 64 bytes" });
    return key;
  });

const eventList = z.array(z.string().refine(isEventType, "unknown event type")).min(1);

const webhookEndpoints = z
  .array(
    z.object({ url: webhookUrl, secret: webhookSecret, previous_secret: webhookSecret.optional(), events: eventList.optional() }).strict(),
  )
  .max(10);

const variables = {
  WEBHOOK_URL: {
    kind: "var",
    schema: webhookUrl.optional(),
    shown: "unset: no events",
    doc: 'where events are POSTed (see "Events"); http(s), no credentials in it; needs `WEBHOOK_SECRET`',
  },
  WEBHOOK_SECRET: {
    kind: "secret",
    schema: webhookSecret.optional(),
    doc: "`whsec_<base64 of 24–64 bytes>`, e.g. `echo whsec_$(openssl rand -base64 32)`; the signing key",
  },
  WEBHOOK_SECRET_PREVIOUS: {
    kind: "secret",
    schema: webhookSecret.optional(),
    doc: "the secret being rotated out: while set, every delivery carries a signature with each",
  },
  WEBHOOK_EVENTS: {
    kind: "var",
    schema: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return undefined;
        const types = v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        if (types.length === 0 || types.some((t) => !isEventType(t))) ctx.addIssue({ code: "custom", message: "unknown event type" });
        return types as EventType[];
      }),
    shown: "all types",
    doc: "comma-separated event types `WEBHOOK_URL` gets, e.g. `user.created,user.deleted`",
  },
  WEBHOOK_ENDPOINTS: {
    kind: "secret",
    schema: z.string().optional(),
    doc: 'more endpoints as JSON: `[{"url":"https://…","secret":"whsec_…","previous_secret":"whsec_…","events":["user.deleted"]}]` (at most 10; a URL once)',
  },
} satisfies Variables;

/** The webhooks section: `webhookEndpoints`, from the default endpoint and WEBHOOK_ENDPOINTS. */
export const webhooks = defineSection({
  variables,
  read: (v) => ({
    /** Where events go; empty: no event is written or queued. */
    webhookEndpoints: parseWebhookEndpoints(v),
  }),
});

/** One receiver of events. */
interface WebhookEndpoint {
  url: string;
  /** HMAC keys (decoded `whsec_` secrets): the current one first, then the one being rotated out. */
  keys: Uint8Array[];
  /** The event types it gets; null: all. */
  events: EventType[] | null;
}

/** WEBHOOK_URL/WEBHOOK_SECRET (both or neither) and the endpoints of WEBHOOK_ENDPOINTS; a URL at most once. */
function parseWebhookEndpoints(v: Values<typeof variables>): WebhookEndpoint[] {
  const endpoints: WebhookEndpoint[] = [];
  if ((v.WEBHOOK_URL === undefined) !== (v.WEBHOOK_SECRET === undefined)) {
    throw new ConfigError("invalid configuration: WEBHOOK_URL and WEBHOOK_SECRET go together");
  }
  if (v.WEBHOOK_URL === undefined && (v.WEBHOOK_SECRET_PREVIOUS !== undefined || v.WEBHOOK_EVENTS !== undefined)) {
    throw new ConfigError("invalid configuration: WEBHOOK_SECRET_PREVIOUS and WEBHOOK_EVENTS need WEBHOOK_URL");
  }
  if (v.WEBHOOK_URL !== undefined && v.WEBHOOK_SECRET !== undefined) {
    const keys = v.WEBHOOK_SECRET_PREVIOUS ? [v.WEBHOOK_SECRET, v.WEBHOOK_SECRET_PREVIOUS] : [v.WEBHOOK_SECRET];
    endpoints.push({ url: v.WEBHOOK_URL, keys, events: v.WEBHOOK_EVENTS ?? null });
  }
  if (v.WEBHOOK_ENDPOINTS !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(v.WEBHOOK_ENDPOINTS);
    } catch {
      throw new ConfigError("invalid configuration: WEBHOOK_ENDPOINTS is not JSON");
    }
    const parsed = webhookEndpoints.safeParse(raw);
    if (!parsed.success) throw new ConfigError("invalid configuration: WEBHOOK_ENDPOINTS");
    for (const e of parsed.data) {
      endpoints.push({ url: e.url, keys: e.previous_secret ? [e.secret, e.previous_secret] : [e.secret], events: e.events ?? null });
    }
  }
  if (new Set(endpoints.map((e) => e.url)).size !== endpoints.length) {
    throw new ConfigError("invalid configuration: a webhook URL is listed twice");
  }
  return endpoints;
}
