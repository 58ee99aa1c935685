// Types for dev-args.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export interface DevPlan {
  /** Arguments for `wrangler`: `d1 migrations apply DB --local` plus the flags that pick config, env and state. */
  migrate: string[];
  /** Arguments for `wrangler`: `dev`, the user's flags, then the vars we add. */
  dev: string[];
  /** The URL the dev server answers on, from --ip/--port/--local-protocol. */
  publicUrl: string;
  /** The vars (PUBLIC_URL, JWT_ISSUER) set to `publicUrl` because the user did not set them. */
  derived: string[];
  /** With `--site`: the site's origin, the passkey domain, the vars we added and the names the user had set already. */
  site?: { origin: string; rpId: string; vars: Record<string, string>; kept: string[] };
}

export function planDev(
  argv: string[],
  io: { cwd: string; readFile: (path: string) => string | undefined; env?: Record<string, string | undefined> },
): DevPlan;

export function localStateDir(args: string[]): string;
