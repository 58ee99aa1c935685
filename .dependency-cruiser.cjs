// Import rules of src/, checked in CI (`npm run deps`): imports point down the layers below and never
// in a circle. docs/development.md#the-map draws the same map.
//
// A module may import from its own folder and from any layer below its own, never from one above.
// Folders listed in the same layer are peers that must not import each other (the rank decides
// otherwise). Type-only imports count like any other: a type is a dependency too.

/** Bottom to top. Each entry: a name, and the path patterns of its modules. */
const LAYERS = [
  // Plain helpers with no knowledge of the application.
  ["lib", ["^src/(errors|log|crypto|pagination|storage-meter)\\.ts$", "^src/build/"]],
  ["config", ["^src/config/"]],
  ["db", ["^src/db/"]],
  // The audit trail and the events outbox: rows written with the change they report.
  ["audit", ["^src/audit/"]],
  ["events", ["^src/events/"]],
  // Per-request dependencies (with the unit of work) and the primitives every domain shares.
  ["kernel", ["^src/kernel/"]],
  // Message catalogues and the translator of pages and mail.
  ["i18n", ["^src/i18n/"]],
  ["mail", ["^src/mail/"]],
  // The domains, lowest first: each may use the ones below it.
  ["abuse", ["^src/abuse/"]],
  ["sessions", ["^src/sessions/"]],
  ["devices", ["^src/devices/"]],
  ["factors", ["^src/factors/"]],
  ["accounts", ["^src/accounts/"]],
  ["api-keys", ["^src/api-keys/"]],
  ["recovery", ["^src/recovery/"]],
  // Sign-in with external providers: a first factor that may also prove an address (recovery's rules).
  ["federation", ["^src/federation/"]],
  // Gatehouse as an OAuth 2.1 / OpenID Connect provider for the site's other apps.
  ["oidc", ["^src/oidc/"]],
  ["admin", ["^src/admin/"]],
  ["maintenance", ["^src/maintenance/"]],
  // What the JSON API and the hosted pages share, so neither imports the other.
  ["web", ["^src/web/"]],
  ["surfaces", ["^src/http/", "^src/pages/"]],
  ["entry", ["^src/(app|index)\\.ts$"]],
];

const upward = LAYERS.flatMap(([name, paths], rank) => {
  const above = LAYERS.slice(rank + 1).flatMap(([, p]) => p);
  if (above.length === 0) return [];
  return [
    {
      name: `${name}-imports-up`,
      comment: `${name} may import only from the layers below it (see .dependency-cruiser.cjs)`,
      severity: "error",
      from: { path: paths },
      to: { path: above },
    },
  ];
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "no module may reach itself through its imports (the zod alias names itself to export `z`)",
      severity: "error",
      from: { pathNot: "^src/build/" },
      to: { circular: true },
    },
    ...upward,
    {
      name: "api-and-pages-apart",
      comment: "the JSON API and the hosted pages share src/web, never each other's modules",
      severity: "error",
      from: { path: "^src/http/" },
      to: { path: "^src/pages/" },
    },
    {
      name: "pages-and-api-apart",
      comment: "the JSON API and the hosted pages share src/web, never each other's modules",
      severity: "error",
      from: { path: "^src/pages/" },
      to: { path: "^src/http/" },
    },
    {
      name: "login-imports",
      comment:
        "login reads top to bottom: route -> accounts/login.ts -> the guess guard (and the per-IP limit, attack mode and challenge) -> the sign-in transaction (accounts/sign-in.ts) -> sessions -> the unit of work; it imports nothing else",
      severity: "error",
      from: { path: "^src/accounts/login\\.ts$" },
      to: {
        path: "^src/",
        pathNot: [
          "^src/abuse/(challenge|guess-guard|ip-limits|object-names|spraying)\\.ts$",
          "^src/accounts/(passwords|sign-in)\\.ts$",
          "^src/audit/audit\\.ts$",
          "^src/db/(logins|schema|users)\\.ts$",
          "^src/devices/",
          "^src/(errors)\\.ts$",
          "^src/kernel/deps\\.ts$",
          "^src/sessions/sessions\\.ts$",
        ],
      },
    },
    {
      name: "login-reach",
      comment: "nothing login runs reaches the surfaces, administration, recovery, API keys, the crons or the rest of accounts",
      severity: "error",
      from: { path: "^src/accounts/login\\.ts$" },
      to: {
        reachable: true,
        path: ["^src/(http|pages|web|admin|recovery|api-keys|maintenance)/", "^src/accounts/(?!passwords|bcrypt|login|sign-in|fresh-auth)"],
      },
    },
    {
      name: "dev-stays-out",
      comment: "src/dev is the bench's own entry; nothing the deployed worker runs may import it",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/dev/" },
      to: { path: "^src/dev/" },
    },
    {
      name: "client-stands-alone",
      comment: "the browser client is built for browsers: it may take only the user schema's type from the worker",
      severity: "error",
      from: { path: "^src/client/" },
      to: { path: "^src/", pathNot: ["^src/client/", "^src/kernel/user-response\\.ts$"] },
    },
    {
      name: "sdk-stands-alone",
      comment: "src/sdk (gatehouse/server, gatehouse/hono) runs in other people's servers: it may take the worker's types, never its code",
      severity: "error",
      from: { path: "^src/sdk/" },
      to: { path: "^src/", pathNot: "^src/sdk/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "worker-without-sdk",
      comment: "the worker never imports the SDK its users verify its tokens with",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/sdk/" },
      to: { path: "^src/sdk/" },
    },
    {
      name: "unlayered",
      comment: "every module of src/ belongs to a layer of .dependency-cruiser.cjs (or is dev, client, sdk or the zod alias)",
      severity: "error",
      from: { path: "^src/" },
      to: {
        path: "^src/",
        pathNot: [...LAYERS.flatMap(([, p]) => p), "^src/dev/", "^src/client/", "^src/sdk/"],
      },
    },
  ],
  options: {
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    exclude: { path: "node_modules" },
  },
};
