// Inner packets for the ESP fuzzer: IPv4 or IPv6 UDP with a payload that starts with a unique
// counter, so no two authentic packets of a run carry the same plaintext.
import type { Prng } from "./prng.ts";

function ipv4Checksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (h[i]! << 8) | h[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A UDP packet over IPv4 or IPv6 (documentation addresses) whose payload starts with `id`. */
export function innerPacket(rng: Prng, id: number, v6: boolean): Uint8Array {
  const body = rng.range(8, 160);
  const hl = v6 ? 40 : 20;
  const p = new Uint8Array(hl + 8 + body);
  const dv = new DataView(p.buffer);
  if (v6) {
    p[0] = 0x60;
    dv.setUint16(4, 8 + body);
    p[6] = 17;
    p[7] = 64;
    p.set([0x20, 0x01, 0x0d, 0xb8, 0, 1], 8);
    p[23] = 1;
    p.set([0x20, 0x01, 0x0d, 0xb8, 0, 2], 24);
    p[39] = 2;
  } else {
    p[0] = 0x45;
    dv.setUint16(2, p.length);
    p[8] = 64;
    p[9] = 17;
    p.set([198, 51, 100, 1, 203, 0, 113, 2], 12);
    dv.setUint16(10, ipv4Checksum(p));
  }
  dv.setUint16(hl, 40000 + (id % 1000));
  dv.setUint16(hl + 2, 7);
  dv.setUint16(hl + 4, 8 + body);
  rng.fill(p.subarray(hl + 8));
  dv.setFloat64(hl + 8, id);
  return p;
}

/** IP header length of a packet built by innerPacket. */
export const ipHeaderLength = (p: Uint8Array): number => (p[0]! >> 4 === 6 ? 40 : 20);
