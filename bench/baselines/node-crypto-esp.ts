// Baseline: ESP tunnel mode written the way a Node user writes it today — one
// createCipheriv/createDecipheriv (and createHmac) per packet, Buffer.concat for framing.
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from "node:crypto";
import {
  type BaselineDecap, type BaselineSa, type BenchSuite, type PerPacketEsp,
  CBC_IV, ESP_HEADER, EspDropError, GCM_ICV, GCM_IV, HMAC_ICV, RandomPool,
  innerNextHeader, padLength, readTrailer, readU32, writeEspHeader, writeTrailer,
} from "./esp-layout.ts";

/** Creates a per-packet node:crypto ESP endpoint for one SA (encapsulation and decapsulation share the keys). */
export function createNodeCryptoEsp(suite: BenchSuite, sa: BaselineSa): PerPacketEsp {
  return suite === "aes128gcm16" ? new NodeGcmEsp(sa) : new NodeCbcHmacEsp(sa);
}

/** RFC 4106: nonce = salt ‖ IV, IV = the sequence number, AAD = SPI ‖ seq. */
class NodeGcmEsp implements PerPacketEsp {
  readonly suite = "aes128gcm16";
  private seq = 0;
  private readonly key: Buffer;
  private readonly salt: Buffer;
  constructor(private readonly sa: BaselineSa) {
    this.key = Buffer.from(sa.encKey.subarray(0, 16));
    this.salt = Buffer.from(sa.encKey.subarray(16, 20));
  }

  encapsulate(inner: Uint8Array): Uint8Array {
    const seq = ++this.seq;
    const pad = padLength(inner.length, 4);
    const plain = Buffer.allocUnsafe(inner.length + pad + 2);
    plain.set(inner);
    writeTrailer(plain, inner.length, pad, innerNextHeader(inner));
    const header = Buffer.alloc(ESP_HEADER + GCM_IV);
    writeEspHeader(header, this.sa.spi, seq);
    header.writeUInt32BE(seq, 12); // IV = 64-bit sequence number, high half 0 without ESN
    const cipher = createCipheriv("aes-128-gcm", this.key, Buffer.concat([this.salt, header.subarray(8)]));
    cipher.setAAD(header.subarray(0, ESP_HEADER));
    const body = cipher.update(plain);
    cipher.final();
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  }

  decapsulate(packet: Uint8Array): BaselineDecap {
    if (packet.length < ESP_HEADER + GCM_IV + 2 + GCM_ICV) throw new EspDropError("truncated");
    const buf = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
    if (readU32(buf, 0) !== this.sa.spi >>> 0) throw new EspDropError("no-sa");
    const nonce = Buffer.concat([this.salt, buf.subarray(ESP_HEADER, ESP_HEADER + GCM_IV)]);
    const decipher = createDecipheriv("aes-128-gcm", this.key, nonce);
    decipher.setAAD(buf.subarray(0, ESP_HEADER));
    decipher.setAuthTag(buf.subarray(buf.length - GCM_ICV));
    const plain = decipher.update(buf.subarray(ESP_HEADER + GCM_IV, buf.length - GCM_ICV));
    try {
      decipher.final();
    } catch {
      throw new EspDropError("integrity-failed");
    }
    const { payloadLength, nextHeader } = readTrailer(plain);
    return { inner: plain.subarray(0, payloadLength), nextHeader, seq: readU32(buf, 4) };
  }
}

/** RFC 3602 + RFC 4868: random IV, AES-128-CBC without PKCS#7, HMAC-SHA-256-128 over SPI..ciphertext. */
class NodeCbcHmacEsp implements PerPacketEsp {
  readonly suite = "aes128-sha256";
  private seq = 0;
  private readonly random = new RandomPool();
  private readonly key: Buffer;
  private readonly integKey: Buffer;
  constructor(private readonly sa: BaselineSa) {
    if (!sa.integKey) throw new Error("aes128-sha256 needs integKey");
    this.key = Buffer.from(sa.encKey);
    this.integKey = Buffer.from(sa.integKey);
  }

  encapsulate(inner: Uint8Array): Uint8Array {
    const seq = ++this.seq;
    const pad = padLength(inner.length, 16);
    const plain = Buffer.allocUnsafe(inner.length + pad + 2);
    plain.set(inner);
    writeTrailer(plain, inner.length, pad, innerNextHeader(inner));
    const header = Buffer.allocUnsafe(ESP_HEADER + CBC_IV);
    writeEspHeader(header, this.sa.spi, seq);
    header.set(this.random.take(CBC_IV), ESP_HEADER);
    const cipher = createCipheriv("aes-128-cbc", this.key, header.subarray(ESP_HEADER)).setAutoPadding(false);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const icv = createHmac("sha256", this.integKey).update(header).update(body).digest().subarray(0, HMAC_ICV);
    return Buffer.concat([header, body, icv]);
  }

  decapsulate(packet: Uint8Array): BaselineDecap {
    const buf = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
    const bodyLength = buf.length - ESP_HEADER - CBC_IV - HMAC_ICV;
    if (bodyLength < 16 || bodyLength % 16 !== 0) throw new EspDropError("truncated");
    if (readU32(buf, 0) !== this.sa.spi >>> 0) throw new EspDropError("no-sa");
    const authenticated = buf.subarray(0, buf.length - HMAC_ICV);
    const expected = createHmac("sha256", this.integKey).update(authenticated).digest().subarray(0, HMAC_ICV);
    if (!timingSafeEqual(expected, buf.subarray(buf.length - HMAC_ICV))) throw new EspDropError("integrity-failed");
    const iv = buf.subarray(ESP_HEADER, ESP_HEADER + CBC_IV);
    const decipher = createDecipheriv("aes-128-cbc", this.key, iv).setAutoPadding(false);
    const plain = Buffer.concat([decipher.update(buf.subarray(ESP_HEADER + CBC_IV, buf.length - HMAC_ICV)), decipher.final()]);
    const { payloadLength, nextHeader } = readTrailer(plain);
    return { inner: plain.subarray(0, payloadLength), nextHeader, seq: readU32(buf, 4) };
  }
}
