import { decodeCBORToNativeValueNoLeftoverBytes } from "@oslojs/cbor";
import { decodePKIXECDSASignature, p256 } from "@oslojs/crypto/ecdsa";
import {
  ClientDataType,
  coseAlgorithmEdDSA,
  coseAlgorithmES256,
  coseAlgorithmRS256,
  coseEllipticCurveEd25519,
  coseEllipticCurveP256,
  COSEKeyType,
  createAssertionSignatureMessage,
  parseAuthenticatorData,
  parseClientDataJSON,
  type AuthenticatorData,
  type COSEPublicKey,
} from "@oslojs/webauthn";
import type { RelyingPartyConfig } from "../config/web";
import { base64url, fromBase64url } from "../crypto";

/**
 * WebAuthn Level 3 ceremonies, checked by hand where the protocol says "the relying party checks":
 * `@oslojs/webauthn` parses clientDataJSON, authenticator data and COSE keys; this module checks the
 * type, the challenge (through the caller's predicate: challenges are purpose-bound and single use,
 * see passkey-challenges.ts), the exact origin, `crossOrigin`, the RP ID hash, the UP and UV flags,
 * and verifies signatures with WebCrypto (ES256, RS256, EdDSA). Attestation is not verified:
 * Gatehouse asks for `none` and trusts no attestation statement, whatever its format.
 * Every refusal is a {@link WebAuthnError} naming the check (for the audit row, never the client).
 */

export class WebAuthnError extends Error {
  override name = "WebAuthnError";
  constructor(readonly reason: string) {
    super(`webauthn: ${reason}`);
  }
}

/** `PublicKeyCredential.toJSON()` of a registration (only what is read). */
export interface RegistrationJSON {
  id: string;
  rawId?: string;
  type: string;
  response: { clientDataJSON: string; attestationObject: string; transports?: string[] | undefined };
}

/** `PublicKeyCredential.toJSON()` of an assertion (only what is read). */
export interface AssertionJSON {
  id: string;
  rawId?: string;
  type: string;
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string | null | undefined };
}

export interface VerifiedRegistration {
  credentialId: string;
  publicKey: JsonWebKey;
  algorithm: number;
  signCount: number;
  backupEligible: boolean;
  backedUp: boolean;
  /** The authenticator model (AAGUID as a UUID string; all zeros when it keeps it to itself). */
  aaguid: string;
  transports: string[];
}

export interface StoredCredential {
  publicKey: JsonWebKey;
  algorithm: number;
  signCount: number;
  backupEligible: boolean;
}

export interface VerifiedAssertion {
  signCount: number;
  backedUp: boolean;
  userHandle: string | null;
}

/** The algorithms offered at registration, in order of preference (COSE identifiers). */
export const SUPPORTED_ALGORITHMS = [coseAlgorithmES256, coseAlgorithmEdDSA, coseAlgorithmRS256];

const FLAG_BACKUP_ELIGIBLE = 0x08;
const FLAG_BACKED_UP = 0x10;
const TRANSPORTS = new Set(["ble", "cable", "hybrid", "internal", "nfc", "smart-card", "usb"]);

export async function verifyRegistration(
  rp: RelyingPartyConfig,
  response: RegistrationJSON,
  challengeOk: (challenge: Uint8Array) => Promise<boolean>,
): Promise<VerifiedRegistration> {
  if (response.type !== "public-key") throw new WebAuthnError("type");
  await checkClientData(rp, response.response.clientDataJSON, ClientDataType.Create, challengeOk);
  const attestation = decode(() => decodeCBORToNativeValueNoLeftoverBytes(bytes(response.response.attestationObject), 4)) as {
    authData?: unknown;
  };
  if (!(attestation.authData instanceof Uint8Array)) throw new WebAuthnError("attestation_object");
  const raw = attestation.authData;
  const data = decode(() => parseAuthenticatorData(raw));
  checkAuthenticatorData(rp, data);
  const credential = data.credential;
  if (!credential) throw new WebAuthnError("no_credential");
  const credentialId = base64url(credential.id);
  if (credentialId !== response.id) throw new WebAuthnError("credential_id");
  const { jwk, algorithm } = toJwk(credential.publicKey);
  // Importing it proves it is a well-formed key of that algorithm.
  await importKey(jwk, algorithm);
  const flags = raw[32]!;
  checkBackupFlags(flags);
  return {
    credentialId,
    publicKey: jwk,
    algorithm,
    signCount: data.signatureCounter,
    backupEligible: (flags & FLAG_BACKUP_ELIGIBLE) !== 0,
    backedUp: (flags & FLAG_BACKED_UP) !== 0,
    aaguid: uuidOf(credential.authenticatorAAGUID),
    transports: (response.response.transports ?? []).filter((t) => TRANSPORTS.has(t)).slice(0, 8),
  };
}

/**
 * Verifies an assertion against the stored credential. The counter rule: an authenticator that
 * counts (stored or presented counter above 0) must present a counter above the stored one, or the
 * credential may have been cloned (`counter`).
 */
export async function verifyAssertion(
  rp: RelyingPartyConfig,
  response: AssertionJSON,
  credential: StoredCredential,
  challengeOk: (challenge: Uint8Array) => Promise<boolean>,
): Promise<VerifiedAssertion> {
  if (response.type !== "public-key") throw new WebAuthnError("type");
  const clientDataJSON = bytes(response.response.clientDataJSON);
  await checkClientData(rp, response.response.clientDataJSON, ClientDataType.Get, challengeOk);
  const raw = bytes(response.response.authenticatorData);
  const data = decode(() => parseAuthenticatorData(raw));
  checkAuthenticatorData(rp, data);
  const key = await importKey(credential.publicKey, credential.algorithm);
  const message = createAssertionSignatureMessage(raw, clientDataJSON);
  if (!(await verifySignature(key, credential.algorithm, bytes(response.response.signature), message)))
    throw new WebAuthnError("signature");
  const counts = credential.signCount > 0 || data.signatureCounter > 0;
  if (counts && data.signatureCounter <= credential.signCount) throw new WebAuthnError("counter");
  const flags = raw[32]!;
  checkBackupFlags(flags);
  // BE is fixed when the credential is made (WebAuthn §7.2): a change means another credential.
  if (((flags & FLAG_BACKUP_ELIGIBLE) !== 0) !== credential.backupEligible) throw new WebAuthnError("backup_eligibility");
  const handle = response.response.userHandle;
  return { signCount: data.signatureCounter, backedUp: (flags & FLAG_BACKED_UP) !== 0, userHandle: handle ? handle : null };
}

/** The credential id an assertion names, if it is well-formed (nothing is verified here). */
export function credentialIdOf(response: { id?: unknown }): string | null {
  return typeof response.id === "string" && /^[A-Za-z0-9_-]{16,1366}$/.test(response.id) ? response.id : null;
}

async function checkClientData(
  rp: RelyingPartyConfig,
  encoded: string,
  type: ClientDataType,
  challengeOk: (challenge: Uint8Array) => Promise<boolean>,
): Promise<void> {
  const clientData = decode(() => parseClientDataJSON(bytes(encoded)));
  if (clientData.type !== type) throw new WebAuthnError("client_data_type");
  if (!rp.origins.includes(clientData.origin)) throw new WebAuthnError("origin");
  if (clientData.crossOrigin === true) throw new WebAuthnError("cross_origin");
  if (!(await challengeOk(clientData.challenge))) throw new WebAuthnError("challenge");
}

/** BS (backed up) without BE (backup eligible) is a contradiction no authenticator may send. */
function checkBackupFlags(flags: number): void {
  if ((flags & FLAG_BACKED_UP) !== 0 && (flags & FLAG_BACKUP_ELIGIBLE) === 0) throw new WebAuthnError("backup_state");
}

function checkAuthenticatorData(rp: RelyingPartyConfig, data: AuthenticatorData): void {
  if (!data.verifyRelyingPartyIdHash(rp.id)) throw new WebAuthnError("rp_id");
  if (!data.userPresent) throw new WebAuthnError("user_presence");
  if (!data.userVerified) throw new WebAuthnError("user_verification");
}

function toJwk(key: COSEPublicKey): { jwk: JsonWebKey; algorithm: number } {
  const algorithm = key.isAlgorithmDefined() ? key.algorithm() : NaN;
  if (algorithm === coseAlgorithmES256 && key.type() === COSEKeyType.EC2) {
    const { curve, x, y } = key.ec2();
    if (curve !== coseEllipticCurveP256) throw new WebAuthnError("key_curve");
    return { jwk: { kty: "EC", crv: "P-256", x: bigintB64(x, 32), y: bigintB64(y, 32) }, algorithm };
  }
  if (algorithm === coseAlgorithmRS256 && key.type() === COSEKeyType.RSA) {
    const { n, e } = key.rsa();
    return { jwk: { kty: "RSA", n: bigintB64(n), e: bigintB64(e) }, algorithm };
  }
  if (algorithm === coseAlgorithmEdDSA && key.type() === COSEKeyType.OKP) {
    const { curve, x } = key.okp();
    if (curve !== coseEllipticCurveEd25519) throw new WebAuthnError("key_curve");
    return { jwk: { kty: "OKP", crv: "Ed25519", x: base64url(x) }, algorithm };
  }
  throw new WebAuthnError("algorithm");
}

function importKey(jwk: JsonWebKey, algorithm: number): Promise<CryptoKey> {
  const params =
    algorithm === coseAlgorithmES256
      ? { name: "ECDSA", namedCurve: "P-256" }
      : algorithm === coseAlgorithmRS256
        ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
        : { name: "Ed25519" };
  return crypto.subtle.importKey("jwk", jwk, params, false, ["verify"]).catch(() => {
    throw new WebAuthnError("public_key");
  });
}

async function verifySignature(key: CryptoKey, algorithm: number, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  try {
    if (algorithm === coseAlgorithmES256) {
      // Authenticators sign ECDSA in ASN.1 DER; WebCrypto takes r ‖ s.
      const raw = decodePKIXECDSASignature(signature).encodeIEEEP1363(p256);
      return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, message);
    }
    const name = algorithm === coseAlgorithmRS256 ? "RSASSA-PKCS1-v1_5" : "Ed25519";
    return await crypto.subtle.verify({ name }, key, signature, message);
  } catch {
    return false;
  }
}

function bytes(value: unknown): Uint8Array {
  if (typeof value !== "string" || value.length > 16_384 || !/^[A-Za-z0-9_-]*={0,2}$/.test(value)) throw new WebAuthnError("encoding");
  try {
    return fromBase64url(value.replace(/=+$/, ""));
  } catch {
    throw new WebAuthnError("encoding");
  }
}

function decode<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof WebAuthnError) throw error;
    throw new WebAuthnError("malformed");
  }
}

function bigintB64(value: bigint, length?: number): string {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (length) hex = hex.padStart(length * 2, "0");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return base64url(out);
}

function uuidOf(aaguid: Uint8Array): string {
  const hex = [...aaguid].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
