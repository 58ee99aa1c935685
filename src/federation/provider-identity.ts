import * as oauth from "oauth4webapi";
import type { OAuthProviderConfig } from "../config/oauth";
import type { Deps } from "../kernel/deps";
import { ProviderUnavailable, reach, requestOptions } from "./provider-client";

/**
 * What a provider asserts about the person, by each preset's rules. `email` and `emailVerified`
 * always come from the same document (the id_token; GitHub's `/user/emails`), and an address is
 * verified only when that document says so in its own way:
 * - OpenID providers and Google: `email_verified: true`.
 * - Apple: `email_verified` true or "true"; the `user` form field (name) is unsigned: display only.
 * - Microsoft: never (Entra ID's `email` is whatever a tenant administrator typed: "nOAuth").
 * - GitHub (OAuth 2.0): the subject is the numeric id; the address is the verified primary of
 *   `/user/emails`, or none.
 */
export interface ExternalIdentity {
  /** The OAUTH_PROVIDERS id. */
  provider: string;
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  /** A display name, unchecked here (the account's rules apply when it becomes one). */
  name: string | null;
  /** The provider proved a second factor (its `amr`/`acr`), trusted only when the entry says so. */
  providerMfa: boolean;
}

/** RFC 8176 values that mean the provider's own sign-in had more than one factor. */
const MULTI_FACTOR_AMR = ["mfa", "otp", "hwk", "swk", "sms", "fpt", "face", "sc"];
const MULTI_FACTOR_ACR = ["http://schemas.openid.net/pape/policies/2007/06/multi-factor", "urn:okta:loa:2fa:any"];

const text = (v: unknown): string | null => (typeof v === "string" && v.length > 0 && v.length <= 320 ? v : null);

export async function identityOf(
  deps: Deps,
  provider: OAuthProviderConfig,
  from: { accessToken: string; idToken?: oauth.IDToken; appleUser: string | null; as: oauth.AuthorizationServer },
): Promise<ExternalIdentity> {
  if (provider.type === "github") return gitHubIdentity(deps, provider, from.as, from.accessToken);
  const claims = from.idToken!;
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((v): v is string => typeof v === "string") : [];
  const providerMfa =
    amr.some((v) => MULTI_FACTOR_AMR.includes(v)) || (typeof claims.acr === "string" && MULTI_FACTOR_ACR.includes(claims.acr));
  const email = text(claims.email)?.toLowerCase() ?? null;
  const verified =
    provider.type === "microsoft"
      ? false
      : provider.type === "apple"
        ? [true, "true"].includes(claims.email_verified as never)
        : claims.email_verified === true;
  const name = provider.type === "apple" ? appleName(from.appleUser) : text(claims.name);
  return {
    provider: provider.id,
    issuer: from.as.issuer,
    subject: claims.sub,
    email,
    emailVerified: email !== null && verified,
    name,
    providerMfa: provider.trustProviderMfa && providerMfa,
  };
}

/** Apple posts the name once, unsigned, as JSON: `{"name":{"firstName","lastName"},"email"}`. */
function appleName(raw: string | null): string | null {
  if (!raw || raw.length > 1024) return null;
  try {
    const parsed = JSON.parse(raw) as { name?: { firstName?: unknown; lastName?: unknown } };
    const parts = [text(parsed.name?.firstName), text(parsed.name?.lastName)].filter((p) => p !== null);
    return parts.length ? parts.join(" ") : null;
  } catch {
    return null;
  }
}

interface GitHubEmail {
  email?: unknown;
  primary?: unknown;
  verified?: unknown;
}

/** GitHub: `/user` for the numeric id and name, `/user/emails` for the verified primary address. */
async function gitHubIdentity(
  deps: Deps,
  provider: OAuthProviderConfig,
  as: oauth.AuthorizationServer,
  accessToken: string,
): Promise<ExternalIdentity> {
  const userUrl = new URL(as.userinfo_endpoint!);
  const emailsUrl = new URL(`${userUrl.href.replace(/\/+$/, "")}/emails`);
  const get = (url: URL) =>
    reach(async () => {
      const headers = new Headers({ accept: "application/vnd.github+json" });
      const response = await oauth.protectedResourceRequest(accessToken, "GET", url, headers, null, requestOptions(deps, provider));
      if (!response.ok) throw new ProviderUnavailable(`GitHub answered ${response.status}`);
      return response.json();
    });
  const [user, emails] = (await Promise.all([get(userUrl), get(emailsUrl)])) as [
    { id?: unknown; name?: unknown; login?: unknown },
    unknown,
  ];
  if (typeof user.id !== "number" || !Number.isSafeInteger(user.id)) throw new ProviderUnavailable("GitHub's /user has no numeric id");
  const primary = Array.isArray(emails) ? (emails as GitHubEmail[]).find((e) => e.primary === true) : undefined;
  const email = primary?.verified === true ? (text(primary.email)?.toLowerCase() ?? null) : null;
  return {
    provider: provider.id,
    issuer: provider.issuer,
    subject: String(user.id),
    email,
    emailVerified: email !== null,
    name: text(user.name) ?? text(user.login),
    providerMfa: false,
  };
}
