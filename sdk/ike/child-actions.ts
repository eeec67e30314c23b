/**
 * What happens to a Child SA around its life, per strongSwan's swanctl.conf(5) child options:
 *
 * - `start_action`: `start` initiates when the daemon starts; `trap` installs a trap on the
 *   child's remote selectors, and the first outbound packet to them starts the IKE SA (as the
 *   kernel's XFRM acquire does; that packet and those while it negotiates are dropped and
 *   counted, like the kernel's larval drop); `none` nothing.
 * - `dpd_action` (the peer is declared dead: DPD or any exchange timed out): `clear` nothing
 *   more, `trap` installs the trap, `restart` re-initiates under a fresh IKE SA.
 * - `close_action` (the peer deleted the Child SA or its IKE SA): `none`, `trap`, `start`.
 *
 * Retries: every start and restart is one "keying try" of the connection, as charon counts them
 * (`keyingtries`, default 1; 0 = forever). Unlike charon, which starts the next try right away
 * (each try already spans its retransmission schedule), a failed try is followed by a pause of
 * 1 s, doubling up to 60 s, so a peer that refuses at once (a wrong proposal) is not hammered.
 * Traps stay installed until the daemon stops; one acquire per trap runs at a time.
 * @module
 */
import type { ChildSa, IkeEvent, IkeSa, TimerId } from "./ike-sa.ts";
import type { ChildTemplate, IkeConnection } from "./config.ts";
import type { TrafficSelector } from "./message.ts";
import type { IkeError } from "./errors.ts";
import { tsContainsAddress, tsForAddress, formatTsList } from "./ts.ts";

/** First pause after a failed keying try, and the longest. */
export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 60_000;

/** A trap (`start_action = trap`, or installed by dpd/close_action): like `swanctl --list-pols`' TRAP policies. */
export interface Trap {
  conn: IkeConnection;
  template: ChildTemplate;
  /** Destinations that trigger it: the child's remote selectors ("dynamic" = the peer's address). */
  remoteTs: TrafficSelector[];
  /** Peer address to initiate to (when the connection names none, e.g. remote_addrs = %any). */
  remote?: string;
  /** True while the IKE SA / Child SA it triggered is being negotiated. */
  acquiring: boolean;
  /** Initiations it triggered. */
  acquires: number;
  /** Packets dropped at it (the triggering ones and those while negotiating). */
  dropped: number;
}

/** What the actions need of the daemon. */
export interface ChildActionsHost {
  connections(): IkeConnection[];
  sas(): Iterable<IkeSa>;
  /** Starts a new IKE SA with `child` as its first Child SA; resolves when it is up. */
  initiate(conn: string, child: string, remote?: string): Promise<{ ike: IkeSa; child?: ChildSa }>;
  on(listener: (e: IkeEvent) => void): () => void;
  setTimer(ms: number, fn: () => void): TimerId;
  clearTimer(t: TimerId): void;
  log(level: 0 | 1 | 2, message: string): void;
  /** A start or restart used up its keying tries. */
  gaveUp?(conn: string, error: IkeError): void;
}

const key = (conn: string, child: string): string => `${conn}/${child}`;
const toBig = (b: Uint8Array): bigint => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);

/** One connection's start/restart in progress, with its keying tries. */
interface Keying {
  conn: IkeConnection;
  templates: ChildTemplate[];
  remote?: string;
  why: string;
  attempt: number;
  timer?: TimerId;
  done: Promise<{ ike: IkeSa; child?: ChildSa }>;
  resolve(v: { ike: IkeSa; child?: ChildSa }): void;
  reject(e: IkeError): void;
}

/** Traps, starts and restarts of a daemon's Child SAs. */
export class ChildActions {
  readonly #host: ChildActionsHost;
  readonly #traps = new Map<string, Trap>();
  readonly #keying = new Map<string, Keying>();
  /** Templates with a Child SA up on each IKE SA: what DPD and close actions apply to. */
  readonly #up = new Map<IkeSa, Map<string, ChildTemplate>>();
  #closed = false;
  /** The daemon's counters this adds to. */
  readonly counters: { acquires: number; trapDropped: number };

  constructor(host: ChildActionsHost, counters: { acquires: number; trapDropped: number }) {
    this.#host = host;
    this.counters = counters;
  }

  /** Every trap installed. */
  traps(): Trap[] {
    return [...this.#traps.values()];
  }

  /** Connections being started or restarted right now (by name). */
  keying(): string[] {
    return [...this.#keying.keys()];
  }

  /**
   * Installs a trap for `template` of `conn` (idempotent). `remote` is the peer's address: where
   * to initiate to and what "dynamic" remote selectors mean; default: the connection's first
   * remote address.
   */
  installTrap(conn: IkeConnection, template: ChildTemplate, remote?: string): Trap {
    const k = key(conn.name, template.name);
    const have = this.#traps.get(k);
    if (have) return have;
    const peer = remote ?? conn.remoteAddrs.find((a) => a !== "%any" && !a.includes("/"));
    const remoteTs = template.remoteTs.flatMap((t) => {
      if (t !== "dynamic") return [t];
      try {
        return peer ? [tsForAddress(peer)] : [];
      } catch {
        return []; // a DNS name: known once resolved, so no dynamic selector to trap on
      }
    });
    const trap: Trap = { conn, template, remoteTs, remote, acquiring: false, acquires: 0, dropped: 0 };
    this.#traps.set(k, trap);
    this.#host.log(
      0,
      `installed trap for CHILD_SA ${template.name} of '${conn.name}': ${remoteTs.length ? formatTsList(remoteTs) : "(no remote selector)"}`,
    );
    return trap;
  }

  /** The trap whose remote selectors contain `dst`: the narrowest selector wins (as the most specific policy), then the first installed. */
  trapFor(dst: Uint8Array): Trap | undefined {
    let best: { trap: Trap; span: bigint } | undefined;
    for (const trap of this.#traps.values())
      for (const ts of trap.remoteTs) {
        if (!tsContainsAddress(ts, dst)) continue;
        const span = toBig(ts.end) - toBig(ts.start);
        if (!best || span < best.span) best = { trap, span };
      }
    return best?.trap;
  }

  /**
   * Packets to a trapped destination without a Child SA: dropped and counted; the first starts
   * the negotiation unless one is running for this trap or its connection.
   */
  acquire(trap: Trap, packets: number, dst: string): void {
    trap.dropped += packets;
    this.counters.trapDropped += packets;
    if (trap.acquiring || this.#closed) return;
    trap.acquiring = true;
    trap.acquires++;
    this.counters.acquires++;
    this.#host.log(
      0,
      `acquire: packet to ${dst} hit the trap of CHILD_SA ${trap.template.name}, initiating '${trap.conn.name}' (the packet was dropped)`,
    );
    void this.bringUp(trap.conn, [trap.template], "acquire", trap.remote)
      .catch(() => undefined)
      .finally(() => {
        trap.acquiring = false;
      });
  }

  /**
   * Brings up `templates` of `conn`: on an established IKE SA of it when there is one (a
   * CREATE_CHILD_SA per missing child), else by initiating a new IKE SA, with keying tries.
   */
  bringUp(
    conn: IkeConnection,
    templates: ChildTemplate[],
    why: string,
    remote?: string,
  ): Promise<{ ike: IkeSa; child?: ChildSa }> {
    const running = this.#keying.get(conn.name);
    if (running) {
      for (const t of templates) if (!running.templates.includes(t)) running.templates.push(t);
      return running.done;
    }
    const ike = [...this.#host.sas()].find(
      (s) => s.conn.name === conn.name && s.state === "ESTABLISHED" && (!remote || s.remote.address === remote),
    );
    if (ike) return this.#onExisting(ike, templates);
    let resolve!: Keying["resolve"], reject!: Keying["reject"];
    const done = new Promise<{ ike: IkeSa; child?: ChildSa }>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const k: Keying = { conn, templates: [...templates], remote, why, attempt: 0, done, resolve, reject };
    this.#keying.set(conn.name, k);
    this.#try(k);
    return done;
  }

  /** Missing children created on an established IKE SA; resolves with the first. */
  #onExisting(ike: IkeSa, templates: ChildTemplate[]): Promise<{ ike: IkeSa; child?: ChildSa }> {
    const missing = templates.filter((t) => ![...ike.children.values()].some((c) => c.name === t.name));
    if (missing.length === 0) return Promise.resolve({ ike });
    const first = missing[0]!;
    const result = new Promise<{ ike: IkeSa; child?: ChildSa }>((resolve, reject) => {
      const off = this.#host.on((e) => {
        if (e.ike !== ike) return;
        if (e.type === "child-up" && e.child.name === first.name) {
          off();
          resolve({ ike, child: e.child });
        } else if (e.type === "child-failed" || e.type === "failed") {
          off();
          reject(e.error);
        } else if (e.type === "deleted") {
          off();
          resolve({ ike });
        }
      });
    });
    for (const t of missing) ike.createChild(t);
    return result;
  }

  #try(k: Keying): void {
    k.timer = undefined;
    if (this.#closed) return;
    k.attempt++;
    const tries = k.conn.keyingTries;
    const first = k.templates[0];
    if (!first) return;
    this.#host.log(
      0,
      `${k.why}: initiating '${k.conn.name}' for CHILD_SA ${k.templates.map((t) => t.name).join(", ")} (keying try ${k.attempt}/${tries === 0 ? "unlimited" : tries})`,
    );
    this.#host.initiate(k.conn.name, first.name, k.remote).then(
      (r) => {
        this.#keying.delete(k.conn.name);
        for (const t of k.templates.slice(1)) r.ike.createChild(t);
        if (k.attempt > 1 || k.why !== "acquire") this.#host.log(0, `${k.why}: '${k.conn.name}' is up again`);
        k.resolve(r);
      },
      (e: IkeError) => {
        if (this.#closed) return;
        if (tries !== 0 && k.attempt >= tries) {
          this.#keying.delete(k.conn.name);
          this.#host.log(
            0,
            `${k.why}: giving up on '${k.conn.name}' after ${k.attempt} keying ${k.attempt === 1 ? "try" : "tries"} (keyingtries = ${tries}; 0 retries forever): ${e.message}`,
          );
          k.reject(e);
          this.#host.gaveUp?.(k.conn.name, e);
          return;
        }
        const pause = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (k.attempt - 1));
        this.#host.log(0, `${k.why}: '${k.conn.name}' failed (${e.message}); retrying in ${pause / 1000} s`);
        k.timer = this.#host.setTimer(pause, () => this.#try(k));
      },
    );
  }

  /** Follows the daemon's events (called for every event before other listeners hear it). */
  event(e: IkeEvent): void {
    if (this.#closed) return;
    switch (e.type) {
      case "child-up": {
        const m = this.#up.get(e.ike) ?? new Map<string, ChildTemplate>();
        m.set(e.child.name, e.child.template);
        this.#up.set(e.ike, m);
        return;
      }
      case "child-down": {
        if (e.reason !== "deleted" && e.reason !== "deleted by peer") return; // failures: the IKE SA's event decides
        const { ike, child, reason } = e;
        // Decided once the current exchange is done: if the whole IKE SA is going, its own event decides.
        queueMicrotask(() => {
          if (ike.state !== "ESTABLISHED" || this.#closed) return;
          if ([...ike.children.values()].some((c) => c.name === child.name)) return; // a rekey replaced it
          this.#up.get(ike)?.delete(child.name);
          if (reason === "deleted by peer") this.#apply(ike, [child.template], "close_action");
        });
        return;
      }
      case "rekeyed": {
        const m = this.#up.get(e.ike);
        if (m) this.#up.set(e.successor, new Map(m));
        this.#up.delete(e.ike);
        return;
      }
      case "deleted":
      case "failed": {
        const templates = [...(this.#up.get(e.ike)?.values() ?? [])];
        this.#up.delete(e.ike);
        if (e.type === "deleted" && e.reason === "deleted by peer") this.#apply(e.ike, templates, "close_action");
        if (e.type === "failed" && e.error.code === "PEER_DEAD") {
          this.#host.log(0, `IKE_SA ${e.ike.conn.name}[${e.ike.uniqueId}]: peer dead (${e.error.message})`);
          this.#apply(e.ike, templates, "dpd_action");
        }
        return;
      }
      default:
    }
  }

  /** dpd_action / close_action for the templates that were up on `ike`. */
  #apply(ike: IkeSa, templates: ChildTemplate[], which: "dpd_action" | "close_action"): void {
    const restart: ChildTemplate[] = [];
    for (const t of templates) {
      const action = which === "dpd_action" ? t.dpdAction : t.closeAction;
      if (action === "trap") {
        this.#host.log(0, `${which} = trap for CHILD_SA ${t.name}`);
        this.installTrap(ike.conn, t, this.#peerOf(ike));
      } else if (action === "restart" || action === "start") restart.push(t);
    }
    if (restart.length === 0) return;
    this.#host.log(
      0,
      `${which} = ${which === "dpd_action" ? "restart" : "start"}: re-initiating '${ike.conn.name}' for CHILD_SA ${restart.map((t) => t.name).join(", ")}`,
    );
    this.bringUp(ike.conn, restart, which, this.#peerOf(ike)).catch(() => undefined);
  }

  /** The peer's address to re-initiate to: the connection's own if it names one, else where the peer was. */
  #peerOf(ike: IkeSa): string | undefined {
    const named = ike.conn.remoteAddrs.some((a) => a !== "%any" && !a.includes("/"));
    return named ? undefined : ike.remote.address;
  }

  /** Stops pending retries (the daemon shuts down). */
  close(): void {
    this.#closed = true;
    for (const k of this.#keying.values()) if (k.timer !== undefined) this.#host.clearTimer(k.timer);
    this.#keying.clear();
  }
}
