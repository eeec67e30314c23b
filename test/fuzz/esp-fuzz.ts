// The ESP decapsulation fuzzer: every suite in both modes, authentic packets (in and out of order,
// late, replayed), mutants of them and packets generated from scratch, decapsulated in batches
// through the public Dataplane API and checked after every batch against a model (esp-check.ts).
import { Dataplane, type SaHandle, type Status } from "../../sdk/index.ts";
import { STATUS_NAMES } from "../../sdk/dataplane/types.ts";
import { Prng, withSeededRandom } from "./prng.ts";
import { BYTE_MUTATIONS, equalBytes, mutateBytes, readBe32, withBe32 } from "./mutate.ts";
import { ReplayModel } from "./replay-model.ts";
import { allEspSuites, icvBytes, saConfig, saKeys, saSpecs, type SaSpec } from "./esp-suites.ts";
import { innerPacket, ipHeaderLength } from "./inner.ts";
import {
  checkGlobal,
  checkSa,
  checkVerdicts,
  type Expected,
  type ModelCounters,
  type Staged,
  type Verdict,
  type Violation,
} from "./esp-check.ts";

/** Decapsulates a batch and reports the verdicts; the real one is {@link dataplaneDecap}. */
export type Decapper = (dp: Dataplane, staged: readonly Staged[]) => Verdict[];

/** Where packet i of a batch is staged in wasm memory: base + i * slot (found by {@link arenaLayout}). */
interface ArenaLayout {
  base: number;
  slot: number;
}
const layouts = new WeakMap<Dataplane, ArenaLayout>();

/**
 * Finds the arena layout of a dataplane with these options from a probe instance (same options,
 * same allocation): two NULL-encrypted packets, whose delivered bytes sit right after their ESP
 * header in their slots.
 */
async function arenaLayout(batchSize: number): Promise<ArenaLayout> {
  const dp = await Dataplane.create({ maxSas: 512, batchSize });
  const base = {
    spi: 0x777,
    mode: "tunnel" as const,
    esp: "null-sha256",
    encKey: new Uint8Array(0),
    integKey: new Uint8Array(32),
  };
  const out = dp.addSa({ ...base, direction: "out" });
  dp.addSa({ ...base, direction: "in" });
  const rng = new Prng(7);
  const pkts = dp.encapsulateBatch(out, [innerPacket(rng, 1, false), innerPacket(rng, 2, false)]).map((r) => r.packet!);
  const b = dp.batch;
  b.reset();
  for (const p of pkts) b.add(p);
  dp.runDecapsulate(b);
  const o0 = b.output(0),
    o1 = b.output(1);
  const layout = { base: o0.byteOffset - 8, slot: o1.byteOffset - o0.byteOffset };
  const mem = new Uint8Array(o0.buffer);
  if (!equalBytes(mem.subarray(layout.base, layout.base + 8), pkts[0]!.subarray(0, 8)))
    throw new Error("arena layout probe: the ESP header is not where expected");
  return layout;
}

/** One batch through the public batch API; payloads are views valid until the next batch. */
export const dataplaneDecap: Decapper = (dp, staged) => {
  const b = dp.batch;
  b.reset();
  for (const s of staged) b.add(s.bytes, -1, s.l3);
  dp.runDecapsulate(b);
  const out: Verdict[] = [];
  let mem: Uint8Array | undefined;
  const layout = layouts.get(dp);
  for (let i = 0; i < staged.length; i++) {
    const v: Verdict = { status: b.status(i), sa: b.sa(i), payload: b.output(i) };
    if (layout && !mem && v.status === "ok") {
      // wasm memory, reached through a delivered packet's view; check the layout against it.
      const start = layout.base + i * layout.slot;
      if (v.payload.byteOffset < start || v.payload.byteOffset >= start + layout.slot)
        throw new Error(`arena layout: output of packet ${i} at ${v.payload.byteOffset}, outside its slot at ${start}`);
      mem = new Uint8Array(v.payload.buffer);
    }
    out.push(v);
  }
  if (mem && layout) {
    for (let i = 0; i < staged.length; i++) {
      if (out[i]!.status === "ok" || out[i]!.sa < 0) continue;
      const at = layout.base + i * layout.slot;
      out[i]!.arena = mem.slice(at, at + staged[i]!.bytes.length);
    }
  }
  return out;
};

/** An authentic packet and what decapsulating it must deliver. */
interface AuthRec {
  seq: number;
  /** ESP bytes, SPI to ICV. */
  esp: Uint8Array;
  /** Transport mode: the IP header in front of ESP (with protocol 50). */
  header?: Uint8Array;
  /** Delivered for the ESP bytes alone (tunnel: the inner packet; transport: the upper-layer payload). */
  payload: Uint8Array;
  /** Transport mode, delivered with the header given: the original packet. */
  full?: Uint8Array;
  pending: boolean;
}

interface Lane {
  spec: SaSpec;
  name: string;
  spi: number;
  keys: { encKey: Uint8Array; integKey?: Uint8Array };
  inH: SaHandle;
  outH: SaHandle;
  model: ReplayModel;
  lastSent: number;
  ring: AuthRec[];
  bySeq: Map<number, AuthRec>;
  counts: ModelCounters;
  ivBytes: number;
  icv: number;
}

const ESP_OPS = [
  ...BYTE_MUTATIONS,
  "spi-other-sa",
  "spi-random",
  "seq-near",
  "seq-random",
  "icv-first",
  "icv-last",
  "icv-other",
  "icv-zero",
] as const;
const RING = 128;
const NON_ESN_LIMIT = 2 ** 32 - 2 ** 20;

/** Counts of one run. */
export interface EspFuzzStats {
  packets: number;
  batches: number;
  sas: number;
  byKind: Record<Staged["kind"], number>;
  byStatus: Record<string, number>;
  byOp: Record<string, number>;
  /** Dropped packets whose arena slot was checked for output bytes. */
  arenaChecked: number;
}

/** Options of {@link EspFuzzer.create}. */
export interface EspFuzzOptions {
  seed: number;
  /** Packets per decapsulation batch (default 256). */
  batchSize?: number;
  /** Suites to cover (default: every suite). */
  suites?: readonly string[];
}

/** The fuzzer: one Dataplane with an inbound and an outbound SA per suite and mode. */
export class EspFuzzer {
  readonly stats: EspFuzzStats;
  readonly #rng: Prng;
  readonly #dp: Dataplane;
  readonly #lanes: Lane[];
  readonly #bySpi = new Map<number, Lane>();
  readonly #global = new Map<Status, bigint>();
  readonly #batchSize: number;
  #pending: { lane: Lane; rec: AuthRec }[] = [];
  #nextId = 1;

  private constructor(rng: Prng, dp: Dataplane, lanes: Lane[], batchSize: number) {
    this.#rng = rng;
    this.#dp = dp;
    this.#lanes = lanes;
    this.#batchSize = batchSize;
    for (const l of lanes) this.#bySpi.set(l.spi, l);
    this.stats = {
      packets: 0,
      batches: 0,
      sas: lanes.length,
      byKind: { fresh: 0, replayed: 0, mutant: 0, generated: 0 },
      byStatus: {},
      byOp: {},
      arenaChecked: 0,
    };
  }

  /** Installs the SAs (one Dataplane, every suite and mode). */
  static async create(o: EspFuzzOptions): Promise<EspFuzzer> {
    const rng = new Prng(o.seed);
    const batchSize = o.batchSize ?? 256;
    const dp = await Dataplane.create({ maxSas: 512, batchSize });
    const lanes: Lane[] = [];
    for (const [i, spec] of saSpecs(rng, o.suites ?? allEspSuites()).entries()) {
      const spi = 0x1000 + i * 0x101;
      const keys = saKeys(rng, spec);
      lanes.push({
        spec,
        spi,
        keys,
        name: `${spec.esp}${spec.esn ? "-esn" : ""}/${spec.mode}/w${spec.window}/spi 0x${spi.toString(16)}`,
        inH: dp.addSa(saConfig(spec, spi, "in", keys, spec.start)),
        outH: dp.addSa(saConfig(spec, spi, "out", keys, spec.start)),
        model: new ReplayModel(spec.window, spec.esn, spec.start),
        lastSent: spec.start,
        ring: [],
        bySeq: new Map(),
        counts: { packets: 0n, bytes: 0n, drops: new Map() },
        ivBytes: spec.suite.ivBytes,
        icv: icvBytes(spec),
      });
    }
    layouts.set(dp, await arenaLayout(batchSize));
    return new EspFuzzer(rng, dp, lanes, batchSize);
  }

  /** The dataplane under test (for the self-check). */
  get dataplane(): Dataplane {
    return this.#dp;
  }

  /**
   * Runs batches until at least `packets` packets were decapsulated or a violation was found;
   * returns the violations (empty: every invariant held after every batch).
   */
  run(packets: number, decap: Decapper = dataplaneDecap, onBatch?: (s: EspFuzzStats) => void): Violation[] {
    const target = this.stats.packets + packets;
    while (this.stats.packets < target) {
      const v = this.step(decap);
      onBatch?.(this.stats);
      if (v.length) return v;
    }
    // Batches check the SAs they touched; at the end, every SA (a stray write would show here).
    return this.#lanes.flatMap((l) => checkSa(this.stats.batches, this.#dp, l.inH, l.name, l.model, l.counts));
  }

  /** One batch: build, predict, decapsulate, check. */
  step(decap: Decapper = dataplaneDecap): Violation[] {
    const batch = this.stats.batches++;
    const staged = this.#build();
    const expected = staged.map((s) => this.#predict(s));
    let verdicts: Verdict[];
    try {
      verdicts = decap(this.#dp, staged);
    } catch (e) {
      return [{ batch, what: `decapsulation threw: ${(e as Error).stack ?? String(e)}` }];
    }
    this.stats.packets += staged.length;
    for (const v of verdicts) if (v.arena) this.stats.arenaChecked++;
    for (const s of staged) this.stats.byKind[s.kind]++;
    for (const v of verdicts) this.stats.byStatus[v.status] = (this.stats.byStatus[v.status] ?? 0) + 1;
    const out = checkVerdicts(batch, staged, expected, verdicts);
    const dirty = new Set<Lane>();
    for (const e of expected) if (e.sa >= 0) dirty.add(this.#lanes.find((l) => l.inH === e.sa)!);
    for (const l of dirty) out.push(...checkSa(batch, this.#dp, l.inH, l.name, l.model, l.counts));
    out.push(...checkGlobal(batch, this.#dp, this.#global));
    return out;
  }

  // ---- building a batch ------------------------------------------------------------------------

  #build(): Staged[] {
    const rng = this.#rng;
    const n = this.#batchSize;
    const staged: Staged[] = [];
    const focus = Array.from({ length: rng.range(1, 3) }, () => rng.pick(this.#lanes));
    for (const lane of focus) this.#fresh(lane, rng.range(1, 40));
    // Authentic packets not yet delivered: most now, some later (late and out-of-window arrivals).
    const later: { lane: Lane; rec: AuthRec }[] = [];
    for (const p of this.#pending) {
      if (staged.length < n / 2 && rng.chance(0.85)) staged.push(this.#authentic(p.lane, p.rec, "fresh"));
      else later.push(p);
    }
    this.#pending = later;
    while (staged.length < n) {
      const lane = rng.chance(0.7) ? rng.pick(focus) : rng.pick(this.#lanes);
      const r = rng.int(100);
      if (r < 12 && lane.ring.length) staged.push(this.#authentic(lane, rng.pick(lane.ring), "replayed"));
      else if (r < 85 && lane.ring.length) staged.push(this.#mutant(lane, this.#recent(lane)));
      else staged.push(this.#generated(lane));
    }
    // Half the batches fully shuffled (mutants of fresh packets before their originals reach the
    // ICV instead of the replay check), the others in order with local swaps.
    if (rng.chance(0.5)) rng.shuffle(staged);
    else
      for (let k = rng.int(n / 4); k > 0; k--) {
        const i = rng.int(n - 1),
          j = Math.min(n - 1, i + 1 + rng.int(8));
        [staged[i], staged[j]] = [staged[j]!, staged[i]!];
      }
    return staged;
  }

  /** Encapsulates k new packets on the lane's outbound SA (after a sequence jump, sometimes). */
  #fresh(lane: Lane, k: number): void {
    const rng = this.#rng;
    const s = lane.spec;
    if (rng.chance(0.05)) {
      const jump = rng.range(1, 3 * Math.max(s.window, 64));
      if (s.esn || lane.lastSent + jump + 1000 < NON_ESN_LIMIT) {
        // Outbound packets that were never delivered: re-add the outbound SA further on.
        this.#dp.removeSa(lane.outH);
        lane.lastSent += jump;
        lane.outH = this.#dp.addSa(saConfig(s, lane.spi, "out", lane.keys, lane.lastSent));
      }
    }
    if (!s.esn && lane.lastSent + k >= NON_ESN_LIMIT) return;
    const inners = Array.from({ length: k }, () => innerPacket(rng, this.#nextId++, rng.chance(0.3)));
    const res = withSeededRandom(rng, () => this.#dp.encapsulateBatch(lane.outH, inners));
    res.forEach((r, i) => {
      if (r.status !== "ok") throw new Error(`${lane.name}: encapsulation failed: ${r.status}`);
      // The global per-status totals count encapsulations too.
      this.#global.set("ok", (this.#global.get("ok") ?? 0n) + 1n);
      lane.lastSent++;
      if (BigInt(lane.lastSent) !== r.seq)
        throw new Error(`${lane.name}: encapsulated seq ${r.seq}, expected ${lane.lastSent}`);
      const inner = inners[i]!;
      const hl = ipHeaderLength(inner);
      const rec: AuthRec =
        s.mode === "tunnel"
          ? { seq: lane.lastSent, esp: r.packet!, payload: inner, pending: true }
          : {
              seq: lane.lastSent,
              esp: r.packet!.subarray(hl),
              header: r.packet!.subarray(0, hl),
              payload: inner.subarray(hl),
              full: inner,
              pending: true,
            };
      lane.ring.push(rec);
      lane.bySeq.set(rec.seq, rec);
      this.#pending.push({ lane, rec });
    });
    while (lane.ring.length > RING) {
      const old = lane.ring.shift()!;
      if (!old.pending && lane.bySeq.get(old.seq) === old) lane.bySeq.delete(old.seq);
      else if (old.pending) lane.ring.push(old);
      if (lane.ring.every((x) => x.pending)) break;
    }
  }

  /** Mostly one of the newest packets (often not yet delivered), sometimes any in the ring. */
  #recent(lane: Lane): AuthRec {
    const r = lane.ring;
    return this.#rng.chance(0.6) ? r[r.length - 1 - this.#rng.int(Math.min(48, r.length))]! : this.#rng.pick(r);
  }

  #authentic(lane: Lane, rec: AuthRec, kind: "fresh" | "replayed"): Staged {
    rec.pending = false;
    const withHeader = rec.header !== undefined && this.#rng.chance(0.5);
    return withHeader
      ? { bytes: cat(rec.header!, rec.esp), l3: rec.header!.length, kind }
      : { bytes: rec.esp, l3: 0, kind };
  }

  #mutant(lane: Lane, rec: AuthRec): Staged {
    const rng = this.#rng;
    const op = rng.pick(ESP_OPS);
    const e = rec.esp;
    const icvAt = e.length - lane.icv;
    const other = rng.pick(rng.pick(this.#lanes).ring.length ? rng.pick(this.#lanes).ring : lane.ring)?.esp ?? e;
    let m: Uint8Array;
    switch (op) {
      case "spi-other-sa":
        m = withBe32(e, 0, rng.pick(this.#lanes).spi);
        break;
      case "spi-random":
        m = withBe32(e, 0, rng.u32());
        break;
      case "seq-near":
        m = withBe32(e, 4, (readBe32(e, 4) + rng.range(-70, 70)) >>> 0);
        break;
      case "seq-random":
        m = withBe32(e, 4, rng.u32());
        break;
      case "icv-first":
        m = e.slice();
        m[icvAt]! ^= 1 << rng.int(8);
        break;
      case "icv-last":
        m = e.slice();
        m[e.length - 1]! ^= 1 << rng.int(8);
        break;
      case "icv-other":
        m = cat(e.subarray(0, icvAt), other.subarray(Math.max(0, other.length - lane.icv)));
        break;
      case "icv-zero":
        m = e.slice();
        m.fill(0, icvAt);
        break;
      default:
        m = mutateBytes(rng, e, op, other, 48);
    }
    this.stats.byOp[op] = (this.stats.byOp[op] ?? 0) + 1;
    const withHeader = rec.header !== undefined && rng.chance(0.5);
    return withHeader
      ? { bytes: cat(rec.header!, m), l3: rec.header!.length, kind: "mutant", op }
      : { bytes: m, l3: 0, kind: "mutant", op };
  }

  /** ESP built from scratch: a known (or random) SPI, a sequence number near the window, random body. */
  #generated(lane: Lane): Staged {
    const rng = this.#rng;
    const len = rng.chance(0.1) ? rng.int(12) : rng.range(8, 8 + lane.ivBytes + lane.icv + 64);
    const b = rng.bytes(len);
    if (len >= 8) {
      const spi = rng.chance(0.9) ? lane.spi : rng.u32();
      const seq = Math.max(0, lane.model.top + rng.range(-lane.spec.window - 8, 64));
      b.set(withBe32(withBe32(b, 0, spi), 4, seq >>> 0).subarray(0, 8));
    }
    return { bytes: b, l3: 0, kind: "generated" };
  }

  // ---- the model ---------------------------------------------------------------------------------

  /** Predicts the verdict in RFC 4303 §3.4.3 receive order and advances the model as the dataplane must. */
  #predict(s: Staged): Expected {
    const bytes = s.bytes;
    let e: Expected;
    let lane: Lane | undefined;
    if (bytes.length > this.#dp.maxPacketBytes) e = { status: "too-big", sa: -1 };
    else if (bytes.length - s.l3 < 8) e = { status: "truncated", sa: -1 };
    else {
      const esp = bytes.subarray(s.l3);
      lane = this.#bySpi.get(readBe32(esp, 0));
      if (!lane) e = { status: "no-sa", sa: -1 };
      else e = this.#predictOnSa(lane, esp, s.l3 > 0);
    }
    this.#global.set(e.status, (this.#global.get(e.status) ?? 0n) + 1n);
    if (lane) {
      if (e.status === "ok") {
        lane.counts.packets++;
        lane.counts.bytes += BigInt(e.payload!.length);
      } else lane.counts.drops.set(e.status, (lane.counts.drops.get(e.status) ?? 0n) + 1n);
    }
    return e;
  }

  #predictOnSa(lane: Lane, esp: Uint8Array, withHeader: boolean): Expected {
    const sa = lane.inH;
    if (esp.length - 8 - lane.ivBytes - lane.icv < 2) return { status: "truncated", sa };
    const seq = lane.model.infer(readBe32(esp, 4));
    if (!lane.model.check(seq)) return { status: "replay", sa };
    const rec = lane.bySeq.get(seq);
    if (!rec || !equalBytes(rec.esp, esp)) return { status: "integrity-failed", sa };
    lane.model.accept(seq);
    return { status: "ok", sa, payload: withHeader && rec.full ? rec.full : rec.payload };
  }
}

function cat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

/** Every status name (for printing counts in a fixed order). */
export const STATUS_ORDER: readonly Status[] = STATUS_NAMES;
