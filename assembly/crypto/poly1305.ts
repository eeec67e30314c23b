// Poly1305 (RFC 8439 section 2.5) in base 2^32, after OpenSSL's 32-bit poly1305.c, with fewer carries.
//
// h lives in five u64 limbs of weight 2^0, 2^32, 2^64, 2^96, 2^128, r in four. Clamping clears the top
// four bits of every r word and the low two bits of r1..r3, so r_j < 2^28 and products that wrap past
// 2^128 fold back exactly with s_j = r_j + (r_j >> 2) = 5*r_j/4. A block costs 16 full i64 multiplies
// plus four small ones; no 128-bit product is needed.
// Carries are lazy: the message is added without carrying, one carry pass follows the multiply, and
// the bits from 2^130 up fold back (times 5) into h0 alone. Between blocks h1..h3 < 2^32, h4 <= 3 and
// h0 < 2^33.02; after adding a block every product stays below 2^61.6 and every column sum below
// 2^63.4 (worst case computed by iterating these bounds to a fixpoint), so nothing overflows. h is
// fully carried and reduced below 2^130 - 5 only once, in poly1305Finish.
//
// Constant time: only i64 multiply/add/shift/and on key and data, carries are arithmetic (no
// branch), and the final "h >= p" choice is a mask. Loop bounds depend only on lengths. The state,
// which holds r and s, is wiped by poly1305Finish.

/** State layout: h0..h4 as u64 (h0 may exceed 32 bits between blocks), r0..r3 and s1..s3 as u64, pad s. */
export const POLY_H: usize = 0;
export const POLY_R: usize = 40;
const S: usize = 96;

/** Bytes of a Poly1305 state (poly1305Init fills it, poly1305Finish wipes it). */
export const POLY1305_STATE_BYTES: i32 = 112;

/** One 16-byte zero-padded block for the message tail. */
const BLOCK: usize = memory.data(16, 16);

/** Sets up st from the 32-byte one-time key (r = first 16 bytes, clamped; s = last 16 bytes). */
export function poly1305Init(st: usize, key: usize): void {
  memory.fill(st + POLY_H, 0, 40);
  const r1 = <u64>(load<u32>(key, 4) & 0x0ffffffc);
  const r2 = <u64>(load<u32>(key, 8) & 0x0ffffffc);
  const r3 = <u64>(load<u32>(key, 12) & 0x0ffffffc);
  store<u64>(st + POLY_R, <u64>(load<u32>(key, 0) & 0x0fffffff), 0);
  store<u64>(st + POLY_R, r1, 8);
  store<u64>(st + POLY_R, r2, 16);
  store<u64>(st + POLY_R, r3, 24);
  store<u64>(st + POLY_R, r1 + (r1 >> 2), 32);
  store<u64>(st + POLY_R, r2 + (r2 >> 2), 40);
  store<u64>(st + POLY_R, r3 + (r3 >> 2), 48);
  memory.copy(st + S, key + 16, 16);
}

/**
 * Absorbs n full 16-byte blocks at msg. hibit is 1 for a full message block (the 2^128 bit that
 * RFC 8439 appends), 0 for a final partial block that already carries its own 0x01 byte.
 * The block step is repeated in chacha20.ts (chacha20Xor256Poly); keep the two in step.
 */
export function poly1305Blocks(st: usize, msg: usize, n: i32, hibit: u32): void {
  const r0 = load<u64>(st + POLY_R, 0);
  const r1 = load<u64>(st + POLY_R, 8);
  const r2 = load<u64>(st + POLY_R, 16);
  const r3 = load<u64>(st + POLY_R, 24);
  const s1 = load<u64>(st + POLY_R, 32);
  const s2 = load<u64>(st + POLY_R, 40);
  const s3 = load<u64>(st + POLY_R, 48);
  let h0 = load<u64>(st + POLY_H, 0);
  let h1 = load<u64>(st + POLY_H, 8);
  let h2 = load<u64>(st + POLY_H, 16);
  let h3 = load<u64>(st + POLY_H, 24);
  let h4 = load<u64>(st + POLY_H, 32);
  const pad = <u64>hibit;
  for (let i = 0; i < n; i++) {
    const p = msg + (<usize>i << 4);
    // h += m without carries (limbs stay below 2^33.6, see the bounds at the top).
    h0 += <u64>load<u32>(p, 0);
    h1 += <u64>load<u32>(p, 4);
    h2 += <u64>load<u32>(p, 8);
    h3 += <u64>load<u32>(p, 12);
    h4 += pad;
    // h *= r; terms at 2^128 and above come back multiplied by 5/4 (s_j). Each sum < 2^63.4.
    let d0 = h0 * r0 + h1 * s3 + h2 * s2 + h3 * s1;
    let d1 = h0 * r1 + h1 * r0 + h2 * s3 + h3 * s2 + h4 * s1;
    let d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s3 + h4 * s2;
    let d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s3;
    // One carry pass up the limbs, then bits from 2^130 up fold back times 5 into h0 only.
    d1 += d0 >> 32;
    d2 += d1 >> 32;
    d3 += d2 >> 32;
    h4 = h4 * r0 + (d3 >> 32);
    h0 = (d0 & 0xffffffff) + (h4 >> 2) + (h4 & ~(<u64>3));
    h1 = d1 & 0xffffffff;
    h2 = d2 & 0xffffffff;
    h3 = d3 & 0xffffffff;
    h4 &= 3;
  }
  store<u64>(st + POLY_H, h0, 0);
  store<u64>(st + POLY_H, h1, 8);
  store<u64>(st + POLY_H, h2, 16);
  store<u64>(st + POLY_H, h3, 24);
  store<u64>(st + POLY_H, h4, 32);
}

/**
 * Absorbs len bytes zero-padded to a multiple of 16 (the pad16() of the RFC 8439 AEAD: padding
 * zeros are part of full blocks, so every block gets the 2^128 bit).
 */
export function poly1305UpdatePadded(st: usize, msg: usize, len: i32): void {
  if (len <= 0) return;
  const full = len >> 4;
  poly1305Blocks(st, msg, full, 1);
  const rest = len & 15;
  if (rest != 0) {
    v128.store(BLOCK, i64x2.splat(0));
    memory.copy(BLOCK, msg + (<usize>full << 4), <usize>rest);
    poly1305Blocks(st, BLOCK, 1, 1);
    v128.store(BLOCK, i64x2.splat(0));
  }
}

/** Writes the 16-byte tag (h mod 2^130-5, plus s, mod 2^128) and wipes the state. */
export function poly1305Finish(st: usize, tag: usize): void {
  let h0 = load<u64>(st + POLY_H, 0);
  let h1 = load<u64>(st + POLY_H, 8);
  let h2 = load<u64>(st + POLY_H, 16);
  let h3 = load<u64>(st + POLY_H, 24);
  let h4 = load<u64>(st + POLY_H, 32);
  // Full carry, fold 2^130 and up back in times 5, carry again: now h < 2^130 + 5 < 2p.
  h1 += h0 >> 32; h0 &= 0xffffffff;
  h2 += h1 >> 32; h1 &= 0xffffffff;
  h3 += h2 >> 32; h2 &= 0xffffffff;
  h4 += h3 >> 32; h3 &= 0xffffffff;
  h0 += (h4 >> 2) + (h4 & ~(<u64>3));
  h4 &= 3;
  h1 += h0 >> 32; h0 &= 0xffffffff;
  h2 += h1 >> 32; h1 &= 0xffffffff;
  h3 += h2 >> 32; h2 &= 0xffffffff;
  h4 += h3 >> 32; h3 &= 0xffffffff;
  // g = h + 5 - 2^130: it is non-negative exactly when h >= p, and then replaces h.
  let t = h0 + 5;
  const g0 = t & 0xffffffff;
  t = h1 + (t >> 32);
  const g1 = t & 0xffffffff;
  t = h2 + (t >> 32);
  const g2 = t & 0xffffffff;
  t = h3 + (t >> 32);
  const g3 = t & 0xffffffff;
  const g4 = h4 + (t >> 32);
  const useG = <u64>0 - (g4 >> 2); // all ones when g4 >= 4
  const keepH = ~useG;
  h0 = (h0 & keepH) | (g0 & useG);
  h1 = (h1 & keepH) | (g1 & useG);
  h2 = (h2 & keepH) | (g2 & useG);
  h3 = (h3 & keepH) | (g3 & useG);
  // tag = (h + s) mod 2^128
  t = h0 + <u64>load<u32>(st + S, 0);
  store<u32>(tag, <u32>t, 0);
  t = h1 + (t >> 32) + <u64>load<u32>(st + S, 4);
  store<u32>(tag, <u32>t, 4);
  t = h2 + (t >> 32) + <u64>load<u32>(st + S, 8);
  store<u32>(tag, <u32>t, 8);
  t = h3 + (t >> 32) + <u64>load<u32>(st + S, 12);
  store<u32>(tag, <u32>t, 12);
  memory.fill(st, 0, <usize>POLY1305_STATE_BYTES);
}

/** Scratch state for the one-shot MAC. */
const ONE_SHOT: usize = memory.data(POLY1305_STATE_BYTES, 16);

/** RFC 8439 section 2.5 one-shot Poly1305: 16-byte tag of len bytes at msg under the 32-byte key. */
export function poly1305Mac(key: usize, msg: usize, len: i32, tag: usize): void {
  poly1305Init(ONE_SHOT, key);
  if (len < 0) len = 0;
  const full = len >> 4;
  poly1305Blocks(ONE_SHOT, msg, full, 1);
  const rest = len & 15;
  if (rest != 0) {
    // Final partial block: the message bytes, then 0x01, then zeros, without the 2^128 bit.
    v128.store(BLOCK, i64x2.splat(0));
    memory.copy(BLOCK, msg + (<usize>full << 4), <usize>rest);
    store<u8>(BLOCK + <usize>rest, 1);
    poly1305Blocks(ONE_SHOT, BLOCK, 1, 0);
    v128.store(BLOCK, i64x2.splat(0));
  }
  poly1305Finish(ONE_SHOT, tag);
}
