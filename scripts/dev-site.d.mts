// Types for dev-site.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export class SiteError extends Error {}

export function takeSiteFlag(argv: string[]): { argv: string[]; site: string | undefined };

export function siteSetup(site: string, port: string): { origin: string; authUrl: string; rpId: string; vars: Record<string, string> };
