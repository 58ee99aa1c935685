/**
 * `gatehouse/react`: the browser client (./gatehouse.ts) as React state. `<GatehouseProvider>` holds
 * one client for the page and `useGatehouse()` gives its components the session (`status`, `user`,
 * `error`) and the client's actions. Tokens stay where the client keeps them: the access token in the
 * client's memory, the refresh token in Gatehouse's HttpOnly cookie. React state holds only the
 * user, so nothing here can leak a token into React DevTools, a render or storage.
 *
 * React is a peer of this module; the worker never imports it (its bundle has no React).
 */
import { createContext, type ReactNode, useContext, useEffect, useMemo, useRef, useState } from "react";
import {
  createGatehouse,
  type EmailCodeBody,
  type Gatehouse,
  GatehouseError,
  type LoginBody,
  type Message,
  type MfaBody,
  type MfaRequired,
  type RegisterBody,
  type Session,
  type User,
} from "./gatehouse";

/** `loading` until the provider knows whether a session is behind Gatehouse's cookie. */
export type GatehouseStatus = "loading" | "signed-in" | "signed-out";

/** The session as components see it. */
export interface GatehouseState {
  status: GatehouseStatus;
  /** The signed-in user (from the sign-in's answer, or `GET /api/v1/users/me`); null unless signed in. */
  user: User | null;
  /**
   * Why the last attempt to learn or change the session failed: a GatehouseError (`code`, `problem`)
   * or the network's error. Null again after the next success.
   */
  error: Error | null;
}

/** What `useGatehouse()` returns: the state and the client's actions, which keep the state in step. */
export interface GatehouseHook extends GatehouseState {
  /** The provider's client (null only before the provider's first effect): for what the actions below leave out. */
  client: Gatehouse | null;
  /** The client's `signIn`: signed in, or the second step to finish with `completeMfa`. Rejects as the client does. */
  signIn(body: LoginBody): Promise<Session | MfaRequired>;
  completeMfa(body: MfaBody): Promise<Session>;
  /** Signed in at once, or `{message}` (the address must be verified first: still signed out). */
  register(body: RegisterBody): Promise<Session | Message>;
  requestEmailCode(email: string, options?: { turnstileToken?: string }): Promise<void>;
  verifyEmailCode(body: EmailCodeBody): Promise<Session | MfaRequired>;
  signInWithPasskey(options?: { mediation?: "conditional"; signal?: AbortSignal }): Promise<Session>;
  /** Ends this session (`everywhere`: all of the user's) in every tab. */
  logout(options?: { everywhere?: boolean }): Promise<void>;
  /** Asks Gatehouse again (after a sign-in elsewhere, a profile change): the user, or null when signed out. */
  refresh(): Promise<User | null>;
  /** The client's `fetch`: adds the bearer token; a session found over signs the page out. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /**
   * Gatehouse's hosted sign-in page, coming back to `returnTo` (default: this page) afterwards.
   * Gatehouse follows `return_to` only to its own origin or one in its `CORS_ORIGINS`.
   */
  loginUrl(returnTo?: string): string;
}

export interface GatehouseProviderProps {
  /** Gatehouse's URL, e.g. `https://auth.example.com`: where the user is read and the hosted pages are. */
  url: string;
  /**
   * A client of that same Gatehouse, made with `createGatehouse` (to pass it `fetch` or `now`, or to
   * share it with code outside React). Without one the provider makes its own and closes it when it
   * unmounts; a client passed here is the caller's to close.
   */
  client?: Gatehouse;
  children?: ReactNode;
}

const LOADING: GatehouseState = { status: "loading", user: null, error: null };
const SIGNED_OUT: GatehouseState = { status: "signed-out", user: null, error: null };

const GatehouseContext = createContext<GatehouseHook | null>(null);

/** Holds the session of one Gatehouse for the components below it. */
export function GatehouseProvider({ url, client: given, children }: GatehouseProviderProps): ReactNode {
  const base = originOf(url);
  const own = useOwnClient(given ? null : base);
  const client = given ?? own;
  const [state, setState] = useState<GatehouseState>(LOADING);
  // Bumped by every change of state: a read that started before a newer change must not undo it.
  const latest = useRef(0);
  // The first read of a client, shared by StrictMode's second run of the effect (one refresh, one /users/me).
  const firstRead = useRef<{ client: Gatehouse; base: string; read: Promise<User | null> } | null>(null);

  useEffect(() => {
    if (!client) return;
    let active = true;
    const unsubscribe = client.onSignOut(() => {
      if (!active) return;
      latest.current += 1;
      setState(SIGNED_OUT);
    });
    if (firstRead.current?.client !== client || firstRead.current.base !== base) {
      const read = readUser(client, base).finally(() => {
        if (firstRead.current?.read === read) firstRead.current = null;
      });
      firstRead.current = { client, base, read };
    }
    const ticket = ++latest.current;
    setState(LOADING);
    firstRead.current.read.then(
      (user) => {
        if (active && ticket === latest.current) setState(user ? signedIn(user) : SIGNED_OUT);
      },
      (error: unknown) => {
        if (active && ticket === latest.current) setState({ ...SIGNED_OUT, error: asError(error) });
      },
    );
    return () => {
      active = false;
      unsubscribe();
    };
  }, [client, base]);

  const actions = useMemo(() => {
    const ready = (): Gatehouse => {
      if (!client) throw new Error("Gatehouse is still starting: wait until useGatehouse().status is no longer 'loading'.");
      return client;
    };
    const settle = (next: GatehouseState) => {
      latest.current += 1;
      setState(next);
    };
    /** Runs a client call; a session in its answer signs the page in; a failure is kept in `error` and rethrown. */
    async function perform<T>(call: (client: Gatehouse) => Promise<T>, after: (result: T) => GatehouseState | null): Promise<T> {
      try {
        const result = await call(ready());
        const next = after(result);
        if (next) settle(next);
        else setState((current) => (current.error ? { ...current, error: null } : current));
        return result;
      } catch (error) {
        setState((current) => ({
          ...current,
          status: current.status === "loading" ? "signed-out" : current.status,
          error: asError(error),
        }));
        throw error;
      }
    }
    const sessionOf = (result: Session | Message | MfaRequired) => ("access_token" in result ? signedIn(result.user) : null);
    return {
      signIn: (body: LoginBody) => perform((c) => c.signIn(body), sessionOf),
      completeMfa: (body: MfaBody) => perform((c) => c.completeMfa(body), sessionOf),
      register: (body: RegisterBody) => perform((c) => c.register(body), sessionOf),
      requestEmailCode: (email: string, options?: { turnstileToken?: string }) =>
        perform(
          (c) => c.requestEmailCode(email, options),
          () => null,
        ),
      verifyEmailCode: (body: EmailCodeBody) => perform((c) => c.verifyEmailCode(body), sessionOf),
      signInWithPasskey: (options?: { mediation?: "conditional"; signal?: AbortSignal }) =>
        perform((c) => c.signInWithPasskey(options), sessionOf),
      // The client signs out when Gatehouse agrees (onSignOut above); a page with no session has nothing to end.
      logout: (options?: { everywhere?: boolean }) =>
        perform(
          (c) => c.logout(options),
          () => SIGNED_OUT,
        ),
      refresh: () =>
        perform(
          (c) => readUser(c, base),
          (user) => (user ? signedIn(user) : SIGNED_OUT),
        ),
      fetch: (input: RequestInfo | URL, init?: RequestInit) => ready().fetch(input, init),
      loginUrl: (returnTo?: string) => loginUrl(base, returnTo),
    };
  }, [client, base]);

  const value = useMemo<GatehouseHook>(() => ({ ...state, client, ...actions }), [state, client, actions]);
  return <GatehouseContext.Provider value={value}>{children}</GatehouseContext.Provider>;
}

/** The session and actions of the nearest `<GatehouseProvider>`. */
export function useGatehouse(): GatehouseHook {
  const value = useContext(GatehouseContext);
  if (!value) throw new Error("useGatehouse() needs a <GatehouseProvider> above the component that calls it.");
  return value;
}

/**
 * The provider's own client for `base` (null when the caller passed one). Made in an effect, not
 * during render: StrictMode renders twice and would leave an extra client with an open
 * BroadcastChannel; an effect's cleanup closes what its setup made.
 */
function useOwnClient(base: string | null): Gatehouse | null {
  const [own, setOwn] = useState<{ base: string; client: Gatehouse } | null>(null);
  useEffect(() => {
    if (base === null) return;
    const made = { base, client: createGatehouse({ baseUrl: base }) };
    setOwn(made);
    return () => {
      made.client.close();
      setOwn((current) => (current === made ? null : current));
    };
  }, [base]);
  // After a change of `url`, the old client is not used for a render, even before the effect replaces it.
  return own && own.base === base ? own.client : null;
}

/** The signed-in user, or null when there is no session behind the cookie. */
async function readUser(client: Gatehouse, base: string): Promise<User | null> {
  if ((await client.getAccessToken()) === null) return null;
  const res = await client.fetch(`${base}/api/v1/users/me`);
  // The token was refused even after a refresh: the client has signed out if Gatehouse ended the session.
  if (res.status === 401) return null;
  if (!res.ok) throw await GatehouseError.fromResponse(res);
  return (await res.json()) as User;
}

function loginUrl(base: string, returnTo: string | undefined): string {
  const url = new URL("/login", base);
  const back = returnTo ?? (typeof location === "undefined" ? undefined : location.href);
  if (back !== undefined) url.searchParams.set("return_to", back);
  return url.href;
}

function originOf(url: string): string {
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new TypeError(
      `GatehouseProvider: url must be Gatehouse's http(s) URL, e.g. https://auth.example.com, not ${JSON.stringify(url)}.`,
    );
  }
  return new URL(url).origin;
}

function signedIn(user: User): GatehouseState {
  return { status: "signed-in", user, error: null };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
