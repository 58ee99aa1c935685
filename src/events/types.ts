/** The event types Gatehouse sends (the HTTP contract "Events"); the names are contract. */
export const EVENT_TYPES = [
  "user.created",
  "user.verified",
  "user.updated",
  "user.email_changed",
  "user.deactivated",
  "user.reactivated",
  "user.deleted",
  "session.revoked",
  "security.alert",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * What an event says. Ids, the address where it matters, and why: never a secret, a token, a hash
 * or an IP address (receivers log bodies).
 */
export type EventData = Record<string, string | number | boolean | null | string[]>;
