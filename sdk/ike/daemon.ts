/**
 * The IKE daemon: owns the IKE SAs of a set of connections, routes received IKE messages to
 * them, answers new IKE_SA_INITs as responder (with COOKIEs under load, RFC 7296 §2.6), installs
 * every negotiated Child SA in the wasm Dataplane, and moves ESP between the dataplane and the
 * transport. Runtime-neutral: sockets are behind {@link IkeTransport}, time behind {@link Clock}.
 * @module
 */
import type { DecapResult, LifetimeEvent, SaHandle } from "../dataplane/types.ts";
import { HashAlg } from "../dataplane/suites.ts";
import { decodeHeader, decodeMessage, encodeMessage } from "./codec.ts";
import { Exchange, HeaderFlag, Notify } from "./message.ts";
import { IkeSa, hexBytes, type ChildSa, type Endpoint, type IkeEvent, type IkeSaHost, type TimerId } from "./ike-sa.ts";
import { DataplaneBackend } from "./dataplane-backend.ts";
import type { IkeConnection, ChildTemplate, VirtualIpLease } from "./config.ts";
import { VipPools } from "./pool.ts";
import { findEapSecret } from "./eap-secrets.ts";
import { ChildActions, type Trap } from "./child-actions.ts";
import { identityMatches, formatIdentity, type IkeIdentity } from "./identity.ts";
import { tsContainsAddress, parseTs } from "./ts.ts";
import { parseIp } from "../net/ip.ts";
import { logText, rateLimited, type LogSink, type LogText } from "./log.ts";
import { IkeError } from "./errors.ts";
import { blockRandom } from "./random.ts";
import { concat, equalBytes } from "./keys.ts";
import { statusOf } from "./daemon-status.ts";
import {
  KEEPALIVE_MS,
  systemClock,
  type Clock,
  type IkeCounters,
  type IkeDaemonOptions,
  type IkeSaStatus,
  type InnerHandler,
} from "./daemon-types.ts";

export * from "./daemon-types.ts";

/** The IKE SA that owns a child now (children move to the successor of an IKE rekey). */
function ownerOf(child: ChildSa): IkeSa {
  return child.owner as IkeSa;
}

/** The IKE daemon. */
export class IkeDaemon {
  readonly counters: IkeCounters = {
    ikeReceived: 0,
    ikeSent: 0,
    ikeDroppedInvalid: 0,
    ikeV1Dropped: 0,
    cookiesSent: 0,
    halfOpen: 0,
    initsBlocked: 0,
    ikeOverLimit: 0,
    espToUnknownChild: 0,
    keepalivesSent: 0,
    acquires: 0,
    trapDropped: 0,
  };
  /** Virtual IP pools and their leases. */
  readonly pools: VipPools;
  readonly #actions: ChildActions;
  /** Leases already given back through the host hook (so the cleanup at deletion does not twice). */
  readonly #released = new WeakSet<VirtualIpLease>();
  /** IKE SAs by our local SPI (hex). */
  readonly sas = new Map<string, IkeSa>();
  /**
   * Half-open responder SAs (CONNECTING: IKE_SA_INIT answered, IKE_AUTH not done) by initiator SPI
   * and address: retransmitted IKE_SA_INITs find theirs and get the cached response; the count
   * decides COOKIEs (§2.6). An SA leaves when it is established, fails or is deleted.
   */
  readonly #halfOpen = new Map<string, IkeSa>();
  readonly #halfOpenByIp = new Map<string, number>();
  readonly #backend: DataplaneBackend;
  readonly #lastHeard = new Map<IkeSa, number>();
  readonly #listeners = new Set<(e: IkeEvent) => void>();
  readonly #opts: IkeDaemonOptions;
  readonly #clock: Clock;
  readonly #random: (n: number) => Uint8Array;
  readonly #log: LogSink;
  /** Lines above this level are dropped unformatted (-1: no sink). */
  readonly #logLevel: number;
  readonly #cookieSecret: Uint8Array;
  #volumeTimer?: TimerId;
  /** Receives every decapsulated inner packet. */
  onInner?: InnerHandler;
  /** Hears that a start or restart (start_action, dpd_action, close_action) used up its keying tries. */
  onGaveUp?: (conn: string, error: IkeError) => void;

  constructor(opts: IkeDaemonOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? blockRandom();
    this.#log = rateLimited(opts.log ?? (() => undefined), () => this.#clock.now());
    this.#logLevel = opts.log ? (opts.logLevel ?? 2) : -1;
    this.#cookieSecret = this.#random(32);
    const keyLog = opts.keyLog;
    this.#backend = new DataplaneBackend(opts.dataplane, {
      random: this.#random,
      now: () => this.#clock.now(),
      keyLog: keyLog ? (rec) => keyLog({ ...rec, ike: ownerOf(rec.child) }) : undefined,
    });
    this.pools = new VipPools(opts.pools ?? []);
    this.#actions = new ChildActions(
      {
        connections: () => this.#opts.connections,
        sas: () => new Set(this.sas.values()),
        initiate: (conn, child, remote) => this.initiate(conn, child, undefined, remote),
        on: (l) => this.on(l),
        setTimer: (ms, fn) => this.#clock.setTimer(ms, fn),
        clearTimer: (t) => this.#clock.clearTimer(t),
        log: (level, message) => this.logLine("CHD", level, message),
        gaveUp: (conn, error) => this.onGaveUp?.(conn, error),
      },
      this.counters,
    );
    this.scheduleVolumeCheck();
    this.#unsubscribeLifetime = opts.dataplane.on("lifetime", (e) => this.onLifetime(e));
  }

  readonly #unsubscribeLifetime: () => void;

  /** A child's SA reached a dataplane lifetime limit: soft rekeys the child, hard deletes it. */
  private onLifetime(e: LifetimeEvent): void {
    for (const [child, inst] of this.#backend.entries()) {
      if (inst.in !== e.sa && inst.out !== e.sa) continue;
      const why = e.reason === "sequence" ? "sequence number" : `${e.direction}bound ${e.reason}`;
      if (e.kind === "soft") ownerOf(child).childSoftExpired(child, why);
      else ownerOf(child).childHardExpired(child, why);
      return;
    }
  }

  /** Connections this daemon knows. */
  get connections(): IkeConnection[] {
    return this.#opts.connections;
  }

  /** Subscribes to IKE SA events; returns the unsubscribe function. */
  on(listener: (e: IkeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #ticks = 0;
  /** Every 20 s: NAT keepalives for UDP-encapsulated SAs (volume rekeys come from dataplane lifetime events). */
  private scheduleVolumeCheck(): void {
    this.#volumeTimer = this.#clock.setTimer(1000, () => {
      this.#ticks++;
      for (const ike of new Set(this.sas.values())) {
        if (this.#ticks % (KEEPALIVE_MS / 1000) === 0 && ike.natDetected && ike.state === "ESTABLISHED") {
          this.#opts.transport.sendKeepalive?.(ike.remote);
          this.counters.keepalivesSent++;
        }
      }
      this.scheduleVolumeCheck();
    });
  }

  // ------------------------------------------------------------------ the host interface for IkeSa

  #host?: IkeSaHost;
  /** The host of this daemon's IKE SAs (one object, shared: it holds no per-SA state). */
  private host(): IkeSaHost {
    return (this.#host ??= {
      crypto: this.#opts.crypto,
      now: () => this.#clock.now(),
      setTimer: (ms, fn) => this.#clock.setTimer(ms, fn),
      clearTimer: (t) => this.#clock.clearTimer(t),
      random: (n) => this.#random(n),
      send: (bytes, local, remote) => {
        this.counters.ikeSent++;
        this.#opts.transport.sendIke(bytes, local, remote);
      },
      log: (r) => this.#log(r),
      logLevel: this.#logLevel,
      natPort: () => this.#opts.transport.natPort,
      backend: this.#backend,
      lastHeard: (ike) => this.#lastHeard.get(ike) ?? 0,
      register: (ike) => {
        this.sas.set(hexBytes(ike.localSpi), ike);
        this.#lastHeard.set(ike, this.#clock.now());
      },
      event: (e) => this.dispatch(e),
      overLimit: () => {
        this.counters.ikeOverLimit++;
      },
      initialContact: (ike) => void this.destroyDuplicates(ike),
      hasContact: (ike) => this.hasContact(ike),
      findConnection: (idi, idr, local, remote) => this.findResponderConnection(idi, idr, local, remote),
      findPsk: () => undefined,
      findEapSecret: (eapId) => this.findEapSecret(eapId),
      acquireVirtualIp: (pools, peer, family, requested) => this.acquireVirtualIp(pools, peer, family, requested),
      releaseVirtualIp: (lease, peer) => this.releaseVirtualIp(lease, peer),
    });
  }

  /** The IKE SA host's EAP secret lookup: the password (UTF-8, a copy) of an EAP identity. */
  findEapSecret(eapId: IkeIdentity): Uint8Array | undefined {
    return findEapSecret(this.#opts.eapSecrets ?? [], eapId);
  }

  /** The IKE SA host's lease hook over {@link pools} (see {@link VipPools.acquire}); logs the pool (level 1). */
  acquireVirtualIp(
    pools: readonly string[],
    peer: IkeIdentity,
    family: 4 | 6,
    requested?: string,
  ): VirtualIpLease | { error: string } {
    const r = this.pools.acquire(pools, peer, family, requested);
    // The CP exchange logs the assignment at level 0 (as charon's ike_config); this adds the pool.
    if ("error" in r) this.logLine("CFG", 1, () => `no virtual IP for '${formatIdentity(peer)}': ${r.error}`);
    else this.logLine("CFG", 1, () => `pool '${r.pool}': ${r.address} leased to '${formatIdentity(peer)}'`);
    return r;
  }

  /** Gives a lease back (it goes offline, kept for the identity); a lease is released once. */
  releaseVirtualIp(lease: VirtualIpLease, peer: IkeIdentity): void {
    if (this.#released.has(lease)) return;
    this.#released.add(lease);
    if (this.pools.release(lease, peer))
      this.logLine("CFG", 1, () => `lease ${lease.address} by '${formatIdentity(peer)}' went offline`);
  }

  private dispatch(e: IkeEvent): void {
    if (e.type === "deleted" || e.type === "failed") {
      const key = hexBytes(e.ike.localSpi);
      if (this.sas.get(key) === e.ike) this.sas.delete(key);
      this.#lastHeard.delete(e.ike);
      // The leases of an SA that is gone (not one rekeyed: its successor holds them) go offline.
      if (e.type === "failed" || e.reason !== "rekeyed") {
        const peer = e.ike.eapIdentity ?? e.ike.remoteId;
        // Only an SA with leases looks at the others (a copy of every SA per DELETE otherwise).
        const live = e.ike.remoteVips.length > 0 ? [...this.sas.values()].filter((s) => s !== e.ike) : [];
        if (peer)
          for (const l of e.ike.remoteVips)
            if (!live.some((s) => s.remoteVips.includes(l))) this.releaseVirtualIp(l, peer);
      }
    }
    if (e.type === "rekeyed") inheritVips(e.ike, e.successor);
    this.#actions.event(e);
    if (e.type === "established" || e.type === "deleted" || e.type === "failed") this.leaveHalfOpen(e.ike);
    if (e.type === "rekeyed") this.#lastHeard.set(e.successor, this.#clock.now());
    for (const l of this.#listeners) l(e);
  }

  // ------------------------------------------------------------------ connections

  private findResponderConnection(
    idi: IkeIdentity,
    _idr: IkeIdentity | undefined,
    _local: Endpoint,
    _remote: Endpoint,
  ): IkeConnection | undefined {
    return this.#opts.connections.find((c) => c.remote.id === "any" || identityMatches(c.remote.id, idi));
  }

  private connectionFor(remote: Endpoint): IkeConnection | undefined {
    const cs = this.#opts.connections;
    return (
      cs.find((c) => c.remoteAddrs.includes(remote.address)) ??
      cs.find(
        (c) =>
          c.remoteAddrs.length === 0 ||
          c.remoteAddrs.includes("%any") ||
          c.remoteAddrs.some((a) => addrInPrefix(remote.address, a)),
      )
    );
  }

  /**
   * Initiates a connection; resolves with the IKE SA once it and its first Child SA are up,
   * rejects with an {@link IkeError} that explains what failed.
   */
  initiate(
    connName: string,
    childName?: string,
    local?: Endpoint,
    remote?: string,
  ): Promise<{ ike: IkeSa; child?: ChildSa }> {
    const conn = this.#opts.connections.find((c) => c.name === connName);
    if (!conn)
      return Promise.reject(
        new IkeError(
          "CONFIG",
          `no connection named '${connName}'; known: ${this.#opts.connections.map((c) => c.name).join(", ") || "none"}`,
        ),
      );
    const child = childName ? conn.children.find((c) => c.name === childName) : conn.children[0];
    if (childName && !child)
      return Promise.reject(
        new IkeError(
          "CONFIG",
          `connection '${connName}' has no child '${childName}'; known: ${conn.children.map((c) => c.name).join(", ")}`,
        ),
      );
    const remoteAddr = remote ?? conn.remoteAddrs.find((a) => a !== "%any" && !a.includes("/"));
    if (!remoteAddr)
      return Promise.reject(new IkeError("CONFIG", `connection '${connName}' has no remote_addrs to initiate to`));
    if (!parseIp(remoteAddr)) {
      // A DNS name (remote_addrs = vpn.example.com): resolved for every initiation, as charon does.
      const resolve = this.#opts.resolveHost;
      if (!resolve)
        return Promise.reject(
          new IkeError(
            "CONFIG",
            `connection '${connName}': cannot resolve '${remoteAddr}' (no resolver); use an address`,
          ),
        );
      return resolve(remoteAddr).then(
        (addr) => {
          this.logLine("CFG", 1, () => `resolved ${remoteAddr} to ${addr}`);
          return this.initiate(connName, childName, local, addr);
        },
        (e: unknown) => {
          throw new IkeError(
            "PEER_UNREACHABLE",
            `connection '${connName}': cannot resolve ${remoteAddr}: ${(e as Error).message}`,
          );
        },
      );
    }
    const localEp = local ?? {
      address: this.#opts.localAddress ?? conn.localAddrs.find((a) => a !== "%any") ?? "0.0.0.0",
      port: conn.localPort,
    };
    const sourceFor = this.#opts.sourceFor;
    if (sourceFor && (localEp.address === "0.0.0.0" || localEp.address === "::"))
      return sourceFor(remoteAddr)
        .catch(() => undefined)
        .then((address) => this.#start(conn, child, address ? { ...localEp, address } : localEp, remoteAddr));
    return this.#start(conn, child, localEp, remoteAddr);
  }

  /** Creates the initiator's IKE SA and waits for it (and its first child) to come up. */
  #start(
    conn: IkeConnection,
    child: ChildTemplate | undefined,
    localEp: Endpoint,
    remoteAddr: string,
  ): Promise<{ ike: IkeSa; child?: ChildSa }> {
    const ike = new IkeSa(this.host(), conn, localEp, { address: remoteAddr, port: conn.remotePort }, true);
    this.sas.set(hexBytes(ike.localSpi), ike);
    this.#lastHeard.set(ike, this.#clock.now());
    return new Promise((resolve, reject) => {
      const off = this.on((e) => {
        if (e.ike !== ike) return;
        if (e.type === "failed") {
          off();
          reject(e.error);
        } else if (e.type === "deleted") {
          off();
          reject(new IkeError("DELETED", `IKE_SA ${conn.name} was deleted before it came up: ${e.reason}`));
        } else if (e.type === "child-failed") {
          off();
          reject(e.error);
        } else if (e.type === "child-up" || (e.type === "established" && !child)) {
          off();
          resolve({ ike, child: e.type === "child-up" ? e.child : undefined });
        }
      });
      ike.initiate(child);
    });
  }

  /** Deletes every IKE SA (DELETE sent to each peer); resolves when all are answered or timed out. */
  async terminateAll(): Promise<void> {
    await Promise.all([...new Set(this.sas.values())].map((ike) => ike.delete()));
  }

  /** Stops timers (after terminateAll). */
  close(): void {
    this.#actions.close();
    if (this.#volumeTimer !== undefined) this.#clock.clearTimer(this.#volumeTimer);
    this.#unsubscribeLifetime();
    for (const ike of new Set([...this.sas.values(), ...this.#halfOpen.values()]))
      ike.fail(new IkeError("DELETED", "daemon shut down"));
  }

  // ------------------------------------------------------------------ start_action, traps

  /**
   * Applies every child's start_action: `start` initiates (with the connection's keying tries;
   * children of one connection share its IKE SA), `trap` installs a trap; `start: false` traps
   * only. The returned `started` promises settle when each connection is up or gave up.
   */
  startActions(opts: { start?: boolean } = {}): {
    trapped: Trap[];
    started: { conn: string; up: Promise<{ ike: IkeSa; child?: ChildSa }> }[];
  } {
    const trapped: Trap[] = [];
    const started: { conn: string; up: Promise<{ ike: IkeSa; child?: ChildSa }> }[] = [];
    for (const conn of this.#opts.connections) {
      for (const t of conn.children) if (t.startAction === "trap") trapped.push(this.#actions.installTrap(conn, t));
      const start = conn.children.filter((t) => t.startAction === "start");
      if (start.length && opts.start !== false)
        started.push({ conn: conn.name, up: this.#actions.bringUp(conn, start, "start_action") });
    }
    return { trapped, started };
  }

  /** Installs a trap for a child (as `swanctl --install` does); the first packet to its remote selectors initiates. */
  installTrap(connName: string, childName?: string): Trap {
    const conn = this.#opts.connections.find((c) => c.name === connName);
    const t = childName ? conn?.children.find((c) => c.name === childName) : conn?.children[0];
    if (!conn || !t)
      throw new IkeError("CONFIG", `no child '${childName ?? "(first)"}' in a connection named '${connName}' to trap`);
    return this.#actions.installTrap(conn, t);
  }

  /**
   * `packets` outbound packets to `dst` found no Child SA (here, or in the TUN packet worker): if
   * a trap covers `dst` they are counted as dropped at it and it starts the negotiation (once at
   * a time). False when no trap covers `dst`.
   */
  acquire(dst: string, packets = 1): boolean {
    const addr = parseIp(dst);
    const trap = addr && this.#actions.trapFor(addr);
    if (!trap) return false;
    this.#actions.acquire(trap, packets, dst);
    return true;
  }

  /**
   * The peer sent INITIAL_CONTACT (RFC 7296 §2.4) on `ike`: every other IKE SA of its connection
   * with the same peer identity (the EAP identity when EAP ran) is destroyed at once, without a
   * DELETE, as charon's check_uniqueness does ("destroying duplicate IKE_SA ..., received
   * INITIAL_CONTACT"), so their leases go offline before `ike`'s CP leases: a road warrior that
   * lost its state gets its address back. For the IKE side to call before the CP response;
   * returns how many were destroyed.
   */
  destroyDuplicates(ike: IkeSa): number {
    const who = ike.eapIdentity ?? ike.remoteId;
    if (!who) return 0;
    // The SAs of the same peer first (a Set: an SA can sit under two keys), then tear them down:
    // no copy of every SA per new SA, and teardown may change the map.
    const dups = new Set<IkeSa>();
    for (const other of this.sas.values()) {
      if (other !== ike && other.conn.name === ike.conn.name && sameIdentity(other.eapIdentity ?? other.remoteId, who))
        dups.add(other);
    }
    let n = 0;
    for (const other of dups) {
      if (other.state !== "ESTABLISHED" && other.state !== "REKEYING") continue;
      this.logLine(
        "IKE",
        0,
        () =>
          `destroying duplicate IKE_SA ${other.conn.name}[${other.uniqueId}] for peer '${formatIdentity(who)}', received INITIAL_CONTACT`,
      );
      other.teardown("destroyed: the peer sent INITIAL_CONTACT on a new IKE_SA");
      n++;
    }
    return n;
  }

  /** Another established IKE SA of `ike`'s connection with the same peer address (charon's has_contact). */
  hasContact(ike: IkeSa): boolean {
    for (const other of new Set(this.sas.values()))
      if (
        other !== ike &&
        other.conn.name === ike.conn.name &&
        other.remote.address === ike.remote.address &&
        (other.state === "ESTABLISHED" || other.state === "REKEYING")
      )
        return true;
    return false;
  }

  /** Installed traps (`swanctl --list-pols`' TRAP entries). */
  traps(): Trap[] {
    return this.#actions.traps();
  }

  /** Whether the daemon will bring something up by itself: a trap installed, or a start/restart retrying. */
  get recovering(): boolean {
    return this.#actions.traps().length > 0 || this.#actions.keying().length > 0;
  }

  // ------------------------------------------------------------------ receiving IKE

  /** Feeds one IKE datagram (marker removed) received on `local` from `remote`. */
  receiveIke(bytes: Uint8Array, local: Endpoint, remote: Endpoint): void {
    this.counters.ikeReceived++;
    const hdr = decodeHeader(bytes);
    if (!hdr.ok) {
      if (hdr.error.code === "UNSUPPORTED_VERSION" && hdr.error.majorVersion === 1) {
        this.counters.ikeV1Dropped++;
        this.logLine(
          "IKE",
          0,
          () =>
            `received an IKEv1 packet from ${remote.address}[${remote.port}]: the peer speaks IKEv1; this side is IKEv2 only (set keyexchange=ikev2 / version = 2 on the peer)`,
          "ikev1",
        );
      } else {
        this.counters.ikeDroppedInvalid++;
        this.logLine(
          "ENC",
          0,
          () =>
            `dropping invalid IKE packet from ${remote.address}[${remote.port}] (${bytes.length} bytes): ${hdr.error.message}`,
          "invalid-packet",
        );
      }
      return;
    }
    const h = hdr.value;
    const fromInitiator = (h.flags & HeaderFlag.INITIATOR) !== 0;
    const ourSpi = fromInitiator ? h.spiR : h.spiI;
    const known = this.sas.get(hexBytes(ourSpi));
    if (known) {
      this.#lastHeard.set(known, this.#clock.now());
      void known.receive(bytes, local, remote);
      return;
    }
    const isResponse = (h.flags & HeaderFlag.RESPONSE) !== 0;
    if (h.exchange === Exchange.IKE_SA_INIT && !isResponse && fromInitiator && h.messageId === 0) {
      const key = `${hexBytes(h.spiI)}/${remote.address}`;
      const half = this.#halfOpen.get(key);
      if (half) {
        void half.receive(bytes, local, remote);
        return;
      }
      this.newResponder(bytes, local, remote, key);
      return;
    }
    this.logLine(
      "IKE",
      1,
      () =>
        `ignoring ${isResponse ? "response" : "request"} for unknown IKE_SA ${hexBytes(h.spiI)}_i ${hexBytes(h.spiR)}_r from ${remote.address}[${remote.port}]`,
      "unknown-sa",
    );
  }

  private leaveHalfOpen(ike: IkeSa): void {
    for (const [k, v] of this.#halfOpen) {
      if (v !== ike) continue;
      this.#halfOpen.delete(k);
      const n = (this.#halfOpenByIp.get(ike.remote.address) ?? 1) - 1;
      if (n > 0) this.#halfOpenByIp.set(ike.remote.address, n);
      else this.#halfOpenByIp.delete(ike.remote.address);
    }
    this.counters.halfOpen = this.#halfOpen.size;
  }

  private newResponder(bytes: Uint8Array, local: Endpoint, remote: Endpoint, key: string): void {
    const msg = decodeMessage(bytes);
    if (!msg.ok) {
      this.counters.ikeDroppedInvalid++;
      this.logLine(
        "ENC",
        0,
        () => `dropping invalid IKE_SA_INIT from ${remote.address}: ${msg.error.message}`,
        "invalid-init",
      );
      return;
    }
    const conn = this.connectionFor(remote);
    if (!conn) {
      this.logLine(
        "CFG",
        0,
        () => `no IKE config found for ${local.address}...${remote.address}, sending NO_PROPOSAL_CHOSEN`,
        "no-config",
      );
      return this.answerPlain(msg.value.header, local, remote, Notify.NO_PROPOSAL_CHOSEN);
    }
    // Everything up to here is stateless and costs one hash: no DH, no SA, before a valid cookie.
    const fromIp = this.#halfOpenByIp.get(remote.address) ?? 0;
    const block = this.#opts.blockThreshold ?? 5;
    if (fromIp >= block) {
      this.counters.initsBlocked++;
      this.logLine(
        "IKE",
        1,
        () =>
          `ignoring IKE_SA_INIT from ${remote.address}: ${fromIp} half-open IKE_SAs from it (block_threshold ${block})`,
        "blocked",
      );
      return;
    }
    const threshold = this.#opts.cookieThreshold ?? 30;
    const thresholdIp = this.#opts.cookieThresholdIp ?? 3;
    if (this.#halfOpen.size >= threshold || fromIp >= thresholdIp) {
      const cookie = this.cookieFor(msg.value, remote);
      const got = msg.value.payloads[0];
      const valid = got?.type === "N" && got.notifyType === Notify.COOKIE && equalBytes(got.data, cookie);
      if (!valid) {
        this.counters.cookiesSent++;
        this.logLine(
          "IKE",
          1,
          () =>
            `${this.#halfOpen.size} half-open IKE_SAs (${fromIp} from ${remote.address}; thresholds ${threshold} and ${thresholdIp} per address): requesting a COOKIE`,
          "cookie",
        );
        return this.answerPlain(msg.value.header, local, remote, Notify.COOKIE, cookie);
      }
    }
    const localEp =
      local.address === "0.0.0.0" || local.address === "::"
        ? { address: this.#opts.localAddress ?? local.address, port: local.port }
        : local;
    const ike = new IkeSa(this.host(), conn, localEp, remote, false, msg.value.header.spiI.slice());
    this.#halfOpen.set(key, ike);
    this.#halfOpenByIp.set(remote.address, fromIp + 1);
    this.counters.halfOpen = this.#halfOpen.size;
    this.#lastHeard.set(ike, this.#clock.now());
    const keep = ike.respondInit(bytes, msg.value);
    if (!keep) {
      this.leaveHalfOpen(ike);
      return;
    }
    // Half-open SAs that never authenticate are dropped after 30 s (strongSwan's half_open_timeout).
    this.#clock.setTimer(30_000, () => {
      if (ike.state === "CONNECTING")
        ike.fail(
          new IkeError(
            "PEER_UNREACHABLE",
            `half-open IKE_SA from ${remote.address} timed out: no IKE_AUTH within 30 s`,
          ),
        );
    });
  }

  /** Cookie (§2.6): SHA-256(Ni | IPi | SPIi | secret), versioned by a leading byte. */
  private cookieFor(msg: { header: { spiI: Uint8Array }; payloads: { type: string }[] }, remote: Endpoint): Uint8Array {
    const ni =
      (msg.payloads.find((p) => p.type === "NONCE") as { data?: Uint8Array } | undefined)?.data ?? new Uint8Array(0);
    const ip = parseIp(remote.address) ?? new Uint8Array(0);
    const h = this.#opts.crypto.hash(HashAlg.Sha256, concat(ni, ip, msg.header.spiI, this.#cookieSecret));
    return concat(Uint8Array.of(1), h);
  }

  private answerPlain(
    h: { spiI: Uint8Array; exchange: number; messageId: number },
    local: Endpoint,
    remote: Endpoint,
    type: number,
    data: Uint8Array = new Uint8Array(0),
  ): void {
    const bytes = encodeMessage({
      header: {
        spiI: h.spiI,
        spiR: new Uint8Array(8),
        nextPayload: 0,
        majorVersion: 2,
        minorVersion: 0,
        exchange: h.exchange,
        flags: HeaderFlag.RESPONSE,
        messageId: h.messageId,
        length: 0,
      },
      payloads: [{ type: "N", protocolId: 0, spi: new Uint8Array(0), notifyType: type, data }],
    });
    this.counters.ikeSent++;
    this.#opts.transport.sendIke(bytes, local, remote);
  }

  private logLine(
    subsystem: "IKE" | "ENC" | "CFG" | "NET" | "CHD",
    level: 0 | 1 | 2,
    message: LogText,
    rateKey?: string,
  ): void {
    if (level > this.#logLevel) return;
    this.#log({ subsystem, level, message: logText(message), time: this.#clock.now(), rateKey });
  }

  // ------------------------------------------------------------------ ESP

  /** Accounts a batch of decapsulated ESP packets and hands inner packets to {@link onInner}. */
  receiveEsp(results: DecapResult[]): void {
    const now = this.#clock.now();
    for (const r of results) {
      if (r.status !== "ok" || !r.payload) continue;
      for (const [child, inst] of this.#backend.entries()) {
        if (inst.in !== r.sa) continue;
        inst.lastInbound = now;
        const ike = ownerOf(child);
        this.#lastHeard.set(ike, now);
        if (r.nextHeader !== 59) this.onInner?.(r.payload, child, ike);
        break;
      }
    }
  }

  /** The Child SA whose remote selectors contain `dst` and that has an active outbound SA. */
  childFor(dst: string): { child: ChildSa; ike: IkeSa; out: SaHandle } | undefined {
    const addr = parseIp(dst);
    if (!addr) return undefined;
    let best: { child: ChildSa; ike: IkeSa; out: SaHandle } | undefined;
    for (const [child, inst] of this.#backend.entries()) {
      // A pair that lost a rekey collision keeps its outbound SA until deleted, but must not carry traffic.
      if (inst.out === undefined || child.state === "DELETED" || !child.outboundActive) continue;
      if (!child.remoteTs.some((t) => tsContainsAddress(t, addr))) continue;
      // Prefer the newest SA: after a rekey it carries the traffic.
      if (!best || child.uniqueId > best.child.uniqueId) best = { child, ike: ownerOf(child), out: inst.out };
    }
    return best;
  }

  /** Encapsulates inner packets for `dst`'s Child SA and sends them; returns how many were sent. */
  sendInner(packets: Uint8Array[], dst: string): number {
    const route = this.childFor(dst);
    if (!route) {
      if (!this.acquire(dst, packets.length)) this.counters.espToUnknownChild += packets.length;
      return 0;
    }
    const out: Uint8Array[] = [];
    for (const r of this.#opts.dataplane.encapsulateBatch(route.out, packets))
      if (r.status === "ok" && r.packet) out.push(r.packet);
    if (out.length) this.#opts.transport.sendEsp(out, route.ike.local, route.ike.remote);
    return out.length;
  }

  /** SA handles and stats of an installed child. */
  childHandles(child: ChildSa): { in: SaHandle; out?: SaHandle } | undefined {
    const i = this.#backend.installed(child);
    return i ? { in: i.in, out: i.out } : undefined;
  }

  /** Everything for `status`. */
  status(): IkeSaStatus[] {
    return statusOf(new Set(this.sas.values()), this.#clock.now(), this.#opts.dataplane, (c) =>
      this.#backend.installed(c),
    );
  }
}

/** An IKE rekey keeps the addresses: the successor takes over what the old SA assigned and leased. */
function inheritVips(old: IkeSa, next: IkeSa): void {
  if (next.localVips.length === 0) next.localVips = [...old.localVips];
  if (next.dnsServers.length === 0) next.dnsServers = [...old.dnsServers];
  if (next.remoteVips.length === 0) next.remoteVips = [...old.remoteVips];
  next.eapIdentity ??= old.eapIdentity;
}

/** Whether `addr` lies in a remote_addrs entry (an address, prefix or range, parsed like a selector). */
function addrInPrefix(addr: string, spec: string): boolean {
  const a = parseIp(addr);
  if (!a) return false;
  try {
    return parseTs(spec).some((t) => t !== "dynamic" && tsContainsAddress(t, a));
  } catch {
    return false;
  }
}
export type { ChildTemplate };

function sameIdentity(x: IkeIdentity | undefined, who: IkeIdentity): boolean {
  return x !== undefined && x.idType === who.idType && equalBytes(x.data, who.data);
}
