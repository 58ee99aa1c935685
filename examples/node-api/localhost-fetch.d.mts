// Types for localhost-fetch.mjs.

/** `localhost` or a name under it (RFC 6761: always this machine). */
export function isLocalhostName(hostname: string): boolean;
/** fetch, but `*.localhost` goes to 127.0.0.1 with the name in the Host header. */
export function localhostFetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
