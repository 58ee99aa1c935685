import { timingSafeEqual, utf8 } from "../crypto";
// Compiled by `npm run build:bcrypt` from wasm/bcrypt/assembly (AssemblyScript); wrangler and the
// vitest plugin import a .wasm file as a compiled WebAssembly.Module (workerd forbids compiling bytes
// at run time, so there is no other way in).
import bcryptModule from "./bcrypt.wasm";

/**
 * Verification of bcrypt hashes (`$2a$`, `$2b$`, `$2y$`, the OpenBSD algorithm) in WebAssembly, for
 * accounts imported with a bcrypt hash. The module computes the 23 raw bytes; the hash text, its
 * base64 and the comparison are here.
 */

/** What wasm/bcrypt/assembly/index.ts exports: its memory, the addresses of its buffers, hash(). */
interface BcryptExports {
  memory: WebAssembly.Memory;
  KEY: WebAssembly.Global;
  SALT: WebAssembly.Global;
  HASH: WebAssembly.Global;
  hash(keyLength: number, cost: number): void;
}

// One instance per isolate, made on first use: most isolates never see a bcrypt hash. Sharing it is
// safe because hash() runs to completion synchronously.
let instance: BcryptExports | undefined;

function bcryptExports(): BcryptExports {
  instance ??= new WebAssembly.Instance(bcryptModule, {}).exports as unknown as BcryptExports;
  return instance;
}

const HASH_FORMAT = /^\$2[aby]\$(\d\d)\$([./A-Za-z0-9]{22})[./A-Za-z0-9]{31}$/;
const ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** bcrypt reads at most 72 bytes of the password (its UTF-8, then a NUL, used cyclically). */
const MAX_KEY_BYTES = 72;
const SALT_BYTES = 16;
const HASH_BYTES = 23;

/**
 * Whether `password` (a string is taken as its UTF-8 bytes) matches the bcrypt hash `hash`, compared
 * in constant time over the whole 60-character hash. A malformed hash, or a cost outside bcrypt's 4
 * to 31, is false, never an error. A check costs 2^cost rounds of key expansion: callers bound the
 * cost of what they store.
 */
export function verifyBcrypt(password: string | Uint8Array, hash: string): boolean {
  const parts = HASH_FORMAT.exec(hash);
  if (!parts) return false;
  const cost = Number(parts[1]);
  if (cost < 4 || cost > 31) return false;
  const salt = decode(parts[2] ?? "", SALT_BYTES);
  // As OpenBSD's bcrypt_checkpass: the salt is re-encoded from its bytes, so a hash whose salt has
  // stray bits in its last character matches nothing.
  const expected = `${hash.slice(0, 7)}${encode(salt)}${encode(bcryptBytes(password, salt, cost))}`;
  return timingSafeEqual(utf8(expected), utf8(hash));
}

/** The 23 bytes bcrypt encodes after the salt. */
function bcryptBytes(password: string | Uint8Array, salt: Uint8Array, cost: number): Uint8Array {
  const wasm = bcryptExports();
  const memory = new Uint8Array(wasm.memory.buffer);
  const key = (wasm.KEY.value as number) >>> 0;
  const passwordBytes = (typeof password === "string" ? utf8(password) : password).subarray(0, MAX_KEY_BYTES);
  memory.set(passwordBytes, key);
  // The terminating NUL counts as a key byte when it falls within the 72.
  if (passwordBytes.length < MAX_KEY_BYTES) memory[key + passwordBytes.length] = 0;
  memory.set(salt, (wasm.SALT.value as number) >>> 0);
  wasm.hash(Math.min(passwordBytes.length + 1, MAX_KEY_BYTES), cost);
  const out = (wasm.HASH.value as number) >>> 0;
  return memory.slice(out, out + HASH_BYTES);
}

/** bcrypt's base64: its own alphabet, most significant bits first, no padding. */
function encode(bytes: Uint8Array): string {
  let text = "";
  let bits = 0;
  let pending = 0;
  for (const byte of bytes) {
    pending = (pending << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      text += ALPHABET[(pending >> bits) & 63];
    }
    pending &= (1 << bits) - 1;
  }
  return bits > 0 ? text + ALPHABET[(pending << (6 - bits)) & 63] : text;
}

/** The first `length` bytes `text` (bcrypt base64, already checked) encodes. */
function decode(text: string, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let filled = 0;
  let bits = 0;
  let pending = 0;
  for (const char of text) {
    pending = (pending << 6) | ALPHABET.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (filled < length) bytes[filled++] = (pending >> bits) & 0xff;
      pending &= (1 << bits) - 1;
    }
  }
  return bytes;
}
