#!/usr/bin/env node
// `npm run i18n -- build`: writes assets/locales/en.json from the English source, src/i18n/en.ts.
// `npm run i18n -- check`: every shipped catalogue against it (same keys, placeholders and slots).
// `npm run i18n -- override <locale> <file.json> [--remote] [--persist-to <dir>] [--config <file>] [--env <name>]`:
//   checks an operator's overrides ({"login.title": "…"}) and puts them into AUTH_KV under
//   `i18n:overrides:<locale>`, where the worker reads them with the catalogue
//   (docs/hosted-pages.md#languages).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { englishJson, LOCALES_DIR, overrideProblems, shippedProblems } from "./i18n-catalogues.mjs";
import { kvFlags, putKv } from "./kv-put.mjs";

const USAGE =
  "usage: npm run i18n -- build | check | override <locale> <file.json> [--remote] [--persist-to <dir>] [--config <file>] [--env <name>]";
const [command, ...rest] = process.argv.slice(2);

if (command === "build") {
  writeFileSync(join(LOCALES_DIR, "en.json"), await englishJson());
  console.log(`wrote ${LOCALES_DIR}/en.json`);
} else if (command === "check") {
  const problems = shippedProblems();
  for (const [locale, list] of Object.entries(problems)) for (const p of list) console.error(`${locale}: ${p}`);
  if (Object.keys(problems).length) process.exit(1);
  console.log("every catalogue has every message, with the source's placeholders and slots");
} else if (command === "override") {
  const [locale, file, ...flags] = rest;
  if (!locale || !file) {
    console.error(USAGE);
    process.exit(2);
  }
  const target = kvFlags(flags, USAGE);
  const { accepted, problems } = overrideProblems(JSON.parse(readFileSync(file, "utf8")), locale);
  if (problems.length) {
    for (const p of problems) console.error(p);
    process.exit(1);
  }
  putKv(`i18n:overrides:${locale}`, JSON.stringify(accepted), target);
  console.log(`${Object.keys(accepted).length} override(s) for ${locale}; isolates pick them up within 5 minutes`);
} else {
  console.error(USAGE);
  process.exit(2);
}
