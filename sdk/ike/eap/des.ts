/**
 * Single DES (FIPS 46-3) encryption of one 8-byte block, needed only by EAP-MSCHAPv2: RFC 2759
 * §8.5 ChallengeResponse encrypts the 8-byte challenge hash under three 56-bit keys cut from the
 * NT password hash (§8.6 DesEncrypt). DES is broken (56-bit keys); MSCHAPv2 fixes its use and
 * nothing else in the SDK may call it. It is in the SDK's control plane, never in the wasm packet
 * path. Written from the FIPS 46-3 tables, bit by bit, for clarity rather than speed.
 *
 * NOT constant time: the S-box lookups are array reads indexed by key-dependent bits, so cache
 * timing can leak key bits to code sharing the CPU. Accepted here, not in general: the keys are
 * thirds of the NT password hash, which MSCHAPv2 already exposes to an offline search by anyone who
 * sees one exchange (the third third has only 16 unknown bits; in IKEv2 the exchange travels inside
 * the encrypted IKE SA, so that is the gateway); the function runs three times per road-warrior
 * authentication, off the packet path. Do not reuse it for anything else.
 * @module
 */

// FIPS 46-3 tables, 1-based bit positions as printed (bit 1 is the MSB of the first byte).
const IP = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24,
  16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31,
  23, 15, 7,
];
const E = [
  32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17, 18, 19, 20, 21, 20, 21, 22,
  23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];
const P = [
  16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
];
const PC1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36, 63, 55,
  47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
];
const PC2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52, 31, 37, 47, 55, 30,
  40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
const SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
// S1..S8 as hex nibbles, each 4 rows of 16 (row = outer bits b1 b6, column = inner bits b2..b5).
const S = [
  "e4d12fb83a6c5907 0f74e2d1a6cb9538 41e8d62bfc973a50 fc8249175b3ea06d",
  "f18e6b34972dc05a 3d47f28ec01a69b5 0e7ba4d158c6932f d8a13f42b67c05e9",
  "a09e63f51dc7b428 d709346a285ecbf1 d6498f30b12c5ae7 1ad069874fe3b52c",
  "7de3069a1285bc4f d8b56f03472c1ae9 a690cb7df13e5284 3f06a1d8945bc72e",
  "2c417ab6853fd0e9 eb2c47d150fa3986 421bad78f9c5630e b8c71e2d6f09a453",
  "c1af92680d34e75b af427c9561de0b38 9ef528c3704a1db6 432c95fabe17608d",
  "4b2ef08d3c975a61 d0b7491ae35c2f86 14bdc37eaf680592 6bd814a7950fe23c",
  "d2846fb1a93e50c7 1fd8a374c56b0e92 7b419ce206adf358 21e74a8dfc90356b",
].map((s) => Array.from(s.replace(/ /g, ""), (c) => parseInt(c, 16)));

const permute = (src: readonly number[], table: readonly number[]): number[] => table.map((p) => src[p - 1] ?? 0);
const toBits = (b: Uint8Array): number[] =>
  Array.from({ length: b.length * 8 }, (_, i) => ((b[i >> 3] ?? 0) >> (7 - (i & 7))) & 1);
const rotl28 = (h: number[], n: number): number[] => [...h.slice(n), ...h.slice(0, n)];

/** FIPS 46-3 DES encryption of one 8-byte `block` under an 8-byte `key` (parity bits ignored). */
export function desEncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  if (key.length !== 8 || block.length !== 8) throw new RangeError("DES needs an 8-byte key and block");
  // Key schedule: PC-1, then per round a left rotation of C and D and PC-2.
  const cd = permute(toBits(key), PC1);
  let c = cd.slice(0, 28),
    d = cd.slice(28);
  const ip = permute(toBits(block), IP);
  let l = ip.slice(0, 32),
    r = ip.slice(32);
  for (let round = 0; round < 16; round++) {
    c = rotl28(c, SHIFTS[round]!);
    d = rotl28(d, SHIFTS[round]!);
    const k = permute([...c, ...d], PC2);
    // f(R, K) = P(S1..S8(E(R) xor K)).
    const x = permute(r, E).map((bit, i) => bit ^ (k[i] ?? 0));
    const s: number[] = [];
    for (let j = 0; j < 8; j++) {
      const b = x.slice(6 * j, 6 * j + 6);
      const row = ((b[0] ?? 0) << 1) | (b[5] ?? 0);
      const col = ((b[1] ?? 0) << 3) | ((b[2] ?? 0) << 2) | ((b[3] ?? 0) << 1) | (b[4] ?? 0);
      const v = S[j]![row * 16 + col]!; // j < 8 and row * 16 + col < 64: in range.
      s.push((v >> 3) & 1, (v >> 2) & 1, (v >> 1) & 1, v & 1);
    }
    const f = permute(s, P);
    [l, r] = [r, l.map((bit, i) => bit ^ (f[i] ?? 0))];
  }
  // The preoutput is R16 L16; the final permutation is the inverse of IP.
  const pre = [...r, ...l];
  const outBits = new Array<number>(64).fill(0);
  IP.forEach((p, i) => (outBits[p - 1] = pre[i] ?? 0));
  const out = new Uint8Array(8);
  outBits.forEach((bit, i) => (out[i >> 3]! |= bit << (7 - (i & 7))));
  return out;
}

/**
 * Spreads a 7-byte (56-bit) key over the high 7 bits of 8 bytes and sets each byte's low bit to
 * odd parity, as strongSwan's eap_mschapv2.c ExpandDESKey does for RFC 2759 §8.6 DesEncrypt.
 */
export function expandDesKey(key7: Uint8Array): Uint8Array {
  if (key7.length !== 7) throw new RangeError("an MSCHAP DES key is 7 bytes");
  const bits = toBits(key7);
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) {
    let byte = 0;
    for (let j = 0; j < 7; j++) byte = (byte << 1) | (bits[7 * i + j] ?? 0);
    let ones = byte;
    ones ^= ones >> 4;
    ones ^= ones >> 2;
    ones ^= ones >> 1;
    out[i] = (byte << 1) | ((ones & 1) ^ 1);
  }
  return out;
}

/** RFC 2759 §8.6 DesEncrypt: `clear` (8 bytes) under the 7-byte `key7`, expanded with parity. */
export function desEncrypt(key7: Uint8Array, clear: Uint8Array): Uint8Array {
  return desEncryptBlock(expandDesKey(key7), clear);
}
