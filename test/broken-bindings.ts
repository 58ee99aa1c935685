import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { app } from "../src/http/app";
import type { Bindings } from "../src/config";
import { buildRequest, type CallOptions } from "./helpers";

/**
 * Calls the Hono app directly with a modified environment (configuration overrides, broken
 * bindings). `readConfig` caches per env object, so every call builds a fresh spread object and
 * therefore a fresh configuration.
 */
export async function callWithEnv(overrides: Partial<Bindings>, path: string, options: CallOptions = {}): Promise<Response> {
  const request = buildRequest(path, options);
  const ctx = createExecutionContext();
  const response = await app.fetch(request, { ...env, ...overrides }, ctx);
  // Mail and other after-response work finish before the test looks at storage.
  await waitOnExecutionContext(ctx);
  return response;
}

/** Statement methods that would reach the database. */
const STATEMENT_METHODS = new Set(["all", "run", "first", "raw"]);

/** A D1 binding whose every query rejects with `error` (e.g. the network to D1 is gone). */
export function brokenD1(error: () => Error = () => new Error("Network connection lost.")): D1Database {
  const statement = (): D1PreparedStatement =>
    new Proxy({} as D1PreparedStatement, {
      get(_target, prop) {
        if (prop === "bind") return () => statement();
        if (typeof prop === "string" && STATEMENT_METHODS.has(prop)) return () => Promise.reject(error());
        return undefined;
      },
    });
  return {
    prepare: () => statement(),
    batch: () => Promise.reject(error()),
    exec: () => Promise.reject(error()),
    dump: () => Promise.reject(error()),
    withSession: () => {
      throw error();
    },
  } as unknown as D1Database;
}

/** The test D1, except that statements whose SQL matches `pattern` fail as if D1 were unreachable. */
export function d1FailingOn(pattern: RegExp): D1Database {
  return new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "prepare") return (query: string) => (pattern.test(query) ? brokenD1().prepare(query) : target.prepare(query));
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A KV binding whose every call rejects, as when KV is unreachable. */
export function brokenKv(): KVNamespace {
  const fail = () => Promise.reject(new Error("Network connection lost."));
  return { get: fail, put: fail, list: fail, delete: fail, getWithMetadata: fail } as unknown as KVNamespace;
}

/** Reads one user row straight from D1 (snake_case columns, as stored). */
export async function userRow(email: string): Promise<Record<string, unknown> | null> {
  return env.DB.prepare("SELECT * FROM users WHERE email = ?").bind(email.toLowerCase()).first();
}
