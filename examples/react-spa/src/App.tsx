import { GatehouseError } from "gatehouse/client";
import { useGatehouse } from "gatehouse/react";
import { type FormEvent, type ReactNode } from "react";

/** Who is signed in, with a way out; or two ways in: Gatehouse's hosted page, or a form right here. */
export function App(): ReactNode {
  const gh = useGatehouse();
  return (
    <main>
      <h1>Example app</h1>
      {gh.status === "loading" ? (
        <p role="status">Loading…</p>
      ) : gh.status === "signed-in" ? (
        <>
          <p role="status">
            Signed in as {gh.user?.full_name} &lt;{gh.user?.email}&gt;
          </p>
          {/* A failure lands in gh.error, shown below. */}
          <button type="button" onClick={() => void gh.logout().catch(() => undefined)}>
            Sign out
          </button>
        </>
      ) : (
        <>
          <p role="status">Signed out.</p>
          <p>
            <a href={gh.loginUrl()}>Sign in</a> on Gatehouse&apos;s page, or here:
          </p>
          <SignInForm />
        </>
      )}
      {gh.error && <p role="alert">{messageOf(gh.error)}</p>}
    </main>
  );
}

function SignInForm(): ReactNode {
  const gh = useGatehouse();
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const field = (name: string) => {
      const value = form.get(name);
      return typeof value === "string" ? value : "";
    };
    try {
      const result = await gh.signIn({ email: field("email"), password: field("password") });
      // An account with a second factor: the hosted page asks for it (and signs in again there).
      if ("mfaRequired" in result) location.assign(gh.loginUrl());
    } catch {
      // Gatehouse's refusal is in gh.error, shown by App.
    }
  }
  return (
    <form onSubmit={(event) => void submit(event)}>
      <label>
        Email <input name="email" type="email" autoComplete="username" required />
      </label>
      <label>
        Password <input name="password" type="password" autoComplete="current-password" required />
      </label>
      <button type="submit">Sign in here</button>
    </form>
  );
}

/** Gatehouse's own words for a refusal (`detail`), or a plain one for a network failure. */
function messageOf(error: Error): string {
  return error instanceof GatehouseError && error.problem ? error.problem.detail : "Gatehouse could not be reached. Try again.";
}
