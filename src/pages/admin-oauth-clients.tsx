import { Hono, type Context } from "hono";
import type { FC } from "hono/jsx";
import { z } from "zod";
import { AppError } from "../errors";
import { adminDeleteClient, adminListClients, createClient, type ClientView, type NewClient } from "../oidc/clients";
import { providerEnabled } from "../oidc/discovery";
import type { AppEnv } from "../web/context";
import { fieldErrors, GENERIC, here, superuser } from "./admin";
import { adminStrings, adminWhen } from "./admin-strings";
import { AdminLayout } from "./admin-view";
import type { FormName } from "./csrf";
import { failureFrom, text, type FormData } from "./forms";
import { ErrorSummary, Field, Form, frameFor, renderPage, Select, type FormState, type Frame } from "./kit";
import { englishTranslator } from "./language";
import { formPost, noticeOf, redirectWithNotice } from "./respond";
import { pageSession, type PageSession } from "./session";

/**
 * `/admin/oauth-clients`: the OAuth clients of Gatehouse as an OpenID provider (API.md v1.2), the
 * console's side of `/api/v1/admin/oauth/clients`: the list, registering one (a confidential
 * client's secret is shown in that answer only) and deleting one. Superusers only, like the rest
 * of the console; each action calls the service the admin API calls, so it is audited alike.
 */
export const adminOAuthClientPages = new Hono<AppEnv>();

const PATH = "/admin/oauth-clients";
const w = adminStrings;

/** A client just registered, with its secret (confidential clients): shown once, on that answer. */
type CreatedClient = ClientView & { client_secret?: string };

interface ClientsView {
  notice: string | null;
  /** The form that failed, and how (with the values typed, for the create form). */
  failed?: { form: FormName; state: FormState } | undefined;
  created?: CreatedClient | undefined;
}

async function clientsPage(c: Context<AppEnv>, session: PageSession, view: ClientsView, status = 200) {
  const frame = await frameFor(c, session, { admin: true });
  const clients = await adminListClients(c.var.deps);
  const { config } = c.var.deps;
  const off = providerEnabled(config) ? null : w.oauthProviderOff(config.issuer, config.publicUrl);
  return renderPage(c, frame, <OAuthClientsPage frame={frame} clients={clients} providerOff={off} {...view} />, status);
}

adminOAuthClientPages.get(PATH, async (c) => {
  const session = await superuser(c, await pageSession(c), here(c));
  if (session instanceof Response) return session;
  return clientsPage(c, session, { notice: noticeOf(c) });
});

/** The create form's fields as the admin API's body takes them (the same limits as its schema). */
const uris = z.array(z.string().min(1).max(2000)).max(20);
const newClientForm = z.object({
  name: z.string().trim().min(1).max(100),
  redirect_uris: uris.min(1),
  type: z.enum(["public", "confidential"]),
  first_party: z.boolean(),
  post_logout_redirect_uris: uris,
}) satisfies z.ZodType<NewClient>;

const formWords = {
  name: w.clientName,
  redirect_uris: w.redirectUris,
  type: w.clientType,
  post_logout_redirect_uris: w.postLogoutUris,
};

/** A text area's lines, trimmed, empty ones left out. */
const lines = (data: FormData, name: string) =>
  (text(data, name) ?? "")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);

/** Where createClient's `validation_failed` belongs: its detail starts with the URI it refuses. */
function uriProblemField(detail: string, input: NewClient): string | undefined {
  const names = ["redirect_uris", "post_logout_redirect_uris"] as const;
  return names.find((name) => (input[name] ?? []).some((uri) => detail.startsWith(`${uri} `)));
}

adminOAuthClientPages.post(
  PATH,
  formPost("admin_oauth_client_create", async (c, data, signedIn) => {
    const session = await superuser(c, signedIn, PATH);
    if (session instanceof Response) return session;
    const form = "admin_oauth_client_create";
    // Shown again after a refusal: what was typed, as typed.
    const values = {
      name: text(data, "name"),
      redirect_uris: text(data, "redirect_uris"),
      type: text(data, "type"),
      first_party: text(data, "first_party"),
      post_logout_redirect_uris: text(data, "post_logout_redirect_uris"),
    };
    const checked = newClientForm.safeParse({
      name: values.name ?? "",
      redirect_uris: lines(data, "redirect_uris"),
      type: values.type,
      first_party: values.first_party === "true",
      post_logout_redirect_uris: lines(data, "post_logout_redirect_uris"),
    });
    if (!checked.success) {
      const state = { fields: fieldErrors(checked.error, formWords), values };
      return clientsPage(c, session, { notice: null, failed: { form, state } }, 422);
    }
    try {
      const created = await createClient(c.var.deps, session.user.id, checked.data);
      return clientsPage(c, session, { notice: null, created }, 201);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const field = error.code === "validation_failed" ? uriProblemField(error.detail, checked.data) : undefined;
      const failure = failureFrom(await englishTranslator(c), error);
      const state: FormState = field
        ? { fields: { [field]: error.detail }, values }
        : { message: error.code === "validation_failed" ? error.detail : (failure.state.message ?? GENERIC), values };
      return clientsPage(c, session, { notice: null, failed: { form, state } }, failure.status);
    }
  }),
);

adminOAuthClientPages.post(
  `${PATH}/:id/delete`,
  formPost("admin_oauth_client_delete", async (c, _data, signedIn) => {
    const session = await superuser(c, signedIn, PATH);
    if (session instanceof Response) return session;
    try {
      await adminDeleteClient(c.var.deps, session.user.id, (c.req.param("id") ?? "").slice(0, 64));
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== "not_found") throw error;
      const state = { message: w.noSuchClient };
      return clientsPage(c, session, { notice: null, failed: { form: "admin_oauth_client_delete", state } }, 404);
    }
    return redirectWithNotice(c, PATH, "oauth_client_deleted");
  }),
);

/** The action paths answer a GET (a reload after a refusal) with the list. */
adminOAuthClientPages.get(`${PATH}/*`, (c) => c.redirect(PATH, 303));

const typeOptions = [
  ["confidential", w.clientType.confidential],
  ["public", w.clientType.public],
] as const;

const OAuthClientsPage: FC<
  ClientsView & {
    frame: Frame;
    clients: ClientView[];
    /** Why the provider signs nobody in (JWT_ISSUER differs from PUBLIC_URL), or null. */
    providerOff: string | null;
  }
> = ({ frame, notice, clients, providerOff, failed, created }) => {
  const { t } = frame;
  const createState = failed?.form === "admin_oauth_client_create" ? failed.state : undefined;
  const deleteState = failed?.form === "admin_oauth_client_delete" ? failed.state : undefined;
  const values = createState?.values ?? {};
  const errors = createState?.fields ?? {};
  return (
    <AdminLayout frame={frame} title={w.oauthClients} notice={notice} failed={failed !== undefined}>
      {created ? (
        <div class="notice" role="status">
          <p>{w.clientCreated(created.name)}</p>
          <p>
            {w.clientId}: <code id="new-client-id">{created.client_id}</code>
          </p>
          {created.client_secret ? (
            <>
              <p>{w.clientSecret}</p>
              <p class="secret" id="new-client-secret">
                {created.client_secret}
              </p>
            </>
          ) : (
            <p>{w.noSecret}</p>
          )}
        </div>
      ) : null}
      <section id="clients" aria-labelledby="clients-h">
        <h2 id="clients-h">{w.registeredClients}</h2>
        <ErrorSummary t={t} state={deleteState} form="clients" />
        <p>{w.oauthClientsIntro}</p>
        {providerOff ? <p class="alert">{providerOff}</p> : null}
        {clients.length === 0 ? <p>{w.noOauthClients}</p> : null}
        <ul class="items" aria-label={w.registeredClients}>
          {clients.map((client) => (
            <li>
              <span>
                <strong>{client.name}</strong>
                <span class="badge">{w.clientTypes[client.type] ?? client.type}</span>
                {client.first_party ? <span class="badge">{w.firstPartyBadge}</span> : null}
                <br />
                <code>{client.client_id}</code>
                <span class="muted"> · {w.clientTimes(adminWhen(client.created_at), adminWhen(client.last_used_at))}</span>
                <br />
                <span class="muted">{w.redirectUrisLine(client.redirect_uris)}</span>
                {client.post_logout_redirect_uris.length > 0 ? (
                  <>
                    <br />
                    <span class="muted">{w.postLogoutUrisLine(client.post_logout_redirect_uris)}</span>
                  </>
                ) : null}
              </span>
              <Form
                frame={frame}
                name="admin_oauth_client_delete"
                action={`${PATH}/${encodeURIComponent(client.client_id)}/delete`}
                class="inline"
              >
                <button type="submit" class="danger" aria-label={w.deleteClientLabel(client.name)}>
                  {w.deleteClient}
                </button>
              </Form>
            </li>
          ))}
        </ul>
      </section>

      <section id="new-client" aria-labelledby="new-client-h">
        <h2 id="new-client-h">{w.newClient}</h2>
        <ErrorSummary t={t} state={createState} form="client" />
        <Form frame={frame} name="admin_oauth_client_create" action={PATH}>
          <Field
            form="client"
            name="name"
            label={w.clientName.label}
            hint={w.clientName.hint}
            value={values.name}
            error={errors.name}
            required
            maxlength={100}
          />
          <Field
            rows={3}
            spellcheck={false}
            form="client"
            name="redirect_uris"
            label={w.redirectUris.label}
            hint={w.redirectUris.hint}
            value={values.redirect_uris}
            error={errors.redirect_uris}
            required
          />
          <Select
            form="client"
            name="type"
            label={w.clientType.label}
            options={typeOptions}
            value={values.type ?? "confidential"}
            error={errors.type}
          />
          <label class="check">
            <input type="checkbox" id="client-first_party" name="first_party" value="true" checked={values.first_party === "true"} />
            {w.firstParty}
          </label>
          <Field
            rows={3}
            spellcheck={false}
            form="client"
            name="post_logout_redirect_uris"
            label={w.postLogoutUris.label}
            hint={w.postLogoutUris.hint}
            value={values.post_logout_redirect_uris}
            error={errors.post_logout_redirect_uris}
          />
          <button type="submit">{w.createClient}</button>
        </Form>
      </section>
    </AdminLayout>
  );
};
