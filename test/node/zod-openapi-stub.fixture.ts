import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";

// Routes declared the way src/http/routes declare theirs, for test/node/zod-openapi-stub.test.ts:
// bundled once with the real @asteasolutions/zod-to-openapi and once with the bundle's stub.

const Credentials = z
  .strictObject({
    email: z.email().max(254).openapi({ example: "ada@example.com" }),
    password: z.string().min(8).max(128).openapi({ description: "The password." }),
  })
  .openapi("Credentials");
const WithName = Credentials.extend({ full_name: z.string().trim().min(1).max(100).optional().openapi({ description: "A name." }) });

const app = new OpenAPIHono({
  defaultHook: (result, c) =>
    result.success ? undefined : c.json({ refused: result.error.issues.map((i) => [i.path.join("."), i.code]) }, 422),
});
const ok = { 200: { description: "ok", content: { "application/json": { schema: z.unknown() } } } };

app.openapi(
  createRoute({
    method: "post",
    path: "/required",
    request: { body: { required: true, content: { "application/json": { schema: WithName } } } },
    responses: ok,
  }),
  (c) => c.json({ got: c.req.valid("json") }, 200),
);
app.openapi(
  createRoute({
    method: "post",
    path: "/optional",
    request: {
      body: { required: false, content: { "application/json": { schema: z.object({ note: z.string().max(5).default("none") }) } } },
    },
    responses: ok,
  }),
  (c) => c.json({ got: c.req.valid("json") }, 200),
);
app.openapi(
  createRoute({
    method: "get",
    path: "/items/{id}",
    request: {
      params: z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) }),
      query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), state: z.enum(["a", "b"]).optional() }),
      headers: z.object({ "x-trace": z.string().regex(/^\w+$/).optional() }),
    },
    responses: ok,
  }),
  (c) => c.json({ params: c.req.valid("param"), query: c.req.valid("query"), headers: c.req.valid("header") }, 200),
);

export default app;
