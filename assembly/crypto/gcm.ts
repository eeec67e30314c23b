// AES-GCM (NIST SP 800-38D) with 12-byte nonces, as used by ESP (RFC 4106).
//
// Constant time: AES is the bitsliced implementation in ./aes and GHASH the multiply-with-holes
// one in ./ghash, neither uses tables or data-dependent branches. Here every loop bound and branch
// depends only on lengths; the tag is compared with ctEqual over all tagLen bytes, and the only
// branch on its result (decrypt or not) reveals nothing beyond accept/reject, which is public.
// Keystream and tag scratch are wiped before returning.
// gcmSealKs/gcmOpenKs take the keystream from the caller instead (the SDK's native AES on
// OpenSSL's AES-NI, constant time too: see sdk/dataplane/native-aes.ts); here they only XOR and
// GHASH, with the same length-only branches and the same whole-tag ctEqual.
import { aesKeyBytes, aesExpandKey, aesEncryptBlocks, aesCtrXor, aesForget } from "./aes";
import { GHASH_KEY_BYTES, ghashInit, ghashUpdate, ghashForget } from "./ghash";
import { ctEqual, wipe } from "./ct";

// Context layout (all offsets 16-aligned): [rounds:i32 + pad][GHASH key: H^1..H^8][AES round keys].
// Both keys are kept compact; their fast forms live in one-entry caches (ghash.ts, aes.ts).
const ROUNDS_OFF: usize = 0;
const GHASH_OFF: usize = 16;
const AES_OFF: usize = (GHASH_OFF + <usize>GHASH_KEY_BYTES + 15) & ~(<usize>15);

/** Blocks of one bitsliced AES pass: J0 plus the first 7 counter blocks share it. */
const HEAD_BLOCKS: i32 = 8;
const HEAD_BYTES: i32 = (HEAD_BLOCKS - 1) * 16;
/** Up to this many GHASH blocks (AAD, ciphertext, lengths) are packed into one buffer so that a small
 *  packet costs a single GHASH reduction (the GHASH key keeps 8 powers of H). */
const PACKED_BLOCKS: i32 = 8;

// Static scratch (the module is single-threaded): counter blocks, their encryption, GHASH state.
const ctrs: usize = memory.data(HEAD_BLOCKS * 16, 16);
const stream: usize = memory.data(HEAD_BLOCKS * 16, 16);
const ghashY: usize = memory.data(16, 16);
const lenBlock: usize = memory.data(16, 16);
const expected: usize = memory.data(16, 16);
const packed: usize = memory.data(PACKED_BLOCKS * 16, 16);

function validKeyLen(keyLen: i32): bool {
  return keyLen == 16 || keyLen == 24 || keyLen == 32;
}

/** Bytes of a GCM context for a 16/24/32-byte AES key (AES schedule + GHASH key, 16-aligned layout). */
export function gcmContextBytes(keyLen: i32): i32 {
  if (!validKeyLen(keyLen)) return 0;
  return <i32>AES_OFF + ((aesKeyBytes(keyLen, 0) + 15) & ~15);
}

/** Key setup; returns AES rounds, or 0 for a bad key length. ctx must be 16-byte aligned. */
export function gcmInit(key: usize, keyLen: i32, ctx: usize): i32 {
  if (!validKeyLen(keyLen)) return 0;
  const rounds = aesExpandKey(key, keyLen, ctx + AES_OFF, 0);
  if (rounds == 0) return 0;
  store<i32>(ctx + ROUNDS_OFF, rounds);
  // H = AES_K(0^128).
  v128.store(ctrs, i64x2.splat(0));
  aesEncryptBlocks(ctx + AES_OFF, rounds, ctrs, stream, 1);
  ghashInit(stream, ctx + GHASH_OFF);
  wipe(stream, 16);
  return rounds;
}

/** Call before a GCM context is wiped, freed or reused: drops the cached expansions of its GHASH and AES keys. */
export function gcmForget(ctx: usize): void {
  ghashForget(ctx + GHASH_OFF);
  aesForget(ctx + AES_OFF);
}

/** Writes nonce||BE32(first + i) for i < n into ctrs. */
function counterBlocks(nonce: usize, first: u32, n: i32): void {
  const prefix = i32x4.replace_lane(v128.load(nonce), 3, 0);
  for (let i = 0; i < n; i++) {
    const c = first + <u32>i;
    v128.store(ctrs + <usize>(i << 4), i32x4.replace_lane(prefix, 3, <i32>bswap<u32>(c)));
  }
}

/** dst = src ^ ks for len bytes (len <= HEAD_BYTES); src and dst may be the same buffer. */
function xorInto(src: usize, dst: usize, ks: usize, len: i32): void {
  let i = 0;
  for (; i + 16 <= len; i += 16) {
    v128.store(dst + <usize>i, v128.xor(v128.load(src + <usize>i), v128.load(ks + <usize>i)));
  }
  for (; i < len; i++) {
    store<u8>(dst + <usize>i, load<u8>(src + <usize>i) ^ load<u8>(ks + <usize>i));
  }
}

/**
 * Encrypts len bytes: the first HEAD_BYTES with the keystream already in `stream` (blocks 1..7),
 * the rest with aesCtrXor from counter 9. E_K(J0) stays in stream block 0.
 */
function ctrCrypt(ctx: usize, nonce: usize, src: usize, dst: usize, len: i32): void {
  const head = len < HEAD_BYTES ? len : HEAD_BYTES;
  xorInto(src, dst, stream + 16, head);
  if (len > HEAD_BYTES) {
    counterBlocks(nonce, <u32>HEAD_BLOCKS + 1, 1);
    aesCtrXor(ctx + AES_OFF, load<i32>(ctx + ROUNDS_OFF), ctrs, src + <usize>HEAD_BYTES, dst + <usize>HEAD_BYTES, len - HEAD_BYTES);
  }
}

/** J0 and as many of the first counter blocks as the message needs, in one AES pass. */
function headKeystream(ctx: usize, nonce: usize, len: i32): void {
  const needed = 1 + ((len + 15) >> 4);
  const n = needed < HEAD_BLOCKS ? needed : HEAD_BLOCKS;
  counterBlocks(nonce, 1, n);
  aesEncryptBlocks(ctx + AES_OFF, load<i32>(ctx + ROUNDS_OFF), ctrs, stream, n);
}

/** Copies len bytes to a zeroed dst (whole blocks as v128, the tail byte by byte: never reads past src+len). */
function copyToZeroed(dst: usize, src: usize, len: i32): void {
  let i = 0;
  for (; i + 16 <= len; i += 16) v128.store(dst + <usize>i, v128.load(src + <usize>i));
  for (; i < len; i++) store<u8>(dst + <usize>i, load<u8>(src + <usize>i));
}

/** expected = GHASH_H(aad, ct) ^ E_K(J0), E_K(J0) read from `ek0`. */
function computeTag(ctx: usize, aad: usize, aadLen: i32, ct: usize, len: i32, ek0: usize = stream): void {
  const key = ctx + GHASH_OFF;
  // Bit lengths, big-endian 64-bit each.
  const lens = i64x2.replace_lane(i64x2.splat(<i64>aadLen << 3), 1, <i64>len << 3);
  const lensBlock = i8x16.shuffle(lens, lens, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
  v128.store(ghashY, i64x2.splat(0));
  const aadBlocks = (aadLen + 15) >> 4;
  const ctBlocks = (len + 15) >> 4;
  const total = aadBlocks + ctBlocks + 1;
  if (total <= PACKED_BLOCKS) {
    const zero = i64x2.splat(0);
    for (let i = 0; i < PACKED_BLOCKS; i++) v128.store(packed + <usize>(i << 4), zero);
    copyToZeroed(packed, aad, aadLen);
    copyToZeroed(packed + <usize>(aadBlocks << 4), ct, len);
    v128.store(packed + <usize>((total - 1) << 4), lensBlock);
    ghashUpdate(key, ghashY, packed, total << 4);
  } else {
    ghashUpdate(key, ghashY, aad, aadLen);
    ghashUpdate(key, ghashY, ct, len);
    v128.store(lenBlock, lensBlock);
    ghashUpdate(key, ghashY, lenBlock, 16);
  }
  v128.store(expected, v128.xor(v128.load(ghashY), v128.load(ek0)));
}

function wipeScratch(): void {
  wipe(stream, HEAD_BLOCKS * 16);
  wipe(ghashY, 16);
  wipe(expected, 16);
}

/** Encrypt len bytes src->dst (may alias) with a 12-byte nonce; writes tagLen (4..16) bytes of tag at `tag`. */
export function gcmSeal(ctx: usize, nonce: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize, tagLen: i32): void {
  headKeystream(ctx, nonce, len);
  ctrCrypt(ctx, nonce, src, dst, len);
  computeTag(ctx, aad, aadLen, dst, len);
  const n = tagLen < 0 ? 0 : tagLen > 16 ? 16 : tagLen;
  memory.copy(tag, expected, <usize>n);
  wipeScratch();
}

/** Verify then decrypt: computes the tag over the ciphertext FIRST, compares tagLen bytes in constant time
 *  (use ctEqual from ./ct), and only if equal decrypts into dst and returns 1; otherwise returns 0 and dst is
 *  untouched (not a single byte of plaintext written). */
export function gcmOpen(ctx: usize, nonce: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize, tagLen: i32): i32 {
  if (tagLen < 4 || tagLen > 16) return 0;
  headKeystream(ctx, nonce, len);
  computeTag(ctx, aad, aadLen, src, len);
  const ok = ctEqual(expected, tag, tagLen);
  if (ok) ctrCrypt(ctx, nonce, src, dst, len);
  wipeScratch();
  return ok;
}

/**
 * gcmSeal with a precomputed keystream: `ks` holds E_K(J0), E_K(J0+1), ... (1 + ceil(len/16)
 * blocks), e.g. from the SDK's native AES-ECB over the counter blocks. XOR, GHASH and the tag only.
 */
export function gcmSealKs(ctx: usize, ks: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize, tagLen: i32): void {
  xorInto(src, dst, ks + 16, len);
  computeTag(ctx, aad, aadLen, dst, len, ks);
  const n = tagLen < 0 ? 0 : tagLen > 16 ? 16 : tagLen;
  memory.copy(tag, expected, <usize>n);
  wipe(ghashY, 16);
  wipe(expected, 16);
}

/** gcmOpen with a precomputed keystream (see gcmSealKs): tag first, decrypt only when it matches. */
export function gcmOpenKs(ctx: usize, ks: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize, tagLen: i32): i32 {
  if (tagLen < 4 || tagLen > 16) return 0;
  computeTag(ctx, aad, aadLen, src, len, ks);
  const ok = ctEqual(expected, tag, tagLen);
  if (ok) xorInto(src, dst, ks + 16, len);
  wipe(ghashY, 16);
  wipe(expected, 16);
  return ok;
}
