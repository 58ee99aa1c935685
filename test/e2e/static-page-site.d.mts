// Types for static-page-site.mjs.

/** examples/static-page/index.html with its gatehouse-url meta tag set to `authBase`. */
export function staticPage(authBase: string): string;
