/**
 * MD4 (RFC 1320), needed only by EAP-MSCHAPv2 (RFC 2759 NtPasswordHash and HashNtPasswordHash).
 * MD4 is broken as a hash; MSCHAPv2 fixes its use and nothing else in the SDK may call it. It is
 * in the SDK's control plane, never in the wasm packet path.
 *
 * Timing: only 32-bit additions, rotations and bitwise operations, no table lookups indexed by
 * data and no data-dependent branches, so it has no secret-dependent memory access; JavaScript
 * engines give no formal constant-time guarantee beyond that.
 * @module
 */

import { secretBytes } from "../../dataplane/control-crypto.ts";

const R1 = [3, 7, 11, 19] as const;
const R2 = [3, 5, 9, 13] as const;
const R3 = [3, 9, 11, 15] as const;
const K2 = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15] as const;
const K3 = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15] as const;

const rotl = (x: number, s: number): number => (x << s) | (x >>> (32 - s));

/**
 * Key hygiene: MD4 hashes passwords and NT hashes here, so every buffer is allocated on an explicit
 * ArrayBuffer (secretBytes): a small typed array made by `new Uint8Array(n)` lives in V8's heap,
 * where a move, or the first `.buffer`, leaves an unwipeable copy of what it held.
 */

/** The 16-byte MD4 digest of `data` (RFC 1320 §3). */
export function md4(data: Uint8Array): Uint8Array {
  // §3.1-3.2: pad with 0x80, zeros to 56 mod 64, then the bit length as 64-bit little-endian.
  const total = (((data.length + 8) >>> 6) + 1) << 6;
  const buf = secretBytes(total);
  buf.set(data);
  buf[data.length] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(total - 8, (data.length * 8) >>> 0, true);
  view.setUint32(total - 4, Math.floor(data.length / 0x20000000), true);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const x = new Uint32Array(new ArrayBuffer(64));
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = view.getUint32(off + 4 * i, true);
    // v = A, B, C, D. §3.4 step i is "[abcd k s]" with its a = v[(4 - i % 4) % 4] (A, D, C, B, ...)
    // and its b, c, d the next three words after a, cyclically.
    const v = [h[0]!, h[1]!, h[2]!, h[3]!];
    const step = (i: number, f: number, k: number, s: number, add: number): void => {
      const a = (4 - (i & 3)) & 3;
      v[a] = rotl((v[a]! + f + x[k]! + add) | 0, s);
    };
    const abcd = (i: number): [number, number, number] => {
      const a = (4 - (i & 3)) & 3;
      return [v[(a + 1) & 3]!, v[(a + 2) & 3]!, v[(a + 3) & 3]!];
    };
    for (let i = 0; i < 16; i++) {
      const [b, c, d] = abcd(i);
      step(i, (b & c) | (~b & d), i, R1[i & 3]!, 0);
    }
    for (let i = 0; i < 16; i++) {
      const [b, c, d] = abcd(i);
      step(i, (b & c) | (b & d) | (c & d), K2[i]!, R2[i & 3]!, 0x5a827999);
    }
    for (let i = 0; i < 16; i++) {
      const [b, c, d] = abcd(i);
      step(i, b ^ c ^ d, K3[i]!, R3[i & 3]!, 0x6ed9eba1);
    }
    for (let i = 0; i < 4; i++) h[i] = (h[i]! + v[i]!) | 0;
  }
  const out = secretBytes(16);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) ov.setUint32(4 * i, h[i]! >>> 0, true);
  buf.fill(0);
  x.fill(0);
  return out;
}
