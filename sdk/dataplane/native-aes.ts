/**
 * The dataplane's native AES assist: AES from the runtime's node:crypto (OpenSSL) where the
 * runtime has it (Node, Deno, Bun), while framing, XOR, GHASH and HMAC stay in the wasm.
 * A batch run in native mode (assembly/esp/native-ks.ts) leaves in wasm memory, grouped in runs
 * of consecutive packets of one SA, the counter blocks of every AES-GCM and AES-CTR packet and a
 * copy of the ciphertext of every inbound AES-CBC packet (HMAC-SHA-256 suites); here each run is
 * put through ONE `update()` of that SA's reused AES-ECB object (no padding): encryption for the
 * counter blocks, decryption for CBC. That replaces the wasm's bitsliced AES for the batch. CBC
 * encryption stays in wasm (its 8-lane bitsliced CBC): it is serial within a packet, and one
 * native call per packet costs more than it saves.
 *
 * Found at run time with `globalThis.process.getBuiltinModule("crypto")` (the bare id: the
 * workerd consumer test refuses any quoted node-prefixed specifier in a worker bundle): nothing here
 * imports a node-prefixed module, so the core still loads in workerd and browsers, which keep the
 * pure-wasm path. A known-answer test (FIPS-197 C.1) must pass before it is used.
 *
 * Constant time: OpenSSL's AES runs on AES-NI (or its constant-time bitsliced/vector-permute
 * code on CPUs without it): no key- or data-dependent table lookups or branches. The inputs here
 * are public counter blocks; the JS side only copies and branches on lengths and SA slots.
 *
 * Key material: each AES-GCM and AES-CTR SA, and each inbound AES-CBC SA, has one native cipher
 * object, which holds the AES key schedule in
 * OpenSSL's memory (outside the JS heap and outside the wasm) for the life of the SA. removeSa()
 * drops it; OpenSSL cleanses the context when the object is garbage collected. The keystream
 * buffers update() returns are zeroed right after they are copied into wasm memory, and the wasm
 * wipes its keystream region at the end of every batch.
 * @module
 */

/** The part of a node:crypto Cipher used here. */
interface CipherLike {
  update(data: Uint8Array): Uint8Array;
  setAutoPadding(on: boolean): unknown;
}
/** The part of node:crypto used here. */
interface NodeCryptoAes {
  createCipheriv(algorithm: string, key: Uint8Array, iv: null): CipherLike;
  createDecipheriv(algorithm: string, key: Uint8Array, iv: null): CipherLike;
}

/** Options of the assist, `Dataplane.create({ nativeAes })`. */
export interface NativeAesOptions {
  /**
   * Smallest batch (sum of the packet bytes added) that goes through the native AES; smaller
   * batches take the pure-wasm path, where one native call costs more than it saves. Default
   * NATIVE_AES_MIN_BYTES.
   */
  minBytes?: number;
  /**
   * Most SAs with a native AES object at once (default NATIVE_AES_MAX_SAS). Each costs about 1 KB
   * of OpenSSL memory, so a dataplane of a million SAs would otherwise spend a gigabyte; SAs added
   * beyond the limit run on the wasm AES (per SA: a batch may mix both).
   */
  maxSas?: number;
}

/** Default of NativeAesOptions.maxSas. */
export const NATIVE_AES_MAX_SAS = 4096;

/**
 * Default dispatch threshold in bytes of a batch. Measured (bench/native-aes-crossover.ts, CPU
 * clock, Node 20 on AMD EPYC, native/wasm, two runs, after the i32x4.mul GHASH): 64 B × 8
 * 0.93-1.02×, 256 B × 2 0.69-0.85×, 256 B × 4 0.94-1.07×, 64 B × 16 1.19-1.28×, 1400 B × 1
 * 1.08-1.10×, 64+ packets 1.46-1.76×. Below about 1 KiB the fixed cost of the cipher call (about
 * 1 µs) is more than the wasm AES it saves (it was 512 B before GHASH got faster on both sides).
 */
export const NATIVE_AES_MIN_BYTES = 1024;

let nodeCrypto: NodeCryptoAes | null | undefined;

/** node:crypto of this runtime, or null. */
function getNodeCrypto(): NodeCryptoAes | null {
  if (nodeCrypto !== undefined) return nodeCrypto;
  nodeCrypto = null;
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const nc = proc?.getBuiltinModule?.("crypto") as NodeCryptoAes | undefined;
    if (nc && typeof nc.createCipheriv === "function" && typeof nc.createDecipheriv === "function" && selfTest(nc))
      nodeCrypto = nc;
  } catch {
    nodeCrypto = null;
  }
  return nodeCrypto;
}

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!, (b) => parseInt(b, 16));

/** FIPS-197 appendix C.1 (AES-128), twice in one update so multi-block calls are covered too. */
function selfTest(nc: NodeCryptoAes): boolean {
  const c = nc.createCipheriv("aes-128-ecb", hex("000102030405060708090a0b0c0d0e0f"), null);
  c.setAutoPadding(false);
  const pt = hex("00112233445566778899aabbccddeeff");
  const two = new Uint8Array(32);
  two.set(pt, 0);
  two.set(pt, 16);
  const out = c.update(two);
  const want = hex("69c4e0d86a7b0430d8cdb78070b4c55a");
  const d = nc.createDecipheriv("aes-128-ecb", hex("000102030405060708090a0b0c0d0e0f"), null);
  d.setAutoPadding(false);
  const back = d.update(out);
  return (
    out.length === 32 &&
    back.length === 32 &&
    want.every((v, i) => out[i] === v && out[16 + i] === v) &&
    pt.every((v, i) => back[i] === v && back[16 + i] === v)
  );
}

/** Per-SA native AES-ECB ciphers of one Dataplane. */
export class NativeAes {
  readonly #nc: NodeCryptoAes;
  readonly #ciphers = new Map<number, CipherLike>();
  /** Batches of fewer bytes take the wasm path. */
  readonly minBytes: number;
  /** Most SAs with a native object. */
  readonly maxSas: number;

  private constructor(nc: NodeCryptoAes, minBytes: number, maxSas: number) {
    this.#nc = nc;
    this.minBytes = minBytes;
    this.maxSas = maxSas;
  }

  /** The assist, or undefined when this runtime has no usable node:crypto AES. */
  static create(opts: NativeAesOptions = {}): NativeAes | undefined {
    const nc = getNodeCrypto();
    return nc ? new NativeAes(nc, opts.minBytes ?? NATIVE_AES_MIN_BYTES, opts.maxSas ?? NATIVE_AES_MAX_SAS) : undefined;
  }

  /**
   * Creates the ECB object of an SA from its AES key (16, 24 or 32 bytes, without salt or nonce):
   * an encryptor for counter blocks (GCM, CTR), a decryptor for inbound CBC. Returns false (and
   * creates nothing) when maxSas SAs have one already; throws when the runtime refuses the key.
   */
  add(slot: number, aesKey: Uint8Array, decrypt = false): boolean {
    if (this.#ciphers.size >= this.maxSas) return false;
    const alg = `aes-${aesKey.length * 8}-ecb`;
    const c = decrypt ? this.#nc.createDecipheriv(alg, aesKey, null) : this.#nc.createCipheriv(alg, aesKey, null);
    c.setAutoPadding(false);
    this.#ciphers.set(slot, c);
    return true;
  }

  /** Drops an SA's cipher (its key leaves with the native object). */
  remove(slot: number): void {
    this.#ciphers.delete(slot);
  }

  /** Whether the SA in `slot` has a cipher. */
  has(slot: number): boolean {
    return this.#ciphers.has(slot);
  }

  /**
   * Encrypts the batch's runs in place: `runs` records [slot, offset, bytes] (u32 LE each) of
   * counter blocks at `ks` + offset. Throws when a run names an SA without a cipher.
   */
  encryptRuns(u8: Uint8Array, dv: DataView, ks: number, runs: number, count: number): void {
    for (let r = 0; r < count; r++) {
      const rec = runs + r * 12;
      const slot = dv.getUint32(rec, true);
      const at = ks + dv.getUint32(rec + 4, true);
      const bytes = dv.getUint32(rec + 8, true);
      const c = this.#ciphers.get(slot);
      if (!c) throw new Error(`native AES: no cipher for SA slot ${slot}`);
      const out = c.update(u8.subarray(at, at + bytes));
      if (out.length !== bytes) throw new Error(`native AES: ${out.length} bytes for ${bytes}`);
      u8.set(out, at);
      out.fill(0);
    }
  }
}
