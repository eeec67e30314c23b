// ChaCha20 (RFC 8439 section 2.3/2.4) with the 96-bit nonce and 32-bit block counter used by ESP (RFC 7634).
//
// Four blocks are computed at once: state word i of blocks n..n+3 sits in the four i32 lanes of one
// v128, so every quarter round is plain lane-wise add/xor/rotate. Rotations by 16 and 8 are byte
// swizzles by masks held in locals (one pshufb each; a constant i8x16.shuffle made V8 rebuild the mask
// at every use, and shifts cost three instructions); by 12 and 7 they are shift/shift/or. At the end a
// 4x4 transpose per word group turns lanes back into consecutive 64-byte blocks. A partial final batch
// is still computed four-wide into scratch (one SIMD pass costs what one scalar block would) and only
// the needed bytes are used.
//
// The AEAD interleaves Poly1305 with the rounds (chacha20Xor256Poly): ChaCha20 keeps the vector units
// busy while Poly1305's multiply chain runs on the integer units, so the two overlap instead of
// adding up. Plain ChaCha20 runs the same kernel with no Poly1305 blocks (measured: no slower).
//
// Constant time: ChaCha20 is only add/xor/rotate on 32-bit words (the swizzle masks are constants) and
// Poly1305 only multiply/add/shift/and (see poly1305.ts); nothing here indexes memory or branches on
// key, nonce, counter or data. Loop bounds and branches depend only on lengths. Keystream left in
// scratch is wiped before returning.
import { POLY_H, POLY_R, POLY1305_STATE_BYTES } from "./poly1305";

/** 256 zero bytes: XORing them gives the raw keystream. */
const ZERO4: usize = memory.data(256, 16);
/** Keystream of a partial final batch. */
const TAIL4: usize = memory.data(256, 16);
/** Poly1305 state for the kernel when no Poly1305 blocks are absorbed (never read meaningfully). */
const NO_POLY: usize = memory.data(POLY1305_STATE_BYTES, 16);

/** Bytes in one four-block batch. */
export const CHACHA_BATCH: i32 = 256;
/** Most Poly1305 blocks one batch can absorb: one after each half of the ten double rounds. */
export const POLY_SLOTS: i32 = 20;

// @ts-ignore: decorator
@inline function rotl16(x: v128, m16: v128): v128 {
  return i8x16.swizzle(x, m16);
}
// @ts-ignore: decorator
@inline function rotl12(x: v128): v128 {
  return v128.or(i32x4.shl(x, 12), i32x4.shr_u(x, 20));
}
// @ts-ignore: decorator
@inline function rotl8(x: v128, m8: v128): v128 {
  return i8x16.swizzle(x, m8);
}
// @ts-ignore: decorator
@inline function rotl7(x: v128): v128 {
  return v128.or(i32x4.shl(x, 7), i32x4.shr_u(x, 25));
}

/** Transposes words a..d (lanes = blocks 0..3) and XORs them into src->dst at off, off+64, off+128, off+192. */
// @ts-ignore: decorator
@inline function emit4(a: v128, b: v128, c: v128, d: v128, src: usize, dst: usize, off: usize): void {
  const t0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const t3 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(dst + off, v128.xor(v128.load(src + off), i64x2.shuffle(t0, t1, 0, 2)));
  v128.store(dst + off + 64, v128.xor(v128.load(src + off + 64), i64x2.shuffle(t0, t1, 1, 3)));
  v128.store(dst + off + 128, v128.xor(v128.load(src + off + 128), i64x2.shuffle(t2, t3, 0, 2)));
  v128.store(dst + off + 192, v128.xor(v128.load(src + off + 192), i64x2.shuffle(t2, t3, 1, 3)));
}

/**
 * dst = src ^ keystream for blocks ctr..ctr+3 (256 bytes; src and dst may be the same buffer), and
 * meanwhile absorbs pn (0..POLY_SLOTS) full 16-byte blocks at pm into the Poly1305 state st, exactly
 * as poly1305Blocks(st, pm, pn, 1) would. pm must not lie in dst's 256 bytes.
 */
export function chacha20Xor256Poly(key: usize, nonce: usize, ctr: u32, src: usize, dst: usize, st: usize, pm: usize, pn: i32): void {
  let x0 = i32x4.splat(0x61707865);
  let x1 = i32x4.splat(0x3320646e);
  let x2 = i32x4.splat(0x79622d32);
  let x3 = i32x4.splat(0x6b206574);
  let x4 = i32x4.splat(load<i32>(key, 0));
  let x5 = i32x4.splat(load<i32>(key, 4));
  let x6 = i32x4.splat(load<i32>(key, 8));
  let x7 = i32x4.splat(load<i32>(key, 12));
  let x8 = i32x4.splat(load<i32>(key, 16));
  let x9 = i32x4.splat(load<i32>(key, 20));
  let x10 = i32x4.splat(load<i32>(key, 24));
  let x11 = i32x4.splat(load<i32>(key, 28));
  const counters = i32x4.add(i32x4.splat(<i32>ctr), i32x4(0, 1, 2, 3));
  let x12 = counters;
  let x13 = i32x4.splat(load<i32>(nonce, 0));
  let x14 = i32x4.splat(load<i32>(nonce, 4));
  let x15 = i32x4.splat(load<i32>(nonce, 8));
  // Poly1305 state and key (see poly1305Blocks for the bounds that make skipping carries safe).
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
  let pi = 0;
  // Byte masks rotating every 32-bit lane left by 16 and by 8.
  const m16 = i8x16(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
  const m8 = i8x16(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
  for (let i = 0; i < 10; i++) {
    // Column round.
    x0 = i32x4.add(x0, x4); x12 = rotl16(v128.xor(x12, x0), m16);
    x1 = i32x4.add(x1, x5); x13 = rotl16(v128.xor(x13, x1), m16);
    x2 = i32x4.add(x2, x6); x14 = rotl16(v128.xor(x14, x2), m16);
    x3 = i32x4.add(x3, x7); x15 = rotl16(v128.xor(x15, x3), m16);
    x8 = i32x4.add(x8, x12); x4 = rotl12(v128.xor(x4, x8));
    x9 = i32x4.add(x9, x13); x5 = rotl12(v128.xor(x5, x9));
    x10 = i32x4.add(x10, x14); x6 = rotl12(v128.xor(x6, x10));
    x11 = i32x4.add(x11, x15); x7 = rotl12(v128.xor(x7, x11));
    x0 = i32x4.add(x0, x4); x12 = rotl8(v128.xor(x12, x0), m8);
    x1 = i32x4.add(x1, x5); x13 = rotl8(v128.xor(x13, x1), m8);
    x2 = i32x4.add(x2, x6); x14 = rotl8(v128.xor(x14, x2), m8);
    x3 = i32x4.add(x3, x7); x15 = rotl8(v128.xor(x15, x3), m8);
    x8 = i32x4.add(x8, x12); x4 = rotl7(v128.xor(x4, x8));
    x9 = i32x4.add(x9, x13); x5 = rotl7(v128.xor(x5, x9));
    x10 = i32x4.add(x10, x14); x6 = rotl7(v128.xor(x6, x10));
    x11 = i32x4.add(x11, x15); x7 = rotl7(v128.xor(x7, x11));
    if (pi < pn) {
      const p = pm + (<usize>pi << 4);
      pi++;
      h0 += <u64>load<u32>(p, 0);
      h1 += <u64>load<u32>(p, 4);
      h2 += <u64>load<u32>(p, 8);
      h3 += <u64>load<u32>(p, 12);
      h4 += 1;
      const d0 = h0 * r0 + h1 * s3 + h2 * s2 + h3 * s1;
      let d1 = h0 * r1 + h1 * r0 + h2 * s3 + h3 * s2 + h4 * s1;
      let d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s3 + h4 * s2;
      let d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s3;
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
    // Diagonal round.
    x0 = i32x4.add(x0, x5); x15 = rotl16(v128.xor(x15, x0), m16);
    x1 = i32x4.add(x1, x6); x12 = rotl16(v128.xor(x12, x1), m16);
    x2 = i32x4.add(x2, x7); x13 = rotl16(v128.xor(x13, x2), m16);
    x3 = i32x4.add(x3, x4); x14 = rotl16(v128.xor(x14, x3), m16);
    x10 = i32x4.add(x10, x15); x5 = rotl12(v128.xor(x5, x10));
    x11 = i32x4.add(x11, x12); x6 = rotl12(v128.xor(x6, x11));
    x8 = i32x4.add(x8, x13); x7 = rotl12(v128.xor(x7, x8));
    x9 = i32x4.add(x9, x14); x4 = rotl12(v128.xor(x4, x9));
    x0 = i32x4.add(x0, x5); x15 = rotl8(v128.xor(x15, x0), m8);
    x1 = i32x4.add(x1, x6); x12 = rotl8(v128.xor(x12, x1), m8);
    x2 = i32x4.add(x2, x7); x13 = rotl8(v128.xor(x13, x2), m8);
    x3 = i32x4.add(x3, x4); x14 = rotl8(v128.xor(x14, x3), m8);
    x10 = i32x4.add(x10, x15); x5 = rotl7(v128.xor(x5, x10));
    x11 = i32x4.add(x11, x12); x6 = rotl7(v128.xor(x6, x11));
    x8 = i32x4.add(x8, x13); x7 = rotl7(v128.xor(x7, x8));
    x9 = i32x4.add(x9, x14); x4 = rotl7(v128.xor(x4, x9));
    if (pi < pn) {
      const p = pm + (<usize>pi << 4);
      pi++;
      h0 += <u64>load<u32>(p, 0);
      h1 += <u64>load<u32>(p, 4);
      h2 += <u64>load<u32>(p, 8);
      h3 += <u64>load<u32>(p, 12);
      h4 += 1;
      const d0 = h0 * r0 + h1 * s3 + h2 * s2 + h3 * s1;
      let d1 = h0 * r1 + h1 * r0 + h2 * s3 + h3 * s2 + h4 * s1;
      let d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s3 + h4 * s2;
      let d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s3;
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
  }
  store<u64>(st + POLY_H, h0, 0);
  store<u64>(st + POLY_H, h1, 8);
  store<u64>(st + POLY_H, h2, 16);
  store<u64>(st + POLY_H, h3, 24);
  store<u64>(st + POLY_H, h4, 32);
  // Feed-forward: add the input state (reloaded rather than kept live across the rounds).
  x0 = i32x4.add(x0, i32x4.splat(0x61707865));
  x1 = i32x4.add(x1, i32x4.splat(0x3320646e));
  x2 = i32x4.add(x2, i32x4.splat(0x79622d32));
  x3 = i32x4.add(x3, i32x4.splat(0x6b206574));
  emit4(x0, x1, x2, x3, src, dst, 0);
  x4 = i32x4.add(x4, i32x4.splat(load<i32>(key, 0)));
  x5 = i32x4.add(x5, i32x4.splat(load<i32>(key, 4)));
  x6 = i32x4.add(x6, i32x4.splat(load<i32>(key, 8)));
  x7 = i32x4.add(x7, i32x4.splat(load<i32>(key, 12)));
  emit4(x4, x5, x6, x7, src, dst, 16);
  x8 = i32x4.add(x8, i32x4.splat(load<i32>(key, 16)));
  x9 = i32x4.add(x9, i32x4.splat(load<i32>(key, 20)));
  x10 = i32x4.add(x10, i32x4.splat(load<i32>(key, 24)));
  x11 = i32x4.add(x11, i32x4.splat(load<i32>(key, 28)));
  emit4(x8, x9, x10, x11, src, dst, 32);
  x12 = i32x4.add(x12, counters);
  x13 = i32x4.add(x13, i32x4.splat(load<i32>(nonce, 0)));
  x14 = i32x4.add(x14, i32x4.splat(load<i32>(nonce, 4)));
  x15 = i32x4.add(x15, i32x4.splat(load<i32>(nonce, 8)));
  emit4(x12, x13, x14, x15, src, dst, 48);
}

/** dst = src ^ keystream for blocks ctr..ctr+3 (256 bytes; src and dst may be the same buffer). */
export function chacha20Xor256(key: usize, nonce: usize, ctr: u32, src: usize, dst: usize): void {
  chacha20Xor256Poly(key, nonce, ctr, src, dst, NO_POLY, 0, 0);
}

/** Writes the raw keystream of blocks ctr..ctr+3 (256 bytes) to out, absorbing pn Poly1305 blocks meanwhile. */
export function chacha20Keystream256Poly(key: usize, nonce: usize, ctr: u32, out: usize, st: usize, pm: usize, pn: i32): void {
  chacha20Xor256Poly(key, nonce, ctr, ZERO4, out, st, pm, pn);
}

/** Writes the raw keystream of blocks ctr..ctr+3 (256 bytes) to out. */
export function chacha20Keystream256(key: usize, nonce: usize, ctr: u32, out: usize): void {
  chacha20Xor256Poly(key, nonce, ctr, ZERO4, out, NO_POLY, 0, 0);
}

/** dst = src ^ ks for len bytes (v128 while 16 bytes remain, then bytes: never touches src/dst past len). */
export function xorBytes(src: usize, dst: usize, ks: usize, len: i32): void {
  let i = 0;
  for (; i + 16 <= len; i += 16) {
    v128.store(dst + <usize>i, v128.xor(v128.load(src + <usize>i), v128.load(ks + <usize>i)));
  }
  for (; i < len; i++) {
    store<u8>(dst + <usize>i, load<u8>(src + <usize>i) ^ load<u8>(ks + <usize>i));
  }
}

/**
 * RFC 8439 section 2.4 encryption: dst = src ^ ChaCha20(key, nonce, counter, counter+1, ...) for len bytes.
 * key: 32 bytes, nonce: 12 bytes; src and dst may be equal. The 32-bit block counter wraps modulo 2^32
 * (ESP packets never come near: 64 KiB is 1024 blocks).
 */
export function chacha20Xor(key: usize, nonce: usize, counter: u32, src: usize, dst: usize, len: i32): void {
  let ctr = counter;
  let off = 0;
  for (; off + CHACHA_BATCH <= len; off += CHACHA_BATCH) {
    chacha20Xor256(key, nonce, ctr, src + <usize>off, dst + <usize>off);
    ctr += 4;
  }
  if (off < len) {
    chacha20Keystream256(key, nonce, ctr, TAIL4);
    xorBytes(src + <usize>off, dst + <usize>off, TAIL4, len - off);
    memory.fill(TAIL4, 0, <usize>CHACHA_BATCH);
  }
}

/** RFC 8439 section 2.3 block function: the 64-byte keystream block `counter` for key and nonce, written to out. */
export function chacha20Block(key: usize, nonce: usize, counter: u32, out: usize): void {
  chacha20Keystream256(key, nonce, counter, TAIL4);
  memory.copy(out, TAIL4, 64);
  memory.fill(TAIL4, 0, <usize>CHACHA_BATCH);
}
