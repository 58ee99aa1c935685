import type { User } from "../db/schema";
import type { Bindings } from "../config";
import type { Deps, RequestMeta } from "../deps";

/** How a request authenticated: an access token (full rights) or an API key (scoped, no credential management). */
export interface Principal {
  kind: "access_token" | "api_key";
  user: User;
  /** The session of an access token. */
  sessionId: string | null;
  /** The access token's id and expiry, for logout's blacklist entry. */
  token: { jti: string; exp: number } | null;
  /** An API key's id and scopes. */
  apiKey: { id: string; scopes: string[] } | null;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    deps: Deps;
    meta: RequestMeta;
    principal: Principal;
  };
}
