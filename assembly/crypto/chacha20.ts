// ChaCha20 (RFC 8439 section 2.3/2.4) with the 96-bit nonce and 32-bit block counter used by ESP (RFC 7634).
//
// Four blocks are computed at once: state word i of blocks n..n+3 sits in the four i32 lanes of one
// v128, so every quarter round is plain lane-wise add/xor/rotate; rotations by 16 and 8 are byte
// shuffles, by 12 and 7 shift/shift/or. At the end a 4x4 transpose per word group turns lanes back
// into consecutive 64-byte blocks. A partial final batch is still computed four-wide into scratch
// (one SIMD pass costs what one scalar block would) and only the needed bytes are used.
//
// Constant time: ChaCha20 is only add/xor/rotate on 32-bit words; nothing here indexes memory or
// branches on key, nonce, counter or data. Loop bounds and branches depend only on `len`.
// Keystream left in scratch is wiped before returning.

/** 256 zero bytes: XORing them gives the raw keystream. */
const ZERO4: usize = memory.data(256, 16);
/** Keystream of a partial final batch. */
const TAIL4: usize = memory.data(256, 16);

/** Bytes in one four-block batch. */
export const CHACHA_BATCH: i32 = 256;

// @ts-ignore: decorator
@inline function rotl16(x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}
// @ts-ignore: decorator
@inline function rotl8(x: v128): v128 {
  return i8x16.shuffle(x, x, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
}
// @ts-ignore: decorator
@inline function rotl12(x: v128): v128 {
  return v128.or(i32x4.shl(x, 12), i32x4.shr_u(x, 20));
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
 * dst = src ^ keystream for blocks ctr..ctr+3 (256 bytes; src and dst may be the same buffer).
 * With src = ZERO4 it writes the raw keystream.
 */
export function chacha20Xor256(key: usize, nonce: usize, ctr: u32, src: usize, dst: usize): void {
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
  for (let i = 0; i < 10; i++) {
    // Column round.
    x0 = i32x4.add(x0, x4); x12 = rotl16(v128.xor(x12, x0));
    x1 = i32x4.add(x1, x5); x13 = rotl16(v128.xor(x13, x1));
    x2 = i32x4.add(x2, x6); x14 = rotl16(v128.xor(x14, x2));
    x3 = i32x4.add(x3, x7); x15 = rotl16(v128.xor(x15, x3));
    x8 = i32x4.add(x8, x12); x4 = rotl12(v128.xor(x4, x8));
    x9 = i32x4.add(x9, x13); x5 = rotl12(v128.xor(x5, x9));
    x10 = i32x4.add(x10, x14); x6 = rotl12(v128.xor(x6, x10));
    x11 = i32x4.add(x11, x15); x7 = rotl12(v128.xor(x7, x11));
    x0 = i32x4.add(x0, x4); x12 = rotl8(v128.xor(x12, x0));
    x1 = i32x4.add(x1, x5); x13 = rotl8(v128.xor(x13, x1));
    x2 = i32x4.add(x2, x6); x14 = rotl8(v128.xor(x14, x2));
    x3 = i32x4.add(x3, x7); x15 = rotl8(v128.xor(x15, x3));
    x8 = i32x4.add(x8, x12); x4 = rotl7(v128.xor(x4, x8));
    x9 = i32x4.add(x9, x13); x5 = rotl7(v128.xor(x5, x9));
    x10 = i32x4.add(x10, x14); x6 = rotl7(v128.xor(x6, x10));
    x11 = i32x4.add(x11, x15); x7 = rotl7(v128.xor(x7, x11));
    // Diagonal round.
    x0 = i32x4.add(x0, x5); x15 = rotl16(v128.xor(x15, x0));
    x1 = i32x4.add(x1, x6); x12 = rotl16(v128.xor(x12, x1));
    x2 = i32x4.add(x2, x7); x13 = rotl16(v128.xor(x13, x2));
    x3 = i32x4.add(x3, x4); x14 = rotl16(v128.xor(x14, x3));
    x10 = i32x4.add(x10, x15); x5 = rotl12(v128.xor(x5, x10));
    x11 = i32x4.add(x11, x12); x6 = rotl12(v128.xor(x6, x11));
    x8 = i32x4.add(x8, x13); x7 = rotl12(v128.xor(x7, x8));
    x9 = i32x4.add(x9, x14); x4 = rotl12(v128.xor(x4, x9));
    x0 = i32x4.add(x0, x5); x15 = rotl8(v128.xor(x15, x0));
    x1 = i32x4.add(x1, x6); x12 = rotl8(v128.xor(x12, x1));
    x2 = i32x4.add(x2, x7); x13 = rotl8(v128.xor(x13, x2));
    x3 = i32x4.add(x3, x4); x14 = rotl8(v128.xor(x14, x3));
    x10 = i32x4.add(x10, x15); x5 = rotl7(v128.xor(x5, x10));
    x11 = i32x4.add(x11, x12); x6 = rotl7(v128.xor(x6, x11));
    x8 = i32x4.add(x8, x13); x7 = rotl7(v128.xor(x7, x8));
    x9 = i32x4.add(x9, x14); x4 = rotl7(v128.xor(x4, x9));
  }
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

/** Writes the raw keystream of blocks ctr..ctr+3 (256 bytes) to out. */
export function chacha20Keystream256(key: usize, nonce: usize, ctr: u32, out: usize): void {
  chacha20Xor256(key, nonce, ctr, ZERO4, out);
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
    chacha20Xor256(key, nonce, ctr, ZERO4, TAIL4);
    xorBytes(src + <usize>off, dst + <usize>off, TAIL4, len - off);
    memory.fill(TAIL4, 0, <usize>CHACHA_BATCH);
  }
}

/** RFC 8439 section 2.3 block function: the 64-byte keystream block `counter` for key and nonce, written to out. */
export function chacha20Block(key: usize, nonce: usize, counter: u32, out: usize): void {
  chacha20Xor256(key, nonce, counter, ZERO4, TAIL4);
  memory.copy(out, TAIL4, 64);
  memory.fill(TAIL4, 0, <usize>CHACHA_BATCH);
}
