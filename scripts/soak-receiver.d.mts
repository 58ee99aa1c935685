// Types for soak-receiver.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export const newWebhookSecret: () => string;
export function signedBy(secret: string, delivery: { id: string; timestamp: string; body: string; signatures: string }): boolean;
export function startReceiver(options: { secret: string; failRate: number }): Promise<{
  url: string;
  received: Map<string, number>;
  counts: { posts: number; failedOnPurpose: number; badSignatures: number };
  close: () => Promise<void>;
}>;
