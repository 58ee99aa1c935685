import { z } from "zod";
import { ConfigError, defineSection } from "./define";
import { mail } from "./mail";

/**
 * Sign in with an external provider (API.md v1.2, issue #31): OAUTH_PROVIDERS and
 * OAUTH_CLIENT_SECRETS. Checked where configuration is read, so a typo, a missing client secret or
 * a dev-only override in a deploy fails at once instead of at someone's first sign-in.
 */

/** The presets; anything else is `oidc` with discovery from its issuer. */
const PRESETS = ["google", "github", "apple", "microsoft"] as const;

/** Where a provider's protocol lives: one preset's fixed endpoints, or discovery. */
type OAuthProviderType = (typeof PRESETS)[number] | "oidc";

/** Endpoints a dev-mode entry may point at a loopback fake (API.md: "overridden in dev mode only"). */
const OVERRIDES = ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "issuer"] as const;

/** One provider, as the sign-in flow reads it. */
export interface OAuthProviderConfig {
  /** The OAUTH_PROVIDERS id: the path segment of `/auth/oauth/{id}/…` and `provider` in identities. */
  id: string;
  type: OAuthProviderType;
  clientId: string;
  /** From OAUTH_CLIENT_SECRETS (or the entry); absent for a public OIDC client and for Apple. */
  clientSecret?: string;
  /**
   * OIDC issuer: discovery for `oidc`, the preset's for Google and Apple, the tenant's for
   * Microsoft (`{tenantid}` for `common`/`organizations`/`consumers`: the token's `tid` decides).
   * GitHub speaks OAuth 2.0 only: its identities are keyed by `https://github.com`.
   */
  issuer: string;
  /** Display name of an `oidc` provider's button (presets have brand-set labels). */
  name?: string;
  /** Link to an existing account with the same address when the provider asserts it verified. */
  linkByVerifiedEmail: boolean;
  /** Count the provider's own MFA (its `amr`/`acr`) as Gatehouse's second factor. */
  trustProviderMfa: boolean;
  /** Dev-mode overrides, and the presets' fixed endpoints; `oidc` without overrides: discovery. */
  endpoints: { authorization?: string; token?: string; userinfo?: string; jwks?: string };
  /** Apple's client secret is a JWT signed with this key (PKCS#8 PEM, P-256). */
  apple?: { teamId: string; keyId: string; privateKey: string };
  /** Microsoft Entra ID tenant: a GUID, a domain, `common`, `organizations` or `consumers`. */
  microsoft?: { tenant: string };
}

const id = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "must match ^[a-z][a-z0-9_-]{0,31}$");
const url = z.url({ protocol: /^https?$/ });
const common = {
  id,
  client_id: z.string().trim().min(1).max(512),
  client_secret: z.string().min(1).optional(),
  link_by_verified_email: z.boolean().default(false),
  trust_provider_mfa: z.boolean().default(false),
  authorization_endpoint: url.optional(),
  token_endpoint: url.optional(),
  userinfo_endpoint: url.optional(),
  jwks_uri: url.optional(),
  issuer: url.optional(),
};

const entry = z.discriminatedUnion("type", [
  z.strictObject({ ...common, type: z.literal("google") }),
  z.strictObject({ ...common, type: z.literal("github") }),
  z.strictObject({
    ...common,
    type: z.literal("apple"),
    team_id: z.string().regex(/^[A-Z0-9]{10}$/, "must be Apple's 10-character team id"),
    key_id: z.string().regex(/^[A-Z0-9]{10}$/, "must be Apple's 10-character key id"),
    private_key: z.string().optional(),
  }),
  z.strictObject({
    ...common,
    type: z.literal("microsoft"),
    tenant: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,99}$/, "must be a tenant GUID, a domain, common, organizations or consumers")
      .default("common"),
  }),
  z.strictObject({
    ...common,
    type: z.literal("oidc"),
    issuer: url,
    name: z
      .string()
      .trim()
      .min(1)
      .max(40)
      // eslint-disable-next-line no-control-regex -- a button label with control characters or markup is a mistake
      .refine((v) => !/[\u0000-\u001f\u007f<>]/.test(v), "must be plain text")
      .optional(),
  }),
]);

/** A preset may be named by its id alone (`{"id":"google",…}`); `type` is then the id. */
const entries = z.array(
  z.preprocess((v) => {
    if (v && typeof v === "object" && !("type" in v) && "id" in v && PRESETS.includes(v.id as never)) return { ...v, type: v.id };
    return v;
  }, entry),
);

type Entry = z.output<typeof entry>;

/** The presets' published endpoints: no discovery request on anyone's sign-in. */
const PRESET_ENDPOINTS = {
  google: {
    issuer: "https://accounts.google.com",
    authorization: "https://accounts.google.com/o/oauth2/v2/auth",
    token: "https://oauth2.googleapis.com/token",
    userinfo: "https://openidconnect.googleapis.com/v1/userinfo",
    jwks: "https://www.googleapis.com/oauth2/v3/certs",
  },
  github: {
    issuer: "https://github.com",
    authorization: "https://github.com/login/oauth/authorize",
    token: "https://github.com/login/oauth/access_token",
    userinfo: "https://api.github.com/user",
  },
  apple: {
    issuer: "https://appleid.apple.com",
    authorization: "https://appleid.apple.com/auth/authorize",
    token: "https://appleid.apple.com/auth/token",
    jwks: "https://appleid.apple.com/auth/keys",
  },
} as const;

/** Microsoft's endpoints live under the tenant (or `common`, `organizations`, `consumers`). */
const microsoftEndpoints = (tenant: string) => ({
  authorization: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/authorize`,
  token: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/token`,
  jwks: `https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys`,
});

type Endpoints = OAuthProviderConfig["endpoints"];

/**
 * A preset's endpoints with a dev-mode entry's overrides. An entry that overrides only the issuer
 * (a loopback fake that serves discovery) gets none: they come from the fake's discovery.
 */
function presetEndpoints(preset: Endpoints & { issuer?: string }, overrides: Endpoints, issuerOverridden: boolean): Endpoints {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  if (issuerOverridden && Object.keys(given).length === 0) return {};
  const { authorization, token, userinfo, jwks } = preset;
  return Object.fromEntries(Object.entries({ authorization, token, userinfo, jwks, ...given }).filter(([, v]) => v !== undefined));
}

/** `issue` names the entry by index and id, never a secret's value. */
function refuse(index: number, entryId: string | undefined, message: string): never {
  const where = entryId ? `OAUTH_PROVIDERS[${index}] ("${entryId}")` : `OAUTH_PROVIDERS[${index}]`;
  throw new ConfigError(`invalid configuration: ${where} ${message}`);
}

function parseJson(name: string, raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    // Not the parser's message: for OAUTH_CLIENT_SECRETS it quotes the secret.
    throw new ConfigError(`invalid configuration: ${name} must be JSON`);
  }
}

/** OAUTH_CLIENT_SECRETS: `{"<id>": "<client secret, or Apple's private key>"}`. */
function readSecrets(raw: string | undefined): Map<string, string> {
  const parsed = z.record(id, z.string().min(1)).safeParse(parseJson("OAUTH_CLIENT_SECRETS", raw) ?? {});
  if (!parsed.success) {
    const keys = parsed.error.issues.map((i) => i.path.join(".") || "(top level)").join(", ");
    throw new ConfigError(`invalid configuration: OAUTH_CLIENT_SECRETS must be a JSON object of strings by provider id (${keys})`);
  }
  return new Map(Object.entries(parsed.data));
}

const PEM = /^-----BEGIN PRIVATE KEY-----\s+[A-Za-z0-9+/=\s]+-----END PRIVATE KEY-----\s*$/;

/** One validated entry, its secret joined and the dev-only parts checked. */
function provider(e: Entry, index: number, secrets: Map<string, string>, devMode: boolean): OAuthProviderConfig {
  const fail: (message: string) => never = (message) => refuse(index, e.id, message);
  const overridden = OVERRIDES.filter((name) => e[name] !== undefined && !(name === "issuer" && e.type === "oidc"));
  if (overridden.length > 0 && !devMode) {
    fail(`overrides ${overridden.join(", ")}: endpoint overrides are for loopback fakes in dev mode (DEV_OUTBOX) only`);
  }
  const insecure = [...OVERRIDES].filter((name) => e[name]?.startsWith("http:"));
  if (insecure.length > 0 && !devMode) fail(`has an http: ${insecure.join(", ")}: only https: outside dev mode (DEV_OUTBOX)`);
  const secret = secrets.get(e.id);
  if (secret !== undefined && e.client_secret !== undefined && e.type !== "apple") {
    fail("has a client_secret and an OAUTH_CLIENT_SECRETS entry: set it in one place (the secret)");
  }
  const base = {
    id: e.id,
    type: e.type,
    clientId: e.client_id,
    linkByVerifiedEmail: e.link_by_verified_email,
    trustProviderMfa: e.trust_provider_mfa,
    endpoints: {
      authorization: e.authorization_endpoint,
      token: e.token_endpoint,
      userinfo: e.userinfo_endpoint,
      jwks: e.jwks_uri,
    },
  };
  const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  switch (e.type) {
    case "apple": {
      const privateKey = secret ?? e.private_key;
      if (e.client_secret !== undefined) fail("has a client_secret: Apple's is a JWT made from team_id, key_id and private_key");
      if (e.private_key !== undefined && secret !== undefined)
        fail("has a private_key and an OAUTH_CLIENT_SECRETS entry: set it in one place");
      if (privateKey === undefined) fail("needs its private key (the .p8 file's PEM) in OAUTH_CLIENT_SECRETS under \"" + e.id + '"');
      if (!PEM.test(privateKey.trim())) fail("private key must be the PKCS#8 PEM of Apple's .p8 file (-----BEGIN PRIVATE KEY-----)");
      return {
        ...base,
        issuer: e.issuer ?? PRESET_ENDPOINTS.apple.issuer,
        endpoints: presetEndpoints(PRESET_ENDPOINTS.apple, base.endpoints, e.issuer !== undefined),
        apple: { teamId: e.team_id, keyId: e.key_id, privateKey: privateKey.trim() },
      };
    }
    case "microsoft": {
      // Entra ID's `email` is whatever a tenant admin typed (the 2023 "nOAuth" cases): never verified.
      if (e.link_by_verified_email) fail("sets link_by_verified_email: Microsoft's email is never treated as verified");
      const clientSecret = secret ?? e.client_secret;
      if (clientSecret === undefined) fail(`needs a client secret in OAUTH_CLIENT_SECRETS under "${e.id}"`);
      const tenant = e.tenant.toLowerCase();
      const multi = ["common", "organizations", "consumers"].includes(tenant);
      return {
        ...base,
        clientSecret,
        issuer: e.issuer ?? `https://login.microsoftonline.com/${multi ? "{tenantid}" : tenant}/v2.0`,
        endpoints: presetEndpoints(microsoftEndpoints(tenant), base.endpoints, e.issuer !== undefined),
        microsoft: { tenant },
      };
    }
    case "oidc": {
      if (e.issuer.startsWith("http:") && !devMode) fail("has an http: issuer: only https: outside dev mode (DEV_OUTBOX)");
      const clientSecret = secret ?? e.client_secret;
      return {
        ...base,
        ...(clientSecret === undefined ? {} : { clientSecret }),
        ...(e.name === undefined ? {} : { name: e.name }),
        issuer: e.issuer.replace(/\/+$/, ""),
        endpoints: defined(base.endpoints),
      };
    }
    default: {
      const clientSecret = secret ?? e.client_secret;
      if (clientSecret === undefined) fail(`needs a client secret in OAUTH_CLIENT_SECRETS under "${e.id}"`);
      const preset = PRESET_ENDPOINTS[e.type];
      return {
        ...base,
        clientSecret,
        issuer: e.issuer ?? preset.issuer,
        // GitHub has no discovery: its fake is given every endpoint.
        endpoints: presetEndpoints(preset, base.endpoints, e.type !== "github" && e.issuer !== undefined),
      };
    }
  }
}

/**
 * Parses OAUTH_PROVIDERS and OAUTH_CLIENT_SECRETS into providers, or throws {@link ConfigError}
 * naming the entry and what is wrong (never a secret's value).
 */
function readOAuthProviders(rawProviders: string | undefined, rawSecrets: string | undefined, devMode: boolean): OAuthProviderConfig[] {
  const secrets = readSecrets(rawSecrets);
  const parsed = entries.safeParse(parseJson("OAUTH_PROVIDERS", rawProviders) ?? []);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const [index, ...path] = issue.path;
    if (typeof index !== "number") throw new ConfigError("invalid configuration: OAUTH_PROVIDERS must be a JSON array of provider entries");
    const raw = (parseJson("OAUTH_PROVIDERS", rawProviders) as { id?: unknown }[])[index]?.id;
    const field = path.length > 0 ? `${path.join(".")}: ` : "";
    refuse(index, typeof raw === "string" ? raw : undefined, `${field}${issue.message}`);
  }
  const seen = new Set<string>();
  parsed.data.forEach((e, index) => {
    if (seen.has(e.id)) refuse(index, e.id, "repeats an id: ids must be unique");
    seen.add(e.id);
  });
  const unknown = [...secrets.keys()].filter((key) => !seen.has(key));
  if (unknown.length > 0) throw new ConfigError(`invalid configuration: OAUTH_CLIENT_SECRETS names no provider: ${unknown.join(", ")}`);
  return parsed.data.map((e, index) => provider(e, index, secrets, devMode));
}

/** The oauth section: `oauthProviders`, in the order of the buttons on the pages. */
export const oauth = defineSection({
  variables: {
    OAUTH_PROVIDERS: {
      kind: "var",
      schema: z.string().optional(),
      shown: "empty",
      doc: 'JSON array of external sign-in providers (API.md "Sign in with an external provider"): presets `{"id":"google","client_id":"…"}` (also `github`; `apple` with `team_id`, `key_id`; `microsoft` with `tenant`, default `common`), or any OpenID provider `{"id":"<id>","type":"oidc","issuer":"https://…","client_id":"…","name":"…"}`; a preset under another id takes `"type"`. Ids match `^[a-z][a-z0-9_-]{0,31}$`. Per entry: `link_by_verified_email` (default `false`; never for `microsoft`), `trust_provider_mfa` (default `false`); `authorization_endpoint`, `token_endpoint`, `userinfo_endpoint`, `jwks_uri`, `issuer` overrides and `http:` issuers in dev mode (`DEV_OUTBOX`) only. A variable holds at most 5 KB',
    },
    OAUTH_CLIENT_SECRETS: {
      kind: "secret",
      schema: z.string().optional(),
      doc: "JSON object by provider id: each provider's client secret (Apple: the PKCS#8 PEM of its `.p8` key); an id not in `OAUTH_PROVIDERS` is a configuration error",
    },
  },
  uses: { DEV_OUTBOX: mail.variables.DEV_OUTBOX },
  read: (v) => ({
    /** External sign-in providers, validated; empty when none is configured. */
    oauthProviders: readOAuthProviders(v.OAUTH_PROVIDERS, v.OAUTH_CLIENT_SECRETS, v.DEV_OUTBOX),
  }),
});
