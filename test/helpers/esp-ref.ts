// An independent ESP encoder/decoder on node:crypto (OpenSSL), used as the outside reference
// for our wasm dataplane: RFC 4303 framing, RFC 4106 GCM, RFC 3602 CBC + RFC 4868/2404 HMAC.
import { createCipheriv, createDecipheriv, createHmac } from "node:crypto";

export interface RefSa {
  spi: number;
  suite: "gcm" | "cbc" | "null";
  /** GCM: AES key (without salt); CBC: AES key; NULL: empty. */
  key: Uint8Array;
  salt?: Uint8Array;
  integKey?: Uint8Array;
  hash?: "sha1" | "sha256" | "sha384" | "sha512";
  icv: number;
  esn?: boolean;
}

const be32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

/** Pads per RFC 4303 (1, 2, 3, …) and appends Pad Length and Next Header. `badPad` corrupts the padding. */
export function trailer(payload: Uint8Array, align: number, nextHeader: number, badPad = false): Buffer {
  const padLen = (align - ((payload.length + 2) % align)) % align;
  const pad = Buffer.alloc(padLen, 0).map((_, i) => i + 1);
  if (badPad && padLen > 0) pad[padLen - 1]! ^= 0x55;
  return Buffer.concat([payload, pad, Buffer.from([padLen, nextHeader])]);
}

/** Builds an ESP packet (SPI..ICV). `seq` may be 64-bit with ESN (only the low 32 bits go on the wire). */
export function refEncap(
  sa: RefSa,
  seq: bigint,
  payload: Uint8Array,
  nextHeader: number,
  opts: { badPad?: boolean; iv?: Uint8Array } = {},
): Buffer {
  const hdr = Buffer.concat([be32(sa.spi), be32(Number(seq & 0xffffffffn))]);
  const seqHi = be32(Number(seq >> 32n));
  if (sa.suite === "gcm") {
    const iv = Buffer.alloc(8);
    iv.writeBigUInt64BE(seq);
    const pt = trailer(payload, 4, nextHeader, opts.badPad);
    const c = createCipheriv(`aes-${sa.key.length * 8}-gcm` as "aes-128-gcm", sa.key, Buffer.concat([sa.salt!, iv]), {
      authTagLength: 16,
    });
    c.setAAD(sa.esn ? Buffer.concat([hdr.subarray(0, 4), seqHi, hdr.subarray(4)]) : hdr);
    const ct = Buffer.concat([c.update(pt), c.final()]);
    return Buffer.concat([hdr, iv, ct, c.getAuthTag().subarray(0, sa.icv)]);
  }
  let body: Buffer;
  if (sa.suite === "cbc") {
    const iv = Buffer.from(opts.iv ?? Buffer.alloc(16, 0xa5));
    const c = createCipheriv(`aes-${sa.key.length * 8}-cbc`, sa.key, iv).setAutoPadding(false);
    body = Buffer.concat([iv, c.update(trailer(payload, 16, nextHeader, opts.badPad)), c.final()]);
  } else {
    body = trailer(payload, 4, nextHeader, opts.badPad);
  }
  const signed = Buffer.concat([hdr, body]);
  const mac = createHmac(sa.hash!, sa.integKey!)
    .update(signed)
    .update(sa.esn ? seqHi : Buffer.alloc(0))
    .digest();
  return Buffer.concat([signed, mac.subarray(0, sa.icv)]);
}

/** Verifies and decrypts an ESP packet; returns payload (padding removed) and Next Header, or throws. */
export function refDecap(
  sa: RefSa,
  esp: Uint8Array,
  seqHigh = 0,
): { payload: Buffer; nextHeader: number; seq: number } {
  const b = Buffer.from(esp);
  const seq = b.readUInt32BE(4);
  const seqHi = be32(seqHigh);
  let pt: Buffer;
  if (sa.suite === "gcm") {
    const iv = b.subarray(8, 16);
    const d = createDecipheriv(`aes-${sa.key.length * 8}-gcm` as "aes-128-gcm", sa.key, Buffer.concat([sa.salt!, iv]), {
      authTagLength: sa.icv,
    });
    d.setAAD(sa.esn ? Buffer.concat([b.subarray(0, 4), seqHi, b.subarray(4, 8)]) : b.subarray(0, 8));
    d.setAuthTag(b.subarray(b.length - sa.icv));
    pt = Buffer.concat([d.update(b.subarray(16, b.length - sa.icv)), d.final()]);
  } else {
    const signed = b.subarray(0, b.length - sa.icv);
    const mac = createHmac(sa.hash!, sa.integKey!)
      .update(signed)
      .update(sa.esn ? seqHi : Buffer.alloc(0))
      .digest();
    if (!mac.subarray(0, sa.icv).equals(b.subarray(b.length - sa.icv))) throw new Error("reference: ICV mismatch");
    if (sa.suite === "cbc") {
      const d = createDecipheriv(`aes-${sa.key.length * 8}-cbc`, sa.key, b.subarray(8, 24)).setAutoPadding(false);
      pt = Buffer.concat([d.update(b.subarray(24, b.length - sa.icv)), d.final()]);
    } else {
      pt = Buffer.from(b.subarray(8, b.length - sa.icv));
    }
  }
  const padLen = pt[pt.length - 2];
  for (let i = 0; i < padLen!; i++)
    if (pt[pt.length - 2 - padLen! + i] !== i + 1) throw new Error("reference: bad padding");
  return { payload: pt.subarray(0, pt.length - 2 - padLen!), nextHeader: pt[pt.length - 1]!, seq };
}

/** A minimal IPv4 packet (UDP, valid header checksum) of the given payload size. */
export function ipv4Udp(payloadLen: number, fill = 0x42, src = [198, 51, 100, 1], dst = [203, 0, 113, 2]): Uint8Array {
  const total = 28 + payloadLen;
  const p = Buffer.alloc(total, fill);
  p.set([0x45, 0, total >> 8, total & 255, 0x12, 0x34, 0, 0, 64, 17, 0, 0, ...src, ...dst]);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += p.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  p.writeUInt16BE(~sum & 0xffff, 10);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(9, 22);
  p.writeUInt16BE(8 + payloadLen, 24);
  p.writeUInt16BE(0, 26);
  return new Uint8Array(p);
}

/** A minimal IPv6 packet (UDP) of the given payload size, 2001:db8:: addresses. */
export function ipv6Udp(payloadLen: number, fill = 0x66): Uint8Array {
  const p = Buffer.alloc(48 + payloadLen, fill);
  p.set([0x60, 0, 0, 0]);
  p.writeUInt16BE(8 + payloadLen, 4);
  p[6] = 17;
  p[7] = 64;
  const src = Buffer.from("20010db8000000000000000000000001", "hex");
  const dst = Buffer.from("20010db8000000000000000000000002", "hex");
  p.set(src, 8);
  p.set(dst, 24);
  p.writeUInt16BE(40000, 40);
  p.writeUInt16BE(9, 42);
  p.writeUInt16BE(8 + payloadLen, 44);
  p.writeUInt16BE(0, 46);
  return new Uint8Array(p);
}
