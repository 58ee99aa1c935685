// Types for webhook-receiver.mjs.

export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
}

export interface Receiver {
  /** Where the worker POSTs (WEBHOOK_URL). */
  url: string;
  /** `GET ${waitUrl}?contains=<text>[&contains=…]&timeout_ms=<n>`: the first delivery containing every text (200), or 504. */
  waitUrl: string;
  /** The same, in this process: null once `timeoutMs` (default 30 s) has passed without one. */
  waitFor(texts: string[], timeoutMs?: number): Promise<ReceivedWebhook | null>;
  close(): Promise<void>;
}

export function startReceiver(): Promise<Receiver>;
