import { abuse } from "./abuse";
import { accounts } from "./accounts";
import { dev } from "./dev";
import { languages } from "./languages";
import { mail } from "./mail";
import { passwords } from "./passwords";
import { tokens } from "./tokens";
import { web } from "./web";
import { oauth } from "./oauth";
import { webhooks } from "./webhooks";

/**
 * Every section, in the order the configuration reference's table (docs/configuration.md) lists
 * them and `readConfig` reads them. A new section is one file and one entry here; `Bindings` and
 * `Config` follow from this list.
 */
export const SECTIONS = [tokens, passwords, accounts, web, languages, mail, oauth, webhooks, abuse, dev] as const;
