// The part of `node:async_hooks` the soak's entry uses (fault-entry.ts). workerd provides it under
// the `nodejs_als` compatibility flag, which only the soak's generated config sets; the project's
// types are the Workers runtime's, without Node's.
declare module "node:async_hooks" {
  export class AsyncLocalStorage<T> {
    run<R>(store: T, callback: () => R): R;
    getStore(): T | undefined;
  }
}
