// SHA-256 compression (FIPS 180-4 section 6.2).
// Constant time: the rounds are only additions, XORs, ANDs and fixed rotations; the round
// constants and schedule words are indexed by round number only, never by data, and the
// only branch is on the block count, which is public (it follows from the message length).
//
// State layout: 8 u32 words H0..H7 in host (little-endian) order, 32 bytes. Blocks are the
// raw big-endian message bytes, 64 per block. Scratch: the 64-word message schedule lives in
// a static buffer (SCHEDULE256); nothing is allocated.

/** SHA-256 block size in bytes. */
export const SHA256_BLOCK_BYTES: i32 = 64;
/** SHA-256 chaining state size in bytes (8 u32 words, host order). */
export const SHA256_STATE_BYTES: i32 = 32;

// prettier-ignore
const K256: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** K[t] + W[t] for the block being compressed: the rounds then need one load each. */
const SCHEDULE256: usize = memory.data(256, 16);

/** Writes the SHA-256 initial hash value into the 32-byte `state`. */
export function sha256Init(state: usize): void {
  store<u32>(state, 0x6a09e667, 0);
  store<u32>(state, 0xbb67ae85, 4);
  store<u32>(state, 0x3c6ef372, 8);
  store<u32>(state, 0xa54ff53a, 12);
  store<u32>(state, 0x510e527f, 16);
  store<u32>(state, 0x9b05688c, 20);
  store<u32>(state, 0x1f83d9ab, 24);
  store<u32>(state, 0x5be0cd19, 28);
}

// @ts-ignore: decorator
@inline function bigSigma0(x: u32): u32 { return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22); }
// @ts-ignore: decorator
@inline function bigSigma1(x: u32): u32 { return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25); }
// @ts-ignore: decorator
@inline function ch(x: u32, y: u32, z: u32): u32 { return z ^ (x & (y ^ z)); }
// @ts-ignore: decorator
@inline function maj(x: u32, y: u32, z: u32): u32 { return (x & y) | (z & (x | y)); }

/** Fills SCHEDULE256 with K[t] + W[t] for the 64-byte block at `p`. */
// @ts-ignore: decorator
@inline function expandSchedule(p: usize): void {
  // W[t-16], W[t-15], W[t-7], W[t-2] are kept in the buffer as plain W; K is added in a second pass.
  const w = SCHEDULE256;
  for (let t: usize = 0; t < 64; t += 4) store<u32>(w + t, bswap<u32>(load<u32>(p + t)));
  for (let t: usize = 64; t < 256; t += 4) {
    const w15 = load<u32>(w + t - 60);
    const w2 = load<u32>(w + t - 8);
    const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10);
    store<u32>(w + t, load<u32>(w + t - 64) + s0 + load<u32>(w + t - 28) + s1);
  }
  for (let t: usize = 0; t < 256; t += 4) store<u32>(w + t, load<u32>(w + t) + load<u32>(K256 + t));
}

/**
 * Compresses `n` consecutive 64-byte blocks at `blocks` into the SHA-256 chaining `state`
 * (8 u32 words, host order). No padding is applied: the caller passes whole blocks.
 */
export function sha256Compress(state: usize, blocks: usize, n: i32): void {
  let h0 = load<u32>(state, 0), h1 = load<u32>(state, 4), h2 = load<u32>(state, 8), h3 = load<u32>(state, 12);
  let h4 = load<u32>(state, 16), h5 = load<u32>(state, 20), h6 = load<u32>(state, 24), h7 = load<u32>(state, 28);
  const kw = SCHEDULE256;
  for (let blk = 0; blk < n; blk++) {
    expandSchedule(blocks + (<usize>blk << 6));
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    // Eight rounds per iteration with the variable roles rotated by hand, so no shuffling.
    for (let t: usize = 0; t < 256; t += 32) {
      let t1 = h + bigSigma1(e) + ch(e, f, g) + load<u32>(kw + t, 0);
      d += t1; h = t1 + bigSigma0(a) + maj(a, b, c);
      t1 = g + bigSigma1(d) + ch(d, e, f) + load<u32>(kw + t, 4);
      c += t1; g = t1 + bigSigma0(h) + maj(h, a, b);
      t1 = f + bigSigma1(c) + ch(c, d, e) + load<u32>(kw + t, 8);
      b += t1; f = t1 + bigSigma0(g) + maj(g, h, a);
      t1 = e + bigSigma1(b) + ch(b, c, d) + load<u32>(kw + t, 12);
      a += t1; e = t1 + bigSigma0(f) + maj(f, g, h);
      t1 = d + bigSigma1(a) + ch(a, b, c) + load<u32>(kw + t, 16);
      h += t1; d = t1 + bigSigma0(e) + maj(e, f, g);
      t1 = c + bigSigma1(h) + ch(h, a, b) + load<u32>(kw + t, 20);
      g += t1; c = t1 + bigSigma0(d) + maj(d, e, f);
      t1 = b + bigSigma1(g) + ch(g, h, a) + load<u32>(kw + t, 24);
      f += t1; b = t1 + bigSigma0(c) + maj(c, d, e);
      t1 = a + bigSigma1(f) + ch(f, g, h) + load<u32>(kw + t, 28);
      e += t1; a = t1 + bigSigma0(b) + maj(b, c, d);
    }
    h0 += a; h1 += b; h2 += c; h3 += d; h4 += e; h5 += f; h6 += g; h7 += h;
  }
  store<u32>(state, h0, 0); store<u32>(state, h1, 4); store<u32>(state, h2, 8); store<u32>(state, h3, 12);
  store<u32>(state, h4, 16); store<u32>(state, h5, 20); store<u32>(state, h6, 24); store<u32>(state, h7, 28);
}
