import { describe, expect, it } from "vitest";
import { englishJson, overrideProblems, shippedLocales, shippedProblems } from "../../scripts/i18n-catalogues.mjs";
import { checkDeploy } from "../../scripts/preflight-checks.mjs";
import { SHIPPED_LOCALES } from "../../src/config/languages";
import { MAX_OVERRIDE_LENGTH } from "../../src/i18n/validate";
import { catalogueText, withEditedCatalogue } from "./i18n-fixture.mjs";

/**
 * The message catalogues (assets/locales): the CI check that every shipped locale has every message
 * of the English source with the same placeholders and slots, and the rules an operator's
 * overrides must keep (`npm run i18n -- override`, the worker's loader, `npm run preflight`).
 */

describe("the shipped catalogues", () => {
  it("are one per shipped locale, with en.json built from the English source (npm run i18n -- build)", async () => {
    expect(shippedLocales()).toEqual([...SHIPPED_LOCALES].sort());
    expect(catalogueText("en"), "run `npm run i18n -- build`").toBe(await englishJson());
  });

  it("have every message of the source, with its placeholders, slots and plural forms (npm run i18n -- check)", () => {
    expect(shippedProblems()).toEqual({});
  });

  it("are caught when a message goes missing, a placeholder changes or a plural lacks a form", () => {
    const found = withEditedCatalogue(
      "de",
      (de) => {
        de.login!.title = "Anmelden {email}";
        delete de.nav!.signOut;
        de.passwordPolicy!.tooShort = { other: "Mindestens {count} Zeichen." };
      },
      (root) => shippedProblems(root),
    );
    expect(Object.keys(found)).toEqual(["de"]);
    expect(found.de).toEqual(
      expect.arrayContaining([
        "nav.signOut: missing",
        "login.title: placeholders differ from the source's",
        'passwordPolicy.tooShort: no "one" form for de',
      ]),
    );
  });
});

describe("operator overrides", () => {
  const check = (raw: unknown, locale = "de") => overrideProblems(raw, locale);

  it("accept plain text with exactly the source's placeholders and slots", () => {
    const { accepted, problems } = check({
      "login.title": "Willkommen zurück",
      signedInAs: "Angemeldet: {email}",
      "register.haveAccount": "Schon dabei? <link>Anmelden</link>",
    });
    expect(problems).toEqual([]);
    expect(Object.keys(accepted)).toHaveLength(3);
  });

  it("refuse markup, other placeholders, unknown keys, plurals, overlong text and multi-line subjects", () => {
    const { accepted, problems } = check({
      "login.title": "<b>Hallo</b>",
      signedInAs: "Angemeldet",
      "login.submit": "Los {product}",
      "register.haveAccount": "Anmelden",
      "no.such.key": "x",
      passwordHint: "Mindestens {count}",
      "login.forgot": "x".repeat(MAX_OVERRIDE_LENGTH + 1),
      "mail.reset.subject": "Passwort\nzurücksetzen",
      "login.register": 42,
    });
    expect(accepted).toEqual({});
    expect(problems).toHaveLength(9);
    expect(problems.join("\n")).toMatch(/login\.title: slots b are not the source's/);
    expect(problems.join("\n")).toMatch(/mail\.reset\.subject: a mail subject must be one line/);
    expect(check(["not", "an", "object"]).problems).toEqual(["de: overrides must be a JSON object of dotted keys to texts"]);
  });
});

describe("npm run preflight: languages", () => {
  const toml = { name: "gatehouse", vars: { DEFAULT_LOCALE: "xx" } };
  const problems = (languages: Parameters<typeof checkDeploy>[1]["languages"]) =>
    checkDeploy(toml, { secrets: [], languages }).problems.map((p) => p.what);

  it("refuses a DEFAULT_LOCALE that is not shipped, a broken catalogue and invalid overrides in KV", () => {
    const found = problems({
      locales: [...SHIPPED_LOCALES],
      shipped: { fr: ["login.title: missing"] },
      overrides: { de: ["login.title: markup or braces other than the source's placeholders and slots"], ja: [] },
    });
    expect(found).toContain('DEFAULT_LOCALE = "xx" is not a shipped language');
    expect(found).toContain("assets/locales/fr.json: login.title: missing");
    expect(found.some((w) => w.startsWith("overrides of de in AUTH_KV: login.title: markup"))).toBe(true);
    expect(found.some((w) => w.includes("overrides of ja"))).toBe(false);
  });

  it("notes, without refusing, overrides it could not read", () => {
    const report = checkDeploy(
      { name: "g", vars: {} },
      {
        secrets: [],
        languages: { locales: [...SHIPPED_LOCALES], shipped: {}, overrides: null, overridesError: "Not logged in." },
      },
    );
    expect(report.notes).toContain("message overrides: not checked (Not logged in.)");
    expect(report.problems.some((p) => p.what.includes("overrides"))).toBe(false);
  });
});
