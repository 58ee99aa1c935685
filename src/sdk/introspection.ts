import { VerifyError } from "./errors.ts";

/**
 * The online check: Gatehouse's `POST /oauth/introspect` (RFC 7662). What it covers is decided by
 * the worker (src/oidc/tokens.ts `introspect`): access tokens Gatehouse issued to an OAuth client,
 * and only for that same client, authenticated with its secret (a public client is refused). It
 * answers `{active:false}` for Gatehouse session tokens, so the verifier never sends them here.
 */
export interface IntrospectionOptions {
  /** The confidential client whose tokens this API receives (its `client_id`, `gc_…`). */
  clientId: string;
  /** That client's secret (shown once when the client was registered). Never logged or sent elsewhere. */
  clientSecret: string;
  /** Default: `${issuer}/oauth/introspect`, where Gatehouse serves it. */
  url?: string;
  /** How the client authenticates: `client_secret_basic` (default) or `client_secret_post`; Gatehouse takes both. */
  authMethod?: "client_secret_basic" | "client_secret_post";
  /** Milliseconds before the check gives up (fails closed, 503). Default 5000. */
  timeoutMs?: number;
}

/** The options with their defaults applied. */
export type ResolvedIntrospection = Required<IntrospectionOptions>;

/**
 * Asks Gatehouse whether `token` is still active; resolves when it is, throws `token_revoked`
 * (reason `inactive`) when Gatehouse says it is not, and `service_unavailable` when there is no
 * usable answer: unreachable, a timeout, a refused client (wrong secret) or a body that is not
 * RFC 7662's. The caller has verified the token offline first, so "not active" means revoked.
 */
export async function introspect(
  options: ResolvedIntrospection,
  token: string,
  fetchImpl: (input: string, init: RequestInit) => Promise<Response>,
): Promise<void> {
  const form = new URLSearchParams({ token, token_type_hint: "access_token" });
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
  if (options.authMethod === "client_secret_post") {
    form.set("client_id", options.clientId);
    form.set("client_secret", options.clientSecret);
  } else {
    // Percent-encoded parts (RFC 6749 §2.3.1), as Gatehouse decodes them.
    headers.authorization = `Basic ${btoa(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`)}`;
  }
  let body: unknown;
  try {
    const response = await fetchImpl(options.url, {
      method: "POST",
      headers,
      body: form.toString(),
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    if (response.status !== 200) {
      // 401 invalid_client: this verifier's client id or secret is wrong; nothing in it is the caller's fault.
      throw new Error(`introspection answered ${response.status}`);
    }
    body = await response.json();
  } catch (cause) {
    throw new VerifyError("introspection_unavailable", { cause });
  }
  const active = (body as { active?: unknown } | null)?.active;
  if (active === true) return;
  if (active === false) throw new VerifyError("inactive");
  throw new VerifyError("introspection_unavailable", { cause: new Error("introspection answered no boolean `active`") });
}
