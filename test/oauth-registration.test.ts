import { describe, expect, it } from "vitest";
import { runScheduledMaintenance } from "../src/maintenance/scheduled";
import { call, env, freshIp, register } from "./helpers";
import { Browser } from "./pages-browser";
import { redirectTarget } from "./oidc-helpers";

/**
 * RFC 7591 dynamic registration (issue #33) inside workerd: off by default (no endpoint published,
 * 404), on with OAUTH_DYNAMIC_CLIENT_REGISTRATION; a self-registered client asks for consent every
 * time; one unused for 30 days is removed by the daily clean-up. The MCP journey and the refusals
 * run against `npm run dev` in test/dev/mcp.test.ts.
 */

const ON = { OAUTH_DYNAMIC_CLIENT_REGISTRATION: "true" };
const REDIRECT = "http://127.0.0.1:4444/cb";

const registerClient = (body: unknown, on = true) =>
  call("/oauth/register", { method: "POST", body, ip: freshIp(), ...(on ? { env: ON } : {}) });

describe("dynamic client registration", () => {
  it("is off by default: not published, and 404", async () => {
    const doc = await (await call("/.well-known/oauth-authorization-server")).json<Record<string, unknown>>();
    expect(doc).not.toHaveProperty("registration_endpoint");
    expect((await registerClient({ redirect_uris: [REDIRECT] }, false)).status).toBe(404);
    const on = await (await call("/.well-known/oauth-authorization-server", { env: ON })).json<Record<string, unknown>>();
    expect(on.registration_endpoint).toBe("https://auth.example.com/oauth/register");
  });

  it("registers a public client whose every authorization asks for consent, marked unverified", async () => {
    const res = await registerClient({ client_name: "Agent", redirect_uris: [REDIRECT] });
    expect(res.status).toBe(201);
    const client = await res.json<{ client_id: string; token_endpoint_auth_method: string }>();
    expect(client.token_endpoint_auth_method).toBe("none");
    const user = await register();
    const browser = new Browser(ON);
    const login = await browser.open("/login");
    await browser.submit(login, "/login", { identifier: user.email, password: user.password });
    const query = new URLSearchParams({
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      response_type: "code",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
    });
    for (let round = 0; round < 2; round++) {
      const page = await browser.open(`/oauth/authorize?${query.toString()}`);
      expect(page).toContain("nobody checked who made it");
      expect(page).toContain("127.0.0.1:4444");
      const allowed = await browser.submit(page, "/oauth/authorize", { decision: "allow" });
      expect(redirectTarget(allowed)).toMatch(/^http:\/\/127\.0\.0\.1:4444\/cb\?code=/);
    }
    // prompt=none can never use a remembered consent of a self-registered client.
    const silent = await browser.get(`/oauth/authorize?${query.toString()}&prompt=none`);
    expect(new URL(silent.headers.get("location")!).searchParams.get("error")).toBe("consent_required");
  });

  it("the daily clean-up removes self-registered clients unused for 30 days, and keeps the rest", async () => {
    const stale = await (await registerClient({ client_name: "Stale", redirect_uris: [REDIRECT] })).json<{ client_id: string }>();
    const fresh = await (await registerClient({ client_name: "Fresh", redirect_uris: [REDIRECT] })).json<{ client_id: string }>();
    const longAgo = Date.now() - 31 * 86_400_000;
    await env.DB.prepare("UPDATE oauth_clients SET created_at = ? WHERE id = ?").bind(longAgo, stale.client_id).run();
    await runScheduledMaintenance(env, new Date());
    const left = await env.DB.prepare("SELECT id FROM oauth_clients WHERE id IN (?, ?)")
      .bind(stale.client_id, fresh.client_id)
      .all<{ id: string }>();
    expect(left.results.map((r) => r.id)).toEqual([fresh.client_id]);
  });
});
