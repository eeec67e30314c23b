// What both per-packet baselines share: the ESP framing rules of RFC 4303 (padding, trailer,
// header fields). Kept apart from the crypto calls so each baseline file reads as "what a user
// writes today" and differs from the other only in the library it calls.

/** The suites the benchmark compares, spelled as strongSwan writes ESP proposals. */
export type BenchSuite = "aes128gcm16" | "aes128-sha256" | "chacha20poly1305" | "aes128ctr-sha256";

/** Every BenchSuite, in the order the tables show them. */
export const BENCH_SUITES: readonly BenchSuite[] = [
  "aes128gcm16",
  "aes128-sha256",
  "chacha20poly1305",
  "aes128ctr-sha256",
];

/** Key bytes per suite: encKey as `ip xfrm state` takes it (key ‖ salt/nonce) and the HMAC key (0: AEAD). */
export const SUITE_KEYS: Readonly<Record<BenchSuite, { encKey: number; integKey: number }>> = {
  aes128gcm16: { encKey: 20, integKey: 0 },
  "aes128-sha256": { encKey: 16, integKey: 32 },
  chacha20poly1305: { encKey: 36, integKey: 0 },
  "aes128ctr-sha256": { encKey: 20, integKey: 32 },
};

/** Fresh random keys for one SA of `suite` (the benchmark and its tests never reuse keys across runs). */
export function randomBaselineSa(suite: BenchSuite, spi: number): BaselineSa {
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  const k = SUITE_KEYS[suite];
  return k.integKey
    ? { spi, encKey: random(k.encKey), integKey: random(k.integKey) }
    : { spi, encKey: random(k.encKey) };
}

/** Keys of one tunnel-mode SA, in the layout `ip xfrm state` and our dataplane take. */
export interface BaselineSa {
  spi: number;
  /**
   * aes128gcm16: 16-byte AES key ‖ 4-byte salt (RFC 4106). aes128-sha256: 16-byte AES key.
   * chacha20poly1305: 32-byte key ‖ 4-byte salt (RFC 7634). aes128ctr-sha256: 16-byte AES key ‖ 4-byte nonce (RFC 3686).
   */
  encKey: Uint8Array;
  /** The HMAC suites only: 32-byte HMAC-SHA-256 key (ICV truncated to 16 bytes, RFC 4868). */
  integKey?: Uint8Array;
}

/** What a baseline's decapsulation hands back. */
export interface BaselineDecap {
  inner: Uint8Array;
  nextHeader: number;
  /** The 32-bit sequence number from the wire. */
  seq: number;
}

/** A per-packet ESP implementation (tunnel mode, no ESN). Decapsulation throws on any bad packet. */
export interface PerPacketEsp {
  readonly suite: BenchSuite;
  /** Inner IP packet -> ESP bytes (SPI .. ICV); the sequence number counts up from 1. */
  encapsulate(inner: Uint8Array): Uint8Array;
  /** ESP bytes (SPI .. ICV) -> inner packet, after the ICV and the trailer checked out. */
  decapsulate(packet: Uint8Array): BaselineDecap;
}

export const ESP_HEADER = 8;
export const GCM_IV = 8;
export const GCM_ICV = 16;
export const CBC_IV = 16;
export const HMAC_ICV = 16;
/** RFC 7634 and RFC 3686: an 8-byte explicit IV (we use the sequence number, as our encoder does). */
export const SEQ_IV = 8;
export const CHACHA_ICV = 16;

/** Thrown by the baselines for packets a receiver must drop. */
export class EspDropError extends Error {}

/** Next Header for an inner packet: 4 for IPv4, 41 for IPv6 (RFC 4303 tunnel mode). */
export function innerNextHeader(inner: Uint8Array): number {
  return inner.length > 0 && inner[0]! >> 4 === 6 ? 41 : 4;
}

/** Padding so that payload ‖ pad ‖ padLength ‖ nextHeader is a multiple of `align` (RFC 4303 §2.4). */
export function padLength(payloadLength: number, align: number): number {
  return (align - ((payloadLength + 2) % align)) % align;
}

/** Writes pad bytes 1,2,3,… then pad length and next header at `at` (the end of the payload). */
export function writeTrailer(buf: Uint8Array, at: number, pad: number, nextHeader: number): void {
  for (let i = 0; i < pad; i++) buf[at + i] = i + 1;
  buf[at + pad] = pad;
  buf[at + pad + 1] = nextHeader;
}

/** Checks the decrypted trailer (monotonic padding, RFC 4303 §2.4) and returns the payload length. */
export function readTrailer(plain: Uint8Array): { payloadLength: number; nextHeader: number } {
  if (plain.length < 2) throw new EspDropError("truncated");
  const pad = plain[plain.length - 2];
  const payloadLength = plain.length - 2 - pad!;
  if (payloadLength < 0) throw new EspDropError("bad-padding");
  for (let i = 0; i < pad!; i++) if (plain[payloadLength + i] !== i + 1) throw new EspDropError("bad-padding");
  return { payloadLength, nextHeader: plain[plain.length - 1]! };
}

/** SPI ‖ 32-bit sequence number, big-endian. */
export function writeEspHeader(buf: Uint8Array, spi: number, seq: number): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setUint32(0, spi >>> 0);
  view.setUint32(4, seq >>> 0);
}

/** Big-endian u32 at `at`. */
export function readU32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

/** Writes the 64-bit sequence number (high half 0 without ESN) as the 8-byte IV at `at`. */
export function writeSeqIv(buf: Uint8Array, at: number, seq: number): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setUint32(at, 0);
  view.setUint32(at + 4, seq >>> 0);
}

/** RFC 3686 §4 counter block: nonce ‖ IV ‖ block counter 1, big-endian. */
export function ctrBlock(nonce: Uint8Array, iv: Uint8Array): Uint8Array {
  const block = new Uint8Array(16);
  block.set(nonce);
  block.set(iv, 4);
  block[15] = 1;
  return block;
}

/** Random bytes drawn from a pool refilled in bulk, as a careful user would do for CBC IVs. */
export class RandomPool {
  private pool = new Uint8Array(4096);
  private used = this.pool.length;
  take(n: number): Uint8Array {
    if (this.used + n > this.pool.length) {
      crypto.getRandomValues(this.pool);
      this.used = 0;
    }
    const out = this.pool.subarray(this.used, this.used + n);
    this.used += n;
    return out;
  }
}
