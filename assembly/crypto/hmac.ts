// HMAC (RFC 2104) over SHA-1/SHA-256/SHA-384/SHA-512, with the key^ipad and key^opad blocks
// absorbed once per key (hmacInit), so a MAC costs two compressions fewer (RFC 2104 section 4).
// Constant time: the compressions are branch- and table-free (see each hash file); this file
// branches only on the algorithm id and on lengths, which are public. The key is only XORed
// with fixed pads. hmacInit wipes the raw key copies it makes in static scratch.
//
// Scratch: static buffers below (memory.data); nothing is allocated, the caller owns ctx/out.
// Not reentrant, which is fine for a single-threaded wasm instance.

import { HASH_SHA1, HASH_SHA256, HASH_SHA384, HASH_SHA512 } from "../abi";
import { sha1Compress, sha1Init } from "./sha1";
import { sha256Compress, sha256Compress4x, sha256Init } from "./sha256";
import { sha384Init, sha512Compress, sha512Init } from "./sha512";

/** Message tail plus padding: at most two blocks of the largest block size. */
const TAIL: usize = memory.data(256, 16);
/** The chaining state being worked on (largest state: 64 bytes). */
const WORK: usize = memory.data(64, 16);
/** The key block (key, or hash of a long key, zero-padded) while it is XORed with the pads. */
const KEY_BLOCK: usize = memory.data(128, 16);

/** Digest bytes of `alg`: 20/32/48/64 (0 for an unknown id). */
export function hashDigestBytes(alg: i32): i32 {
  switch (alg) {
    case HASH_SHA1: return 20;
    case HASH_SHA256: return 32;
    case HASH_SHA384: return 48;
    case HASH_SHA512: return 64;
    default: return 0;
  }
}

/** Block bytes of `alg`: 64/64/128/128 (0 for an unknown id). */
export function hashBlockBytes(alg: i32): i32 {
  if (alg == HASH_SHA1 || alg == HASH_SHA256) return 64;
  if (alg == HASH_SHA384 || alg == HASH_SHA512) return 128;
  return 0;
}

/** Chaining-state bytes of `alg`: 20/32/64/64 (SHA-384 carries the full SHA-512 state). */
function stateBytes(alg: i32): i32 {
  return alg == HASH_SHA1 ? 20 : alg == HASH_SHA256 ? 32 : 64;
}

function initState(alg: i32, state: usize): void {
  switch (alg) {
    case HASH_SHA1: sha1Init(state); break;
    case HASH_SHA256: sha256Init(state); break;
    case HASH_SHA384: sha384Init(state); break;
    default: sha512Init(state);
  }
}

// @ts-ignore: decorator
@inline function compress(alg: i32, state: usize, blocks: usize, n: i32): void {
  if (alg == HASH_SHA256) sha256Compress(state, blocks, n);
  else if (alg == HASH_SHA1) sha1Compress(state, blocks, n);
  else sha512Compress(state, blocks, n);
}

/** Writes the big-endian digest of the host-order `state` to `out`. */
function writeDigest(alg: i32, state: usize, out: usize): void {
  if (alg == HASH_SHA1 || alg == HASH_SHA256) {
    const n = <usize>hashDigestBytes(alg);
    for (let i: usize = 0; i < n; i += 4) store<u32>(out + i, bswap<u32>(load<u32>(state + i)));
  } else {
    const n = <usize>hashDigestBytes(alg);
    for (let i: usize = 0; i < n; i += 8) store<u64>(out + i, bswap<u64>(load<u64>(state + i)));
  }
}

/**
 * Absorbs a‖b into `state` and applies the final padding, for a message whose first
 * `prefix` bytes (whole blocks) are already in `state`. Whole blocks are compressed straight
 * from the caller's memory; only the tail is copied.
 */
function absorbFinal(alg: i32, state: usize, prefix: i32, a: usize, aLen: i32, b: usize, bLen: i32): void {
  const bs = hashBlockBytes(alg);
  const shift = bs == 64 ? 6 : 7;
  const aFull = aLen >> shift;
  if (aFull > 0) compress(alg, state, a, aFull);
  let fill = aLen - (aFull << shift);
  memory.copy(TAIL, a + (<usize>aFull << shift), <usize>fill);
  if (bLen > 0) {
    const take = min(bLen, bs - fill);
    memory.copy(TAIL + fill, b, <usize>take);
    fill += take;
    if (fill == bs) {
      compress(alg, state, TAIL, 1);
      const rest = bLen - take;
      const bFull = rest >> shift;
      if (bFull > 0) compress(alg, state, b + take, bFull);
      fill = rest - (bFull << shift);
      memory.copy(TAIL, b + take + (<usize>bFull << shift), <usize>fill);
    }
  }
  // 0x80, zeros, then the bit length big-endian in the last 8 bytes (SHA-384/512 reserve
  // 16 length bytes; the upper 8 stay zero since messages here are < 2^61 bytes).
  const lengthBytes = bs == 64 ? 8 : 16;
  store<u8>(TAIL + fill, 0x80);
  fill++;
  const blocks = fill + lengthBytes <= bs ? 1 : 2;
  const end = blocks << shift;
  memory.fill(TAIL + fill, 0, <usize>(end - fill));
  const bits = (<u64>prefix + <u64>aLen + <u64>bLen) << 3;
  store<u64>(TAIL + end - 8, bswap<u64>(bits));
  compress(alg, state, TAIL, blocks);
}

/** One-shot hash of `len` bytes at `data`: `out` gets hashDigestBytes(alg) bytes (nothing for an unknown id). */
export function hashOneShot(alg: i32, data: usize, len: i32, out: usize): void {
  if (hashDigestBytes(alg) == 0) return; // unknown id: write nothing
  initState(alg, WORK);
  absorbFinal(alg, WORK, 0, data, len, 0, 0);
  writeDigest(alg, WORK, out);
}

/**
 * Bytes of an HMAC context: the inner then the outer chaining state, after absorbing key^ipad
 * and key^opad (40 for SHA-1, 64 for SHA-256, 128 for SHA-384/512; 0 for an unknown id).
 */
export function hmacContextBytes(alg: i32): i32 {
  return hashDigestBytes(alg) == 0 ? 0 : 2 * stateBytes(alg);
}

/**
 * Precomputes the HMAC context `ctx` (hmacContextBytes(alg) bytes) from a key of any length;
 * keys longer than the block are hashed first (RFC 2104 section 2).
 */
export function hmacInit(alg: i32, key: usize, keyLen: i32, ctx: usize): void {
  if (hashDigestBytes(alg) == 0) return; // unknown id: write nothing
  const bs = hashBlockBytes(alg);
  const sb = stateBytes(alg);
  memory.fill(KEY_BLOCK, 0, <usize>bs);
  if (keyLen > bs) hashOneShot(alg, key, keyLen, KEY_BLOCK);
  else memory.copy(KEY_BLOCK, key, <usize>keyLen);
  for (let i: usize = 0; i < <usize>bs; i += 8) store<u64>(KEY_BLOCK + i, load<u64>(KEY_BLOCK + i) ^ 0x3636363636363636);
  initState(alg, ctx);
  compress(alg, ctx, KEY_BLOCK, 1);
  // 0x36 ^ 0x6a == 0x5c: turn the ipad block into the opad block in place.
  for (let i: usize = 0; i < <usize>bs; i += 8) store<u64>(KEY_BLOCK + i, load<u64>(KEY_BLOCK + i) ^ 0x6a6a6a6a6a6a6a6a);
  initState(alg, ctx + sb);
  compress(alg, ctx + sb, KEY_BLOCK, 1);
  memory.fill(KEY_BLOCK, 0, 128);
  memory.fill(TAIL, 0, 256);
  memory.fill(WORK, 0, 64);
}

/**
 * Full-length HMAC of a‖b into `out` (hashDigestBytes(alg) bytes), from the context made by
 * hmacInit. `bLen` may be 0 (ESP with ESN passes the 4-byte seq-hi as `b`). `out` is written
 * last, so it may overlap a or b (e.g. the ICV slot right after the packet), but not `ctx`.
 */
export function hmacMac(alg: i32, ctx: usize, a: usize, aLen: i32, b: usize, bLen: i32, out: usize): void {
  if (hashDigestBytes(alg) == 0) return; // unknown id: write nothing
  const bs = hashBlockBytes(alg);
  const sb = <usize>stateBytes(alg);
  const db = hashDigestBytes(alg);
  memory.copy(WORK, ctx, sb);
  absorbFinal(alg, WORK, bs, a, aLen, b, bLen);
  // Outer hash: one block holding the inner digest, 0x80, zeros and the bit length.
  writeDigest(alg, WORK, TAIL);
  memory.copy(WORK, ctx + sb, sb);
  store<u8>(TAIL + db, 0x80);
  memory.fill(TAIL + db + 1, 0, <usize>(bs - db - 9));
  store<u64>(TAIL + bs - 8, bswap<u64>(<u64>(bs + db) << 3));
  compress(alg, WORK, TAIL, 1);
  writeDigest(alg, WORK, out);
}

// ---- HMAC-SHA-256 of four packets at once (4-lane v128 compression) ----

/** Bytes of one hmacSha256Mac4x job: six u32 fields ctx, a, aLen, b, bLen, out. */
export const HMAC4_JOB_BYTES: i32 = 24;

/** Per lane: tail of a, b, padding (3 blocks suffice because bLen <= 64 on this path). */
const LANE_TAIL: usize = memory.data(4 * 192, 16);
/** Per lane (u32 each): whole blocks of a, total inner blocks. */
const LANE_BLOCKS: usize = memory.data(32, 16);
const STATE4: usize = memory.data(128, 16);
const SAVED4: usize = memory.data(128, 16);
/** Outer blocks of the four lanes, 64 bytes each. */
const OUTER4: usize = memory.data(256, 16);

// @ts-ignore: decorator
@inline function jobField(jobs: usize, lane: i32, field: i32): u32 {
  return load<u32>(jobs + <usize>(lane * HMAC4_JOB_BYTES + field * 4));
}

/** Copies lane `lane` of an 8-word chaining state at `src` into the 4-lane STATE4. */
function putLane(lane: i32, src: usize): void {
  for (let w: usize = 0; w < 8; w++) store<u32>(STATE4 + (w << 4) + (<usize>lane << 2), load<u32>(src + (w << 2)));
}

/**
 * Full-length HMAC-SHA-256 of four independent jobs (HMAC4_JOB_BYTES each, consecutive at
 * `jobs`: ctx from hmacInit(HASH_SHA256), message a‖b, out of 32 bytes), each equal to
 * hmacMac(HASH_SHA256, ctx, a, aLen, b, bLen, out). Lengths may differ; lanes that need fewer
 * blocks idle (their state is kept). A job with bLen > 64 sends all four to hmacMac.
 */
export function hmacSha256Mac4x(jobs: usize): void {
  for (let i = 0; i < 4; i++) {
    if (jobField(jobs, i, 4) > 64) {
      for (let k = 0; k < 4; k++) {
        hmacMac(HASH_SHA256, jobField(jobs, k, 0), jobField(jobs, k, 1), jobField(jobs, k, 2),
          jobField(jobs, k, 3), jobField(jobs, k, 4), jobField(jobs, k, 5));
      }
      return;
    }
  }
  let maxBlocks = 0;
  for (let i = 0; i < 4; i++) {
    const a = <usize>jobField(jobs, i, 1), aLen = <i32>jobField(jobs, i, 2);
    const bLen = <i32>jobField(jobs, i, 4);
    const tail = LANE_TAIL + <usize>(i * 192);
    const aFull = aLen >> 6;
    let fill = aLen & 63;
    memory.copy(tail, a + (<usize>aFull << 6), <usize>fill);
    memory.copy(tail + fill, jobField(jobs, i, 3), <usize>bLen);
    fill += bLen;
    store<u8>(tail + fill, 0x80);
    fill++;
    const end = (fill + 8 + 63) & ~63;
    memory.fill(tail + fill, 0, <usize>(end - fill));
    store<u64>(tail + end - 8, bswap<u64>((<u64>64 + <u64>aLen + <u64>bLen) << 3));
    const total = aFull + (end >> 6);
    store<u32>(LANE_BLOCKS + (i << 3), aFull);
    store<u32>(LANE_BLOCKS + (i << 3) + 4, total);
    maxBlocks = max(maxBlocks, total);
    putLane(i, jobField(jobs, i, 0));
  }
  // Inner hashes. Lanes past their last block compress a dummy (their last block) and get
  // their state restored; which lanes idle follows from the lengths, which are public.
  for (let k = 0; k < maxBlocks; k++) {
    let idle = false;
    let p0: usize = 0, p1: usize = 0, p2: usize = 0, p3: usize = 0;
    for (let i = 0; i < 4; i++) {
      const aFull = <i32>load<u32>(LANE_BLOCKS + (i << 3));
      const total = <i32>load<u32>(LANE_BLOCKS + (i << 3) + 4);
      if (k >= total) idle = true;
      const p = k < aFull
        ? <usize>jobField(jobs, i, 1) + (<usize>k << 6)
        : LANE_TAIL + <usize>(i * 192) + (<usize>(min(k, total - 1) - aFull) << 6);
      if (i == 0) p0 = p; else if (i == 1) p1 = p; else if (i == 2) p2 = p; else p3 = p;
    }
    if (idle) memory.copy(SAVED4, STATE4, 128);
    sha256Compress4x(STATE4, p0, p1, p2, p3);
    if (idle) {
      for (let i = 0; i < 4; i++) {
        if (k < <i32>load<u32>(LANE_BLOCKS + (i << 3) + 4)) continue;
        for (let w: usize = 0; w < 8; w++) {
          const at = (w << 4) + (<usize>i << 2);
          store<u32>(STATE4 + at, load<u32>(SAVED4 + at));
        }
      }
    }
  }
  // Outer hashes: inner digest, 0x80, zeros, bit length of 64 + 32 bytes.
  for (let i = 0; i < 4; i++) {
    const blk = OUTER4 + <usize>(i << 6);
    for (let w: usize = 0; w < 8; w++) store<u32>(blk + (w << 2), bswap<u32>(load<u32>(STATE4 + (w << 4) + (<usize>i << 2))));
    store<u8>(blk, 0x80, 32);
    memory.fill(blk + 33, 0, 23);
    store<u64>(blk, bswap<u64>(<u64>(64 + 32) << 3), 56);
    putLane(i, <usize>jobField(jobs, i, 0) + 32);
  }
  sha256Compress4x(STATE4, OUTER4, OUTER4 + 64, OUTER4 + 128, OUTER4 + 192);
  for (let i = 0; i < 4; i++) {
    const out = <usize>jobField(jobs, i, 5);
    for (let w: usize = 0; w < 8; w++) store<u32>(out + (w << 2), bswap<u32>(load<u32>(STATE4 + (w << 4) + (<usize>i << 2))));
  }
}
