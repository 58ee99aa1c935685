import type { User } from "../db/schema";
import type { AccountIdentifier } from "../db/users";
import { clientKey } from "./client-key";

/**
 * Names of the RateLimiter objects: `ip:<client key>` (see client-key.ts) and
 * `account:<identifier>`, where the identifier is the normalized email or the lower-cased username,
 * whether or not such an account exists, so answers never reveal which accounts exist. Per user
 * (`user:<id>`), device (`device:<id>`), trusted session (`session:<id>`), API key and mailbox
 * objects are named where they are used.
 */

/** Durable Object name for a client IP. */
export function ipObjectName(ip: string | null): string {
  return `ip:${clientKey(ip)}`;
}

/** Durable Object name for a login identifier (emails always contain "@", usernames never do). */
export function accountObjectName(identifier: AccountIdentifier): string {
  const value = "email" in identifier ? identifier.email.trim().normalize("NFC").toLowerCase() : identifier.username.trim().toLowerCase();
  return `account:${value}`;
}

/** An identifier for every way `user` can log in (email, and username when set). */
export function identifiersOf(user: Pick<User, "email" | "username">): AccountIdentifier[] {
  return user.username ? [{ email: user.email }, { username: user.username }] : [{ email: user.email }];
}

/** Audit rows name the kind of identifier only: a mistyped "email" may be a password. */
export function identifierKind(identifier: AccountIdentifier): "email" | "username" {
  return "email" in identifier ? "email" : "username";
}
