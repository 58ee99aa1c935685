import type { z } from "@hono/zod-openapi";
import { expectTypeOf } from "vitest";
import type { EmailCodeBody, LoginBody, Message, RegisterBody, Session, User } from "../src/client/types";
import type { emailCodeVerifyBody, loginBody, MessageSchema, registerBody, TokenResponseSchema, UserSchema } from "../src/web/schemas";

/**
 * The browser client's types (src/client/types.ts) match the API's schemas. A compile-time check
 * only: `npm run typecheck` fails when they drift; at run time these calls assert nothing, so this
 * is no `*.test.ts` and `npm test` does not load it (vitest's naming for type tests, `*.test-d.ts`).
 */

expectTypeOf<User>().toEqualTypeOf<z.output<typeof UserSchema>>();
// Cookie mode: the TokenResponse without the refresh token, which only the cookie carries.
expectTypeOf<Session>().toEqualTypeOf<Required<Omit<z.output<typeof TokenResponseSchema>, "refresh_token">>>();
expectTypeOf<Message>().toEqualTypeOf<z.output<typeof MessageSchema>>();
expectTypeOf<RegisterBody>().toExtend<z.input<typeof registerBody>>();
expectTypeOf<LoginBody>().toExtend<z.input<typeof loginBody>>();
expectTypeOf<EmailCodeBody>().toExtend<z.input<typeof emailCodeVerifyBody>>();
