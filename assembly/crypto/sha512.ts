// SHA-512 and SHA-384 compression (FIPS 180-4 section 6.4/6.5; SHA-384 differs only in its
// initial value and truncated output).
// Constant time: the rounds are only 64-bit additions, XORs, ANDs and fixed rotations; the
// round constants and schedule words are indexed by round number only, never by data, and
// the only branch on input is the block count, which is public (it follows from the length).
//
// State layout: 8 u64 words H0..H7 in host (little-endian) order, 64 bytes (also for SHA-384).
// Blocks are the raw big-endian message bytes, 128 per block. Scratch: the 80-word schedule
// lives in a static buffer (SCHEDULE512); nothing is allocated.

/** SHA-512/SHA-384 block size in bytes. */
export const SHA512_BLOCK_BYTES: i32 = 128;
/** SHA-512/SHA-384 chaining state size in bytes (8 u64 words, host order). */
export const SHA512_STATE_BYTES: i32 = 64;

// prettier-ignore
const K512: usize = memory.data<u64>([
  0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc, 0x3956c25bf348b538,
  0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118, 0xd807aa98a3030242, 0x12835b0145706fbe,
  0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2, 0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235,
  0xc19bf174cf692694, 0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
  0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5, 0x983e5152ee66dfab,
  0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4, 0xc6e00bf33da88fc2, 0xd5a79147930aa725,
  0x06ca6351e003826f, 0x142929670a0e6e70, 0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed,
  0x53380d139d95b3df, 0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
  0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30, 0xd192e819d6ef5218,
  0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8, 0x19a4c116b8d2d0c8, 0x1e376c085141ab53,
  0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8, 0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373,
  0x682e6ff3d6b2b8a3, 0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
  0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b, 0xca273eceea26619c,
  0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178, 0x06f067aa72176fba, 0x0a637dc5a2c898a6,
  0x113f9804bef90dae, 0x1b710b35131c471b, 0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc,
  0x431d67c49c100d4c, 0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
]);

/** K[t] + W[t] for the block being compressed: the rounds then need one load each. */
const SCHEDULE512: usize = memory.data(640, 16);

/** Writes the SHA-512 initial hash value into the 64-byte `state`. */
export function sha512Init(state: usize): void {
  store<u64>(state, 0x6a09e667f3bcc908, 0);
  store<u64>(state, 0xbb67ae8584caa73b, 8);
  store<u64>(state, 0x3c6ef372fe94f82b, 16);
  store<u64>(state, 0xa54ff53a5f1d36f1, 24);
  store<u64>(state, 0x510e527fade682d1, 32);
  store<u64>(state, 0x9b05688c2b3e6c1f, 40);
  store<u64>(state, 0x1f83d9abfb41bd6b, 48);
  store<u64>(state, 0x5be0cd19137e2179, 56);
}

/** Writes the SHA-384 initial hash value into the 64-byte `state`. */
export function sha384Init(state: usize): void {
  store<u64>(state, 0xcbbb9d5dc1059ed8, 0);
  store<u64>(state, 0x629a292a367cd507, 8);
  store<u64>(state, 0x9159015a3070dd17, 16);
  store<u64>(state, 0x152fecd8f70e5939, 24);
  store<u64>(state, 0x67332667ffc00b31, 32);
  store<u64>(state, 0x8eb44a8768581511, 40);
  store<u64>(state, 0xdb0c2e0d64f98fa7, 48);
  store<u64>(state, 0x47b5481dbefa4fa4, 56);
}

// @ts-ignore: decorator
@inline function bigSigma0(x: u64): u64 { return rotr<u64>(x, 28) ^ rotr<u64>(x, 34) ^ rotr<u64>(x, 39); }
// @ts-ignore: decorator
@inline function bigSigma1(x: u64): u64 { return rotr<u64>(x, 14) ^ rotr<u64>(x, 18) ^ rotr<u64>(x, 41); }
// @ts-ignore: decorator
@inline function ch(x: u64, y: u64, z: u64): u64 { return z ^ (x & (y ^ z)); }
// @ts-ignore: decorator
@inline function maj(x: u64, y: u64, z: u64): u64 { return (x & y) | (z & (x | y)); }

/** Fills SCHEDULE512 with K[t] + W[t] for the 128-byte block at `p`. */
// @ts-ignore: decorator
@inline function expandSchedule(p: usize): void {
  const w = SCHEDULE512;
  for (let t: usize = 0; t < 128; t += 8) store<u64>(w + t, bswap<u64>(load<u64>(p + t)));
  for (let t: usize = 128; t < 640; t += 8) {
    const w15 = load<u64>(w + t - 120);
    const w2 = load<u64>(w + t - 16);
    const s0 = rotr<u64>(w15, 1) ^ rotr<u64>(w15, 8) ^ (w15 >>> 7);
    const s1 = rotr<u64>(w2, 19) ^ rotr<u64>(w2, 61) ^ (w2 >>> 6);
    store<u64>(w + t, load<u64>(w + t - 128) + s0 + load<u64>(w + t - 56) + s1);
  }
  for (let t: usize = 0; t < 640; t += 8) store<u64>(w + t, load<u64>(w + t) + load<u64>(K512 + t));
}

/**
 * Compresses `n` consecutive 128-byte blocks at `blocks` into the SHA-512/SHA-384 chaining
 * `state` (8 u64 words, host order). No padding is applied: the caller passes whole blocks.
 */
export function sha512Compress(state: usize, blocks: usize, n: i32): void {
  let h0 = load<u64>(state, 0), h1 = load<u64>(state, 8), h2 = load<u64>(state, 16), h3 = load<u64>(state, 24);
  let h4 = load<u64>(state, 32), h5 = load<u64>(state, 40), h6 = load<u64>(state, 48), h7 = load<u64>(state, 56);
  const kw = SCHEDULE512;
  for (let blk = 0; blk < n; blk++) {
    expandSchedule(blocks + (<usize>blk << 7));
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    // Eight rounds per iteration with the variable roles rotated by hand, so no shuffling.
    for (let t: usize = 0; t < 640; t += 64) {
      let t1 = h + bigSigma1(e) + ch(e, f, g) + load<u64>(kw + t, 0);
      d += t1; h = t1 + bigSigma0(a) + maj(a, b, c);
      t1 = g + bigSigma1(d) + ch(d, e, f) + load<u64>(kw + t, 8);
      c += t1; g = t1 + bigSigma0(h) + maj(h, a, b);
      t1 = f + bigSigma1(c) + ch(c, d, e) + load<u64>(kw + t, 16);
      b += t1; f = t1 + bigSigma0(g) + maj(g, h, a);
      t1 = e + bigSigma1(b) + ch(b, c, d) + load<u64>(kw + t, 24);
      a += t1; e = t1 + bigSigma0(f) + maj(f, g, h);
      t1 = d + bigSigma1(a) + ch(a, b, c) + load<u64>(kw + t, 32);
      h += t1; d = t1 + bigSigma0(e) + maj(e, f, g);
      t1 = c + bigSigma1(h) + ch(h, a, b) + load<u64>(kw + t, 40);
      g += t1; c = t1 + bigSigma0(d) + maj(d, e, f);
      t1 = b + bigSigma1(g) + ch(g, h, a) + load<u64>(kw + t, 48);
      f += t1; b = t1 + bigSigma0(c) + maj(c, d, e);
      t1 = a + bigSigma1(f) + ch(f, g, h) + load<u64>(kw + t, 56);
      e += t1; a = t1 + bigSigma0(b) + maj(b, c, d);
    }
    h0 += a; h1 += b; h2 += c; h3 += d; h4 += e; h5 += f; h6 += g; h7 += h;
  }
  store<u64>(state, h0, 0); store<u64>(state, h1, 8); store<u64>(state, h2, 16); store<u64>(state, h3, 24);
  store<u64>(state, h4, 32); store<u64>(state, h5, 40); store<u64>(state, h6, 48); store<u64>(state, h7, 56);
}
