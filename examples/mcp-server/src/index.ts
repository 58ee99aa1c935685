import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import { z } from "zod";

/**
 * An MCP server (Streamable HTTP, stateless) whose authorization server is Gatehouse:
 * - `GET /.well-known/oauth-protected-resource` (RFC 9728) names this resource and Gatehouse;
 * - `/mcp` needs a Gatehouse access token issued for this resource: RFC 9068 form (`typ: at+jwt`),
 *   Gatehouse's issuer, `aud` = this resource (RFC 8707), checked offline against its JWKS;
 *   anything else gets 401 with the metadata's address in `WWW-Authenticate`, which is how MCP
 *   clients find where to sign in.
 * The JSON Schema validator is @cfworker/json-schema's: the SDK's default (ajv) compiles code at
 * run time, which workerd forbids.
 */

interface Env {
  MCP_PUBLIC_URL: string;
  GATEHOUSE_ISSUER: string;
  GATEHOUSE_JWKS_URL: string;
}

let keys: { url: string; set: ReturnType<typeof createRemoteJWKSet> } | undefined;

function jwks(env: Env) {
  if (keys?.url !== env.GATEHOUSE_JWKS_URL)
    keys = { url: env.GATEHOUSE_JWKS_URL, set: createRemoteJWKSet(new URL(env.GATEHOUSE_JWKS_URL)) };
  return keys.set;
}

const base = (env: Env) => env.MCP_PUBLIC_URL.replace(/\/+$/, "");
const resourceOf = (env: Env) => `${base(env)}/mcp`;

/** The access token's claims when it is Gatehouse's, for this resource, and live by its expiry; else null. */
async function caller(request: Request, env: Env): Promise<JWTPayload | null> {
  const header = request.headers.get("authorization") ?? "";
  const token = /^Bearer (\S+)$/i.exec(header)?.[1];
  if (!token) return null;
  try {
    const { payload } = await jwtVerify(token, jwks(env), {
      issuer: env.GATEHOUSE_ISSUER.replace(/\/+$/, ""),
      audience: resourceOf(env),
      typ: "at+jwt",
      algorithms: ["ES256", "RS256", "EdDSA"],
    });
    return payload;
  } catch {
    return null;
  }
}

function unauthorized(env: Env): Response {
  const metadata = `${base(env)}/.well-known/oauth-protected-resource`;
  return Response.json(
    { error: "invalid_token", error_description: "A Gatehouse access token for this server is required." },
    { status: 401, headers: { "WWW-Authenticate": `Bearer resource_metadata="${metadata}"` } },
  );
}

/** One server per request (stateless): the tools see who called. */
function serverFor(who: JWTPayload): McpServer {
  const server = new McpServer(
    { name: "gatehouse-mcp-example", version: "1.0.0" },
    { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
  );
  server.registerTool("whoami", { description: "Who the access token says is calling, and with which scopes.", inputSchema: {} }, () => ({
    content: [{ type: "text", text: JSON.stringify({ sub: who.sub, client_id: who.client_id, scope: who.scope }) }],
  }));
  server.registerTool("add", { description: "Adds two numbers.", inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({
    content: [{ type: "text", text: String(a + b) }],
  }));
  return server;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/.well-known/oauth-protected-resource" || url.pathname === "/.well-known/oauth-protected-resource/mcp") {
      return Response.json({
        resource: resourceOf(env),
        authorization_servers: [env.GATEHOUSE_ISSUER.replace(/\/+$/, "")],
        bearer_methods_supported: ["header"],
        resource_name: "Gatehouse MCP example",
      });
    }
    if (url.pathname !== "/mcp") return new Response("Not found", { status: 404 });
    const who = await caller(request, env);
    if (!who) return unauthorized(env);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await serverFor(who).connect(transport);
    return transport.handleRequest(request);
  },
};
