import { z } from "zod";
import { defineSection } from "./define";

/**
 * The languages the hosted pages and mail speak: the shipped locales (a catalogue each in
 * assets/locales/) and DEFAULT_LOCALE, the last resort of the negotiation (src/i18n/locales.ts).
 */

/** Every shipped locale; `en` is the source every other catalogue is checked against. */
export const SHIPPED_LOCALES = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ja", "zh", "ko", "ar"] as const;

export type Locale = (typeof SHIPPED_LOCALES)[number];

export const languages = defineSection({
  variables: {
    DEFAULT_LOCALE: {
      kind: "var",
      schema: z.enum(SHIPPED_LOCALES).default("en"),
      doc: `the language of pages and mail when nothing else decides (\`?lang=\`, the \`gh_lang\` cookie, the account's \`locale\`, \`Accept-Language\` come first); one of ${SHIPPED_LOCALES.map((l) => `\`${l}\``).join(", ")} (see "Languages")`,
    },
  },
  read: (v) => ({
    /** The language when neither the request nor the account names a shipped one. */
    defaultLocale: v.DEFAULT_LOCALE,
  }),
});
