import { parse } from "smol-toml";
import { afterEach, describe, expect, it } from "vitest";
import { checkDeploy, formatReport, parseSecretList } from "../../scripts/preflight-checks.mjs";
import { fakeWrangler, projectToml, type FakeWrangler } from "./fake-wrangler.mjs";

/** A deploy cannot go wrong quietly. The checks run on fixture configs; the script on a fake wrangler. */

const D1_ID = "5c3f0a8e-1b2d-4e6f-8a9b-0c1d2e3f4a5b";
const KV_ID = "0123456789abcdef0123456789abcdef";

/** A configuration that passes: the project's file with a site's values in. */
const READY = `
name = "gatehouse"
[vars]
JWT_ISSUER = "https://auth.example.com"
PUBLIC_URL = "https://auth.example.com"
APP_URL = "https://www.example.com"
MAIL_TRANSPORT = "http"
MAIL_FROM = "Example <no-reply@example.com>"
BREACHED_PASSWORD_CHECK = "register"
[[d1_databases]]
binding = "DB"
database_name = "gatehouse"
database_id = "${D1_ID}"
[[kv_namespaces]]
binding = "AUTH_KV"
id = "${KV_ID}"
`;
const REPLICATED = `{"uuid":"${D1_ID}","name":"gatehouse","read_replication":{"mode":"auto"}}`;
const ALL_SECRETS = ["JWT_PRIVATE_JWKS", "MAIL_API_KEY", "PASSWORD_PEPPER", "API_KEY_HMAC_SECRET"];

const whats = (toml: string, options: Parameters<typeof checkDeploy>[1]) => checkDeploy(parse(toml), options).problems.map((p) => p.what);

describe("checkDeploy", () => {
  it("passes a configured deployment, and says where the optional features stand", () => {
    const report = checkDeploy(parse(READY), { secrets: ALL_SECRETS });
    expect(report.problems).toEqual([]);
    expect(report.notes).toEqual(
      expect.arrayContaining([
        "breached-password check: register, against https://api.pwnedpasswords.com/range/",
        "Turnstile: TURNSTILE_SITE_KEY unset, TURNSTILE_SECRET unset",
        expect.stringMatching(/PBKDF2_ITERATIONS 100000: about 18 ms .*Workers Paid/),
        "OpenID provider: on, issuer https://auth.example.com (register clients with POST /api/v1/admin/oauth/clients)",
      ]),
    );
  });

  it("refuses the repository's wrangler.toml as it is, naming each thing to set", () => {
    const report = checkDeploy(parse(projectToml()), { secrets: [] });
    const text = report.problems.map((p) => `${p.what} → ${p.fix}`).join("\n");
    expect(text).toMatch(/JWT_ISSUER = "http:\/\/localhost:8787" is not https → set JWT_ISSUER/);
    expect(text).toMatch(/PUBLIC_URL = "http:\/\/localhost:8787" is not https/);
    expect(text).toMatch(/D1 database DB has the placeholder id → run `npm run provision`/);
    expect(text).toMatch(/KV namespace AUTH_KV has the placeholder id/);
    expect(text).toMatch(/MAIL_TRANSPORT is "none".*→ set MAIL_TRANSPORT = "http"/);
    expect(text).toMatch(/MAIL_FROM = "Gatehouse <no-reply@localhost>" is not a real sender/);
    expect(text).toMatch(/JWT_PRIVATE_JWKS secret is not set → .*SIGNING_KEYS = "generated".*SIGNING_KEY_ENCRYPTION_SECRET/);
    expect(report.problems).toHaveLength(7);
  });

  it.each([
    ["https://localhost", "points at this machine (localhost/loopback)"],
    ["https://auth.localhost", "points at this machine (localhost/loopback)"],
    ["https://127.0.0.1:8443", "points at this machine (localhost/loopback)"],
    ["https://[::1]", "points at this machine (localhost/loopback)"],
    ["http://auth.example.com", "is not https"],
    ["not a url", "is not a URL"],
  ])("refuses JWT_ISSUER, PUBLIC_URL and APP_URL = %s", (url, why) => {
    for (const name of ["JWT_ISSUER", "PUBLIC_URL", "APP_URL"]) {
      const toml = READY.replace(new RegExp(`${name} = "[^"]*"`), `${name} = "${url}"`);
      expect(whats(toml, { secrets: ALL_SECRETS })).toEqual([`${name} = "${url}" ${why}`]);
    }
  });

  it("refuses a passkey relying party that is not PUBLIC_URL's host or a parent domain, and says the choice is for good", () => {
    for (const rpId of ["127.0.0.1", "com", "other.example.org"]) {
      const toml = READY.replace("[vars]", `[vars]\nWEBAUTHN_RP_ID = "${rpId}"`);
      expect(whats(toml, { secrets: ALL_SECRETS })).toEqual([
        expect.stringMatching(new RegExp(`^WEBAUTHN_RP_ID = "${rpId.replace(/\./g, "\\.")}" is not a domain`)),
      ]);
    }
    const parent = READY.replace("[vars]", '[vars]\nWEBAUTHN_RP_ID = "example.com"');
    expect(whats(parent, { secrets: ALL_SECRETS })).toEqual([]);
    expect(checkDeploy(parse(parent), { secrets: ALL_SECRETS }).notes).toContain(
      'passkeys: relying party "example.com"; changing WEBAUTHN_RP_ID later orphans every passkey registered under it',
    );
  });

  it("judges MFA_REQUIRED, and says who will enrol at the next sign-in", () => {
    const all = READY.replace("[vars]", '[vars]\nMFA_REQUIRED = "all"');
    expect(whats(all, { secrets: ALL_SECRETS })).toEqual([]);
    expect(checkDeploy(parse(all), { secrets: ALL_SECRETS }).notes).toContain(
      "MFA_REQUIRED=all: every account without a second factor enrols one at its next sign-in; GET /api/v1/admin/users?mfa=none lists who has not yet",
    );
    const bad = READY.replace("[vars]", '[vars]\nMFA_REQUIRED = "admins"');
    expect(whats(bad, { secrets: ALL_SECRETS })).toEqual(['MFA_REQUIRED = "admins" is not off, superusers or all']);
  });

  it("judges OAUTH_PROVIDERS: dev-only overrides, secrets in readable vars, missing client secrets; names each redirect URI", () => {
    const providers = (entries: unknown[]) => READY.replace("[vars]", `[vars]\nOAUTH_PROVIDERS = '${JSON.stringify(entries)}'`);
    const good = providers([
      { id: "google", client_id: "g.apps" },
      { id: "corp", type: "oidc", issuer: "https://id.example.com", client_id: "c" },
    ]);
    expect(whats(good, { secrets: [...ALL_SECRETS, "OAUTH_CLIENT_SECRETS"] })).toEqual([]);
    expect(checkDeploy(parse(good), { secrets: ALL_SECRETS }).notes).toContain(
      "google: register the redirect URI https://auth.example.com/api/v1/auth/oauth/google/callback with the provider",
    );
    expect(whats(good, { secrets: ALL_SECRETS })).toEqual([
      "OAUTH_PROVIDERS names providers that need a client secret, but the OAUTH_CLIENT_SECRETS secret is not set",
    ]);
    const bad = providers([
      { id: "google", client_id: "g", token_endpoint: "http://127.0.0.1:8788/google/token", client_secret: "shh" },
      { id: "microsoft", client_id: "m", link_by_verified_email: true },
      { id: "corp", type: "oidc", issuer: "http://127.0.0.1:8788/oidc", client_id: "c" },
      { id: "corp", type: "saml", client_id: "c" },
    ]);
    expect(whats(bad, { secrets: [...ALL_SECRETS, "OAUTH_CLIENT_SECRETS"] })).toEqual([
      'OAUTH_PROVIDERS[0] ("google") overrides token_endpoint: for loopback fakes in dev mode only',
      'OAUTH_PROVIDERS[0] ("google") has its secret in a readable var',
      'OAUTH_PROVIDERS[1] ("microsoft") sets link_by_verified_email: Microsoft\'s email is never verified',
      'OAUTH_PROVIDERS[2] ("corp") needs an https issuer',
      'OAUTH_PROVIDERS[3] ("corp") repeats an id',
      'OAUTH_PROVIDERS[3] ("corp") has no known type',
    ]);
    expect(whats(READY.replace("[vars]", "[vars]\nOAUTH_PROVIDERS = '{\"id\":1}'"), { secrets: ALL_SECRETS })).toEqual([
      "OAUTH_PROVIDERS is not a JSON array",
    ]);
  });

  it("requires a signing key secret, or the opt-in to generated keys with their encryption secret", () => {
    const secrets = ALL_SECRETS.filter((s) => s !== "JWT_PRIVATE_JWKS");
    expect(whats(READY, { secrets })).toEqual(["no signing key: the JWT_PRIVATE_JWKS secret is not set"]);
    const optedIn = READY.replace("[vars]", '[vars]\nSIGNING_KEYS = "generated"');
    expect(whats(optedIn, { secrets })).toEqual(['SIGNING_KEYS is "generated", but the SIGNING_KEY_ENCRYPTION_SECRET secret is not set']);
    expect(checkDeploy(parse(optedIn), { secrets }).problems[0]?.fix).toMatch(/npx wrangler secret put SIGNING_KEY_ENCRYPTION_SECRET/);
    expect(whats(optedIn, { secrets: [...secrets, "SIGNING_KEY_ENCRYPTION_SECRET"] })).toEqual([]);
  });

  it("requires the secrets the variables imply, and no dev outbox", () => {
    const webhooks = READY.replace("[vars]", '[vars]\nWEBHOOK_URL = "https://hooks.example.com"\nDEV_OUTBOX = "true"');
    expect(whats(webhooks, { secrets: ["JWT_PRIVATE_JWKS"] })).toEqual([
      "DEV_OUTBOX is on: mail would go to a readable outbox instead of being sent",
      "MAIL_TRANSPORT is http, but the MAIL_API_KEY secret is not set",
      "WEBHOOK_URL is set, but the WEBHOOK_SECRET secret is not set",
    ]);
  });

  it("refuses the dev-only loopback limit profile", () => {
    const relaxed = READY.replace("[vars]", '[vars]\nDEV_LOOPBACK_LIMITS = "relaxed"');
    expect(whats(relaxed, { secrets: ["JWT_PRIVATE_JWKS", "MAIL_API_KEY"] })).toEqual([
      "DEV_LOOPBACK_LIMITS is set: it relaxes per-address limits for local development only (the worker refuses to start with it outside dev mode)",
    ]);
  });

  it("when the secrets cannot be listed, says so and counts every needed secret as a problem", () => {
    const report = checkDeploy(parse(READY), { secrets: null, secretsError: "not logged in" });
    expect(report.problems.map((p) => p.what)).toEqual([
      "no way to tell whether JWT_PRIVATE_JWKS is set",
      "MAIL_TRANSPORT is http, but the MAIL_API_KEY secret is unchecked",
      "could not list the deployed secrets (not logged in)",
    ]);
    expect(report.notes).toContain("Turnstile: TURNSTILE_SITE_KEY unset, TURNSTILE_SECRET unknown");
  });

  it("reads an environment's own vars and bindings (wrangler does not inherit them)", () => {
    const toml = `${projectToml()}
[env.production.vars]
JWT_ISSUER = "https://auth.example.com"
PUBLIC_URL = "https://auth.example.com"
MAIL_TRANSPORT = "http"
MAIL_FROM = "Example <no-reply@example.com>"
TURNSTILE_SITE_KEY = "0x4AAAAAAA"
[[env.production.d1_databases]]
binding = "DB"
database_name = "gatehouse-production"
database_id = "${D1_ID}"
[[env.production.kv_namespaces]]
binding = "AUTH_KV"
id = "${KV_ID}"
`;
    const report = checkDeploy(parse(toml), { envName: "production", secrets: [...ALL_SECRETS, "TURNSTILE_SECRET"] });
    expect(report.problems).toEqual([]);
    expect(report.notes).toContain("Turnstile: TURNSTILE_SITE_KEY set, TURNSTILE_SECRET set");
    expect(report.notes[0]).toMatch(/breached-password check: off \(set BREACHED_PASSWORD_CHECK = "register" in \[env.production.vars\]/);
    expect(() => checkDeploy(parse(toml), { envName: "staging", secrets: [] })).toThrow(/no \[env.staging\]/);
  });

  it("formats: refuses with problems unless forced, and still prints every problem when forced", () => {
    const report = checkDeploy(parse(projectToml()), { secrets: [] });
    const refused = formatReport(report, { force: false, target: "gatehouse" });
    expect(refused.ok).toBe(false);
    expect(refused.text).toMatch(/7 problems:[\s\S]*Refusing to deploy/);
    const forced = formatReport(report, { force: true, target: "gatehouse" });
    expect(forced.ok).toBe(true);
    expect(forced.text.split("\n").filter((l) => l.includes("✗"))).toHaveLength(7);
    expect(forced.text).toMatch(/--force: going ahead/);
  });

  it("refuses a database without read replication, or one whose replication could not be read", () => {
    expect(whats(READY, { secrets: ALL_SECRETS, replication: { mode: "auto" } })).toEqual([]);
    const off = checkDeploy(parse(READY), { secrets: ALL_SECRETS, replication: { mode: "disabled" } }).problems;
    expect(off).toHaveLength(1);
    expect(off[0]!.what).toMatch(/^D1 read replication is disabled: /);
    expect(off[0]!.fix).toContain("npm run provision");
    expect(whats(READY, { secrets: ALL_SECRETS, replication: { error: "Not logged in." } })).toEqual([
      "could not check D1 read replication (Not logged in.)",
    ]);
  });

  it("parses wrangler secret list --format json", () => {
    expect(parseSecretList('[{"name":"A","type":"secret_text"},{"name":"B","type":"secret_text"}]')).toEqual(["A", "B"]);
    expect(() => parseSecretList("not json")).toThrow();
  });
});

// Each run spawns Node and the fake wrangler several times: slow on a loaded two-core machine.
describe("npm run preflight (scripts/preflight.mjs) against a fake wrangler", { timeout: 30_000 }, () => {
  let fake: FakeWrangler | undefined;
  afterEach(() => fake?.remove());

  it("asks wrangler for the secrets and the message overrides of the named environment and config, and exits 0 when all is set", () => {
    const secrets = JSON.stringify(ALL_SECRETS.map((name) => ({ name, type: "secret_text" })));
    fake = fakeWrangler(
      [
        { command: "secret list", stdout: secrets },
        { command: "d1 info gatehouse --json", stdout: REPLICATED },
        { command: "kv key list", stdout: '[{"name":"i18n:overrides:de"}]' },
        { command: "kv key get i18n:overrides:de", stdout: '{"login.title":"Willkommen"}' },
      ],
      READY,
    );
    const run = fake.run("preflight.mjs", ["--config", fake.config]);
    expect(run.stdout).toContain("No problems found.");
    expect(run.stdout).toContain("languages: 12 shipped, default en; overrides for de");
    expect(run.status).toBe(0);
    expect(fake.calls().map((c) => c.join(" "))).toEqual([
      `secret list --format json --config ${fake.config}`,
      `kv key list --prefix i18n:overrides: --binding AUTH_KV --remote --config ${fake.config}`,
      `kv key get i18n:overrides:de --text --binding AUTH_KV --remote --config ${fake.config}`,
      `d1 info gatehouse --json --config ${fake.config}`,
    ]);
  });

  it("refuses overrides in KV that the worker would drop, naming each", () => {
    const secrets = JSON.stringify(ALL_SECRETS.map((name) => ({ name, type: "secret_text" })));
    fake = fakeWrangler(
      [
        { command: "secret list", stdout: secrets },
        { command: "d1 info gatehouse --json", stdout: REPLICATED },
        { command: "kv key list", stdout: '[{"name":"i18n:overrides:ja"},{"name":"i18n:overrides:xx"}]' },
        { command: "kv key get i18n:overrides:ja", stdout: '{"signedInAs":"ようこそ","login.title":"<script>"}' },
      ],
      READY,
    );
    const run = fake.run("preflight.mjs", ["--config", fake.config]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("overrides of ja in AUTH_KV: signedInAs: placeholders differ from the source's; login.title:");
    expect(run.stdout).toContain("overrides of xx in AUTH_KV: not a shipped locale");
  });

  it("exits 1 when wrangler cannot list secrets, with wrangler's reason; --force exits 0 and prints the same problems", () => {
    fake = fakeWrangler([{ command: "secret list", stderr: "✘ [ERROR] Not logged in.\n\nmore", status: 1 }], READY);
    const run = fake.run("preflight.mjs", ["--config", fake.config]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("could not list the deployed secrets (Not logged in.)");
    expect(run.stdout).toContain("Refusing to deploy");
    const forced = fake.run("preflight.mjs", ["--config", fake.config, "--force"]);
    expect(forced.status).toBe(0);
    expect(forced.stdout).toContain("could not list the deployed secrets (Not logged in.)");
  });

  it("npm run deploy: preflight, then the remote migrations and the deploy with the same config; nothing after a refusal", () => {
    const secrets = JSON.stringify(ALL_SECRETS.map((name) => ({ name, type: "secret_text" })));
    fake = fakeWrangler(
      [
        { command: "secret list", stdout: secrets },
        { command: "d1 info gatehouse --json", stdout: REPLICATED },
        { command: "d1 migrations apply", stdout: "applied" },
        { command: "deploy", stdout: "deployed" },
      ],
      READY,
    );
    const run = fake.run("deploy.mjs", ["--config", fake.config, "--minify"]);
    expect(run.status).toBe(0);
    expect(fake.calls().map((c) => c.join(" "))).toEqual([
      `secret list --format json --config ${fake.config}`,
      `kv key list --prefix i18n:overrides: --binding AUTH_KV --remote --config ${fake.config}`,
      `d1 info gatehouse --json --config ${fake.config}`,
      `d1 migrations apply DB --remote --config ${fake.config}`,
      `deploy --config ${fake.config} --minify`,
    ]);
    fake.remove();

    fake = fakeWrangler([{ command: "secret list", stdout: "[]" }], READY);
    const refused = fake.run("deploy.mjs", ["--config", fake.config]);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain("Refusing to deploy");
    expect(fake.calls()).toHaveLength(3);
  });
});
