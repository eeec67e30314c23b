/**
 * The main-thread side of `ipsec-wasm up --tun`: creates the TUN device, starts the packet worker
 * (sdk/io/tunnel-worker.ts) that owns the TUN fd and the ESP-in-UDP socket, and is the IKE
 * daemon's transport and Dataplane:
 *
 * - One socket per port: UDP 4500 (NAT-T: ESP and marker-framed IKE) lives in the worker, which
 *   passes IKE datagrams up; the daemon's sends on 4500 go down to it. UDP 500 (plain IKE) stays
 *   on node:dgram here.
 * - {@link TunnelTransport.dataplane} mirrors the daemon's Dataplane: every addSa/removeSa is
 *   done here (so SPI allocation, configs and MTU arithmetic work unchanged) and sent to the
 *   worker in the same order (a rekey's new SAs arrive before the old ones go); the keys travel
 *   as a copy in the message, wiped here right after posting. Counters, replay windows and
 *   lifetime events come back from the worker's Dataplane, which is the one that sees packets.
 * - {@link TunnelTransport.attach} follows the daemon's Child SAs: routes and selectors for the
 *   worker, the TUN's address, MTU and routes.
 * @module
 */
import dgram from "node:dgram";
import { writeSync } from "node:fs";
import { MessageChannel, Worker } from "node:worker_threads";
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { GlobalStats, LifetimeEvent, SaHandle, SaStats, Status } from "../dataplane/types.ts";
import type { IkeDaemon, IkeTransport } from "../ike/daemon.ts";
import type { Endpoint } from "../ike/ike-sa.ts";
import { formatIp } from "../ike/ts.ts";
import { IoError, type IoErrorCode } from "./errors.ts";
import { loadLibc } from "./libc.ts";
import { TunDevice, rangeToPrefixes } from "./tun-linux.ts";
import { wireTs } from "./selectors.ts";
import type { FromWorker, InPolicy, IoCounters, OutRoute, ToWorker, UdpIoMode } from "./messages.ts";

/** Options of {@link TunnelTransport.start}. */
export interface TunnelOptions {
  /** TUN interface name. */
  tun: string;
  io: UdpIoMode;
  /** Local address for the sockets; ports as in IkeUdpTransport (500 plain, natPort framed). */
  address: string;
  ikePort: number;
  natPort: number;
  /** Outer path MTU the TUN MTU is derived from (default 1500). */
  pathMtu?: number;
  /** Packets per batch (default 64). */
  batch?: number;
  /** Worker stats interval, ms (default 500). */
  statsMs?: number;
  /** Measure CPU per stage in the worker (default: the IPSEC_WASM_IO_PROFILE environment variable is 1). */
  profile?: boolean;
  /** Log lines (TUN changes, worker messages). */
  log?(line: string): void;
  /** A failure after start (the worker died, the TUN could not be configured). */
  onError?(e: IoError): void;
}

type Stats = Extract<FromWorker, { t: "stats" }>;

/** The worker's script: the compiled .js next to this module, or the .ts under a TypeScript loader. */
function workerUrl(): URL {
  return new URL(import.meta.url.endsWith(".ts") ? "./tunnel-worker.ts" : "./tunnel-worker.js", import.meta.url);
}

/** The IKE transport and Dataplane of a TUN-mode `up`. */
export class TunnelTransport implements IkeTransport {
  readonly address: string;
  readonly ikePort: number;
  readonly natPort: number;
  readonly tun: TunDevice;
  /** What the IKE daemon installs its Child SAs in (see the module doc). */
  readonly dataplane: Dataplane;
  readonly #opts: TunnelOptions;
  readonly #target: Dataplane;
  readonly #worker: Worker;
  readonly #ctrl: MessageChannel["port1"];
  readonly #plain?: dgram.Socket;
  readonly #wakeFd: number;
  readonly #lifetime = new Set<(e: LifetimeEvent) => void>();
  #last?: Stats;
  readonly #snap = new Map<SaHandle, Stats["sas"][number]>();
  #kick = false;
  #closed = false;
  #stopped: Promise<void>;
  #onStats?: (s: Stats) => void;
  readonly #statsHooks: ((s: Stats) => void)[] = [];

  private constructor(init: { opts: TunnelOptions; target: Dataplane; worker: Worker; ctrl: MessageChannel["port1"]; tun: TunDevice; natPort: number; wakeFd: number; plain?: dgram.Socket; stopped: Promise<void> }) {
    this.#opts = init.opts;
    this.#target = init.target;
    this.#worker = init.worker;
    this.#ctrl = init.ctrl;
    this.tun = init.tun;
    this.#plain = init.plain;
    this.#wakeFd = init.wakeFd;
    this.#stopped = init.stopped;
    this.address = init.opts.address;
    this.natPort = init.natPort;
    this.ikePort = init.plain ? (init.plain.address().port) : init.natPort;
    this.dataplane = this.#mirror(init.target);
  }

  /**
   * Creates the TUN (down, no address yet), starts the worker with the NAT-T socket and binds UDP
   * 500 here. Throws an {@link IoError}: FFI_MISSING (no koffi), TUN, SOCKET or WORKER.
   */
  static async start(dp: Dataplane, opts: TunnelOptions, onIke: (bytes: Uint8Array, local: Endpoint, remote: Endpoint) => void): Promise<TunnelTransport> {
    const libc = await loadLibc(`--tun ${opts.tun}`);
    const tun = TunDevice.open(libc, opts.tun);
    let worker: Worker | undefined;
    let plain: dgram.Socket | undefined;
    try {
      const { port1, port2 } = new MessageChannel();
      worker = new Worker(workerUrl(), {
        workerData: { tunFd: tun.fd, address: opts.address, natPort: opts.natPort, io: opts.io, batch: opts.batch ?? 64, statsMs: opts.statsMs ?? 500, profile: opts.profile ?? process.env.IPSEC_WASM_IO_PROFILE === "1", ctrl: port2 },
        transferList: [port2],
      });
      const w = worker;
      let self: TunnelTransport | undefined;
      const stopped = new Promise<void>((resolve) => w.once("exit", () => resolve()));
      const ready = await new Promise<Extract<FromWorker, { t: "ready" }>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new IoError("WORKER", "the packet worker did not start within 10 s")), 10_000);
        w.on("error", (e) => { clearTimeout(timer); reject(new IoError("WORKER", `packet worker: ${e.message}`)); if (self) self.#fail("WORKER", e.message); });
        w.on("message", (m: FromWorker) => {
          if (m.t === "ready") { clearTimeout(timer); resolve(m); return; }
          if (m.t === "fatal") { clearTimeout(timer); reject(new IoError(m.code as IoErrorCode, m.message)); if (self) self.#fail(m.code, m.message); return; }
          if (m.t === "ike") onIke(m.bytes, { address: opts.address, port: self?.natPort ?? opts.natPort }, { address: m.address, port: m.port });
          else if (self) self.#fromWorker(m);
        });
      });
      if (opts.ikePort !== opts.natPort && opts.ikePort !== 0) {
        const framed = opts.ikePort !== 500;
        plain = await bindPlain(opts.address, opts.ikePort, (m, r) => {
          if (m.length === 1 && m[0] === 0xff) return;
          if (framed && (m.length < 4 || m.readUInt32BE(0) !== 0)) return;
          onIke(new Uint8Array(framed ? m.subarray(4) : m), { address: opts.address, port: opts.ikePort }, { address: r.address, port: r.port });
        });
      }
      self = new TunnelTransport({ opts, target: dp, worker, ctrl: port1, tun, natPort: ready.port, wakeFd: ready.wakeFd, plain, stopped });
      return self;
    } catch (e) {
      await worker?.terminate();
      plain?.close();
      tun.close();
      throw e;
    }
  }

  #fail(code: string, message: string): void {
    if (this.#closed) return;
    this.#opts.onError?.(new IoError((code in { FFI_MISSING: 1, UNSUPPORTED: 1, TUN: 1, SOCKET: 1, WORKER: 1, ARGUMENT: 1 } ? code : "WORKER") as IoErrorCode, `packet worker: ${message}`));
  }

  #fromWorker(m: FromWorker): void {
    if (m.t === "stats") {
      this.#last = m;
      for (const s of m.sas) this.#snap.set(s.h, s);
      for (const fn of this.#statsHooks) fn(m);
      this.#onStats?.(m);
    } else if (m.t === "lifetime") {
      for (const fn of this.#lifetime) fn(m.event);
    } else if (m.t === "log") {
      this.#opts.log?.(m.message);
    } else if (m.t === "stopped") {
      if (!this.#closed) this.#fail("WORKER", "stopped unexpectedly");
    }
  }

  /** Posts to the worker and rings its eventfd (once per turn of the event loop). */
  #send(m: ToWorker): void {
    if (this.#closed) return;
    this.#ctrl.postMessage(m);
    if (this.#kick) return;
    this.#kick = true;
    queueMicrotask(() => {
      this.#kick = false;
      if (this.#closed) return;
      try { writeSync(this.#wakeFd, ONE); } catch { /* the worker is gone; its exit is reported */ }
    });
  }

  // ------------------------------------------------------------------ IkeTransport

  sendIke(bytes: Uint8Array, local: Endpoint, remote: Endpoint): void {
    if (this.#plain && local.port === this.ikePort) {
      this.#plain.send(this.ikePort === 500 ? bytes : Buffer.concat([MARKER, bytes]), remote.port, remote.address);
      return;
    }
    this.#send({ t: "ike", bytes, address: remote.address, port: remote.port });
  }

  sendEsp(packets: Uint8Array[], _local: Endpoint, remote: Endpoint): void {
    this.#send({ t: "esp", packets, address: remote.address, port: remote.port });
  }

  sendKeepalive(remote: Endpoint): void {
    this.#send({ t: "keepalive", address: remote.address, port: remote.port });
  }

  /** The worker's I/O counters as of its last report (every statsMs), with the last stats message. */
  get ioCounters(): IoCounters | undefined { return this.#last?.io; }

  /** Asks the worker for fresh stats and resolves with them (at most `timeoutMs`). */
  freshStats(timeoutMs = 2000): Promise<Stats | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#onStats = undefined; resolve(this.#last); }, timeoutMs);
      this.#onStats = (s) => { clearTimeout(timer); this.#onStats = undefined; resolve(s); };
      this.#send({ t: "stats" });
    });
  }

  // ------------------------------------------------------------------ the mirrored Dataplane

  #mirror(target: Dataplane): Dataplane {
    const overrides: Partial<Record<keyof Dataplane, unknown>> = {
      addSa: (cfg: Parameters<Dataplane["addSa"]>[0]) => {
        const h = target.addSa(cfg);
        const encKey = cfg.encKey?.slice(), integKey = cfg.integKey?.slice();
        this.#send({ t: "add", h, cfg: { ...cfg, encKey, integKey } });
        // postMessage cloned them: this copy need not live on.
        encKey?.fill(0);
        integKey?.fill(0);
        this.#scheduleSync();
        return h;
      },
      removeSa: (h: SaHandle) => {
        target.removeSa(h);
        this.#snap.delete(h);
        this.#send({ t: "remove", h });
        this.#scheduleSync();
      },
      stats: (h: SaHandle): SaStats => {
        const local = target.stats(h); // throws for an unknown handle, as the Dataplane does
        return this.#snap.get(h)?.stats ?? local;
      },
      replayState: (h: SaHandle) => {
        const local = target.replayState(h);
        return this.#snap.get(h)?.replay ?? local;
      },
      globalStats: (): GlobalStats & { byStatus: Record<Status, bigint> } => this.#last?.global ?? target.globalStats(),
      on: (event: "lifetime", fn: (e: LifetimeEvent) => void) => {
        const off = target.on(event, fn);
        this.#lifetime.add(fn);
        return () => { off(); this.#lifetime.delete(fn); };
      },
    };
    const bound = new Map<PropertyKey, unknown>();
    return new Proxy(target, {
      get(t, p) {
        if (p in overrides) return overrides[p as keyof Dataplane];
        const v = Reflect.get(t, p, t) as unknown;
        if (typeof v !== "function") return v;
        let b = bound.get(p);
        if (!b) { b = (v as (...a: unknown[]) => unknown).bind(t); bound.set(p, b); }
        return b;
      },
    });
  }

  // ------------------------------------------------------------------ following the daemon

  #daemon?: IkeDaemon;
  #syncQueued = false;
  #lastRoutes = "";
  #tunUp = false;
  readonly #prefixes = new Set<string>();
  #peer?: string;

  #scheduleSync(): void {
    if (this.#syncQueued || !this.#daemon) return;
    this.#syncQueued = true;
    queueMicrotask(() => {
      this.#syncQueued = false;
      try { this.#sync(); } catch (e) {
        this.#opts.onError?.(e instanceof IoError ? e : new IoError("TUN", (e as Error).message));
      }
    });
  }

  /**
   * Follows `daemon`'s Child SAs: the worker's routes and inbound selectors, the TUN's address
   * (the local selector when it is one host), MTU (innerMtu of the first outbound SA for the path
   * MTU) and routes (the remote selectors; kept until close, so traffic never leaves in the clear
   * while an SA is being re-established). Also tells the daemon about inbound traffic (DPD).
   */
  attach(daemon: IkeDaemon): void {
    this.#daemon = daemon;
    daemon.on(() => this.#scheduleSync());
    const seen = new Map<SaHandle, bigint>();
    const EMPTY = new Uint8Array(0);
    this.#statsHooks.push((s) => {
      for (const { h, stats } of s.sas) {
        if (stats.direction !== "in" || stats.packets === (seen.get(h) ?? 0n)) continue;
        seen.set(h, stats.packets);
        // Next Header 59: accounted as traffic on the SA (liveness for DPD), not delivered anywhere.
        daemon.receiveEsp([{ status: "ok", spi: stats.spi, seq: stats.seq, sa: h, nextHeader: 59, payload: EMPTY }]);
      }
    });
    this.#scheduleSync();
  }

  #sync(): void {
    const daemon = this.#daemon;
    if (!daemon || this.#closed) return;
    const pathMtu = this.#opts.pathMtu ?? 1500;
    const rows: { id: number; out?: OutRoute; in: InPolicy; hosts: string[]; prefixes: string[]; peer: string }[] = [];
    for (const ike of new Set(daemon.sas.values())) {
      for (const child of ike.children.values()) {
        const h = daemon.childHandles(child);
        if (!h || child.mode !== "tunnel") continue;
        const local = wireTs(child.localTs), remoteTs = wireTs(child.remoteTs);
        const v6 = ike.remote.address.includes(":");
        const out = h.out !== undefined && child.state !== "DELETED"
          ? { h: h.out, remote: { ...ike.remote }, local, remoteTs, mtu: this.#target.innerMtu(h.out, pathMtu, { ipVersion: v6 ? 6 : 4, udpEncap: true }) }
          : undefined;
        const hosts = child.localTs.filter((t) => t.start.every((b, i) => b === t.end[i])).map((t) => `${formatIp(t.start)}/${t.start.length * 8}`);
        const prefixes = child.remoteTs.flatMap((t) => splitDefault(rangeToPrefixes(t.start, t.end)));
        rows.push({ id: child.uniqueId, out, in: { h: h.in, local, remoteTs }, hosts, prefixes, peer: ike.remote.address });
      }
    }
    rows.sort((a, b) => b.id - a.id);
    const hosts = [...new Set(rows.flatMap((r) => r.hosts))];
    // ICMP too-big goes out from the packet's destination, not from our inner address: the kernel
    // drops a packet arriving on the TUN with one of its own addresses as source (a martian).
    const msg: ToWorker = { t: "routes", out: rows.flatMap((r) => (r.out ? [r.out] : [])), in: rows.map((r) => r.in) };
    const key = JSON.stringify(msg, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v));
    if (key !== this.#lastRoutes) { this.#lastRoutes = key; this.#send(msg); }
    if (msg.out.length === 0) return;
    const tun = this.tun, log = this.#opts.log;
    if (!this.#tunUp) {
      const mtu = Math.min(...msg.out.map((r) => r.mtu));
      if (hosts.length) tun.setAddresses(hosts);
      tun.up(mtu);
      this.#tunUp = true;
      log?.(`${tun.name}: up, mtu ${mtu} (path MTU ${pathMtu})${hosts.length ? `, address ${hosts.join(" ")}` : ""}`);
    } else if (hosts.some((a) => !tun.addresses.includes(a))) {
      tun.setAddresses([...new Set([...tun.addresses, ...hosts])]);
    }
    const before = this.#prefixes.size;
    for (const r of rows) for (const p of r.prefixes) this.#prefixes.add(p);
    this.#peer = rows[0]?.peer ?? this.#peer;
    if (this.#prefixes.size !== before) {
      tun.syncRoutes([...this.#prefixes], this.#peer, log);
      log?.(`${tun.name}: routes ${[...this.#prefixes].join(" ")}`);
    }
  }

  /**
   * Stops the worker (it closes the socket), removes the routes and closes the TUN (the kernel
   * deletes the device), closes UDP 500. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#send({ t: "stop" });
    try { writeSync(this.#wakeFd, ONE); } catch { /* already gone */ }
    this.#closed = true;
    const t = setTimeout(() => void this.#worker.terminate(), 2000);
    await this.#stopped;
    clearTimeout(t);
    this.#ctrl.close();
    this.tun.close();
    if (this.#plain) await new Promise<void>((r) => this.#plain!.close(() => r()));
  }

  /** Synchronous last-resort cleanup for a process `exit` handler: routes and TUN. */
  closeSync(): void {
    this.#closed = true;
    this.tun.close();
  }
}

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);
const MARKER = new Uint8Array(4);

/** A route to everything would replace the default route: two halves are more specific and replace nothing. */
function splitDefault(prefixes: string[]): string[] {
  return prefixes.flatMap((p) => (p === "0.0.0.0/0" ? ["0.0.0.0/1", "128.0.0.0/1"] : p === "::/0" ? ["::/1", "8000::/1"] : [p]));
}

async function bindPlain(address: string, port: number, onMessage: (m: Buffer, r: dgram.RemoteInfo) => void): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: address.includes(":") ? "udp6" : "udp4" });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", (e) => reject(new IoError("SOCKET", `cannot bind UDP ${address}[${port}]: ${e.message}`)));
    socket.bind(port, address, () => { socket.removeAllListeners("error"); resolve(); });
  });
  socket.on("message", onMessage);
  return socket;
}
