// SHA-1 compression (FIPS 180-4 section 6.1), for HMAC-SHA-1-96 (RFC 2404) only.
// Constant time: the rounds are only additions, XORs, ANDs/ORs and fixed rotations; the
// round function and constant are chosen by round number only, never by data, and the only
// branch on input is the block count, which is public (it follows from the message length).
//
// State layout: 5 u32 words H0..H4 in host (little-endian) order, 20 bytes. Blocks are the raw
// big-endian message bytes, 64 per block. Scratch: the 80-word schedule lives in a static buffer.

/** SHA-1 block size in bytes. */
export const SHA1_BLOCK_BYTES: i32 = 64;
/** SHA-1 chaining state size in bytes (5 u32 words, host order). */
export const SHA1_STATE_BYTES: i32 = 20;

const SCHEDULE1: usize = memory.data(320, 16);

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
  const w = SCHEDULE1;
  for (let blk = 0; blk < n; blk++) {
    const p = blocks + (<usize>blk << 6);
    for (let t: usize = 0; t < 64; t += 4) store<u32>(w + t, bswap<u32>(load<u32>(p + t)));
    for (let t: usize = 64; t < 320; t += 4) {
      const x = load<u32>(w + t - 12) ^ load<u32>(w + t - 32) ^ load<u32>(w + t - 56) ^ load<u32>(w + t - 64);
      store<u32>(w + t, rotl<u32>(x, 1));
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    // Five rounds per iteration with the variable roles rotated by hand, so no shuffling.
    let t: usize = 0;
    for (; t < 80; t += 20) {
      e += rotl<u32>(a, 5) + choose(b, c, d) + 0x5a827999 + load<u32>(w + t, 0); b = rotl<u32>(b, 30);
      d += rotl<u32>(e, 5) + choose(a, b, c) + 0x5a827999 + load<u32>(w + t, 4); a = rotl<u32>(a, 30);
      c += rotl<u32>(d, 5) + choose(e, a, b) + 0x5a827999 + load<u32>(w + t, 8); e = rotl<u32>(e, 30);
      b += rotl<u32>(c, 5) + choose(d, e, a) + 0x5a827999 + load<u32>(w + t, 12); d = rotl<u32>(d, 30);
      a += rotl<u32>(b, 5) + choose(c, d, e) + 0x5a827999 + load<u32>(w + t, 16); c = rotl<u32>(c, 30);
    }
    for (; t < 160; t += 20) {
      e += rotl<u32>(a, 5) + parity(b, c, d) + 0x6ed9eba1 + load<u32>(w + t, 0); b = rotl<u32>(b, 30);
      d += rotl<u32>(e, 5) + parity(a, b, c) + 0x6ed9eba1 + load<u32>(w + t, 4); a = rotl<u32>(a, 30);
      c += rotl<u32>(d, 5) + parity(e, a, b) + 0x6ed9eba1 + load<u32>(w + t, 8); e = rotl<u32>(e, 30);
      b += rotl<u32>(c, 5) + parity(d, e, a) + 0x6ed9eba1 + load<u32>(w + t, 12); d = rotl<u32>(d, 30);
      a += rotl<u32>(b, 5) + parity(c, d, e) + 0x6ed9eba1 + load<u32>(w + t, 16); c = rotl<u32>(c, 30);
    }
    for (; t < 240; t += 20) {
      e += rotl<u32>(a, 5) + majority(b, c, d) + 0x8f1bbcdc + load<u32>(w + t, 0); b = rotl<u32>(b, 30);
      d += rotl<u32>(e, 5) + majority(a, b, c) + 0x8f1bbcdc + load<u32>(w + t, 4); a = rotl<u32>(a, 30);
      c += rotl<u32>(d, 5) + majority(e, a, b) + 0x8f1bbcdc + load<u32>(w + t, 8); e = rotl<u32>(e, 30);
      b += rotl<u32>(c, 5) + majority(d, e, a) + 0x8f1bbcdc + load<u32>(w + t, 12); d = rotl<u32>(d, 30);
      a += rotl<u32>(b, 5) + majority(c, d, e) + 0x8f1bbcdc + load<u32>(w + t, 16); c = rotl<u32>(c, 30);
    }
    for (; t < 320; t += 20) {
      e += rotl<u32>(a, 5) + parity(b, c, d) + 0xca62c1d6 + load<u32>(w + t, 0); b = rotl<u32>(b, 30);
      d += rotl<u32>(e, 5) + parity(a, b, c) + 0xca62c1d6 + load<u32>(w + t, 4); a = rotl<u32>(a, 30);
      c += rotl<u32>(d, 5) + parity(e, a, b) + 0xca62c1d6 + load<u32>(w + t, 8); e = rotl<u32>(e, 30);
      b += rotl<u32>(c, 5) + parity(d, e, a) + 0xca62c1d6 + load<u32>(w + t, 12); d = rotl<u32>(d, 30);
      a += rotl<u32>(b, 5) + parity(c, d, e) + 0xca62c1d6 + load<u32>(w + t, 16); c = rotl<u32>(c, 30);
    }
    h0 += a; h1 += b; h2 += c; h3 += d; h4 += e;
  }
  store<u32>(state, h0, 0); store<u32>(state, h1, 4); store<u32>(state, h2, 8);
  store<u32>(state, h3, 12); store<u32>(state, h4, 16);
}
