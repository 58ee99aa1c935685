/**
 * Bodies the browser client sends and receives, written to match the OpenAPI schemas in
 * src/web/schemas.ts (test/browser-client.test.ts holds the two together at compile time). Plain
 * types with no runtime and no DOM, so the worker's type check can read them too.
 */
import type { UserResponse } from "../kernel/user-response";

/** `UserResponse`: the signed-in user, as the worker declares it (one schema for the API and the client). */
export type User = UserResponse;

/** `POST /api/v1/auth/register`. */
export interface RegisterBody {
  email: string;
  password: string;
  full_name: string;
  username?: string | null;
}

/** `POST /api/v1/auth/login`: `email` or `username`, and the password. */
export type LoginBody = ({ email: string; username?: never; password: string } | { username: string; email?: never; password: string }) & {
  /**
   * Only after a 403 `challenge_required` (sign-ins under attack, this browser unknown): the answer
   * of the Turnstile widget rendered for the problem's `site_key`.
   */
  turnstile_token?: string;
};

/**
 * A sign-in in cookie mode: the TokenResponse without `refresh_token` and `device_token`, which
 * travel only in HttpOnly cookies the page cannot read.
 */
export interface Session {
  access_token: string;
  token_type: "bearer";
  /** Seconds until the access token expires. */
  expires_in: number;
  /** Seconds until the session's refresh token expires if unused. */
  refresh_expires_in: number;
  user: User;
}

/** `{message}`: registration accepted, a verification link was mailed (no session yet). */
export interface Message {
  message: string;
}

/** RFC 9457 problem details, as every Gatehouse error answers. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  request_id: string;
  errors?: { field: string; message: string }[];
  /** `challenge_required` only: the Turnstile site key to render the widget for. */
  site_key?: string;
  /** `mfa_required` only: the token of the sign-in's second step, and the methods it accepts. */
  mfa_token?: string;
  methods?: ("totp" | "recovery_code" | "passkey")[];
}

/** A password that was right for an account with a second factor: finish with `completeMfa`. */
export interface MfaRequired {
  mfaRequired: true;
  /**
   * `MFA_REQUIRED` stops this account until it has a second factor: enrol one with `mfaToken`
   * (`Authorization: MFA <mfaToken>`), or send the person to the hosted `/login`, which walks them
   * through it; then `completeMfa` with a proof from the new factor.
   */
  enrolment: boolean;
  mfaToken: string;
  methods: ("totp" | "recovery_code" | "passkey")[];
}

/** `POST /api/v1/auth/email-code/verify`: the address and the 8-digit code mailed to it. */
export interface EmailCodeBody {
  email: string;
  code: string;
  /** Names the account a code creates where the deployment allows sign-up by code (EMAIL_CODE_SIGN_UP). */
  full_name?: string;
  /** Only after a 403 `challenge_required`, as for LoginBody. */
  turnstile_token?: string;
}

/** `POST /api/v1/auth/mfa`, as `completeMfa` takes it. */
export interface MfaBody {
  mfaToken: string;
  method: "totp" | "recovery_code";
  code: string;
}

/** A passkey of the signed-in user, as `addPasskey` answers (`POST /api/v1/users/me/passkeys`). */
export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  /** Synced to the provider's cloud (a synced passkey), rather than bound to one device. */
  backed_up: boolean;
  backup_eligible: boolean;
  transports: string[];
  aaguid: string;
  /** The account's first second factor only: its 10 recovery codes, shown this once. */
  recovery_codes?: string[];
}
