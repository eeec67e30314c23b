/**
 * Our counters under the names Linux users already read: `/proc/net/xfrm_stat` for the global
 * drop counters and `ip -s xfrm state` for each SA. The mapping follows where the kernel counts
 * the same event (net/xfrm/xfrm_input.c, xfrm_output.c, xfrm_replay.c; checked against Debian's
 * 6.1 kernel, see test/fixtures/diag): an ICV failure is XfrmInStateProtoError and `failed` on
 * the SA, a replayed sequence number XfrmInStateSeqError and `replay`, an unknown SPI
 * XfrmInNoStates, an exhausted outbound sequence number XfrmOutStateSeqError.
 * @module
 */
import type { Dataplane } from "../dataplane/dataplane.ts";
import { byteAt } from "../packet/bytes.ts";
import { lookupSuite } from "../dataplane/suites.ts";
import { STATUS_NAMES, type EspMode, type SaHandle, type SaStats, type Status } from "../dataplane/types.ts";

/** Every counter of /proc/net/xfrm_stat, in the kernel's order (Linux 6.18, net/xfrm/xfrm_proc.c). */
export const XFRM_STAT_NAMES = [
  "XfrmInError",
  "XfrmInBufferError",
  "XfrmInHdrError",
  "XfrmInNoStates",
  "XfrmInStateProtoError",
  "XfrmInStateModeError",
  "XfrmInStateSeqError",
  "XfrmInStateExpired",
  "XfrmInStateMismatch",
  "XfrmInStateInvalid",
  "XfrmInTmplMismatch",
  "XfrmInNoPols",
  "XfrmInPolBlock",
  "XfrmInPolError",
  "XfrmOutError",
  "XfrmOutBundleGenError",
  "XfrmOutBundleCheckError",
  "XfrmOutNoStates",
  "XfrmOutStateProtoError",
  "XfrmOutStateModeError",
  "XfrmOutStateSeqError",
  "XfrmOutStateExpired",
  "XfrmOutPolBlock",
  "XfrmOutPolDead",
  "XfrmOutPolError",
  "XfrmFwdHdrError",
  "XfrmOutStateInvalid",
  "XfrmAcquireError",
  "XfrmOutStateDirError",
  "XfrmInStateDirError",
  "XfrmInIptfsError",
  "XfrmOutNoQueueSpace",
] as const;

/** One /proc/net/xfrm_stat counter name. */
export type XfrmStatName = (typeof XFRM_STAT_NAMES)[number];
/** The global counters, by kernel name (0 where we have no equivalent). */
export type XfrmStat = Record<XfrmStatName, bigint>;
/** A drop reason of the dataplane (every status but `ok`). */
export type DropReason = Exclude<Status, "ok">;
/** Counts per drop reason. */
export type DropCounts = Record<DropReason, bigint>;

/** What {@link xfrmStatFrom} maps. */
export interface XfrmCounterInput {
  /** The dataplane's global counters per status (both directions, SA or not). */
  byStatus: Record<Status, bigint>;
  /** Drops counted on inbound SAs, summed (SAs since removed included). */
  inbound: DropCounts;
  /** Drops counted on outbound SAs, summed. */
  outbound: DropCounts;
  /**
   * Counters the dataplane cannot see, added as they are: e.g. XfrmOutNoStates from the IKE
   * daemon's `espToUnknownChild` (packets for which no Child SA exists), XfrmInTmplMismatch from
   * an inbound traffic-selector check.
   */
  extra?: Partial<XfrmStat>;
}

/** All reasons at zero. */
export function zeroDrops(): DropCounts {
  const d = {} as DropCounts;
  for (const s of STATUS_NAMES) if (s !== "ok") d[s] = 0n;
  return d;
}

/**
 * Maps our counters to the kernel's. Reasons only inbound SAs produce come from the global
 * counters (exact even for SAs removed since); the rest are split by the direction of the SA
 * that counted them, and what no SA counted is what failed before the SPI lookup.
 */
export function xfrmStatFrom(c: XfrmCounterInput): XfrmStat {
  const g = c.byStatus,
    i = c.inbound,
    o = c.outbound;
  const noSa = (s: DropReason): bigint => max0(g[s] - i[s] - o[s]);
  const x = {} as XfrmStat;
  for (const n of XFRM_STAT_NAMES) x[n] = 0n;
  // Inbound. Too short for an ESP header: the kernel's xfrm_parse_spi fails (XfrmInHdrError);
  // too short or misaligned for the SA's cipher: esp_input's -EINVAL (XfrmInStateProtoError).
  x.XfrmInHdrError = noSa("truncated");
  x.XfrmInNoStates = g["no-sa"];
  // Larger than our packet slot, before any SA is involved: the kernel's "no buffer" class.
  x.XfrmInBufferError = noSa("too-big") + i["too-big"];
  // -EBADMSG (ICV) and -EINVAL (padding, length) from esp_input both land here.
  x.XfrmInStateProtoError = g["integrity-failed"] + g["bad-padding"] + i.truncated;
  x.XfrmInStateSeqError = g.replay;
  // The inner packet does not fit the mode: xfrm_inner_mode_input fails.
  x.XfrmInStateModeError = g["bad-next-header"] + i["malformed-inner"];
  x.XfrmInStateExpired = i["lifetime-expired"];
  x.XfrmInStateInvalid = i["invalid-sa"];
  // Outbound.
  x.XfrmOutStateSeqError = g["seq-overflow"];
  x.XfrmOutStateExpired = o["lifetime-expired"];
  x.XfrmOutStateModeError = o["malformed-inner"];
  x.XfrmOutError = o["too-big"];
  // A handle that names no live outbound SA: the kernel's dead-state check in xfrm_output_one.
  x.XfrmOutStateInvalid = noSa("invalid-sa") + o["invalid-sa"];
  for (const [k, v] of Object.entries(c.extra ?? {}) as [XfrmStatName, bigint | undefined][]) {
    if (v !== undefined && k in x) x[k] += v;
  }
  return x;
}

const max0 = (v: bigint): bigint => (v < 0n ? 0n : v);

/** /proc/net/xfrm_stat text: `%-24s\t%lu` per counter, the kernel's format. */
export function formatXfrmStat(x: XfrmStat): string {
  return XFRM_STAT_NAMES.map((n) => `${n.padEnd(24)}\t${x[n]}\n`).join("");
}

/**
 * Global counters of one dataplane that never go backwards: drops counted on SAs are remembered
 * when the SA is removed (as of the last sample, so drops between the last sample and the
 * removal are attributed to "no SA"; sample before removing SAs when that matters).
 */
export class XfrmStatCollector {
  readonly #dp: Dataplane;
  readonly #live = new Map<SaHandle, { config: object; direction: "in" | "out"; drops: DropCounts }>();
  readonly #retired = { in: zeroDrops(), out: zeroDrops() };
  #last?: XfrmStat;

  constructor(dp: Dataplane) {
    this.#dp = dp;
  }

  /** Reads the dataplane now. `extra` as in {@link XfrmCounterInput.extra}. */
  sample(extra?: Partial<XfrmStat>): XfrmStat {
    const dp = this.#dp;
    const seen = new Set<SaHandle>();
    for (const h of dp.handles()) {
      const config = dp.config(h);
      const prev = this.#live.get(h);
      // A slot reused by a new SA: the old one's counts are final.
      if (prev && prev.config !== config) this.#retire(prev);
      const s = dp.stats(h);
      this.#live.set(h, { config, direction: s.direction, drops: { ...s.drops } });
      seen.add(h);
    }
    for (const [h, prev] of this.#live) {
      if (!seen.has(h)) {
        this.#retire(prev);
        this.#live.delete(h);
      }
    }
    const inbound = { ...this.#retired.in },
      outbound = { ...this.#retired.out };
    for (const e of this.#live.values()) addDrops(e.direction === "in" ? inbound : outbound, e.drops);
    const x = xfrmStatFrom({ byStatus: dp.globalStats().byStatus, inbound, outbound, extra });
    // Never report less than before (the "no SA" remainders can dip by a racing removal).
    if (this.#last) for (const n of XFRM_STAT_NAMES) if (x[n] < this.#last[n]) x[n] = this.#last[n];
    this.#last = x;
    return { ...x };
  }

  #retire(e: { direction: "in" | "out"; drops: DropCounts }): void {
    addDrops(this.#retired[e.direction], e.drops);
  }
}

function addDrops(into: DropCounts, from: DropCounts): void {
  for (const k of Object.keys(into) as DropReason[]) into[k] += from[k] ?? 0n;
}

// ------------------------------------------------------------------ per SA: ip -s xfrm state

/** One transform as ip-xfrm names it (`aead rfc4106(gcm(aes))`, `auth-trunc hmac(sha256)`, `enc cbc(aes)`). */
export interface XfrmAlgorithm {
  type: "aead" | "auth-trunc" | "enc";
  /** Linux crypto API name. */
  name: string;
  keyBits: number;
  /** ICV bits (aead, auth-trunc). */
  icvBits?: number;
}

/** Everything `ip -s xfrm state` shows for one SA, from our dataplane. */
export interface XfrmStateEntry {
  handle: SaHandle;
  src: string;
  dst: string;
  spi: number;
  reqid: number;
  mode: EspMode;
  direction: "in" | "out";
  /** Our suite keyword, e.g. `aes128-sha256`, `aes128gcm16-esn`. */
  suite: string;
  esn: boolean;
  icvBits: number;
  algorithms: XfrmAlgorithm[];
  /** ESP in UDP (RFC 3948) ports, when the SA's packets travel in UDP. */
  encap?: { sport: number; dport: number };
  replay: XfrmReplayState;
  lifetime: XfrmLifetime;
  /** The `stats:` line: packets outside the window, replayed, failing their ICV. */
  stats: { replayWindow: bigint; replay: bigint; failed: bigint };
  /** Our drops by reason (not in ip-xfrm's output; shown after it). */
  drops: DropCounts;
}

/** The anti-replay state in the layout the kernel reports it. */
export interface XfrmReplayState {
  /** true: `anti-replay esn context` (ESN, or a window over 32); false: the legacy 32-bit context. */
  esnContext: boolean;
  window: number;
  /** Highest sequence number accepted (inbound). */
  seq: bigint;
  /** Last sequence number sent (outbound). */
  oseq: bigint;
  /** Legacy: one word, bit i = seq - i received. ESN context: ceil(window/32) words, bit (seq-1) % window. */
  bitmap: number[];
}

/** Lifetime limits and current use; limits undefined are infinite, seconds 0 are unset (as the kernel prints them). */
export interface XfrmLifetime {
  softBytes?: bigint;
  hardBytes?: bigint;
  softPackets?: bigint;
  hardPackets?: bigint;
  softAddSeconds: number;
  hardAddSeconds: number;
  softUseSeconds: number;
  hardUseSeconds: number;
  bytes: bigint;
  packets: bigint;
  /** When the SA was added / last used (ms since the epoch), if known. */
  addTime?: number;
  useTime?: number;
}

/** What the dataplane does not know about an SA; the IKE daemon or the caller fills it in. */
export interface XfrmStateContext {
  src?: string;
  dst?: string;
  reqid?: number;
  encap?: { sport: number; dport: number };
  limits?: Partial<Omit<XfrmLifetime, "bytes" | "packets">>;
}

/**
 * The transforms ip-xfrm would list for one of our suite keywords (as stats() spells them), with
 * the ICV length actually used: the suite registry's kernel names, the key with its salt or nonce
 * as the kernel holds it. A keyword the registry does not know says "?" instead of throwing.
 */
export function xfrmAlgorithms(suite: string, icvBytes: number): XfrmAlgorithm[] {
  const icvBits = icvBytes * 8;
  const rows = lookupSuite(suite.toLowerCase().replace(/-(no)?esn$/, ""));
  if (!rows) return [{ type: "enc", name: `? (${suite})`, keyBits: 0 }];
  const { cipher, integ } = rows;
  const keyBits = (cipher.keyBytes + cipher.saltBytes) * 8;
  if ("aead" in cipher.xfrm) return [{ type: "aead", name: cipher.xfrm.aead, keyBits, icvBits }];
  const auth: XfrmAlgorithm = { type: "auth-trunc", name: integ!.xfrm.auth, keyBits: integ!.keyBytes * 8, icvBits };
  return [auth, { type: "enc", name: cipher.xfrm.enc, keyBits }];
}

/**
 * The kernel's view of a replay window from ours. Ours is a ring of 64-bit blocks indexed by
 * sequence number (RFC 6479); the kernel's legacy bitmap has bit i for top - i, its ESN/bitmap
 * mode keeps bit ((low 32 bits of seq) - 1) mod window (xfrm_replay_advance_esn).
 */
export function kernelReplayBitmap(
  rs: { top: bigint; window: number; bitmap: Uint8Array },
  esnContext: boolean,
): number[] {
  const { top, window, bitmap } = rs;
  const blocks = bitmap.length / 8;
  const seen = (s: bigint): boolean => {
    if (blocks === 0 || s < 1n || s > top || top - s >= BigInt(window)) return false;
    const bit = Number(s & 63n);
    const at = Number((s >> 6n) & BigInt(blocks - 1)) * 8 + (bit >> 3);
    return ((byteAt(bitmap, at) >> (bit & 7)) & 1) === 1;
  };
  if (!esnContext) {
    let word = 0;
    for (let i = 0; i < Math.min(window, 32); i++) if (seen(top - BigInt(i))) word |= 1 << i;
    return [word >>> 0];
  }
  const words = new Array<number>(Math.ceil(window / 32)).fill(0);
  for (let i = 0; i < window; i++) {
    const s = top - BigInt(i);
    if (!seen(s)) continue;
    const idx = ((Number(s & 0xffffffffn) - 1) >>> 0) % window;
    words[idx >> 5] = ((words[idx >> 5] ?? 0) | (1 << (idx & 31))) >>> 0;
  }
  return words;
}

/** Lifetime limits and the add time, when the dataplane has them (SaConfig.lifetime, SaStats.lifetime). */
interface LifetimeView {
  lifetime?: {
    soft?: { bytes?: number | bigint; packets?: number | bigint; seconds?: number };
    hard?: { bytes?: number | bigint; packets?: number | bigint; seconds?: number };
  };
}

function configuredLimits(cfg: object, stats: object): Partial<Omit<XfrmLifetime, "bytes" | "packets">> {
  const l = (cfg as LifetimeView).lifetime;
  const big = (v: number | bigint | undefined): bigint | undefined => (v === undefined ? undefined : BigInt(v));
  const out: Partial<Omit<XfrmLifetime, "bytes" | "packets">> = {};
  if (l?.soft?.bytes !== undefined) out.softBytes = big(l.soft.bytes);
  if (l?.hard?.bytes !== undefined) out.hardBytes = big(l.hard.bytes);
  if (l?.soft?.packets !== undefined) out.softPackets = big(l.soft.packets);
  if (l?.hard?.packets !== undefined) out.hardPackets = big(l.hard.packets);
  if (l?.soft?.seconds !== undefined) out.softAddSeconds = l.soft.seconds;
  if (l?.hard?.seconds !== undefined) out.hardAddSeconds = l.hard.seconds;
  const added = (stats as { lifetime?: { addedAt?: number } }).lifetime?.addedAt;
  if (typeof added === "number" && added > 0) out.addTime = added;
  return out;
}

/** The `ip -s xfrm state` record of one SA of `dp`; `ctx` overrides what the dataplane reports. */
export function xfrmStateEntry(dp: Dataplane, h: SaHandle, ctx: XfrmStateContext = {}): XfrmStateEntry {
  const cfg = dp.config(h);
  const s: SaStats = dp.stats(h);
  const esn = s.esp.endsWith("-esn");
  const inbound = s.direction === "in";
  const rs = inbound ? dp.replayState(h) : { top: 0n, window: 0, bitmap: new Uint8Array(0) };
  const esnContext = esn || rs.window > 32;
  return {
    handle: h,
    src: ctx.src ?? "0.0.0.0",
    dst: ctx.dst ?? "0.0.0.0",
    spi: s.spi,
    reqid: ctx.reqid ?? 0,
    mode: cfg.mode,
    direction: s.direction,
    suite: s.esp,
    esn,
    icvBits: s.icvLength * 8,
    algorithms: xfrmAlgorithms(s.esp, s.icvLength),
    ...(ctx.encap ? { encap: ctx.encap } : {}),
    replay: {
      esnContext,
      window: rs.window,
      seq: inbound ? rs.top : 0n,
      oseq: inbound ? 0n : s.seq,
      bitmap: inbound ? kernelReplayBitmap(rs, esnContext) : esnContext ? [] : [0],
    },
    lifetime: {
      softAddSeconds: 0,
      hardAddSeconds: 0,
      softUseSeconds: 0,
      hardUseSeconds: 0,
      ...configuredLimits(cfg, s),
      ...ctx.limits,
      bytes: s.bytes,
      packets: s.packets,
    },
    // Our replay counter holds duplicates and packets behind the window alike. `failed`: the
    // kernel's authenc checks the MAC before the cipher looks at the length, so a CBC packet whose
    // length does not fit the SA (our `truncated` on an SA: a peer with another ICV length) is an
    // ICV failure there.
    stats: { replayWindow: 0n, replay: s.drops.replay, failed: s.drops["integrity-failed"] + s.drops.truncated },
    drops: { ...s.drops },
  };
}

/** Every SA of `dp`, newest handle first like the kernel's list, with context from `describe`. */
export function xfrmStateEntries(
  dp: Dataplane,
  describe?: (h: SaHandle) => XfrmStateContext | undefined,
): XfrmStateEntry[] {
  return dp
    .handles()
    .sort((a, b) => b - a)
    .map((h) => xfrmStateEntry(dp, h, describe?.(h)));
}

const hex32 = (v: bigint | number): string => `0x${BigInt(v).toString(16)}`;
const limit = (v: bigint | undefined): string => (v === undefined ? "(INF)" : v.toString());

/** `%Y-%m-%d %T` in local time, as iproute2's strxf_time; `-` when unset. */
function xfrmTime(ms: number | undefined): string {
  if (!ms) return "-";
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * One SA in the format of `ip -s xfrm state` (iproute2 6.1), keys withheld (they never leave
 * the wasm memory), followed by our per-reason drop counters.
 */
export function formatXfrmState(e: XfrmStateEntry): string {
  const t = "\t";
  const spi = e.spi >>> 0;
  const out: string[] = [
    `src ${e.src} dst ${e.dst}`,
    `${t}proto esp spi 0x${spi.toString(16).padStart(8, "0")}(${spi}) reqid ${e.reqid}(0x${e.reqid.toString(16).padStart(8, "0")}) mode ${e.mode}`,
    `${t}replay-window ${e.replay.esnContext ? 0 : e.replay.window} seq 0x00000000 flag ${e.esn ? "esn" : ""} (0x${e.esn ? "10000000" : "00000000"})`,
  ];
  for (const a of e.algorithms) {
    const key = a.keyBits === 0 ? "0x" : "[key in wasm]";
    out.push(`${t}${a.type} ${a.name} ${key} (${a.keyBits} bits)${a.icvBits !== undefined ? ` ${a.icvBits}` : ""}`);
  }
  if (e.encap) out.push(`${t}encap type espinudp sport ${e.encap.sport} dport ${e.encap.dport} addr 0.0.0.0`);
  const r = e.replay;
  if (r.esnContext) {
    out.push(`${t}anti-replay esn context:`);
    out.push(
      `${t} seq-hi ${hex32(r.seq >> 32n)}, seq ${hex32(r.seq & 0xffffffffn)}, oseq-hi ${hex32(r.oseq >> 32n)}, oseq ${hex32(r.oseq & 0xffffffffn)}`,
    );
    let line = `${t} replay_window ${r.window}, bitmap-length ${r.bitmap.length}`;
    // Highest word first, eight to a line, each "%08x " (iproute2's loop).
    for (let i = r.bitmap.length, j = 0; i > 0; i--, j++) {
      if (j % 8 === 0) {
        out.push(line);
        line = `${t} `;
      }
      line += `${r.bitmap[i - 1]!.toString(16).padStart(8, "0")} `; // 0 < i <= bitmap.length
    }
    out.push(line);
  } else {
    out.push(
      `${t}anti-replay context: seq ${hex32(r.seq)}, oseq ${hex32(r.oseq)}, bitmap 0x${(r.bitmap[0] ?? 0).toString(16).padStart(8, "0")}`,
    );
  }
  out.push(`${t}sel src 0.0.0.0/0 dst 0.0.0.0/0 uid 0`);
  const l = e.lifetime;
  out.push(`${t}lifetime config:`);
  out.push(`${t}  limit: soft ${limit(l.softBytes)}(bytes), hard ${limit(l.hardBytes)}(bytes)`);
  out.push(`${t}  limit: soft ${limit(l.softPackets)}(packets), hard ${limit(l.hardPackets)}(packets)`);
  out.push(`${t}  expire add: soft ${l.softAddSeconds}(sec), hard ${l.hardAddSeconds}(sec)`);
  out.push(`${t}  expire use: soft ${l.softUseSeconds}(sec), hard ${l.hardUseSeconds}(sec)`);
  out.push(`${t}lifetime current:`);
  out.push(`${t}  ${l.bytes}(bytes), ${l.packets}(packets)`);
  out.push(`${t}  add ${xfrmTime(l.addTime)} use ${xfrmTime(l.useTime)}`);
  out.push(`${t}stats:`);
  out.push(`${t}  replay-window ${e.stats.replayWindow} replay ${e.stats.replay} failed ${e.stats.failed}`);
  const drops = (Object.entries(e.drops) as [DropReason, bigint][])
    .filter(([, v]) => v > 0n)
    .map(([k, v]) => `${k} ${v}`);
  out.push(`${t}drops:`);
  out.push(`${t}  ${drops.length ? drops.join(" ") : "none"}`);
  return out.join("\n") + "\n";
}

/** Several SAs, as one `ip -s xfrm state` listing. */
export function formatXfrmStates(entries: XfrmStateEntry[]): string {
  return entries.map(formatXfrmState).join("");
}
