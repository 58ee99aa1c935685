// Types for i18n-catalogues.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export const LOCALES_DIR: string;

/** The English source as JSON text, exactly as `assets/locales/en.json` must hold it. */
export function englishJson(root?: string): Promise<string>;

/** The shipped locales: the catalogues in assets/locales. */
export function shippedLocales(root?: string): string[];

/** Every shipped catalogue's problems against the English source, by locale (empty: all good). */
export function shippedProblems(root?: string): Record<string, string[]>;

/** An operator's overrides file for `locale`: the accepted texts and the problems. */
export function overrideProblems(raw: unknown, locale: string, root?: string): { accepted: Record<string, string>; problems: string[] };
