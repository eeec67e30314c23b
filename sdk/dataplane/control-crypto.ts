/// <reference path="../wasm/web-globals.d.ts" preserve="true" />
/**
 * One-shot AES-GCM, AES-CCM, ChaCha20-Poly1305, AES-CBC, HMAC and hashes for the control plane (IKEv2), run by the same
 * wasm primitives as the ESP hot path (assembly/control.ts), in an instance of their own so IKE
 * never touches packet memory. Arguments are copied into wasm scratch and the scratch is zeroed
 * after every call, so keys do not linger there.
 * @module
 */
import { loadDataplaneModule, type WasmSource } from "./wasm.ts";
import { DataplaneError } from "./errors.ts";
import { HashAlg } from "./suites.ts";
import type { DataplaneExports } from "./abi.generated.ts";

/** The control-plane calls of the module (assembly/control.ts). */
type ControlExports = Pick<
  DataplaneExports,
  | "memory"
  | "cc_buffer"
  | "cc_hmac"
  | "cc_hash"
  | "cc_gcm_seal"
  | "cc_gcm_open"
  | "cc_ccm_seal"
  | "cc_ccm_open"
  | "cc_cbc"
  | "cc_chacha_seal"
  | "cc_chacha_open"
>;

/**
 * A byte array for key material whose memory never moves. V8 keeps small typed arrays (64 bytes
 * or less, made by `new Uint8Array(n)` or `slice()`) inside its garbage-collected heap, and a
 * collection that moves one leaves the old bytes behind where `fill(0)` cannot reach them (seen:
 * 8 stale copies of each SK_e after two IKE rekeys). An explicit ArrayBuffer's store is allocated
 * outside that heap and stays put, so wiping it wipes the only copy.
 */
export function secretBytes(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}

/** Size of the blocks {@link secretPiece} cuts small secrets from. */
const PIECE_BLOCK_BYTES = 16384;
/** Largest request {@link secretPiece} serves from a block (bigger ones get their own ArrayBuffer). */
const PIECE_MAX_BYTES = 1024;
let pieceBlock = new ArrayBuffer(0);
let pieceAt = 0;

/**
 * Like {@link secretBytes} (memory that never moves, so wiping wipes the only copy), but cut from
 * a shared 16 KiB ArrayBuffer: an ArrayBuffer of its own costs about 1 µs and a finalizer, and an
 * IKE setup makes dozens of small keys and intermediates. The block is only ever bumped forward,
 * so no two pieces share a byte and a wiped piece is never handed out again; the block is freed
 * when its last piece is collected (so a long-lived SA's keys keep their block: about what one
 * setup cuts, a few KiB, per SA at worst). The result is a view at an offset: callers must not use its
 * `.buffer` as if it started there (use byteOffset, or take {@link secretBytes}).
 */
export function secretPiece(n: number): Uint8Array<ArrayBuffer> {
  if (n > PIECE_MAX_BYTES) return new Uint8Array(new ArrayBuffer(n));
  if (pieceAt + n > pieceBlock.byteLength) {
    pieceBlock = new ArrayBuffer(PIECE_BLOCK_BYTES);
    pieceAt = 0;
  }
  const out = new Uint8Array(pieceBlock, pieceAt, n);
  pieceAt += n;
  return out;
}

/** An AEAD export of the wasm (cc_gcm_*, cc_ccm_*, cc_chacha_*: the last argument unused by ChaCha). */
type AeadCall = (
  key: number,
  keyLen: number,
  nonce: number,
  aad: number,
  aadLen: number,
  src: number,
  dst: number,
  len: number,
  tag: number,
  tagLen: number,
) => number;

const DIGEST_BYTES: Record<number, number> = {
  [HashAlg.Sha1]: 20,
  [HashAlg.Sha256]: 32,
  [HashAlg.Sha384]: 48,
  [HashAlg.Sha512]: 64,
};
const align = (n: number): number => (n + 15) & ~15;

/** Control-plane crypto over the dataplane's wasm primitives. */
export class ControlCrypto {
  private readonly x: ControlExports;
  /** A view of the wasm memory, made again only when the memory grows (a new view costs per call). */
  #mem: Uint8Array;
  private constructor(x: ControlExports) {
    this.x = x;
    this.#mem = new Uint8Array(x.memory.buffer);
  }

  /** The wasm memory; call it after cc_buffer, which may grow it. */
  #view(): Uint8Array {
    if (this.#mem.buffer !== this.x.memory.buffer) this.#mem = new Uint8Array(this.x.memory.buffer);
    return this.#mem;
  }

  /** Instantiates from a module or bytes (see {@link WasmSource}); defaults to the packaged wasm. */
  static async create(src: WasmSource = {}): Promise<ControlCrypto> {
    const module = await loadDataplaneModule(src);
    return ControlCrypto.fromModule(module);
  }

  /** Synchronous instantiation from a compiled module. */
  static fromModule(module: WebAssembly.Module): ControlCrypto {
    const inst = new WebAssembly.Instance(module, {
      env: {
        abort: () => {
          throw new DataplaneError("WASM_LOAD", "control crypto aborted");
        },
      },
    });
    return new ControlCrypto(inst.exports as unknown as ControlExports);
  }

  /** Lays out `parts` (16-aligned) in scratch, plus `extra` output bytes; returns their offsets. */
  // One offset per part and per extra: the tuple types carry the counts to the callers.
  private place<const P extends readonly Uint8Array[], const E extends readonly number[]>(
    parts: P,
    extra: E,
  ): { offs: { [K in keyof P]: number }; outs: { [K in keyof E]: number }; base: number; total: number } {
    let total = 0;
    for (const p of parts) total += align(Math.max(p.length, 16));
    for (const n of extra) total += align(Math.max(n, 16));
    const base = this.x.cc_buffer(total);
    const mem = this.#view();
    const offs: number[] = [];
    let at = base;
    for (const p of parts) {
      mem.set(p, at);
      offs.push(at);
      at += align(Math.max(p.length, 16));
    }
    const outs: number[] = [];
    for (const n of extra) {
      outs.push(at);
      at += align(Math.max(n, 16));
    }
    return { offs: offs as { [K in keyof P]: number }, outs: outs as { [K in keyof E]: number }, base, total };
  }

  private take(ptr: number, n: number): Uint8Array {
    const out = secretPiece(n);
    out.set(this.#view().subarray(ptr, ptr + n));
    return out;
  }

  private wipe(base: number, total: number): void {
    this.#view().fill(0, base, base + total);
  }

  /** HMAC with SHA-1/256/384/512 (full-length output). */
  hmac(alg: HashAlg, key: Uint8Array, data: Uint8Array): Uint8Array {
    const n = DIGEST_BYTES[alg];
    if (!n) throw new DataplaneError("BAD_PROPOSAL", `unknown hash id ${alg}`);
    // place() for two inputs and one output, without its arrays: IKE runs a dozen HMACs per setup.
    const keyRoom = align(Math.max(key.length, 16));
    const dataRoom = align(Math.max(data.length, 16));
    const total = keyRoom + dataRoom + align(Math.max(n, 16));
    const base = this.x.cc_buffer(total);
    const mem = this.#view();
    mem.set(key, base);
    mem.set(data, base + keyRoom);
    const at = base + keyRoom + dataRoom;
    this.x.cc_hmac(alg, base, key.length, base + keyRoom, data.length, at);
    const out = secretPiece(n);
    out.set(mem.subarray(at, at + n));
    mem.fill(0, base, base + total);
    return out;
  }

  /**
   * prf+ of RFC 7296 §2.13 with HMAC-`alg` as the PRF: `length` bytes of T1 | T2 | ..., where
   * T1 = prf(K, S | 0x01) and Tn = prf(K, Tn-1 | S | n). Key and seed are laid out in scratch once;
   * each block goes from the HMAC output into the next round's input inside wasm memory, and the
   * scratch (key, every block) is zeroed before returning. At most 255 rounds (the caller checks).
   */
  prfPlus(alg: HashAlg, key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
    const n = DIGEST_BYTES[alg];
    if (!n) throw new DataplaneError("BAD_PROPOSAL", `unknown hash id ${alg}`);
    if (length > 255 * n) throw new DataplaneError("BAD_ARGUMENT", `prf+ cannot produce ${length} bytes`);
    const inLen = n + seed.length + 1;
    const { offs, outs, base, total } = this.place([key], [inLen, n]);
    const [input, t] = outs;
    const mem = this.#view();
    mem.set(seed, input + n);
    const out = secretPiece(length);
    for (let i = 1, at = 0; at < length; i++, at += n) {
      mem[input + inLen - 1] = i;
      // Round 1 has no previous block: its input starts at the seed.
      if (i === 1) this.x.cc_hmac(alg, offs[0], key.length, input + n, inLen - n, t);
      else this.x.cc_hmac(alg, offs[0], key.length, input, inLen, t);
      out.set(mem.subarray(t, t + Math.min(n, length - at)), at);
      mem.copyWithin(input, t, t + n);
    }
    this.wipe(base, total);
    return out;
  }

  /** Plain hash. */
  hash(alg: HashAlg, data: Uint8Array): Uint8Array {
    const n = DIGEST_BYTES[alg];
    if (!n) throw new DataplaneError("BAD_PROPOSAL", `unknown hash id ${alg}`);
    const { offs, outs, base, total } = this.place([data], [n]);
    this.x.cc_hash(alg, offs[0], data.length, outs[0]);
    const out = this.take(outs[0], n);
    this.wipe(base, total);
    return out;
  }

  /** AES-GCM: returns ciphertext ‖ tag (tagLen bytes). nonce is 12 bytes. */
  gcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, tagLen: number): Uint8Array {
    return this.#seal(
      this.x.cc_gcm_seal,
      key,
      nonce,
      aad,
      plaintext,
      tagLen,
      () => `AES-GCM: bad key (${key.length} bytes) or tag length ${tagLen}`,
    );
  }

  /** AES-GCM open of ciphertext ‖ tag; undefined when the tag does not verify (no plaintext is produced). */
  gcmOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    tagLen: number,
  ): Uint8Array | undefined {
    return this.#open(this.x.cc_gcm_open, key, nonce, aad, sealed, tagLen);
  }

  /** AES-CCM (RFC 5282): returns ciphertext ‖ tag (tagLen bytes: 8, 12 or 16). nonce is 11 bytes. */
  ccmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, tagLen: number): Uint8Array {
    return this.#seal(
      this.x.cc_ccm_seal,
      key,
      nonce,
      aad,
      plaintext,
      tagLen,
      () => `AES-CCM: bad key (${key.length} bytes) or tag length ${tagLen}`,
    );
  }

  /** AES-CCM open of ciphertext ‖ tag; undefined when the tag does not verify (no plaintext is returned). */
  ccmOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    tagLen: number,
  ): Uint8Array | undefined {
    return this.#open(this.x.cc_ccm_open, key, nonce, aad, sealed, tagLen);
  }

  /** ChaCha20-Poly1305 (RFC 8439): returns ciphertext ‖ 16-byte tag. key is 32 bytes, nonce 12. */
  chachaSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return this.#seal(
      this.x.cc_chacha_seal,
      key,
      nonce,
      aad,
      plaintext,
      16,
      () => `ChaCha20-Poly1305: key is ${key.length} bytes, must be 32`,
    );
  }

  /** ChaCha20-Poly1305 open of ciphertext ‖ 16-byte tag; undefined when the tag does not verify. */
  chachaOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    return this.#open(this.x.cc_chacha_open, key, nonce, aad, sealed, 16);
  }

  /**
   * The AEAD exports share one argument order (key, keyLen, nonce, aad, aadLen, src, dst, len, tag,
   * tagLen; ChaCha20-Poly1305 ignores the last): lay the inputs out, run, copy out, wipe scratch.
   */
  #seal(
    fn: AeadCall,
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    tagLen: number,
    why: () => string,
  ): Uint8Array {
    const { offs, outs, base, total } = this.place([key, nonce, aad, plaintext], [plaintext.length, 16]);
    const ok = fn(
      offs[0],
      key.length,
      offs[1],
      offs[2],
      aad.length,
      offs[3],
      outs[0],
      plaintext.length,
      outs[1],
      tagLen,
    );
    if (!ok) {
      this.wipe(base, total);
      throw new DataplaneError("BAD_KEY_LENGTH", why());
    }
    // Ciphertext and tag are public: copied straight out of scratch.
    const mem = this.#view();
    const out = new Uint8Array(plaintext.length + tagLen);
    out.set(mem.subarray(outs[0], outs[0] + plaintext.length));
    out.set(mem.subarray(outs[1], outs[1] + tagLen), plaintext.length);
    this.wipe(base, total);
    return out;
  }

  #open(
    fn: AeadCall,
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    tagLen: number,
  ): Uint8Array | undefined {
    if (sealed.length < tagLen) return undefined;
    const ct = sealed.subarray(0, sealed.length - tagLen);
    const tag = sealed.subarray(sealed.length - tagLen);
    const { offs, outs, base, total } = this.place([key, nonce, aad, ct, tag], [ct.length]);
    const ok = fn(offs[0], key.length, offs[1], offs[2], aad.length, offs[3], outs[0], ct.length, offs[4], tagLen);
    const out = ok ? this.take(outs[0], ct.length) : undefined;
    this.wipe(base, total);
    return out;
  }

  /** AES-CBC encrypt (length must be a multiple of 16; padding is the caller's). */
  cbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
    return this.cbc(1, key, iv, data);
  }

  /** AES-CBC decrypt (length must be a multiple of 16). */
  cbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
    return this.cbc(0, key, iv, data);
  }

  private cbc(dir: number, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
    const { offs, outs, base, total } = this.place([key, iv, data], [data.length]);
    const ok = this.x.cc_cbc(dir, offs[0], key.length, offs[1], offs[2], outs[0], data.length);
    if (!ok) {
      this.wipe(base, total);
      throw new DataplaneError(
        "BAD_KEY_LENGTH",
        `AES-CBC: bad key (${key.length} bytes) or length ${data.length} (not a multiple of 16)`,
      );
    }
    const out = this.take(outs[0], data.length);
    this.wipe(base, total);
    return out;
  }
}
