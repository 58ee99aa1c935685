import type { Child } from "hono/jsx";
import type { Locale } from "../config/languages";
import type { Entry, FlatCatalogue } from "./tree";
import type { en } from "./en";
import { direction } from "./locales";
import { parseMessage, type Token } from "./message";

/**
 * Turns catalogue keys into text in one locale. Messages are typed from the English source
 * (src/i18n/en.ts): a key that does not exist, or a placeholder it does not have, is a type error.
 *
 * - `text(key, values)` is plain text (mail text, titles, attributes): a value a person or a
 *   provider chose (`person(...)`) is isolated for bidi with FSI…PDI; a slot keeps its inner text.
 * - `rich(key, values, slots)` is for pages: hono/jsx escapes every value; a person's value is a
 *   `<bdi>`; each slot is rendered by the component that passes it (a link, emphasis). No
 *   catalogue text ever goes through raw HTML.
 *
 * Plurals, dates, durations and lists come from the platform (`Intl`), never from concatenation.
 */

type Source = typeof en;
type EntryLike = string | { readonly other: string };

type Paths<T, P extends string = ""> = {
  [K in keyof T & string]: T[K] extends EntryLike ? `${P}${K}` : Paths<T[K], `${P}${K}.`>;
}[keyof T & string];

/** Every message key, dotted. */
export type MessageKey = Paths<Source>;

/** The keys of messages without placeholders (a title, a button), for code that passes a key along. */
export type PlainKey = { [K in MessageKey]: [PlaceholdersOf<EntryAt<K>>] extends [never] ? K : never }[MessageKey];

/** The pages' confirmations after a redirect (`?notice=`). */
export type CatalogueNotice = keyof Source["notices"];

type EntryAt<K extends string, T = Source> = K extends `${infer H}.${infer R}`
  ? H extends keyof T
    ? EntryAt<R, T[H]>
    : never
  : K extends keyof T
    ? T[K]
    : never;

type HolesIn<S> = S extends `${string}{${infer P}}${infer R}` ? P | HolesIn<R> : never;
type SlotsIn<S> = S extends `${string}<${infer N}>${infer R}` ? (N extends `/${string}` ? SlotsIn<R> : N | SlotsIn<R>) : never;
type PlaceholdersOf<E> = E extends string ? HolesIn<E> : E extends { readonly other: infer O } ? HolesIn<O> | "count" : never;
type SlotsOf<E> = E extends string ? SlotsIn<E> : E extends { readonly other: infer O } ? SlotsIn<O> : never;

/** A value a person or a provider chose (a name, an address): isolated for bidi wherever it is shown. */
export class Person {
  constructor(readonly value: string) {}
}

/** Marks a person's or a provider's value (see {@link Person}). */
export const person = (value: string): Person => new Person(value);

type Value = string | number | Person;

/** The values a message needs, by placeholder (`count` is a number for plurals). */
export type ValuesOf<K extends MessageKey> = { [P in PlaceholdersOf<EntryAt<K>>]: P extends "count" ? number : Value };

type Args<K extends MessageKey> = [PlaceholdersOf<EntryAt<K>>] extends [never] ? [values?: Record<string, never>] : [values: ValuesOf<K>];

/** How each slot of a message is rendered on a page, given its inner content. */
export type SlotRenderers<K extends MessageKey> = { [S in SlotsOf<EntryAt<K>>]: (children: Child) => Child };

const FSI = "\u2068";
const PDI = "\u2069";

export class Translator {
  readonly dir: "ltr" | "rtl";
  private readonly plurals: Intl.PluralRules;
  private readonly numbers: Intl.NumberFormat;

  constructor(
    readonly locale: Locale,
    private readonly catalogue: FlatCatalogue,
  ) {
    this.dir = direction(locale);
    this.plurals = new Intl.PluralRules(locale);
    this.numbers = new Intl.NumberFormat(locale);
  }

  /** Plain text of a message. */
  text<K extends MessageKey>(key: K, ...[values]: Args<K>): string {
    const given: Record<string, Value> = values ?? {};
    return this.plain(parseMessage(this.template(key, given)), given);
  }

  /** A message both ways, for mail: its plain text part and its HTML part. */
  line<K extends MessageKey>(key: K, ...[values]: Args<K>): { text: string; html: Child } {
    return { text: this.text(key, ...([values] as Args<K>)), html: this.rich(key, (values ?? null) as ValuesOf<K> | null) };
  }

  /**
   * Plain text of a key known only at run time (a notice named in a URL, a reason a service gave),
   * or null when the catalogue has no such message.
   */
  maybe(key: string, values: Record<string, Value> = {}): string | null {
    if (!this.catalogue.has(key)) return null;
    return this.plain(parseMessage(this.template(key, values)), values);
  }

  /** A message as page content: values escaped, people's values in `<bdi>`, slots rendered by `slots`. */
  rich<K extends MessageKey>(key: K, values?: ValuesOf<K> | null, slots?: SlotRenderers<K>): Child {
    const given: Record<string, Value> = values ?? {};
    return this.nodes(parseMessage(this.template(key, given)), given, slots ?? {});
  }

  /** A moment as people here write it, in UTC (the pages run no script that could know the reader's zone). */
  date(at: Date | string): string {
    // dateStyle/timeStyle cannot be combined with timeZoneName, hence the components.
    const parts = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" } as const;
    return new Intl.DateTimeFormat(this.locale, { ...parts, timeZone: "UTC", timeZoneName: "short" }).format(
      typeof at === "string" ? new Date(at) : at,
    );
  }

  /** How long ago (or how far ahead) a moment is: "3 hours ago", "vor 3 Stunden", "3 時間前". */
  relative(at: Date | string, now: Date): string {
    const seconds = ((typeof at === "string" ? new Date(at) : at).getTime() - now.getTime()) / 1000;
    const magnitude = Math.abs(seconds);
    const [value, unit]: [number, Intl.RelativeTimeFormatUnit] =
      magnitude < 60
        ? [seconds, "second"]
        : magnitude < 3600
          ? [seconds / 60, "minute"]
          : magnitude < 86_400
            ? [seconds / 3600, "hour"]
            : magnitude < 30 * 86_400
              ? [seconds / 86_400, "day"]
              : magnitude < 365 * 86_400
                ? [seconds / (30 * 86_400), "month"]
                : [seconds / (365 * 86_400), "year"];
    return new Intl.RelativeTimeFormat(this.locale, { numeric: "auto" }).format(Math.round(value), unit);
  }

  /** A wait, rounded up to seconds, minutes or hours: "2 minutes", "2 Minuten", "2 分". */
  duration(seconds: number): string {
    const s = Math.max(1, Math.ceil(seconds));
    const [value, unit] = s < 90 ? [s, "second"] : s < 90 * 60 ? [Math.ceil(s / 60), "minute"] : [Math.ceil(s / 3600), "hour"];
    return new Intl.NumberFormat(this.locale, { style: "unit", unit, unitDisplay: "long" }).format(value);
  }

  /** Items joined as people here list them ("a, b and c"). */
  list(items: string[]): string {
    return new Intl.ListFormat(this.locale, { style: "long", type: "conjunction" }).format(items);
  }

  private template(key: string, values: Record<string, Value>): string {
    const entry: Entry | undefined = this.catalogue.get(key);
    if (entry === undefined) throw new Error(`no message ${key}`);
    if (typeof entry === "string") return entry;
    const count = Number(values.count ?? 0);
    return entry[this.plurals.select(count)] ?? entry.other;
  }

  private value(value: Value | undefined): string {
    if (value === undefined) return "";
    if (typeof value === "number") return this.numbers.format(value);
    return value instanceof Person ? value.value : value;
  }

  private plain(tokens: Token[], values: Record<string, Value>): string {
    return tokens
      .map((token) => {
        if (token.kind === "text") return token.text;
        if (token.kind === "slot") return this.plain(token.children, values);
        const value = values[token.name];
        return value instanceof Person ? `${FSI}${value.value}${PDI}` : this.value(value);
      })
      .join("");
  }

  private nodes(tokens: Token[], values: Record<string, Value>, slots: Record<string, (children: Child) => Child>): Child[] {
    return tokens.map((token) => {
      if (token.kind === "text") return token.text;
      if (token.kind === "slot") {
        const inner = this.nodes(token.children, values, slots);
        const render = slots[token.name];
        return render ? render(inner) : inner;
      }
      const value = values[token.name];
      return value instanceof Person ? <bdi>{value.value}</bdi> : this.value(value);
    });
  }
}
