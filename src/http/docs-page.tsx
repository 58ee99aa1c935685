import type { FC } from "hono/jsx";

/**
 * `GET /docs`: a readable reference rendered on the server from the OpenAPI document itself, so it
 * cannot drift from the contract and needs no network beyond the worker (no CDN, no script).
 */

interface JsonSchema {
  type?: string | string[];
  $ref?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  description?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, unknown>[];
  parameters?: { name: string; in: string; required?: boolean; schema?: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: JsonSchema }> }>;
}

export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

/** The stylesheet; its hash goes into the page's Content-Security-Policy. */
export const DOCS_STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
h2{border-bottom:1px solid #ccc;margin-top:2.5rem}h3{margin:1.5rem 0 .25rem;font-size:1rem}
code,.path{font-family:ui-monospace,monospace}.method{display:inline-block;min-width:4rem;font-weight:700}
table{border-collapse:collapse;margin:.25rem 0 .75rem}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
.note{color:#555}nav ul{columns:2}`;

const METHODS = ["get", "post", "put", "patch", "delete"];

function resolve(doc: OpenApiDocument, schema: JsonSchema | undefined): JsonSchema | undefined {
  if (!schema?.$ref) return schema;
  return doc.components?.schemas?.[schema.$ref.replace("#/components/schemas/", "")];
}

/** A compact type label: `string (email, ≤254)`, `array of Session`, `"a" | "b"`. */
function typeLabel(doc: OpenApiDocument, schema: JsonSchema | undefined): string {
  if (!schema) return "any";
  if (schema.$ref) return schema.$ref.replace("#/components/schemas/", "");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.anyOf) return schema.anyOf.map((s) => typeLabel(doc, s)).join(" or ");
  const type = Array.isArray(schema.type) ? schema.type.join(" or ") : (schema.type ?? "object");
  if (type === "array") return `array of ${typeLabel(doc, schema.items)}`;
  const limits = [
    schema.format,
    schema.minLength !== undefined ? `≥${schema.minLength} chars` : undefined,
    schema.maxLength !== undefined ? `≤${schema.maxLength} chars` : undefined,
    schema.minimum !== undefined ? `≥${schema.minimum}` : undefined,
    schema.maximum !== undefined ? `≤${schema.maximum}` : undefined,
  ].filter(Boolean);
  return limits.length ? `${type} (${limits.join(", ")})` : type;
}

const Fields: FC<{ doc: OpenApiDocument; schema: JsonSchema | undefined }> = ({ doc, schema }) => {
  const resolved = resolve(doc, schema);
  const properties = Object.entries(resolved?.properties ?? {});
  if (properties.length === 0) return <p class="note">{typeLabel(doc, schema)}</p>;
  return (
    <table>
      <tr>
        <th>field</th>
        <th>type</th>
        <th>required</th>
        <th>notes</th>
      </tr>
      {properties.map(([name, field]) => (
        <tr>
          <td>
            <code>{name}</code>
          </td>
          <td>{typeLabel(doc, field)}</td>
          <td>{resolved?.required?.includes(name) ? "yes" : "no"}</td>
          <td>{field.description ?? ""}</td>
        </tr>
      ))}
    </table>
  );
};

const OperationView: FC<{ doc: OpenApiDocument; method: string; path: string; op: Operation }> = ({ doc, method, path, op }) => {
  const body = op.requestBody?.content?.["application/json"]?.schema;
  const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
  return (
    <section id={`${method}-${path}`}>
      <h3>
        <span class="method">{method.toUpperCase()}</span> <span class="path">{path}</span>
      </h3>
      <p>
        <strong>{op.summary}</strong>
        {op.description ? ` — ${op.description}` : ""}
      </p>
      {schemes.length > 0 && <p class="note">Credential: {schemes.join(" or ")} (Authorization: Bearer …)</p>}
      {op.parameters?.length ? (
        <table>
          <tr>
            <th>parameter</th>
            <th>in</th>
            <th>type</th>
            <th>required</th>
          </tr>
          {op.parameters.map((p) => (
            <tr>
              <td>
                <code>{p.name}</code>
              </td>
              <td>{p.in}</td>
              <td>{typeLabel(doc, p.schema)}</td>
              <td>{p.required ? "yes" : "no"}</td>
            </tr>
          ))}
        </table>
      ) : null}
      {body && (
        <>
          <p>Request body (JSON):</p>
          <Fields doc={doc} schema={body} />
        </>
      )}
      <p>Responses:</p>
      <table>
        {Object.entries(op.responses ?? {}).map(([status, response]) => {
          const success = status.startsWith("2");
          const schema = response.content?.["application/json"]?.schema;
          return (
            <tr>
              <td>{status}</td>
              <td>
                {response.description}
                {success && schema ? <Fields doc={doc} schema={schema} /> : null}
              </td>
            </tr>
          );
        })}
      </table>
    </section>
  );
};

/** The whole reference page, grouped by tag in the document's order. */
export const DocsPage: FC<{ doc: OpenApiDocument }> = ({ doc }) => {
  const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method]! })),
  );
  const tags = [...new Set(operations.map((o) => o.op.tags?.[0] ?? "Other"))];
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{doc.info.title} API reference</title>
        <style dangerouslySetInnerHTML={{ __html: DOCS_STYLE }} />
      </head>
      <body>
        <header>
          <h1>
            {doc.info.title} {doc.info.version}
          </h1>
          <p>{doc.info.description}</p>
          <p>
            Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Errors are <code>application/problem+json</code> with
            a stable <code>code</code>.
          </p>
        </header>
        <nav aria-label="Sections">
          <ul>
            {tags.map((tag) => (
              <li>
                <a href={`#${tag}`}>{tag}</a>
              </li>
            ))}
          </ul>
        </nav>
        <main>
          {tags.map((tag) => (
            <>
              <h2 id={tag}>{tag}</h2>
              {operations
                .filter((o) => (o.op.tags?.[0] ?? "Other") === tag)
                .map((o) => (
                  <OperationView doc={doc} method={o.method} path={o.path} op={o.op} />
                ))}
            </>
          ))}
        </main>
      </body>
    </html>
  );
};
