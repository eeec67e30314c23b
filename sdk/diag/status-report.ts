/**
 * The model behind `ipsec-wasm status` (and `--json`, and the metrics): IKE SAs and their Child
 * SAs with algorithms, SPIs, lifetimes and rekey times, every dataplane SA with its counters as
 * `ip -s xfrm state` shows them, the global xfrm_stat counters, IKE counters and the active
 * diagnostics. The text is `swanctl --list-sas` (strongSwan 5.9's layout) followed by
 * `ip -s xfrm state`, so both kinds of Linux users find what they look for where they expect it.
 * @module
 */
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { SaHandle } from "../dataplane/types.ts";
import type { IkeCounters, IkeDaemon } from "../ike/daemon.ts";
import type { ChildSa, IkeSa } from "../ike/ike-sa.ts";
import type { VipPoolStatus } from "../ike/pool.ts";
import { formatIdentity } from "../ike/identity.ts";
import { formatTs } from "../ike/ts.ts";
import type { DiagnosticLike } from "./types.ts";
import {
  XFRM_STAT_NAMES,
  XfrmStatCollector,
  formatXfrmStates,
  xfrmStateEntries,
  zeroDrops,
  type DropCounts,
  type XfrmStat,
  type XfrmStateContext,
  type XfrmStateEntry,
} from "./xfrm-stat.ts";

/** One direction of a Child SA: its SPI (8 hex digits, as swanctl prints it) and counters. */
export interface ChildSaTraffic {
  spi: string;
  /** Dataplane handle, when installed. */
  handle?: SaHandle;
  bytes: bigint;
  packets: bigint;
  drops: DropCounts;
}

/** When a rekey is due: exact, or the window the jittered timer falls in (RFC 7296 §2.8, strongSwan's rand_time). */
export interface RekeyDue {
  /** Earliest seconds from now. */
  minSeconds: number;
  /** Latest seconds from now (equal to minSeconds when exact). */
  maxSeconds: number;
}

/** A Child SA as `swanctl --list-sas` shows it. */
export interface ChildSaReport {
  name: string;
  uniqueId: number;
  reqid: number;
  state: string;
  mode: "TUNNEL" | "TRANSPORT";
  /** ESP in UDP (RFC 3948). */
  udpEncap: boolean;
  /** swanctl's algorithm notation, e.g. `AES_CBC-128/HMAC_SHA2_256_128`, `AES_GCM_16-128/ESN`. */
  algorithms: string;
  /** charon's log notation of the negotiated proposal. */
  proposal: string;
  /** Our dataplane suite keyword and its ICV length in bits. */
  suite: string;
  icvBits: number;
  esn: boolean;
  installedSecondsAgo: number;
  rekey?: RekeyDue;
  expiresInSeconds?: number;
  in: ChildSaTraffic;
  /** `active` false while a rekey responder waits for the old SA's DELETE. */
  out: ChildSaTraffic & { active: boolean };
  localTs: string[];
  remoteTs: string[];
}

/** An IKE SA as `swanctl --list-sas` shows it. */
export interface IkeSaReport {
  name: string;
  uniqueId: number;
  state: string;
  version: 2;
  /** We sent the first IKE_SA_INIT (swanctl's `*`). */
  initiator: boolean;
  spiI: string;
  spiR: string;
  local: { id: string; address: string; port: number };
  remote: { id: string; address: string; port: number };
  /** swanctl's notation, e.g. `AES_GCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519` (empty before IKE_SA_INIT completes). */
  algorithms: string;
  proposal: string;
  natDetected: boolean;
  establishedSecondsAgo?: number;
  rekey?: RekeyDue;
  /** Virtual IPs the peer assigned us (CP), and the DNS servers it sent. */
  localVips: string[];
  dns: string[];
  /** Virtual IPs leased to the peer from our pools. */
  remoteVips: string[];
  children: ChildSaReport[];
}

/** A trap, as `swanctl --list-pols` shows a TRAP policy (plus what it triggered). */
export interface TrapReport {
  conn: string;
  child: string;
  reqid: number;
  remoteTs: string[];
  localTs: string[];
  /** An initiation it triggered is under way. */
  acquiring: boolean;
  acquires: number;
  dropped: number;
}

/** Everything `ipsec-wasm status` shows. */
export interface StatusReport {
  /** When it was taken (ms, the caller's clock). */
  time: number;
  ikeSas: IkeSaReport[];
  /** Every dataplane SA, IKE-negotiated or manually keyed, as `ip -s xfrm state` records. */
  sas: XfrmStateEntry[];
  /** Child and peer names of dataplane SAs (by handle), for metric labels. */
  owners: Record<number, { child?: string; peer?: string }>;
  xfrmStat: XfrmStat;
  ikeCounters?: IkeCounters;
  /** Installed traps (start_action / dpd_action / close_action = trap). */
  traps?: TrapReport[];
  /** Virtual IP pools with their leases, as `swanctl --list-pools --leases`. */
  pools?: VipPoolStatus[];
  diagnostics: DiagnosticLike[];
}

/** An SA not negotiated by the daemon: what the caller knows about it. */
export interface SaDescription extends XfrmStateContext {
  child?: string;
  peer?: string;
}

/** Sources of a {@link StatusReport}. */
export interface StatusSources {
  dataplane: Dataplane;
  daemon?: IkeDaemon;
  /** Active diagnostics of every detector. */
  diagnostics?: DiagnosticLike[];
  /** Keep one across reports so the global counters never go backwards when SAs are removed. */
  collector?: XfrmStatCollector;
  /** Now on the daemon's clock (default `Date.now()`): `installed`/`established` times are on it. */
  now?: number;
  /** Context of SAs the daemon does not own (manually keyed). */
  describe?: (h: SaHandle) => SaDescription | undefined;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const spi8 = (spi: number): string => (spi >>> 0).toString(16).padStart(8, "0");
const secondsAgo = (now: number, t: number): number => Math.max(0, Math.round((now - t) / 1000));

/**
 * charon's proposal notation to swanctl's: key sizes after a dash on the encryption transform
 * (`AES_CBC_128` -> `AES_CBC-128`), `NO_EXT_SEQ` dropped, `EXT_SEQ` as `ESN`, protocol prefix dropped.
 */
export function swanctlAlgorithms(proposal: string): string {
  const body = proposal.replace(/^[A-Z]+:/, "");
  if (!body) return "";
  return body
    .split("/")
    .flatMap((t) => {
      if (t === "NO_EXT_SEQ") return [];
      if (t === "EXT_SEQ") return ["ESN"];
      if (/^(HMAC_|PRF_|AES_XCBC|AES_CMAC|AES_[0-9]+_GMAC)/.test(t)) return [t];
      return [t.replace(/_(128|192|256)$/, "-$1")];
    })
    .join("/");
}

/** Seconds from `now` until `start + seconds - jitter`, jitter in [0, rand]; undefined when off. */
function due(now: number, start: number, seconds: number, rand: number): RekeyDue | undefined {
  if (!(seconds > 0) || !start) return undefined;
  const left = seconds - (now - start) / 1000;
  return { minSeconds: Math.max(0, Math.round(left - Math.max(0, rand))), maxSeconds: Math.max(0, Math.round(left)) };
}

function traffic(dp: Dataplane, spi: number, h: SaHandle | undefined): ChildSaTraffic {
  if (h === undefined) return { spi: spi8(spi), bytes: 0n, packets: 0n, drops: zeroDrops() };
  const s = dp.stats(h);
  return { spi: spi8(spi), handle: h, bytes: s.bytes, packets: s.packets, drops: { ...s.drops } };
}

/** Collects the report. Reads counters only; changes nothing. */
export function buildStatusReport(src: StatusSources): StatusReport {
  const dp = src.dataplane;
  const now = src.now ?? Date.now();
  const ctx = new Map<SaHandle, SaDescription>();
  const ikeSas: IkeSaReport[] = [];
  const traps: TrapReport[] = [];
  const daemon = src.daemon;
  if (daemon) {
    // strongSwan's reqid is stable per configured child; ours: its position in the configuration.
    const reqids = new Map<string, number>();
    for (const c of daemon.connections) for (const t of c.children) reqids.set(`${c.name}\0${t.name}`, reqids.size + 1);
    for (const ike of new Set(daemon.sas.values())) ikeSas.push(ikeReport(ike, dp, daemon, now, reqids, ctx));
    for (const t of daemon.traps())
      traps.push({
        conn: t.conn.name,
        child: t.template.name,
        reqid: reqids.get(`${t.conn.name}\0${t.template.name}`) ?? 0,
        remoteTs: t.remoteTs.map(formatTs),
        localTs: t.template.localTs.map((x) => (x === "dynamic" ? "dynamic" : formatTs(x))),
        acquiring: t.acquiring,
        acquires: t.acquires,
        dropped: t.dropped,
      });
  }
  for (const h of dp.handles()) {
    if (ctx.has(h)) continue;
    const d = src.describe?.(h);
    if (d) ctx.set(h, d);
  }
  const owners: StatusReport["owners"] = {};
  for (const [h, d] of ctx)
    owners[h] = {
      ...(d.child !== undefined ? { child: d.child } : {}),
      ...(d.peer !== undefined ? { peer: d.peer } : {}),
    };
  // The kernel counts packets dropped at a trap (larval drop) as XfrmOutNoStates, too.
  const extra = daemon
    ? { XfrmOutNoStates: BigInt(daemon.counters.espToUnknownChild + daemon.counters.trapDropped) }
    : undefined;
  return {
    time: now,
    ikeSas,
    sas: xfrmStateEntries(dp, (h) => ctx.get(h)),
    owners,
    xfrmStat: (src.collector ?? new XfrmStatCollector(dp)).sample(extra),
    ...(daemon ? { ikeCounters: { ...daemon.counters }, traps, pools: daemon.pools.status() } : {}),
    diagnostics: [...(src.diagnostics ?? [])],
  };
}

function ikeReport(
  ike: IkeSa,
  dp: Dataplane,
  daemon: IkeDaemon,
  now: number,
  reqids: Map<string, number>,
  ctx: Map<SaHandle, SaDescription>,
): IkeSaReport {
  const established = ike.establishedAt > 0;
  const children = [...ike.children.values()].map((c) =>
    childReport(c, ike, dp, daemon, now, reqids.get(`${ike.conn.name}\0${c.name}`) ?? 0, ctx),
  );
  return {
    name: ike.conn.name,
    uniqueId: ike.uniqueId,
    state: ike.state,
    version: 2,
    initiator: ike.originalInitiator,
    spiI: hex(ike.spiI),
    spiR: hex(ike.spiR),
    local: { id: ike.localId ? formatIdentity(ike.localId) : "%any", address: ike.local.address, port: ike.local.port },
    remote: {
      id: ike.remoteId ? formatIdentity(ike.remoteId) : "%any",
      address: ike.remote.address,
      port: ike.remote.port,
    },
    algorithms: swanctlAlgorithms(ike.proposal),
    proposal: ike.proposal,
    natDetected: ike.natDetected,
    ...(established ? { establishedSecondsAgo: secondsAgo(now, ike.establishedAt) } : {}),
    ...(established && ike.state === "ESTABLISHED"
      ? optional("rekey", due(now, ike.establishedAt, ike.conn.rekeyTime, ike.conn.randTime))
      : {}),
    localVips: [...ike.localVips],
    dns: [...ike.dnsServers],
    remoteVips: ike.remoteVips.map((l) => l.address),
    children,
  };
}

function childReport(
  c: ChildSa,
  ike: IkeSa,
  dp: Dataplane,
  daemon: IkeDaemon,
  now: number,
  reqid: number,
  ctx: Map<SaHandle, SaDescription>,
): ChildSaReport {
  const handles = daemon.childHandles(c);
  const t = c.template;
  const udp = ike.conn.encap || ike.natDetected || ike.local.port !== 500;
  const limits = {
    addTime: c.installedAt,
    ...(t.rekeyTime > 0 ? { softAddSeconds: t.rekeyTime } : {}),
    ...(t.lifeTime > 0 ? { hardAddSeconds: t.lifeTime } : {}),
    ...(t.rekeyBytes > 0 ? { softBytes: BigInt(t.rekeyBytes) } : {}),
    ...(t.lifeBytes > 0 ? { hardBytes: BigInt(t.lifeBytes) } : {}),
    ...(t.rekeyPackets > 0 ? { softPackets: BigInt(t.rekeyPackets) } : {}),
    ...(t.lifePackets > 0 ? { hardPackets: BigInt(t.lifePackets) } : {}),
  };
  const owner = { child: c.name, peer: ike.remote.address, reqid, limits };
  // The kernel's encap sport/dport are those of the packets the SA matches.
  if (handles) {
    ctx.set(handles.in, {
      ...owner,
      src: ike.remote.address,
      dst: ike.local.address,
      ...(udp ? { encap: { sport: ike.remote.port, dport: ike.local.port } } : {}),
    });
    if (handles.out !== undefined) {
      ctx.set(handles.out, {
        ...owner,
        src: ike.local.address,
        dst: ike.remote.address,
        ...(udp ? { encap: { sport: ike.local.port, dport: ike.remote.port } } : {}),
      });
    }
  }
  const inStats = handles ? dp.stats(handles.in) : undefined;
  return {
    name: c.name,
    uniqueId: c.uniqueId,
    reqid,
    state: c.state,
    mode: c.mode === "transport" ? "TRANSPORT" : "TUNNEL",
    udpEncap: udp,
    algorithms: swanctlAlgorithms(c.proposal),
    proposal: c.proposal,
    suite: c.suite,
    icvBits: (inStats?.icvLength ?? 0) * 8,
    esn: c.esn,
    installedSecondsAgo: secondsAgo(now, c.installedAt),
    ...(c.state === "INSTALLED" ? optional("rekey", due(now, c.installedAt, t.rekeyTime, t.randTime)) : {}),
    ...optional("expiresInSeconds", due(now, c.installedAt, t.lifeTime, 0)?.maxSeconds),
    in: traffic(dp, c.spiIn, handles?.in),
    out: { ...traffic(dp, c.spiOut, handles?.out), active: handles?.out !== undefined },
    localTs: c.localTs.map(formatTs),
    remoteTs: c.remoteTs.map(formatTs),
  };
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}

const inSeconds = (d: RekeyDue): string =>
  d.minSeconds === d.maxSeconds ? `${d.maxSeconds}s` : `${d.minSeconds}-${d.maxSeconds}s`;

/** The IKE part in `swanctl --list-sas` layout (strongSwan 5.9, src/swanctl/commands/list_sas.c). */
export function formatSwanctlSas(ikeSas: IkeSaReport[]): string {
  const out: string[] = [];
  for (const s of ikeSas) {
    out.push(
      `${s.name}: #${s.uniqueId}, ${s.state}, IKEv${s.version}, ${s.spiI}_i${s.initiator ? "*" : ""} ${s.spiR}_r${s.initiator ? "" : "*"}`,
    );
    // list_sas.c prints the virtual IPs in brackets after the address.
    const vips = (v: string[] | undefined): string => (v?.length ? ` [${v.join(" ")}]` : "");
    out.push(`  local  '${s.local.id}' @ ${s.local.address}[${s.local.port}]${vips(s.localVips)}`);
    out.push(`  remote '${s.remote.id}' @ ${s.remote.address}[${s.remote.port}]${vips(s.remoteVips)}`);
    if (s.dns?.length) out.push(`  dns ${s.dns.join(" ")}`);
    if (s.algorithms) out.push(`  ${s.algorithms}`);
    if (s.establishedSecondsAgo !== undefined) {
      out.push(`  established ${s.establishedSecondsAgo}s ago${s.rekey ? `, rekeying in ${inSeconds(s.rekey)}` : ""}`);
    }
    for (const c of s.children) {
      out.push(
        `  ${c.name}: #${c.uniqueId}, reqid ${c.reqid}, ${c.state}, ${c.mode}${c.udpEncap ? "-in-UDP" : ""}, ESP:${c.algorithms}`,
      );
      out.push(
        `    installed ${c.installedSecondsAgo}s ago${c.rekey ? `, rekeying in ${inSeconds(c.rekey)}` : ""}${c.expiresInSeconds !== undefined ? `, expires in ${c.expiresInSeconds}s` : ""}`,
      );
      out.push(
        `    in  ${c.in.spi}, ${String(c.in.bytes).padStart(6)} bytes, ${String(c.in.packets).padStart(5)} packets`,
      );
      out.push(
        `    out ${c.out.spi}, ${String(c.out.bytes).padStart(6)} bytes, ${String(c.out.packets).padStart(5)} packets${c.out.active ? "" : " (outbound not active yet)"}`,
      );
      out.push(`    local  ${c.localTs.join(" ")}`);
      out.push(`    remote ${c.remoteTs.join(" ")}`);
    }
  }
  return out.length ? out.join("\n") + "\n" : "";
}

/** Traps as `swanctl --list-pols` lists TRAP policies, with what each triggered. */
export function formatTraps(traps: TrapReport[]): string {
  return traps
    .map(
      (t) =>
        `${t.conn}/${t.child}, TRAP, reqid ${t.reqid}${t.acquiring ? ", acquiring" : ""}, ${t.acquires} acquires, ${t.dropped} packets dropped\n` +
        `  local:  ${t.localTs.join(" ")}\n  remote: ${t.remoteTs.join(" ")}\n`,
    )
    .join("");
}

/** Pools as `swanctl --list-pools --leases`: name, base, online / offline / size, then the leases. */
export function formatPools(pools: VipPoolStatus[]): string {
  const pad = (n: number): string => String(n).padStart(5);
  return pools
    .map(
      (p) =>
        `${p.name.padEnd(20)} ${p.base.padEnd(40)} ${pad(p.online)} / ${pad(p.offline)} / ${pad(p.size)}\n` +
        p.leases.map((l) => `  ${l.address.padEnd(39)} ${l.online ? "online " : "offline"} '${l.identity}'\n`).join(""),
    )
    .join("");
}

/**
 * The whole report as text: `swanctl --list-sas`, a blank line, `ip -s xfrm state` for every
 * dataplane SA, the non-zero xfrm_stat counters, IKE counters, then the active diagnostics
 * (last, so they are what stays on the screen).
 */
export function formatStatusReport(r: StatusReport): string {
  const parts: string[] = [];
  const ike = formatSwanctlSas(r.ikeSas);
  if (ike) parts.push(ike);
  else if (r.ikeCounters) parts.push("no IKE_SAs\n");
  if (r.traps?.length) parts.push(formatTraps(r.traps));
  if (r.pools?.length) parts.push(formatPools(r.pools));
  parts.push(r.sas.length ? formatXfrmStates(r.sas) : "no SAs in the dataplane\n");
  const nonZero = XFRM_STAT_NAMES.filter((n) => r.xfrmStat[n] !== 0n);
  parts.push(
    nonZero.length
      ? `xfrm_stat (non-zero):\n${nonZero.map((n) => `${n.padEnd(24)}\t${r.xfrmStat[n]}\n`).join("")}`
      : "xfrm_stat: all counters 0\n",
  );
  if (r.ikeCounters) {
    parts.push(
      `IKE counters: ${Object.entries(r.ikeCounters)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}\n`,
    );
  }
  parts.push(
    r.diagnostics.length
      ? `${r.diagnostics.length} active diagnostic${r.diagnostics.length === 1 ? "" : "s"}:\n${r.diagnostics
          .map((d) => `  [${d.severity ?? "error"}] ${d.kind}: ${d.message}\n${d.hint ? `    fix: ${d.hint}\n` : ""}`)
          .join("")}`
      : "no active diagnostics\n",
  );
  return parts.join("\n");
}

/** The report as JSON (`status --json`): 64-bit counters as decimal strings, so no precision is lost. */
export function statusReportJson(r: StatusReport): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n";
}
