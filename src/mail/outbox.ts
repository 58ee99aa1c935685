import type { Deps } from "../kernel/deps";
import type { MailKind, MailMessage } from "./message";

/**
 * The dev outbox (DEV_OUTBOX=true): mail goes to KV instead of the network, each message under two
 * keys, `outbox:<address>:<order>:<uuid>` (one address's mail) and `outbox-recent:<order>:<uuid>`
 * (everyone's), where `order` is a 13-digit count that falls as time passes, so a listing of either
 * prefix is newest first. Entries live for a day. Read by `GET /api/v1/dev/outbox` (one address,
 * JSON) and `GET /dev/outbox` (everyone's or one address's, HTML).
 */

/** One stored mail, both parts, with what tests need (the token or code it carries). */
export interface OutboxEntry {
  to: string;
  kind: MailKind;
  locale: string;
  subject: string;
  text: string;
  /** The HTML part. Absent only from entries stored before the outbox kept it. */
  html?: string;
  token: string | null;
  code?: string;
  subtype?: string;
  created_at: string;
}

const OUTBOX_TTL_SECONDS = 86_400;
const OUTBOX_PREFIX = "outbox:";
const RECENT_PREFIX = "outbox-recent:";
const MAX_TIME = 9_999_999_999_999;
/** KV's bulk get takes at most 100 keys. */
const MAX_READ = 100;

function addressPrefix(to: string): string {
  return `${OUTBOX_PREFIX}${to.toLowerCase()}:`;
}

/** Stores a mail; throws when KV refuses (the caller logs it like any transport failure). */
export async function writeOutbox(deps: Deps, message: MailMessage): Promise<void> {
  const now = deps.now();
  const entry: OutboxEntry = {
    to: message.to,
    kind: message.kind,
    locale: message.locale,
    subject: message.subject,
    text: message.text,
    html: message.html,
    token: message.token ?? null,
    ...(message.code ? { code: message.code } : {}),
    ...(message.subtype ? { subtype: message.subtype } : {}),
    created_at: now.toISOString(),
  };
  const order = String(MAX_TIME - now.getTime()).padStart(13, "0");
  const id = `${order}:${crypto.randomUUID()}`;
  const value = JSON.stringify(entry);
  await Promise.all(
    [`${addressPrefix(message.to)}${id}`, `${RECENT_PREFIX}${id}`].map((key) =>
      deps.kv.put(key, value, { expirationTtl: OUTBOX_TTL_SECONDS }),
    ),
  );
}

/** The mail to one address, newest first. */
export function readOutbox(deps: Deps, to: string, limit = 50): Promise<OutboxEntry[]> {
  return readNewest(deps, addressPrefix(to), limit);
}

/** The newest mail to any address. */
export function readRecentOutbox(deps: Deps, limit = 50): Promise<OutboxEntry[]> {
  return readNewest(deps, RECENT_PREFIX, limit);
}

async function readNewest(deps: Deps, prefix: string, limit: number): Promise<OutboxEntry[]> {
  const listed = await deps.kv.list({ prefix, limit: Math.min(limit, MAX_READ) });
  const names = listed.keys.map((k) => k.name);
  if (names.length === 0) return [];
  const values = await deps.kv.get(names, "json");
  return names.map((name) => values.get(name) as OutboxEntry | null).filter((v): v is OutboxEntry => v !== null);
}
