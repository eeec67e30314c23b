// Baseline: the same per-packet ESP tunnel mode with the pure-JS @noble libraries
// (@noble/ciphers for AES-GCM/AES-CBC/AES-CTR and ChaCha20-Poly1305, @noble/hashes for HMAC-SHA-256).
import { cbc, ctr, gcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
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

/** Creates a per-packet @noble ESP endpoint for one SA (encapsulation and decapsulation share the keys). */
export function createNobleEsp(suite: BenchSuite, sa: BaselineSa): PerPacketEsp {
  switch (suite) {
    case "aes128gcm16":
      return new NobleGcmEsp(sa);
    case "aes128-sha256":
      return new NobleCbcHmacEsp(sa);
    case "chacha20poly1305":
      return new NobleChachaEsp(sa);
    case "aes128ctr-sha256":
      return new NobleCtrHmacEsp(sa);
  }
}

/** Constant-time comparison of two equal-length byte arrays. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

class NobleGcmEsp implements PerPacketEsp {
  readonly suite = "aes128gcm16";
  private seq = 0;
  private readonly key: Uint8Array;
  private readonly nonce = new Uint8Array(12);
  constructor(private readonly sa: BaselineSa) {
    this.key = sa.encKey.slice(0, 16);
    this.nonce.set(sa.encKey.subarray(16, 20));
  }

  encapsulate(inner: Uint8Array): Uint8Array {
    const seq = ++this.seq;
    const pad = padLength(inner.length, 4);
    const plain = new Uint8Array(inner.length + pad + 2);
    plain.set(inner);
    writeTrailer(plain, inner.length, pad, innerNextHeader(inner));
    const out = new Uint8Array(ESP_HEADER + GCM_IV + plain.length + GCM_ICV);
    writeEspHeader(out, this.sa.spi, seq);
    writeEspHeader(out.subarray(ESP_HEADER), 0, seq); // IV = 64-bit sequence number
    this.nonce.set(out.subarray(ESP_HEADER, ESP_HEADER + GCM_IV), 4);
    out.set(gcm(this.key, this.nonce, out.subarray(0, ESP_HEADER)).encrypt(plain), ESP_HEADER + GCM_IV);
    return out;
  }

  decapsulate(packet: Uint8Array): BaselineDecap {
    if (packet.length < ESP_HEADER + GCM_IV + 2 + GCM_ICV) throw new EspDropError("truncated");
    if (readU32(packet, 0) !== this.sa.spi >>> 0) throw new EspDropError("no-sa");
    this.nonce.set(packet.subarray(ESP_HEADER, ESP_HEADER + GCM_IV), 4);
    let plain: Uint8Array;
    try {
      plain = gcm(this.key, this.nonce, packet.subarray(0, ESP_HEADER)).decrypt(packet.subarray(ESP_HEADER + GCM_IV));
    } catch {
      throw new EspDropError("integrity-failed");
    }
    const { payloadLength, nextHeader } = readTrailer(plain);
    return { inner: plain.subarray(0, payloadLength), nextHeader, seq: readU32(packet, 4) };
  }
}

class NobleCbcHmacEsp implements PerPacketEsp {
  readonly suite = "aes128-sha256";
  private seq = 0;
  private readonly random = new RandomPool();
  private readonly key: Uint8Array;
  private readonly integKey: Uint8Array;
  constructor(private readonly sa: BaselineSa) {
    if (!sa.integKey) throw new Error("aes128-sha256 needs integKey");
    this.key = sa.encKey.slice();
    this.integKey = sa.integKey.slice();
  }

  encapsulate(inner: Uint8Array): Uint8Array {
    const seq = ++this.seq;
    const pad = padLength(inner.length, 16);
    const plain = new Uint8Array(inner.length + pad + 2);
    plain.set(inner);
    writeTrailer(plain, inner.length, pad, innerNextHeader(inner));
    const out = new Uint8Array(ESP_HEADER + CBC_IV + plain.length + HMAC_ICV);
    writeEspHeader(out, this.sa.spi, seq);
    const iv = this.random.take(CBC_IV);
    out.set(iv, ESP_HEADER);
    out.set(cbc(this.key, iv, { disablePadding: true }).encrypt(plain), ESP_HEADER + CBC_IV);
    const icvAt = out.length - HMAC_ICV;
    out.set(hmac(sha256, this.integKey, out.subarray(0, icvAt)).subarray(0, HMAC_ICV), icvAt);
    return out;
  }

  decapsulate(packet: Uint8Array): BaselineDecap {
    const bodyLength = packet.length - ESP_HEADER - CBC_IV - HMAC_ICV;
    if (bodyLength < 16 || bodyLength % 16 !== 0) throw new EspDropError("truncated");
    if (readU32(packet, 0) !== this.sa.spi >>> 0) throw new EspDropError("no-sa");
    const icvAt = packet.length - HMAC_ICV;
    const expected = hmac(sha256, this.integKey, packet.subarray(0, icvAt)).subarray(0, HMAC_ICV);
    if (!equalBytes(expected, packet.subarray(icvAt))) throw new EspDropError("integrity-failed");
    const iv = packet.subarray(ESP_HEADER, ESP_HEADER + CBC_IV);
    const plain = cbc(this.key, iv, { disablePadding: true }).decrypt(packet.subarray(ESP_HEADER + CBC_IV, icvAt));
    const { payloadLength, nextHeader } = readTrailer(plain);
    return { inner: plain.subarray(0, payloadLength), nextHeader, seq: readU32(packet, 4) };
  }
}

/** RFC 7634: nonce = salt ‖ IV (IV = seq), AAD = SPI ‖ seq. */
class NobleChachaEsp implements PerPacketEsp {
  readonly suite = "chacha20poly1305";
  private seq = 0;
  private readonly key: Uint8Array;
  private readonly nonce = new Uint8Array(12);
  constructor(private readonly sa: BaselineSa) {
    if (sa.encKey.length !== 36) throw new Error("chacha20poly1305 needs a 32-byte key and a 4-byte salt");
    this.key = sa.encKey.slice(0, 32);
    this.nonce.set(sa.encKey.subarray(32, 36));
  }

  encapsulate(inner: Uint8Array): Uint8Array {
    const seq = ++this.seq;
    const pad = padLength(inner.length, 4);
    const plain = new Uint8Array(inner.length + pad + 2);
    plain.set(inner);
    writeTrailer(plain, inner.length, pad, innerNextHeader(inner));
    const out = new Uint8Array(ESP_HEADER + SEQ_IV + plain.length + CHACHA_ICV);
    writeEspHeader(out, this.sa.spi, seq);
    writeSeqIv(out, ESP_HEADER, seq);
    this.nonce.set(out.subarray(ESP_HEADER, ESP_HEADER + SEQ_IV), 4);
    out.set(chacha20poly1305(this.key, this.nonce, out.subarray(0, ESP_HEADER)).encrypt(plain), ESP_HEADER + SEQ_IV);
    return out;
  }

  decapsulate(packet: Uint8Array): BaselineDecap {
    if (packet.length < ESP_HEADER + SEQ_IV + 2 + CHACHA_ICV) throw new EspDropError("truncated");
    if (readU32(packet, 0) !== this.sa.spi >>> 0) throw new EspDropError("no-sa");
    this.nonce.set(packet.subarray(ESP_HEADER, ESP_HEADER + SEQ_IV), 4);
    let plain: Uint8Array;
    try {
      plain = chacha20poly1305(this.key, this.nonce, packet.subarray(0, ESP_HEADER)).decrypt(
        packet.subarray(ESP_HEADER + SEQ_IV),
      );
    } catch {
      throw new EspDropError("integrity-failed");
    }
    const { payloadLength, nextHeader } = readTrailer(plain);
    return { inner: plain.subarray(0, payloadLength), nextHeader, seq: readU32(packet, 4) };
  }
}

/** RFC 3686 + RFC 4868: counter block nonce ‖ IV ‖ 1 (IV = seq), HMAC-SHA-256-128 over SPI..ciphertext. */
class NobleCtrHmacEsp implements PerPacketEsp {
  readonly suite = "aes128ctr-sha256";
  private seq = 0;
  private readonly key: Uint8Array;
  private readonly nonce: Uint8Array;
  private readonly integKey: Uint8Array;
  constructor(private readonly sa: BaselineSa) {
    if (!sa.integKey) throw new Error("aes128ctr-sha256 needs integKey");
    if (sa.encKey.length !== 20) throw new Error("aes128ctr-sha256 needs a 16-byte AES key and a 4-byte nonce");
    this.key = sa.encKey.slice(0, 16);
    this.nonce = sa.encKey.slice(16, 20);
    this.integKey = sa.integKey.slice();
  }

  encapsulate(inner: Uint8Array): Uint8Array {
    const seq = ++this.seq;
    const pad = padLength(inner.length, 4);
    const plain = new Uint8Array(inner.length + pad + 2);
    plain.set(inner);
    writeTrailer(plain, inner.length, pad, innerNextHeader(inner));
    const out = new Uint8Array(ESP_HEADER + SEQ_IV + plain.length + HMAC_ICV);
    writeEspHeader(out, this.sa.spi, seq);
    writeSeqIv(out, ESP_HEADER, seq);
    out.set(
      ctr(this.key, ctrBlock(this.nonce, out.subarray(ESP_HEADER, ESP_HEADER + SEQ_IV))).encrypt(plain),
      ESP_HEADER + SEQ_IV,
    );
    const icvAt = out.length - HMAC_ICV;
    out.set(hmac(sha256, this.integKey, out.subarray(0, icvAt)).subarray(0, HMAC_ICV), icvAt);
    return out;
  }

  decapsulate(packet: Uint8Array): BaselineDecap {
    if (packet.length < ESP_HEADER + SEQ_IV + 2 + HMAC_ICV) throw new EspDropError("truncated");
    if (readU32(packet, 0) !== this.sa.spi >>> 0) throw new EspDropError("no-sa");
    const icvAt = packet.length - HMAC_ICV;
    const expected = hmac(sha256, this.integKey, packet.subarray(0, icvAt)).subarray(0, HMAC_ICV);
    if (!equalBytes(expected, packet.subarray(icvAt))) throw new EspDropError("integrity-failed");
    const iv = packet.subarray(ESP_HEADER, ESP_HEADER + SEQ_IV);
    const plain = ctr(this.key, ctrBlock(this.nonce, iv)).decrypt(packet.subarray(ESP_HEADER + SEQ_IV, icvAt));
    const { payloadLength, nextHeader } = readTrailer(plain);
    return { inner: plain.subarray(0, payloadLength), nextHeader, seq: readU32(packet, 4) };
  }
}
