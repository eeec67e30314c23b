// The fixed inputs and the outside-reference ESP bytes that test/consumers/program/roundtrip.mjs
// carries as hex. Made with node:crypto (OpenSSL) only, never with ipsec-wasm: AES-GCM and
// AES-CBC + HMAC-SHA-256 through test/helpers/esp-ref.ts, ChaCha20-Poly1305 (RFC 7634) framed
// here the same way. `node --import tsx test/consumers/program/vectors.ts` prints the constants;
// the Node consumer test checks the committed hex still equals what this makes.
import { createCipheriv } from "node:crypto";
import { ipv4Udp, refEncap, trailer, type RefSa } from "../../helpers/esp-ref.ts";

const seqBytes = (k: number, n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (k + i) & 0xff));

/** The inner packet every suite carries: IPv4/UDP 198.51.100.1 → 203.0.113.2, 24 bytes of 0x42. */
export const INNER = Buffer.from(ipv4Udp(24));

/** aes128gcm16, SPI 0x0000c0a1, first outbound packet (seq 1, IV = 1). */
export const GCM = { spi: 0x0000c0a1, key: seqBytes(0x00, 16), salt: Buffer.from("cafebabe", "hex") };
/** aes128-sha256 (RFC 4868, 128-bit ICV), SPI 0x0000c0b2; the reference packet has seq 2 and a fixed IV. */
export const CBC = {
  spi: 0x0000c0b2,
  key: seqBytes(0x10, 16),
  integKey: seqBytes(0x40, 32),
  iv: seqBytes(0xa0, 16),
  seq: 2n,
};
/** chacha20poly1305, SPI 0x0000c0c3, first outbound packet (seq 1, IV = 1). */
export const CHACHA = { spi: 0x0000c0c3, key: seqBytes(0x20, 32), salt: Buffer.from("0badf00d", "hex") };

/** RFC 7634 ESP: nonce = salt ‖ IV (IV = 64-bit seq), AAD = SPI ‖ seq, 4-byte alignment, 16-byte tag. */
function chachaEncap(
  spi: number,
  key: Buffer,
  salt: Buffer,
  seq: bigint,
  payload: Uint8Array,
  nextHeader: number,
): Buffer {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32BE(spi, 0);
  hdr.writeUInt32BE(Number(seq & 0xffffffffn), 4);
  const iv = Buffer.alloc(8);
  iv.writeBigUInt64BE(seq);
  const c = createCipheriv("chacha20-poly1305", key, Buffer.concat([salt, iv]), { authTagLength: 16 });
  const pt = trailer(payload, 4, nextHeader);
  c.setAAD(hdr, { plaintextLength: pt.length }); // the length only matters to CCM; @types/node 20 types chacha20-poly1305 as CCM
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return Buffer.concat([hdr, iv, ct, c.getAuthTag()]);
}

export function vectors(): { inner: string; gcmEsp: string; cbcEsp: string; chachaEsp: string } {
  const gcmSa: RefSa = { spi: GCM.spi, suite: "gcm", key: GCM.key, salt: GCM.salt, icv: 16 };
  const cbcSa: RefSa = { spi: CBC.spi, suite: "cbc", key: CBC.key, integKey: CBC.integKey, hash: "sha256", icv: 16 };
  return {
    inner: INNER.toString("hex"),
    gcmEsp: refEncap(gcmSa, 1n, INNER, 4).toString("hex"),
    cbcEsp: refEncap(cbcSa, CBC.seq, INNER, 4, { iv: CBC.iv }).toString("hex"),
    chachaEsp: chachaEncap(CHACHA.spi, CHACHA.key, CHACHA.salt, 1n, INNER, 4).toString("hex"),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const v = vectors();
  console.log(
    JSON.stringify(
      {
        ...v,
        gcmKey: Buffer.concat([GCM.key, GCM.salt]).toString("hex"),
        cbcKey: CBC.key.toString("hex"),
        cbcIntegKey: CBC.integKey.toString("hex"),
        chachaKey: Buffer.concat([CHACHA.key, CHACHA.salt]).toString("hex"),
      },
      null,
      2,
    ),
  );
}
