// GHASH (NIST SP 800-38D) without a carry-less multiply instruction, after BearSSL's ghash_ctmul64.
//
// Constant time: GF(2)[X] products are computed with ordinary integer multiplications (i64.mul) of
// operands masked so that only every fourth bit is set ("holes"), so integer carries never reach the
// bits that are kept; multiply, AND, XOR and shifts take the same time for every operand value.
// There are no tables and no branches on data or key: the only branches depend on lengths.
// The upper 64 bits of each 64x64 product come from multiplying the bit-reversed operands.
//
// Several blocks are multiplied by precomputed powers H^n..H^1 and summed before one reduction
// (the product sum is linear, so the bit reversal and reduction are done once per group).
// Cost is set by the multiplier: 96 i64.mul per block (3 Karatsuba products x 2 halves x 16), about
// one per cycle on x86-64; precomputed masked H words, two-pass loops and moving the middle product
// to i64x2.mul were all measured and gave nothing, so the simple form stays.

/** Number of precomputed powers of H: up to this many blocks share one reduction. */
const POWERS: i32 = 8;
/** Per power: h0, h1, h0^h1 and their 64-bit reversals (u64 each). */
const POWER_BYTES: i32 = 48;

/** Bytes of precomputed GHASH key material (H and whatever powers/representations you keep). */
export const GHASH_KEY_BYTES: i32 = POWERS * POWER_BYTES;

const M1: u64 = 0x1111111111111111;
const M2: u64 = 0x2222222222222222;
const M4: u64 = 0x4444444444444444;
const M8: u64 = 0x8888888888888888;

/** Low 64 bits of the carry-less product x*y (each masked term has at most 15 set bits per sum). */
// @ts-ignore: decorator
@inline function bmul64(x: u64, y: u64): u64 {
  const x0 = x & M1, x1 = x & M2, x2 = x & M4, x3 = x & M8;
  const y0 = y & M1, y1 = y & M2, y2 = y & M4, y3 = y & M8;
  const z0 = (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1);
  const z1 = (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2);
  const z2 = (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3);
  const z3 = (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0);
  return (z0 & M1) | (z1 & M2) | (z2 & M4) | (z3 & M8);
}

/** Bit reversal of a 64-bit word. */
// @ts-ignore: decorator
@inline function rev64(x: u64): u64 {
  x = ((x & 0x5555555555555555) << 1) | ((x >> 1) & 0x5555555555555555);
  x = ((x & 0x3333333333333333) << 2) | ((x >> 2) & 0x3333333333333333);
  x = ((x & 0x0F0F0F0F0F0F0F0F) << 4) | ((x >> 4) & 0x0F0F0F0F0F0F0F0F);
  x = ((x & 0x00FF00FF00FF00FF) << 8) | ((x >> 8) & 0x00FF00FF00FF00FF);
  x = ((x & 0x0000FFFF0000FFFF) << 16) | ((x >> 16) & 0x0000FFFF0000FFFF);
  return (x << 32) | (x >> 32);
}

/** Reverses the bits inside every byte of v (byte order unchanged). */
// @ts-ignore: decorator
@inline function revBitsInBytes(v: v128): v128 {
  const m1 = i64x2.splat(0x5555555555555555);
  const m2 = i64x2.splat(0x3333333333333333);
  const m4 = i64x2.splat(0x0F0F0F0F0F0F0F0F);
  v = v128.or(i64x2.shl(v128.and(v, m1), 1), v128.and(i64x2.shr_u(v, 1), m1));
  v = v128.or(i64x2.shl(v128.and(v, m2), 2), v128.and(i64x2.shr_u(v, 2), m2));
  return v128.or(i64x2.shl(v128.and(v, m4), 4), v128.and(i64x2.shr_u(v, 4), m4));
}

/** Big-endian 64-bit halves <-> the 16 bytes as stored: swap bytes inside each 8-byte lane. */
// @ts-ignore: decorator
@inline function swapLanes(v: v128): v128 {
  return i8x16.shuffle(v, v, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
}

/**
 * Reduces the summed 256-bit products (Karatsuba parts: low halves z*, reversed high halves z*h)
 * modulo the GCM polynomial and returns the 16-byte state as stored in memory.
 */
function reduce(z0: u64, z1: u64, z2: u64, z0h: u64, z1h: u64, z2h: u64): v128 {
  z2 ^= z0 ^ z1;
  z2h ^= z0h ^ z1h;
  z0h = rev64(z0h) >> 1;
  z1h = rev64(z1h) >> 1;
  z2h = rev64(z2h) >> 1;
  let v0 = z0;
  let v1 = z0h ^ z2;
  let v2 = z1 ^ z2h;
  let v3 = z1h;
  // GHASH bit order: the product of two reflected values is one bit short.
  v3 = (v3 << 1) | (v2 >> 63);
  v2 = (v2 << 1) | (v1 >> 63);
  v1 = (v1 << 1) | (v0 >> 63);
  v0 = v0 << 1;
  v2 ^= v0 ^ (v0 >> 1) ^ (v0 >> 2) ^ (v0 >> 7);
  v1 ^= (v0 << 63) ^ (v0 << 62) ^ (v0 << 57);
  v3 ^= v1 ^ (v1 >> 1) ^ (v1 >> 2) ^ (v1 >> 7);
  v2 ^= (v1 << 63) ^ (v1 << 62) ^ (v1 << 57);
  return swapLanes(i64x2.replace_lane(i64x2.splat(v3), 1, v2));
}

/**
 * y' = (y ^ X_1)*H^n ^ X_2*H^(n-1) ^ ... ^ X_n*H for n (1..POWERS) full blocks at p,
 * which equals n sequential GHASH steps. y and the result are 16-byte states as stored.
 */
function absorbGroup(key: usize, y: v128, p: usize, n: i32): v128 {
  let z0: u64 = 0, z1: u64 = 0, z2: u64 = 0, z0h: u64 = 0, z1h: u64 = 0, z2h: u64 = 0;
  let hp = key + <usize>((n - 1) * POWER_BYTES);
  let carry = y;
  const end = p + (<usize>n << 4);
  while (p < end) {
    const raw = v128.xor(v128.load(p), carry);
    carry = i64x2.splat(0);
    const be = swapLanes(raw);
    const rv = revBitsInBytes(raw);
    const a1 = i64x2.extract_lane(be, 0);
    const a0 = i64x2.extract_lane(be, 1);
    const a1r = i64x2.extract_lane(rv, 0);
    const a0r = i64x2.extract_lane(rv, 1);
    z0 ^= bmul64(a0, load<u64>(hp));
    z1 ^= bmul64(a1, load<u64>(hp, 8));
    z2 ^= bmul64(a0 ^ a1, load<u64>(hp, 16));
    z0h ^= bmul64(a0r, load<u64>(hp, 24));
    z1h ^= bmul64(a1r, load<u64>(hp, 32));
    z2h ^= bmul64(a0r ^ a1r, load<u64>(hp, 40));
    hp -= <usize>POWER_BYTES;
    p += 16;
  }
  return reduce(z0, z1, z2, z0h, z1h, z2h);
}

/** Writes the multiplication form of the 16-byte value at `x` (memory order) into power slot `slot`. */
function storePower(slot: usize, x: v128): void {
  const be = swapLanes(x);
  const h1 = i64x2.extract_lane(be, 0);
  const h0 = i64x2.extract_lane(be, 1);
  const h0r = rev64(h0), h1r = rev64(h1);
  store<u64>(slot, h0);
  store<u64>(slot, h1, 8);
  store<u64>(slot, h0 ^ h1, 16);
  store<u64>(slot, h0r, 24);
  store<u64>(slot, h1r, 32);
  store<u64>(slot, h0r ^ h1r, 40);
}

/** Zero-padded copy of a partial block (static scratch, single-threaded module). */
const tail: usize = memory.data(16, 16);

/** Precompute from the 16-byte hash key H (big-endian as in SP 800-38D). */
export function ghashInit(h: usize, key: usize): void {
  const hv = v128.load(h);
  storePower(key, hv);
  let pw = hv;
  for (let i = 1; i < POWERS; i++) {
    // H^(i+1) = H^i * H: one block through slot 0 (which holds H).
    v128.store(tail, pw);
    pw = absorbGroup(key, i64x2.splat(0), tail, 1);
    storePower(key + <usize>(i * POWER_BYTES), pw);
  }
  v128.store(tail, i64x2.splat(0));
}

/** y = GHASH state (16 bytes, big-endian); absorbs len bytes (last partial block zero-padded). */
export function ghashUpdate(key: usize, y: usize, data: usize, len: i32): void {
  let s = v128.load(y);
  let blocks = len >> 4;
  while (blocks > 0) {
    const n = blocks < POWERS ? blocks : POWERS;
    s = absorbGroup(key, s, data, n);
    data += <usize>(n << 4);
    blocks -= n;
  }
  const rest = len & 15;
  if (rest != 0) {
    v128.store(tail, i64x2.splat(0));
    memory.copy(tail, data, <usize>rest);
    s = absorbGroup(key, s, tail, 1);
    v128.store(tail, i64x2.splat(0));
  }
  v128.store(y, s);
}
