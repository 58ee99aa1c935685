/**
 * Files the build puts in assets/ for the worker to serve (the OpenAPI document, the reference page,
 * the browser client): read through the ASSETS binding, never part of the script, so they cost the
 * bundle nothing. Assets change only with a deployment, so each isolate reads a file once; a failed
 * read is not remembered.
 */

/** The host the ASSETS binding is asked with: it serves by path and ignores the host. */
const ASSETS_ORIGIN = "https://assets.gatehouse.invalid";

const texts = new Map<string, Promise<string>>();

/** The text of `assets/<path>`. */
export function readAssetText(assets: Fetcher | undefined, path: string): Promise<string> {
  let text = texts.get(path);
  if (!text) {
    text = fetchText(assets, path);
    texts.set(path, text);
    text.catch(() => texts.delete(path));
  }
  return text;
}

async function fetchText(assets: Fetcher | undefined, path: string): Promise<string> {
  if (!assets) throw new Error(`the ASSETS binding is missing: ${path} is a static asset`);
  const res = await assets.fetch(`${ASSETS_ORIGIN}/${path}`);
  if (!res.ok) throw new Error(`asset ${path}: ${res.status}`);
  return res.text();
}
