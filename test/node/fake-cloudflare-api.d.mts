// Types for fake-cloudflare-api.mjs, for the TypeScript tests.

export function startFakeCloudflareApi(): Promise<{
  base: string;
  seen: { method?: string; url?: string; auth?: string; body: string }[];
  refuse(on: boolean): void;
  close(): Promise<unknown>;
}>;
