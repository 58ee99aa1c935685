import { z } from "@hono/zod-openapi";
import type { User } from "../db/schema";

const isoTime = z.string().openapi({ format: "date-time", example: "2026-11-22T10:00:00.000Z" });

/**
 * The public shape of a user (the contract's "UserResponse"): never a hash, salt or token. Declared
 * once: the OpenAPI document, the services and the browser client's types all derive from it.
 */
export const UserResponseSchema = z
  .strictObject({
    id: z.string(),
    email: z.string(),
    username: z.string().nullable(),
    full_name: z.string(),
    is_active: z.boolean(),
    is_verified: z.boolean(),
    created_at: isoTime,
    updated_at: isoTime,
    last_login_at: isoTime.nullable(),
    locale: z
      .string()
      .nullable()
      .openapi({ description: "The language chosen for pages and mail (BCP 47), or null: as the browser asks." }),
  })
  .openapi("User");

export type UserResponse = z.output<typeof UserResponseSchema>;

export function toUserResponse(user: User): UserResponse {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    full_name: user.fullName,
    is_active: user.isActive,
    is_verified: user.emailVerified,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
    last_login_at: user.lastLoginAt?.toISOString() ?? null,
    locale: user.locale,
  };
}
