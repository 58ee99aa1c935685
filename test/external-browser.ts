import { inject } from "vitest";
import { Browser, OWN, type PostOptions } from "./pages-browser";

/**
 * A browser that signs in with the loopback providers of `npm run fakes` (scripts/fake-oidc.mjs),
 * started for the run by test/oauth-fakes.setup.mjs: the worker under test talks to them over real
 * HTTP, and so does this browser when it visits the provider's authorize page (which approves at
 * once, asserting the identity the test gives it).
 */

declare module "vitest" {
  export interface ProvidedContext {
    oauthFakes: { url: string; issuers: Record<string, string>; OAUTH_PROVIDERS: string; OAUTH_CLIENT_SECRETS: string };
  }
}

/** What the fake provider asserts for the next sign-in (scripts/fake-oidc.mjs), `tamper` included. */
export interface FakeIdentity {
  sub: string;
  email?: string | null;
  email_verified?: boolean;
  name?: string;
  amr?: string[];
  /** GitHub: its `/user/emails` list. */
  emails?: { email: string; primary: boolean; verified: boolean }[];
  tamper?: { iss?: string; omit_iss?: boolean; nonce?: string; id_token_iss?: string; signature?: "bad" };
}

/** The configuration that names the fakes: Google (links by verified address), GitHub, Apple, Microsoft and `fake`. */
export function providerEnv(): { OAUTH_PROVIDERS: string; OAUTH_CLIENT_SECRETS: string } {
  const { OAUTH_PROVIDERS, OAUTH_CLIENT_SECRETS } = inject("oauthFakes");
  return { OAUTH_PROVIDERS, OAUTH_CLIENT_SECRETS };
}

/** A subject no other test uses. */
export const freshSubject = () => `sub-${crypto.randomUUID()}`;

/** The provider's answer: the callback as the browser would reach it. */
export interface ProviderAnswer {
  /** The callback path and query (`GET`), or the form the provider's page posts (`form_post`). */
  kind: "redirect" | "form_post";
  path: string;
  fields: Record<string, string>;
}

export class ProviderBrowser extends Browser {
  constructor(env: Record<string, string | undefined> = {}) {
    super({ ...providerEnv(), ...env });
  }

  /** `GET …/start`: the flow cookie, and the provider's authorize URL. */
  async start(provider: string, query = ""): Promise<URL> {
    const res = await this.get(`/api/v1/auth/oauth/${provider}/start${query}`);
    if (res.status !== 302) throw new Error(`start answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
    return new URL(res.headers.get("location")!);
  }

  /** Visits the provider's authorize URL, which approves at once as `identity`. */
  async authorize(url: URL, identity: FakeIdentity): Promise<ProviderAnswer> {
    const at = new URL(url);
    at.searchParams.set("identity", JSON.stringify(identity));
    const res = await fetch(at, { redirect: "manual" });
    if (res.status === 302) {
      const to = new URL(res.headers.get("location")!);
      return { kind: "redirect", path: to.pathname + to.search, fields: {} };
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`authorize answered ${res.status}: ${html}`);
    const action = new URL(/action="([^"]+)"/.exec(html)![1]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))));
    const fields = Object.fromEntries(
      [...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [
        m[1]!,
        m[2]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))),
      ]),
    );
    return { kind: "form_post", path: action.pathname, fields };
  }

  /**
   * Brings the provider's answer back as a browser does: a redirect is a GET with this browser's
   * cookies; a form post is cross-site, so it carries no Lax cookie (none of this jar's), and its
   * 303 is then followed as a GET that does.
   */
  async answer(answer: ProviderAnswer, options: PostOptions = {}): Promise<Response> {
    if (answer.kind === "redirect") return this.get(answer.path);
    const posted = await this.post(answer.path, answer.fields, {
      origin: "https://appleid.apple.com",
      site: "cross-site",
      headers: { Cookie: "" },
      ...options,
    });
    if (posted.status !== 303) return posted;
    return this.get(new URL(posted.headers.get("location")!, OWN).pathname + new URL(posted.headers.get("location")!, OWN).search);
  }

  /** The whole flow: start, the provider approves as `identity`, the callback's answer. */
  async signInWith(provider: string, identity: FakeIdentity, query = ""): Promise<Response> {
    return this.answer(await this.authorize(await this.start(provider, query), identity));
  }

  /** Signed in: the refresh cookie is set. */
  signedIn(): boolean {
    return this.jar.has("__Host-gh_rt");
  }
}
