import {
  verifyAssertion as verifyGatehouseAssertion,
  verifyRegistration as verifyGatehouseRegistration,
  type StoredCredential,
} from "../../src/factors/webauthn";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from "@simplewebauthn/server";
import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding, encodeHexLowerCase } from "@oslojs/encoding";
import { beforeAll, describe, expect, it } from "vitest";
import {
  SoftwareAuthenticator,
  type AuthenticationResponseJSON,
  type AuthenticatorOverrides,
  type PasskeyAlgorithm,
  type RegistrationResponseJSON,
  type SoftwareAuthenticatorOptions,
} from "../webauthn-authenticator";

/**
 * The software authenticator (test/webauthn-authenticator.ts) against an independent relying party,
 * @simplewebauthn/server: what it produces verifies, and every field it can forge is refused. The cases
 * are a table and the relying party an adapter (`Verifier`), so another verifier runs the same vectors by
 * being added to `VERIFIERS`.
 */

interface RelyingParty {
  id: string;
  origin: string;
}

const RP: RelyingParty = { id: "auth.example.com", origin: "https://auth.example.com" };
const LOCAL_RP: RelyingParty = { id: "localhost", origin: "http://localhost:8787" };
const ALGORITHMS: PasskeyAlgorithm[] = ["ES256", "RS256"];
const COSE_ALG = { ES256: -7, RS256: -257 } as const;

/** A relying party's verification, reduced to what the vectors need. Refusal is a rejected promise. */
interface Verifier<Stored> {
  name: string;
  /**
   * Forged cases this verifier accepts, each with why (a check it leaves to its caller, a browser it
   * accommodates). They are asserted as accepted, so a change of behaviour shows up here.
   */
  accepts: Partial<Record<CaseName, string>>;
  /** For refused cases: the error message, to show the refusal comes from the forged field. */
  because: Partial<Record<CaseName, RegExp>>;
  verifyRegistration(input: { response: RegistrationResponseJSON; challenge: string; rp: RelyingParty }): Promise<Registered<Stored>>;
  verifyAuthentication(input: {
    response: AuthenticationResponseJSON;
    challenge: string;
    rp: RelyingParty;
    credential: Stored;
    /** The counter stored from the last accepted ceremony. */
    storedCounter: number;
  }): Promise<{ counter: number; backedUp: boolean }>;
}

interface Registered<Stored> {
  credential: Stored;
  credentialId: string;
  counter: number;
  backupEligible: boolean;
  backedUp: boolean;
}

/** One forgery (or a control, `accepted: true`): a ceremony with overrides, on an authenticator with these settings. */
interface Case {
  name: string;
  ceremony: "registration" | "authentication";
  overrides?: AuthenticatorOverrides;
  authenticator?: SoftwareAuthenticatorOptions;
  /** The stored counter, from the one the assertion reports; default one less (the previous assertion). */
  storedCounter?: (reported: number) => number;
  accepted?: true;
}

const OTHER_ORIGIN = "https://evil.example";
const OTHER_CHALLENGE = encodeBase64urlNoPadding(new Uint8Array(32).fill(7));
const OTHER_USER = encodeBase64urlNoPadding(new Uint8Array(16).fill(9));

const CASES = [
  { name: "registration, nothing forged", ceremony: "registration", accepted: true },
  { name: "registration, another origin", ceremony: "registration", overrides: { origin: OTHER_ORIGIN } },
  { name: "registration, another RP ID hash", ceremony: "registration", overrides: { rpId: "evil.example" } },
  { name: "registration, another challenge", ceremony: "registration", overrides: { challenge: OTHER_CHALLENGE } },
  { name: "registration, type webauthn.get", ceremony: "registration", overrides: { type: "webauthn.get" } },
  { name: "registration, user not verified", ceremony: "registration", overrides: { userVerified: false } },
  { name: "registration, user not present", ceremony: "registration", overrides: { userPresent: false } },
  { name: "registration, cross-origin iframe", ceremony: "registration", overrides: { crossOrigin: true, topOrigin: OTHER_ORIGIN } },
  { name: "registration, backed up but not backup eligible", ceremony: "registration", authenticator: { backedUp: true } },

  { name: "authentication, nothing forged", ceremony: "authentication", accepted: true },
  { name: "authentication, another origin", ceremony: "authentication", overrides: { origin: OTHER_ORIGIN } },
  { name: "authentication, another RP ID hash", ceremony: "authentication", overrides: { rpId: "evil.example" } },
  { name: "authentication, another challenge", ceremony: "authentication", overrides: { challenge: OTHER_CHALLENGE } },
  { name: "authentication, type webauthn.create", ceremony: "authentication", overrides: { type: "webauthn.create" } },
  { name: "authentication, user not verified", ceremony: "authentication", overrides: { userVerified: false } },
  { name: "authentication, user not present", ceremony: "authentication", overrides: { userPresent: false } },
  { name: "authentication, bad signature", ceremony: "authentication", overrides: { badSignature: true } },
  { name: "authentication, counter below the stored one", ceremony: "authentication", storedCounter: (reported) => reported + 5 },
  { name: "authentication, counter equal to the stored one", ceremony: "authentication", storedCounter: (reported) => reported },
  { name: "authentication, counter 0 after a counting one", ceremony: "authentication", overrides: { counter: 0 }, storedCounter: () => 3 },
  { name: "authentication, cross-origin iframe", ceremony: "authentication", overrides: { crossOrigin: true, topOrigin: OTHER_ORIGIN } },
  { name: "authentication, cross-origin without top origin", ceremony: "authentication", overrides: { crossOrigin: true } },
  { name: "authentication, another user handle", ceremony: "authentication", overrides: { userHandle: OTHER_USER } },
  { name: "authentication, backup eligibility changed", ceremony: "authentication", overrides: { backupEligible: true } },
  { name: "authentication, backed up but not backup eligible", ceremony: "authentication", overrides: { backedUp: true } },
] as const satisfies readonly Case[];

type CaseName = (typeof CASES)[number]["name"];

/** @simplewebauthn/server as the relying party would call it: UV required, attestation "none", ES256 and RS256. */
const simpleWebAuthn: Verifier<WebAuthnCredential> = {
  name: "@simplewebauthn/server",
  accepts: {
    "registration, cross-origin iframe": "verifyRegistrationResponse never reads crossOrigin or topOrigin",
    "authentication, cross-origin without top origin": "crossOrigin is only checked through topOrigin, which Safari does not send",
    "authentication, another user handle": "userHandle is not compared: finding the credential's user is the caller's job",
    "authentication, backup eligibility changed":
      "its stored credential has no BE flag: comparing with the registration is the caller's job",
  },
  because: {
    "registration, another origin": /Unexpected response origin/,
    "registration, another RP ID hash": /Unexpected RP ID hash/,
    "registration, another challenge": /Unexpected registration response challenge/,
    "registration, type webauthn.get": /Unexpected registration response type/,
    "registration, user not verified": /User verification was required/,
    "registration, user not present": /User presence was required/,
    "registration, backed up but not backup eligible": /Single-device credential indicated that it was backed up/,
    "authentication, another origin": /Unexpected response origin/,
    "authentication, another RP ID hash": /Unexpected RP ID hash/,
    "authentication, another challenge": /Unexpected authentication response challenge/,
    "authentication, type webauthn.create": /Unexpected authentication response type/,
    "authentication, user not verified": /User verification required/,
    "authentication, user not present": /User not present/,
    "authentication, bad signature": /verified: false/,
    "authentication, counter below the stored one": /counter value \d+ was lower than expected/,
    "authentication, counter equal to the stored one": /counter value \d+ was lower than expected/,
    "authentication, counter 0 after a counting one": /counter value 0 was lower than expected 3/,
    "authentication, cross-origin iframe": /Detected cross-origin authentication response/,
    "authentication, backed up but not backup eligible": /Single-device credential indicated that it was backed up/,
  },
  async verifyRegistration({ response, challenge, rp }) {
    const result = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
      supportedAlgorithmIDs: [COSE_ALG.ES256, COSE_ALG.RS256],
    });
    if (!result.verified) throw new Error("verified: false");
    const info = result.registrationInfo;
    expect(info.fmt).toBe("none");
    return {
      credential: info.credential,
      credentialId: info.credential.id,
      counter: info.credential.counter,
      backupEligible: info.credentialDeviceType === "multiDevice",
      backedUp: info.credentialBackedUp,
    };
  },
  async verifyAuthentication({ response, challenge, rp, credential, storedCounter }) {
    // simplewebauthn does not compare response.id with the stored credential: the caller looks it up by that ID.
    expect(response.id).toBe(credential.id);
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: { ...credential, counter: storedCounter },
      requireUserVerification: true,
    });
    if (!result.verified) throw new Error("verified: false");
    return { counter: result.authenticationInfo.newCounter, backedUp: result.authenticationInfo.credentialBackedUp };
  },
};

/** Gatehouse's own ceremonies (src/factors/webauthn.ts), with the stored state the passkeys table keeps. */
const gatehouse: Verifier<StoredCredential> = {
  name: "Gatehouse (src/factors/webauthn.ts)",
  accepts: {
    "authentication, another user handle": "the user handle is compared with the account by the sign-in (src/accounts/passkeys.ts)",
  },
  because: {
    "registration, another origin": /origin/,
    "registration, another RP ID hash": /rp_id/,
    "registration, another challenge": /challenge/,
    "registration, type webauthn.get": /client_data_type/,
    "registration, user not verified": /user_verification/,
    "registration, user not present": /user_presence/,
    "registration, cross-origin iframe": /cross_origin/,
    "registration, backed up but not backup eligible": /backup_state/,
    "authentication, another origin": /origin/,
    "authentication, another RP ID hash": /rp_id/,
    "authentication, another challenge": /challenge/,
    "authentication, type webauthn.create": /client_data_type/,
    "authentication, user not verified": /user_verification/,
    "authentication, user not present": /user_presence/,
    "authentication, bad signature": /signature/,
    "authentication, counter below the stored one": /counter/,
    "authentication, counter equal to the stored one": /counter/,
    "authentication, counter 0 after a counting one": /counter/,
    "authentication, cross-origin iframe": /cross_origin/,
    "authentication, cross-origin without top origin": /cross_origin/,
    "authentication, backup eligibility changed": /backup_eligibility/,
    "authentication, backed up but not backup eligible": /backup_state/,
  },
  async verifyRegistration({ response, challenge, rp }) {
    const party = { id: rp.id, name: "Gatehouse", origins: [rp.origin] };
    const verified = await verifyGatehouseRegistration(party, response, (c) => Promise.resolve(encodeBase64urlNoPadding(c) === challenge));
    return {
      credential: {
        publicKey: verified.publicKey,
        algorithm: verified.algorithm,
        signCount: verified.signCount,
        backupEligible: verified.backupEligible,
      },
      credentialId: verified.credentialId,
      counter: verified.signCount,
      backupEligible: verified.backupEligible,
      backedUp: verified.backedUp,
    };
  },
  async verifyAuthentication({ response, challenge, rp, credential, storedCounter }) {
    const party = { id: rp.id, name: "Gatehouse", origins: [rp.origin] };
    const asserted = await verifyGatehouseAssertion(party, response, { ...credential, signCount: storedCounter }, (c) =>
      Promise.resolve(encodeBase64urlNoPadding(c) === challenge),
    );
    return { counter: asserted.signCount, backedUp: asserted.backedUp };
  },
};

const VERIFIERS: Verifier<unknown>[] = [simpleWebAuthn, gatehouse] as Verifier<unknown>[];

/** The server's options, as Gatehouse will send them: passkeys (discoverable, UV required), no attestation. */
async function registrationOptions(rp: RelyingParty) {
  return generateRegistrationOptions({
    rpName: "Gatehouse",
    rpID: rp.id,
    userName: "ada@example.com",
    userDisplayName: "Ada",
    attestationType: "none",
    authenticatorSelection: { residentKey: "required", userVerification: "required" },
    supportedAlgorithmIDs: [COSE_ALG.ES256, COSE_ALG.RS256],
  });
}

/** A discoverable-credential request (empty allowCredentials) unless credential IDs are given. */
async function authenticationOptions(rp: RelyingParty, allow: string[] = []) {
  return generateAuthenticationOptions({ rpID: rp.id, userVerification: "required", allowCredentials: allow.map((id) => ({ id })) });
}

async function register<S>(
  verifier: Verifier<S>,
  authenticator: SoftwareAuthenticator,
  rp: RelyingParty,
  overrides?: AuthenticatorOverrides,
) {
  const options = await registrationOptions(rp);
  const response = await authenticator.register(options, rp.origin, overrides);
  return verifier.verifyRegistration({ response, challenge: options.challenge, rp });
}

async function authenticate<S>(
  verifier: Verifier<S>,
  authenticator: SoftwareAuthenticator,
  rp: RelyingParty,
  credential: S,
  storedCounter: number,
) {
  const options = await authenticationOptions(rp);
  const response = await authenticator.assert(options, rp.origin);
  return verifier.verifyAuthentication({ response, challenge: options.challenge, rp, credential, storedCounter });
}

describe.each(VERIFIERS)("$name verifies the software authenticator", (verifier) => {
  describe.each(ALGORITHMS)("%s", (algorithm) => {
    it.each([RP, LOCAL_RP])("registers and signs in at $origin, the counter going up", async (rp) => {
      const authenticator = await SoftwareAuthenticator.create({ algorithm });
      const registered = await register(verifier, authenticator, rp);
      expect(registered).toMatchObject({ credentialId: authenticator.credentialId, counter: 0, backupEligible: false, backedUp: false });

      // A discoverable-credential sign-in (no allowCredentials), then one naming the credential.
      const first = await authenticate(verifier, authenticator, rp, registered.credential, registered.counter);
      expect(first).toEqual({ counter: 1, backedUp: false });
      const options = await authenticationOptions(rp, [authenticator.credentialId]);
      const response = await authenticator.assert(options, rp.origin);
      expect(response.response.userHandle).toBe(authenticator.userHandle);
      const second = await verifier.verifyAuthentication({
        response,
        challenge: options.challenge,
        rp,
        credential: registered.credential,
        storedCounter: first.counter,
      });
      expect(second).toEqual({ counter: 2, backedUp: false });
    });

    it("accepts a synced passkey: backed up, its counter always 0", async () => {
      const authenticator = await SoftwareAuthenticator.create({ algorithm, backupEligible: true, backedUp: true, counts: false });
      const registered = await register(verifier, authenticator, RP);
      expect(registered).toMatchObject({ counter: 0, backupEligible: true, backedUp: true });
      for (let i = 0; i < 2; i++)
        expect(await authenticate(verifier, authenticator, RP, registered.credential, 0)).toEqual({ counter: 0, backedUp: true });
    });

    describe("forgeries", () => {
      // RSA keys take tens of milliseconds to make: one authenticator registers in every registration case
      // (each a new credential ID), another serves every assertion case.
      let registrar: SoftwareAuthenticator;
      let shared: { authenticator: SoftwareAuthenticator; credential: unknown };
      beforeAll(async () => {
        registrar = await SoftwareAuthenticator.create({ algorithm });
        const authenticator = await SoftwareAuthenticator.create({ algorithm });
        shared = { authenticator, credential: (await register(verifier, authenticator, RP)).credential };
      });

      it.each(CASES as readonly Case[])("$name", async (c: Case) => {
        const name = c.name as CaseName;
        let outcome: Promise<unknown>;
        if (c.ceremony === "registration") {
          const authenticator = c.authenticator ? await SoftwareAuthenticator.create({ algorithm, ...c.authenticator }) : registrar;
          outcome = register(verifier, authenticator, RP, c.overrides);
        } else {
          const { authenticator, credential } = shared;
          const options = await authenticationOptions(RP);
          const response = await authenticator.assert(options, RP.origin, c.overrides);
          const authData = decodeBase64urlIgnorePadding(response.response.authenticatorData);
          const reported = new DataView(authData.buffer, authData.byteOffset).getUint32(33);
          const storedCounter = c.storedCounter?.(reported) ?? reported - 1;
          outcome = verifier.verifyAuthentication({ response, challenge: options.challenge, rp: RP, credential, storedCounter });
        }
        if (c.accepted || verifier.accepts[name] !== undefined) await expect(outcome).resolves.toBeDefined();
        else await expect(outcome).rejects.toThrow(verifier.because[name] ?? /./);
      });
    });
  });
});

describe("the software authenticator", () => {
  it("writes clientDataJSON, attestationObject and authenticatorData as a browser and a platform authenticator do", async () => {
    const authenticator = await SoftwareAuthenticator.create({ backupEligible: true, backedUp: true });
    const options = await registrationOptions(RP);
    const created = await authenticator.register(options, RP.origin);
    expect(created.id).toBe(created.rawId);
    expect(created.response.transports).toEqual(["hybrid", "internal"]);
    expect(created.response.publicKeyAlgorithm).toBe(-7);
    expect(new TextDecoder().decode(decodeBase64urlIgnorePadding(created.response.clientDataJSON))).toBe(
      `{"type":"webauthn.create","challenge":"${options.challenge}","origin":"https://auth.example.com","crossOrigin":false}`,
    );
    // {"fmt": "none", "attStmt": {}, "authData": bytes(164)}: the three keys in CTAP2 canonical order.
    const attestation = encodeHexLowerCase(decodeBase64urlIgnorePadding(created.response.attestationObject));
    expect(attestation.slice(0, 48)).toBe("a363666d74646e6f6e656761747453746d74a06861757468");
    const authData = decodeBase64urlIgnorePadding(created.response.authenticatorData);
    expect(attestation.endsWith(encodeHexLowerCase(authData))).toBe(true);
    // rpIdHash ‖ flags UP|UV|BE|BS|AT ‖ counter 0 ‖ aaguid ‖ ID length 32 ‖ ID ‖ COSE EC2 key {1:2, 3:-7, -1:1, -2:x, -3:y}
    const rpIdHash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(RP.id)));
    expect(authData.subarray(0, 32)).toEqual(rpIdHash);
    expect(authData[32]).toBe(0x5d);
    expect(encodeHexLowerCase(authData.subarray(33, 55))).toBe("00000000" + "00".repeat(16) + "0020");
    expect(encodeBase64urlNoPadding(authData.subarray(55, 87))).toBe(authenticator.credentialId);
    expect(encodeHexLowerCase(authData.subarray(87, 97))).toBe("a5010203262001215820");
    expect(authData.length).toBe(164);

    const requested = await authenticationOptions(RP);
    const got = await authenticator.assert(requested, RP.origin);
    expect(new TextDecoder().decode(decodeBase64urlIgnorePadding(got.response.clientDataJSON))).toBe(
      `{"type":"webauthn.get","challenge":"${requested.challenge}","origin":"https://auth.example.com","crossOrigin":false}`,
    );
    const signedData = decodeBase64urlIgnorePadding(got.response.authenticatorData);
    expect(signedData.length).toBe(37);
    expect(signedData[32]).toBe(0x1d); // no AT in an assertion
    // DER: SEQUENCE { INTEGER r, INTEGER s }, and the SPKI given at registration verifies it once converted back.
    const der = decodeBase64urlIgnorePadding(got.response.signature);
    expect(der[0]).toBe(0x30);
    expect(der[1]).toBe(der.length - 2);
    const key = await crypto.subtle.importKey(
      "spki",
      decodeBase64urlIgnorePadding(created.response.publicKey),
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
    const clientDataHash = new Uint8Array(await crypto.subtle.digest("SHA-256", decodeBase64urlIgnorePadding(got.response.clientDataJSON)));
    const signed = new Uint8Array([...signedData, ...clientDataHash]);
    expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, derToRaw(der), signed)).toBe(true);
  });

  it("refuses what a browser refuses", async () => {
    const authenticator = await SoftwareAuthenticator.create({ algorithm: "RS256" });
    const options = await registrationOptions(RP);
    await expect(authenticator.assert(await authenticationOptions(RP), RP.origin)).rejects.toThrow(/No credential/);
    await expect(authenticator.register(options, "https://other.example")).rejects.toMatchObject({ name: "SecurityError" });
    await expect(
      authenticator.register({ ...options, pubKeyCredParams: [{ alg: COSE_ALG.ES256, type: "public-key" }] }, RP.origin),
    ).rejects.toMatchObject({ name: "NotSupportedError" });

    await authenticator.register(options, RP.origin);
    const excluded = { ...options, excludeCredentials: [{ id: authenticator.credentialId, type: "public-key" }] };
    await expect(authenticator.register(excluded, RP.origin)).rejects.toMatchObject({ name: "InvalidStateError" });
    const elsewhere = await authenticationOptions(RP, [OTHER_USER]);
    await expect(authenticator.assert(elsewhere, RP.origin)).rejects.toMatchObject({ name: "NotAllowedError" });
    await expect(authenticator.assert(await authenticationOptions(LOCAL_RP), LOCAL_RP.origin)).rejects.toMatchObject({
      name: "NotAllowedError",
    });
  });
});

/** DER ECDSA signature back to WebCrypto's r ‖ s (32 bytes each). */
function derToRaw(der: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  let offset = 2;
  for (const half of [0, 32]) {
    const length = der[offset + 1]!;
    const integer = der.subarray(offset + 2, offset + 2 + length);
    const trimmed = integer.subarray(Math.max(0, integer.length - 32));
    out.set(trimmed, half + 32 - trimmed.length);
    offset += 2 + length;
  }
  return out;
}
