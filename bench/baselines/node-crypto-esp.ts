// Baseline: ESP tunnel mode written the way a Node user writes it today — one
// createCipheriv/createDecipheriv (and createHmac) per packet, Buffer.concat for framing.
// Suites: AES-GCM (RFC 4106), AES-CBC + HMAC-SHA-256-128 (RFC 3602/4868), ChaCha20-Poly1305
// (RFC 7634), AES-CTR + HMAC-SHA-256-128 (RFC 3686/4868).
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from "node:crypto";
import {
  type BaselineDecap,
  type BaselineSa,
  type BenchSuite,
  type PerPacketEsp,
  CBC_IV,
  CHACHA_ICV,
  ESP_HEADER,
  EspDropError,
  GCM_ICV,
  GCM_IV,
  HMAC_ICV,
  RandomPool,
  SEQ_IV,
  ctrBlock,
  innerNextHeader,
  padLength,
  readTrailer,
  readU32,
  writeEspHeader,
  writeSeqIv,
  writeTrailer,
} from "./esp-layout.ts";

/** Creates a per-packet node:crypto ESP endpoint for one SA (encapsulation and decapsulation share the keys). */
export function createNodeCryptoEsp(suite: BenchSuite, sa: BaselineSa): PerPacketEsp {
  switch (suite) {
    case "aes128gcm16":
      return new NodeGcmEsp(sa);
    case "aes128-sha256":
      return new NodeCbcHmacEsp(sa);
    case "chacha20poly1305":
      return new NodeChachaEsp(sa);
    case "aes128ctr-sha256":
      return new NodeCtrHmacEsp(sa);
  }
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
    const plain = Buffer.concat([
      decipher.update(buf.subarray(ESP_HEADER + CBC_IV, buf.length - HMAC_ICV)),
      decipher.final(),
    ]);
    const { payloadLength, nextHeader } = readTrailer(plain);
    return { inner: plain.subarray(0, payloadLength), nextHeader, seq: readU32(buf, 4) };
  }
}

/** RFC 7634: nonce = salt ‖ IV, IV = the sequence number, AAD = SPI ‖ seq, 16-byte tag, 4-byte alignment. */
class NodeChachaEsp implements PerPacketEsp {
  readonly suite = "chacha20poly1305";
  private seq = 0;
  private readonly key: Buffer;
  private readonly salt: Buffer;
  constructor(private readonly sa: BaselineSa) {
    if (sa.encKey.length !== 36) throw new Error("chacha20poly1305 needs a 32-byte key and a 4-byte salt");
    this.key = Buffer.from(sa.encKey.subarray(0, 32));
    this.salt = Buffer.from(sa.encKey.subarray(32, 36));
  }

  encapsulate(inner: Uint8Array): Uint8Array {
    const seq = ++this.seq;
    const pad = padLength(inner.length, 4);
    const plain = Buffer.allocUnsafe(inner.length + pad + 2);
    plain.set(inner);
    writeTrailer(plain, inner.length, pad, innerNextHeader(inner));
    const header = Buffer.allocUnsafe(ESP_HEADER + SEQ_IV);
    writeEspHeader(header, this.sa.spi, seq);
    writeSeqIv(header, ESP_HEADER, seq);
    const cipher = createCipheriv(
      "chacha20-poly1305",
      this.key,
      Buffer.concat([this.salt, header.subarray(ESP_HEADER)]),
      {
        authTagLength: CHACHA_ICV,
      },
    );
    cipher.setAAD(header.subarray(0, ESP_HEADER), { plaintextLength: plain.length });
    const body = cipher.update(plain);
    cipher.final();
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  }

  decapsulate(packet: Uint8Array): BaselineDecap {
    if (packet.length < ESP_HEADER + SEQ_IV + 2 + CHACHA_ICV) throw new EspDropError("truncated");
    const buf = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
    if (readU32(buf, 0) !== this.sa.spi >>> 0) throw new EspDropError("no-sa");
    const nonce = Buffer.concat([this.salt, buf.subarray(ESP_HEADER, ESP_HEADER + SEQ_IV)]);
    const decipher = createDecipheriv("chacha20-poly1305", this.key, nonce, { authTagLength: CHACHA_ICV });
    const body = buf.subarray(ESP_HEADER + SEQ_IV, buf.length - CHACHA_ICV);
    decipher.setAAD(buf.subarray(0, ESP_HEADER), { plaintextLength: body.length });
    decipher.setAuthTag(buf.subarray(buf.length - CHACHA_ICV));
    const plain = decipher.update(body);
    try {
      decipher.final();
    } catch {
      throw new EspDropError("integrity-failed");
    }
    const { payloadLength, nextHeader } = readTrailer(plain);
    return { inner: plain.subarray(0, payloadLength), nextHeader, seq: readU32(buf, 4) };
  }
}

/**
 * RFC 3686 + RFC 4868: AES-128-CTR with counter block nonce ‖ IV ‖ 1 (IV = the sequence number),
 * 4-byte alignment, HMAC-SHA-256-128 over SPI..ciphertext.
 */
class NodeCtrHmacEsp implements PerPacketEsp {
  readonly suite = "aes128ctr-sha256";
  private seq = 0;
  private readonly key: Buffer;
  private readonly nonce: Uint8Array;
  private readonly integKey: Buffer;
  constructor(private readonly sa: BaselineSa) {
    if (!sa.integKey) throw new Error("aes128ctr-sha256 needs integKey");
    if (sa.encKey.length !== 20) throw new Error("aes128ctr-sha256 needs a 16-byte AES key and a 4-byte nonce");
    this.key = Buffer.from(sa.encKey.subarray(0, 16));
    this.nonce = sa.encKey.slice(16, 20);
    this.integKey = Buffer.from(sa.integKey);
  }

  encapsulate(inner: Uint8Array): Uint8Array {
    const seq = ++this.seq;
    const pad = padLength(inner.length, 4);
    const plain = Buffer.allocUnsafe(inner.length + pad + 2);
    plain.set(inner);
    writeTrailer(plain, inner.length, pad, innerNextHeader(inner));
    const header = Buffer.allocUnsafe(ESP_HEADER + SEQ_IV);
    writeEspHeader(header, this.sa.spi, seq);
    writeSeqIv(header, ESP_HEADER, seq);
    const cipher = createCipheriv("aes-128-ctr", this.key, ctrBlock(this.nonce, header.subarray(ESP_HEADER)));
    const body = cipher.update(plain);
    cipher.final();
    const icv = createHmac("sha256", this.integKey).update(header).update(body).digest().subarray(0, HMAC_ICV);
    return Buffer.concat([header, body, icv]);
  }

  decapsulate(packet: Uint8Array): BaselineDecap {
    const buf = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
    if (buf.length < ESP_HEADER + SEQ_IV + 2 + HMAC_ICV) throw new EspDropError("truncated");
    if (readU32(buf, 0) !== this.sa.spi >>> 0) throw new EspDropError("no-sa");
    const authenticated = buf.subarray(0, buf.length - HMAC_ICV);
    const expected = createHmac("sha256", this.integKey).update(authenticated).digest().subarray(0, HMAC_ICV);
    if (!timingSafeEqual(expected, buf.subarray(buf.length - HMAC_ICV))) throw new EspDropError("integrity-failed");
    const decipher = createDecipheriv(
      "aes-128-ctr",
      this.key,
      ctrBlock(this.nonce, buf.subarray(ESP_HEADER, ESP_HEADER + SEQ_IV)),
    );
    const plain = decipher.update(buf.subarray(ESP_HEADER + SEQ_IV, buf.length - HMAC_ICV));
    decipher.final();
    const { payloadLength, nextHeader } = readTrailer(plain);
    return { inner: plain.subarray(0, payloadLength), nextHeader, seq: readU32(buf, 4) };
  }
}
