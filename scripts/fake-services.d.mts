// Types for fake-services.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export const BREACHED_SAMPLES: string[];
export const DUMMY_TOKEN: string;
/** The clients the fake providers know, by id: the secret, or null for the public (PKCE-only) one. */
export const FAKE_CLIENTS: { "gatehouse-dev": string; "gatehouse-public": null };
/** The Apple stand-in's team and key ids, and the client id its client-secret JWT must name. */
export const FAKE_APPLE: { teamId: string; keyId: string; clientId: string };

export interface FakeServices {
  url: string;
  /** HIBP_API_URL for the worker (the 5-hex prefix is appended). */
  rangeUrl: string;
  /** TURNSTILE_VERIFY_URL for the worker. */
  verifyUrl: string;
  /** Issuers of the fake sign-in providers (`github`: the base of its OAuth 2.0 endpoints and API). */
  issuers: { oidc: string; google: string; apple: string; microsoft: string; github: string };
  /** The key the Apple stand-in checks client secrets against (PKCS#8 PEM, P-256). */
  applePrivateKeyPem: string;
  close(): Promise<void>;
}

export function startFakeServices(options?: { port?: number }): Promise<FakeServices>;
/** OAUTH_PROVIDERS and OAUTH_CLIENT_SECRETS pointing every preset (and `fake`, a generic OpenID provider) at the fakes. */
export function fakeProviderVars(fakes: Pick<FakeServices, "url" | "issuers" | "applePrivateKeyPem">): {
  OAUTH_PROVIDERS: string;
  OAUTH_CLIENT_SECRETS: string;
};
