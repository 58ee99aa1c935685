// Types for sdk-fake-gatehouse.mjs.

export interface FakeGatehouse {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The public JWKs `GET /.well-known/jwks.json` serves; replace them to rotate. */
  keys: object[];
  /** Answer the JWKS with this status instead (e.g. 500). */
  jwksStatus: number;
  /** Wait this long before answering the JWKS (for timeouts). */
  jwksDelayMs: number;
  jwksRequests: number;
  /** The `Host` header of every request, in order. */
  hosts: string[];
  /** The one confidential client introspection accepts. */
  client: { id: string; secret: string };
  /** Tokens introspection calls inactive. */
  revoked: Set<string>;
  /** Answer introspection with this status instead (e.g. 503). */
  introspectionStatus: number;
  introspections: { authorization: string | null; form: Record<string, string> }[];
  close(): Promise<void>;
}

export function startFakeGatehouse(options?: { clientId?: string; clientSecret?: string }): Promise<FakeGatehouse>;

export interface SigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  /** A compact JWT of `payload` with header `{alg, kid, typ: "at+jwt"}`, `header` overriding it. */
  sign(payload: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
}

export function newSigningKey(kid: string, alg?: "ES256" | "EdDSA" | "RS256" | "PS256"): Promise<SigningKey>;
/** A Gatehouse session token's claims for `target`, 15 minutes from now; an override of undefined removes a claim. */
export function sessionPayload(target: { iss: string; aud: string }, overrides?: Record<string, unknown>): Record<string, unknown>;
/** An OAuth client's access token claims for `target`, 5 minutes from now. */
export function oauthPayload(
  target: { iss: string; aud: string; client_id: string },
  overrides?: Record<string, unknown>,
): Record<string, unknown>;
