// Bitsliced AES core: 8 blocks at once in 8 v128 bit-planes (Käsper–Schwabe layout).
//
// Constant time: every block is turned into bit-planes, and from then on the cipher is
// only AND/XOR/shift/fixed-permutation on whole v128 values: the S-box is the Boyar–Peralta
// gate circuit, ShiftRows and MixColumns are byte permutations with fixed indices (swizzle
// with a constant index vector, 16/32-bit lane rotations), round keys are added with XOR.
// No memory address and no branch depends on key or data; the only branches are on the
// round counter, the direction and the public output length.
//
// Layout: plane q_j holds bit j of every state byte; byte i of a plane is AES state byte i
// (column-major, i = 4*column + row), and bit k of that byte belongs to block k.
// Round keys are stored the same way, each key bit spread to a whole byte (0x00/0xFF).
//
// The S-box circuit here has no NOT gates: its output is S(x) ^ 0x63. A state made of
// one constant byte goes unchanged through ShiftRows, MixColumns and InvMixColumns, so
// the missing 0x63 is added to round keys 1..Nr instead (see aes.ts). Decryption runs
// the same circuit inside the inverse affine map: InvS(x) = B(S'(B(x ^ 0x63))), where
// S' = S ^ 0x63 and B = inverse of the affine map; the 0x63 on the input comes from the
// same adjusted round keys.

@inline function xor(a: v128, b: v128): v128 { return v128.xor(a, b); }
@inline function and(a: v128, b: v128): v128 { return v128.and(a, b); }

// ShiftRows (byte at row r, column c takes the byte of column c + r) and its inverse, as
// swizzle index vectors. They are loaded once per call and kept in registers: V8 rebuilds
// the index vector of a constant i8x16.shuffle from immediates at every use.
const SHIFT_ROWS: usize = memory.data<u8>([0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11]);
const INV_SHIFT_ROWS: usize = memory.data<u8>([0, 13, 10, 7, 4, 1, 14, 11, 8, 5, 2, 15, 12, 9, 6, 3]);
/** Row r of each column takes row r + 1 (mod 4): a 32-bit rotation, cheaper than a
 *  byte shuffle whose index vector V8 rebuilds at every use. */
@inline function rot1(x: v128): v128 {
  return v128.or(i32x4.shr_u(x, 8), i32x4.shl(x, 24));
}
/** Row r of each column takes row r + 2 (mod 4). */
@inline function rot2(x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}

const M1: v128 = i8x16(0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55);
const M2: v128 = i8x16(0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33);
const M4: v128 = i8x16(0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f);

/** Stores the first `left` bytes of v (all 16 when left >= 16, none when left <= 0). */
@inline function storeBlock(p: usize, v: v128, left: i32): void {
  if (left >= 16) {
    v128.store(p, v);
  } else if (left > 0) {
    let w = i64x2.extract_lane(v, 0);
    for (let i = 0; i < left; i++) {
      if (i == 8) w = i64x2.extract_lane(v, 1);
      store<u8>(p + <usize>i, <u8>(w >>> (<u64>(i & 7) << 3)));
    }
  }
}

/**
 * Runs the cipher (or the inverse cipher when `decrypt`) on the 8 blocks b0..b7, XORs
 * block k of the result with xk, and stores the first `outLen` bytes (0..128) at dst.
 * All inputs are values, so dst may overlap wherever the blocks came from.
 * `ks` holds rounds + 1 bitsliced round keys of 128 bytes each (see aes.ts).
 * Inlined into one encrypt and one decrypt function in aes.ts, so `decrypt` is a constant there.
 */
@inline export function cipher8(
  ks: usize, rounds: i32, decrypt: bool,
  b0: v128, b1: v128, b2: v128, b3: v128, b4: v128, b5: v128, b6: v128, b7: v128,
  x0: v128, x1: v128, x2: v128, x3: v128, x4: v128, x5: v128, x6: v128, x7: v128,
  dst: usize, outLen: i32,
): void {
  const rows = v128.load(decrypt ? INV_SHIFT_ROWS : SHIFT_ROWS);
  let q0 = b0, q1 = b1, q2 = b2, q3 = b3, q4 = b4, q5 = b5, q6 = b6, q7 = b7;
  let t: v128;
  // Transpose each byte position's 8x8 bit matrix: blocks -> bit-planes.
  t = and(xor(i64x2.shr_u(q0, 1), q1), M1); q1 = xor(q1, t); q0 = xor(q0, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(q2, 1), q3), M1); q3 = xor(q3, t); q2 = xor(q2, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(q4, 1), q5), M1); q5 = xor(q5, t); q4 = xor(q4, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(q6, 1), q7), M1); q7 = xor(q7, t); q6 = xor(q6, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(q0, 2), q2), M2); q2 = xor(q2, t); q0 = xor(q0, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(q1, 2), q3), M2); q3 = xor(q3, t); q1 = xor(q1, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(q4, 2), q6), M2); q6 = xor(q6, t); q4 = xor(q4, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(q5, 2), q7), M2); q7 = xor(q7, t); q5 = xor(q5, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(q0, 4), q4), M4); q4 = xor(q4, t); q0 = xor(q0, i64x2.shl(t, 4));
  t = and(xor(i64x2.shr_u(q1, 4), q5), M4); q5 = xor(q5, t); q1 = xor(q1, i64x2.shl(t, 4));
  t = and(xor(i64x2.shr_u(q2, 4), q6), M4); q6 = xor(q6, t); q2 = xor(q2, i64x2.shl(t, 4));
  t = and(xor(i64x2.shr_u(q3, 4), q7), M4); q7 = xor(q7, t); q3 = xor(q3, i64x2.shl(t, 4));

  // Encryption walks the keys up, decryption down.
  let rk: usize = decrypt ? ks + (<usize>rounds << 7) : ks;
  q0 = xor(q0, v128.load(rk, 0)); q1 = xor(q1, v128.load(rk, 16));
  q2 = xor(q2, v128.load(rk, 32)); q3 = xor(q3, v128.load(rk, 48));
  q4 = xor(q4, v128.load(rk, 64)); q5 = xor(q5, v128.load(rk, 80));
  q6 = xor(q6, v128.load(rk, 96)); q7 = xor(q7, v128.load(rk, 112));

  for (let round = 1; round <= rounds; round++) {
    rk = ks + (<usize>(decrypt ? rounds - round : round) << 7);
    if (decrypt) {
      // InvShiftRows, then the inverse affine map B (bit i <- bits i+2, i+5, i+7).
      const y0 = i8x16.swizzle(q0, rows), y1 = i8x16.swizzle(q1, rows), y2 = i8x16.swizzle(q2, rows), y3 = i8x16.swizzle(q3, rows);
      const y4 = i8x16.swizzle(q4, rows), y5 = i8x16.swizzle(q5, rows), y6 = i8x16.swizzle(q6, rows), y7 = i8x16.swizzle(q7, rows);
      q0 = xor(xor(y2, y5), y7); q1 = xor(xor(y3, y6), y0);
      q2 = xor(xor(y4, y7), y1); q3 = xor(xor(y5, y0), y2);
      q4 = xor(xor(y6, y1), y3); q5 = xor(xor(y7, y2), y4);
      q6 = xor(xor(y0, y3), y5); q7 = xor(xor(y1, y4), y6);
    }

    // S-box without its output constant: Boyar–Peralta circuit (J. Boyar, R. Peralta,
    // "A new combinational logic minimization technique with applications to
    // cryptology", IACR ePrint 2009/191), u0 = most significant bit.
    {
      const u0 = q7, u1 = q6, u2 = q5, u3 = q4, u4 = q3, u5 = q2, u6 = q1, u7 = q0;
      // Top linear layer.
      const y14 = xor(u3, u5), y13 = xor(u0, u6), y9 = xor(u0, u3), y8 = xor(u0, u5);
      const h0 = xor(u1, u2);
      const y1 = xor(h0, u7);
      const y4 = xor(y1, u3), y12 = xor(y13, y14), y2 = xor(y1, u0), y5 = xor(y1, u6);
      const y3 = xor(y5, y8);
      const h1 = xor(u4, y12);
      const y15 = xor(h1, u5), y20 = xor(h1, u1);
      const y6 = xor(y15, u7), y10 = xor(y15, h0), y11 = xor(y20, y9);
      const y7 = xor(u7, y11), y17 = xor(y10, y11), y19 = xor(y10, y8), y16 = xor(h0, y11);
      const y21 = xor(y13, y16), y18 = xor(u0, y16);
      // Shared non-linear core: inversion in GF(2^4)^2.
      const m2 = and(y12, y15), m3 = and(y3, y6), m5 = and(y4, u7);
      const m7 = and(y13, y16), m8 = and(y5, y1), m10 = and(y2, y7);
      const m12 = and(y9, y11), m13 = and(y14, y17), m15 = and(y8, y10);
      const m4 = xor(m3, m2), m6 = xor(m5, m2), m9 = xor(m8, m7), m11 = xor(m10, m7);
      const m14 = xor(m13, m12), m16 = xor(m15, m12);
      const n21 = xor(xor(m4, m14), y20), n22 = xor(xor(m6, m16), y19);
      const n23 = xor(xor(m9, m14), y21), n24 = xor(xor(m11, m16), y18);
      const n25 = xor(n21, n22), n26 = and(n21, n23), n27 = xor(n24, n26);
      const n28 = and(n25, n27), n29 = xor(n28, n22);
      const n30 = xor(n23, n24), n31 = xor(n22, n26), n32 = and(n31, n30), n33 = xor(n32, n24);
      const n34 = xor(n23, n33), n35 = xor(n27, n33), n36 = and(n24, n35), n37 = xor(n36, n34);
      const n38 = xor(n27, n36), n39 = and(n29, n38), n40 = xor(n25, n39);
      const n41 = xor(n40, n37), n42 = xor(n29, n33), n43 = xor(n29, n40), n44 = xor(n33, n37);
      const n45 = xor(n42, n41);
      const z0 = and(n44, y15), z1 = and(n37, y6), z2 = and(n33, u7), z3 = and(n43, y16);
      const z4 = and(n40, y1), z5 = and(n29, y7), z6 = and(n42, y11), z7 = and(n45, y17);
      const z8 = and(n41, y10), z9 = and(n44, y12), z10 = and(n37, y3), z11 = and(n33, y4);
      const z12 = and(n43, y13), z13 = and(n40, y5), z14 = and(n29, y2), z15 = and(n42, y9);
      const z16 = and(n45, y14), z17 = and(n41, y8);
      // Bottom linear layer (output constant 0x63 left out, see the header).
      const l46 = xor(z15, z16), l47 = xor(z10, z11), l48 = xor(z5, z13), l49 = xor(z9, z10);
      const l50 = xor(z2, z12), l51 = xor(z2, z5), l52 = xor(z7, z8), l53 = xor(z0, z3);
      const l54 = xor(z6, z7), l55 = xor(z16, z17), l56 = xor(z12, l48), l57 = xor(l50, l53);
      const l58 = xor(z4, l46), l59 = xor(z3, l54), l60 = xor(l46, l57), l61 = xor(z14, l57);
      const l62 = xor(l52, l58), l63 = xor(l49, l58), l64 = xor(z4, l59), l65 = xor(l61, l62);
      const l66 = xor(z1, l63), l67 = xor(l64, l65);
      const s3 = xor(l53, l66);
      q7 = xor(l59, l63);  // s0
      q6 = xor(l64, s3);   // s1
      q5 = xor(l55, l67);  // s2
      q4 = s3;
      q3 = xor(l51, l66);  // s4
      q2 = xor(l47, l65);  // s5
      q1 = xor(l56, l62);  // s6
      q0 = xor(l48, l60);  // s7
    }

    if (decrypt) {
      const y0 = q0, y1 = q1, y2 = q2, y3 = q3, y4 = q4, y5 = q5, y6 = q6, y7 = q7;
      q0 = xor(xor(y2, y5), y7); q1 = xor(xor(y3, y6), y0);
      q2 = xor(xor(y4, y7), y1); q3 = xor(xor(y5, y0), y2);
      q4 = xor(xor(y6, y1), y3); q5 = xor(xor(y7, y2), y4);
      q6 = xor(xor(y0, y3), y5); q7 = xor(xor(y1, y4), y6);
      q0 = xor(q0, v128.load(rk, 0)); q1 = xor(q1, v128.load(rk, 16));
      q2 = xor(q2, v128.load(rk, 32)); q3 = xor(q3, v128.load(rk, 48));
      q4 = xor(q4, v128.load(rk, 64)); q5 = xor(q5, v128.load(rk, 80));
      q6 = xor(q6, v128.load(rk, 96)); q7 = xor(q7, v128.load(rk, 112));
      if (round == rounds) break;
      // InvMixColumns = MixColumns o P, where P adds 4*(a_r ^ a_{r+2}) to row r
      // ("The Design of Rijndael", 4.1.3).
      const w0 = xor(q0, rot2(q0)), w1 = xor(q1, rot2(q1)), w2 = xor(q2, rot2(q2)), w3 = xor(q3, rot2(q3));
      const w4 = xor(q4, rot2(q4)), w5 = xor(q5, rot2(q5)), w6 = xor(q6, rot2(q6)), w7 = xor(q7, rot2(q7));
      const w67 = xor(w6, w7);
      q0 = xor(q0, w6); q1 = xor(q1, w67); q2 = xor(q2, xor(w0, w7)); q3 = xor(q3, xor(w1, w6));
      q4 = xor(q4, xor(w2, w67)); q5 = xor(q5, xor(w3, w7)); q6 = xor(q6, w4); q7 = xor(q7, w5);
      const r0 = rot1(q0), r1 = rot1(q1), r2 = rot1(q2), r3 = rot1(q3);
      const r4 = rot1(q4), r5 = rot1(q5), r6 = rot1(q6), r7 = rot1(q7);
      const e0 = xor(q0, r0), e1 = xor(q1, r1), e2 = xor(q2, r2), e3 = xor(q3, r3);
      const e4 = xor(q4, r4), e5 = xor(q5, r5), e6 = xor(q6, r6), e7 = xor(q7, r7);
      q0 = xor(xor(e7, r0), rot2(e0));
      q1 = xor(xor(xor(e0, e7), r1), rot2(e1));
      q2 = xor(xor(e1, r2), rot2(e2));
      q3 = xor(xor(xor(e2, e7), r3), rot2(e3));
      q4 = xor(xor(xor(e3, e7), r4), rot2(e4));
      q5 = xor(xor(e4, r5), rot2(e5));
      q6 = xor(xor(e5, r6), rot2(e6));
      q7 = xor(xor(e6, r7), rot2(e7));
    } else {
      if (round < rounds) {
        // ShiftRows then MixColumns: with s = shiftRows(q) and r = rot1(s),
        // out = 2*(s ^ r) ^ r ^ rot2(s ^ r).
        const s0 = i8x16.swizzle(q0, rows), s1 = i8x16.swizzle(q1, rows), s2 = i8x16.swizzle(q2, rows), s3 = i8x16.swizzle(q3, rows);
        const s4 = i8x16.swizzle(q4, rows), s5 = i8x16.swizzle(q5, rows), s6 = i8x16.swizzle(q6, rows), s7 = i8x16.swizzle(q7, rows);
        const r0 = rot1(s0), r1 = rot1(s1), r2 = rot1(s2), r3 = rot1(s3);
        const r4 = rot1(s4), r5 = rot1(s5), r6 = rot1(s6), r7 = rot1(s7);
        const e0 = xor(s0, r0), e1 = xor(s1, r1), e2 = xor(s2, r2), e3 = xor(s3, r3);
        const e4 = xor(s4, r4), e5 = xor(s5, r5), e6 = xor(s6, r6), e7 = xor(s7, r7);
        q0 = xor(xor(e7, r0), rot2(e0));
        q1 = xor(xor(xor(e0, e7), r1), rot2(e1));
        q2 = xor(xor(e1, r2), rot2(e2));
        q3 = xor(xor(xor(e2, e7), r3), rot2(e3));
        q4 = xor(xor(xor(e3, e7), r4), rot2(e4));
        q5 = xor(xor(e4, r5), rot2(e5));
        q6 = xor(xor(e5, r6), rot2(e6));
        q7 = xor(xor(e6, r7), rot2(e7));
      } else {
        q0 = i8x16.swizzle(q0, rows); q1 = i8x16.swizzle(q1, rows); q2 = i8x16.swizzle(q2, rows); q3 = i8x16.swizzle(q3, rows);
        q4 = i8x16.swizzle(q4, rows); q5 = i8x16.swizzle(q5, rows); q6 = i8x16.swizzle(q6, rows); q7 = i8x16.swizzle(q7, rows);
      }
      q0 = xor(q0, v128.load(rk, 0)); q1 = xor(q1, v128.load(rk, 16));
      q2 = xor(q2, v128.load(rk, 32)); q3 = xor(q3, v128.load(rk, 48));
      q4 = xor(q4, v128.load(rk, 64)); q5 = xor(q5, v128.load(rk, 80));
      q6 = xor(q6, v128.load(rk, 96)); q7 = xor(q7, v128.load(rk, 112));
    }
  }

  // Bit-planes -> blocks: the transpose is its own inverse.
  t = and(xor(i64x2.shr_u(q0, 1), q1), M1); q1 = xor(q1, t); q0 = xor(q0, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(q2, 1), q3), M1); q3 = xor(q3, t); q2 = xor(q2, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(q4, 1), q5), M1); q5 = xor(q5, t); q4 = xor(q4, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(q6, 1), q7), M1); q7 = xor(q7, t); q6 = xor(q6, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(q0, 2), q2), M2); q2 = xor(q2, t); q0 = xor(q0, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(q1, 2), q3), M2); q3 = xor(q3, t); q1 = xor(q1, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(q4, 2), q6), M2); q6 = xor(q6, t); q4 = xor(q4, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(q5, 2), q7), M2); q7 = xor(q7, t); q5 = xor(q5, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(q0, 4), q4), M4); q4 = xor(q4, t); q0 = xor(q0, i64x2.shl(t, 4));
  t = and(xor(i64x2.shr_u(q1, 4), q5), M4); q5 = xor(q5, t); q1 = xor(q1, i64x2.shl(t, 4));
  t = and(xor(i64x2.shr_u(q2, 4), q6), M4); q6 = xor(q6, t); q2 = xor(q2, i64x2.shl(t, 4));
  t = and(xor(i64x2.shr_u(q3, 4), q7), M4); q7 = xor(q7, t); q3 = xor(q3, i64x2.shl(t, 4));

  storeBlock(dst, xor(q0, x0), outLen);
  storeBlock(dst + 16, xor(q1, x1), outLen - 16);
  storeBlock(dst + 32, xor(q2, x2), outLen - 32);
  storeBlock(dst + 48, xor(q3, x3), outLen - 48);
  storeBlock(dst + 64, xor(q4, x4), outLen - 64);
  storeBlock(dst + 80, xor(q5, x5), outLen - 80);
  storeBlock(dst + 96, xor(q6, x6), outLen - 96);
  storeBlock(dst + 112, xor(q7, x7), outLen - 112);
}
