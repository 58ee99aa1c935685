import { createGatehouse, type Gatehouse, type SignOutEvent } from "../../src/client/gatehouse";
import { FakeGatehouse } from "./fake-gatehouse";

/**
 * Tabs of one browser for the client's tests, in Node: Node has the browser's Web Locks
 * (`navigator.locks`), BroadcastChannel and fetch classes, so several clients in one process behave
 * like several tabs of one site. The "server" is a fake with one shared cookie jar (see
 * fake-gatehouse.ts); the Chromium journeys in test/e2e run the same client against the real worker.
 */

export const PASSWORD = "correct horse battery staple";
/** The site's own API, beside Gatehouse (see `browser`'s `siteApi`). */
export const SITE_API = "https://api.site.example.test";

let sites = 0;
const open: Gatehouse[] = [];

/** Closes every client the tests opened (an `afterEach` of each file). */
export function closeTabs(): void {
  for (const tab of open.splice(0)) tab.close();
}

/** Keeps a client to close after the test. */
export function track<T extends Gatehouse>(client: T): T {
  open.push(client);
  return client;
}

/**
 * One browser at a fresh Gatehouse origin (so locks and channels never cross tests), and a shared
 * clock. `siteApi`, when given, answers the requests to SITE_API: the site's own API (it may ask the
 * fake Gatehouse about the request's token).
 */
export function browser(options: { siteApi?: (request: Request, server: FakeGatehouse) => Response | Promise<Response> } = {}) {
  const server = new FakeGatehouse(`https://auth${++sites}.example.test`);
  const clock = { offset: 0 };
  /** What reached the site's API, in order. */
  const siteRequests: Request[] = [];
  const send: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (options.siteApi && request.url.startsWith(`${SITE_API}/`)) {
      siteRequests.push(request.clone());
      return options.siteApi(request, server);
    }
    return server.fetch(request);
  };
  const tab = (tabOptions: { skewSeconds?: number } = {}) => {
    const client = track(createGatehouse({ baseUrl: server.base, fetch: send, now: () => Date.now() + clock.offset, ...tabOptions }));
    const signOuts: SignOutEvent["reason"][] = [];
    client.onSignOut((event) => signOuts.push(event.reason));
    return Object.assign(client, { signOuts });
  };
  return { server, clock, tab, siteRequests };
}

/** Lets channel messages between tabs arrive. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

/**
 * Resolves once a tab of `base` has broadcast a message of `type` and every tab has handled it: a
 * channel of the test's own hears it, and Node hands one broadcast to all its receivers in the same
 * turn of the event loop, so by the next timer the tabs' handlers have run as well.
 */
export function broadcastOf(base: string, type: string): Promise<void> {
  const channel = new BroadcastChannel("gatehouse");
  return new Promise((resolve) => {
    channel.addEventListener("message", (event: MessageEvent<{ base?: string; type?: string }>) => {
      if (event.data.base !== base || event.data.type !== type) return;
      channel.close();
      setTimeout(resolve, 0);
    });
  });
}
