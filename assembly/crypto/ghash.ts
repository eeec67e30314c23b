// GHASH (NIST SP 800-38D) without a carry-less multiply instruction, after BearSSL's ghash_ctmul32
// and ghash_ctmul64, with the 32-bit products on the wasm SIMD multiplier (i32x4.mul).
//
// Constant time: GF(2)[X] products are computed with ordinary integer multiplications (i32x4.mul,
// i64.mul) of operands masked so that only every fourth bit is set ("holes"): a 32x32 product has at
// most 8 terms per column, so integer carries never reach the next kept bit of the same class (the
// masks drop the rest). Multiply, AND, XOR, shifts and shuffles take the same time for every value;
// there are no tables and no branches on data or key: the only branches depend on lengths. High
// halves of the 32x32 products come from multiplying the bit-reversed operands (low 32 bits only).
// The scratch accumulators are zeroed before returning.
//
// Key storage: a key (per SA) keeps only H^1..H^8 as 16-byte values (GHASH_KEY_BYTES = 128). The
// multiplication form (4 operand vectors x 4 hole classes + the ninth operand, 272 bytes a power,
// 2176 in all) is expanded into one static scratch area, a one-entry cache keyed by the key's
// pointer: ghashUpdate expands only when called with a different pointer than the cached one. The
// check compares addresses (public, like which SA a packet belongs to), and the expansion is the
// same shuffles, ANDs and stores for every key: no branch or index depends on key bytes. ghashInit
// rewrites the cache for its key (a new SA may reuse a removed SA's address), and ghashForget (from
// gcmForget, called where a GCM context is wiped or freed: saRemove, control.ts) wipes it when it
// holds that key, so no expanded powers of a removed SA stay behind.
// Cost of a key switch (expansion of 8 powers): about 45 ns (ghashUpdate with 64 keys round-robin
// minus one key, 16..128 B: +45..56 ns against +2..13 ns for the former per-key expansion, which
// only paid cache misses). Single key: 1024 B 30.4 / 32.0 / 32.9 / 30.5 ns per block against
// 30.1 / 31.2 / 30.0 before, back-to-back runs of bench/micro-gcm.ts (within the run-to-run noise).
// Every packet on a different key (gcmSeal over 64 contexts round-robin minus one context): +45 and
// +38 ns at 64 B (7-8.5% of ~530 ns), +144 and +103 ns at 1400 B (under 2.5%).
//
// Product: two-level Karatsuba over 32-bit words, 9 carry-less 32x32 products per block. 8 of them
// (low halves and reversed high halves: 16 lanes) run as 4 x 16 i32x4.mul with 4 lanes each, the
// ninth ((a0^a1) word sum) as one full 32x32->64 product on the scalar i64.mul (16 muls), so both
// multipliers work at once. Several blocks are multiplied by precomputed powers H^n..H^1 and summed
// before one reduction (the sums are linear: bit reversals, Karatsuba recombination and the reduction
// run once per group).
//
// Measured (bench/micro-gcm.ts style, ghashUpdate 1024 B, best of 10 on the CPU clock, AMD EPYC Zen 3,
// Node 20), ns per block:
//   43.4  before: ghash_ctmul64, 96 i64.mul per block (3 Karatsuba products x 2 halves x 16).
//   36.5  a0*h0 on i64.mul, a1*h1 and (a0^a1)*(h0^h1) as 32-bit Karatsuba on i64x2.extmul_low/high
//         _i32x4_u (lane i = class i of x, lane i of the H vector = class c-i, so each extmul pair
//         lands in one class); 35.3 with the masks loaded once. V8 emits each extmul as 2 unpacks
//         + pmuludq (the unpack of the same x operand is repeated), so it is shuffle-bound at about
//         one extmul (two 32x32 products) per cycle.
//   38.5  all three 64x64 products on extmul.
//   33.2  i32x4.mul (pmulld, 4 low-half products per instruction, 2 per cycle on Zen 3) as above;
//   31.4  with products chained (one live z at a time), accumulators in memory (the stores stop
//         V8 from hoisting all 16 operand loads of a block to the top of the loop and spilling
//         them) and the class masks derived by shifts: kept. 1.38x the ctmul64 code.
//   36.5  a1*h1, a0*h0 on i32x4.mul, (a0^a1)*(h0^h1) as two scalar bmul64: slower (the scalar
//         side becomes the bottleneck); dropped on that number before its vectors passed.
//   35.1  masking deferred to the end of the group (16 class accumulators in memory): slower,
//         the extra loads and stores cost more than the 7 AND/OR per vector saved.
//   33.7  the block that takes y processed last (to overlap the previous reduction): no gain.
//   31.4  16 powers instead of 8: no gain (the per-group work is small next to 8 blocks).
//   31.0  one pshufd for the reversed words (the byte swaps of swapLanes and rev32x4 combined):
//         within noise (-0.3 ns), kept as it is fewer instructions; the mask register passed in
//         from the loop instead of loaded per product: no difference, not kept.
//   31.4  the ninth product as a fifth i32x4.mul vector [xc, rev(xc), xc, rev(xc)] instead of the
//   -34.5 scalar i64.mul (30.4 in the same runs): slower, the scalar side runs in parallel anyway.
// The loop body is about 390 x86 instructions per block (64 pmulld, 16 imul) at ~3.8 per cycle.
// Not tried: pmaddwd (i32x4.dot_i16x8_s: 8 16x16 products and 4 free sums per instruction, but the
// lanes are signed, so the top hole class needs pre-shifted operands, and 16-bit limbs need 27
// products per block: about 54 instructions against the 64 pmulld here, with more shuffling).

/** Number of precomputed powers of H: up to this many blocks share one reduction. */
const POWERS: i32 = 8;
/** Per expanded power: 4 operand vectors (H words Ya, Yb as in karatsubaB, and their bit reversals)
 *  x 4 hole classes, then yc (the XOR of the four 32-bit words of H^k, u64) and 8 bytes of padding. */
const POWER_BYTES: i32 = 16 * 16 + 16;

/** Bytes of GHASH key material per key (per SA): H^1..H^POWERS as 16-byte values in memory order.
 *  Their expanded form (POWERS * POWER_BYTES) lives once, in the static cache below. */
export const GHASH_KEY_BYTES: i32 = POWERS * 16;

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

/**
 * Four carry-less 32x32 products, low 32 bits, one per lane (i32x4.mul), x = v and y = the four
 * hole-class vectors at b (y & m_j). Same hole argument as bmul64 with at most 8 terms per column.
 */
// @ts-ignore: decorator
@inline function bmul32x4(v: v128, b: usize): v128 {
  const k0 = v128.load(consts), k1 = i32x4.shl(k0, 1), k2 = i32x4.shl(k0, 2), k3 = i32x4.shl(k0, 3);
  const x0 = v128.and(v, k0), x1 = v128.and(v, k1), x2 = v128.and(v, k2), x3 = v128.and(v, k3);
  let z = i32x4.mul(x0, v128.load(b));
  z = v128.xor(z, i32x4.mul(x1, v128.load(b, 48)));
  z = v128.xor(z, i32x4.mul(x2, v128.load(b, 32)));
  z = v128.xor(z, i32x4.mul(x3, v128.load(b, 16)));
  let r = v128.and(z, k0);
  z = i32x4.mul(x0, v128.load(b, 16));
  z = v128.xor(z, i32x4.mul(x1, v128.load(b)));
  z = v128.xor(z, i32x4.mul(x2, v128.load(b, 48)));
  z = v128.xor(z, i32x4.mul(x3, v128.load(b, 32)));
  r = v128.or(r, v128.and(z, k1));
  z = i32x4.mul(x0, v128.load(b, 32));
  z = v128.xor(z, i32x4.mul(x1, v128.load(b, 16)));
  z = v128.xor(z, i32x4.mul(x2, v128.load(b)));
  z = v128.xor(z, i32x4.mul(x3, v128.load(b, 48)));
  r = v128.or(r, v128.and(z, k2));
  z = i32x4.mul(x0, v128.load(b, 48));
  z = v128.xor(z, i32x4.mul(x1, v128.load(b, 32)));
  z = v128.xor(z, i32x4.mul(x2, v128.load(b, 16)));
  z = v128.xor(z, i32x4.mul(x3, v128.load(b)));
  return v128.or(r, v128.and(z, k3));
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

/** Bit reversal of each 32-bit lane. */
// @ts-ignore: decorator
@inline function rev32x4(v: v128): v128 {
  const r = revBitsInBytes(v);
  return i8x16.shuffle(r, r, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
}

/** Big-endian 64-bit halves <-> the 16 bytes as stored: swap bytes inside each 8-byte lane. */
// @ts-ignore: decorator
@inline function swapLanes(v: v128): v128 {
  return i8x16.shuffle(v, v, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
}

/**
 * Block words as u32 lanes, from be (the block with big-endian 64-bit lanes [a1, a0]):
 * Xa = be = [w2, w3, w0, w1] (w0, w1 = low/high half of a0, w2, w3 of a1) and
 * Xb = [w2^w3, w0^w1, w0^w2, w1^w3]: the operands of the two-level Karatsuba 32-bit products.
 */
// @ts-ignore: decorator
@inline function karatsubaB(xa: v128): v128 {
  const s1 = v128.xor(xa, i32x4.shuffle(xa, xa, 1, 0, 3, 2));
  const s2 = v128.xor(xa, i32x4.shuffle(xa, xa, 2, 3, 0, 1));
  return i32x4.shuffle(s1, s2, 0, 2, 6, 7);
}

/**
 * Reduces the summed 256-bit products (Karatsuba parts zN = low and hN = high 64 bits of the
 * 128-bit products a0*h0, a1*h1, (a0^a1)*(h0^h1)) modulo the GCM polynomial and returns the
 * 16-byte state as stored in memory.
 */
function reduce(z0: u64, z1: u64, z2: u64, h0: u64, h1: u64, h2: u64): v128 {
  z2 ^= z0 ^ z1;
  h2 ^= h0 ^ h1;
  let v0 = z0;
  let v1 = h0 ^ z2;
  let v2 = z1 ^ h2;
  let v3 = h1;
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

/** 64-bit products of the 4 lanes: low halves lo, reversed-operand products r (high = rev32(r) >> 1). */
// @ts-ignore: decorator
@inline function widen(lo: v128, r: v128, low: bool): v128 {
  const hi = i32x4.shr_u(rev32x4(r), 1);
  return low ? i32x4.shuffle(lo, hi, 0, 4, 1, 5) : i32x4.shuffle(lo, hi, 2, 6, 3, 7);
}

/** 32-bit Karatsuba: the 128-bit product from the 64-bit products of lo, hi and lo^hi. */
// @ts-ignore: decorator
@inline function kLo(l: u64, h: u64, m: u64): u64 {
  return l ^ ((m ^ l ^ h) << 32);
}
// @ts-ignore: decorator
@inline function kHi(l: u64, h: u64, m: u64): u64 {
  return h ^ ((m ^ l ^ h) >> 32);
}

/**
 * y' = (y ^ X_1)*H^n ^ X_2*H^(n-1) ^ ... ^ X_n*H for n (1..POWERS) full blocks at p,
 * which equals n sequential GHASH steps. y and the result are 16-byte states as stored; ek is the
 * expanded powers (storePower form).
 * Two-level Karatsuba over 32-bit words: 9 carry-less 32x32 products per block, 8 of them four
 * at a time on the vector multiplier (low halves directly, high halves from bit-reversed
 * operands), the ninth as one 64-bit scalar product, so both multipliers work at once.
 */
function absorbGroup(ek: usize, y: v128, p: usize, n: i32): v128 {
  let zc: u64 = 0;
  wipeAccs();
  let hp = ek + <usize>((n - 1) * POWER_BYTES);
  let carry = y;
  const end = p + (<usize>n << 4);
  while (p < end) {
    const raw = v128.xor(v128.load(p), carry);
    carry = i64x2.splat(0);
    const xa = swapLanes(raw);
    const xb = karatsubaB(xa);
    // rev32x4(swapLanes(raw)): the two byte permutations together are one 32-bit lane swap.
    const rb = revBitsInBytes(raw);
    const rxa = i32x4.shuffle(rb, rb, 1, 0, 3, 2);
    const rxb = karatsubaB(rxa);
    const c64 = i64x2.extract_lane(xa, 0) ^ i64x2.extract_lane(xa, 1);
    zc ^= bmul64(<u64>(<u32>c64 ^ <u32>(c64 >> 32)), load<u64>(hp, 256));
    // Accumulators in memory: the stores keep V8 from hoisting all 16 operand loads to the top
    // of the loop (which spilled most of them); each product runs between two stores.
    v128.store(accs, v128.xor(bmul32x4(xa, hp), v128.load(accs)));
    v128.store(accs, v128.xor(bmul32x4(xb, hp + 64), v128.load(accs, 16)), 16);
    v128.store(accs, v128.xor(bmul32x4(rxa, hp + 128), v128.load(accs, 32)), 32);
    v128.store(accs, v128.xor(bmul32x4(rxb, hp + 192), v128.load(accs, 48)), 48);
    hp -= <usize>POWER_BYTES;
    p += 16;
  }
  // 64-bit products: Xa lanes [w2v2, w3v3, w0v0, w1v1] (a1*h1 low/high words, a0*h0 low/high),
  // Xb lanes [a1*h1 middle, a0*h0 middle, (a0^a1)*(h0^h1) low, high]; its middle is zc.
  const aa = v128.load(accs), ab = v128.load(accs, 16), ra = v128.load(accs, 32), rb = v128.load(accs, 48);
  const pa01 = widen(aa, ra, true), pa23 = widen(aa, ra, false);
  const pb01 = widen(ab, rb, true), pb23 = widen(ab, rb, false);
  const p1l = i64x2.extract_lane(pa01, 0), p1h = i64x2.extract_lane(pa01, 1);
  const p0l = i64x2.extract_lane(pa23, 0), p0h = i64x2.extract_lane(pa23, 1);
  const p1m = i64x2.extract_lane(pb01, 0), p0m = i64x2.extract_lane(pb01, 1);
  const p2l = i64x2.extract_lane(pb23, 0), p2h = i64x2.extract_lane(pb23, 1);
  return reduce(
    kLo(p0l, p0h, p0m),
    kLo(p1l, p1h, p1m),
    kLo(p2l, p2h, zc),
    kHi(p0l, p0h, p0m),
    kHi(p1l, p1h, p1m),
    kHi(p2l, p2h, zc),
  );
}

/** The four 32-bit hole classes, 4 lanes each. */
const consts: usize = memory.data<u32>([
  0x11111111, 0x11111111, 0x11111111, 0x11111111, 0x22222222, 0x22222222, 0x22222222, 0x22222222,
  0x44444444, 0x44444444, 0x44444444, 0x44444444, 0x88888888, 0x88888888, 0x88888888, 0x88888888,
], 16);

/** Accumulated 32-bit products of one group (aa, ab, ra, rb; static scratch, single-threaded). */
const accs: usize = memory.data(64, 16);

/** The four hole classes of v (v & m_j) at dst; k0 = the class-0 mask (the others are shifts of it). */
// @ts-ignore: decorator
@inline function storeClasses(dst: usize, v: v128, k0: v128): void {
  v128.store(dst, v128.and(v, k0));
  v128.store(dst, v128.and(v, i32x4.shl(k0, 1)), 16);
  v128.store(dst, v128.and(v, i32x4.shl(k0, 2)), 32);
  v128.store(dst, v128.and(v, i32x4.shl(k0, 3)), 48);
}

/** Writes the multiplication form of the 16-byte value x (memory order) into power slot `slot`. */
// @ts-ignore: decorator
@inline function storePower(slot: usize, x: v128): void {
  const k0 = v128.load(consts);
  const ya = swapLanes(x);
  // rev32x4(swapLanes(x)): the two byte permutations together are one 32-bit lane swap.
  const rb = revBitsInBytes(x);
  const rya = i32x4.shuffle(rb, rb, 1, 0, 3, 2);
  storeClasses(slot, ya, k0);
  storeClasses(slot + 64, karatsubaB(ya), k0);
  storeClasses(slot + 128, rya, k0);
  storeClasses(slot + 192, karatsubaB(rya), k0);
  const c64 = i64x2.extract_lane(ya, 0) ^ i64x2.extract_lane(ya, 1);
  store<u64>(slot, <u64>(<u32>c64 ^ <u32>(c64 >> 32)), 256);
  store<u64>(slot, 0, 264);
}

function wipeAccs(): void {
  const zero = i64x2.splat(0);
  v128.store(accs, zero);
  v128.store(accs, zero, 16);
  v128.store(accs, zero, 32);
  v128.store(accs, zero, 48);
}

/** Zero-padded copy of a partial block (static scratch, single-threaded module). */
const tail: usize = memory.data(16, 16);

/** The expanded powers of the key at `cachedKey` (one-entry cache; static, single-threaded). */
const expanded: usize = memory.data(POWERS * POWER_BYTES, 16);
/** Key pointer whose powers `expanded` holds; 0 = none. A pointer is public, so is this check. */
let cachedKey: usize = 0;

/** The expanded powers of key: from the cache, or expanded into it (8 storePower, no branches on
 *  key bytes). Callers must keep a key's bytes unchanged while it may be cached: ghashInit and
 *  ghashForget are the only ways to change or drop one. */
// @ts-ignore: decorator
@inline function expandedFor(key: usize): usize {
  if (key != cachedKey) {
    for (let i = 0; i < POWERS; i++) storePower(expanded + <usize>(i * POWER_BYTES), v128.load(key + <usize>(i << 4)));
    cachedKey = key;
  }
  return expanded;
}

/** Drops the cached expansion if it is key's (wipes it): call before a key's memory is wiped,
 *  freed or reused, so no key-derived bytes of a removed SA stay in the static scratch. */
export function ghashForget(key: usize): void {
  if (key != cachedKey) return;
  memory.fill(expanded, 0, <usize>(POWERS * POWER_BYTES));
  cachedKey = 0;
}

/** Precompute from the 16-byte hash key H (big-endian as in SP 800-38D). Leaves the cache holding
 *  this key's expansion (a new key may reuse the address of an old, cached one). */
export function ghashInit(h: usize, key: usize): void {
  cachedKey = 0;
  const hv = v128.load(h);
  v128.store(key, hv);
  storePower(expanded, hv);
  let pw = hv;
  for (let i = 1; i < POWERS; i++) {
    // H^(i+1) = H^i * H: one block through expanded slot 0 (which holds H).
    v128.store(tail, pw);
    pw = absorbGroup(expanded, i64x2.splat(0), tail, 1);
    v128.store(key + <usize>(i << 4), pw);
    storePower(expanded + <usize>(i * POWER_BYTES), pw);
  }
  cachedKey = key;
  v128.store(tail, i64x2.splat(0));
  wipeAccs();
}

/** y = GHASH state (16 bytes, big-endian); absorbs len bytes (last partial block zero-padded). */
export function ghashUpdate(key: usize, y: usize, data: usize, len: i32): void {
  const ek = expandedFor(key);
  let s = v128.load(y);
  let blocks = len >> 4;
  while (blocks > 0) {
    const n = blocks < POWERS ? blocks : POWERS;
    s = absorbGroup(ek, s, data, n);
    data += <usize>(n << 4);
    blocks -= n;
  }
  const rest = len & 15;
  if (rest != 0) {
    v128.store(tail, i64x2.splat(0));
    memory.copy(tail, data, <usize>rest);
    s = absorbGroup(ek, s, tail, 1);
    v128.store(tail, i64x2.splat(0));
  }
  v128.store(y, s);
  wipeAccs();
}
