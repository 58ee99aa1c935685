import { hasStrayMarkup, holesOf } from "./message.ts";
import type { Entry, FlatCatalogue } from "./tree.ts";

/**
 * The rules a catalogue and an operator's overrides must keep (the CI check of the shipped
 * catalogues, `npm run i18n`, `npm run preflight` and the loader all use these; Node runs this file
 * and message.ts as they are, hence the `.ts` in their imports): every source key
 * present, no other key, the same placeholders and slots as the English source in every text, no
 * markup, a bounded length, and mail subjects on one line.
 */

/** The longest text of an override; shipped texts are reviewed, overrides are the operator's. */
export const MAX_OVERRIDE_LENGTH = 1000;

const isSubject = (key: string) => key.startsWith("mail.") && key.endsWith(".subject");

function texts(entry: Entry): string[] {
  return typeof entry === "string" ? [entry] : Object.values(entry).filter((t): t is string => typeof t === "string");
}

/** What is wrong with one text of `key`, measured against the source's text. */
function textProblem(key: string, text: string, source: string): string | null {
  const want = holesOf(source);
  const have = holesOf(text);
  if (hasStrayMarkup(text)) return `${key}: markup or braces other than the source's placeholders and slots`;
  // A plural form may leave the count out ("one hour"), so a missing placeholder is allowed there; a new one never is.
  if (have.placeholders.some((p) => !want.placeholders.includes(p)))
    return `${key}: placeholders ${have.placeholders.join(", ")} are not the source's (${want.placeholders.join(", ")})`;
  if (have.slots.join() !== want.slots.join())
    return `${key}: slots ${have.slots.join(", ")} are not the source's (${want.slots.join(", ")})`;
  if (isSubject(key) && /[\r\n]/.test(text)) return `${key}: a mail subject must be one line`;
  return null;
}

/** Problems of a whole shipped catalogue against the source: missing or extra keys, bad texts. */
export function catalogueProblems(catalogue: FlatCatalogue, source: FlatCatalogue, locale: string): string[] {
  const problems: string[] = [];
  const plural = new Intl.PluralRules(locale).resolvedOptions().pluralCategories;
  for (const [key, sourceEntry] of source) {
    const entry = catalogue.get(key);
    if (entry === undefined) {
      problems.push(`${key}: missing`);
      continue;
    }
    if (typeof sourceEntry === "string") {
      if (typeof entry !== "string") problems.push(`${key}: a plural where the source has one text`);
      else {
        const problem = textProblem(key, entry, sourceEntry);
        if (problem) problems.push(problem);
        // Outside plurals every placeholder must stay.
        if (holesOf(entry).placeholders.join() !== holesOf(sourceEntry).placeholders.join())
          problems.push(`${key}: placeholders differ from the source's`);
      }
      continue;
    }
    if (typeof entry === "string") {
      problems.push(`${key}: one text where the source has a plural`);
      continue;
    }
    for (const category of plural) if (!entry[category]) problems.push(`${key}: no "${category}" form for ${locale}`);
    for (const text of texts(entry)) {
      const problem = textProblem(key, text, sourceEntry.other);
      if (problem) problems.push(problem);
    }
  }
  for (const key of catalogue.keys()) if (!source.has(key)) problems.push(`${key}: not in the source`);
  return problems;
}

/** An operator's overrides for one locale: the accepted texts, and why the others were refused. */
export function validateOverrides(
  raw: unknown,
  source: FlatCatalogue,
  locale: string,
): { accepted: Map<string, string>; problems: string[] } {
  const accepted = new Map<string, string>();
  const problems: string[] = [];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    return { accepted, problems: [`${locale}: overrides must be a JSON object of dotted keys to texts`] };
  for (const [key, text] of Object.entries(raw)) {
    const sourceEntry = source.get(key);
    if (sourceEntry === undefined) problems.push(`${key}: no such message`);
    else if (typeof sourceEntry !== "string") problems.push(`${key}: a plural message; override it in the shipped catalogue`);
    else if (typeof text !== "string") problems.push(`${key}: not a text`);
    else if (text.length === 0 || text.length > MAX_OVERRIDE_LENGTH) problems.push(`${key}: 1 to ${MAX_OVERRIDE_LENGTH} characters`);
    else if (holesOf(text).placeholders.join() !== holesOf(sourceEntry).placeholders.join())
      problems.push(`${key}: placeholders differ from the source's`);
    else {
      const problem = textProblem(key, text, sourceEntry);
      if (problem) problems.push(problem);
      else accepted.set(key, text);
    }
  }
  return { accepted, problems };
}
