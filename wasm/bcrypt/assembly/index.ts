// bcrypt (OpenBSD's bcrypt_hashpass, "$2b$") as a WebAssembly module for src/accounts/bcrypt.ts.
// The caller writes the key and the salt into memory, calls hash(), and reads 23 raw bytes back; the
// "$2b$10$…" text, the base64 and the comparison stay in TypeScript.
//
// Speed is the point (a login on an imported hash pays 2^cost × 1,042 Blowfish encryptions): the
// state lives at fixed addresses at the bottom of linear memory, so every P-array and S-box access
// is one load or store with a constant offset; the 16 rounds are written out; nothing allocates.
// The module's own static data (the initial state) starts above this area (asconfig.json memoryBase).
import { INITIAL_STATE } from "./blowfish-pi";

// The working state, laid out as one run of 1,042 words: the P-array then the four S-boxes. Key
// expansion overwrites it front to back, 8 bytes per encryption, in exactly this order.
const P: usize = 0;
const S0: usize = 72;
const S1: usize = S0 + 1024;
const S2: usize = S1 + 1024;
const S3: usize = S2 + 1024;
const STATE_BYTES: usize = S3 + 1024; // 4,168

/** In: the key bytes (the password's UTF-8 and its NUL, at most 72 bytes, see hash()). */
export const KEY: usize = STATE_BYTES;
/** In: the 16 salt bytes. */
export const SALT: usize = KEY + 72;
/** Out: the 23 bytes of the hash (24 are written). */
export const HASH: usize = SALT + 16;
// The key and the salt as the 18 big-endian words that key expansion XORs into the P-array.
const KEY_WORDS: usize = HASH + 24;
const SALT_WORDS: usize = KEY_WORDS + 72;

/** Blowfish's F: the four S-box lookups of one round. */
// @ts-ignore: decorator
@inline function f(x: u32): u32 {
  return (
    ((load<u32>((x >>> 22) & 0x3fc, S0) + load<u32>((x >>> 14) & 0x3fc, S1)) ^ load<u32>((x >>> 6) & 0x3fc, S2)) +
    load<u32>((x << 2) & 0x3fc, S3)
  );
}

/**
 * One Blowfish block encryption; the two halves come back packed as (left << 32) | right. Each round
 * is written `r ^ P[n] ^ F(l)` so the P word is mixed in while F's loads are still pending and only
 * one XOR follows them on the round's critical path (about 6% faster in V8 than `r ^ (F(l) ^ P[n])`).
 */
// @ts-ignore: decorator
@inline function encipher(l: u32, r: u32): u64 {
  l ^= load<u32>(P, 0);
  r = r ^ load<u32>(P, 4) ^ f(l);
  l = l ^ load<u32>(P, 8) ^ f(r);
  r = r ^ load<u32>(P, 12) ^ f(l);
  l = l ^ load<u32>(P, 16) ^ f(r);
  r = r ^ load<u32>(P, 20) ^ f(l);
  l = l ^ load<u32>(P, 24) ^ f(r);
  r = r ^ load<u32>(P, 28) ^ f(l);
  l = l ^ load<u32>(P, 32) ^ f(r);
  r = r ^ load<u32>(P, 36) ^ f(l);
  l = l ^ load<u32>(P, 40) ^ f(r);
  r = r ^ load<u32>(P, 44) ^ f(l);
  l = l ^ load<u32>(P, 48) ^ f(r);
  r = r ^ load<u32>(P, 52) ^ f(l);
  l = l ^ load<u32>(P, 56) ^ f(r);
  r = r ^ load<u32>(P, 60) ^ f(l);
  l = l ^ load<u32>(P, 64) ^ f(r);
  return ((<u64>(r ^ load<u32>(P, 68))) << 32) | <u64>l;
}

/** The P-array XORed with 18 words (the key's or the salt's). */
// @ts-ignore: decorator
@inline function mixIntoP(words: usize): void {
  for (let i: usize = 0; i < 72; i += 4) store<u32>(P + i, load<u32>(P + i) ^ load<u32>(words + i));
}

/**
 * OpenBSD's Blowfish_expand0state: mix in `words`, then re-encrypt the whole state with itself.
 * Nearly all of bcrypt's time is spent here, so encipher() is written out again in the loop: its
 * packed result would cost a few operations on the critical path of every block.
 */
function expand0(words: usize): void {
  mixIntoP(words);
  let l: u32 = 0;
  let r: u32 = 0;
  for (let at: usize = 0; at < STATE_BYTES; at += 8) {
    l ^= load<u32>(P, 0);
    r = r ^ load<u32>(P, 4) ^ f(l);
    l = l ^ load<u32>(P, 8) ^ f(r);
    r = r ^ load<u32>(P, 12) ^ f(l);
    l = l ^ load<u32>(P, 16) ^ f(r);
    r = r ^ load<u32>(P, 20) ^ f(l);
    l = l ^ load<u32>(P, 24) ^ f(r);
    r = r ^ load<u32>(P, 28) ^ f(l);
    l = l ^ load<u32>(P, 32) ^ f(r);
    r = r ^ load<u32>(P, 36) ^ f(l);
    l = l ^ load<u32>(P, 40) ^ f(r);
    r = r ^ load<u32>(P, 44) ^ f(l);
    l = l ^ load<u32>(P, 48) ^ f(r);
    r = r ^ load<u32>(P, 52) ^ f(l);
    l = l ^ load<u32>(P, 56) ^ f(r);
    r = r ^ load<u32>(P, 60) ^ f(l);
    l = l ^ load<u32>(P, 64) ^ f(r);
    const left = r ^ load<u32>(P, 68);
    r = l;
    l = left;
    store<u32>(at, l);
    store<u32>(at, r, 4);
  }
}

/**
 * OpenBSD's Blowfish_expandstate with the salt as data: like expand0() with the key, but each
 * block is XORed with the next two salt words first (s0 s1, then s2 s3, in turn).
 */
function expandWithSalt(): void {
  mixIntoP(KEY_WORDS);
  const s0 = load<u32>(SALT_WORDS, 0);
  const s1 = load<u32>(SALT_WORDS, 4);
  const s2 = load<u32>(SALT_WORDS, 8);
  const s3 = load<u32>(SALT_WORDS, 12);
  let l: u32 = 0;
  let r: u32 = 0;
  let block: u64;
  // 521 blocks: 260 pairs, then one block with s0 s1.
  let at: usize = 0;
  for (; at < STATE_BYTES - 8; at += 16) {
    block = encipher(l ^ s0, r ^ s1);
    l = <u32>(block >>> 32);
    r = <u32>block;
    store<u32>(at, l);
    store<u32>(at, r, 4);
    block = encipher(l ^ s2, r ^ s3);
    l = <u32>(block >>> 32);
    r = <u32>block;
    store<u32>(at, l, 8);
    store<u32>(at, r, 12);
  }
  block = encipher(l ^ s0, r ^ s1);
  store<u32>(at, <u32>(block >>> 32));
  store<u32>(at, <u32>block, 4);
}

/** Blowfish_stream2word 18 times: `length` bytes at `from`, used cyclically, as big-endian words. */
function streamWords(from: usize, length: usize, to: usize): void {
  let j: usize = 0;
  for (let i: usize = 0; i < 72; i += 4) {
    let word: u32 = 0;
    for (let k = 0; k < 4; k++) {
      word = (word << 8) | load<u8>(from + j);
      j = j + 1 == length ? 0 : j + 1;
    }
    store<u32>(to + i, word);
  }
}

/**
 * bcrypt of the `keyLength` bytes at KEY (1 to 72: the password's UTF-8 bytes followed by a NUL,
 * cut to 72 bytes; bcrypt never reads further) and the 16 bytes at SALT, with 2^cost rounds of key
 * expansion (the caller keeps cost within 4..31). Leaves the 23 bytes of the hash at HASH.
 */
export function hash(keyLength: u32, cost: u32): void {
  memory.copy(P, INITIAL_STATE, STATE_BYTES);
  streamWords(KEY, keyLength, KEY_WORDS);
  streamWords(SALT, 16, SALT_WORDS);
  expandWithSalt();
  const rounds: u32 = (<u32>1) << cost;
  for (let round: u32 = 0; round < rounds; round++) {
    expand0(KEY_WORDS);
    expand0(SALT_WORDS);
  }
  // "OrpheanBeholderScryDoubt" as six big-endian words, encrypted 64 times as three blocks (ECB).
  let a = (<u64>0x4f727068 << 32) | 0x65616e42;
  let b = (<u64>0x65686f6c << 32) | 0x64657253;
  let c = (<u64>0x63727944 << 32) | 0x6f756274;
  for (let i = 0; i < 64; i++) {
    a = encipher(<u32>(a >>> 32), <u32>a);
    b = encipher(<u32>(b >>> 32), <u32>b);
    c = encipher(<u32>(c >>> 32), <u32>c);
  }
  // Big-endian bytes, as bcrypt encodes them: each 64-bit block byte-swapped is the words' bytes in order.
  store<u64>(HASH, bswap(a), 0);
  store<u64>(HASH, bswap(b), 8);
  store<u64>(HASH, bswap(c), 16);
}
