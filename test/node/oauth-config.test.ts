import { describe, expect, it } from "vitest";
import { ConfigError, readConfig, type Bindings } from "../../src/config";

/**
 * OAUTH_PROVIDERS and OAUTH_CLIENT_SECRETS (src/config/oauth.ts) as readConfig parses them: what a
 * good entry becomes, and each refusal's message, which must name the entry but never a secret.
 */

const APPLE_KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

function read(providers: unknown, secrets?: Record<string, string>, dev = false) {
  const env = {
    OAUTH_PROVIDERS: JSON.stringify(providers),
    ...(secrets ? { OAUTH_CLIENT_SECRETS: JSON.stringify(secrets) } : {}),
    ...(dev ? { DEV_OUTBOX: "true" } : {}),
  };
  return readConfig(env as unknown as Bindings).oauthProviders;
}

/** The ConfigError's message, so each refusal is checked for what it says. */
function refusal(providers: unknown, secrets?: Record<string, string>, dev = false): string {
  try {
    read(providers, secrets, dev);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("OAUTH_PROVIDERS", () => {
  it("is empty when unset", () => {
    expect(readConfig({} as unknown as Bindings).oauthProviders).toEqual([]);
  });

  it("reads the presets, joins their secrets and keeps the order", () => {
    const providers = read(
      [
        { id: "google", client_id: "g.apps", link_by_verified_email: true },
        { id: "github", client_id: "Iv1.gh" },
        { id: "apple", client_id: "com.example.web", team_id: "ABCDE12345", key_id: "KEY1234567" },
        { id: "microsoft", client_id: "ms-app", tenant: "Contoso.onmicrosoft.com", trust_provider_mfa: true },
        { id: "work", type: "microsoft", client_id: "ms-2" },
      ],
      { google: "gs", github: "ghs", apple: APPLE_KEY, microsoft: "mss", work: "ms2" },
    );
    expect(providers.map((p) => p.id)).toEqual(["google", "github", "apple", "microsoft", "work"]);
    expect(providers[0]).toEqual({
      id: "google",
      type: "google",
      clientId: "g.apps",
      clientSecret: "gs",
      issuer: "https://accounts.google.com",
      linkByVerifiedEmail: true,
      trustProviderMfa: false,
      // The published endpoints: nobody's sign-in waits for a discovery request.
      endpoints: {
        authorization: "https://accounts.google.com/o/oauth2/v2/auth",
        token: "https://oauth2.googleapis.com/token",
        userinfo: "https://openidconnect.googleapis.com/v1/userinfo",
        jwks: "https://www.googleapis.com/oauth2/v3/certs",
      },
    });
    expect(providers[1]).toMatchObject({
      issuer: "https://github.com",
      endpoints: { token: "https://github.com/login/oauth/access_token", userinfo: "https://api.github.com/user" },
    });
    expect(providers[2]).toMatchObject({ apple: { teamId: "ABCDE12345", keyId: "KEY1234567", privateKey: APPLE_KEY.trim() } });
    expect(providers[2]!.clientSecret).toBeUndefined();
    expect(providers[3]).toMatchObject({
      issuer: "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
      microsoft: { tenant: "contoso.onmicrosoft.com" },
      endpoints: { token: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" },
      trustProviderMfa: true,
      linkByVerifiedEmail: false,
    });
    // A multi-tenant app: the issuer is a template the token's `tid` fills in.
    expect(providers[4]).toMatchObject({ type: "microsoft", issuer: "https://login.microsoftonline.com/{tenantid}/v2.0" });
  });

  it("reads a generic OpenID provider, public or confidential", () => {
    const [pub, conf] = read([
      { id: "corp", type: "oidc", issuer: "https://id.example.com/", client_id: "c", name: "Example ID" },
      { id: "other", type: "oidc", issuer: "https://other.example.com", client_id: "o", client_secret: "inline" },
    ]);
    expect(pub).toMatchObject({ type: "oidc", issuer: "https://id.example.com", name: "Example ID", endpoints: {} });
    expect(pub!.clientSecret).toBeUndefined();
    expect(conf).toMatchObject({ clientSecret: "inline" });
  });

  it("takes endpoint overrides and http: issuers in dev mode only", () => {
    const fake = "http://127.0.0.1:9999";
    const entries = [
      { id: "google", client_id: "g", issuer: fake, authorization_endpoint: `${fake}/authorize`, jwks_uri: `${fake}/jwks` },
      { id: "local", type: "oidc", issuer: fake, client_id: "l" },
    ];
    const [google, local] = read(entries, { google: "s" }, true);
    expect(google).toMatchObject({ issuer: fake, endpoints: { authorization: `${fake}/authorize`, jwks: `${fake}/jwks` } });
    expect(local).toMatchObject({ issuer: fake });
    expect(refusal(entries, { google: "s" })).toBe(
      'invalid configuration: OAUTH_PROVIDERS[0] ("google") overrides authorization_endpoint, jwks_uri, issuer: endpoint overrides are for loopback fakes in dev mode (DEV_OUTBOX) only',
    );
    expect(refusal([entries[1]])).toBe(
      'invalid configuration: OAUTH_PROVIDERS[0] ("local") has an http: issuer: only https: outside dev mode (DEV_OUTBOX)',
    );
  });

  it("refuses bad entries, naming the entry and the field", () => {
    expect(refusal([{ id: "Google", client_id: "g" }])).toMatch(/^invalid configuration: OAUTH_PROVIDERS\[0\] \("Google"\) /);
    expect(refusal([{ id: "x", type: "oidc", client_id: "c" }])).toMatch(/OAUTH_PROVIDERS\[0\] \("x"\) issuer: /);
    expect(refusal([{ id: "google", client_id: "g", link_by_verifed_email: true }], { google: "s" })).toMatch(
      /OAUTH_PROVIDERS\[0\] \("google"\) .*link_by_verifed_email/,
    );
    expect(refusal([{ id: "facebook", client_id: "f" }])).toMatch(/OAUTH_PROVIDERS\[0\] \("facebook"\) type: /);
    expect(refusal({ id: "google" })).toBe("invalid configuration: OAUTH_PROVIDERS must be a JSON array of provider entries");
    expect(() => readConfig({ OAUTH_PROVIDERS: "[{" } as unknown as Bindings)).toThrow(
      "invalid configuration: OAUTH_PROVIDERS must be JSON",
    );
  });

  it("refuses repeated ids, missing secrets, secrets set twice and secrets for no provider", () => {
    const google = { id: "google", client_id: "g" };
    expect(refusal([google, google], { google: "s" })).toBe(
      'invalid configuration: OAUTH_PROVIDERS[1] ("google") repeats an id: ids must be unique',
    );
    expect(refusal([google])).toBe(
      'invalid configuration: OAUTH_PROVIDERS[0] ("google") needs a client secret in OAUTH_CLIENT_SECRETS under "google"',
    );
    expect(refusal([{ ...google, client_secret: "a" }], { google: "b" })).toMatch(/set it in one place/);
    expect(refusal([google], { google: "s", gitlab: "t" })).toBe("invalid configuration: OAUTH_CLIENT_SECRETS names no provider: gitlab");
  });

  it("never puts a secret in a message", () => {
    const message = refusal([{ id: "google", client_id: "g" }], undefined, false);
    expect(message).not.toContain("hunter2");
    let text = "";
    try {
      readConfig({ OAUTH_PROVIDERS: "[]", OAUTH_CLIENT_SECRETS: '{"google": hunter2}' } as unknown as Bindings);
    } catch (error) {
      text = (error as Error).message;
    }
    expect(text).toBe("invalid configuration: OAUTH_CLIENT_SECRETS must be JSON");
  });

  it("refuses Apple without its key or with a client secret, and Microsoft with email linking", () => {
    const apple = { id: "apple", client_id: "com.example", team_id: "ABCDE12345", key_id: "KEY1234567" };
    expect(refusal([apple])).toMatch(/\("apple"\) needs its private key/);
    expect(refusal([apple], { apple: "not a pem" })).toMatch(/PKCS#8 PEM/);
    expect(refusal([{ ...apple, client_secret: "x" }], { apple: APPLE_KEY })).toMatch(/Apple's is a JWT/);
    expect(refusal([{ ...apple, team_id: "short" }], { apple: APPLE_KEY })).toMatch(/team_id: must be Apple's 10-character team id/);
    expect(refusal([{ id: "microsoft", client_id: "m", link_by_verified_email: true }], { microsoft: "s" })).toMatch(
      /Microsoft's email is never treated as verified/,
    );
  });
});
