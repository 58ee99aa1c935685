import type { Context } from "hono";
import { mfaStatus, pendingTotpUri } from "../accounts/mfa";
import { listApiKeys, type CreatedApiKey } from "../api-keys/api-keys";
import { listSecurityEvents } from "../audit/security-events";
import { listDevices } from "../devices/devices";
import { AppError } from "../errors";
import { base32Secret } from "../factors/totp";
import type { AppEnv } from "../web/context";
import { outstandingReverts } from "../recovery/email-change";
import { listSessions } from "../sessions/sessions";
import { AccountPage, hasSection, type AccountData } from "./account-view";
import type { FormName } from "./csrf";
import { failureFrom, validate, type FieldFor, type Failure, type FormData } from "./forms";
import { proofFailure, proofKindOf, proofNeeded, proveFreshness, type ProofKind } from "./fresh-proof";
import { frameFor, renderPage, type FormState } from "./kit";
import { accountPost } from "./respond";
import { sectionOfNotice, toAccountWithNotice } from "./account-notices";
import type { NoticeKey } from "./respond";
import { COPY_SCRIPT } from "./security-view";
import { PASSKEY_SCRIPT } from "./passkey-view";
import { listOwnPasskeys } from "../accounts/passkeys";
import { ownIdentities } from "../federation/identities";
import { ownGrants } from "../oidc/grants";
import type { PageSession } from "./session";
import { formTranslator } from "./language";

/**
 * The account page as every `/account` handler renders it, and the shape of its forms: validate
 * with the API's schema, prove a stale session fresh where the form is sensitive, call the service,
 * redirect with a notice (or render what is shown only once).
 */

async function loadData(c: Context<AppEnv>, session: PageSession, eventsCursor: string | undefined): Promise<AccountData> {
  const { deps } = c.var;
  const { user } = session;
  const events = async () => {
    try {
      return await listSecurityEvents(deps, user.id, { limit: 20, cursor: eventsCursor });
    } catch (error) {
      // A mangled `?events=` cursor: show the newest events instead.
      if (eventsCursor && error instanceof AppError) return listSecurityEvents(deps, user.id, { limit: 20 });
      throw error;
    }
  };
  const [sessions, devices, apiKeys, eventPage, reverts, mfa, pendingUri, { passkeys }, identities, grants] = await Promise.all([
    listSessions(deps, user.id, session.sessionId, { limit: 50 }),
    listDevices(deps, user),
    listApiKeys(deps, user),
    events(),
    outstandingReverts(deps, user.id),
    mfaStatus(deps, user),
    // A set-up begun and not confirmed: its QR code stays on the page until it is.
    user.secondFactors.includes("totp") ? null : pendingTotpUri(deps, user),
    listOwnPasskeys(deps, user),
    ownIdentities(deps, user.id),
    ownGrants(deps, user.id),
  ]);
  const enrolment = pendingUri ? { uri: pendingUri, secret: base32Secret(pendingUri) } : null;
  const emailCodeOffered = deps.config.emailCode.signIn;
  return { sessions, devices, apiKeys, events: eventPage, reverts, mfa, enrolment, passkeys, emailCodeOffered, identities, grants };
}

export interface Outcome {
  status?: number;
  headers?: Record<string, string>;
  notice?: string | null;
  failed?: { form: FormName; state: FormState };
  createdKey?: CreatedApiKey;
  /** Recovery codes just made: shown in this answer and never again. */
  recoveryCodes?: string[];
}

export async function accountPage(c: Context<AppEnv>, session: PageSession, outcome: Outcome = {}) {
  const frame = await frameFor(c, session, { here: "/account" });
  // The copy button of the codes shown once, and the passkey button of a fresh session: the only
  // scripts of the account page, each only where it has something to do.
  const proof = proofNeeded(c, session);
  const scripts = [...(outcome.recoveryCodes ? [COPY_SCRIPT] : []), ...(proof === null ? [PASSKEY_SCRIPT] : [])];
  if (scripts.length > 0) frame.inlineScript = scripts.join("\n");
  const data = await loadData(c, session, c.req.method === "GET" ? c.req.query("events") : undefined);
  // Reached by a form's redirect: its notice shows in the section the redirect scrolled to. A page a
  // POST renders (recovery codes shown once) starts at the top, and so does its notice.
  const section = c.req.method === "GET" ? sectionOfNotice(outcome.notice) : null;
  const { oauthProviders } = c.var.deps.config;
  if (section && outcome.notice && hasSection(section, data, oauthProviders)) frame.placedNotice = { notice: outcome.notice, section };
  const page = (
    <AccountPage
      frame={frame}
      session={session}
      data={data}
      proof={proof}
      providers={oauthProviders}
      notice={outcome.notice ?? null}
      failed={outcome.failed}
      createdKey={outcome.createdKey}
      recoveryCodes={outcome.recoveryCodes}
    />
  );
  return renderPage(c, frame, page, outcome.status ?? 200, outcome.headers);
}

/** The account page again with one form's problems (and the values typed, never passwords). */
function failedForm(
  c: Context<AppEnv>,
  session: PageSession,
  form: FormName,
  failure: Pick<Failure, "status" | "state"> & { headers?: Record<string, string> },
  values: Record<string, string | undefined> = {},
) {
  return accountPage(c, session, {
    status: failure.status,
    headers: failure.headers,
    failed: { form, state: { ...failure.state, values } },
  });
}

/** One account form: validate with the API's schema, call its service, redirect with a notice. */
export function accountForm<T>(
  form: FormName,
  options: {
    schema: Parameters<typeof validate<T>>[1];
    input: (data: FormData) => Record<string, unknown>;
    values?: (data: FormData) => Record<string, string | undefined>;
    fieldFor?: FieldFor;
    /**
     * A sensitive form (fresh authentication): a stale session proves itself with the form's
     * `passwordField` (or a code, for an account with a second factor) before the service runs.
     */
    sensitive?: { passwordField: string };
    /** `session` is fresh for a sensitive form; `provedWith` says whether this form's proof made it so. */
    run: (c: Context<AppEnv>, session: PageSession, input: T, provedWith: ProofKind | null) => Promise<Response | NoticeKey>;
  },
) {
  return accountPost(form, async (c, data, signedIn) => {
    const values = options.values?.(data) ?? {};
    const t = formTranslator(c);
    const checked = validate(t, options.schema, options.input(data));
    if (!checked.ok) return failedForm(c, signedIn, form, { status: 422, state: { fields: checked.fields } }, values);
    let session = signedIn;
    let provedWith: ProofKind | null = null;
    if (options.sensitive) {
      const proven = await proveFreshness(c, session, data, options.sensitive.passwordField);
      if (!proven.ok) return failedForm(c, session, form, proven.failure, values);
      ({ session, provedWith } = proven);
    }
    try {
      const result = await options.run(c, session, checked.data, provedWith);
      return typeof result === "string" ? toAccountWithNotice(c, result) : result;
    } catch (error) {
      // Stale after all (the 5 minutes ran out since the page was drawn): the proof field says so.
      const { sensitive } = options;
      const stale = sensitive && error instanceof AppError && error.code === "reauthentication_required";
      const failure = stale
        ? proofFailure(t, error, proofKindOf(session), sensitive.passwordField)
        : failureFrom(t, error, options.fieldFor);
      return failedForm(c, session, form, failure, values);
    }
  });
}
