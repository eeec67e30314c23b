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
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { GlobalStats, LifetimeEvent, SaHandle, SaStats, Status } from "../dataplane/types.ts";
import type { IkeDaemon, IkeTransport } from "../ike/daemon.ts";
import type { Endpoint } from "../ike/ike-sa.ts";
import type { TrafficSelector } from "../ike/message.ts";
import type { Diagnostic } from "../diag/types.ts";
import { formatIp, parseIp } from "../net/ip.ts";
import { IoError, IO_EXIT_CODES, type IoErrorCode } from "./errors.ts";
import { loadLibc, type Libc } from "./libc.ts";
import { TunDevice, rangeToPrefixes } from "./tun-linux.ts";
import { wireTs } from "./selectors.ts";
import type { FromWorker, InPolicy, IoCounters, OutRoute, ToWorker, UdpIoMode } from "./messages.ts";
import { mergeStats, startLane, type Lane, type Stats } from "./worker-lanes.ts";

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
  /**
   * Packet workers (default 1). 2: one reads the TUN and encapsulates, the other receives the ESP
   * steered to its socket (SO_REUSEPORT + a BPF program on the SPI) and decapsulates; SA installs
   * go to both. Needs `io: "mmsg"`.
   */
  workers?: 1 | 2;
  /** Worker stats interval, ms (default 500). */
  statsMs?: number;
  /** Measure CPU per stage in the worker (default: the IPSEC_WASM_IO_PROFILE environment variable is 1). */
  profile?: boolean;
  /** TUN offloads (virtio_net_hdr, TSO/USO reads, GRO writes; default on unless IPSEC_WASM_TUN_OFFLOAD=off). */
  tunOffload?: boolean;
  /** Log lines (TUN changes, worker messages). */
  log?(line: string): void;
  /** Diagnostic lines from the workers' ICV-truncation detectors (default: `log`). */
  diagLog?(line: string): void;
  /** A failure after start (the worker died, the TUN could not be configured). */
  onError?(e: IoError): void;
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
  readonly #lanes: Lane[];
  readonly #plain?: dgram.Socket;
  readonly #libc: Libc;
  readonly #lifetime = new Set<(e: LifetimeEvent) => void>();
  #last?: Stats;
  readonly #snap = new Map<SaHandle, Stats["sas"][number]>();
  #closed = false;
  #onStats?: () => void;
  readonly #statsHooks: ((s: Stats) => void)[] = [];

  private constructor(init: {
    opts: TunnelOptions;
    target: Dataplane;
    lanes: Lane[];
    tun: TunDevice;
    natPort: number;
    plain?: dgram.Socket;
    libc: Libc;
  }) {
    this.#libc = init.libc;
    this.#opts = init.opts;
    this.#target = init.target;
    this.#lanes = init.lanes;
    this.tun = init.tun;
    this.#plain = init.plain;
    this.address = init.opts.address;
    this.natPort = init.natPort;
    this.ikePort = init.plain ? init.plain.address().port : init.natPort;
    this.dataplane = this.#mirror(init.target);
  }

  /**
   * Creates the TUN (down, no address yet), starts the worker with the NAT-T socket and binds UDP
   * 500 here. Throws an {@link IoError}: FFI_MISSING (no koffi), TUN, SOCKET or WORKER.
   */
  static async start(
    dp: Dataplane,
    opts: TunnelOptions,
    onIke: (bytes: Uint8Array, local: Endpoint, remote: Endpoint) => void,
  ): Promise<TunnelTransport> {
    const n = opts.workers ?? 1;
    if (n !== 1 && (n !== 2 || opts.io !== "mmsg"))
      throw new IoError(
        "ARGUMENT",
        "--workers 2 needs --io mmsg (the ESP steering is a socket option); --workers takes 1 or 2",
      );
    const libc = await loadLibc(`--tun ${opts.tun}`);
    const tun = TunDevice.open(libc, opts.tun, opts.tunOffload ?? process.env.IPSEC_WASM_TUN_OFFLOAD !== "off");
    const lanes: Lane[] = [];
    let plain: dgram.Socket | undefined;
    let self: TunnelTransport | undefined;
    try {
      let natPort = opts.natPort;
      for (let i = 0; i < n; i++) {
        const role = n === 1 ? "all" : i === 0 ? "out" : "in";
        const lane = await startLane(
          i,
          {
            tunFd: tun.fd,
            address: opts.address,
            natPort,
            io: opts.io,
            batch: opts.batch ?? 64,
            statsMs: opts.statsMs ?? 500,
            profile: opts.profile ?? process.env.IPSEC_WASM_IO_PROFILE === "1",
            role,
            reusePort: n > 1,
            steer: n > 1 && i === 0,
            tunOffload: tun.offload,
            udpGro: process.env.IPSEC_WASM_UDP_GRO !== "off",
          },
          {
            ike: (m) =>
              onIke(
                m.bytes,
                { address: opts.address, port: self?.natPort ?? natPort },
                { address: m.address, port: m.port },
              ),
            other: (m) => {
              if (self) self.#fromWorker(i, m);
            },
            fail: (code, message) => {
              if (self) self.#fail(code, message);
            },
          },
        );
        lanes.push(lane.lane);
        natPort = lane.port;
      }
      if (opts.ikePort !== opts.natPort && opts.ikePort !== 0) {
        const framed = opts.ikePort !== 500;
        plain = await bindPlain(opts.address, opts.ikePort, (m, r) => {
          if (m.length === 1 && m[0] === 0xff) return;
          if (framed && (m.length < 4 || m.readUInt32BE(0) !== 0)) return;
          onIke(
            new Uint8Array(framed ? m.subarray(4) : m),
            { address: opts.address, port: opts.ikePort },
            { address: r.address, port: r.port },
          );
        });
      }
      self = new TunnelTransport({ opts, target: dp, lanes, tun, natPort, plain, libc });
      return self;
    } catch (e) {
      for (const l of lanes) await l.worker.terminate();
      plain?.close();
      tun.close();
      throw e;
    }
  }

  #fail(code: string, message: string): void {
    if (this.#closed) return;
    this.#opts.onError?.(
      new IoError(code in IO_EXIT_CODES ? (code as IoErrorCode) : "WORKER", `packet worker: ${message}`),
    );
  }

  #fromWorker(i: number, m: FromWorker): void {
    if (m.t === "stats") {
      const lane = this.#lanes[i];
      if (!lane) return; // a lane index from a worker we no longer track
      lane.last = m;
      lane.reports++;
      const merged = this.#lanes.length === 1 ? m : mergeStats(this.#lanes.flatMap((l) => (l.last ? [l.last] : [])));
      this.#last = merged;
      for (const s of merged.sas) this.#snap.set(s.h, s);
      for (const fn of this.#statsHooks) fn(merged);
      this.#onStats?.();
    } else if (m.t === "lifetime") {
      for (const fn of this.#lifetime) fn(m.event);
    } else if (m.t === "noroute") {
      this.#daemon?.acquire(m.dst);
    } else if (m.t === "log") {
      this.#opts.log?.(m.message);
    } else if (m.t === "diag") {
      (this.#opts.diagLog ?? this.#opts.log)?.(m.line);
    } else if (m.t === "stopped") {
      if (!this.#closed) this.#fail("WORKER", "stopped unexpectedly");
    }
  }

  /**
   * Posts to every worker (or only to lane `to`: sends go out of the first worker's socket) and
   * rings their eventfds, once per turn of the event loop.
   */
  #send(m: ToWorker, to?: number): void {
    if (this.#closed) return;
    for (const lane of to === undefined ? this.#lanes : this.#lanes.slice(to, to + 1)) {
      lane.ctrl.postMessage(m);
      if (lane.kick) continue;
      lane.kick = true;
      queueMicrotask(() => {
        lane.kick = false;
        if (this.#closed) return;
        // libc's write, not node:fs: Deno's writeSync takes only its own file descriptors. A
        // worker that is gone fails it (EBADF); its exit is reported.
        this.#libc.writeView(lane.wakeFd, ONE, 8);
      });
    }
  }

  // ------------------------------------------------------------------ IkeTransport

  sendIke(bytes: Uint8Array, local: Endpoint, remote: Endpoint): void {
    if (this.#plain && local.port === this.ikePort) {
      this.#plain.send(this.ikePort === 500 ? bytes : Buffer.concat([MARKER, bytes]), remote.port, remote.address);
      return;
    }
    this.#send({ t: "ike", bytes, address: remote.address, port: remote.port }, 0);
  }

  sendEsp(packets: Uint8Array[], _local: Endpoint, remote: Endpoint): void {
    this.#send({ t: "esp", packets, address: remote.address, port: remote.port }, 0);
  }

  sendKeepalive(remote: Endpoint): void {
    this.#send({ t: "keepalive", address: remote.address, port: remote.port }, 0);
  }

  /** The worker's I/O counters as of its last report (every statsMs), with the last stats message. */
  get ioCounters(): IoCounters | undefined {
    return this.#last?.io;
  }

  /** Asks the workers for fresh stats and resolves with them merged (at most `timeoutMs`). */
  freshStats(timeoutMs = 2000): Promise<Stats | undefined> {
    return new Promise((resolve) => {
      const want = this.#lanes.map((l) => l.reports + 1);
      const timer = setTimeout(() => {
        this.#onStats = undefined;
        resolve(this.#last);
      }, timeoutMs);
      this.#onStats = () => {
        if (this.#lanes.some((l, i) => l.reports < (want[i] ?? 0))) return;
        clearTimeout(timer);
        this.#onStats = undefined;
        resolve(this.#last);
      };
      this.#send({ t: "stats" });
    });
  }

  /** Each worker's own I/O counters as of its last report (the merged ones: {@link ioCounters}). */
  get laneCounters(): (IoCounters | undefined)[] {
    return this.#lanes.map((l) => l.last?.io);
  }

  /** Active diagnostics of the workers' ICV-truncation detectors, as of their last reports. */
  diagnostics(): Diagnostic[] {
    return this.#lanes.flatMap((l) => l.last?.diagnostics ?? []);
  }

  /** How many packet workers run. */
  get workers(): number {
    return this.#lanes.length;
  }

  // ------------------------------------------------------------------ the mirrored Dataplane

  #mirror(target: Dataplane): Dataplane {
    const overrides: Partial<Record<keyof Dataplane, unknown>> = {
      addSa: (cfg: Parameters<Dataplane["addSa"]>[0]) => {
        const h = target.addSa(cfg);
        const encKey = cfg.encKey?.slice(),
          integKey = cfg.integKey?.slice();
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
        return () => {
          off();
          this.#lifetime.delete(fn);
        };
      },
    };
    const bound = new Map<PropertyKey, unknown>();
    return new Proxy(target, {
      get(t, p) {
        if (p in overrides) return overrides[p as keyof Dataplane];
        const v = Reflect.get(t, p, t) as unknown;
        if (typeof v !== "function") return v;
        let b = bound.get(p);
        if (!b) {
          b = (v as (...a: unknown[]) => unknown).bind(t);
          bound.set(p, b);
        }
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
      try {
        this.#sync();
      } catch (e) {
        this.#opts.onError?.(e instanceof IoError ? e : new IoError("TUN", (e as Error).message));
      }
    });
  }

  /**
   * Follows `daemon`'s Child SAs: the worker's routes and inbound selectors, the TUN's address
   * (the virtual IP the peer assigned, else the local selector when it is one host), MTU (innerMtu of the first outbound SA for the path
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
        const local = wireTs(child.localTs),
          remoteTs = wireTs(child.remoteTs);
        const v6 = ike.remote.address.includes(":");
        const out =
          h.out !== undefined && child.state !== "DELETED"
            ? {
                h: h.out,
                remote: { ...ike.remote },
                local,
                remoteTs,
                mtu: this.#target.innerMtu(h.out, pathMtu, { ipVersion: v6 ? 6 : 4, udpEncap: true }),
              }
            : undefined;
        const hosts = tunAddresses(ike.localVips, child.localTs);
        const prefixes = child.remoteTs.flatMap((t) => splitDefault(rangeToPrefixes(t.start, t.end)));
        rows.push({
          id: child.uniqueId,
          out,
          in: { h: h.in, local, remoteTs },
          hosts,
          prefixes,
          peer: ike.remote.address,
        });
      }
    }
    rows.sort((a, b) => b.id - a.id);
    const hosts = [...new Set(rows.flatMap((r) => r.hosts))];
    // ICMP too-big goes out from the packet's destination, not from our inner address: the kernel
    // drops a packet arriving on the TUN with one of its own addresses as source (a martian).
    const msg: ToWorker = { t: "routes", out: rows.flatMap((r) => (r.out ? [r.out] : [])), in: rows.map((r) => r.in) };
    const key = JSON.stringify(msg, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v));
    if (key !== this.#lastRoutes) {
      this.#lastRoutes = key;
      this.#send(msg);
    }
    const tun = this.tun,
      log = this.#opts.log;
    if (msg.out.length === 0) {
      this.#trapRoutes(daemon, pathMtu);
      return;
    }
    if (!this.#tunUp) {
      const mtu = Math.min(...msg.out.map((r) => r.mtu));
      if (hosts.length) tun.setAddresses(hosts);
      tun.up(mtu);
      this.#tunUp = true;
      log?.(`${tun.name}: up, mtu ${mtu} (path MTU ${pathMtu})${hosts.length ? `, address ${hosts.join(" ")}` : ""}`);
    } else if (hosts.some((a) => !tun.addresses.includes(a))) {
      const added = hosts.filter((a) => !tun.addresses.includes(a));
      tun.setAddresses([...new Set([...tun.addresses, ...hosts])]);
      log?.(`${tun.name}: address ${added.join(" ")}`);
    }
    const before = this.#prefixes.size;
    for (const r of rows) for (const p of r.prefixes) this.#prefixes.add(p);
    this.#peer = rows[0]?.peer ?? this.#peer;
    if (this.#prefixes.size !== before) {
      tun.syncRoutes([...this.#prefixes], this.#peer, log);
      log?.(`${tun.name}: routes ${[...this.#prefixes].join(" ")}`);
    }
  }

  /** Follows the daemon again now (after something that raised no IKE event, e.g. traps installed). */
  resync(): void {
    this.#scheduleSync();
  }

  /**
   * Traps (start_action = trap) before any SA: the TUN comes up with routes for the trapped
   * selectors so the kernel hands their packets to the worker, which reports them (no route) and
   * the daemon initiates. The routes carry no `src` (no address yet): once the virtual IP is on
   * the TUN the kernel picks it as the source for them. The MTU is a guess until an SA exists:
   * path MTU minus 128, what the largest overhead needs (ESP-in-UDP over IPv6 with AES-CBC and a
   * 256-bit ICV: 40 + 8 + 8 + 16 + 15 + 2 + 32 = 121 bytes), and it stays: the TUN comes up once.
   */
  #trapRoutes(daemon: IkeDaemon, pathMtu: number): void {
    const traps = daemon.traps();
    if (traps.length === 0) return;
    const tun = this.tun,
      log = this.#opts.log;
    if (!this.#tunUp) {
      const mtu = Math.max(576, pathMtu - 128);
      tun.up(mtu);
      this.#tunUp = true;
      log?.(`${tun.name}: up, mtu ${mtu} (path MTU ${pathMtu}; before any SA, for the traps)`);
    }
    const before = this.#prefixes.size;
    for (const t of traps)
      for (const ts of t.remoteTs)
        for (const p of splitDefault(rangeToPrefixes(ts.start, ts.end))) this.#prefixes.add(p);
    const peer = traps.map((t) => t.remote ?? t.conn.remoteAddrs[0]).find((a) => a !== undefined && parseIp(a));
    this.#peer ??= peer;
    if (this.#prefixes.size !== before) {
      tun.syncRoutes([...this.#prefixes], this.#peer, log);
      log?.(`${tun.name}: routes ${[...this.#prefixes].join(" ")} (trapped)`);
    }
  }

  /**
   * Stops the worker (it closes the socket), removes the routes and closes the TUN (the kernel
   * deletes the device), closes UDP 500. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#send({ t: "stop" });
    this.#closed = true;
    for (const lane of this.#lanes) this.#libc.writeView(lane.wakeFd, ONE, 8);
    await Promise.all(
      this.#lanes.map(async (lane) => {
        const t = setTimeout(() => void lane.worker.terminate(), 2000);
        await lane.stopped;
        clearTimeout(t);
        lane.ctrl.close();
      }),
    );
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
  return prefixes.flatMap((p) =>
    p === "0.0.0.0/0" ? ["0.0.0.0/1", "128.0.0.0/1"] : p === "::/0" ? ["::/1", "8000::/1"] : [p],
  );
}

async function bindPlain(
  address: string,
  port: number,
  onMessage: (m: Buffer, r: dgram.RemoteInfo) => void,
): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: address.includes(":") ? "udp6" : "udp4" });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", (e) => reject(new IoError("SOCKET", `cannot bind UDP ${address}[${port}]: ${e.message}`)));
    socket.bind(port, address, () => {
      socket.removeAllListeners("error");
      resolve();
    });
  });
  socket.on("message", onMessage);
  return socket;
}

/**
 * The TUN's addresses for one Child SA: the virtual IPs the peer assigned (CP, `vips = 0.0.0.0`),
 * else the local selectors that are one host (/32, /128); a wider selector gives no address.
 */
export function tunAddresses(localVips: readonly string[], localTs: readonly TrafficSelector[]): string[] {
  if (localVips.length) return localVips.map((v) => `${v}/${v.includes(":") ? 128 : 32}`);
  return localTs
    .filter((t) => t.start.every((b, i) => b === t.end[i]))
    .map((t) => `${formatIp(t.start)}/${t.start.length * 8}`);
}
