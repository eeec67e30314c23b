// SHA-256 compression (FIPS 180-4 section 6.2).
// Constant time: the rounds are only additions, XORs, ANDs and fixed rotations; the round
// constants are immediates placed by round number, the schedule words are locals, and the
// only branch is on the block count, which is public (it follows from the message length).
//
// State layout: 8 u32 words H0..H7 in host (little-endian) order, 32 bytes. Blocks are the
// raw big-endian message bytes, 64 per block. Scratch: none (schedule and state in locals).
//
// The 64 rounds are written out (mechanically) so the 16-word schedule window stays in locals
// and the variable roles rotate by renaming: 255 -> 175 ns per block against an 8-round loop
// over a memory schedule. maj(a,b,c) = b ^ ((a^b) & (b^c)) reuses a^b as the next round's b^c.

/** SHA-256 block size in bytes. */
export const SHA256_BLOCK_BYTES: i32 = 64;
/** SHA-256 chaining state size in bytes (8 u32 words, host order). */
export const SHA256_STATE_BYTES: i32 = 32;

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
@inline function sigma0(x: u32): u32 { return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3); }
// @ts-ignore: decorator
@inline function sigma1(x: u32): u32 { return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10); }
// @ts-ignore: decorator
@inline function ch(x: u32, y: u32, z: u32): u32 { return z ^ (x & (y ^ z)); }

/**
 * Compresses `n` consecutive 64-byte blocks at `blocks` into the SHA-256 chaining `state`
 * (8 u32 words, host order). No padding is applied: the caller passes whole blocks.
 */
export function sha256Compress(state: usize, blocks: usize, n: i32): void {
  let h0 = load<u32>(state, 0), h1 = load<u32>(state, 4), h2 = load<u32>(state, 8), h3 = load<u32>(state, 12);
  let h4 = load<u32>(state, 16), h5 = load<u32>(state, 20), h6 = load<u32>(state, 24), h7 = load<u32>(state, 28);
  for (let blk = 0; blk < n; blk++) {
    const p = blocks + (<usize>blk << 6);
    let w0 = bswap<u32>(load<u32>(p, 0)); let w1 = bswap<u32>(load<u32>(p, 4)); let w2 = bswap<u32>(load<u32>(p, 8)); let w3 = bswap<u32>(load<u32>(p, 12));
    let w4 = bswap<u32>(load<u32>(p, 16)); let w5 = bswap<u32>(load<u32>(p, 20)); let w6 = bswap<u32>(load<u32>(p, 24)); let w7 = bswap<u32>(load<u32>(p, 28));
    let w8 = bswap<u32>(load<u32>(p, 32)); let w9 = bswap<u32>(load<u32>(p, 36)); let w10 = bswap<u32>(load<u32>(p, 40)); let w11 = bswap<u32>(load<u32>(p, 44));
    let w12 = bswap<u32>(load<u32>(p, 48)); let w13 = bswap<u32>(load<u32>(p, 52)); let w14 = bswap<u32>(load<u32>(p, 56)); let w15 = bswap<u32>(load<u32>(p, 60));
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    let t1: u32, ab: u32, bc = b ^ c;
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x428a2f98 + w0; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x71374491 + w1; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0xb5c0fbcf + w2; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0xe9b5dba5 + w3; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x3956c25b + w4; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x59f111f1 + w5; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x923f82a4 + w6; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0xab1c5ed5 + w7; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0xd807aa98 + w8; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x12835b01 + w9; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x243185be + w10; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x550c7dc3 + w11; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x72be5d74 + w12; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x80deb1fe + w13; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x9bdc06a7 + w14; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0xc19bf174 + w15; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    // Rounds 16..63 extend the schedule in place: w[t%16] becomes W[t].
    w0 += sigma1(w14) + w9 + sigma0(w1);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0xe49b69c1 + w0; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w1 += sigma1(w15) + w10 + sigma0(w2);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0xefbe4786 + w1; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w2 += sigma1(w0) + w11 + sigma0(w3);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x0fc19dc6 + w2; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w3 += sigma1(w1) + w12 + sigma0(w4);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x240ca1cc + w3; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w4 += sigma1(w2) + w13 + sigma0(w5);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x2de92c6f + w4; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w5 += sigma1(w3) + w14 + sigma0(w6);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x4a7484aa + w5; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w6 += sigma1(w4) + w15 + sigma0(w7);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x5cb0a9dc + w6; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w7 += sigma1(w5) + w0 + sigma0(w8);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x76f988da + w7; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w8 += sigma1(w6) + w1 + sigma0(w9);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x983e5152 + w8; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w9 += sigma1(w7) + w2 + sigma0(w10);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0xa831c66d + w9; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w10 += sigma1(w8) + w3 + sigma0(w11);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0xb00327c8 + w10; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w11 += sigma1(w9) + w4 + sigma0(w12);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0xbf597fc7 + w11; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w12 += sigma1(w10) + w5 + sigma0(w13);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0xc6e00bf3 + w12; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w13 += sigma1(w11) + w6 + sigma0(w14);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0xd5a79147 + w13; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w14 += sigma1(w12) + w7 + sigma0(w15);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x06ca6351 + w14; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w15 += sigma1(w13) + w8 + sigma0(w0);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x14292967 + w15; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w0 += sigma1(w14) + w9 + sigma0(w1);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x27b70a85 + w0; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w1 += sigma1(w15) + w10 + sigma0(w2);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x2e1b2138 + w1; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w2 += sigma1(w0) + w11 + sigma0(w3);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x4d2c6dfc + w2; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w3 += sigma1(w1) + w12 + sigma0(w4);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x53380d13 + w3; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w4 += sigma1(w2) + w13 + sigma0(w5);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x650a7354 + w4; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w5 += sigma1(w3) + w14 + sigma0(w6);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x766a0abb + w5; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w6 += sigma1(w4) + w15 + sigma0(w7);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x81c2c92e + w6; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w7 += sigma1(w5) + w0 + sigma0(w8);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x92722c85 + w7; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w8 += sigma1(w6) + w1 + sigma0(w9);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0xa2bfe8a1 + w8; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w9 += sigma1(w7) + w2 + sigma0(w10);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0xa81a664b + w9; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w10 += sigma1(w8) + w3 + sigma0(w11);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0xc24b8b70 + w10; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w11 += sigma1(w9) + w4 + sigma0(w12);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0xc76c51a3 + w11; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w12 += sigma1(w10) + w5 + sigma0(w13);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0xd192e819 + w12; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w13 += sigma1(w11) + w6 + sigma0(w14);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0xd6990624 + w13; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w14 += sigma1(w12) + w7 + sigma0(w15);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0xf40e3585 + w14; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w15 += sigma1(w13) + w8 + sigma0(w0);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x106aa070 + w15; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w0 += sigma1(w14) + w9 + sigma0(w1);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x19a4c116 + w0; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w1 += sigma1(w15) + w10 + sigma0(w2);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x1e376c08 + w1; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w2 += sigma1(w0) + w11 + sigma0(w3);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x2748774c + w2; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w3 += sigma1(w1) + w12 + sigma0(w4);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x34b0bcb5 + w3; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w4 += sigma1(w2) + w13 + sigma0(w5);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x391c0cb3 + w4; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w5 += sigma1(w3) + w14 + sigma0(w6);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0x4ed8aa4a + w5; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w6 += sigma1(w4) + w15 + sigma0(w7);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0x5b9cca4f + w6; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w7 += sigma1(w5) + w0 + sigma0(w8);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0x682e6ff3 + w7; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    w8 += sigma1(w6) + w1 + sigma0(w9);
    t1 = h + bigSigma1(e) + ch(e, f, g) + 0x748f82ee + w8; d += t1;
    ab = a ^ b; h = t1 + bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
    w9 += sigma1(w7) + w2 + sigma0(w10);
    t1 = g + bigSigma1(d) + ch(d, e, f) + 0x78a5636f + w9; c += t1;
    ab = h ^ a; g = t1 + bigSigma0(h) + (a ^ (ab & bc)); bc = ab;
    w10 += sigma1(w8) + w3 + sigma0(w11);
    t1 = f + bigSigma1(c) + ch(c, d, e) + 0x84c87814 + w10; b += t1;
    ab = g ^ h; f = t1 + bigSigma0(g) + (h ^ (ab & bc)); bc = ab;
    w11 += sigma1(w9) + w4 + sigma0(w12);
    t1 = e + bigSigma1(b) + ch(b, c, d) + 0x8cc70208 + w11; a += t1;
    ab = f ^ g; e = t1 + bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
    w12 += sigma1(w10) + w5 + sigma0(w13);
    t1 = d + bigSigma1(a) + ch(a, b, c) + 0x90befffa + w12; h += t1;
    ab = e ^ f; d = t1 + bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
    w13 += sigma1(w11) + w6 + sigma0(w14);
    t1 = c + bigSigma1(h) + ch(h, a, b) + 0xa4506ceb + w13; g += t1;
    ab = d ^ e; c = t1 + bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
    w14 += sigma1(w12) + w7 + sigma0(w15);
    t1 = b + bigSigma1(g) + ch(g, h, a) + 0xbef9a3f7 + w14; f += t1;
    ab = c ^ d; b = t1 + bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
    w15 += sigma1(w13) + w8 + sigma0(w0);
    t1 = a + bigSigma1(f) + ch(f, g, h) + 0xc67178f2 + w15; e += t1;
    ab = b ^ c; a = t1 + bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    h0 += a; h1 += b; h2 += c; h3 += d; h4 += e; h5 += f; h6 += g; h7 += h;
  }
  store<u32>(state, h0, 0); store<u32>(state, h1, 4); store<u32>(state, h2, 8); store<u32>(state, h3, 12);
  store<u32>(state, h4, 16); store<u32>(state, h5, 20); store<u32>(state, h6, 24); store<u32>(state, h7, 28);
}

// ---- Four independent SHA-256 compressions at once (v128 lanes), for 4 packets of a batch ----
// Same constant-time argument: lane-wise adds, XORs, bitselects and fixed shifts only.
// Written out like the scalar rounds (schedule window in 16 v128 locals, K as splatted
// immediates): 385 -> 310 ns per four blocks against an 8-round loop over a memory schedule.
// ch(e,f,g) = bitselect(f, g, e) and maj(a,b,c) = bitselect(b, a, a ^ c).

/** Bytes of a 4-lane state: word j of lanes 0..3 at offset 16*j (8 v128, host order). */
export const SHA256_STATE4_BYTES: i32 = 128;

/** The four blocks' first 16 words, byte-swapped and transposed (word t of lanes 0..3 at 16*t). */
const SCHEDULE4: usize = memory.data(256, 16);

// @ts-ignore: decorator
@inline function rotr4(x: v128, n: i32): v128 { return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n)); }
// @ts-ignore: decorator
@inline function bigSigma0x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 2), rotr4(x, 13)), rotr4(x, 22)); }
// @ts-ignore: decorator
@inline function bigSigma1x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 6), rotr4(x, 11)), rotr4(x, 25)); }
// @ts-ignore: decorator
@inline function sigma0x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 7), rotr4(x, 18)), i32x4.shr_u(x, 3)); }
// @ts-ignore: decorator
@inline function sigma1x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 17), rotr4(x, 19)), i32x4.shr_u(x, 10)); }
// @ts-ignore: decorator
@inline function bswapWords(x: v128): v128 { return i8x16.shuffle(x, x, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12); }

/** Loads 16 bytes of each lane's block, byte-swaps the words and stores them transposed at `w`. */
// @ts-ignore: decorator
@inline function gatherWords4(w: usize, p0: usize, p1: usize, p2: usize, p3: usize, off: usize): void {
  const r0 = bswapWords(v128.load(p0 + off)), r1 = bswapWords(v128.load(p1 + off));
  const r2 = bswapWords(v128.load(p2 + off)), r3 = bswapWords(v128.load(p3 + off));
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5), t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(w, i32x4.shuffle(t0, t2, 0, 1, 4, 5), 0);
  v128.store(w, i32x4.shuffle(t0, t2, 2, 3, 6, 7), 16);
  v128.store(w, i32x4.shuffle(t1, t3, 0, 1, 4, 5), 32);
  v128.store(w, i32x4.shuffle(t1, t3, 2, 3, 6, 7), 48);
}

/**
 * Compresses one 64-byte block per lane (`p0`..`p3`) into the 4-lane `state4`
 * (SHA256_STATE4_BYTES: word j of lanes 0..3 at offset 16*j, host order). Lane i is exactly
 * sha256Compress(state_i, p_i, 1).
 */
export function sha256Compress4x(state4: usize, p0: usize, p1: usize, p2: usize, p3: usize): void {
  const w = SCHEDULE4;
  for (let off: usize = 0; off < 64; off += 16) gatherWords4(w + (off << 2), p0, p1, p2, p3, off);
  let a = v128.load(state4, 0), b = v128.load(state4, 16), c = v128.load(state4, 32), d = v128.load(state4, 48);
  let e = v128.load(state4, 64), f = v128.load(state4, 80), g = v128.load(state4, 96), h = v128.load(state4, 112);
  let t1: v128;
  let w0 = v128.load(w, 0); let w1 = v128.load(w, 16); let w2 = v128.load(w, 32); let w3 = v128.load(w, 48);
  let w4 = v128.load(w, 64); let w5 = v128.load(w, 80); let w6 = v128.load(w, 96); let w7 = v128.load(w, 112);
  let w8 = v128.load(w, 128); let w9 = v128.load(w, 144); let w10 = v128.load(w, 160); let w11 = v128.load(w, 176);
  let w12 = v128.load(w, 192); let w13 = v128.load(w, 208); let w14 = v128.load(w, 224); let w15 = v128.load(w, 240);
  t1 = i32x4.add(i32x4.add(h, bigSigma1x4(e)), i32x4.add(v128.bitselect(f, g, e), i32x4.add(w0, i32x4.splat(0x428a2f98))));
  d = i32x4.add(d, t1); h = i32x4.add(i32x4.add(t1, bigSigma0x4(a)), v128.bitselect(b, a, v128.xor(a, c)));
  t1 = i32x4.add(i32x4.add(g, bigSigma1x4(d)), i32x4.add(v128.bitselect(e, f, d), i32x4.add(w1, i32x4.splat(0x71374491))));
  c = i32x4.add(c, t1); g = i32x4.add(i32x4.add(t1, bigSigma0x4(h)), v128.bitselect(a, h, v128.xor(h, b)));
  t1 = i32x4.add(i32x4.add(f, bigSigma1x4(c)), i32x4.add(v128.bitselect(d, e, c), i32x4.add(w2, i32x4.splat(0xb5c0fbcf))));
  b = i32x4.add(b, t1); f = i32x4.add(i32x4.add(t1, bigSigma0x4(g)), v128.bitselect(h, g, v128.xor(g, a)));
  t1 = i32x4.add(i32x4.add(e, bigSigma1x4(b)), i32x4.add(v128.bitselect(c, d, b), i32x4.add(w3, i32x4.splat(0xe9b5dba5))));
  a = i32x4.add(a, t1); e = i32x4.add(i32x4.add(t1, bigSigma0x4(f)), v128.bitselect(g, f, v128.xor(f, h)));
  t1 = i32x4.add(i32x4.add(d, bigSigma1x4(a)), i32x4.add(v128.bitselect(b, c, a), i32x4.add(w4, i32x4.splat(0x3956c25b))));
  h = i32x4.add(h, t1); d = i32x4.add(i32x4.add(t1, bigSigma0x4(e)), v128.bitselect(f, e, v128.xor(e, g)));
  t1 = i32x4.add(i32x4.add(c, bigSigma1x4(h)), i32x4.add(v128.bitselect(a, b, h), i32x4.add(w5, i32x4.splat(0x59f111f1))));
  g = i32x4.add(g, t1); c = i32x4.add(i32x4.add(t1, bigSigma0x4(d)), v128.bitselect(e, d, v128.xor(d, f)));
  t1 = i32x4.add(i32x4.add(b, bigSigma1x4(g)), i32x4.add(v128.bitselect(h, a, g), i32x4.add(w6, i32x4.splat(0x923f82a4))));
  f = i32x4.add(f, t1); b = i32x4.add(i32x4.add(t1, bigSigma0x4(c)), v128.bitselect(d, c, v128.xor(c, e)));
  t1 = i32x4.add(i32x4.add(a, bigSigma1x4(f)), i32x4.add(v128.bitselect(g, h, f), i32x4.add(w7, i32x4.splat(0xab1c5ed5))));
  e = i32x4.add(e, t1); a = i32x4.add(i32x4.add(t1, bigSigma0x4(b)), v128.bitselect(c, b, v128.xor(b, d)));
  t1 = i32x4.add(i32x4.add(h, bigSigma1x4(e)), i32x4.add(v128.bitselect(f, g, e), i32x4.add(w8, i32x4.splat(0xd807aa98))));
  d = i32x4.add(d, t1); h = i32x4.add(i32x4.add(t1, bigSigma0x4(a)), v128.bitselect(b, a, v128.xor(a, c)));
  t1 = i32x4.add(i32x4.add(g, bigSigma1x4(d)), i32x4.add(v128.bitselect(e, f, d), i32x4.add(w9, i32x4.splat(0x12835b01))));
  c = i32x4.add(c, t1); g = i32x4.add(i32x4.add(t1, bigSigma0x4(h)), v128.bitselect(a, h, v128.xor(h, b)));
  t1 = i32x4.add(i32x4.add(f, bigSigma1x4(c)), i32x4.add(v128.bitselect(d, e, c), i32x4.add(w10, i32x4.splat(0x243185be))));
  b = i32x4.add(b, t1); f = i32x4.add(i32x4.add(t1, bigSigma0x4(g)), v128.bitselect(h, g, v128.xor(g, a)));
  t1 = i32x4.add(i32x4.add(e, bigSigma1x4(b)), i32x4.add(v128.bitselect(c, d, b), i32x4.add(w11, i32x4.splat(0x550c7dc3))));
  a = i32x4.add(a, t1); e = i32x4.add(i32x4.add(t1, bigSigma0x4(f)), v128.bitselect(g, f, v128.xor(f, h)));
  t1 = i32x4.add(i32x4.add(d, bigSigma1x4(a)), i32x4.add(v128.bitselect(b, c, a), i32x4.add(w12, i32x4.splat(0x72be5d74))));
  h = i32x4.add(h, t1); d = i32x4.add(i32x4.add(t1, bigSigma0x4(e)), v128.bitselect(f, e, v128.xor(e, g)));
  t1 = i32x4.add(i32x4.add(c, bigSigma1x4(h)), i32x4.add(v128.bitselect(a, b, h), i32x4.add(w13, i32x4.splat(0x80deb1fe))));
  g = i32x4.add(g, t1); c = i32x4.add(i32x4.add(t1, bigSigma0x4(d)), v128.bitselect(e, d, v128.xor(d, f)));
  t1 = i32x4.add(i32x4.add(b, bigSigma1x4(g)), i32x4.add(v128.bitselect(h, a, g), i32x4.add(w14, i32x4.splat(0x9bdc06a7))));
  f = i32x4.add(f, t1); b = i32x4.add(i32x4.add(t1, bigSigma0x4(c)), v128.bitselect(d, c, v128.xor(c, e)));
  t1 = i32x4.add(i32x4.add(a, bigSigma1x4(f)), i32x4.add(v128.bitselect(g, h, f), i32x4.add(w15, i32x4.splat(0xc19bf174))));
  e = i32x4.add(e, t1); a = i32x4.add(i32x4.add(t1, bigSigma0x4(b)), v128.bitselect(c, b, v128.xor(b, d)));
  w0 = i32x4.add(i32x4.add(sigma1x4(w14), w9), i32x4.add(sigma0x4(w1), w0));
  t1 = i32x4.add(i32x4.add(h, bigSigma1x4(e)), i32x4.add(v128.bitselect(f, g, e), i32x4.add(w0, i32x4.splat(0xe49b69c1))));
  d = i32x4.add(d, t1); h = i32x4.add(i32x4.add(t1, bigSigma0x4(a)), v128.bitselect(b, a, v128.xor(a, c)));
  w1 = i32x4.add(i32x4.add(sigma1x4(w15), w10), i32x4.add(sigma0x4(w2), w1));
  t1 = i32x4.add(i32x4.add(g, bigSigma1x4(d)), i32x4.add(v128.bitselect(e, f, d), i32x4.add(w1, i32x4.splat(0xefbe4786))));
  c = i32x4.add(c, t1); g = i32x4.add(i32x4.add(t1, bigSigma0x4(h)), v128.bitselect(a, h, v128.xor(h, b)));
  w2 = i32x4.add(i32x4.add(sigma1x4(w0), w11), i32x4.add(sigma0x4(w3), w2));
  t1 = i32x4.add(i32x4.add(f, bigSigma1x4(c)), i32x4.add(v128.bitselect(d, e, c), i32x4.add(w2, i32x4.splat(0x0fc19dc6))));
  b = i32x4.add(b, t1); f = i32x4.add(i32x4.add(t1, bigSigma0x4(g)), v128.bitselect(h, g, v128.xor(g, a)));
  w3 = i32x4.add(i32x4.add(sigma1x4(w1), w12), i32x4.add(sigma0x4(w4), w3));
  t1 = i32x4.add(i32x4.add(e, bigSigma1x4(b)), i32x4.add(v128.bitselect(c, d, b), i32x4.add(w3, i32x4.splat(0x240ca1cc))));
  a = i32x4.add(a, t1); e = i32x4.add(i32x4.add(t1, bigSigma0x4(f)), v128.bitselect(g, f, v128.xor(f, h)));
  w4 = i32x4.add(i32x4.add(sigma1x4(w2), w13), i32x4.add(sigma0x4(w5), w4));
  t1 = i32x4.add(i32x4.add(d, bigSigma1x4(a)), i32x4.add(v128.bitselect(b, c, a), i32x4.add(w4, i32x4.splat(0x2de92c6f))));
  h = i32x4.add(h, t1); d = i32x4.add(i32x4.add(t1, bigSigma0x4(e)), v128.bitselect(f, e, v128.xor(e, g)));
  w5 = i32x4.add(i32x4.add(sigma1x4(w3), w14), i32x4.add(sigma0x4(w6), w5));
  t1 = i32x4.add(i32x4.add(c, bigSigma1x4(h)), i32x4.add(v128.bitselect(a, b, h), i32x4.add(w5, i32x4.splat(0x4a7484aa))));
  g = i32x4.add(g, t1); c = i32x4.add(i32x4.add(t1, bigSigma0x4(d)), v128.bitselect(e, d, v128.xor(d, f)));
  w6 = i32x4.add(i32x4.add(sigma1x4(w4), w15), i32x4.add(sigma0x4(w7), w6));
  t1 = i32x4.add(i32x4.add(b, bigSigma1x4(g)), i32x4.add(v128.bitselect(h, a, g), i32x4.add(w6, i32x4.splat(0x5cb0a9dc))));
  f = i32x4.add(f, t1); b = i32x4.add(i32x4.add(t1, bigSigma0x4(c)), v128.bitselect(d, c, v128.xor(c, e)));
  w7 = i32x4.add(i32x4.add(sigma1x4(w5), w0), i32x4.add(sigma0x4(w8), w7));
  t1 = i32x4.add(i32x4.add(a, bigSigma1x4(f)), i32x4.add(v128.bitselect(g, h, f), i32x4.add(w7, i32x4.splat(0x76f988da))));
  e = i32x4.add(e, t1); a = i32x4.add(i32x4.add(t1, bigSigma0x4(b)), v128.bitselect(c, b, v128.xor(b, d)));
  w8 = i32x4.add(i32x4.add(sigma1x4(w6), w1), i32x4.add(sigma0x4(w9), w8));
  t1 = i32x4.add(i32x4.add(h, bigSigma1x4(e)), i32x4.add(v128.bitselect(f, g, e), i32x4.add(w8, i32x4.splat(0x983e5152))));
  d = i32x4.add(d, t1); h = i32x4.add(i32x4.add(t1, bigSigma0x4(a)), v128.bitselect(b, a, v128.xor(a, c)));
  w9 = i32x4.add(i32x4.add(sigma1x4(w7), w2), i32x4.add(sigma0x4(w10), w9));
  t1 = i32x4.add(i32x4.add(g, bigSigma1x4(d)), i32x4.add(v128.bitselect(e, f, d), i32x4.add(w9, i32x4.splat(0xa831c66d))));
  c = i32x4.add(c, t1); g = i32x4.add(i32x4.add(t1, bigSigma0x4(h)), v128.bitselect(a, h, v128.xor(h, b)));
  w10 = i32x4.add(i32x4.add(sigma1x4(w8), w3), i32x4.add(sigma0x4(w11), w10));
  t1 = i32x4.add(i32x4.add(f, bigSigma1x4(c)), i32x4.add(v128.bitselect(d, e, c), i32x4.add(w10, i32x4.splat(0xb00327c8))));
  b = i32x4.add(b, t1); f = i32x4.add(i32x4.add(t1, bigSigma0x4(g)), v128.bitselect(h, g, v128.xor(g, a)));
  w11 = i32x4.add(i32x4.add(sigma1x4(w9), w4), i32x4.add(sigma0x4(w12), w11));
  t1 = i32x4.add(i32x4.add(e, bigSigma1x4(b)), i32x4.add(v128.bitselect(c, d, b), i32x4.add(w11, i32x4.splat(0xbf597fc7))));
  a = i32x4.add(a, t1); e = i32x4.add(i32x4.add(t1, bigSigma0x4(f)), v128.bitselect(g, f, v128.xor(f, h)));
  w12 = i32x4.add(i32x4.add(sigma1x4(w10), w5), i32x4.add(sigma0x4(w13), w12));
  t1 = i32x4.add(i32x4.add(d, bigSigma1x4(a)), i32x4.add(v128.bitselect(b, c, a), i32x4.add(w12, i32x4.splat(0xc6e00bf3))));
  h = i32x4.add(h, t1); d = i32x4.add(i32x4.add(t1, bigSigma0x4(e)), v128.bitselect(f, e, v128.xor(e, g)));
  w13 = i32x4.add(i32x4.add(sigma1x4(w11), w6), i32x4.add(sigma0x4(w14), w13));
  t1 = i32x4.add(i32x4.add(c, bigSigma1x4(h)), i32x4.add(v128.bitselect(a, b, h), i32x4.add(w13, i32x4.splat(0xd5a79147))));
  g = i32x4.add(g, t1); c = i32x4.add(i32x4.add(t1, bigSigma0x4(d)), v128.bitselect(e, d, v128.xor(d, f)));
  w14 = i32x4.add(i32x4.add(sigma1x4(w12), w7), i32x4.add(sigma0x4(w15), w14));
  t1 = i32x4.add(i32x4.add(b, bigSigma1x4(g)), i32x4.add(v128.bitselect(h, a, g), i32x4.add(w14, i32x4.splat(0x06ca6351))));
  f = i32x4.add(f, t1); b = i32x4.add(i32x4.add(t1, bigSigma0x4(c)), v128.bitselect(d, c, v128.xor(c, e)));
  w15 = i32x4.add(i32x4.add(sigma1x4(w13), w8), i32x4.add(sigma0x4(w0), w15));
  t1 = i32x4.add(i32x4.add(a, bigSigma1x4(f)), i32x4.add(v128.bitselect(g, h, f), i32x4.add(w15, i32x4.splat(0x14292967))));
  e = i32x4.add(e, t1); a = i32x4.add(i32x4.add(t1, bigSigma0x4(b)), v128.bitselect(c, b, v128.xor(b, d)));
  w0 = i32x4.add(i32x4.add(sigma1x4(w14), w9), i32x4.add(sigma0x4(w1), w0));
  t1 = i32x4.add(i32x4.add(h, bigSigma1x4(e)), i32x4.add(v128.bitselect(f, g, e), i32x4.add(w0, i32x4.splat(0x27b70a85))));
  d = i32x4.add(d, t1); h = i32x4.add(i32x4.add(t1, bigSigma0x4(a)), v128.bitselect(b, a, v128.xor(a, c)));
  w1 = i32x4.add(i32x4.add(sigma1x4(w15), w10), i32x4.add(sigma0x4(w2), w1));
  t1 = i32x4.add(i32x4.add(g, bigSigma1x4(d)), i32x4.add(v128.bitselect(e, f, d), i32x4.add(w1, i32x4.splat(0x2e1b2138))));
  c = i32x4.add(c, t1); g = i32x4.add(i32x4.add(t1, bigSigma0x4(h)), v128.bitselect(a, h, v128.xor(h, b)));
  w2 = i32x4.add(i32x4.add(sigma1x4(w0), w11), i32x4.add(sigma0x4(w3), w2));
  t1 = i32x4.add(i32x4.add(f, bigSigma1x4(c)), i32x4.add(v128.bitselect(d, e, c), i32x4.add(w2, i32x4.splat(0x4d2c6dfc))));
  b = i32x4.add(b, t1); f = i32x4.add(i32x4.add(t1, bigSigma0x4(g)), v128.bitselect(h, g, v128.xor(g, a)));
  w3 = i32x4.add(i32x4.add(sigma1x4(w1), w12), i32x4.add(sigma0x4(w4), w3));
  t1 = i32x4.add(i32x4.add(e, bigSigma1x4(b)), i32x4.add(v128.bitselect(c, d, b), i32x4.add(w3, i32x4.splat(0x53380d13))));
  a = i32x4.add(a, t1); e = i32x4.add(i32x4.add(t1, bigSigma0x4(f)), v128.bitselect(g, f, v128.xor(f, h)));
  w4 = i32x4.add(i32x4.add(sigma1x4(w2), w13), i32x4.add(sigma0x4(w5), w4));
  t1 = i32x4.add(i32x4.add(d, bigSigma1x4(a)), i32x4.add(v128.bitselect(b, c, a), i32x4.add(w4, i32x4.splat(0x650a7354))));
  h = i32x4.add(h, t1); d = i32x4.add(i32x4.add(t1, bigSigma0x4(e)), v128.bitselect(f, e, v128.xor(e, g)));
  w5 = i32x4.add(i32x4.add(sigma1x4(w3), w14), i32x4.add(sigma0x4(w6), w5));
  t1 = i32x4.add(i32x4.add(c, bigSigma1x4(h)), i32x4.add(v128.bitselect(a, b, h), i32x4.add(w5, i32x4.splat(0x766a0abb))));
  g = i32x4.add(g, t1); c = i32x4.add(i32x4.add(t1, bigSigma0x4(d)), v128.bitselect(e, d, v128.xor(d, f)));
  w6 = i32x4.add(i32x4.add(sigma1x4(w4), w15), i32x4.add(sigma0x4(w7), w6));
  t1 = i32x4.add(i32x4.add(b, bigSigma1x4(g)), i32x4.add(v128.bitselect(h, a, g), i32x4.add(w6, i32x4.splat(0x81c2c92e))));
  f = i32x4.add(f, t1); b = i32x4.add(i32x4.add(t1, bigSigma0x4(c)), v128.bitselect(d, c, v128.xor(c, e)));
  w7 = i32x4.add(i32x4.add(sigma1x4(w5), w0), i32x4.add(sigma0x4(w8), w7));
  t1 = i32x4.add(i32x4.add(a, bigSigma1x4(f)), i32x4.add(v128.bitselect(g, h, f), i32x4.add(w7, i32x4.splat(0x92722c85))));
  e = i32x4.add(e, t1); a = i32x4.add(i32x4.add(t1, bigSigma0x4(b)), v128.bitselect(c, b, v128.xor(b, d)));
  w8 = i32x4.add(i32x4.add(sigma1x4(w6), w1), i32x4.add(sigma0x4(w9), w8));
  t1 = i32x4.add(i32x4.add(h, bigSigma1x4(e)), i32x4.add(v128.bitselect(f, g, e), i32x4.add(w8, i32x4.splat(0xa2bfe8a1))));
  d = i32x4.add(d, t1); h = i32x4.add(i32x4.add(t1, bigSigma0x4(a)), v128.bitselect(b, a, v128.xor(a, c)));
  w9 = i32x4.add(i32x4.add(sigma1x4(w7), w2), i32x4.add(sigma0x4(w10), w9));
  t1 = i32x4.add(i32x4.add(g, bigSigma1x4(d)), i32x4.add(v128.bitselect(e, f, d), i32x4.add(w9, i32x4.splat(0xa81a664b))));
  c = i32x4.add(c, t1); g = i32x4.add(i32x4.add(t1, bigSigma0x4(h)), v128.bitselect(a, h, v128.xor(h, b)));
  w10 = i32x4.add(i32x4.add(sigma1x4(w8), w3), i32x4.add(sigma0x4(w11), w10));
  t1 = i32x4.add(i32x4.add(f, bigSigma1x4(c)), i32x4.add(v128.bitselect(d, e, c), i32x4.add(w10, i32x4.splat(0xc24b8b70))));
  b = i32x4.add(b, t1); f = i32x4.add(i32x4.add(t1, bigSigma0x4(g)), v128.bitselect(h, g, v128.xor(g, a)));
  w11 = i32x4.add(i32x4.add(sigma1x4(w9), w4), i32x4.add(sigma0x4(w12), w11));
  t1 = i32x4.add(i32x4.add(e, bigSigma1x4(b)), i32x4.add(v128.bitselect(c, d, b), i32x4.add(w11, i32x4.splat(0xc76c51a3))));
  a = i32x4.add(a, t1); e = i32x4.add(i32x4.add(t1, bigSigma0x4(f)), v128.bitselect(g, f, v128.xor(f, h)));
  w12 = i32x4.add(i32x4.add(sigma1x4(w10), w5), i32x4.add(sigma0x4(w13), w12));
  t1 = i32x4.add(i32x4.add(d, bigSigma1x4(a)), i32x4.add(v128.bitselect(b, c, a), i32x4.add(w12, i32x4.splat(0xd192e819))));
  h = i32x4.add(h, t1); d = i32x4.add(i32x4.add(t1, bigSigma0x4(e)), v128.bitselect(f, e, v128.xor(e, g)));
  w13 = i32x4.add(i32x4.add(sigma1x4(w11), w6), i32x4.add(sigma0x4(w14), w13));
  t1 = i32x4.add(i32x4.add(c, bigSigma1x4(h)), i32x4.add(v128.bitselect(a, b, h), i32x4.add(w13, i32x4.splat(0xd6990624))));
  g = i32x4.add(g, t1); c = i32x4.add(i32x4.add(t1, bigSigma0x4(d)), v128.bitselect(e, d, v128.xor(d, f)));
  w14 = i32x4.add(i32x4.add(sigma1x4(w12), w7), i32x4.add(sigma0x4(w15), w14));
  t1 = i32x4.add(i32x4.add(b, bigSigma1x4(g)), i32x4.add(v128.bitselect(h, a, g), i32x4.add(w14, i32x4.splat(0xf40e3585))));
  f = i32x4.add(f, t1); b = i32x4.add(i32x4.add(t1, bigSigma0x4(c)), v128.bitselect(d, c, v128.xor(c, e)));
  w15 = i32x4.add(i32x4.add(sigma1x4(w13), w8), i32x4.add(sigma0x4(w0), w15));
  t1 = i32x4.add(i32x4.add(a, bigSigma1x4(f)), i32x4.add(v128.bitselect(g, h, f), i32x4.add(w15, i32x4.splat(0x106aa070))));
  e = i32x4.add(e, t1); a = i32x4.add(i32x4.add(t1, bigSigma0x4(b)), v128.bitselect(c, b, v128.xor(b, d)));
  w0 = i32x4.add(i32x4.add(sigma1x4(w14), w9), i32x4.add(sigma0x4(w1), w0));
  t1 = i32x4.add(i32x4.add(h, bigSigma1x4(e)), i32x4.add(v128.bitselect(f, g, e), i32x4.add(w0, i32x4.splat(0x19a4c116))));
  d = i32x4.add(d, t1); h = i32x4.add(i32x4.add(t1, bigSigma0x4(a)), v128.bitselect(b, a, v128.xor(a, c)));
  w1 = i32x4.add(i32x4.add(sigma1x4(w15), w10), i32x4.add(sigma0x4(w2), w1));
  t1 = i32x4.add(i32x4.add(g, bigSigma1x4(d)), i32x4.add(v128.bitselect(e, f, d), i32x4.add(w1, i32x4.splat(0x1e376c08))));
  c = i32x4.add(c, t1); g = i32x4.add(i32x4.add(t1, bigSigma0x4(h)), v128.bitselect(a, h, v128.xor(h, b)));
  w2 = i32x4.add(i32x4.add(sigma1x4(w0), w11), i32x4.add(sigma0x4(w3), w2));
  t1 = i32x4.add(i32x4.add(f, bigSigma1x4(c)), i32x4.add(v128.bitselect(d, e, c), i32x4.add(w2, i32x4.splat(0x2748774c))));
  b = i32x4.add(b, t1); f = i32x4.add(i32x4.add(t1, bigSigma0x4(g)), v128.bitselect(h, g, v128.xor(g, a)));
  w3 = i32x4.add(i32x4.add(sigma1x4(w1), w12), i32x4.add(sigma0x4(w4), w3));
  t1 = i32x4.add(i32x4.add(e, bigSigma1x4(b)), i32x4.add(v128.bitselect(c, d, b), i32x4.add(w3, i32x4.splat(0x34b0bcb5))));
  a = i32x4.add(a, t1); e = i32x4.add(i32x4.add(t1, bigSigma0x4(f)), v128.bitselect(g, f, v128.xor(f, h)));
  w4 = i32x4.add(i32x4.add(sigma1x4(w2), w13), i32x4.add(sigma0x4(w5), w4));
  t1 = i32x4.add(i32x4.add(d, bigSigma1x4(a)), i32x4.add(v128.bitselect(b, c, a), i32x4.add(w4, i32x4.splat(0x391c0cb3))));
  h = i32x4.add(h, t1); d = i32x4.add(i32x4.add(t1, bigSigma0x4(e)), v128.bitselect(f, e, v128.xor(e, g)));
  w5 = i32x4.add(i32x4.add(sigma1x4(w3), w14), i32x4.add(sigma0x4(w6), w5));
  t1 = i32x4.add(i32x4.add(c, bigSigma1x4(h)), i32x4.add(v128.bitselect(a, b, h), i32x4.add(w5, i32x4.splat(0x4ed8aa4a))));
  g = i32x4.add(g, t1); c = i32x4.add(i32x4.add(t1, bigSigma0x4(d)), v128.bitselect(e, d, v128.xor(d, f)));
  w6 = i32x4.add(i32x4.add(sigma1x4(w4), w15), i32x4.add(sigma0x4(w7), w6));
  t1 = i32x4.add(i32x4.add(b, bigSigma1x4(g)), i32x4.add(v128.bitselect(h, a, g), i32x4.add(w6, i32x4.splat(0x5b9cca4f))));
  f = i32x4.add(f, t1); b = i32x4.add(i32x4.add(t1, bigSigma0x4(c)), v128.bitselect(d, c, v128.xor(c, e)));
  w7 = i32x4.add(i32x4.add(sigma1x4(w5), w0), i32x4.add(sigma0x4(w8), w7));
  t1 = i32x4.add(i32x4.add(a, bigSigma1x4(f)), i32x4.add(v128.bitselect(g, h, f), i32x4.add(w7, i32x4.splat(0x682e6ff3))));
  e = i32x4.add(e, t1); a = i32x4.add(i32x4.add(t1, bigSigma0x4(b)), v128.bitselect(c, b, v128.xor(b, d)));
  w8 = i32x4.add(i32x4.add(sigma1x4(w6), w1), i32x4.add(sigma0x4(w9), w8));
  t1 = i32x4.add(i32x4.add(h, bigSigma1x4(e)), i32x4.add(v128.bitselect(f, g, e), i32x4.add(w8, i32x4.splat(0x748f82ee))));
  d = i32x4.add(d, t1); h = i32x4.add(i32x4.add(t1, bigSigma0x4(a)), v128.bitselect(b, a, v128.xor(a, c)));
  w9 = i32x4.add(i32x4.add(sigma1x4(w7), w2), i32x4.add(sigma0x4(w10), w9));
  t1 = i32x4.add(i32x4.add(g, bigSigma1x4(d)), i32x4.add(v128.bitselect(e, f, d), i32x4.add(w9, i32x4.splat(0x78a5636f))));
  c = i32x4.add(c, t1); g = i32x4.add(i32x4.add(t1, bigSigma0x4(h)), v128.bitselect(a, h, v128.xor(h, b)));
  w10 = i32x4.add(i32x4.add(sigma1x4(w8), w3), i32x4.add(sigma0x4(w11), w10));
  t1 = i32x4.add(i32x4.add(f, bigSigma1x4(c)), i32x4.add(v128.bitselect(d, e, c), i32x4.add(w10, i32x4.splat(0x84c87814))));
  b = i32x4.add(b, t1); f = i32x4.add(i32x4.add(t1, bigSigma0x4(g)), v128.bitselect(h, g, v128.xor(g, a)));
  w11 = i32x4.add(i32x4.add(sigma1x4(w9), w4), i32x4.add(sigma0x4(w12), w11));
  t1 = i32x4.add(i32x4.add(e, bigSigma1x4(b)), i32x4.add(v128.bitselect(c, d, b), i32x4.add(w11, i32x4.splat(0x8cc70208))));
  a = i32x4.add(a, t1); e = i32x4.add(i32x4.add(t1, bigSigma0x4(f)), v128.bitselect(g, f, v128.xor(f, h)));
  w12 = i32x4.add(i32x4.add(sigma1x4(w10), w5), i32x4.add(sigma0x4(w13), w12));
  t1 = i32x4.add(i32x4.add(d, bigSigma1x4(a)), i32x4.add(v128.bitselect(b, c, a), i32x4.add(w12, i32x4.splat(0x90befffa))));
  h = i32x4.add(h, t1); d = i32x4.add(i32x4.add(t1, bigSigma0x4(e)), v128.bitselect(f, e, v128.xor(e, g)));
  w13 = i32x4.add(i32x4.add(sigma1x4(w11), w6), i32x4.add(sigma0x4(w14), w13));
  t1 = i32x4.add(i32x4.add(c, bigSigma1x4(h)), i32x4.add(v128.bitselect(a, b, h), i32x4.add(w13, i32x4.splat(0xa4506ceb))));
  g = i32x4.add(g, t1); c = i32x4.add(i32x4.add(t1, bigSigma0x4(d)), v128.bitselect(e, d, v128.xor(d, f)));
  w14 = i32x4.add(i32x4.add(sigma1x4(w12), w7), i32x4.add(sigma0x4(w15), w14));
  t1 = i32x4.add(i32x4.add(b, bigSigma1x4(g)), i32x4.add(v128.bitselect(h, a, g), i32x4.add(w14, i32x4.splat(0xbef9a3f7))));
  f = i32x4.add(f, t1); b = i32x4.add(i32x4.add(t1, bigSigma0x4(c)), v128.bitselect(d, c, v128.xor(c, e)));
  w15 = i32x4.add(i32x4.add(sigma1x4(w13), w8), i32x4.add(sigma0x4(w0), w15));
  t1 = i32x4.add(i32x4.add(a, bigSigma1x4(f)), i32x4.add(v128.bitselect(g, h, f), i32x4.add(w15, i32x4.splat(0xc67178f2))));
  e = i32x4.add(e, t1); a = i32x4.add(i32x4.add(t1, bigSigma0x4(b)), v128.bitselect(c, b, v128.xor(b, d)));
  v128.store(state4, i32x4.add(v128.load(state4, 0), a), 0);
  v128.store(state4, i32x4.add(v128.load(state4, 16), b), 16);
  v128.store(state4, i32x4.add(v128.load(state4, 32), c), 32);
  v128.store(state4, i32x4.add(v128.load(state4, 48), d), 48);
  v128.store(state4, i32x4.add(v128.load(state4, 64), e), 64);
  v128.store(state4, i32x4.add(v128.load(state4, 80), f), 80);
  v128.store(state4, i32x4.add(v128.load(state4, 96), g), 96);
  v128.store(state4, i32x4.add(v128.load(state4, 112), h), 112);
}
