import { act, createElement as h, type ReactNode, StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { renderToString } from "react-dom/server";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { createGatehouse, type Gatehouse, GatehouseError, type User } from "../../src/client/gatehouse";
import { GatehouseProvider, type GatehouseHook, useGatehouse } from "../../src/client/react";
import { FAKE_MFA_TOKEN, FAKE_TOTP_CODE, FakeGatehouse, problem } from "./fake-gatehouse";
import { closeTabs, PASSWORD, track } from "./tabs";

/**
 * `gatehouse/react` in Node, under StrictMode (React's development build, as vitest runs it: double
 * renders and a mount, unmount, mount of every effect). react-dom renders into a stand-in container:
 * the components here render no elements, so React needs only the few properties `container` has.
 * The client underneath is the real one, against the fake Gatehouse the client's own tests use
 * (a shared cookie jar, rotating refresh tokens); the Chromium journey test/e2e/react-spa.test.ts runs
 * the binding against the real worker.
 */

let sites = 0;
let consoleErrors: MockInstance<typeof console.error>;

beforeEach(() => {
  // What react-dom reads from a browser's globals when it commits; `act` needs the flag.
  vi.stubGlobal("window", { HTMLIFrameElement: class {} });
  vi.stubGlobal("IS_REACT_ACT_ENVIRONMENT", true);
  // React reports misuse (an update outside act, a missing key) on console.error: none is expected.
  consoleErrors = vi.spyOn(console, "error");
});

afterEach(() => {
  closeTabs();
  vi.unstubAllGlobals();
  const reported = consoleErrors.mock.calls.slice();
  vi.restoreAllMocks();
  expect(reported).toEqual([]);
});

/** The password the fake refuses, as Gatehouse refuses a wrong one (the fake itself takes any). */
const WRONG_PASSWORD = "not the password";

/**
 * One browser's Gatehouse: the fake, whose `GET /users/me` answers `{sub}`, dressed as Gatehouse's
 * UserResponse, and which refuses WRONG_PASSWORD. `send` is the browser's fetch (the shared cookie jar).
 */
function gatehouse() {
  const server = new FakeGatehouse(`https://auth${++sites}.react.example.test`);
  const send: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (
      request.url.endsWith("/api/v1/auth/login") &&
      ((await request.clone().json()) as { password?: string }).password === WRONG_PASSWORD
    ) {
      return problem(401, "invalid_credentials");
    }
    const res = await server.fetch(request);
    if (!res.ok || !request.url.endsWith("/api/v1/users/me")) return res;
    const { sub } = (await res.json()) as { sub: string };
    return Response.json(userOf(sub));
  };
  const count = (path: string) => server.requests.filter((r) => new URL(r.url).pathname === path).length;
  const client = () => track(createGatehouse({ baseUrl: server.base, fetch: send }));
  return { server, send, client, count };
}

function userOf(sub: string): User {
  const at = "2026-12-01T10:00:00.000Z";
  return {
    id: sub,
    email: `${sub}@example.com`,
    username: null,
    full_name: `User ${sub}`,
    is_active: true,
    is_verified: true,
    created_at: at,
    updated_at: at,
    last_login_at: at,
    locale: null,
  };
}

/**
 * Renders `<StrictMode><GatehouseProvider …><Probe/></…></StrictMode>` and waits until the provider
 * knows the session: `hook()` is what the probe's last render saw, `statuses` every status it
 * rendered with (repeats folded).
 */
async function mount(props: { url: string; client?: Gatehouse }) {
  let seen: GatehouseHook | undefined;
  const statuses: string[] = [];
  function Probe(): ReactNode {
    seen = useGatehouse();
    if (statuses.at(-1) !== seen.status) statuses.push(seen.status);
    return null;
  }
  const container = { nodeType: 1, nodeName: "DIV", tagName: "DIV", namespaceURI: "http://www.w3.org/1999/xhtml", textContent: "" };
  Object.assign(container, { ownerDocument: { nodeType: 9, addEventListener() {}, removeEventListener() {} } });
  Object.assign(container, { addEventListener() {}, removeEventListener() {} });
  const root = createRoot(container as unknown as Element);
  act(() => root.render(h(StrictMode, null, h(GatehouseProvider, props, h(Probe)))));
  const page = {
    hook: () => seen!,
    statuses,
    /**
     * Lets the client's requests and tabs' messages arrive, rendering what they change, until the
     * probe sees `done` (React renders only when `act` ends, so this steps: 10 ms, render, look).
     */
    async until(done: (hook: GatehouseHook) => boolean, what: string): Promise<void> {
      for (const deadline = Date.now() + 3_000; !done(seen!);) {
        if (Date.now() > deadline) throw new Error(`still not ${what}: ${JSON.stringify({ ...seen, client: undefined })}`);
        await act(() => new Promise((resolve) => setTimeout(resolve, 10)));
      }
    },
    /** Runs `work` (an action, a change on the server) and renders what it changed on the way. */
    async during<T>(work: () => Promise<T>): Promise<T> {
      let result: T | undefined;
      await act(async () => {
        result = await work();
      });
      return result as T;
    },
    unmount: () => act(() => root.unmount()),
  };
  await page.until((hook) => hook.status !== "loading", "past loading");
  return page;
}

describe("the session on load", () => {
  it("no session behind the cookie: loading, then signed out, after one refresh and no /users/me", async () => {
    const { server, client, count } = gatehouse();
    const page = await mount({ url: server.base, client: client() });
    expect(page.statuses).toEqual(["loading", "signed-out"]);
    expect(page.hook()).toMatchObject({ status: "signed-out", user: null, error: null });
    // StrictMode ran the effect twice; the provider read the session once.
    expect(count("/api/v1/auth/refresh")).toBe(1);
    expect(count("/api/v1/users/me")).toBe(0);
  });

  it("a session behind the cookie (a sign-in in another tab or on the hosted page): one refresh, one /users/me, signed in", async () => {
    const { server, client, count } = gatehouse();
    await client().login({ email: "ada@example.com", password: PASSWORD });
    const page = await mount({ url: server.base, client: client() });
    expect(page.statuses).toEqual(["loading", "signed-in"]);
    const sub = page.hook().user!.id;
    expect(page.hook()).toMatchObject({ status: "signed-in", user: userOf(sub), error: null });
    expect(count("/api/v1/auth/refresh")).toBe(1);
    expect(count("/api/v1/users/me")).toBe(1);
    // Nothing of the session but the user is in React's hands.
    expect(JSON.stringify(page.hook())).not.toMatch(/eyJ|access_token|rt\d/);
  });

  it("Gatehouse unavailable (503): signed out with the error; refresh() later signs in", async () => {
    const { server, client } = gatehouse();
    await client().login({ email: "ada@example.com", password: PASSWORD });
    server.failRefreshWith = 503;
    const page = await mount({ url: server.base, client: client() });
    expect(page.hook().status).toBe("signed-out");
    expect(page.hook().error).toBeInstanceOf(GatehouseError);
    expect(page.hook().error).toMatchObject({ status: 503, code: "service_unavailable" });

    server.failRefreshWith = null;
    const user = await page.during(() => page.hook().refresh());
    expect(user).toEqual(userOf(user!.id));
    expect(page.hook()).toMatchObject({ status: "signed-in", user, error: null });
  });

  it("server rendering shows loading and sends nothing: the client starts in the browser", () => {
    const { server, client } = gatehouse();
    const send = vi.fn<typeof fetch>();
    vi.stubGlobal("fetch", send);
    function Status(): ReactNode {
      return useGatehouse().status;
    }
    expect(renderToString(h(GatehouseProvider, { url: server.base }, h(Status)))).toBe("loading");
    expect(renderToString(h(GatehouseProvider, { url: server.base, client: client() }, h(Status)))).toBe("loading");
    expect(send).not.toHaveBeenCalled();
    expect(server.requests).toEqual([]);
  });
});

describe("actions", () => {
  it("signIn signs the page in with the answer's user (no extra /users/me); logout signs it out", async () => {
    const { server, client, count } = gatehouse();
    const page = await mount({ url: server.base, client: client() });
    const session = await page.during(() => page.hook().signIn({ email: "ada@example.com", password: PASSWORD }));
    expect(session).toHaveProperty("access_token");
    expect(page.hook()).toMatchObject({ status: "signed-in", user: (session as { user: User }).user, error: null });
    expect(count("/api/v1/users/me")).toBe(0);

    await page.during(() => page.hook().logout());
    expect(page.hook()).toMatchObject({ status: "signed-out", user: null, error: null });
    expect(count("/api/v1/auth/logout")).toBe(1);
    expect(server.cookie).toBeNull();
    expect(page.statuses).toEqual(["loading", "signed-out", "signed-in", "signed-out"]);
  });

  it("a refused sign-in rejects with the GatehouseError, keeps it in `error`, and stays signed out", async () => {
    const { server, client } = gatehouse();
    const page = await mount({ url: server.base, client: client() });
    let refused: unknown;
    await page.during(() =>
      page
        .hook()
        .signIn({ email: "ada@example.com", password: WRONG_PASSWORD })
        .catch((error: unknown) => (refused = error)),
    );
    expect(refused).toBeInstanceOf(GatehouseError);
    expect(refused).toMatchObject({ status: 401, code: "invalid_credentials" });
    expect(page.hook()).toMatchObject({ status: "signed-out", user: null, error: refused });
    // The next success clears it.
    await page.during(() => page.hook().signIn({ email: "ada@example.com", password: PASSWORD }));
    expect(page.hook()).toMatchObject({ status: "signed-in", error: null });
  });

  it("a second step keeps the page signed out until completeMfa; a registration to verify stays signed out", async () => {
    const { server, client } = gatehouse();
    const page = await mount({ url: server.base, client: client() });
    const step = await page.during(() => page.hook().signIn({ email: "mfa.ada@example.com", password: PASSWORD }));
    expect(step).toMatchObject({ mfaRequired: true, mfaToken: FAKE_MFA_TOKEN });
    expect(page.hook().status).toBe("signed-out");

    const registered = await page.during(() =>
      page.hook().register({ email: "verify.bo@example.com", password: PASSWORD, full_name: "Bo" }),
    );
    expect(registered).toEqual({ message: "Check your inbox." });
    expect(page.hook().status).toBe("signed-out");

    await page.during(() => page.hook().completeMfa({ mfaToken: FAKE_MFA_TOKEN, method: "totp", code: FAKE_TOTP_CODE }));
    expect(page.hook().status).toBe("signed-in");
  });

  it("loginUrl: the hosted /login with return_to (this page by default)", async () => {
    const { server, client } = gatehouse();
    const page = await mount({ url: `${server.base}/some/path`, client: client() });
    expect(page.hook().loginUrl("https://app.example.test/after?x=1#top")).toBe(
      `${server.base}/login?return_to=${encodeURIComponent("https://app.example.test/after?x=1#top")}`,
    );
    expect(page.hook().loginUrl()).toBe(`${server.base}/login`);
    vi.stubGlobal("location", { href: "https://app.example.test/dashboard" });
    expect(page.hook().loginUrl()).toBe(`${server.base}/login?return_to=${encodeURIComponent("https://app.example.test/dashboard")}`);
  });
});

describe("sessions that end elsewhere", () => {
  it("another tab's logout signs the page out", async () => {
    const { server, client } = gatehouse();
    const other = client();
    await other.login({ email: "ada@example.com", password: PASSWORD });
    const page = await mount({ url: server.base, client: client() });
    expect(page.hook().status).toBe("signed-in");
    await other.logout();
    // The other tab's note reaches this one's client on the BroadcastChannel, a moment later.
    await page.until((hook) => hook.status === "signed-out", "signed out");
    expect(page.hook()).toMatchObject({ status: "signed-out", user: null, error: null });
    expect(page.statuses).toEqual(["loading", "signed-in", "signed-out"]);
  });

  it("a logout everywhere on another device: the next fetch finds the session over and the page signs out", async () => {
    const { server, client } = gatehouse();
    await client().login({ email: "ada@example.com", password: PASSWORD });
    const page = await mount({ url: server.base, client: client() });
    expect(page.hook().status).toBe("signed-in");
    server.endSessionsElsewhere();
    const res = await page.during(() => page.hook().fetch(`${server.base}/api/v1/users/me`));
    expect(res.status).toBe(401);
    expect(page.hook()).toMatchObject({ status: "signed-out", user: null });
  });
});

describe("StrictMode and clean-up", () => {
  it("one sign-out listener while mounted, none after unmount; a passed client is left open", async () => {
    const { server, client } = gatehouse();
    const gh = client();
    let [subscribed, listening] = [0, 0];
    const subscribe = gh.onSignOut.bind(gh);
    vi.spyOn(gh, "onSignOut").mockImplementation((listener) => {
      subscribed += 1;
      listening += 1;
      const off = subscribe(listener);
      return () => {
        listening -= 1;
        return off();
      };
    });
    const close = vi.spyOn(gh, "close");
    const page = await mount({ url: server.base, client: gh });
    // StrictMode mounted, unmounted and mounted the effect again: two subscriptions, one left.
    expect(subscribed).toBe(2);
    expect(listening).toBe(1);
    page.unmount();
    expect(listening).toBe(0);
    expect(close).not.toHaveBeenCalled();
  });

  it("with only `url`, the provider makes one working client (global fetch) and closes every one it made", async () => {
    const { server, send, count } = gatehouse();
    await track(createGatehouse({ baseUrl: server.base, fetch: send })).login({ email: "ada@example.com", password: PASSWORD });
    vi.stubGlobal("fetch", send);
    const channels = { open: 0 };
    vi.stubGlobal(
      "BroadcastChannel",
      class extends BroadcastChannel {
        constructor(name: string) {
          super(name);
          channels.open += 1;
        }
        override close() {
          channels.open -= 1;
          super.close();
        }
      },
    );
    const page = await mount({ url: server.base });
    expect(page.hook().status).toBe("signed-in");
    expect(page.hook().client).not.toBeNull();
    // StrictMode's first client was closed before it sent anything: one client open, one refresh.
    expect(channels.open).toBe(1);
    expect(count("/api/v1/auth/refresh")).toBe(1);
    page.unmount();
    expect(channels.open).toBe(0);
  });
});

describe("misuse", () => {
  it("useGatehouse outside a provider, and a url that is not Gatehouse's http(s) URL, throw saying so", () => {
    function Orphan(): ReactNode {
      return useGatehouse().status;
    }
    expect(() => renderToString(h(Orphan))).toThrow("useGatehouse() needs a <GatehouseProvider>");
    expect(() => renderToString(h(GatehouseProvider, { url: "auth.example.com" }))).toThrow(/url must be Gatehouse's http\(s\) URL/);
    expect(() => renderToString(h(GatehouseProvider, { url: "javascript:alert(1)" }))).toThrow(/url must be Gatehouse's http\(s\) URL/);
  });
});
