export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
}

export interface Receiver {
  url: string;
  next(): Promise<ReceivedWebhook>;
  close(): Promise<void>;
}

export function startReceiver(): Promise<Receiver>;
