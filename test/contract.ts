import type { ZodType } from "zod";
import { app } from "../src/app";
import { referenceDefinitions } from "../src/http/reference-document";

/**
 * The OpenAPI contract as the tests see it: the route declarations the app was built from (the
 * same objects that generate /openapi.json, src/http/reference-document.tsx). `call()` checks every response against them, so the
 * whole integration suite doubles as a contract test. ajv cannot run inside workerd (it compiles
 * with `new Function`), so the route's own zod schemas do the validating.
 */

interface DeclaredResponse {
  description: string;
  content?: Record<string, { schema: ZodType }>;
}

export interface DeclaredRoute {
  method: string;
  /** OpenAPI form: `/api/v1/users/me/sessions/{id}`. */
  path: string;
  pattern: RegExp;
  responses: Record<string, DeclaredResponse>;
}

export const declaredRoutes: DeclaredRoute[] = referenceDefinitions(app).flatMap((definition) => {
  if (definition.type !== "route") return [];
  const { method, path, responses } = definition.route;
  const pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`);
  return [{ method: method.toUpperCase(), path, pattern, responses: responses as Record<string, DeclaredResponse> }];
});

function findRoute(method: string, pathname: string): DeclaredRoute | undefined {
  const candidates = declaredRoutes.filter((r) => r.method === method && r.pattern.test(pathname));
  // A literal path beats a templated one.
  return candidates.find((r) => !r.path.includes("{")) ?? candidates[0];
}

/**
 * Throws unless `response` is one the route declares: its status is listed, and a JSON or
 * problem+json body matches that status's schema (for problems: the route's own list of codes).
 * Requests to undeclared routes or methods (404/405 tests) are not checked here.
 */
export async function assertMatchesContract(request: Request, response: Response): Promise<void> {
  const method = request.method === "HEAD" ? "GET" : request.method;
  const route = findRoute(method, new URL(request.url).pathname);
  if (!route || request.method === "OPTIONS") return;
  const where = `${request.method} ${route.path} → ${response.status}`;
  const declared = route.responses[String(response.status)];
  if (!declared) throw new Error(`${where}: status not declared in the OpenAPI document`);
  const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  if (!declared.content) {
    if (response.body !== null && mediaType !== "") throw new Error(`${where}: declared without a body, answered ${mediaType}`);
    return;
  }
  const content = declared.content[mediaType];
  if (!content) throw new Error(`${where}: media type ${mediaType} not declared`);
  if (!mediaType.endsWith("json")) return;
  // NDJSON (an export): every line is one document of the declared schema.
  const bodies: unknown[] =
    mediaType === "application/x-ndjson"
      ? new TextDecoder()
          .decode(await response.clone().arrayBuffer())
          .split("\n")
          .filter((line) => line !== "")
          .map((line) => JSON.parse(line) as unknown)
      : [await response.clone().json()];
  for (const body of bodies) {
    const result = content.schema.safeParse(body);
    if (!result.success) {
      const issues = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
      throw new Error(`${where}: body does not match its schema (${issues}): ${JSON.stringify(body).slice(0, 300)}`);
    }
  }
}
