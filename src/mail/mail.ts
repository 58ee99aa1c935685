import { spendBudgets } from "../abuse/budgets";
import { log } from "../log";
import type { Deps } from "../deps";

/**
 * One mail interface, three transports chosen by configuration:
 * - `outbox`: the dev outbox in KV, read at `GET /api/v1/dev/outbox` (only with DEV_OUTBOX=true);
 * - `http`: a Resend-compatible JSON API (`MAIL_API_URL`, `MAIL_API_KEY`);
 * - `none`: nothing is sent; a warning without the mail's content is logged.
 * Delivery happens after the response (`waitUntil`) so it never changes what a client sees, and a
 * failed HTTP delivery is retried once. Every mail first spends its mailbox's budget (see
 * {@link mailboxAdmits}); one over budget is dropped.
 */
export type MailKind = "email_verification" | "password_reset" | "email_change" | "security_notice";

export interface MailMessage {
  to: string;
  kind: MailKind;
  subject: string;
  text: string;
  html: string;
  /** The one-time token the mail carries, kept only in the dev outbox for tests and local use. */
  token?: string;
  /**
   * `registration_attempt`: a mail anyone can cause by registering with this address (the address
   * is taken, or the username was), which also spends the mailbox's daily budget of those.
   */
  budget?: "registration_attempt";
}

export interface OutboxEntry {
  to: string;
  kind: MailKind;
  subject: string;
  text: string;
  token: string | null;
  created_at: string;
}

/** Dev outbox entries live for a day; keys sort newest first. */
const OUTBOX_TTL_SECONDS = 86_400;
const OUTBOX_PREFIX = "outbox:";
const MAX_TIME = 9_999_999_999_999;

function outboxPrefix(to: string): string {
  return `${OUTBOX_PREFIX}${to.toLowerCase()}:`;
}

/** Queues a mail for delivery after the response. */
export function sendMail(deps: Deps, message: MailMessage): void {
  deps.waitUntil(deliver(deps, message));
}

/** Delivers now, within the mailbox's budget; used by `sendMail` and by tests of the transports. */
export async function deliver(deps: Deps, message: MailMessage): Promise<void> {
  const { mail } = deps.config;
  try {
    if (mail.transport !== "none" && !(await mailboxAdmits(deps, message))) return;
    if (mail.transport === "outbox") return await writeOutbox(deps, message);
    if (mail.transport === "http") return await postWithRetry(deps, message);
    log("warn", "mail.not_sent", { kind: message.kind, reason: "MAIL_TRANSPORT is none" });
  } catch (error) {
    log("error", "mail.failed", { kind: message.kind, transport: mail.transport, reason: String(error).slice(0, 200) });
  }
}

/**
 * Each mailbox gets at most `mailbox_hour` mails from Gatehouse, whatever caused them, and at most
 * `registration_attempt_mailbox_day` of the mails registration sends to an address someone else
 * may have typed; counted exactly in one RateLimiter object per address (`mailbox:<address>`). A
 * registration-attempt mail spends its daily budget first, so one refused there costs the hourly
 * budget nothing. A mail over budget is dropped with a warning that names neither the address nor
 * the content (a short hash of the address lets an operator match repeated drops). The object
 * unreachable: the mail is not sent (the caller's catch logs it), as every limit fails closed.
 */
async function mailboxAdmits(deps: Deps, message: MailMessage): Promise<boolean> {
  const address = message.to.trim().toLowerCase();
  const budgets = message.budget === "registration_attempt" ? (["registration_attempt_mail", "mail"] as const) : (["mail"] as const);
  const result = await spendBudgets(deps, `mailbox:${address}`, [...budgets]);
  if (result.ok) return true;
  log("warn", "mail.dropped", {
    request_id: deps.meta.requestId,
    kind: message.kind,
    reason: "mailbox_budget",
    policy: result.blockedBy,
    mailbox: await mailboxTag(address),
  });
  return false;
}

/** First 12 hex digits of the address's SHA-256: enough to see drops repeat, not to print the address. */
async function mailboxTag(address: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(address)));
  return [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function writeOutbox(deps: Deps, message: MailMessage): Promise<void> {
  const now = deps.now();
  const entry: OutboxEntry = {
    to: message.to,
    kind: message.kind,
    subject: message.subject,
    text: message.text,
    token: message.token ?? null,
    created_at: now.toISOString(),
  };
  const order = String(MAX_TIME - now.getTime()).padStart(13, "0");
  const key = `${outboxPrefix(message.to)}${order}:${crypto.randomUUID()}`;
  await deps.kv.put(key, JSON.stringify(entry), { expirationTtl: OUTBOX_TTL_SECONDS });
}

/** Newest first. */
export async function readOutbox(deps: Deps, to: string, limit = 50): Promise<OutboxEntry[]> {
  const listed = await deps.kv.list({ prefix: outboxPrefix(to), limit });
  if (listed.keys.length === 0) return [];
  const values = await deps.kv.get(
    listed.keys.map((k) => k.name),
    "json",
  );
  return listed.keys.map((k) => values.get(k.name) as OutboxEntry | null).filter((v): v is OutboxEntry => v !== null);
}

async function postWithRetry(deps: Deps, message: MailMessage): Promise<void> {
  const { mail } = deps.config;
  if (!mail.apiKey) throw new Error("MAIL_API_KEY is not set");
  const body = JSON.stringify({ from: mail.from, to: [message.to], subject: message.subject, text: message.text, html: message.html });
  for (let attempt = 1; ; attempt++) {
    let status: number;
    try {
      const response = await deps.fetch(mail.apiUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${mail.apiKey}`, "content-type": "application/json" },
        body,
      });
      status = response.status;
      if (response.ok) return;
    } catch {
      status = 0;
    }
    // Client errors (bad address, bad key) will not get better by retrying.
    if (attempt >= 2 || (status >= 400 && status < 500 && status !== 429)) {
      throw new Error(`mail API answered ${status || "network error"} after ${attempt} attempt(s)`);
    }
  }
}
