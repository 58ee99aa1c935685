// Types for provision-plan.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export type Resource =
  | { kind: "d1"; name: string; binding: string; id: string | undefined }
  | { kind: "kv"; name: string; binding: string; id: string | undefined }
  | { kind: "queue"; name: string };

export function planProvision(config: Record<string, unknown>, envName: string | undefined): Resource[];

export function createArgs(resource: Resource, envName: string | undefined): string[];

export function parseCreatedId(kind: "d1" | "kv", output: string): string | undefined;

export function findExistingId(kind: "d1" | "kv", output: string, name: string, envName: string | undefined): string | undefined;

export function writeIds(text: string, ids: { kind: "d1" | "kv"; binding: string; id: string }[], envName: string | undefined): string;

export function replicationHint(databaseId: string): string;

export function replicationMode(stdout: string): string | undefined;

export function enableReplicationRequest(args: {
  apiBase: string;
  accountId: string;
  databaseId: string;
  auth: { type: string; token?: string; key?: string; email?: string };
}): { url: string; init: { method: string; headers: Record<string, string>; body: string } };
