/**
 * The ESP dataplane: Security Associations and batched encapsulation/decapsulation in wasm.
 * Keys are copied into wasm memory once (staging area wiped right after) and never leave it.
 * With the native AES assist (native-aes.ts, on by default where node:crypto exists) the AES key of
 * an AES-GCM or AES-CTR SA, or of an inbound AES-CBC SA, is also held by one native AES-ECB object,
 * which runs the AES of a batch's packets of that SA in one call; it is dropped when the SA is removed.
 * @module
 */
import { DataplaneError } from "./errors.ts";
import { SuiteKind, type Suite } from "./suites.ts";
import { loadDataplaneModule, type WasmSource } from "./wasm.ts";
import { NativeAes, type NativeAesOptions } from "./native-aes.ts";
import { checkSaConfig } from "./sa-config.ts";
import { innerMtuFor, overheadFor } from "./overhead.ts";
import { PacketBatch } from "./packet-batch.ts";

export { PacketBatch };
import {
  D_IN_LEN,
  D_IN_OFF,
  D_L3_LEN,
  D_NEXT_HDR,
  D_OUT_LEN,
  D_OUT_OFF,
  D_SA,
  D_STATUS,
  ERR_BAD_SLOT,
  ERR_DUPLICATE_SPI,
  ERR_ENC_KEY,
  ERR_ICV,
  ERR_INTEG_KEY,
  ERR_KIND,
  ERR_NO_MEMORY,
  ERR_NO_SLOT,
  ERR_TFC,
  ERR_VERIFY_ONLY,
  ERR_WINDOW,
  KEY_STAGE_BYTES,
  LE_COUNT,
  LE_OVERFLOWED,
  LE_SLOTS,
  LIFE_REASON_NAMES,
  M_BITMAP,
  M_BITMAP_BLOCKS,
  M_BYTES,
  M_DROPS,
  M_LIFE,
  M_PACKETS,
  M_SEQ,
  M_WINDOW,
  NEXT_HEADER_DUMMY,
  R_SECONDS,
  STAGE_INTEG_OFF,
  ST_OK,
  type DataplaneExports,
  type SaErrorCode,
} from "./abi.generated.ts";
import {
  STATUS_NAMES,
  type DecapResult,
  type EncapResult,
  type GlobalStats,
  type LifetimeEvent,
  type LifetimeReason,
  type OuterHeaders,
  type SaConfig,
  type SaHandle,
  type SaStats,
  type Status,
  type HugePagesStatus,
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
  /**
   * Clock for lifetimes in seconds, in milliseconds (default Date.now). Read once per batch run
   * and only while some SA has a time limit; `checkLifetimes()` reads it between batches.
   */
  now?: () => number;
  /**
   * AES through the runtime's native AES (node:crypto, OpenSSL with AES-NI) for AES-GCM, AES-CTR
   * and AES-CBC decryption; GHASH, HMAC and framing in wasm: see native-aes.ts. Default true where the runtime has node:crypto (Node,
   * Deno, Bun); `false` keeps every batch on the pure-wasm AES (what workerd and browsers always
   * use). An object sets the dispatch threshold (`minBytes`: smaller batches stay in wasm) and
   * the most SAs with a native AES object (`maxSas`, default 4096, about 1 KB of OpenSSL memory
   * each; SAs beyond it run on the wasm AES).
   */
  nativeAes?: boolean | NativeAesOptions;
  /**
   * Transparent huge pages for the wasm memory (huge-pages.ts): madvise(MADV_HUGEPAGE) over the
   * memory's reservation before the SA slots are first written, so a large SA table costs fewer
   * TLB misses (at 1,000,000 SAs spread decap measured ~3% faster: bench/README.md). Memory is
   * then faulted in 2 MiB steps. Default: on when `maxSas` is at least {@link HUGE_PAGES_MIN_SAS}
   * (smaller SA tables fit the TLB's reach, and 2 MiB pages would only add resident memory), done
   * under Node on Linux when koffi (optional peer dependency) loads and THP is not `never`;
   * elsewhere nothing happens and the dataplane works the same. `true` asks for it at any size,
   * `false` leaves the memory alone. Never an error: `Dataplane.hugePages` says whether it took
   * effect, or why not.
   */
  hugePages?: boolean;
}

/**
 * Below this many SAs `hugePages` is off unless asked for: 16,384 slots of 320 bytes are 5 MiB,
 * 1,280 pages of 4 KiB, within the 1,536-2,048 entries of a current L2 TLB, so huge pages would
 * buy little and cost up to 2 MiB of resident memory per partly used page (a `pcap decrypt` of a
 * few SAs, a client with one tunnel).
 */
export const HUGE_PAGES_MIN_SAS = 16_384;

const LIFE_REASONS: readonly (LifetimeReason | null)[] = LIFE_REASON_NAMES;

/** What each negative result of sa_add / sa_set_* means, for the DataplaneError it becomes. */
const ADD_ERRORS: Record<SaErrorCode, [DataplaneError["code"], string]> = {
  [ERR_NO_SLOT]: ["NO_FREE_SLOT", "no free SA slot: raise maxSas when creating the Dataplane"],
  [ERR_DUPLICATE_SPI]: ["DUPLICATE_SPI", "an inbound SA with this SPI already exists"],
  [ERR_ENC_KEY]: ["BAD_KEY_LENGTH", "encryption key length rejected"],
  [ERR_WINDOW]: ["BAD_WINDOW", "replay window must be 0 (off) or 32..4096"],
  [ERR_NO_MEMORY]: ["OUT_OF_MEMORY", "wasm memory cannot grow for this SA's keys"],
  [ERR_ICV]: ["BAD_ICV_LENGTH", "ICV length rejected"],
  [ERR_INTEG_KEY]: ["BAD_KEY_LENGTH", "integrity key length rejected"],
  [ERR_KIND]: ["BAD_PROPOSAL", "suite rejected by the dataplane"],
  [ERR_BAD_SLOT]: ["UNKNOWN_SA", "no SA in this slot"],
  [ERR_VERIFY_ONLY]: ["BAD_ARGUMENT", "verify-only SAs are inbound and not AEAD"],
  [ERR_TFC]: ["BAD_ARGUMENT", "TFC padding needs a tunnel-mode outbound SA and a length a packet slot holds"],
};

interface SaInfo {
  config: SaConfig;
  suite: Suite;
  icv: number;
  window: number;
  /** Resolved TFC padding target (0 = none). */
  tfc: number;
  /** Clock value at addSa, and the time limits as clock values (Infinity = none). */
  addedAt: number;
  softAt: number;
  hardAt: number;
  /** Lifetime state already reported to listeners (M_LIFE bits). */
  reported: number;
}

const hexSpi = (spi: number): string => `0x${(spi >>> 0).toString(16).padStart(8, "0")}`;

/** An ESP dataplane instance: its own wasm memory, SAs, counters and packet arena. */
export class Dataplane {
  readonly #x: DataplaneExports;
  readonly #sas = new Map<SaHandle, SaInfo>();
  readonly #batchSize: number;
  readonly #slotBytes: number;
  readonly #now: () => number;
  readonly #headroom: number;
  readonly #maxPacket: number;
  readonly #arena: number;
  readonly #desc: number;
  readonly #descBytes: number;
  readonly #metaBytes: number;
  readonly #metaBase: number;
  /** The native AES assist, or undefined (off, unavailable, or given up after a failure). */
  #aes: NativeAes | undefined;
  readonly #hugePages: HugePagesStatus;
  #buf: ArrayBuffer;
  #u8: Uint8Array;
  #dv: DataView;
  /** The batch bound to this dataplane's arena (one batch at a time). */
  readonly batch: PacketBatch;

  private constructor(
    x: DataplaneExports,
    batchSize: number,
    slotBytes: number,
    now: () => number,
    aes: NativeAes | undefined,
    hugePages: HugePagesStatus,
  ) {
    this.#x = x;
    this.#hugePages = hugePages;
    this.#aes = aes && x.native_init() === 0 ? aes : undefined;
    this.#now = now;
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
      env: {
        abort: () => {
          throw new DataplaneError("WASM_LOAD", "dataplane aborted");
        },
      },
    });
    const x = instance.exports as unknown as DataplaneExports;
    const hugeOpt = opts.hugePages;
    if (hugeOpt !== undefined && typeof hugeOpt !== "boolean")
      throw new DataplaneError("BAD_ARGUMENT", `hugePages must be true or false, got ${String(hugeOpt)}`);
    // Before init: init writes the SA slots, and pages faulted in before the advice stay 4 KiB.
    const hugePages: HugePagesStatus =
      hugeOpt === false
        ? { active: false, reason: "turned off (hugePages: false)" }
        : hugeOpt === undefined && maxSas < HUGE_PAGES_MIN_SAS
          ? {
              active: false,
              reason: `not needed for maxSas ${maxSas} (below ${HUGE_PAGES_MIN_SAS}; hugePages: true asks anyway)`,
            }
          : await (await import("./huge-pages.ts")).adviseHugePages(x.memory);
    const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
    if (x.init(maxSas, batchSize, slotBytes, seed) !== 0) {
      throw new DataplaneError(
        "OUT_OF_MEMORY",
        `cannot reserve memory for ${maxSas} SAs and ${batchSize}×${slotBytes} B`,
      );
    }
    const now = opts.now ?? Date.now;
    if (typeof now !== "function")
      throw new DataplaneError("BAD_ARGUMENT", "now must be a function returning milliseconds");
    const nativeOpt = opts.nativeAes ?? true;
    if (nativeOpt !== false && nativeOpt !== true && typeof nativeOpt !== "object") {
      throw new DataplaneError(
        "BAD_ARGUMENT",
        `nativeAes must be true, false or { minBytes }, got ${String(nativeOpt)}`,
      );
    }
    const { minBytes, maxSas: nativeSas } = typeof nativeOpt === "object" ? nativeOpt : {};
    if (minBytes !== undefined && !(Number.isInteger(minBytes) && minBytes >= 0)) {
      throw new DataplaneError("BAD_ARGUMENT", `nativeAes.minBytes must be a non-negative integer, got ${minBytes}`);
    }
    if (nativeSas !== undefined && !(Number.isInteger(nativeSas) && nativeSas >= 0)) {
      throw new DataplaneError("BAD_ARGUMENT", `nativeAes.maxSas must be a non-negative integer, got ${nativeSas}`);
    }
    const aes = nativeOpt === false ? undefined : NativeAes.create({ minBytes, maxSas: nativeSas });
    return new Dataplane(x, batchSize, slotBytes, now, aes, hugePages);
  }

  /** Whether AES-GCM batches may use the runtime's native AES (see `nativeAes` of create). */
  get nativeAes(): boolean {
    return this.#aes !== undefined;
  }

  /** Whether the wasm memory is on transparent huge pages, or why not (see `hugePages` of create). */
  get hugePages(): HugePagesStatus {
    return this.#hugePages;
  }

  /** Number of SAs installed. */
  get saCount(): number {
    return this.#sas.size;
  }
  /** Largest packet (bytes) one arena slot takes. */
  get maxPacketBytes(): number {
    return this.#maxPacket;
  }
  /** Most packets per batch. */
  get batchSize(): number {
    return this.#batchSize;
  }
  /**
   * Bytes of wasm memory this instance holds: the SA slots and packet arena reserved at `create`,
   * plus the key blocks and large replay bitmaps added with SAs (memory only grows).
   */
  get memoryBytes(): number {
    return this.#x.memory.buffer.byteLength;
  }
  /**
   * Bytes of SA state: the slots, free list and SPI table reserved at `create` for `maxSas` SAs,
   * plus the 64 KiB chunks that key blocks and large replay bitmaps of SAs added since were cut
   * from. Unlike {@link memoryBytes} it leaves out the packet arena and the slack of memory growth.
   */
  get stateBytes(): number {
    return this.#x.state_bytes();
  }

  /**
   * Installs an SA. Throws DataplaneError (and changes nothing) when the proposal keyword, a key
   * length, the ICV length, the SPI, the window, the sequence number, the lifetime, the TFC
   * setting or a verify-only combination is not acceptable.
   */
  addSa(cfg: SaConfig): SaHandle {
    const { suite, spi, verifyOnly, encKey, integKey, icv, window, seq, limits, tfc, outer, flags } = checkSaConfig(
      cfg,
      this.#maxPacket,
    );
    const stage = this.#x.key_stage_ptr();
    this.#view();
    this.#u8.set(encKey, stage);
    this.#u8.set(integKey, stage + STAGE_INTEG_OFF);
    const slot = this.#x.sa_add(
      spi >>> 0,
      flags,
      suite.kind,
      encKey.length,
      integKey.length,
      suite.hash,
      icv,
      window,
      Number(seq & 0xffffffffn),
      Number(seq >> 32n),
    );
    this.#view();
    this.#u8.fill(0, stage, stage + KEY_STAGE_BYTES);
    const fail = (code: number): never => {
      const [c, msg] = ADD_ERRORS[code as SaErrorCode] ?? ["BAD_ARGUMENT", `rejected (${code})`];
      throw new DataplaneError(c, `SA ${hexSpi(spi)} (${suite.name}): ${msg}`);
    };
    if (slot < 0) fail(slot);
    let rc = 0;
    if (limits.packetsOrBytes)
      rc = this.#x.sa_set_lifetime(slot, limits.softPackets, limits.softBytes, limits.hardPackets, limits.hardBytes);
    if (rc === 0 && tfc > 0) rc = this.#x.sa_set_tfc(slot, tfc);
    if (rc === 0 && outer) {
      this.#view();
      this.#u8.set(outer.src, stage);
      this.#u8.set(outer.dst, stage + outer.src.length);
      rc = this.#x.sa_set_ah_outer(slot, outer.src.length === 4 ? 4 : 6);
    }
    if (rc !== 0) {
      this.#x.sa_remove(slot);
      fail(rc);
    }
    // Native AES objects (native-aes.ts): counter blocks of GCM and CTR, CBC decryption.
    const nativeKind =
      verifyOnly || !this.#aes
        ? undefined
        : suite.kind === SuiteKind.Gcm || suite.kind === SuiteKind.CtrHmac
          ? "encrypt"
          : suite.kind === SuiteKind.CbcHmac && cfg.direction === "in"
            ? "decrypt"
            : undefined;
    if (this.#aes && nativeKind) {
      let made = false;
      try {
        made = this.#aes.add(slot, encKey.subarray(0, suite.aesKeyBytes), nativeKind === "decrypt");
      } catch {
        // A runtime whose node:crypto refuses this key size: this SA stays on the wasm AES.
      }
      // Only a marked SA has its AES left to the native object in a native batch.
      if (made && this.#x.sa_set_native(slot, 1) !== 0) this.#aes.remove(slot);
    }
    const addedAt = this.#now();
    const info: SaInfo = {
      config: { ...cfg, encKey: new Uint8Array(0), integKey: undefined },
      suite,
      icv,
      window,
      tfc,
      addedAt,
      softAt: addedAt + (limits.softSeconds ?? Infinity) * 1000,
      hardAt: addedAt + (limits.hardSeconds ?? Infinity) * 1000,
      reported: 0,
    };
    this.#sas.set(slot, info);
    if (limits.seconds) {
      this.#timed.add(slot);
      this.#nextDeadline = Math.min(this.#nextDeadline, info.softAt, info.hardAt);
    }
    return slot;
  }

  /** Deletes an SA; its keys and replay state are zeroed in wasm memory. */
  removeSa(h: SaHandle): void {
    this.#info(h);
    this.#x.sa_remove(h);
    this.#aes?.remove(h);
    this.#sas.delete(h);
    this.#timed.delete(h);
  }

  /** Encapsulates one packet (uses and resets `batch`). */
  encapsulate(h: SaHandle, inner: Uint8Array): EncapResult {
    return this.encapsulateBatch(h, [inner])[0]!; // one result per packet
  }

  /**
   * Sends a dummy packet (RFC 4303 §2.6, Next Header 59) on a tunnel-mode outbound SA: `length`
   * bytes of zeros as payload, TFC-padded like any packet of the SA. The receiver authenticates and
   * discards it (status `dummy`). Uses and resets `batch`.
   */
  encapsulateDummy(h: SaHandle, length: number): EncapResult {
    const info = this.#info(h);
    if (info.config.direction !== "out" || info.config.mode !== "tunnel" || info.suite.protocol === "ah") {
      throw new DataplaneError(
        "BAD_ARGUMENT",
        `dummy packets need a tunnel-mode outbound ESP SA; SA ${hexSpi(info.config.spi)} is ${info.suite.protocol.toUpperCase()} ${info.config.mode} ${info.config.direction}`,
      );
    }
    if (!Number.isInteger(length) || length < 0 || length > this.#maxPacket) {
      throw new DataplaneError("BAD_ARGUMENT", `dummy length must be an integer 0..${this.#maxPacket}, got ${length}`);
    }
    const b = this.batch;
    b.reset();
    b.addDummy(length, h);
    this.runEncapsulate(b);
    const status = b.status(0);
    const r: EncapResult =
      status === "ok" ? { status, seq: b.seq(0), packet: b.output(0).slice() } : { status, seq: b.seq(0) };
    b.reset();
    return r;
  }

  /**
   * Exact bytes ESP adds to an inner packet of `innerLength` bytes on this SA: ESP header, IV,
   * TFC padding (outbound SAs with `tfc`), padding to the suite's alignment, Pad Length and Next
   * Header, ICV; plus the outer IP header (tunnel mode, when `outer.ipVersion` is given) and 8
   * bytes of UDP with `outer.udpEncap`. In transport mode `innerLength` is the whole IP packet and
   * its header (20 bytes for IPv4, 40 for IPv6, by `outer.ipVersion`; options not counted) stays.
   * AH SAs: the AH header (12 + ICV, padded to 4 bytes for IPv4, 8 for IPv6) plus, in tunnel mode,
   * always the outer header (AH's output includes it); AH does not go through UDP.
   */
  overhead(h: SaHandle, innerLength: number, outer: OuterHeaders = {}): number {
    const info = this.#info(h);
    if (!Number.isInteger(innerLength) || innerLength < 0) {
      throw new DataplaneError("BAD_ARGUMENT", `innerLength must be a non-negative integer, got ${innerLength}`);
    }
    return overheadFor(
      info.suite,
      info.icv,
      info.config.mode,
      innerLength,
      outer,
      info.tfc,
      outer.ipVersion !== undefined,
    );
  }

  /**
   * Largest inner packet (bytes) whose ESP packet, with the outer headers, fits `outerMtu` on this
   * SA: the MTU to give the inner interface (seed 003 pinned 1450 by hand). Default outer: IPv4,
   * no UDP. 0 when nothing fits, or when the SA's TFC target is itself larger than what fits.
   */
  innerMtu(h: SaHandle, outerMtu: number, outer: OuterHeaders = {}): number {
    const info = this.#info(h);
    if (!Number.isInteger(outerMtu) || outerMtu < 0)
      throw new DataplaneError("BAD_ARGUMENT", `outerMtu must be a non-negative integer, got ${outerMtu}`);
    const l = innerMtuFor(info.suite, info.icv, info.config.mode, outerMtu, outer, this.#maxPacket);
    return info.tfc > l ? 0 : l;
  }

  /** Decapsulates one packet (uses and resets `batch`). */
  decapsulate(packet: Uint8Array, l3HeaderLength = 0): DecapResult {
    return this.decapsulateBatch([packet], [l3HeaderLength])[0]!; // one result per packet
  }

  /** Encapsulates packets with one SA; outputs are copies. Splits into arena-sized batches. */
  encapsulateBatch(h: SaHandle, inners: Uint8Array[]): EncapResult[] {
    this.#info(h);
    const out: EncapResult[] = [];
    const b = this.batch;
    for (let start = 0; start < inners.length; start += this.#batchSize) {
      b.reset();
      const end = Math.min(inners.length, start + this.#batchSize);
      for (let i = start; i < end; i++) b.add(inners[i]!, h); // end <= inners.length
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
      for (let i = start; i < end; i++) b.add(packets[i]!, -1, l3HeaderLengths?.[i] ?? 0); // end <= packets.length
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

  /** Encapsulates every packet of the batch in one wasm call (lifetime events are raised right after). */
  runEncapsulate(b: PacketBatch): number {
    if (this.#nextDeadline !== Infinity) this.#checkClock();
    if (b.needsIv) {
      this.#view();
      const pool = this.#x.iv_pool_ptr();
      crypto.getRandomValues(this.#u8.subarray(pool, pool + b.length * 16));
    }
    let n: number;
    if (this.#aes && b.bytes >= this.#aes.minBytes) {
      n = this.#x.encap_batch_native(b.length);
      const err = this.#nativeKeystream();
      this.#x.encap_native_finish(b.length);
      if (err !== undefined) this.#failBatch(b, err);
    } else {
      n = this.#x.encap_batch(b.length);
    }
    this.#drainLifeEvents();
    return n;
  }

  /**
   * The native AES step between the two calls of a native batch. Returns the error of a failed
   * step (a runtime refusing the cipher call): the caller still runs the second call, which
   * wipes the wasm's keystream region, then wipes the batch's packet slots so nothing of the
   * batch goes out half-done, and throws it.
   */
  #nativeKeystream(): unknown {
    const count = this.#x.native_run_count();
    if (count === 0) return undefined;
    this.#view();
    try {
      this.#aes!.encryptRuns(this.#u8, this.#dv, this.#x.native_ks_ptr(), this.#x.native_runs_ptr(), count);
      return undefined;
    } catch (e) {
      return e ?? new Error("native AES failed");
    }
  }

  #failBatch(b: PacketBatch, err: unknown): never {
    this.#view();
    this.#u8.fill(0, this.#arena, this.#arena + b.length * this.#slotBytes);
    for (let i = 0; i < b.length; i++) this.#dv.setUint32(this.#desc + i * this.#descBytes + D_OUT_LEN, 0, true);
    throw err;
  }

  /** Decapsulates every packet of the batch in one wasm call (lifetime events are raised right after). */
  runDecapsulate(b: PacketBatch): number {
    if (this.#nextDeadline !== Infinity) this.#checkClock();
    let n: number;
    if (this.#aes && b.bytes >= this.#aes.minBytes) {
      n = this.#x.decap_batch_native(b.length);
      const err = this.#nativeKeystream();
      n += this.#x.decap_native_finish(b.length);
      if (err !== undefined) this.#failBatch(b, err);
    } else {
      n = this.#x.decap_batch(b.length);
    }
    for (const fn of this.#decapObservers) fn(b);
    this.#drainLifeEvents();
    return n;
  }

  // ---- lifetimes ------------------------------------------------------------------------------

  readonly #lifetimeListeners = new Set<(e: LifetimeEvent) => void>();
  /** SAs with a time limit not yet reached, and the earliest such limit on the clock. */
  readonly #timed = new Set<SaHandle>();
  #nextDeadline = Infinity;

  /**
   * Subscribes to `lifetime` events: an SA reached a soft limit (rekey now; raised once) or a hard
   * one (every further packet fails with `lifetime-expired`; raised once). Soft also fires 2^20
   * packets before an outbound sequence number runs out (reason `sequence`); a hard `sequence`
   * event comes with the first `seq-overflow`. Events are raised after the batch that caused
   * them, and for time limits at the next batch run or checkLifetimes() call. A listener that
   * throws does not cost the batch its results: its error is rethrown from a microtask (like an
   * EventTarget listener's). Returns the unsubscribe function.
   */
  on(event: "lifetime", fn: (e: LifetimeEvent) => void): () => void {
    if (event !== "lifetime")
      throw new DataplaneError("BAD_ARGUMENT", `unknown event "${String(event)}"; known: lifetime`);
    this.#lifetimeListeners.add(fn);
    return () => {
      this.#lifetimeListeners.delete(fn);
    };
  }

  /**
   * Applies time limits that the clock has reached and raises pending events. Batch runs do this
   * themselves; call it from a timer so an idle SA still expires on time.
   */
  checkLifetimes(): void {
    this.#checkClock();
    this.#drainLifeEvents();
  }

  #checkClock(): void {
    const now = this.#now();
    if (now < this.#nextDeadline) return;
    let next = Infinity;
    for (const h of this.#timed) {
      const info = this.#sas.get(h);
      if (!info) {
        this.#timed.delete(h);
        continue;
      }
      if (info.softAt <= now) {
        this.#x.sa_life_mark(h, 0, R_SECONDS);
        info.softAt = Infinity;
      }
      if (info.hardAt <= now) {
        this.#x.sa_life_mark(h, 1, R_SECONDS);
        info.hardAt = Infinity;
      }
      this.#report(h, info);
      if (info.softAt === Infinity && info.hardAt === Infinity) this.#timed.delete(h);
      else next = Math.min(next, info.softAt, info.hardAt);
    }
    this.#nextDeadline = next;
  }

  /** Raises the events for SAs the wasm queued during the last batch (all SAs if its queue overflowed). */
  #drainLifeEvents(): void {
    this.#view();
    const q = this.#x.life_events_ptr();
    const n = this.#dv.getUint32(q + LE_COUNT, true);
    if (n === 0) return;
    const overflowed = this.#dv.getUint32(q + LE_OVERFLOWED, true) !== 0;
    const slots = overflowed
      ? [...this.#sas.keys()]
      : Array.from({ length: n }, (_, i) => this.#dv.getUint32(q + LE_SLOTS + 4 * i, true));
    this.#dv.setUint32(q + LE_COUNT, 0, true);
    this.#dv.setUint32(q + LE_OVERFLOWED, 0, true);
    for (const h of slots) {
      const info = this.#sas.get(h);
      if (info) this.#report(h, info);
    }
  }

  /** Emits what changed in an SA's lifetime state since the last report: soft before hard. */
  #report(h: SaHandle, info: SaInfo): void {
    this.#view();
    const life = this.#dv.getUint32(this.#metaBase + h * this.#metaBytes + M_LIFE, true);
    const fresh = life & ~info.reported;
    if (fresh === 0) return;
    info.reported |= fresh;
    const base = { sa: h, spi: info.config.spi >>> 0, direction: info.config.direction };
    const events: LifetimeEvent[] = [];
    if (fresh & 0xff) events.push({ ...base, kind: "soft", reason: LIFE_REASONS[fresh & 0xff] ?? "packets" });
    if (fresh & 0xff00) events.push({ ...base, kind: "hard", reason: LIFE_REASONS[(fresh >> 8) & 0xff] ?? "packets" });
    for (const e of events) {
      for (const fn of this.#lifetimeListeners) {
        // A throwing listener must not lose the batch's results; its error surfaces on its own.
        try {
          fn(e);
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
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
    const life = this.#dv.getUint32(meta + M_LIFE, true);
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
      verifyOnly: info.config.verifyOnly === true,
      protocol: info.suite.protocol,
      lifetime: {
        soft: LIFE_REASONS[life & 0xff] ?? null,
        hard: LIFE_REASONS[(life >> 8) & 0xff] ?? null,
        addedAt: info.addedAt,
      },
    };
  }

  /** Counters not tied to an SA (named like /proc/net/xfrm_stat), plus totals per status. */
  globalStats(): GlobalStats & { byStatus: Record<Status, bigint> } {
    this.#view();
    const base = this.#x.global_counters_ptr();
    const byStatus = {} as Record<Status, bigint>;
    STATUS_NAMES.forEach((name, code) => {
      byStatus[name] = this.#dv.getBigUint64(base + code * 8, true);
    });
    return { XfrmInNoStates: byStatus["no-sa"], XfrmInHdrError: byStatus["truncated"], byStatus };
  }

  /** Handles of every installed SA. */
  handles(): SaHandle[] {
    return [...this.#sas.keys()];
  }

  /** The inbound SA with this SPI, or -1 (the wasm SPI table lookup). */
  lookup(spi: number): SaHandle {
    return this.#x.sa_lookup(spi >>> 0);
  }

  /** The configuration an SA was added with (keys removed). */
  config(h: SaHandle): Readonly<SaConfig> {
    return this.#info(h).config;
  }

  // ---- internals used by PacketBatch ----------------------------------------------------------

  /** @internal */
  _stage(b: PacketBatch, bytes: Uint8Array, sa: SaHandle, l3: number, dummy: boolean): number {
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
    this.#dv.setUint32(d + D_NEXT_HDR, dummy ? NEXT_HEADER_DUMMY : 0, true);
    if (sa >= 0 && this.#sas.get(sa)?.suite.kind === SuiteKind.CbcHmac) b.needsIv = true;
    b.bytes += bytes.length;
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
    if (this.#dv.getUint32(d + D_STATUS, true) !== ST_OK) return new Uint8Array(0);
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
