import { mailboxObjectName, spendBudgets } from "../kernel/budgets";
import type { Budget } from "../config/rate-limits";
import type { HitResult } from "../kernel/objects";
import { log } from "../log";
import type { Deps } from "../kernel/deps";
import type { MailKind, MailMessage } from "./message";
import { writeOutbox } from "./outbox";

/**
 * One mail interface, three transports chosen by configuration:
 * - `outbox`: the dev outbox in KV (./outbox.ts), read at `GET /api/v1/dev/outbox` and `GET /dev/outbox`
 *   (only with DEV_OUTBOX=true);
 * - `http`: a Resend-compatible JSON API (`MAIL_API_URL`, `MAIL_API_KEY`), `text` and `html` side by side;
 * - `none`: nothing is sent; a warning without the mail's content is logged.
 * Every mail first spends a budget of its mailbox chosen by who triggered it (see
 * {@link MailTrigger}); one over budget is dropped. Most mail is delivered after the response
 * (`waitUntil`) so it never changes what a client sees; mail that is a safety net is admitted and
 * handed to the transport within the request ({@link sendMailNow}, {@link mailToken}).
 */

// The message types live in ./message.ts, so ./outbox.ts can use them without an import cycle.
export type { MailKind, MailMessage } from "./message";

/**
 * Who caused a mail, which decides the budget it spends. Each class has its own budget per mailbox,
 * so no class can spend another's: strangers and other accounts can never silence the mail an
 * account's owner asks for, nor the notices about the account's own security.
 * - `stranger`: a reset or verification link asked for by a client that is not a known device of
 *   the account (anyone who knows the address);
 * - `device`: the same asked for by a known device of the account (reserved for the owner);
 * - `account`: notices and links about the account's own events (sign-ins, changes, reverts),
 *   mailed to the account's own address;
 * - `unsolicited`: mail anyone can cause to an address that is not (yet) an account's own
 *   (email-change confirmations, registration mail), counted per target address and, when an
 *   account asked, per requesting account (`requesterId`); `registrationAttempt` also spends the
 *   daily budget of "someone tried to register with your address" mails.
 */
export type MailTrigger =
  { class: "stranger" | "device" | "account" } | { class: "unsolicited"; requesterId?: string; registrationAttempt?: boolean };

/** Queues a mail for delivery after the response (written there too: its catalogue may need loading). */
export function sendMail(deps: Deps, message: MailMessage | Promise<MailMessage>, trigger: MailTrigger): void {
  deps.waitUntil(deliver(deps, message, trigger));
}

/** Delivers now, within the mailbox's budget; never throws (a failure is logged). Used by `sendMail` and by tests of the transports. */
export async function deliver(deps: Deps, pending: MailMessage | Promise<MailMessage>, trigger: MailTrigger): Promise<void> {
  let kind: MailKind | "unknown" = "unknown";
  try {
    const message = await pending;
    kind = message.kind;
    if (deps.config.mail.transport === "none") return notSent(message.kind);
    if (await admitMail(deps, message.to, message.kind, trigger)) await transmit(deps, message);
  } catch (error) {
    logFailure(deps, kind, error);
  }
}

/** Why a safety-net mail was not handed to the transport. */
export type Undelivered = "over_budget" | "not_sent";

/**
 * Admits and hands a mail to the transport within the request: the mail is in the outbox, or the
 * mail API answered 2xx, by the time this resolves to null. For mail that must go out before the
 * change it reports is made (the old address's revert link). Never throws.
 */
export async function sendMailNow(deps: Deps, pending: Promise<MailMessage>, trigger: MailTrigger): Promise<Undelivered | null> {
  let message: MailMessage;
  try {
    message = await pending;
  } catch (error) {
    logFailure(deps, "unknown", error);
    return "not_sent";
  }
  return mailToken(deps, message.to, message.kind, trigger, () => Promise.resolve(message));
}

/**
 * Admits a mail that carries a new one-time token before the token exists: `issue` runs only once
 * the budget admitted the mail, so a mail over budget never issues (and so never voids older
 * links with) a token nobody receives. Then hands the mail to the transport within the request
 * (unless `issue` found nothing to send any more).
 * Null when it went out; never throws (a failure is logged).
 */
export async function mailToken(
  deps: Deps,
  to: string,
  kind: MailKind,
  trigger: MailTrigger,
  issue: () => Promise<MailMessage | null>,
): Promise<Undelivered | null> {
  try {
    if (deps.config.mail.transport === "none") {
      notSent(kind);
      return "not_sent";
    }
    if (!(await admitMail(deps, to, kind, trigger))) return "over_budget";
    // Null: what the mail would carry is no longer to be sent (a sign-in code replaced meanwhile).
    const message = await issue();
    if (!message) return "not_sent";
    await transmit(deps, message);
    return null;
  } catch (error) {
    logFailure(deps, kind, error);
    return "not_sent";
  }
}

function notSent(kind: MailKind): void {
  log("warn", "mail.not_sent", { kind, reason: "MAIL_TRANSPORT is none" });
}

function logFailure(deps: Deps, kind: MailKind | "unknown", error: unknown): void {
  log("error", "mail.failed", { kind, transport: deps.config.mail.transport, reason: String(error).slice(0, 200) });
}

/** The budgets a mail spends on its mailbox's object, in order (see {@link MailTrigger}). */
function mailboxBudgets(trigger: MailTrigger): Budget[] {
  if (trigger.class !== "unsolicited") return [`mail_${trigger.class}`];
  return trigger.registrationAttempt ? ["registration_attempt_mail", "mail_unsolicited"] : ["mail_unsolicited"];
}

/**
 * Spends the mail's budgets, counted exactly in RateLimiter objects: its class's budget on the
 * mailbox's object (`mailbox:<address>`) and, for unsolicited mail an account asked for, first that
 * account's own (`user:<id>`), so one account cannot spend an address's budget beyond its own share
 * and many accounts cannot spend more than the address's. A mail over budget is dropped with a
 * warning that names neither the address nor the content (a short hash of the address lets an
 * operator match repeated drops). An object unreachable throws: the mail is not sent (the caller
 * logs it), as every limit fails closed.
 */
async function admitMail(deps: Deps, to: string, kind: MailKind, trigger: MailTrigger): Promise<boolean> {
  const address = to.trim().toLowerCase();
  let result: HitResult =
    trigger.class === "unsolicited" && trigger.requesterId
      ? await spendBudgets(deps, `user:${trigger.requesterId}`, ["mail_unsolicited_requester"])
      : { ok: true, limits: [] };
  if (result.ok) result = await spendBudgets(deps, mailboxObjectName(address), mailboxBudgets(trigger));
  if (result.ok) return true;
  log("warn", "mail.dropped", {
    request_id: deps.meta.requestId,
    kind,
    class: trigger.class,
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

/** Hands a mail to the configured transport; throws when it was not accepted. */
async function transmit(deps: Deps, message: MailMessage): Promise<void> {
  if (deps.config.mail.transport === "outbox") return writeOutbox(deps, message);
  if (deps.config.mail.transport === "http") return postWithRetry(deps, message);
  throw new Error("MAIL_TRANSPORT is none");
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
