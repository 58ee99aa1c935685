import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";
import { describeError, log } from "../log";

/**
 * `BLOCK_DISPOSABLE_EMAIL`: registration and email change refuse addresses at throwaway-mailbox
 * services. The worker carries only the most common of them; a maintained list (tens of thousands
 * of domains) lives in KV under {@link KV_KEY}, one domain a line, loaded by
 * `npm run disposable -- load <file>` (scripts/disposable.mjs), so the bundle stays small. A domain
 * matches itself and every subdomain (`x.mailinator.com`).
 */

/** The KV key (in `AUTH_KV`) of the optional full list: newline-separated domains. */
const KV_KEY = "disposable-domains";

/** How long an isolate keeps the KV list before reading it again. */
const CACHE_MS = 5 * 60_000;

const BUILT_IN = [
  "10minutemail.com",
  "20minutemail.com",
  "33mail.com",
  "dispostable.com",
  "emailondeck.com",
  "fakeinbox.com",
  "getairmail.com",
  "getnada.com",
  "guerrillamail.biz",
  "guerrillamail.com",
  "guerrillamail.de",
  "guerrillamail.info",
  "guerrillamail.net",
  "guerrillamail.org",
  "guerrillamailblock.com",
  "maildrop.cc",
  "mailinator.com",
  "mailnesia.com",
  "mintemail.com",
  "mohmal.com",
  "moakt.com",
  "sharklasers.com",
  "spamgourmet.com",
  "temp-mail.org",
  "tempail.com",
  "tempmail.com",
  "tempmail.dev",
  "tempmailo.com",
  "tempr.email",
  "throwawaymail.com",
  "trashmail.com",
  "yopmail.com",
  "yopmail.fr",
  "yopmail.net",
];

const builtIn = new Set(BUILT_IN);

/** The KV list as this isolate last read it (a cache of data, not of a binding). */
let cached: { domains: Set<string>; until: number } | null = null;

/** Throws 422 `validation_failed` on `field` when the check is on and `email` is at a disposable domain. */
export async function assertNotDisposable(deps: Deps, email: string, field: string): Promise<void> {
  if (!deps.config.attack.blockDisposableEmail) return;
  const domain = email
    .slice(email.lastIndexOf("@") + 1)
    .trim()
    .toLowerCase()
    .replace(/\.$/, "");
  const candidates = domain.split(".").map((_, i, labels) => labels.slice(i).join("."));
  // The last label alone (a TLD) is never a listed domain.
  candidates.pop();
  let listed = candidates.some((c) => builtIn.has(c));
  if (!listed) {
    const loaded = await loadedDomains(deps);
    listed = candidates.some((c) => loaded.has(c));
  }
  if (listed) {
    throw new AppError("validation_failed", {
      errors: [
        {
          field,
          message: "Addresses at disposable email services are not accepted. Use a permanent address.",
          reason: { key: "errors.disposable" },
        },
      ],
    });
  }
}

/** The KV list, cached per isolate. Unreadable: the built-in list alone (logged), never a refused request. */
async function loadedDomains(deps: Deps): Promise<Set<string>> {
  const now = deps.now().getTime();
  if (cached && cached.until > now) return cached.domains;
  let domains = new Set<string>();
  try {
    domains = parseDomains((await deps.kv.get(KV_KEY)) ?? "");
  } catch (error) {
    log("warn", "disposable_email.list_unavailable", describeError(error));
  }
  cached = { domains, until: now + CACHE_MS };
  return domains;
}

/** One domain a line; blank lines and `#` comments are skipped. */
function parseDomains(text: string): Set<string> {
  const domains = new Set<string>();
  for (const line of text.split("\n")) {
    const domain = line.replace(/#.*/, "").trim().toLowerCase();
    if (domain) domains.add(domain);
  }
  return domains;
}
