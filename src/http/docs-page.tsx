import type { FC } from "hono/jsx";
import { Markdown, renderInline } from "./docs-markdown";

/**
 * `GET /docs`: a readable reference rendered on the server from the OpenAPI document itself, so it
 * cannot drift from the contract and needs no network beyond the worker (no CDN, no script). The
 * descriptions' Markdown is rendered safely (docs-markdown.tsx); the page follows the reader's
 * light or dark scheme and fits a phone (long paths and tables wrap inside their own width).
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
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: JsonSchema }> }>;
}

export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

/** The stylesheet; its hash goes into the page's Content-Security-Policy. Contrast is AA or better in both schemes. */
export const DOCS_STYLE = `:root{color-scheme:light dark;--bg:#fff;--fg:#1a1a1a;--muted:#545b63;--line:#c9d1d9;--code:#f1f3f5;--link:#0b57d0}
@media (prefers-color-scheme:dark){:root{--bg:#0e1115;--fg:#e6e9ed;--muted:#a7b0ba;--line:#3d4550;--code:#1c2128;--link:#8ab4f8}}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;background:var(--bg);color:var(--fg);overflow-wrap:break-word}
a{color:var(--link)}h1{font-size:1.6rem;margin:1rem 0 .5rem}
h2{border-bottom:1px solid var(--line);margin-top:2.5rem}h3{margin:1.5rem 0 .25rem;font-size:1rem;overflow-wrap:anywhere}
code,.path{font-family:ui-monospace,monospace}code{font-size:.9em;background:var(--code);border-radius:.25rem;padding:0 .2rem;overflow-wrap:anywhere}
.method{display:inline-block;min-width:4rem;font-weight:700}
table{border-collapse:collapse;margin:.25rem 0 .75rem;max-width:100%}
td,th{border:1px solid var(--line);padding:.2rem .5rem;text-align:start;vertical-align:top}
th,.type,td code.name{overflow-wrap:normal}.nowrap{white-space:nowrap}.required{display:block;font-size:.8em;color:var(--muted)}
td>p:first-child{margin-top:0}td>p:last-child{margin-bottom:0}td ul{padding-inline-start:1.2rem;margin:.25rem 0}
.note{color:var(--muted)}nav ul{columns:2 12rem}
@media (max-width:40rem){body{padding:.75rem}td,th{padding:.15rem .3rem}.method{min-width:0;margin-inline-end:.35rem}}`;

const METHODS = ["get", "post", "put", "patch", "delete"];

function resolve(doc: OpenApiDocument, schema: JsonSchema | undefined): JsonSchema | undefined {
  if (!schema?.$ref) return schema;
  return doc.components?.schemas?.[schema.$ref.replace("#/components/schemas/", "")];
}

/** Where a name may wrap: after an underscore or a dot, and between a lower-case letter and a capital. */
const WORD_BREAKS = /(?<=[_.])|(?<=[a-z])(?=[A-Z])/;

/**
 * Text that wraps only between the words of its names (`device_<wbr>token`,
 * `pubKey<wbr>Cred<wbr>Params`), never mid-word: names and type labels in narrow columns.
 */
const Breakable: FC<{ text: string }> = ({ text }) => (
  <>
    {text.split(WORD_BREAKS).map((part, i) => (
      <>
        {i > 0 ? <wbr /> : null}
        {part}
      </>
    ))}
  </>
);

/** A field or parameter name, and "required" under it when it is. */
const Name: FC<{ name: string; required: boolean }> = ({ name, required }) => (
  <>
    <code class="name">
      <Breakable text={name} />
    </code>
    {required ? <span class="required">required</span> : null}
  </>
);

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
        <th>notes</th>
      </tr>
      {properties.map(([name, field]) => (
        <tr>
          <td>
            <Name name={name} required={resolved?.required?.includes(name) ?? false} />
          </td>
          <td class="type">
            <Breakable text={typeLabel(doc, field)} />
          </td>
          <td>
            <Markdown text={field.description} tight />
          </td>
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
        <strong>{renderInline(op.summary ?? "")}</strong>
      </p>
      <Markdown text={op.description} />
      {schemes.length > 0 && <p class="note">Credential: {schemes.join(" or ")} (Authorization: Bearer …)</p>}
      {op.parameters?.length ? (
        <table>
          <tr>
            <th>parameter</th>
            <th>in</th>
            <th>type</th>
            <th>notes</th>
          </tr>
          {op.parameters.map((p) => (
            <tr>
              <td>
                <Name name={p.name} required={p.required ?? false} />
              </td>
              <td>{p.in}</td>
              <td class="type">
                <Breakable text={typeLabel(doc, p.schema)} />
              </td>
              <td>
                <Markdown text={p.description} tight />
              </td>
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
              <td class="nowrap">{status}</td>
              <td>
                <Markdown text={response.description} tight />
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
          <Markdown text={doc.info.description} />
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
