// AES-128/192/256 (FIPS-197): key schedule and ECB/CBC/CTR modes over the bitsliced core.
//
// Constant time: all cipher work, including SubWord in the key schedule, runs through
// cipher8 (aes-core.ts): gate-level S-box, constant shuffles, XOR with round keys, no
// secret-indexed memory and no secret-dependent branch. The code here only branches on
// public values (key length, lengths, block counts, which key pointer is cached) and
// loads/stores at addresses that depend only on the caller's pointers and lengths.
//
// Key storage: a key (per SA) keeps only its FIPS-197 round keys, rounds + 1 blocks of 16 bytes
// at `ks` (176 / 208 / 240 bytes). The core needs them bitsliced: 8 bit-planes of 16 bytes per
// round key (plane j, byte i = 0xFF when bit j of round-key byte i is set; keys 1..Nr also carry
// the S-box constant 0x63 that the circuit leaves out, see aes-core.ts), 128 bytes a round key,
// 1,408 / 1,664 / 1,920 in all. That form lives in one static scratch area, a one-entry cache keyed
// by the key's pointer: every entry point below bitslices only when called with a different
// pointer than the cached one (about 50 ns for AES-128: 88 ANDs, compares and stores). The
// check compares addresses (public, like which SA a packet belongs to), and the bitslicing is the
// same ANDs, compares and stores for every key. aesExpandKey leaves the cache holding its key (a
// new key may reuse the address of an old, cached one), and aesForget, called where a key is
// wiped or freed (saRemove, control.ts), wipes the cache when it holds that key, so no key
// bytes of a removed SA stay behind. Keeping 1,232 to 1,680 fewer bytes per SA is what brings an
// AES SA under 1 KiB (README, "Memory per SA").
// The inverse cipher walks the same keys backwards, so decryption needs no extra bytes.
import { cipher8 } from "./aes-core";

/** cipher8 specialised for encryption (see aes-core.ts for the argument contract). */
function encrypt8(
  ks: usize, rounds: i32,
  b0: v128, b1: v128, b2: v128, b3: v128, b4: v128, b5: v128, b6: v128, b7: v128,
  x0: v128, x1: v128, x2: v128, x3: v128, x4: v128, x5: v128, x6: v128, x7: v128,
  dst: usize, outLen: i32,
): void {
  cipher8(ks, rounds, false, b0, b1, b2, b3, b4, b5, b6, b7, x0, x1, x2, x3, x4, x5, x6, x7, dst, outLen);
}

/** cipher8 specialised for decryption. */
function decrypt8(
  ks: usize, rounds: i32,
  b0: v128, b1: v128, b2: v128, b3: v128, b4: v128, b5: v128, b6: v128, b7: v128,
  x0: v128, x1: v128, x2: v128, x3: v128, x4: v128, x5: v128, x6: v128, x7: v128,
  dst: usize, outLen: i32,
): void {
  cipher8(ks, rounds, true, b0, b1, b2, b3, b4, b5, b6, b7, x0, x1, x2, x3, x4, x5, x6, x7, dst, outLen);
}

/** Two all-zero round keys: running one round with them makes the core a plain S-box. */
const ZERO_KEYS: usize = memory.data(256, 16);

@inline function roundsFor(keyLen: i32): i32 {
  return keyLen == 16 ? 10 : keyLen == 24 ? 12 : keyLen == 32 ? 14 : 0;
}

/** Bytes needed at `ks` for a key of keyLen (16, 24 or 32) bytes: its round keys, 16 bytes each; withDecrypt=1
 *  adds the decryption schedule (0 bytes here: the inverse cipher uses the same keys). Returns 0 for a bad key length. */
export function aesKeyBytes(keyLen: i32, withDecrypt: i32): i32 {
  const rounds = roundsFor(keyLen);
  return rounds == 0 ? 0 : (rounds + 1) << 4;
}

/** Most rounds (AES-256): the cache holds up to 15 bitsliced round keys. */
const MAX_ROUNDS: i32 = 14;
/** The bitsliced round keys of the key at `cachedKs` (one-entry cache; static, single-threaded). */
const planes: usize = memory.data((MAX_ROUNDS + 1) << 7, 16);
/** Key pointer whose round keys `planes` holds; 0 = none. A pointer is public, so is this check. */
let cachedKs: usize = 0;

/** Writes the round keys at ks as 8 bit-planes each into `planes`: the same ANDs, compares and
 *  stores for every key byte. The 8 bit masks stay in registers across the loop (V8 would rebuild
 *  a splat constant at every use). */
function bitsliceInto(ks: usize, rounds: i32): void {
  const m0 = i8x16.splat(0x01), m1 = i8x16.splat(0x02), m2 = i8x16.splat(0x04), m3 = i8x16.splat(0x08);
  const m4 = i8x16.splat(0x10), m5 = i8x16.splat(0x20), m6 = i8x16.splat(<i8>0x40), m7 = i8x16.splat(<i8>0x80);
  const c = i8x16.splat(0x63), zero = i8x16.splat(0);
  let p = planes;
  for (let r = 0; r <= rounds; r++) {
    const k = v128.xor(v128.load(ks + (<usize>r << 4)), r == 0 ? zero : c); // key 0 has no S-box constant
    v128.store(p, i8x16.eq(v128.and(k, m0), m0), 0);
    v128.store(p, i8x16.eq(v128.and(k, m1), m1), 16);
    v128.store(p, i8x16.eq(v128.and(k, m2), m2), 32);
    v128.store(p, i8x16.eq(v128.and(k, m3), m3), 48);
    v128.store(p, i8x16.eq(v128.and(k, m4), m4), 64);
    v128.store(p, i8x16.eq(v128.and(k, m5), m5), 80);
    v128.store(p, i8x16.eq(v128.and(k, m6), m6), 96);
    v128.store(p, i8x16.eq(v128.and(k, m7), m7), 112);
    p += 128;
  }
}

/** The bitsliced form of the round keys at ks: from the cache, or bitsliced into it. Callers must keep
 *  a key's bytes unchanged while it may be cached: aesExpandKey and aesForget are the only ways to
 *  change or drop one. */
// @ts-ignore: decorator
@inline function planesFor(ks: usize, rounds: i32): usize {
  if (ks != cachedKs) {
    bitsliceInto(ks, rounds);
    cachedKs = ks;
  }
  return planes;
}

/** Drops the cached bitsliced form if it is ks's (wipes it): call before a key's memory is wiped,
 *  freed or reused, so no key-derived bytes of a removed SA stay in the static scratch. */
export function aesForget(ks: usize): void {
  if (ks != cachedKs) return;
  memory.fill(planes, 0, <usize>((MAX_ROUNDS + 1) << 7));
  cachedKs = 0;
}

/** S-box on the 4 bytes of w, written to out[0..4) (scratch) and returned.
 *  One round of the core with zero keys is ShiftRows(S'(x)); bytes 0, 5, 10, 15 land on 0..3. */
function subWord(w: u32, out: usize): u32 {
  const z = i32x4.splat(0);
  const v = i8x16.shuffle(i32x4.splat(w), z, 0, 16, 16, 16, 16, 1, 16, 16, 16, 16, 2, 16, 16, 16, 16, 3);
  encrypt8(ZERO_KEYS, 1, v, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, out, 4);
  return load<u32>(out) ^ 0x63636363;
}

/** Expands `key` into `ks` (aesKeyBytes(keyLen, withDecrypt) bytes, 16-byte aligned pointer given by the caller)
 *  and leaves the cache holding its bitsliced form. Returns the number of rounds (10, 12, 14), or 0 for a bad
 *  key length (nothing written). */
export function aesExpandKey(key: usize, keyLen: i32, ks: usize, withDecrypt: i32): i32 {
  const rounds = roundsFor(keyLen);
  if (rounds == 0) return 0;
  cachedKs = 0; // ks may be the cached key's address: its old planes are stale from here on
  const nk = keyLen >> 2;
  const words = (rounds + 1) << 2;
  // FIPS-197 5.2 word by word.
  for (let i = 0; i < nk; i++) store<u32>(ks + (<usize>i << 2), load<u32>(key + (<usize>i << 2)));
  let rcon: u32 = 1;
  for (let i = nk; i < words; i++) {
    const slot = ks + (<usize>i << 2);
    let t = load<u32>(slot - 4);
    if (i % nk == 0) {
      t = subWord(rotr<u32>(t, 8), slot) ^ rcon; // RotWord on little-endian words
      rcon = ((rcon << 1) ^ ((rcon >> 7) * 0x11b)) & 0xff;
    } else if (nk == 8 && i % nk == 4) {
      t = subWord(t, slot);
    }
    store<u32>(slot, load<u32>(slot - (<usize>nk << 2)) ^ t);
  }
  planesFor(ks, rounds);
  return rounds;
}

/** Up to 16 bytes at p: a full block when left >= 16, the first `left` bytes zero-padded otherwise. */
@inline function loadUpTo(p: usize, left: i32): v128 {
  if (left >= 16) return v128.load(p);
  let lo: u64 = 0, hi: u64 = 0;
  for (let i = 0; i < left; i++) {
    const b = <u64>load<u8>(p + <usize>i);
    if (i < 8) lo |= b << (<u64>i << 3);
    else hi |= b << (<u64>(i - 8) << 3);
  }
  return i64x2.replace_lane(i64x2.splat(lo), 1, hi);
}

/** Block k at p when k < n, zero otherwise (never reads past block n - 1). */
@inline function blockIf(p: usize, k: i32, n: i32): v128 {
  if (k < n) return v128.load(p + (<usize>k << 4));
  return i32x4.splat(0);
}

function ecb(ks: usize, rounds: i32, src: usize, dst: usize, n: i32, decrypt: bool): void {
  const pk = planesFor(ks, rounds);
  const z = i32x4.splat(0);
  for (let i = 0; i < n; i += 8) {
    const p = src + (<usize>i << 4);
    const m = min(n - i, 8);
    const b0 = blockIf(p, 0, m), b1 = blockIf(p, 1, m), b2 = blockIf(p, 2, m), b3 = blockIf(p, 3, m);
    const b4 = blockIf(p, 4, m), b5 = blockIf(p, 5, m), b6 = blockIf(p, 6, m), b7 = blockIf(p, 7, m);
    const out = dst + (<usize>i << 4);
    if (decrypt) decrypt8(pk, rounds, b0, b1, b2, b3, b4, b5, b6, b7, z, z, z, z, z, z, z, z, out, m << 4);
    else encrypt8(pk, rounds, b0, b1, b2, b3, b4, b5, b6, b7, z, z, z, z, z, z, z, z, out, m << 4);
  }
}

/** ECB-encrypt n 16-byte blocks from src to dst (dst may equal src). Processes 8 blocks per bitsliced pass;
 *  a tail of fewer than 8 blocks is processed in one padded pass (never reads/writes past n*16). */
export function aesEncryptBlocks(ks: usize, rounds: i32, src: usize, dst: usize, n: i32): void {
  ecb(ks, rounds, src, dst, n, false);
}

/** Inverse cipher, same contract; needs a schedule expanded with withDecrypt=1 (here any schedule from
 *  aesExpandKey works: the inverse cipher reads the encryption round keys backwards). */
export function aesDecryptBlocks(ks: usize, rounds: i32, src: usize, dst: usize, n: i32): void {
  ecb(ks, rounds, src, dst, n, true);
}

/** Encrypts 8 independent blocks at once (in may equal out) — for callers who interleave 8 packets (CBC encrypt
 *  across 8 packets of a batch, GCM counters across packets). */
export function aesEncrypt8(ks: usize, rounds: i32, src: usize, dst: usize): void {
  const z = i32x4.splat(0);
  encrypt8(planesFor(ks, rounds), rounds,
    v128.load(src, 0), v128.load(src, 16), v128.load(src, 32), v128.load(src, 48),
    v128.load(src, 64), v128.load(src, 80), v128.load(src, 96), v128.load(src, 112),
    z, z, z, z, z, z, z, z, dst, 128);
}

/** CBC (RFC 3602); len a multiple of 16; iv 16 bytes, not modified; dst may equal src.
 *  Each block depends on the previous one, so every block costs a whole 8-lane pass. */
export function aesCbcEncrypt(ks: usize, rounds: i32, iv: usize, src: usize, dst: usize, len: i32): void {
  const pk = planesFor(ks, rounds);
  const z = i32x4.splat(0);
  let chain = v128.load(iv);
  for (let off = 0; off + 16 <= len; off += 16) {
    const b = v128.xor(v128.load(src + <usize>off), chain);
    encrypt8(pk, rounds, b, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, dst + <usize>off, 16);
    chain = v128.load(dst + <usize>off);
  }
}

export function aesCbcDecrypt(ks: usize, rounds: i32, iv: usize, src: usize, dst: usize, len: i32): void {
  const pk = planesFor(ks, rounds);
  let chain = v128.load(iv);
  const n = len >> 4;
  for (let i = 0; i < n; i += 8) {
    const p = src + (<usize>i << 4);
    const m = min(n - i, 8);
    // Ciphertext blocks are read before anything is written, so in-place works.
    const c0 = blockIf(p, 0, m), c1 = blockIf(p, 1, m), c2 = blockIf(p, 2, m), c3 = blockIf(p, 3, m);
    const c4 = blockIf(p, 4, m), c5 = blockIf(p, 5, m), c6 = blockIf(p, 6, m), c7 = blockIf(p, 7, m);
    decrypt8(pk, rounds, c0, c1, c2, c3, c4, c5, c6, c7,
      chain, c0, c1, c2, c3, c4, c5, c6, dst + (<usize>i << 4), m << 4);
    chain = c7;
  }
}

/** Counter block `base` with its last 4 bytes replaced by big-endian c. */
@inline function counterBlock(base: v128, c: u32): v128 {
  return i32x4.replace_lane(base, 3, bswap<u32>(c));
}

/** CTR: `ctr` is a 16-byte counter block whose last 4 bytes are a big-endian 32-bit counter incremented per
 *  block (wrapping mod 2^32, as GCM's inc32 and RFC 3686). XORs the keystream over len bytes src->dst (dst may
 *  equal src; len need not be a multiple of 16). The block at `ctr` itself is NOT modified. */
export function aesCtrXor(ks: usize, rounds: i32, ctr: usize, src: usize, dst: usize, len: i32): void {
  const pk = planesFor(ks, rounds);
  const base = v128.load(ctr);
  let c = bswap<u32>(i32x4.extract_lane(base, 3));
  for (let off = 0; off < len; off += 128) {
    const p = src + <usize>off;
    const left = min(len - off, 128);
    encrypt8(pk, rounds,
      counterBlock(base, c), counterBlock(base, c + 1), counterBlock(base, c + 2), counterBlock(base, c + 3),
      counterBlock(base, c + 4), counterBlock(base, c + 5), counterBlock(base, c + 6), counterBlock(base, c + 7),
      loadUpTo(p, left), loadUpTo(p + 16, left - 16), loadUpTo(p + 32, left - 32), loadUpTo(p + 48, left - 48),
      loadUpTo(p + 64, left - 64), loadUpTo(p + 80, left - 80), loadUpTo(p + 96, left - 96), loadUpTo(p + 112, left - 112),
      dst + <usize>off, left);
    c += 8;
  }
}
