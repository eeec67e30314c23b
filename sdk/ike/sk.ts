/**
 * The Encrypted payload (RFC 7296 §3.14) and Encrypted Fragments (RFC 7383 §2.5), for the two
 * IKE ciphers we negotiate: AES-GCM and AES-CCM (RFC 5282: 8-byte explicit IV, nonce = salt | IV
 * with a 4-byte GCM or 3-byte CCM salt, the AAD is the IKE header and the SK header), ChaCha20-Poly1305 (RFC 7634 §3: the same construction with a
 * 32-byte key, 4-byte salt and 16-byte ICV) and AES-CBC with HMAC (16-byte random IV, ICV = truncated HMAC
 * over the whole message up to the ICV). Crypto runs in the wasm (ControlCrypto).
 * @module
 */
import type { ControlCrypto } from "../dataplane/control-crypto.ts";
import type { HashAlg } from "../dataplane/suites.ts";
import { CIPHERS, INTEGS } from "../dataplane/suite-registry.ts";
import { encodeHeader, payloadHeaderBytes } from "./codec.ts";
import { concat, concatPublic } from "./keys.ts";
import { byteAt } from "../packet/bytes.ts";
import { PayloadType, type IkeHeader } from "./message.ts";

/** ENCR ids (IANA Transform Type 1) this module implements. */
export const ENCR = {
  AES_CBC: 12,
  AES_CCM_8: 14,
  AES_CCM_12: 15,
  AES_CCM_16: 16,
  AES_GCM_8: 18,
  AES_GCM_12: 19,
  AES_GCM_16: 20,
  CHACHA20_POLY1305: 28,
} as const;
/** INTEG ids (IANA Transform Type 3) with their hash and ICV length (the suite registry's rows). */
export const INTEG: Record<number, { alg: HashAlg; keyBytes: number; icv: number }> = Object.fromEntries(
  INTEGS.map((r) => [r.iana, { alg: r.hash, keyBytes: r.keyBytes, icv: r.icvBytes }]),
);

/** One direction's SK protection. */
export class SkCipher {
  readonly aead: boolean;
  readonly icvBytes: number;
  readonly ivBytes: number;
  readonly encrId: number;
  readonly integId: number | undefined;
  private readonly cc: ControlCrypto;
  private readonly encKey: Uint8Array;
  private readonly integKey: Uint8Array;
  private readonly random: (n: number) => Uint8Array;
  /** Bytes of salt at the end of SK_e (the suite registry's row: 4 GCM/ChaCha20, 3 CCM, 0 CBC). */
  private readonly saltBytes: number;
  #ivCounter = 0;

  /**
   * @param encKey SK_e (GCM: key | 4-byte salt)
   * @param integKey SK_a (empty for GCM)
   */
  constructor(
    cc: ControlCrypto,
    encrId: number,
    encKey: Uint8Array,
    integId: number | undefined,
    integKey: Uint8Array,
    random: (n: number) => Uint8Array,
  ) {
    this.cc = cc;
    this.encrId = encrId;
    this.encKey = encKey;
    this.integId = integId;
    this.integKey = integKey;
    this.random = random;
    this.aead = encrId !== ENCR.AES_CBC;
    const row = CIPHERS.find((r) => r.iana === encrId);
    this.saltBytes = row?.saltBytes ?? 0;
    this.icvBytes = this.aead ? (row?.icvBytes ?? 0) : (INTEG[integId ?? -1]?.icv ?? 0);
    this.ivBytes = this.aead ? 8 : 16;
  }

  /** The HMAC of an AES-CBC SK: CBC always comes with an INTEG transform (AEADs have none). */
  #hmacAlg(): HashAlg {
    const integ = INTEG[this.integId ?? -1];
    if (!integ) throw new RangeError(`an AES-CBC SK needs a known INTEG transform, got ${this.integId}`);
    return integ.alg;
  }

  private isCcm(): boolean {
    return this.encrId === ENCR.AES_CCM_8 || this.encrId === ENCR.AES_CCM_12 || this.encrId === ENCR.AES_CCM_16;
  }

  /** Bytes the SK body adds around a plaintext of n bytes (IV, padding, pad length, ICV). */
  overhead(n: number): number {
    return this.ivBytes + this.padded(n) - n + this.icvBytes;
  }

  private padded(n: number): number {
    // GCM needs no block alignment (RFC 5282 §3: padding optional); CBC pads plaintext|padlen to 16.
    return this.aead ? n + 1 : (n + 1 + 15) & ~15;
  }

  private nextIv(): Uint8Array {
    if (!this.aead) return this.random(16);
    // RFC 5282 §3.1: the IV must never repeat under one key; a counter guarantees it.
    // A Number counts exactly to 2^53, far past the 2^32 message IDs one key protects.
    const c = ++this.#ivCounter;
    const hi = Math.floor(c / 0x100000000),
      lo = c >>> 0;
    return Uint8Array.of(
      hi >>> 24,
      (hi >>> 16) & 255,
      (hi >>> 8) & 255,
      hi & 255,
      lo >>> 24,
      (lo >>> 16) & 255,
      (lo >>> 8) & 255,
      lo & 255,
    );
  }

  /**
   * Builds a whole protected message: header | [outer payloads] | SK(or SKF) header | IV | ct | ICV.
   * `fragment` gives the SKF numbers (RFC 7383); innerType is the first inner payload (0 in fragments > 1).
   */
  seal(
    header: Omit<IkeHeader, "length" | "nextPayload">,
    innerType: number,
    plaintext: Uint8Array,
    fragment?: { number: number; total: number },
  ): Uint8Array {
    const padLen = this.padded(plaintext.length) - plaintext.length - 1;
    const body = new Uint8Array(plaintext.length + padLen + 1);
    body.set(plaintext);
    body[body.length - 1] = padLen;
    const skHeaderLen = fragment ? 8 : 4;
    const skLen = skHeaderLen + this.ivBytes + body.length + this.icvBytes;
    const total = 28 + skLen;
    const hdr = encodeHeader(header, fragment ? PayloadType.SKF : PayloadType.SK, total);
    let skHdr = payloadHeaderBytes(innerType, skLen);
    if (fragment) {
      const f = new Uint8Array(4);
      new DataView(f.buffer).setUint16(0, fragment.number);
      new DataView(f.buffer).setUint16(2, fragment.total);
      skHdr = concatPublic(skHdr, f);
    }
    const iv = this.nextIv();
    if (this.aead) {
      const aad = concatPublic(hdr, skHdr);
      const nonce = concat(this.encKey.subarray(this.encKey.length - this.saltBytes), iv);
      const key = this.encKey.subarray(0, this.encKey.length - this.saltBytes);
      const sealed =
        this.encrId === ENCR.CHACHA20_POLY1305
          ? this.cc.chachaSeal(key, nonce, aad, body)
          : this.isCcm()
            ? this.cc.ccmSeal(key, nonce, aad, body, this.icvBytes)
            : this.cc.gcmSeal(key, nonce, aad, body, this.icvBytes);
      return concatPublic(aad, iv, sealed);
    }
    const ct = this.cc.cbcEncrypt(this.encKey, iv, body);
    const signed = concatPublic(hdr, skHdr, iv, ct);
    const icv = this.cc.hmac(this.#hmacAlg(), this.integKey, signed).subarray(0, this.icvBytes);
    return concatPublic(signed, icv);
  }

  /**
   * Verifies and decrypts the SK/SKF payload that ends `message` (its body is the last
   * `bodyLength` bytes). Returns the inner plaintext without padding, or a reason.
   */
  open(message: Uint8Array, bodyLength: number): { ok: true; plaintext: Uint8Array } | { ok: false; reason: string } {
    const bodyStart = message.length - bodyLength;
    if (bodyLength < this.ivBytes + this.icvBytes + 1)
      return { ok: false, reason: `encrypted payload of ${bodyLength} bytes is shorter than IV + ICV` };
    const iv = message.subarray(bodyStart, bodyStart + this.ivBytes);
    const ctAndIcv = message.subarray(bodyStart + this.ivBytes);
    let body: Uint8Array | undefined;
    if (this.aead) {
      const nonce = concat(this.encKey.subarray(this.encKey.length - this.saltBytes), iv);
      const key = this.encKey.subarray(0, this.encKey.length - this.saltBytes);
      const chacha = this.encrId === ENCR.CHACHA20_POLY1305;
      const aad = message.subarray(0, bodyStart);
      body = chacha
        ? this.cc.chachaOpen(key, nonce, aad, ctAndIcv)
        : this.isCcm()
          ? this.cc.ccmOpen(key, nonce, aad, ctAndIcv, this.icvBytes)
          : this.cc.gcmOpen(key, nonce, aad, ctAndIcv, this.icvBytes);
      if (!body)
        return {
          ok: false,
          reason: `integrity check failed (${chacha ? "ChaCha20-Poly1305" : this.isCcm() ? "AES-CCM" : "AES-GCM"} tag mismatch)`,
        };
    } else {
      const icvAt = message.length - this.icvBytes;
      const expected = this.cc
        .hmac(this.#hmacAlg(), this.integKey, message.subarray(0, icvAt))
        .subarray(0, this.icvBytes);
      let diff = 0;
      for (let i = 0; i < this.icvBytes; i++) diff |= byteAt(expected, i) ^ byteAt(message, icvAt + i);
      if (diff !== 0) return { ok: false, reason: "integrity check failed (HMAC mismatch)" };
      const ct = message.subarray(bodyStart + this.ivBytes, icvAt);
      if (ct.length % 16 !== 0 || ct.length === 0)
        return { ok: false, reason: `ciphertext of ${ct.length} bytes is not whole AES blocks` };
      body = this.cc.cbcDecrypt(this.encKey, iv, ct);
    }
    const padLen = byteAt(body, body.length - 1);
    if (padLen + 1 > body.length)
      return { ok: false, reason: `pad length ${padLen} exceeds the decrypted ${body.length} bytes` };
    return { ok: true, plaintext: body.subarray(0, body.length - 1 - padLen) };
  }
}
