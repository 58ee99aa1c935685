import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";

/** Exact rate limits and lockout counters, one object per client IP and one per account. */
export class RateLimiter extends DurableObject<Bindings> {}
