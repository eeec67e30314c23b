/**
 * The ESP dataplane: Security Associations and batched encapsulation/decapsulation in wasm.
 * Keys are copied into wasm memory once (staging area wiped right after) and never leave it.
 * @module
 */
import { DataplaneError } from "./errors.ts";
import { parseSuite, SuiteKind, type Suite } from "./suites.ts";
import { loadDataplaneModule, type WasmSource } from "./wasm.ts";
import {
  STATUS_NAMES, type DecapResult, type EncapResult, type GlobalStats, type SaConfig, type SaHandle,
  type SaStats, type Status,
} from "./types.ts";

export { DataplaneError } from "./errors.ts";

/** Sizes of the wasm regions, fixed for the life of a Dataplane. */
export interface DataplaneOptions extends WasmSource {
  /** Most SAs alive at once (default 4096; 1,000,000 fits). */
  maxSas?: number;
  /** Most packets in one batch call (default 256). */
  batchSize?: number;
  /** Bytes per packet slot in the arena, multiple of 16 (default 2176: a 2048-byte packet after head/tailroom). */
  slotBytes?: number;
}

interface Exports {
  memory: WebAssembly.Memory;
  init(nSas: number, nBatch: number, slot: number, seed: number): number;
  sa_add(spi: number, flags: number, kind: number, encLen: number, integLen: number, hash: number,
    icv: number, window: number, seqLo: number, seqHi: number): number;
  sa_remove(slot: number): number;
  sa_lookup(spi: number): number;
  icv_probe(i: number): number;
  encap_batch(n: number): number;
  decap_batch(n: number): number;
  sa_meta_ptr(slot: number): number;
  arena_ptr(): number;
  desc_ptr(): number;
  iv_pool_ptr(): number;
  key_stage_ptr(): number;
  global_counters_ptr(): number;
  layout_sa_meta_bytes(): number;
  layout_desc_bytes(): number;
  layout_headroom(): number;
  layout_tailroom(): number;
}

// Must match assembly/sad/layout.ts.
const F_INBOUND = 2, F_TRANSPORT = 4, F_ESN = 8;
const M_SEQ = 32, M_WINDOW = 40, M_BITMAP = 44, M_BITMAP_BLOCKS = 48, M_PACKETS = 96, M_BYTES = 104, M_DROPS = 112;
const D_IN_OFF = 0, D_IN_LEN = 4, D_SA = 8, D_STATUS = 12, D_OUT_OFF = 16, D_OUT_LEN = 20, D_SEQ = 24,
  D_SPI = 32, D_L3_LEN = 36, D_NEXT_HDR = 40;
const STAGE_INTEG_OFF = 128;

const ADD_ERRORS: Record<number, [DataplaneError["code"], string]> = {
  [-1]: ["NO_FREE_SLOT", "no free SA slot: raise maxSas when creating the Dataplane"],
  [-2]: ["DUPLICATE_SPI", "an inbound SA with this SPI already exists"],
  [-3]: ["BAD_KEY_LENGTH", "encryption key length rejected"],
  [-4]: ["BAD_WINDOW", "replay window must be 0 (off) or 32..4096"],
  [-5]: ["OUT_OF_MEMORY", "wasm memory cannot grow for this SA's keys"],
  [-6]: ["BAD_ICV_LENGTH", "ICV length rejected"],
  [-7]: ["BAD_KEY_LENGTH", "integrity key length rejected"],
  [-8]: ["BAD_PROPOSAL", "suite rejected by the dataplane"],
};

interface SaInfo { config: SaConfig; suite: Suite; icv: number; window: number }

const hexSpi = (spi: number): string => `0x${(spi >>> 0).toString(16).padStart(8, "0")}`;

/**
 * A batch of packets in the wasm packet arena: add packets (one copy in), run one
 * encapsulate/decapsulate call for all of them, then read statuses and zero-copy output views.
 */
export class PacketBatch {
  /** Packets added since the last reset. */
  length = 0;
  /** @internal true when an added packet uses a CBC SA (needs random IVs). */
  needsIv = false;
  readonly #dp: Dataplane;
  /** @internal */
  constructor(dp: Dataplane) { this.#dp = dp; }

  /** Empties the batch (outputs of the previous run become invalid). */
  reset(): void { this.length = 0; this.needsIv = false; }

  /**
   * Copies a packet into the next arena slot. For encapsulation `sa` is the outbound SA's handle;
   * for decapsulation `l3HeaderLength` is the number of IP (+UDP) header bytes before the SPI.
   * Returns the packet's index in the batch. Packets larger than the slot are not copied and come
   * back with status `too-big`.
   */
  add(bytes: Uint8Array, sa: SaHandle = -1, l3HeaderLength = 0): number {
    return this.#dp._stage(this, bytes, sa, l3HeaderLength);
  }

  /** Verdict of packet i after a run. */
  status(i: number): Status { return STATUS_NAMES[this.#dp._u32(i, D_STATUS)] ?? "invalid-sa"; }
  /** Output bytes of packet i: a view into wasm memory, valid until the next run or reset. Empty unless ok. */
  output(i: number): Uint8Array { return this.#dp._output(i); }
  /** Sequence number of packet i (64-bit with ESN). */
  seq(i: number): bigint { return this.#dp._u64(i, D_SEQ); }
  /** SPI of packet i. */
  spi(i: number): number { return this.#dp._u32(i, D_SPI); }
  /** SA handle that processed packet i, or -1. */
  sa(i: number): SaHandle { return this.#dp._u32(i, D_SA) | 0; }
  /** Next Header of packet i (from the ESP trailer). */
  nextHeader(i: number): number { return this.#dp._u32(i, D_NEXT_HDR); }
}

/** An ESP dataplane instance: its own wasm memory, SAs, counters and packet arena. */
export class Dataplane {
  readonly #x: Exports;
  readonly #sas = new Map<SaHandle, SaInfo>();
  readonly #maxSas: number;
  readonly #batchSize: number;
  readonly #slotBytes: number;
  readonly #headroom: number;
  readonly #maxPacket: number;
  readonly #arena: number;
  readonly #desc: number;
  readonly #descBytes: number;
  readonly #metaBytes: number;
  readonly #metaBase: number;
  #buf: ArrayBuffer;
  #u8: Uint8Array;
  #dv: DataView;
  /** The batch bound to this dataplane's arena (one batch at a time). */
  readonly batch: PacketBatch;

  private constructor(x: Exports, maxSas: number, batchSize: number, slotBytes: number) {
    this.#x = x;
    this.#maxSas = maxSas;
    this.#batchSize = batchSize;
    this.#slotBytes = slotBytes;
    this.#headroom = x.layout_headroom();
    this.#maxPacket = slotBytes - this.#headroom - x.layout_tailroom();
    this.#arena = x.arena_ptr();
    this.#desc = x.desc_ptr();
    this.#descBytes = x.layout_desc_bytes();
    this.#metaBytes = x.layout_sa_meta_bytes();
    this.#metaBase = x.sa_meta_ptr(0);
    this.#buf = x.memory.buffer;
    this.#u8 = new Uint8Array(this.#buf);
    this.#dv = new DataView(this.#buf);
    this.batch = new PacketBatch(this);
  }

  /** Instantiates the wasm dataplane. Runs in Node, Deno, Bun and workerd (pass `module` there). */
  static async create(opts: DataplaneOptions = {}): Promise<Dataplane> {
    const maxSas = opts.maxSas ?? 4096;
    const batchSize = opts.batchSize ?? 256;
    const slotBytes = opts.slotBytes ?? 2176;
    if (!Number.isInteger(maxSas) || maxSas < 1 || maxSas > 4_000_000) {
      throw new DataplaneError("BAD_ARGUMENT", `maxSas must be an integer 1..4000000, got ${maxSas}`);
    }
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 65536) {
      throw new DataplaneError("BAD_ARGUMENT", `batchSize must be an integer 1..65536, got ${batchSize}`);
    }
    if (!Number.isInteger(slotBytes) || slotBytes < 256 || slotBytes % 16 !== 0 || slotBytes > 1 << 20) {
      throw new DataplaneError("BAD_ARGUMENT", `slotBytes must be a multiple of 16 in 256..1048576, got ${slotBytes}`);
    }
    const module = await loadDataplaneModule(opts);
    const instance = await WebAssembly.instantiate(module, {
      env: { abort: () => { throw new DataplaneError("WASM_LOAD", "dataplane aborted"); } },
    });
    const x = instance.exports as unknown as Exports;
    const seed = crypto.getRandomValues(new Uint32Array(1))[0];
    if (x.init(maxSas, batchSize, slotBytes, seed) !== 0) {
      throw new DataplaneError("OUT_OF_MEMORY", `cannot reserve memory for ${maxSas} SAs and ${batchSize}×${slotBytes} B`);
    }
    return new Dataplane(x, maxSas, batchSize, slotBytes);
  }

  /** Number of SAs installed. */
  get saCount(): number { return this.#sas.size; }
  /** Largest packet (bytes) one arena slot takes. */
  get maxPacketBytes(): number { return this.#maxPacket; }
  /** Most packets per batch. */
  get batchSize(): number { return this.#batchSize; }

  /**
   * Installs an SA. Throws DataplaneError (and changes nothing) when the proposal keyword, a key
   * length, the ICV length, the SPI, the window or the sequence number is not acceptable.
   */
  addSa(cfg: SaConfig): SaHandle {
    const suite = parseSuite(cfg.esp);
    const spi = cfg.spi;
    if (!Number.isInteger(spi) || spi < 256 || spi > 0xffffffff) {
      throw new DataplaneError("BAD_SPI", `SPI ${spi} is not allowed: use 256..0xffffffff (0..255 are reserved, RFC 4303 §2.1)`);
    }
    if (cfg.direction !== "in" && cfg.direction !== "out") {
      throw new DataplaneError("BAD_ARGUMENT", `direction must be "in" or "out", got ${String(cfg.direction)}`);
    }
    if (cfg.mode !== "tunnel" && cfg.mode !== "transport") {
      throw new DataplaneError("BAD_ARGUMENT", `mode must be "tunnel" or "transport", got ${String(cfg.mode)}`);
    }
    const encKey = cfg.encKey ?? new Uint8Array(0);
    if (encKey.length !== suite.encKeyBytes) {
      const what = suite.kind === SuiteKind.Gcm
        ? `${suite.aesKeyBytes}-byte AES key followed by the 4-byte salt`
        : suite.kind === SuiteKind.NullHmac ? "no key (NULL encryption)" : `${suite.aesKeyBytes}-byte AES key`;
      throw new DataplaneError("BAD_KEY_LENGTH",
        `${suite.name}: encKey is ${encKey.length} bytes; it must be ${suite.encKeyBytes} (${what})`);
    }
    const integKey = cfg.integKey ?? new Uint8Array(0);
    if (integKey.length !== suite.integKeyBytes) {
      throw new DataplaneError("BAD_KEY_LENGTH", suite.integKeyBytes === 0
        ? `${suite.name}: AES-GCM has no separate integrity key, but integKey has ${integKey.length} bytes`
        : `${suite.name}: integKey is ${integKey.length} bytes; it must be ${suite.integKeyBytes} (RFC 2404/4868: the hash output length)`);
    }
    const icv = cfg.icvLength ?? suite.icvBytes;
    if (!suite.allowedIcv.includes(icv)) {
      throw new DataplaneError("BAD_ICV_LENGTH",
        `${suite.name}: ICV length ${icv} bytes is not allowed; allowed: ${suite.allowedIcv.join(", ")} bytes`);
    }
    const esn = cfg.esn ?? suite.esn;
    const window = cfg.direction === "in" ? (cfg.replayWindow ?? 64) : 0;
    if (!Number.isInteger(window) || (window !== 0 && (window < 32 || window > 4096))) {
      throw new DataplaneError("BAD_WINDOW", `replay window ${window} is not allowed: use 32..4096 packets, or 0 to turn replay protection off`);
    }
    const seq = cfg.seq ?? 0n;
    const seqMax = esn ? 0xffffffffffffffffn : 0xffffffffn;
    if (typeof seq !== "bigint" || seq < 0n || seq > seqMax) {
      throw new DataplaneError("BAD_SEQ", `seq must be a bigint 0..${seqMax} ${esn ? "(64-bit, ESN)" : "(32-bit without ESN)"}`);
    }
    const flags = (cfg.direction === "in" ? F_INBOUND : 0) | (cfg.mode === "transport" ? F_TRANSPORT : 0) | (esn ? F_ESN : 0);

    const stage = this.#x.key_stage_ptr();
    this.#view();
    this.#u8.set(encKey, stage);
    this.#u8.set(integKey, stage + STAGE_INTEG_OFF);
    const slot = this.#x.sa_add(spi >>> 0, flags, suite.kind, encKey.length, integKey.length, suite.hash,
      icv, window, Number(seq & 0xffffffffn), Number(seq >> 32n));
    this.#view();
    this.#u8.fill(0, stage, stage + 256);
    if (slot < 0) {
      const [code, msg] = ADD_ERRORS[slot] ?? ["BAD_ARGUMENT", `rejected (${slot})`];
      throw new DataplaneError(code, `SA ${hexSpi(spi)} (${suite.name}): ${msg}`);
    }
    this.#sas.set(slot, { config: { ...cfg, encKey: new Uint8Array(0), integKey: undefined }, suite, icv, window });
    return slot;
  }

  /** Deletes an SA; its keys and replay state are zeroed in wasm memory. */
  removeSa(h: SaHandle): void {
    this.#info(h);
    this.#x.sa_remove(h);
    this.#sas.delete(h);
  }

  /** Encapsulates one packet (uses and resets `batch`). */
  encapsulate(h: SaHandle, inner: Uint8Array): EncapResult {
    return this.encapsulateBatch(h, [inner])[0];
  }

  /** Decapsulates one packet (uses and resets `batch`). */
  decapsulate(packet: Uint8Array, l3HeaderLength = 0): DecapResult {
    return this.decapsulateBatch([packet], [l3HeaderLength])[0];
  }

  /** Encapsulates packets with one SA; outputs are copies. Splits into arena-sized batches. */
  encapsulateBatch(h: SaHandle, inners: Uint8Array[]): EncapResult[] {
    this.#info(h);
    const out: EncapResult[] = [];
    const b = this.batch;
    for (let start = 0; start < inners.length; start += this.#batchSize) {
      b.reset();
      const end = Math.min(inners.length, start + this.#batchSize);
      for (let i = start; i < end; i++) b.add(inners[i], h);
      this.runEncapsulate(b);
      for (let i = 0; i < b.length; i++) {
        const status = b.status(i);
        out.push(status === "ok" ? { status, seq: b.seq(i), packet: b.output(i).slice() } : { status, seq: b.seq(i) });
      }
    }
    b.reset();
    return out;
  }

  /** Decapsulates packets (SA found by SPI); outputs are copies. */
  decapsulateBatch(packets: Uint8Array[], l3HeaderLengths?: number[]): DecapResult[] {
    const out: DecapResult[] = [];
    const b = this.batch;
    for (let start = 0; start < packets.length; start += this.#batchSize) {
      b.reset();
      const end = Math.min(packets.length, start + this.#batchSize);
      for (let i = start; i < end; i++) b.add(packets[i], -1, l3HeaderLengths?.[i] ?? 0);
      this.runDecapsulate(b);
      for (let i = 0; i < b.length; i++) {
        const status = b.status(i);
        const r: DecapResult = { status, spi: b.spi(i), seq: b.seq(i), sa: b.sa(i), nextHeader: b.nextHeader(i) };
        if (status === "ok") r.payload = b.output(i).slice();
        out.push(r);
      }
    }
    b.reset();
    return out;
  }

  /** Encapsulates every packet of the batch in one wasm call. */
  runEncapsulate(b: PacketBatch): number {
    if (b.needsIv) {
      this.#view();
      const pool = this.#x.iv_pool_ptr();
      crypto.getRandomValues(this.#u8.subarray(pool, pool + b.length * 16));
    }
    return this.#x.encap_batch(b.length);
  }

  /** Decapsulates every packet of the batch in one wasm call. */
  runDecapsulate(b: PacketBatch): number {
    const n = this.#x.decap_batch(b.length);
    for (const fn of this.#decapObservers) fn(b);
    return n;
  }

  readonly #decapObservers = new Set<(b: PacketBatch) => void>();

  /**
   * Calls `fn` after every decapsulation run, while the batch's statuses, SPIs and (for packets
   * that failed their ICV) the untouched input bytes are still in the arena. Diagnostics use it
   * (the ICV-truncation detector); it must not run another batch. Returns the unsubscribe function.
   */
  observeDecapsulation(fn: (b: PacketBatch) => void): () => void {
    this.#decapObservers.add(fn);
    return () => this.#decapObservers.delete(fn);
  }

  /**
   * For packet i of the batch just decapsulated, when it failed its HMAC ICV: the ICV lengths in
   * bytes at which it would have verified with its SA's key (empty when none). Recomputes the
   * MAC in wasm; call it for a rate-limited sample only.
   */
  icvProbe(i: number): number[] {
    const mask = this.#x.icv_probe(i) >>> 0;
    const out: number[] = [];
    for (let k = 1; k < 32; k++) if (mask & (1 << k)) out.push(4 * k);
    return out;
  }

  /**
   * The inbound anti-replay window of an SA, as `ip -s xfrm state` shows it: the highest
   * sequence number accepted, the window size and the raw bitmap (little-endian u64 blocks of a
   * ring indexed by sequence number / 64; bit (seq % 64) of block (seq / 64) % blocks).
   */
  replayState(h: SaHandle): { top: bigint; window: number; bitmap: Uint8Array } {
    this.#info(h);
    this.#view();
    const meta = this.#metaBase + h * this.#metaBytes;
    const ptr = this.#dv.getUint32(meta + M_BITMAP, true);
    const blocks = this.#dv.getUint32(meta + M_BITMAP_BLOCKS, true);
    return {
      top: this.#dv.getBigUint64(meta + M_SEQ, true),
      window: this.#dv.getUint32(meta + M_WINDOW, true),
      bitmap: ptr ? this.#u8.slice(ptr, ptr + blocks * 8) : new Uint8Array(0),
    };
  }

  /** Counters of one SA, like `ip -s xfrm state`. */
  stats(h: SaHandle): SaStats {
    const info = this.#info(h);
    this.#view();
    const meta = this.#metaBase + h * this.#metaBytes;
    const drops = {} as Record<Exclude<Status, "ok">, bigint>;
    STATUS_NAMES.forEach((name, code) => {
      if (name !== "ok") drops[name] = this.#dv.getBigUint64(meta + M_DROPS + code * 8, true);
    });
    return {
      spi: info.config.spi >>> 0,
      direction: info.config.direction,
      esp: info.suite.name + ((info.config.esn ?? info.suite.esn) ? "-esn" : ""),
      icvLength: info.icv,
      packets: this.#dv.getBigUint64(meta + M_PACKETS, true),
      bytes: this.#dv.getBigUint64(meta + M_BYTES, true),
      drops,
      seq: this.#dv.getBigUint64(meta + M_SEQ, true),
      replayWindow: info.window,
    };
  }

  /** Counters not tied to an SA (named like /proc/net/xfrm_stat), plus totals per status. */
  globalStats(): GlobalStats & { byStatus: Record<Status, bigint> } {
    this.#view();
    const base = this.#x.global_counters_ptr();
    const byStatus = {} as Record<Status, bigint>;
    STATUS_NAMES.forEach((name, code) => { byStatus[name] = this.#dv.getBigUint64(base + code * 8, true); });
    return { XfrmInNoStates: byStatus["no-sa"], XfrmInHdrError: byStatus["truncated"], byStatus };
  }

  /** Handles of every installed SA. */
  handles(): SaHandle[] { return [...this.#sas.keys()]; }

  /** The inbound SA with this SPI, or -1 (the wasm SPI table lookup). */
  lookup(spi: number): SaHandle { return this.#x.sa_lookup(spi >>> 0); }

  /** The configuration an SA was added with (keys removed). */
  config(h: SaHandle): Readonly<SaConfig> { return this.#info(h).config; }

  // ---- internals used by PacketBatch ----------------------------------------------------------

  /** @internal */
  _stage(b: PacketBatch, bytes: Uint8Array, sa: SaHandle, l3: number): number {
    const i = b.length;
    if (i >= this.#batchSize) throw new DataplaneError("BATCH_FULL", `batch holds at most ${this.#batchSize} packets`);
    this.#view();
    const d = this.#desc + i * this.#descBytes;
    const at = this.#arena + i * this.#slotBytes + this.#headroom;
    if (bytes.length <= this.#maxPacket) this.#u8.set(bytes, at);
    this.#dv.setUint32(d + D_IN_OFF, at, true);
    this.#dv.setUint32(d + D_IN_LEN, bytes.length, true);
    this.#dv.setInt32(d + D_SA, sa, true);
    this.#dv.setUint32(d + D_L3_LEN, l3 >>> 0, true);
    this.#dv.setUint32(d + D_STATUS, 0, true);
    this.#dv.setUint32(d + D_OUT_LEN, 0, true);
    if (sa >= 0 && this.#sas.get(sa)?.suite.kind === SuiteKind.CbcHmac) b.needsIv = true;
    b.length = i + 1;
    return i;
  }
  /** @internal */
  _u32(i: number, field: number): number {
    this.#view();
    return this.#dv.getUint32(this.#desc + i * this.#descBytes + field, true);
  }
  /** @internal */
  _u64(i: number, field: number): bigint {
    this.#view();
    return this.#dv.getBigUint64(this.#desc + i * this.#descBytes + field, true);
  }
  /** @internal */
  _output(i: number): Uint8Array {
    this.#view();
    const d = this.#desc + i * this.#descBytes;
    if (this.#dv.getUint32(d + D_STATUS, true) !== 0) return new Uint8Array(0);
    const off = this.#dv.getUint32(d + D_OUT_OFF, true);
    return this.#u8.subarray(off, off + this.#dv.getUint32(d + D_OUT_LEN, true));
  }

  #info(h: SaHandle): SaInfo {
    const info = this.#sas.get(h);
    if (!info) throw new DataplaneError("UNKNOWN_SA", `no SA with handle ${h} (removed, or from another Dataplane)`);
    return info;
  }

  /** Rebuilds views after wasm memory grew (SA key blocks are allocated on demand). */
  #view(): void {
    if (this.#x.memory.buffer !== this.#buf) {
      this.#buf = this.#x.memory.buffer;
      this.#u8 = new Uint8Array(this.#buf);
      this.#dv = new DataView(this.#buf);
    }
  }
}
