import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort, startWrangler } from "../node/dev-server.mjs";
import { uniqueDevEmail, uniqueDevIp } from "./shared-server";
import { PageBrowser, PASSWORD } from "./page-browser";

/**
 * Gatehouse as the authorization server of an MCP server (issue #33), with the official MCP
 * TypeScript SDK's client in Node: it finds the example server's protected-resource metadata
 * (examples/mcp-server under its own `wrangler dev`), registers itself with Gatehouse (RFC 7591),
 * signs a person in through the hosted pages with PKCE and the resource indicator, and calls a
 * tool; a token for another resource is refused by the example. Also the registration's refusals.
 */

const REDIRECT = "http://127.0.0.1:53999/mcp-callback";

let example: { base: string; stop: () => Promise<void> } | undefined;
let gatehouse = "";

/** The hosted sign-in and the consent page (it says the app is unverified), up to the redirect back. */
async function authorize(url: string, email: string): Promise<{ callback: URL; consent: string }> {
  let consent = "";
  const callback = await new PageBrowser().authorize(url, email, { redirect: REDIRECT, seen: (page) => (consent = page) });
  return { callback, consent };
}

/** What an MCP client keeps: its registration, its tokens, the PKCE verifier; sign-in goes through `browser`. */
class TestProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = "";
  authorizationUrl: URL | undefined;

  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "Test Agent",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

async function person(): Promise<string> {
  const email = uniqueDevEmail("agent");
  const res = await fetch(`${inject("devServer").base}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": uniqueDevIp() },
    body: JSON.stringify({ email, password: PASSWORD, full_name: "Agent Owner" }),
  });
  expect(res.status).toBe(201);
  return email;
}

beforeAll(async () => {
  gatehouse = inject("devServer").base.replace("127.0.0.1", "localhost");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = startWrangler([
    "-c",
    "examples/mcp-server/wrangler.toml",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--var",
    `MCP_PUBLIC_URL:${base}`,
    "--var",
    `GATEHOUSE_ISSUER:${gatehouse}`,
    "--var",
    `GATEHOUSE_JWKS_URL:${inject("devServer").base}/.well-known/jwks.json`,
  ]);
  example = { base, stop: () => server.stop() };
  for (const deadline = Date.now() + 90_000; ; await new Promise((r) => setTimeout(r, 250))) {
    const status = await fetch(`${base}/.well-known/oauth-protected-resource`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (Date.now() > deadline) throw new Error(`the MCP example did not start:\n${server.output()}`);
  }
}, 120_000);

afterAll(() => example?.stop(), 30_000);

describe("an MCP client, Gatehouse and the example MCP server", () => {
  it("discovers, registers, signs in with PKCE and the resource indicator, and calls a tool", async () => {
    const mcpUrl = new URL(`${example!.base}/mcp`);
    const provider = new TestProvider();
    const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await expect(new Client({ name: "test-agent", version: "1.0.0" }).connect(first)).rejects.toThrow(/Unauthorized/i);
    expect(provider.info?.client_id).toMatch(/^gcd_/);
    const url = provider.authorizationUrl!;
    expect(url.origin).toBe(new URL(gatehouse).origin);
    expect(url.searchParams.get("resource")).toBe(mcpUrl.href);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");

    const email = await person();
    const { callback, consent } = await authorize(url.href, email);
    // A self-registered app: always consent, with where it sends you and that nobody verified it.
    expect(consent).toContain("Test Agent");
    expect(consent).toContain("127.0.0.1:53999");
    expect(consent).toContain("nobody checked who made it");
    await first.finishAuth(callback.searchParams.get("code")!);
    expect(provider.saved?.access_token).toBeTruthy();

    const client = new Client({ name: "test-agent", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name).sort()).toEqual(["add", "whoami"]);
    const result = await client.callTool({ name: "add", arguments: { a: 2, b: 40 } });
    expect(result.content).toEqual([{ type: "text", text: "42" }]);
    const who = await client.callTool({ name: "whoami", arguments: {} });
    expect(JSON.parse((who.content as { text: string }[])[0]!.text)).toMatchObject({ client_id: provider.info?.client_id });
    await client.close();
  });

  it("the example refuses a token issued for another resource, and Gatehouse's own", async () => {
    // A token for another resource: the same flow, with another resource indicator.
    const email = await person();
    const registered = await fetch(`${gatehouse}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": uniqueDevIp() },
      body: JSON.stringify({ client_name: "Other", redirect_uris: [REDIRECT] }),
    });
    expect(registered.status).toBe(201);
    const { client_id } = await registered.json<{ client_id: string }>();
    const verifier = "v".repeat(43);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const challenge = btoa(String.fromCharCode(...digest))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "");
    const authorizeUrl = new URL(`${gatehouse}/oauth/authorize`);
    const params = {
      client_id,
      redirect_uri: REDIRECT,
      response_type: "code",
      code_challenge: challenge,
      code_challenge_method: "S256",
      resource: "https://other.example/mcp",
    };
    for (const [k, v] of Object.entries(params)) authorizeUrl.searchParams.set(k, v);
    const { callback } = await authorize(authorizeUrl.href, email);
    const token = await fetch(`${gatehouse}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id,
        code: callback.searchParams.get("code")!,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      }),
    });
    expect(token.status).toBe(200);
    const { access_token } = await token.json<{ access_token: string }>();
    const call = (bearer: string) =>
      fetch(`${example!.base}/mcp`, {
        method: "POST",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
    const refused = await call(access_token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain(`resource_metadata="${example!.base}/.well-known/oauth-protected-resource"`);
    // Gatehouse's own access token (its API's audience) is no key to the MCP server either.
    const login = await fetch(`${inject("devServer").base}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": uniqueDevIp() },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect((await call((await login.json<{ access_token: string }>()).access_token)).status).toBe(401);
  });
});

describe("dynamic registration refuses", () => {
  const register = (body: unknown, ip = uniqueDevIp()) =>
    fetch(`${gatehouse}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": ip },
      body: JSON.stringify(body),
    });

  it("confidential clients, the implicit grant, javascript: redirect URIs; and more than the per-IP limit", async () => {
    const confidential = await register({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_basic" });
    expect(confidential.status).toBe(400);
    expect(await confidential.json()).toMatchObject({ error: "invalid_client_metadata" });
    const implicit = await register({ redirect_uris: [REDIRECT], grant_types: ["implicit"], response_types: ["token"] });
    expect(implicit.status).toBe(400);
    expect(await implicit.json()).toMatchObject({ error: "invalid_client_metadata" });
    const script = await register({ redirect_uris: ["javascript:alert(1)"] });
    expect(script.status).toBe(400);
    expect(await script.json()).toMatchObject({ error: "invalid_redirect_uri" });
    // `logo_uri` and friends are neither fetched nor kept: the answer carries none of them.
    const ip = uniqueDevIp();
    const ok = await register(
      { redirect_uris: [REDIRECT], client_name: "Logo", logo_uri: "http://127.0.0.1:1/logo.png", client_uri: "http://127.0.0.1:1/" },
      ip,
    );
    expect(ok.status).toBe(201);
    const body = await ok.json<Record<string, unknown>>();
    expect(body).not.toHaveProperty("logo_uri");
    expect(body).not.toHaveProperty("client_uri");
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await register({ redirect_uris: [REDIRECT] }, ip)).status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(9);
    expect(statuses.at(-1)).toBe(429);
  });
});
