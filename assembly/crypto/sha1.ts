// SHA-1 compression (FIPS 180-4 section 6.1), for HMAC-SHA-1-96 (RFC 2404) only.
// Constant time: the rounds are only additions, XORs, ANDs/ORs and fixed rotations; the
// round function and constant are placed by round number only, never chosen by data, and the
// only branch on input is the block count, which is public (it follows from the length).
//
// State layout: 5 u32 words H0..H4 in host (little-endian) order, 20 bytes. Blocks are the raw
// big-endian message bytes, 64 per block. Scratch: none (all in locals).
//
// The 80 rounds are written out (mechanically), as in sha256.ts: the 16-word schedule window
// stays in locals and the variable roles rotate by renaming instead of moving values.

/** SHA-1 block size in bytes. */
export const SHA1_BLOCK_BYTES: i32 = 64;
/** SHA-1 chaining state size in bytes (5 u32 words, host order). */
export const SHA1_STATE_BYTES: i32 = 20;

/** Writes the SHA-1 initial hash value into the 20-byte `state`. */
export function sha1Init(state: usize): void {
  store<u32>(state, 0x67452301, 0);
  store<u32>(state, 0xefcdab89, 4);
  store<u32>(state, 0x98badcfe, 8);
  store<u32>(state, 0x10325476, 12);
  store<u32>(state, 0xc3d2e1f0, 16);
}

// @ts-ignore: decorator
@inline function choose(x: u32, y: u32, z: u32): u32 { return z ^ (x & (y ^ z)); }
// @ts-ignore: decorator
@inline function parity(x: u32, y: u32, z: u32): u32 { return x ^ y ^ z; }
// @ts-ignore: decorator
@inline function majority(x: u32, y: u32, z: u32): u32 { return (x & y) | (z & (x | y)); }

/**
 * Compresses `n` consecutive 64-byte blocks at `blocks` into the SHA-1 chaining `state`
 * (5 u32 words, host order). No padding is applied: the caller passes whole blocks.
 */
export function sha1Compress(state: usize, blocks: usize, n: i32): void {
  let h0 = load<u32>(state, 0), h1 = load<u32>(state, 4), h2 = load<u32>(state, 8);
  let h3 = load<u32>(state, 12), h4 = load<u32>(state, 16);
  for (let blk = 0; blk < n; blk++) {
    const p = blocks + (<usize>blk << 6);
    let w0 = bswap<u32>(load<u32>(p, 0)); let w1 = bswap<u32>(load<u32>(p, 4)); let w2 = bswap<u32>(load<u32>(p, 8)); let w3 = bswap<u32>(load<u32>(p, 12));
    let w4 = bswap<u32>(load<u32>(p, 16)); let w5 = bswap<u32>(load<u32>(p, 20)); let w6 = bswap<u32>(load<u32>(p, 24)); let w7 = bswap<u32>(load<u32>(p, 28));
    let w8 = bswap<u32>(load<u32>(p, 32)); let w9 = bswap<u32>(load<u32>(p, 36)); let w10 = bswap<u32>(load<u32>(p, 40)); let w11 = bswap<u32>(load<u32>(p, 44));
    let w12 = bswap<u32>(load<u32>(p, 48)); let w13 = bswap<u32>(load<u32>(p, 52)); let w14 = bswap<u32>(load<u32>(p, 56)); let w15 = bswap<u32>(load<u32>(p, 60));
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    e += rotl<u32>(a, 5) + choose(b, c, d) + 0x5a827999 + w0; b = rotl<u32>(b, 30);
    d += rotl<u32>(e, 5) + choose(a, b, c) + 0x5a827999 + w1; a = rotl<u32>(a, 30);
    c += rotl<u32>(d, 5) + choose(e, a, b) + 0x5a827999 + w2; e = rotl<u32>(e, 30);
    b += rotl<u32>(c, 5) + choose(d, e, a) + 0x5a827999 + w3; d = rotl<u32>(d, 30);
    a += rotl<u32>(b, 5) + choose(c, d, e) + 0x5a827999 + w4; c = rotl<u32>(c, 30);
    e += rotl<u32>(a, 5) + choose(b, c, d) + 0x5a827999 + w5; b = rotl<u32>(b, 30);
    d += rotl<u32>(e, 5) + choose(a, b, c) + 0x5a827999 + w6; a = rotl<u32>(a, 30);
    c += rotl<u32>(d, 5) + choose(e, a, b) + 0x5a827999 + w7; e = rotl<u32>(e, 30);
    b += rotl<u32>(c, 5) + choose(d, e, a) + 0x5a827999 + w8; d = rotl<u32>(d, 30);
    a += rotl<u32>(b, 5) + choose(c, d, e) + 0x5a827999 + w9; c = rotl<u32>(c, 30);
    e += rotl<u32>(a, 5) + choose(b, c, d) + 0x5a827999 + w10; b = rotl<u32>(b, 30);
    d += rotl<u32>(e, 5) + choose(a, b, c) + 0x5a827999 + w11; a = rotl<u32>(a, 30);
    c += rotl<u32>(d, 5) + choose(e, a, b) + 0x5a827999 + w12; e = rotl<u32>(e, 30);
    b += rotl<u32>(c, 5) + choose(d, e, a) + 0x5a827999 + w13; d = rotl<u32>(d, 30);
    a += rotl<u32>(b, 5) + choose(c, d, e) + 0x5a827999 + w14; c = rotl<u32>(c, 30);
    e += rotl<u32>(a, 5) + choose(b, c, d) + 0x5a827999 + w15; b = rotl<u32>(b, 30);
    // Rounds 16..79 extend the schedule in place: w[t%16] becomes W[t].
    w0 = rotl<u32>(w13 ^ w8 ^ w2 ^ w0, 1);
    d += rotl<u32>(e, 5) + choose(a, b, c) + 0x5a827999 + w0; a = rotl<u32>(a, 30);
    w1 = rotl<u32>(w14 ^ w9 ^ w3 ^ w1, 1);
    c += rotl<u32>(d, 5) + choose(e, a, b) + 0x5a827999 + w1; e = rotl<u32>(e, 30);
    w2 = rotl<u32>(w15 ^ w10 ^ w4 ^ w2, 1);
    b += rotl<u32>(c, 5) + choose(d, e, a) + 0x5a827999 + w2; d = rotl<u32>(d, 30);
    w3 = rotl<u32>(w0 ^ w11 ^ w5 ^ w3, 1);
    a += rotl<u32>(b, 5) + choose(c, d, e) + 0x5a827999 + w3; c = rotl<u32>(c, 30);
    w4 = rotl<u32>(w1 ^ w12 ^ w6 ^ w4, 1);
    e += rotl<u32>(a, 5) + parity(b, c, d) + 0x6ed9eba1 + w4; b = rotl<u32>(b, 30);
    w5 = rotl<u32>(w2 ^ w13 ^ w7 ^ w5, 1);
    d += rotl<u32>(e, 5) + parity(a, b, c) + 0x6ed9eba1 + w5; a = rotl<u32>(a, 30);
    w6 = rotl<u32>(w3 ^ w14 ^ w8 ^ w6, 1);
    c += rotl<u32>(d, 5) + parity(e, a, b) + 0x6ed9eba1 + w6; e = rotl<u32>(e, 30);
    w7 = rotl<u32>(w4 ^ w15 ^ w9 ^ w7, 1);
    b += rotl<u32>(c, 5) + parity(d, e, a) + 0x6ed9eba1 + w7; d = rotl<u32>(d, 30);
    w8 = rotl<u32>(w5 ^ w0 ^ w10 ^ w8, 1);
    a += rotl<u32>(b, 5) + parity(c, d, e) + 0x6ed9eba1 + w8; c = rotl<u32>(c, 30);
    w9 = rotl<u32>(w6 ^ w1 ^ w11 ^ w9, 1);
    e += rotl<u32>(a, 5) + parity(b, c, d) + 0x6ed9eba1 + w9; b = rotl<u32>(b, 30);
    w10 = rotl<u32>(w7 ^ w2 ^ w12 ^ w10, 1);
    d += rotl<u32>(e, 5) + parity(a, b, c) + 0x6ed9eba1 + w10; a = rotl<u32>(a, 30);
    w11 = rotl<u32>(w8 ^ w3 ^ w13 ^ w11, 1);
    c += rotl<u32>(d, 5) + parity(e, a, b) + 0x6ed9eba1 + w11; e = rotl<u32>(e, 30);
    w12 = rotl<u32>(w9 ^ w4 ^ w14 ^ w12, 1);
    b += rotl<u32>(c, 5) + parity(d, e, a) + 0x6ed9eba1 + w12; d = rotl<u32>(d, 30);
    w13 = rotl<u32>(w10 ^ w5 ^ w15 ^ w13, 1);
    a += rotl<u32>(b, 5) + parity(c, d, e) + 0x6ed9eba1 + w13; c = rotl<u32>(c, 30);
    w14 = rotl<u32>(w11 ^ w6 ^ w0 ^ w14, 1);
    e += rotl<u32>(a, 5) + parity(b, c, d) + 0x6ed9eba1 + w14; b = rotl<u32>(b, 30);
    w15 = rotl<u32>(w12 ^ w7 ^ w1 ^ w15, 1);
    d += rotl<u32>(e, 5) + parity(a, b, c) + 0x6ed9eba1 + w15; a = rotl<u32>(a, 30);
    w0 = rotl<u32>(w13 ^ w8 ^ w2 ^ w0, 1);
    c += rotl<u32>(d, 5) + parity(e, a, b) + 0x6ed9eba1 + w0; e = rotl<u32>(e, 30);
    w1 = rotl<u32>(w14 ^ w9 ^ w3 ^ w1, 1);
    b += rotl<u32>(c, 5) + parity(d, e, a) + 0x6ed9eba1 + w1; d = rotl<u32>(d, 30);
    w2 = rotl<u32>(w15 ^ w10 ^ w4 ^ w2, 1);
    a += rotl<u32>(b, 5) + parity(c, d, e) + 0x6ed9eba1 + w2; c = rotl<u32>(c, 30);
    w3 = rotl<u32>(w0 ^ w11 ^ w5 ^ w3, 1);
    e += rotl<u32>(a, 5) + parity(b, c, d) + 0x6ed9eba1 + w3; b = rotl<u32>(b, 30);
    w4 = rotl<u32>(w1 ^ w12 ^ w6 ^ w4, 1);
    d += rotl<u32>(e, 5) + parity(a, b, c) + 0x6ed9eba1 + w4; a = rotl<u32>(a, 30);
    w5 = rotl<u32>(w2 ^ w13 ^ w7 ^ w5, 1);
    c += rotl<u32>(d, 5) + parity(e, a, b) + 0x6ed9eba1 + w5; e = rotl<u32>(e, 30);
    w6 = rotl<u32>(w3 ^ w14 ^ w8 ^ w6, 1);
    b += rotl<u32>(c, 5) + parity(d, e, a) + 0x6ed9eba1 + w6; d = rotl<u32>(d, 30);
    w7 = rotl<u32>(w4 ^ w15 ^ w9 ^ w7, 1);
    a += rotl<u32>(b, 5) + parity(c, d, e) + 0x6ed9eba1 + w7; c = rotl<u32>(c, 30);
    w8 = rotl<u32>(w5 ^ w0 ^ w10 ^ w8, 1);
    e += rotl<u32>(a, 5) + majority(b, c, d) + 0x8f1bbcdc + w8; b = rotl<u32>(b, 30);
    w9 = rotl<u32>(w6 ^ w1 ^ w11 ^ w9, 1);
    d += rotl<u32>(e, 5) + majority(a, b, c) + 0x8f1bbcdc + w9; a = rotl<u32>(a, 30);
    w10 = rotl<u32>(w7 ^ w2 ^ w12 ^ w10, 1);
    c += rotl<u32>(d, 5) + majority(e, a, b) + 0x8f1bbcdc + w10; e = rotl<u32>(e, 30);
    w11 = rotl<u32>(w8 ^ w3 ^ w13 ^ w11, 1);
    b += rotl<u32>(c, 5) + majority(d, e, a) + 0x8f1bbcdc + w11; d = rotl<u32>(d, 30);
    w12 = rotl<u32>(w9 ^ w4 ^ w14 ^ w12, 1);
    a += rotl<u32>(b, 5) + majority(c, d, e) + 0x8f1bbcdc + w12; c = rotl<u32>(c, 30);
    w13 = rotl<u32>(w10 ^ w5 ^ w15 ^ w13, 1);
    e += rotl<u32>(a, 5) + majority(b, c, d) + 0x8f1bbcdc + w13; b = rotl<u32>(b, 30);
    w14 = rotl<u32>(w11 ^ w6 ^ w0 ^ w14, 1);
    d += rotl<u32>(e, 5) + majority(a, b, c) + 0x8f1bbcdc + w14; a = rotl<u32>(a, 30);
    w15 = rotl<u32>(w12 ^ w7 ^ w1 ^ w15, 1);
    c += rotl<u32>(d, 5) + majority(e, a, b) + 0x8f1bbcdc + w15; e = rotl<u32>(e, 30);
    w0 = rotl<u32>(w13 ^ w8 ^ w2 ^ w0, 1);
    b += rotl<u32>(c, 5) + majority(d, e, a) + 0x8f1bbcdc + w0; d = rotl<u32>(d, 30);
    w1 = rotl<u32>(w14 ^ w9 ^ w3 ^ w1, 1);
    a += rotl<u32>(b, 5) + majority(c, d, e) + 0x8f1bbcdc + w1; c = rotl<u32>(c, 30);
    w2 = rotl<u32>(w15 ^ w10 ^ w4 ^ w2, 1);
    e += rotl<u32>(a, 5) + majority(b, c, d) + 0x8f1bbcdc + w2; b = rotl<u32>(b, 30);
    w3 = rotl<u32>(w0 ^ w11 ^ w5 ^ w3, 1);
    d += rotl<u32>(e, 5) + majority(a, b, c) + 0x8f1bbcdc + w3; a = rotl<u32>(a, 30);
    w4 = rotl<u32>(w1 ^ w12 ^ w6 ^ w4, 1);
    c += rotl<u32>(d, 5) + majority(e, a, b) + 0x8f1bbcdc + w4; e = rotl<u32>(e, 30);
    w5 = rotl<u32>(w2 ^ w13 ^ w7 ^ w5, 1);
    b += rotl<u32>(c, 5) + majority(d, e, a) + 0x8f1bbcdc + w5; d = rotl<u32>(d, 30);
    w6 = rotl<u32>(w3 ^ w14 ^ w8 ^ w6, 1);
    a += rotl<u32>(b, 5) + majority(c, d, e) + 0x8f1bbcdc + w6; c = rotl<u32>(c, 30);
    w7 = rotl<u32>(w4 ^ w15 ^ w9 ^ w7, 1);
    e += rotl<u32>(a, 5) + majority(b, c, d) + 0x8f1bbcdc + w7; b = rotl<u32>(b, 30);
    w8 = rotl<u32>(w5 ^ w0 ^ w10 ^ w8, 1);
    d += rotl<u32>(e, 5) + majority(a, b, c) + 0x8f1bbcdc + w8; a = rotl<u32>(a, 30);
    w9 = rotl<u32>(w6 ^ w1 ^ w11 ^ w9, 1);
    c += rotl<u32>(d, 5) + majority(e, a, b) + 0x8f1bbcdc + w9; e = rotl<u32>(e, 30);
    w10 = rotl<u32>(w7 ^ w2 ^ w12 ^ w10, 1);
    b += rotl<u32>(c, 5) + majority(d, e, a) + 0x8f1bbcdc + w10; d = rotl<u32>(d, 30);
    w11 = rotl<u32>(w8 ^ w3 ^ w13 ^ w11, 1);
    a += rotl<u32>(b, 5) + majority(c, d, e) + 0x8f1bbcdc + w11; c = rotl<u32>(c, 30);
    w12 = rotl<u32>(w9 ^ w4 ^ w14 ^ w12, 1);
    e += rotl<u32>(a, 5) + parity(b, c, d) + 0xca62c1d6 + w12; b = rotl<u32>(b, 30);
    w13 = rotl<u32>(w10 ^ w5 ^ w15 ^ w13, 1);
    d += rotl<u32>(e, 5) + parity(a, b, c) + 0xca62c1d6 + w13; a = rotl<u32>(a, 30);
    w14 = rotl<u32>(w11 ^ w6 ^ w0 ^ w14, 1);
    c += rotl<u32>(d, 5) + parity(e, a, b) + 0xca62c1d6 + w14; e = rotl<u32>(e, 30);
    w15 = rotl<u32>(w12 ^ w7 ^ w1 ^ w15, 1);
    b += rotl<u32>(c, 5) + parity(d, e, a) + 0xca62c1d6 + w15; d = rotl<u32>(d, 30);
    w0 = rotl<u32>(w13 ^ w8 ^ w2 ^ w0, 1);
    a += rotl<u32>(b, 5) + parity(c, d, e) + 0xca62c1d6 + w0; c = rotl<u32>(c, 30);
    w1 = rotl<u32>(w14 ^ w9 ^ w3 ^ w1, 1);
    e += rotl<u32>(a, 5) + parity(b, c, d) + 0xca62c1d6 + w1; b = rotl<u32>(b, 30);
    w2 = rotl<u32>(w15 ^ w10 ^ w4 ^ w2, 1);
    d += rotl<u32>(e, 5) + parity(a, b, c) + 0xca62c1d6 + w2; a = rotl<u32>(a, 30);
    w3 = rotl<u32>(w0 ^ w11 ^ w5 ^ w3, 1);
    c += rotl<u32>(d, 5) + parity(e, a, b) + 0xca62c1d6 + w3; e = rotl<u32>(e, 30);
    w4 = rotl<u32>(w1 ^ w12 ^ w6 ^ w4, 1);
    b += rotl<u32>(c, 5) + parity(d, e, a) + 0xca62c1d6 + w4; d = rotl<u32>(d, 30);
    w5 = rotl<u32>(w2 ^ w13 ^ w7 ^ w5, 1);
    a += rotl<u32>(b, 5) + parity(c, d, e) + 0xca62c1d6 + w5; c = rotl<u32>(c, 30);
    w6 = rotl<u32>(w3 ^ w14 ^ w8 ^ w6, 1);
    e += rotl<u32>(a, 5) + parity(b, c, d) + 0xca62c1d6 + w6; b = rotl<u32>(b, 30);
    w7 = rotl<u32>(w4 ^ w15 ^ w9 ^ w7, 1);
    d += rotl<u32>(e, 5) + parity(a, b, c) + 0xca62c1d6 + w7; a = rotl<u32>(a, 30);
    w8 = rotl<u32>(w5 ^ w0 ^ w10 ^ w8, 1);
    c += rotl<u32>(d, 5) + parity(e, a, b) + 0xca62c1d6 + w8; e = rotl<u32>(e, 30);
    w9 = rotl<u32>(w6 ^ w1 ^ w11 ^ w9, 1);
    b += rotl<u32>(c, 5) + parity(d, e, a) + 0xca62c1d6 + w9; d = rotl<u32>(d, 30);
    w10 = rotl<u32>(w7 ^ w2 ^ w12 ^ w10, 1);
    a += rotl<u32>(b, 5) + parity(c, d, e) + 0xca62c1d6 + w10; c = rotl<u32>(c, 30);
    w11 = rotl<u32>(w8 ^ w3 ^ w13 ^ w11, 1);
    e += rotl<u32>(a, 5) + parity(b, c, d) + 0xca62c1d6 + w11; b = rotl<u32>(b, 30);
    w12 = rotl<u32>(w9 ^ w4 ^ w14 ^ w12, 1);
    d += rotl<u32>(e, 5) + parity(a, b, c) + 0xca62c1d6 + w12; a = rotl<u32>(a, 30);
    w13 = rotl<u32>(w10 ^ w5 ^ w15 ^ w13, 1);
    c += rotl<u32>(d, 5) + parity(e, a, b) + 0xca62c1d6 + w13; e = rotl<u32>(e, 30);
    w14 = rotl<u32>(w11 ^ w6 ^ w0 ^ w14, 1);
    b += rotl<u32>(c, 5) + parity(d, e, a) + 0xca62c1d6 + w14; d = rotl<u32>(d, 30);
    w15 = rotl<u32>(w12 ^ w7 ^ w1 ^ w15, 1);
    a += rotl<u32>(b, 5) + parity(c, d, e) + 0xca62c1d6 + w15; c = rotl<u32>(c, 30);
    h0 += a; h1 += b; h2 += c; h3 += d; h4 += e;
  }
  store<u32>(state, h0, 0); store<u32>(state, h1, 4); store<u32>(state, h2, 8);
  store<u32>(state, h3, 12); store<u32>(state, h4, 16);
}
