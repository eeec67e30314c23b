// SHA-512 and SHA-384 compression (FIPS 180-4 section 6.4/6.5; SHA-384 differs only in its
// initial value and truncated output).
// Constant time: the rounds are only 64-bit additions, XORs, ANDs and fixed rotations; the
// round constants are immediates placed by round number, the schedule words are locals, and
// the only branch on input is the block count, which is public (it follows from the length).
//
// State layout: 8 u64 words H0..H7 in host (little-endian) order, 64 bytes (also for SHA-384).
// Blocks are the raw big-endian message bytes, 128 per block. Scratch: none (all in locals).
//
// The 80 rounds are written out (mechanically), as in sha256.ts: the 16-word schedule window
// stays in locals and the variable roles rotate by renaming instead of moving values.

/** SHA-512/SHA-384 block size in bytes. */
export const SHA512_BLOCK_BYTES: i32 = 128;
/** SHA-512/SHA-384 chaining state size in bytes (8 u64 words, host order). */
export const SHA512_STATE_BYTES: i32 = 64;

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
@inline function sigma0(x: u64): u64 { return rotr<u64>(x, 1) ^ rotr<u64>(x, 8) ^ (x >>> 7); }
// @ts-ignore: decorator
@inline function sigma1(x: u64): u64 { return rotr<u64>(x, 19) ^ rotr<u64>(x, 61) ^ (x >>> 6); }

/**
 * Compresses `n` consecutive 128-byte blocks at `blocks` into the SHA-512/SHA-384 chaining
 * `state` (8 u64 words, host order). No padding is applied: the caller passes whole blocks.
 */
export function sha512Compress(state: usize, blocks: usize, n: i32): void {
  let h0 = load<u64>(state, 0), h1 = load<u64>(state, 8), h2 = load<u64>(state, 16), h3 = load<u64>(state, 24);
  let h4 = load<u64>(state, 32), h5 = load<u64>(state, 40), h6 = load<u64>(state, 48), h7 = load<u64>(state, 56);
  for (let blk = 0; blk < n; blk++) {
    const p = blocks + (<usize>blk << 7);
    let w0 = bswap<u64>(load<u64>(p, 0)); let w1 = bswap<u64>(load<u64>(p, 8)); let w2 = bswap<u64>(load<u64>(p, 16)); let w3 = bswap<u64>(load<u64>(p, 24));
    let w4 = bswap<u64>(load<u64>(p, 32)); let w5 = bswap<u64>(load<u64>(p, 40)); let w6 = bswap<u64>(load<u64>(p, 48)); let w7 = bswap<u64>(load<u64>(p, 56));
    let w8 = bswap<u64>(load<u64>(p, 64)); let w9 = bswap<u64>(load<u64>(p, 72)); let w10 = bswap<u64>(load<u64>(p, 80)); let w11 = bswap<u64>(load<u64>(p, 88));
    let w12 = bswap<u64>(load<u64>(p, 96)); let w13 = bswap<u64>(load<u64>(p, 104)); let w14 = bswap<u64>(load<u64>(p, 112)); let w15 = bswap<u64>(load<u64>(p, 120));
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    let t1: u64, ab: u64, bc = b ^ c;
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x428a2f98d728ae22 + w0; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x7137449123ef65cd + w1; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0xb5c0fbcfec4d3b2f + w2; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0xe9b5dba58189dbbc + w3; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x3956c25bf348b538 + w4; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x59f111f1b605d019 + w5; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x923f82a4af194f9b + w6; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0xab1c5ed5da6d8118 + w7; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0xd807aa98a3030242 + w8; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x12835b0145706fbe + w9; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x243185be4ee4b28c + w10; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x550c7dc3d5ffb4e2 + w11; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x72be5d74f27b896f + w12; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x80deb1fe3b1696b1 + w13; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x9bdc06a725c71235 + w14; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0xc19bf174cf692694 + w15; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    // Rounds 16..79 extend the schedule in place: w[t%16] becomes W[t].
    w0 += sigma1(w14) + w9 + sigma0(w1);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0xe49b69c19ef14ad2 + w0; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w1 += sigma1(w15) + w10 + sigma0(w2);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0xefbe4786384f25e3 + w1; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w2 += sigma1(w0) + w11 + sigma0(w3);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x0fc19dc68b8cd5b5 + w2; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w3 += sigma1(w1) + w12 + sigma0(w4);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x240ca1cc77ac9c65 + w3; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w4 += sigma1(w2) + w13 + sigma0(w5);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x2de92c6f592b0275 + w4; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w5 += sigma1(w3) + w14 + sigma0(w6);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x4a7484aa6ea6e483 + w5; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w6 += sigma1(w4) + w15 + sigma0(w7);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x5cb0a9dcbd41fbd4 + w6; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w7 += sigma1(w5) + w0 + sigma0(w8);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x76f988da831153b5 + w7; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w8 += sigma1(w6) + w1 + sigma0(w9);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x983e5152ee66dfab + w8; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w9 += sigma1(w7) + w2 + sigma0(w10);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0xa831c66d2db43210 + w9; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w10 += sigma1(w8) + w3 + sigma0(w11);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0xb00327c898fb213f + w10; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w11 += sigma1(w9) + w4 + sigma0(w12);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0xbf597fc7beef0ee4 + w11; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w12 += sigma1(w10) + w5 + sigma0(w13);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0xc6e00bf33da88fc2 + w12; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w13 += sigma1(w11) + w6 + sigma0(w14);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0xd5a79147930aa725 + w13; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w14 += sigma1(w12) + w7 + sigma0(w15);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x06ca6351e003826f + w14; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w15 += sigma1(w13) + w8 + sigma0(w0);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x142929670a0e6e70 + w15; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w0 += sigma1(w14) + w9 + sigma0(w1);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x27b70a8546d22ffc + w0; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w1 += sigma1(w15) + w10 + sigma0(w2);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x2e1b21385c26c926 + w1; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w2 += sigma1(w0) + w11 + sigma0(w3);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x4d2c6dfc5ac42aed + w2; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w3 += sigma1(w1) + w12 + sigma0(w4);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x53380d139d95b3df + w3; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w4 += sigma1(w2) + w13 + sigma0(w5);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x650a73548baf63de + w4; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w5 += sigma1(w3) + w14 + sigma0(w6);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x766a0abb3c77b2a8 + w5; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w6 += sigma1(w4) + w15 + sigma0(w7);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x81c2c92e47edaee6 + w6; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w7 += sigma1(w5) + w0 + sigma0(w8);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x92722c851482353b + w7; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w8 += sigma1(w6) + w1 + sigma0(w9);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0xa2bfe8a14cf10364 + w8; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w9 += sigma1(w7) + w2 + sigma0(w10);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0xa81a664bbc423001 + w9; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w10 += sigma1(w8) + w3 + sigma0(w11);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0xc24b8b70d0f89791 + w10; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w11 += sigma1(w9) + w4 + sigma0(w12);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0xc76c51a30654be30 + w11; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w12 += sigma1(w10) + w5 + sigma0(w13);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0xd192e819d6ef5218 + w12; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w13 += sigma1(w11) + w6 + sigma0(w14);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0xd69906245565a910 + w13; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w14 += sigma1(w12) + w7 + sigma0(w15);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0xf40e35855771202a + w14; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w15 += sigma1(w13) + w8 + sigma0(w0);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x106aa07032bbd1b8 + w15; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w0 += sigma1(w14) + w9 + sigma0(w1);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x19a4c116b8d2d0c8 + w0; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w1 += sigma1(w15) + w10 + sigma0(w2);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x1e376c085141ab53 + w1; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w2 += sigma1(w0) + w11 + sigma0(w3);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x2748774cdf8eeb99 + w2; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w3 += sigma1(w1) + w12 + sigma0(w4);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x34b0bcb5e19b48a8 + w3; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w4 += sigma1(w2) + w13 + sigma0(w5);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x391c0cb3c5c95a63 + w4; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w5 += sigma1(w3) + w14 + sigma0(w6);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x4ed8aa4ae3418acb + w5; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w6 += sigma1(w4) + w15 + sigma0(w7);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x5b9cca4f7763e373 + w6; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w7 += sigma1(w5) + w0 + sigma0(w8);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x682e6ff3d6b2b8a3 + w7; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w8 += sigma1(w6) + w1 + sigma0(w9);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x748f82ee5defb2fc + w8; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w9 += sigma1(w7) + w2 + sigma0(w10);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x78a5636f43172f60 + w9; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w10 += sigma1(w8) + w3 + sigma0(w11);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x84c87814a1f0ab72 + w10; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w11 += sigma1(w9) + w4 + sigma0(w12);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x8cc702081a6439ec + w11; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w12 += sigma1(w10) + w5 + sigma0(w13);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x90befffa23631e28 + w12; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w13 += sigma1(w11) + w6 + sigma0(w14);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0xa4506cebde82bde9 + w13; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w14 += sigma1(w12) + w7 + sigma0(w15);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0xbef9a3f7b2c67915 + w14; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w15 += sigma1(w13) + w8 + sigma0(w0);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0xc67178f2e372532b + w15; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w0 += sigma1(w14) + w9 + sigma0(w1);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0xca273eceea26619c + w0; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w1 += sigma1(w15) + w10 + sigma0(w2);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0xd186b8c721c0c207 + w1; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w2 += sigma1(w0) + w11 + sigma0(w3);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0xeada7dd6cde0eb1e + w2; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w3 += sigma1(w1) + w12 + sigma0(w4);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0xf57d4f7fee6ed178 + w3; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w4 += sigma1(w2) + w13 + sigma0(w5);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x06f067aa72176fba + w4; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w5 += sigma1(w3) + w14 + sigma0(w6);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x0a637dc5a2c898a6 + w5; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w6 += sigma1(w4) + w15 + sigma0(w7);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x113f9804bef90dae + w6; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w7 += sigma1(w5) + w0 + sigma0(w8);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x1b710b35131c471b + w7; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w8 += sigma1(w6) + w1 + sigma0(w9);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x28db77f523047d84 + w8; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w9 += sigma1(w7) + w2 + sigma0(w10);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x32caab7b40c72493 + w9; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w10 += sigma1(w8) + w3 + sigma0(w11);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x3c9ebe0a15c9bebc + w10; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w11 += sigma1(w9) + w4 + sigma0(w12);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x431d67c49c100d4c + w11; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w12 += sigma1(w10) + w5 + sigma0(w13);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x4cc5d4becb3e42b6 + w12; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w13 += sigma1(w11) + w6 + sigma0(w14);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x597f299cfc657e2a + w13; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w14 += sigma1(w12) + w7 + sigma0(w15);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x5fcb6fab3ad6faec + w14; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w15 += sigma1(w13) + w8 + sigma0(w0);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x6c44198c4a475817 + w15; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    h0 += a; h1 += b; h2 += c; h3 += d; h4 += e; h5 += f; h6 += g; h7 += h;
  }
  store<u64>(state, h0, 0); store<u64>(state, h1, 8); store<u64>(state, h2, 16); store<u64>(state, h3, 24);
  store<u64>(state, h4, 32); store<u64>(state, h5, 40); store<u64>(state, h6, 48); store<u64>(state, h7, 56);
}
