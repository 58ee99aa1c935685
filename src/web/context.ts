import type { Bindings } from "../config";
import type { User } from "../db/schema";
import type { Deps } from "../kernel/deps";
import type { FreshnessOf } from "../accounts/fresh-auth";

/** A caller authenticated with an access token: full rights, bound to one session. */
interface SessionPrincipal {
  kind: "access_token";
  user: User;
  sessionId: string;
  /** When the access token's sign-in or step-up authenticated (`auth_time`), and how (`amr`). */
  authTime: Date;
  amr: string[];
  /** Whether a sign-in issued this access token (a refresh's never counts as fresh authentication). */
  fresh: boolean;
  /** The access token's id and expiry. */
  token: { jti: string; exp: number };
}

/** A caller authenticated with an API key: limited to its scopes, never manages credentials. */
interface ApiKeyPrincipal {
  kind: "api_key";
  user: User;
  apiKey: { id: string; scopes: string[] };
}

/** How a request authenticated. */
export type Principal = SessionPrincipal | ApiKeyPrincipal;

export interface AppEnv {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    /** The client's own `X-Request-Id`, trimmed and bounded: for the log line only. */
    clientRequestId?: string;
    deps: Deps;
    principal: Principal;
    /** An enrolment token's caller (`Authorization: MFA`), set only on the four enrolment endpoints. */
    enrolment?: FreshnessOf;
  };
}

/** What `sessionOrEnrolment()` adds: an access token's session or an enrolment token's account. */
export interface CallerEnv {
  Variables: { caller: FreshnessOf };
}

/** What `requireSession()` adds: the caller is known to hold an access token. */
export interface SessionEnv {
  Variables: { session: SessionPrincipal };
}

/**
 * D1 Sessions API bookmark: every response of a request that wrote to the database carries one; a
 * client that sends it back on later requests reads its own writes from any replica.
 */
export const BOOKMARK_HEADER = "Gatehouse-Bookmark";
