import { Hono, type Context } from "hono";
import { AppError } from "../errors";
import { person } from "../i18n";
import { openEmailLink, verifyEmailLink } from "../recovery/email-sign-in";
import type { AppEnv } from "../web/context";
import { deviceCookie } from "../web/cookies";
import { tokenBody } from "../web/schemas";
import { text } from "./forms";
import { ErrorSummary, Form, frameFor, Hidden, Layout, renderPage, type FormState } from "./kit";
import { DeadLink, tokenAddress } from "./recovery";
import { formPost } from "./respond";
import { emailCodeOn, newAccountName, NewAccountName, signInWith } from "./email-code";

/**
 * `/sign-in/email?token=`: the link of a sign-in code's mail. Mail scanners and link previews
 * follow links, so the GET only names the account (without using the token up) and shows a
 * button; the form's POST, with its per-form token, signs in the browser that sends it — which
 * need not be the one that asked for the code, and the one that asked never gets signed in by it.
 */
export const emailLinkPages = new Hono<AppEnv>();

const PATH = "/sign-in/email";

/** The address the link was mailed to; null for a missing, bad, expired or spent token. */
async function addressOf(c: Context<AppEnv>, token: string | undefined): Promise<string | null> {
  if (!token || !tokenBody.safeParse({ token }).success) return null;
  try {
    return (await openEmailLink(c.var.deps, token)).email;
  } catch (error) {
    if (error instanceof AppError && error.code === "invalid_token") return null;
    throw error;
  }
}

async function linkPage(
  c: Context<AppEnv>,
  token: string | undefined,
  state?: FormState,
  status = 200,
  headers: Record<string, string> = {},
) {
  const frame = await frameFor(c, null, { here: tokenAddress(PATH, token) });
  const { t } = frame;
  // A spent code's link still opens (the seal holds until it expires): its POST's refusal says it is dead.
  const email = emailCodeOn(c) && status !== 400 ? await addressOf(c, token) : null;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("emailLink.title")} failed={state !== undefined || !email}>
      {email && token ? (
        <>
          <ErrorSummary t={t} state={state} form="email_link" />
          <p>
            <strong>{t.rich("emailLink.signInAs", { email: person(email) })}</strong>
          </p>
          <p>{t.text("emailLink.intro")}</p>
          <Form frame={frame} name="email_link" action={PATH}>
            <Hidden name="token" value={token} />
            {c.var.deps.config.emailCode.signUp ? <NewAccountName frame={frame} form="email_link" state={state} /> : null}
            <button type="submit">{t.text("emailLink.submit")}</button>
          </Form>
        </>
      ) : (
        <DeadLink t={t} message={t.text("errors.invalidLink")} next={{ href: "/login/email", label: t.text("emailLink.requestNew") }} />
      )}
    </Layout>,
    email ? status : 400,
    headers,
  );
}

emailLinkPages.get(PATH, (c) => linkPage(c, c.req.query("token")));

emailLinkPages.post(
  PATH,
  formPost("email_link", async (c, data) => {
    const token = text(data, "token");
    if (!emailCodeOn(c) || !token || !tokenBody.safeParse({ token }).success) return linkPage(c, undefined);
    const values = { new_account_name: text(data, "new_account_name") };
    const name = newAccountName(c, data);
    if (!name.ok) return linkPage(c, token, { ...name.failure.state, values }, 422);
    const { deps } = c.var;
    const input = { token, device_token: deviceCookie(c), full_name: name.name };
    const outcome = await signInWith(c, undefined, null, () =>
      verifyEmailLink(deps, input, "page").catch((error: unknown) => {
        // The link's code was used, or died of wrong guesses, or was replaced: the link is dead, and says so.
        throw error instanceof AppError && error.code === "invalid_code" ? new AppError("invalid_token", { status: 400 }) : error;
      }),
    );
    if (outcome instanceof Response) return outcome;
    return linkPage(c, token, { ...outcome.state, values }, outcome.status, outcome.headers);
  }),
);
