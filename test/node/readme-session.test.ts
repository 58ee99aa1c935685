import { describe, expect, it } from "vitest";
import { firstCurlSession, runShell } from "./readme-session.mjs";

/**
 * The first curl session of docs/getting-started.md, without a server: the block
 * test/dev/readme-session.test.ts pastes into bash against a real `npm run dev` (`npm run test:dev`).
 * Here bash runs it with `curl` replaced by a shell function that records its arguments and answers
 * like the API, which checks the block's own logic: what it calls, in which order, and that the token
 * it cuts out with sed is the one it sends.
 */

const TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2ln-_x";

/** `curl` as a shell function: each call's URL, auth header and body on stderr; canned answers on stdout. */
const FAKE_CURL = String.raw`
curl() {
  local url="" auth="" data=""
  while [ $# -gt 0 ]; do
    case "$1" in
      -s) ;;
      -H) case "$2" in authorization:*) auth="$2" ;; esac; shift ;;
      -d) data="$2"; shift ;;
      *) url="$1" ;;
    esac
    shift
  done
  printf '%s\t%s\t%s\n' "$url" "$auth" "$data" >&2
  case "$url" in
    */auth/register) printf '%s' '{"user":{"id":"u-1"},"access_token":"first","token_type":"Bearer"}' ;;
    */auth/login) printf '%s' '{"access_token":"${TOKEN}","token_type":"Bearer","expires_in":900,"refresh_token":"r.t","device_token":"d.t"}' ;;
    */users/me) printf '%s' '{"id":"u-1","email":"ada@example.com","full_name":"Ada Lovelace"}' ;;
    *) printf '%s' '{"messages":[]}' ;;
  esac
}
`;

describe("the first curl session of the getting-started guide", () => {
  const session = firstCurlSession();

  it("talks to the default dev server only (the dev test swaps the port), with curl and sed, no jq", () => {
    expect(session.match(/localhost:\d+/g)?.every((host) => host === "localhost:8787")).toBe(true);
    expect(session).toContain("ACCESS_TOKEN=$(");
    expect(session).not.toMatch(/\bjq\b/);
  });

  it("sends JSON bodies that parse", () => {
    const bodies = [...session.matchAll(/-d '([^']*)'/g)].map((m) => m[1]!);
    expect(bodies.length).toBeGreaterThanOrEqual(2);
    for (const body of bodies) expect(() => JSON.parse(body) as unknown, body).not.toThrow();
  });

  it("registers, reads the outbox, logs in, and sends the token it cut out of the login's answer", () => {
    const run = runShell(`${FAKE_CURL}\n${session}`);
    expect(run.status).toBe(0);
    const calls = run.stderr
      .trim()
      .split("\n")
      .map((line) => line.split("\t"));
    expect(calls.map(([url]) => url!.replace("localhost:8787", ""))).toEqual([
      "/api/v1/auth/register",
      "/api/v1/dev/outbox?to=ada@example.com",
      "/api/v1/auth/login",
      "/api/v1/users/me",
    ]);
    expect(calls[3]![1]).toBe(`authorization: Bearer ${TOKEN}`);
    // The last thing printed is the profile: what the dev test parses.
    expect(JSON.parse(run.stdout.slice(run.stdout.lastIndexOf('{"id":')))).toMatchObject({ email: "ada@example.com" });
  });
});
