import { drizzle } from "drizzle-orm/d1";
import { DependencyError } from "../errors";
import type { StorageMeter } from "../storage-meter";
import * as schema from "./schema";

/** The Drizzle handle every query module takes as its first argument. */
export type Db = ReturnType<typeof createDb>;

/**
 * Drizzle over a fail-closed D1 binding or Sessions API session; with a meter, every statement and
 * batch is counted; `onWrite` hears the SQL of every statement other than a SELECT that succeeded.
 */
export function createDb(d1: D1Database | D1DatabaseSession, meter?: StorageMeter, onWrite?: (sql: string) => void) {
  return drizzle(guardD1(d1 as D1Database, meter, onWrite), { schema });
}

const isWrite = (sql: string) => !/^\s*select\b/i.test(sql);

/**
 * SQLite's own complaints (constraint violations, SQL errors) are our bugs or expected conflicts
 * and pass through untouched; anything else from the binding means D1 is unreachable or failing.
 */
const SQLITE_ERROR = /SQLITE_|constraint failed|no such (table|column)|syntax error/i;
/** …except a busy or overloaded database, which is D1 being unavailable for the moment. */
const SQLITE_UNAVAILABLE = /SQLITE_(BUSY|LOCKED|FULL|IOERR)|database is locked|overloaded/i;

function toDependencyError(error: unknown): unknown {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : "";
  const message = error instanceof Error ? `${error.message} ${cause}` : String(error);
  return SQLITE_ERROR.test(message) && !SQLITE_UNAVAILABLE.test(message) ? error : new DependencyError("d1", error);
}

const rethrowAsDependency = (error: unknown): never => {
  throw toDependencyError(error);
};

/**
 * Wraps a D1 binding so that a failure to reach it surfaces as {@link DependencyError}, which the
 * app renders as 503 (fail closed). Statements keep their real identity for `batch()`, which
 * needs the runtime's own objects: the proxies are unwrapped through `real`.
 */
function guardD1(d1: D1Database, meter: StorageMeter | undefined, onWrite: ((sql: string) => void) | undefined): D1Database {
  const track = <T>(call: () => Promise<T>): Promise<T> => (meter ? meter.track("d1", call) : call());
  const real = new WeakMap<object, D1PreparedStatement>();
  const sqlOf = new WeakMap<object, string>();
  const wrote = (sql: string | undefined) => {
    if (onWrite && sql !== undefined && isWrite(sql)) onWrite(sql);
  };
  const wrapStatement = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== "function") return value;
        if (prop === "bind") return (...args: unknown[]) => wrapStatement(target.bind(...args), sql);
        return (...args: unknown[]) => {
          let result: unknown;
          try {
            result = (value as (...a: unknown[]) => unknown).apply(target, args);
          } catch (error) {
            return rethrowAsDependency(error);
          }
          if (!(result instanceof Promise)) return result;
          const pending = result.then((value: unknown) => {
            wrote(sql);
            return value;
          });
          return track(() => pending.catch(rethrowAsDependency));
        };
      },
    });
    real.set(proxy, stmt);
    sqlOf.set(proxy, sql);
    return proxy;
  };
  return new Proxy(d1, {
    get(target, prop) {
      if (prop === "prepare") {
        return (query: string) => {
          try {
            return wrapStatement(target.prepare(query), query);
          } catch (error) {
            return rethrowAsDependency(error);
          }
        };
      }
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) =>
          track(() =>
            Promise.resolve()
              .then(() => target.batch(statements.map((s) => real.get(s) ?? s)))
              .then((results) => {
                for (const s of statements) wrote(sqlOf.get(s));
                return results;
              })
              .catch(rethrowAsDependency),
          );
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * The same fail-closed treatment for KV: every rejected call becomes {@link DependencyError}.
 */
export function guardKv(kv: KVNamespace, meter?: StorageMeter): KVNamespace {
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      const call = (args: unknown[]) =>
        Promise.resolve()
          .then(() => (value as (...a: unknown[]) => unknown).apply(target, args))
          .catch((error: unknown) => {
            throw new DependencyError("kv", error);
          });
      return (...args: unknown[]) => (meter ? meter.track("kv", () => call(args)) : call(args));
    },
  });
}
