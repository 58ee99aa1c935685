import { z } from "zod";

/**
 * The one place a variable is declared: its schema (which carries the default), where an operator
 * puts it, and what the configuration reference (docs/configuration.md) says about it. Everything
 * else (the binding type, the parsed values, that reference's table) is derived, so a new variable
 * touches one section.
 */

/** One variable or secret of the worker's environment. */
export interface Variable<S extends z.ZodType = z.ZodType> {
  /** `var`: wrangler.toml `[vars]` or the dashboard; `secret`: `wrangler secret put`. */
  kind: "var" | "secret";
  /** Parses the raw string (absent when unset or empty); its output for "unset" is the default. */
  schema: S;
  /** What it does, for operators: one paragraph of markdown (the configuration reference's last column). */
  doc: string;
  /** The default column, when the schema's own output for "unset" would say too little. */
  shown?: string;
  /** Said in parentheses after the default, e.g. `15 min` after `900`. */
  note?: string;
}

/** A section's declarations, by variable name. */
export type Variables = Record<string, Variable>;

/** What a section's variables parse to. */
export type Values<V extends Variables> = { [K in keyof V]: z.output<V[K]["schema"]> };

/** A group of variables of one concern, and how they become their part of `Config`. */
export interface Section<V extends Variables = Variables, R extends object = object, U extends Variables = Variables> {
  variables: V;
  /**
   * Variables another section declares (and the configuration reference lists there) that this
   * one's `read` also needs, e.g. DEV_OUTBOX for what only dev mode allows. Typed here, parsed once.
   */
  uses?: U;
  /** Builds this section's part of `Config`; throws {@link ConfigError} on a bad combination. */
  read(values: Values<V & U>): R;
}

/** Declares a section; the identity function, there so `read` gets its values typed from `variables`. */
export function defineSection<V extends Variables, R extends object, U extends Variables = Record<never, Variable>>(
  section: Section<V, R, U>,
): Section<V, R, U> {
  return section;
}

/** A variable that does not parse, or variables that do not go together. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A switch: `true`/`1` or `false`/`0`/empty; off when unset. */
export const flag = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((v) => v === "true" || v === "1");

/** A switch that is on unless set to `false`/`0`. */
export const flagOn = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((v) => v !== "false" && v !== "0");

/** A whole number of seconds (or days) with a floor, and its default. */
export const seconds = (fallback: number, min = 1) => z.coerce.number().int().min(min).default(fallback);
