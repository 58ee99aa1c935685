import { Hono } from "hono";
import { expectTypeOf } from "vitest";
import type { ErrorCode } from "../src/errors";
import type { OAuthAccessClaims } from "../src/oidc/tokens";
import type { AccessTokenClaims } from "../src/sessions/access-tokens";
import { gatehouse, gatehouseOptional } from "../src/sdk/hono";
import { createVerifier, type OAuthClaims, type SessionClaims, type Verifier, type VerifyErrorCode } from "../src/sdk/server";

/**
 * The SDK's types follow the worker's (src/sdk takes them from its declarations): a compile-time
 * check only, like test/client-types.test-d.ts; `npm run typecheck` fails when they drift.
 */

// The claims are at least what the worker itself reads from its tokens.
expectTypeOf<SessionClaims>().toExtend<AccessTokenClaims>();
expectTypeOf<OAuthClaims>().toExtend<OAuthAccessClaims>();
expectTypeOf<SessionClaims["sub"]>().toEqualTypeOf<string>();
expectTypeOf<OAuthClaims["client_id"]>().toEqualTypeOf<string>();

// Every code the SDK answers with is in Gatehouse's one catalogue (a renamed code would drop out of the Extract).
expectTypeOf<VerifyErrorCode>().toEqualTypeOf<
  "authentication_required" | "invalid_token" | "token_expired" | "token_revoked" | "service_unavailable"
>();
expectTypeOf<VerifyErrorCode>().toExtend<ErrorCode>();

// `accept` decides the claims' type.
const issuer = "https://auth.example.com";
expectTypeOf(createVerifier({ issuer, audience: "gatehouse" })).toEqualTypeOf<Verifier<"session">>();
expectTypeOf(
  createVerifier({ issuer, audience: "https://api.example.com", accept: "oauth" }),
).returns.resolves.toEqualTypeOf<OAuthClaims>();
expectTypeOf(createVerifier({ issuer, audience: "https://api.example.com", accept: "any" })).returns.resolves.toEqualTypeOf<
  SessionClaims | OAuthClaims
>();

// The middleware types c.var.gatehouse for the handlers after it.
new Hono().get("/me", gatehouse({ issuer, audience: "gatehouse" }), (c) => {
  expectTypeOf(c.var.gatehouse).toEqualTypeOf<SessionClaims>();
  return c.text("ok");
});
new Hono().get("/feed", gatehouseOptional({ issuer, audience: "https://api.example.com", accept: "oauth" }), (c) => {
  expectTypeOf(c.var.gatehouse).toEqualTypeOf<OAuthClaims | undefined>();
  return c.text("ok");
});
