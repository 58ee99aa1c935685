import { env } from "cloudflare:workers";
import type { Bindings } from "../src/config";

/**
 * Bindings that fail the way D1, KV and Durable Objects fail in production, for
 * `call(path, { env: { DB: brokenD1() } })`: each call gets its own bindings object, so a broken
 * binding affects that one request only.
 */

/** Statement methods that would reach the database. */
const STATEMENT_METHODS = new Set(["all", "run", "first", "raw"]);

/** Statements of a broken D1: a batch that contains one fails as a whole, like the real thing. */
const brokenStatements = new WeakSet<object>();

/** A D1 binding whose every query rejects with `error` (e.g. the network to D1 is gone). */
export function brokenD1(error: () => Error = () => new Error("Network connection lost.")): D1Database {
  const statement = (): D1PreparedStatement => {
    const proxy = new Proxy({} as D1PreparedStatement, {
      get(_target, prop) {
        if (prop === "bind") return () => statement();
        if (typeof prop === "string" && STATEMENT_METHODS.has(prop)) return () => Promise.reject(error());
        return undefined;
      },
    });
    brokenStatements.add(proxy);
    return proxy;
  };
  return {
    prepare: () => statement(),
    batch: () => Promise.reject(error()),
    exec: () => Promise.reject(error()),
    dump: () => Promise.reject(error()),
    withSession: () => {
      throw error();
    },
  };
}

/** The test D1, except that statements whose SQL matches `pattern` fail as if D1 were unreachable. */
export function d1FailingOn(pattern: RegExp): D1Database {
  const failing: D1Database = new Proxy(env.DB, {
    get(target, prop) {
      // A Sessions API session of this database fails on the same statements.
      if (prop === "withSession") return () => failing;
      if (prop === "prepare") return (query: string) => (pattern.test(query) ? brokenD1().prepare(query) : target.prepare(query));
      // The real batch cannot run a stand-in statement (miniflare would log a parse error): fail it here.
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) =>
          statements.some((s) => brokenStatements.has(s))
            ? Promise.reject(new Error("Network connection lost."))
            : target.batch(statements);
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return failing;
}

/** A KV binding whose every call rejects, as when KV is unreachable. */
export function brokenKv(): KVNamespace {
  const fail = () => Promise.reject(new Error("Network connection lost."));
  return { get: fail, put: fail, list: fail, delete: fail, getWithMetadata: fail };
}

/** A Durable Object namespace whose objects cannot be reached: every RPC call rejects. */
function unreachableNamespace(): unknown {
  return {
    idFromName: (name: string) => ({ name }),
    get: () => new Proxy({}, { get: () => () => Promise.reject(new Error("Durable Object unreachable")) }),
  };
}

/** A Durable Object namespace that throws synchronously, as a missing binding would. */
function throwingNamespace(): unknown {
  return {
    idFromName: () => {
      throw new Error("binding missing");
    },
  };
}

/** A RateLimiter namespace whose objects cannot be reached: every RPC call rejects. */
export function unreachableLimiter(): Bindings["RATE_LIMITER"] {
  return unreachableNamespace() as Bindings["RATE_LIMITER"];
}

/** A RateLimiter namespace that throws synchronously, as a missing binding would. */
export function throwingLimiter(): Bindings["RATE_LIMITER"] {
  return throwingNamespace() as Bindings["RATE_LIMITER"];
}

/** The password-spraying objects (ATTACK_MONITOR), unreachable: every RPC call rejects. */
export function unreachableMonitor(): Bindings["ATTACK_MONITOR"] {
  return unreachableNamespace() as Bindings["ATTACK_MONITOR"];
}

/** The password-spraying namespace throwing synchronously, as a missing binding would. */
export function throwingMonitor(): Bindings["ATTACK_MONITOR"] {
  return throwingNamespace() as Bindings["ATTACK_MONITOR"];
}
