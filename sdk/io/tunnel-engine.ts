/**
 * The packet path of the tunnel worker, between a TUN fd and an ESP-in-UDP socket:
 *
 * - TUN → UDP: up to `batch` reads into native slots (one system call per packet: TUN gives one
 *   packet per read), selectors pick each packet's outbound SA, one {@link Dataplane.runEncapsulate}
 *   for the batch (copy 1: native slot → wasm arena, in `PacketBatch.add`), then the sink sends
 *   the outputs (mmsg: iovecs point into the wasm arena, no copy, and runs of equal-size
 *   datagrams to one peer go as one UDP GSO message; dgram: one copy per datagram).
 * - UDP → TUN: datagrams demultiplexed as RFC 3948 says (0xff keepalive, zero non-ESP marker =
 *   IKE to the main thread, else ESP), one {@link Dataplane.runDecapsulate} (copy 1: receive slot
 *   → arena), inbound selectors checked, one `write` per inner packet straight from the arena.
 * - With TUN offloads (a virtio_net_hdr before each packet, tun-offload.ts): reads go back to back
 *   into one buffer, a TSO/USO super-packet is cut into MSS-sized packets straight into the slot
 *   they are staged from; after decryption a flow's consecutive segments are copied into one
 *   super-packet (one `write` for up to 64 KiB), other packets written alone behind a zero header.
 *
 * Nothing is allocated per packet here but two typed-array views the Dataplane API needs (the
 * input view for `add`, the output view of `output`).
 * @module
 */
import type { Dataplane, PacketBatch } from "../dataplane/dataplane.ts";
import type { SaHandle, Status } from "../dataplane/types.ts";
import { packetTooBig, RateLimit } from "./icmp-too-big.ts";
import { compileTs, matchTs, type CompiledTs } from "./selectors.ts";
import { STAGES, type FromWorker, type IoCounters, type ToWorker } from "./messages.ts";
import type { Libc, NativeBlock } from "./libc.ts";
import { IcvTruncationDetector } from "../diag/icv-truncation.ts";
import { byteAt } from "../packet/bytes.ts";
import { formatIp } from "../net/ip.ts";
import {
  Coalescer,
  finishChecksum,
  GSO_NONE,
  gsoSegment,
  gsoSegments,
  MAX_SUPER,
  VNET_F_NEEDS_CSUM,
  GSO_UDP_L4,
  VNET_HDR_LEN,
  VnetHdr,
} from "./tun-offload.ts";

/** What the TUN was opened with (see TunOffload in tun-linux.ts): a virtio_net_hdr per read/write, USO. */
export interface EngineOffload {
  vnetHdr: boolean;
  uso: boolean;
}

/** Where ciphertext goes: the UDP mechanism. */
export interface UdpSink {
  /** A destination handle for an endpoint (resolved once per route). */
  dest(address: string, port: number): unknown;
  /** Queues `out` (a view into wasm memory, valid until the next batch run) for `dest`. */
  queue(out: Uint8Array, dest: unknown): void;
  /** Sends what was queued; returns [sent, failed, system calls]. */
  flush(): [number, number, number];
  /** Sends one datagram at once (IKE with its marker, keepalives, raw ESP). */
  sendOne(prefix: Uint8Array | undefined, bytes: Uint8Array, address: string, port: number): boolean;
}

/** The read buffer (header + a 64 KiB super-packet), the write buffer and GRO of a virtio_net_hdr TUN. */
interface VnetState {
  rd: NativeBlock;
  /** End offset in rd of each read of the current round. */
  ends: Int32Array;
  wr: NativeBlock;
  hdr: VnetHdr;
  gro: Coalescer;
}

interface Route {
  wh: SaHandle;
  dest: unknown;
  local: CompiledTs[];
  remote: CompiledTs[];
  mtu: number;
}
interface Policy {
  local: CompiledTs[];
  remote: CompiledTs[];
}

const MARKER = new Uint8Array(4);
const KEEPALIVE = Uint8Array.of(0xff);

/** Fresh I/O counters. */
export function newCounters(): IoCounters {
  return {
    tunRead: 0,
    tunWritten: 0,
    udpReceived: 0,
    udpSent: 0,
    readCalls: 0,
    recvCalls: 0,
    sendCalls: 0,
    pollCalls: 0,
    encapBatches: 0,
    decapBatches: 0,
    noRoute: 0,
    tooBig: 0,
    icmpSent: 0,
    policyDrops: 0,
    sendErrors: 0,
    tunWriteErrors: 0,
    ikeReceived: 0,
    keepalives: 0,
    espDrops: {},
    tunGsoRead: 0,
    tunGsoErrors: 0,
    tunGroWritten: 0,
    tunGroPackets: 0,
    udpGroRuns: 0,
    cpuUs: 0,
    wallMs: 0,
  };
}

/** The worker's Dataplane, routes and packet loops' bodies. */
export class TunnelEngine {
  readonly io: IoCounters = newCounters();
  readonly #libc: Libc;
  readonly #dp: Dataplane;
  readonly #batch: PacketBatch;
  readonly #tunFd: number;
  readonly #max: number;
  readonly #sink: UdpSink;
  readonly #post: (m: FromWorker) => void;
  /** Native slots for TUN reads. */
  readonly #tunSlots: NativeBlock;
  readonly #slotBytes: number;
  readonly #lens: Int32Array;
  /** Main-thread handle → this Dataplane's, and back. */
  readonly #toLocal = new Map<number, SaHandle>();
  readonly #toMain = new Map<SaHandle, number>();
  #routes: Route[] = [];
  readonly #policies = new Map<SaHandle, Policy>();
  readonly #routeOf: (Route | undefined)[];
  #icmpSrc4?: Uint8Array;
  #icmpSrc6?: Uint8Array;
  readonly #icmpLimit = new RateLimit(100);
  /** Reports of packets without a route, for traps on the main thread (the kernel's acquires). */
  readonly #noRouteLimit = new RateLimit(20);
  /** Explains integrity failures on HMAC SAs from this worker's decapsulation runs (a sample, off the fast path). */
  readonly #icv: IcvTruncationDetector;
  /** Thread CPU ns per stage (index in STAGES) when profiling, else undefined. */
  readonly #prof?: Float64Array;
  #t = 0;
  /** With a virtio_net_hdr TUN. */
  readonly #vnet?: VnetState;

  constructor(
    libc: Libc,
    dp: Dataplane,
    tunFd: number,
    batch: number,
    sink: UdpSink,
    post: (m: FromWorker) => void,
    profile = false,
    offload: EngineOffload = { vnetHdr: false, uso: false },
  ) {
    if (profile) this.#prof = new Float64Array(STAGES.length);
    this.#libc = libc;
    this.#dp = dp;
    this.#batch = dp.batch;
    this.#tunFd = tunFd;
    this.#max = batch;
    this.#sink = sink;
    this.#post = post;
    this.#slotBytes = Math.min(dp.maxPacketBytes, 2048);
    this.#tunSlots = libc.alloc(batch * this.#slotBytes);
    this.#lens = new Int32Array(batch);
    this.#routeOf = new Array<Route | undefined>(batch).fill(undefined);
    this.#icv = new IcvTruncationDetector(dp, { log: (line) => post({ t: "diag", line }) });
    if (offload.vnetHdr) {
      this.#vnet = {
        // room for a batch of MTU-sized reads and one more 64 KiB super-packet
        rd: libc.alloc(batch * 2048 + VNET_HDR_LEN + MAX_SUPER),
        ends: new Int32Array(batch),
        wr: libc.alloc(VNET_HDR_LEN + MAX_SUPER + 64),
        hdr: new VnetHdr(),
        gro: new Coalescer(batch, offload.uso),
      };
    }
    dp.on("lifetime", (e) => {
      const h = this.#toMain.get(e.sa);
      if (h !== undefined) post({ t: "lifetime", event: { ...e, sa: h } });
    });
  }

  /** Starts timing a stage (profiling only). */
  mark(): void {
    if (this.#prof) this.#t = this.#libc.threadCpuNs();
  }
  /** Ends the current stage `i` (index in STAGES) and starts the next one. */
  lap(i: number): void {
    if (!this.#prof) return;
    const t = this.#libc.threadCpuNs();
    this.#prof[i]! += t - this.#t; // i indexes STAGES, and #prof has STAGES.length slots
    this.#t = t;
  }

  /** Applies one control message (SA install/remove, routes, sends from the main thread). */
  control(m: ToWorker): void {
    switch (m.t) {
      case "add": {
        try {
          const wh = this.#dp.addSa(m.cfg);
          this.#toLocal.set(m.h, wh);
          this.#toMain.set(wh, m.h);
        } catch (e) {
          this.#post({
            t: "log",
            message: `worker: SA 0x${(m.cfg.spi >>> 0).toString(16)} not installed: ${(e as Error).message}`,
          });
        } finally {
          m.cfg.encKey?.fill(0);
          m.cfg.integKey?.fill(0);
        }
        return;
      }
      case "remove": {
        const wh = this.#toLocal.get(m.h);
        if (wh === undefined) return;
        this.#dp.removeSa(wh);
        this.#toLocal.delete(m.h);
        this.#toMain.delete(wh);
        this.#routes = this.#routes.filter((r) => r.wh !== wh);
        this.#policies.delete(wh);
        return;
      }
      case "routes": {
        const routes: Route[] = [];
        for (const r of m.out) {
          const wh = this.#toLocal.get(r.h);
          if (wh === undefined) continue;
          routes.push({
            wh,
            dest: this.#sink.dest(r.remote.address, r.remote.port),
            local: compileTs(r.local),
            remote: compileTs(r.remoteTs),
            mtu: r.mtu,
          });
        }
        this.#routes = routes;
        this.#policies.clear();
        for (const p of m.in) {
          const wh = this.#toLocal.get(p.h);
          if (wh !== undefined) this.#policies.set(wh, { local: compileTs(p.local), remote: compileTs(p.remoteTs) });
        }
        this.#icmpSrc4 = m.icmpSrc4;
        this.#icmpSrc6 = m.icmpSrc6;
        return;
      }
      case "ike":
        this.#count(this.#sink.sendOne(MARKER, m.bytes, m.address, m.port));
        return;
      case "keepalive":
        this.#count(this.#sink.sendOne(undefined, KEEPALIVE, m.address, m.port));
        return;
      case "esp":
        for (const p of m.packets) this.#count(this.#sink.sendOne(undefined, p, m.address, m.port));
        return;
      default:
        return;
    }
  }

  #count(ok: boolean): void {
    this.io.sendCalls++;
    if (ok) this.io.udpSent++;
    else this.io.sendErrors++;
  }

  /** The outbound route for an inner packet: the first (newest) whose selectors match both addresses. */
  #route(p: Uint8Array, len: number): Route | undefined {
    const rs = this.#routes;
    for (const r of rs) {
      if (matchTs(p, len, r.remote, true) && matchTs(p, len, r.local, false)) return r;
    }
    return undefined;
  }

  /** Reads up to one batch from the TUN, encapsulates and sends it. Returns the packets read. */
  fromTun(): number {
    if (this.#vnet) return this.#fromTunVnet(this.#vnet);
    const libc = this.#libc,
      slots = this.#tunSlots,
      sb = this.#slotBytes;
    this.mark();
    let n = 0;
    while (n < this.#max) {
      this.io.readCalls++;
      const r = libc.read(this.#tunFd, slots.address + n * sb, sb);
      if (r <= 0) break;
      this.#lens[n++] = r;
    }
    this.lap(0);
    if (n === 0) return 0;
    this.io.tunRead += n;
    const b = this.#batch;
    b.reset();
    for (let i = 0; i < n; i++) {
      const len = this.#lens[i]!; // i < n <= #max = #lens.length
      const pkt = slots.bytes.subarray(i * sb, i * sb + len);
      const route = this.#route(pkt, len);
      if (!route) {
        this.#noRoute(pkt, len, 1);
        continue;
      }
      if (len > route.mtu) {
        this.#tooBig(pkt, route.mtu);
        continue;
      }
      this.#routeOf[b.add(pkt, route.wh)] = route;
    }
    if (b.length > 0) this.#encapAndSend();
    else this.lap(1);
    return n;
  }

  /** Encapsulates the batch and sends it (stages encap and udpSend), then empties it. */
  #encapAndSend(): void {
    const b = this.#batch;
    this.lap(1);
    this.#dp.runEncapsulate(b);
    this.io.encapBatches++;
    this.lap(2);
    for (let i = 0; i < b.length; i++) {
      const st = b.status(i);
      if (st !== "ok") {
        this.#drop(st);
        continue;
      }
      this.#sink.queue(b.output(i), this.#routeOf[i]!.dest);
    }
    const [sent, failed, calls] = this.#sink.flush();
    this.lap(3);
    this.io.udpSent += sent;
    this.io.sendErrors += failed;
    this.io.sendCalls += calls;
    b.reset();
  }

  /**
   * fromTun with a virtio_net_hdr before each packet. First the reads, back to back into one
   * buffer (each read gets room for a whole 64 KiB super-packet, so nothing is ever truncated),
   * until a batch's worth of packets or segments was read or the room is gone; then each packet is
   * staged, a super-packet cut into MSS-sized packets straight into the slot they are staged from
   * (one super-packet may fill several batches). Partial checksums are completed. Returns the
   * packets (segments) read.
   */
  #fromTunVnet(v: VnetState): number {
    const libc = this.#libc,
      rd = v.rd,
      bytes = rd.bytes,
      h = v.hdr,
      b = this.#batch,
      max = this.#max,
      ends = v.ends,
      room = VNET_HDR_LEN + MAX_SUPER;
    this.mark();
    let n = 0,
      reads = 0,
      used = 0;
    while (n < max && used + room <= bytes.length) {
      this.io.readCalls++;
      const r = libc.read(this.#tunFd, rd.address + used, room);
      if (r <= VNET_HDR_LEN) break;
      used += r;
      ends[reads++] = used;
      // a super-packet counts as its segments (gso_size: at least 1 byte each)
      const gsoSize = bytes[used - r + 4]! | (bytes[used - r + 5]! << 8);
      n += bytes[used - r + 1] === GSO_NONE || gsoSize === 0 ? 1 : Math.ceil((r - VNET_HDR_LEN) / gsoSize);
    }
    this.lap(0);
    if (reads === 0) return 0;
    b.reset();
    const slot = this.#tunSlots.bytes;
    let at = 0;
    for (let k = 0; k < reads; k++) {
      const end = ends[k]!;
      h.decode(bytes, at);
      const len = end - at - VNET_HDR_LEN;
      const pkt = bytes.subarray(at + VNET_HDR_LEN, end);
      at = end;
      if (h.gsoType === GSO_NONE) {
        this.io.tunRead++;
        if (h.flags & VNET_F_NEEDS_CSUM && !finishChecksum(pkt, len, h.csumStart, h.csumOffset)) {
          this.io.tunGsoErrors++;
          continue;
        }
        const route = this.#route(pkt, len);
        if (!route) this.#noRoute(pkt, len, 1);
        else if (len > route.mtu) this.#tooBig(pkt, route.mtu);
        else {
          if (b.length >= max) this.#encapAndSend();
          this.#routeOf[b.add(pkt, route.wh)] = route;
        }
        continue;
      }
      const segs = gsoSegments(pkt, len, h);
      if (segs === 0) {
        this.io.tunGsoErrors++;
        continue;
      }
      this.io.tunGsoRead++;
      this.io.tunRead += segs;
      // every segment has the super-packet's addresses and ports
      const route = this.#route(pkt, len);
      if (!route) {
        this.#noRoute(pkt, len, segs);
        continue;
      }
      for (let s = 0; s < segs; s++) {
        const sl = gsoSegment(pkt, len, h, s, slot, 0);
        const seg = slot.subarray(0, sl);
        if (sl > route.mtu) {
          this.#tooBig(seg, route.mtu);
          continue;
        }
        if (b.length >= max) this.#encapAndSend();
        this.#routeOf[b.add(seg, route.wh)] = route;
      }
    }
    if (b.length > 0) this.#encapAndSend();
    return n;
  }

  #tooBig(pkt: Uint8Array, mtu: number): void {
    this.io.tooBig++;
    if (!this.#icmpLimit.take(performance.now())) return;
    const reply = packetTooBig(pkt, mtu, byteAt(pkt, 0) >> 4 === 4 ? this.#icmpSrc4 : this.#icmpSrc6);
    if (!reply) return;
    if (this.#vnet) {
      const wr = this.#vnet.wr;
      wr.bytes.fill(0, 0, VNET_HDR_LEN);
      wr.bytes.set(reply, VNET_HDR_LEN);
      if (this.#libc.write(this.#tunFd, wr.address, VNET_HDR_LEN + reply.length) === VNET_HDR_LEN + reply.length)
        this.io.icmpSent++;
      else this.io.tunWriteErrors++;
      return;
    }
    if (this.#libc.writeView(this.#tunFd, reply, reply.length) === reply.length) this.io.icmpSent++;
    else this.io.tunWriteErrors++;
  }

  #drop(st: Status): void {
    this.io.espDrops[st] = (this.io.espDrops[st] ?? 0) + 1;
  }

  /** Starts a receive batch. */
  beginReceive(): void {
    this.#batch.reset();
  }

  /**
   * Classifies one received datagram (RFC 3948 §2.2): keepalive, IKE (to the main thread) or ESP
   * (added to the batch). `from` is only called for IKE.
   */
  ingest(d: Uint8Array, from: () => { address: string; port: number }): void {
    this.io.udpReceived++;
    const len = d.length;
    if (len === 1 && d[0] === 0xff) {
      this.io.keepalives++;
      return;
    }
    if (len >= 4 && d[0] === 0 && d[1] === 0 && d[2] === 0 && d[3] === 0) {
      this.io.ikeReceived++;
      const f = from();
      this.#post({ t: "ike", bytes: d.slice(4), address: f.address, port: f.port });
      return;
    }
    if (len < 8) {
      this.#drop("truncated");
      return;
    }
    if (this.#batch.length >= this.#max) {
      this.finishReceive();
      this.#batch.reset();
    }
    this.#batch.add(d, -1, 0);
  }

  /** Decapsulates the batch and writes each allowed inner packet to the TUN. */
  finishReceive(): void {
    const b = this.#batch;
    if (b.length === 0) return;
    this.lap(5);
    this.#dp.runDecapsulate(b);
    this.io.decapBatches++;
    this.lap(6);
    const libc = this.#libc,
      fd = this.#tunFd,
      vnet = this.#vnet,
      gro = vnet?.gro;
    for (let i = 0; i < b.length; i++) {
      const st = b.status(i);
      if (st !== "ok") {
        this.#drop(st);
        continue;
      }
      const out = b.output(i);
      const pol = this.#policies.get(b.sa(i));
      if (!pol || !matchTs(out, out.length, pol.remote, false) || !matchTs(out, out.length, pol.local, true)) {
        this.io.policyDrops++;
        continue;
      }
      if (gro) gro.push(out);
      else if (libc.writeView(fd, out, out.length) === out.length) this.io.tunWritten++;
      else this.io.tunWriteErrors++;
    }
    if (vnet) this.#flushGro(vnet);
    this.lap(7);
    b.reset();
  }

  /** Writes what the coalescer gathered: one write per super-packet or lone packet. */
  #flushGro(v: VnetState): void {
    const libc = this.#libc,
      fd = this.#tunFd,
      wr = v.wr;
    v.gro.flush(wr.bytes, (len, packets, gsoType) => {
      if (libc.write(fd, wr.address, len) === len) {
        this.io.tunWritten += packets;
        if (packets > 1) {
          this.io.tunGroWritten++;
          this.io.tunGroPackets += packets;
        }
        return;
      }
      this.io.tunWriteErrors += packets;
      // A kernel without GSO_UDP_L4 writes (it took TUN_F_USO but refuses them): stop merging UDP.
      if (packets > 1 && gsoType === GSO_UDP_L4 && v.gro.udp) {
        v.gro.udp = false;
        this.#post({
          t: "diag",
          line: `TUN: a UDP super-packet write failed (${libc.strerror(libc.errno())}): UDP packets are written one by one from now on`,
        });
      }
    });
  }

  /** Stats of every SA (by main-thread handle), global counters and I/O counters. */
  snapshot(): Extract<FromWorker, { t: "stats" }> {
    const dp = this.#dp;
    dp.checkLifetimes();
    const sas: Extract<FromWorker, { t: "stats" }>["sas"] = [];
    for (const [wh, h] of this.#toMain) {
      const stats = dp.stats(wh);
      sas.push({ h, stats, replay: stats.direction === "in" ? dp.replayState(wh) : undefined });
    }
    const io: IoCounters = { ...this.io, espDrops: { ...this.io.espDrops } };
    if (this.#prof) io.stageUs = Object.fromEntries(STAGES.map((s, i) => [s, Math.round(this.#prof![i]! / 1000)]));
    const diagnostics = this.#icv
      .diagnostics()
      .map((d) => ({ ...d, sa: d.sa === undefined ? undefined : this.#toMain.get(d.sa) }));
    return { t: "stats", sas, global: dp.globalStats(), io, diagnostics };
  }

  /** Frees the native slots. */
  /** Packets without an outbound SA: counted, and reported (rate limited) for traps on the main thread. */
  #noRoute(pkt: Uint8Array, len: number, count: number): void {
    this.io.noRoute += count;
    const dst = innerDestination(pkt, len);
    if (dst && this.#noRouteLimit.take(Date.now())) this.#post({ t: "noroute", dst });
  }

  close(): void {
    this.#icv.detach();
    this.#tunSlots.free();
    this.#vnet?.rd.free();
    this.#vnet?.wr.free();
  }
}

/** The destination address of an inner IPv4/IPv6 packet, or undefined if it is too short to have one. */
export function innerDestination(p: Uint8Array, len: number): string | undefined {
  const v = (p[0] ?? 0) >> 4;
  if (v === 4 && len >= 20) return formatIp(p.subarray(16, 20));
  if (v === 6 && len >= 40) return formatIp(p.subarray(24, 40));
  return undefined;
}
