import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from "@oslojs/encoding";

/**
 * A software passkey for tests: one platform authenticator holding one discoverable credential, answering
 * `navigator.credentials.create()` / `.get()` the way a browser would serialize them (`toJSON()`: base64url
 * without padding). WebCrypto only, so the same file runs in workerd (test/*.test.ts) and in Node
 * (test/node). Attestation is always "none", as synced passkeys give it.
 *
 * Every field a relying party must check can be forged through `overrides`, so tests can show each refusal.
 */

export type PasskeyAlgorithm = "ES256" | "RS256";

export interface SoftwareAuthenticatorOptions {
  /** The key type; default ES256. Registration throws if the server does not offer it. */
  algorithm?: PasskeyAlgorithm;
  /** Flag BE: a multi-device (syncable) credential. Default false. */
  backupEligible?: boolean;
  /** Flag BS: the credential is backed up. Default false. BS without BE is invalid; allowed here so tests can forge it. */
  backedUp?: boolean;
  /** The signature counter goes up by one per assertion (default); false keeps it at 0, as synced passkeys do. */
  counts?: boolean;
  /** 16 bytes; default all zeros (what "none" attestation reports). */
  aaguid?: Uint8Array;
}

/** Forgeries, each one field a relying party must refuse (or, for `counter`, compare). */
export interface AuthenticatorOverrides {
  /** clientDataJSON.origin. */
  origin?: string;
  /** The RP ID whose SHA-256 goes in authenticatorData (the credential is still looked up under the real one). */
  rpId?: string;
  /** clientDataJSON.type, e.g. "webauthn.create" in an assertion. */
  type?: string;
  /** clientDataJSON.challenge (base64url). */
  challenge?: string;
  /** clientDataJSON.crossOrigin. */
  crossOrigin?: boolean;
  /** clientDataJSON.topOrigin (browsers add it to a cross-origin ceremony). */
  topOrigin?: string;
  /** Flag UP; default true. */
  userPresent?: boolean;
  /** Flag UV; default true (a platform authenticator always verifies the user). */
  userVerified?: boolean;
  /** Flag BE instead of the authenticator's setting (it never changes for a credential: WebAuthn §7.2). */
  backupEligible?: boolean;
  /** Flag BS instead of the authenticator's setting. */
  backedUp?: boolean;
  /** The signature counter written in authenticatorData, instead of the authenticator's own (which is left unchanged). */
  counter?: number;
  /** Sign other bytes than authenticatorData ‖ SHA-256(clientDataJSON): a well-formed signature that does not verify. */
  badSignature?: boolean;
  /** response.userHandle (base64url) of an assertion. */
  userHandle?: string;
}

/** The fields of `PublicKeyCredentialCreationOptionsJSON` an authenticator reads. */
export interface CreationOptionsJSON {
  challenge: string;
  rp: { id?: string; name: string };
  user: { id: string; name: string; displayName: string };
  pubKeyCredParams: { alg: number; type: string }[];
  excludeCredentials?: { id: string; type?: string; transports?: string[] }[];
  authenticatorSelection?: { authenticatorAttachment?: string; residentKey?: string; userVerification?: string };
  attestation?: string;
}

/** The fields of `PublicKeyCredentialRequestOptionsJSON` an authenticator reads. */
export interface RequestOptionsJSON {
  challenge: string;
  rpId?: string;
  allowCredentials?: { id: string; type?: string; transports?: string[] }[];
  userVerification?: string;
}

/** `PublicKeyCredential.toJSON()` after `create()`. */
export interface RegistrationResponseJSON {
  id: string;
  rawId: string;
  type: "public-key";
  response: {
    clientDataJSON: string;
    attestationObject: string;
    transports: ("internal" | "hybrid")[];
    publicKeyAlgorithm: number;
    /** SubjectPublicKeyInfo (DER), as `getPublicKey()` gives it. */
    publicKey: string;
    authenticatorData: string;
  };
  authenticatorAttachment: "platform";
  clientExtensionResults: Record<string, never>;
}

/** `PublicKeyCredential.toJSON()` after `get()`. */
export interface AuthenticationResponseJSON {
  id: string;
  rawId: string;
  type: "public-key";
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle: string };
  authenticatorAttachment: "platform";
  clientExtensionResults: Record<string, never>;
}

/** COSE algorithm identifiers (RFC 9053, IANA). */
const COSE_ALG: Record<PasskeyAlgorithm, number> = { ES256: -7, RS256: -257 };

/** authenticatorData flag bits (WebAuthn §6.1). */
const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;

interface Credential {
  id: Uint8Array;
  rpId: string;
  userHandle: string;
}

export class SoftwareAuthenticator {
  #credential: Credential | undefined;
  #counter = 0;

  private constructor(
    readonly algorithm: PasskeyAlgorithm,
    private readonly settings: Required<Omit<SoftwareAuthenticatorOptions, "algorithm">>,
    private readonly keys: CryptoKeyPair,
  ) {}

  /**
   * One instance is one key pair (made here: an RSA key takes tens of milliseconds), hence one passkey: use an
   * instance per passkey. Registering again binds the same key to a new credential ID.
   */
  static async create(options: SoftwareAuthenticatorOptions = {}): Promise<SoftwareAuthenticator> {
    const algorithm = options.algorithm ?? "ES256";
    const aaguid = options.aaguid ?? new Uint8Array(16);
    if (aaguid.length !== 16) throw new TypeError("aaguid must be 16 bytes");
    const settings = {
      backupEligible: options.backupEligible ?? false,
      backedUp: options.backedUp ?? false,
      counts: options.counts ?? true,
      aaguid,
    };
    return new SoftwareAuthenticator(algorithm, settings, await generateKeys(algorithm));
  }

  /** The credential ID (base64url); throws before registration. */
  get credentialId(): string {
    return encodeBase64urlNoPadding(this.#registered().id);
  }

  /** The user.id (base64url) the credential was registered for; throws before registration. */
  get userHandle(): string {
    return this.#registered().userHandle;
  }

  /** The RP ID the credential is bound to; throws before registration. */
  get rpId(): string {
    return this.#registered().rpId;
  }

  /** The signature counter as last reported (0 after registration). */
  get counter(): number {
    return this.#counter;
  }

  /**
   * `navigator.credentials.create({ publicKey })` then `toJSON()`. Registering again replaces the credential
   * (new ID, same key, counter back to 0), unless `excludeCredentials` names it: then InvalidStateError.
   */
  async register(options: CreationOptionsJSON, origin: string, overrides: AuthenticatorOverrides = {}): Promise<RegistrationResponseJSON> {
    const rpId = options.rp.id ?? new URL(origin).hostname;
    checkRpId(rpId, origin);
    if (this.#credential && options.excludeCredentials?.some((c) => c.id === this.credentialId))
      throw new DOMException("The authenticator already holds a credential excluded by the relying party", "InvalidStateError");
    // An empty list means the defaults, ES256 and RS256 (WebAuthn §5.1.3 step 10).
    const offered = options.pubKeyCredParams.length > 0 ? options.pubKeyCredParams.map((p) => p.alg) : [-7, -257];
    const alg = COSE_ALG[this.algorithm];
    if (!offered.includes(alg)) throw new DOMException(`The relying party does not offer ${this.algorithm}`, "NotSupportedError");

    const id = crypto.getRandomValues(new Uint8Array(32));
    this.#credential = { id, rpId, userHandle: options.user.id };
    this.#counter = 0;

    const clientDataJSON = clientData("webauthn.create", options.challenge, origin, overrides);
    const coseKey = await cosePublicKey(this.keys.publicKey, this.algorithm);
    const attested = concat(this.settings.aaguid, uint16(id.length), id, coseKey);
    const authData = await this.#authenticatorData(overrides.rpId ?? rpId, FLAG.AT, overrides.counter ?? 0, overrides, attested);
    const attestationObject = cbor(
      new Map<string, CborValue>([
        ["fmt", "none"],
        ["attStmt", new Map()],
        ["authData", authData],
      ]),
    );
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", this.keys.publicKey)) as ArrayBuffer);
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: "public-key",
      response: {
        clientDataJSON: b64u(clientDataJSON),
        attestationObject: b64u(attestationObject),
        // A synced passkey can also be used from a phone (caBLE); a device-bound one only here.
        transports: this.settings.backupEligible ? ["hybrid", "internal"] : ["internal"],
        publicKeyAlgorithm: alg,
        publicKey: b64u(spki),
        authenticatorData: b64u(authData),
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }

  /**
   * `navigator.credentials.get({ publicKey })` then `toJSON()`. Throws NotAllowedError where a browser would
   * find no credential: none registered, another RP ID, or an `allowCredentials` list without this one.
   */
  async assert(options: RequestOptionsJSON, origin: string, overrides: AuthenticatorOverrides = {}): Promise<AuthenticationResponseJSON> {
    const rpId = options.rpId ?? new URL(origin).hostname;
    checkRpId(rpId, origin);
    const credential = this.#credential;
    const allowed = options.allowCredentials ?? [];
    if (!credential || credential.rpId !== rpId || (allowed.length > 0 && !allowed.some((c) => c.id === this.credentialId)))
      throw new DOMException("No credential available for this request", "NotAllowedError");

    let counter = 0;
    if (this.settings.counts) counter = ++this.#counter;
    if (overrides.counter !== undefined) counter = overrides.counter;

    const clientDataJSON = clientData("webauthn.get", options.challenge, origin, overrides);
    const authData = await this.#authenticatorData(overrides.rpId ?? rpId, 0, counter, overrides);
    const signed = concat(authData, await sha256(clientDataJSON));
    if (overrides.badSignature) signed[signed.length - 1]! ^= 0x01;
    const signature = await sign(this.keys.privateKey, this.algorithm, signed);
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: "public-key",
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        userHandle: overrides.userHandle ?? credential.userHandle,
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }

  /** rpIdHash (32) ‖ flags (1) ‖ signCount (uint32 BE) ‖ attested credential data, if any (WebAuthn §6.1). */
  async #authenticatorData(rpId: string, extraFlags: number, counter: number, o: AuthenticatorOverrides, attested?: Uint8Array) {
    let flags = extraFlags;
    if (o.userPresent ?? true) flags |= FLAG.UP;
    if (o.userVerified ?? true) flags |= FLAG.UV;
    if (o.backupEligible ?? this.settings.backupEligible) flags |= FLAG.BE;
    if (o.backedUp ?? this.settings.backedUp) flags |= FLAG.BS;
    const rpIdHash = await sha256(new TextEncoder().encode(rpId));
    return concat(rpIdHash, new Uint8Array([flags]), uint32(counter), attested ?? new Uint8Array(0));
  }

  #registered(): Credential {
    if (!this.#credential) throw new Error("SoftwareAuthenticator: register() first");
    return this.#credential;
  }
}

/** What a browser checks before calling the authenticator: the RP ID is the origin's host or a parent domain of it. */
function checkRpId(rpId: string, origin: string): void {
  const host = new URL(origin).hostname;
  if (host !== rpId && !host.endsWith(`.${rpId}`))
    throw new DOMException(`The RP ID "${rpId}" is not valid for the origin ${origin}`, "SecurityError");
}

/** The bytes of clientDataJSON, keys in the order browsers write them (WebAuthn §5.8.1.1). */
function clientData(type: string, challenge: string, origin: string, o: AuthenticatorOverrides): Uint8Array {
  const data: Record<string, unknown> = {
    type: o.type ?? type,
    challenge: o.challenge ?? challenge,
    origin: o.origin ?? origin,
    crossOrigin: o.crossOrigin ?? false,
  };
  if (o.topOrigin !== undefined) data.topOrigin = o.topOrigin;
  return new TextEncoder().encode(JSON.stringify(data));
}

async function generateKeys(algorithm: PasskeyAlgorithm): Promise<CryptoKeyPair> {
  const params =
    algorithm === "ES256"
      ? { name: "ECDSA", namedCurve: "P-256" }
      : { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
  return (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** The credential public key as a COSE_Key (RFC 9052 §7, RFC 9053 §2.1 and RFC 8230 §4), in CTAP2 canonical key order. */
async function cosePublicKey(publicKey: CryptoKey, algorithm: PasskeyAlgorithm): Promise<Uint8Array> {
  const jwk = (await crypto.subtle.exportKey("jwk", publicKey)) as JsonWebKey;
  const bytes = (s: string | undefined) => decodeBase64urlIgnorePadding(s ?? "");
  if (algorithm === "ES256")
    // kty: EC2, alg: ES256, crv: P-256, x, y
    return cbor(
      new Map<number, CborValue>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, bytes(jwk.x)],
        [-3, bytes(jwk.y)],
      ]),
    );
  // kty: RSA, alg: RS256, n, e
  return cbor(
    new Map<number, CborValue>([
      [1, 3],
      [3, -257],
      [-1, bytes(jwk.n)],
      [-2, bytes(jwk.e)],
    ]),
  );
}

/** ES256 signatures go out DER-encoded, as authenticators give them; WebCrypto's are raw r ‖ s. */
async function sign(privateKey: CryptoKey, algorithm: PasskeyAlgorithm, data: Uint8Array): Promise<Uint8Array> {
  if (algorithm === "RS256") return new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", privateKey, data));
  const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, data));
  return derEcdsaSignature(raw.subarray(0, 32), raw.subarray(32));
}

/** SEQUENCE { INTEGER r, INTEGER s } (RFC 3279 §2.2.3): minimal big-endian integers, a 0x00 before a high bit. */
function derEcdsaSignature(r: Uint8Array, s: Uint8Array): Uint8Array {
  const integer = (n: Uint8Array) => {
    let i = 0;
    while (i < n.length - 1 && n[i] === 0) i++;
    const body = n[i]! & 0x80 ? concat(new Uint8Array([0]), n.subarray(i)) : n.subarray(i);
    return concat(new Uint8Array([0x02, body.length]), body);
  };
  const content = concat(integer(r), integer(s));
  return concat(new Uint8Array([0x30, content.length]), content);
}

/** The CBOR this needs (RFC 8949): integers, byte and text strings, maps written in the order given. */
type CborValue = number | string | Uint8Array | Map<number | string, CborValue>;

function cbor(value: CborValue): Uint8Array {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError("CBOR: integers only");
    return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value);
  }
  if (typeof value === "string") {
    const utf8 = new TextEncoder().encode(value);
    return concat(cborHead(3, utf8.length), utf8);
  }
  if (value instanceof Uint8Array) return concat(cborHead(2, value.length), value);
  const parts = [cborHead(5, value.size)];
  for (const [k, v] of value) parts.push(cbor(k), cbor(v));
  return concat(...parts);
}

/** A major type and its argument, in the shortest form. */
function cborHead(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return new Uint8Array([m | n]);
  if (n < 0x100) return new Uint8Array([m | 24, n]);
  if (n < 0x10000) return concat(new Uint8Array([m | 25]), uint16(n));
  if (n < 0x100000000) return concat(new Uint8Array([m | 26]), uint32(n));
  throw new RangeError("CBOR: argument too large");
}

function uint16(n: number): Uint8Array {
  return new Uint8Array([(n >>> 8) & 0xff, n & 0xff]);
}

function uint32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

function b64u(bytes: Uint8Array): string {
  return encodeBase64urlNoPadding(bytes);
}
