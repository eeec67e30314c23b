/**
 * The IKE daemon's contracts and reports: its transport, clock and options, the key-log record,
 * its counters and the `status` snapshot. Re-exported by daemon.ts.
 * @module
 */
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { ControlCrypto } from "../dataplane/control-crypto.ts";
import type { SaStats } from "../dataplane/types.ts";
import type { ChildSa, Endpoint, IkeSa, TimerId } from "./ike-sa.ts";
import type { IkeConnection } from "./config.ts";
import type { VipPoolConfig } from "./pool.ts";
import type { EapSecret } from "./eap-secrets.ts";
import type { LogSink } from "./log.ts";
import type { ChildKeys } from "./dataplane-backend.ts";

/** Sends datagrams. `local.port` names the socket; ports other than 500 carry the non-ESP marker. */
export interface IkeTransport {
  /** Sends one IKE message (the transport adds the 4-byte zero marker on NAT-T sockets). */
  sendIke(bytes: Uint8Array, local: Endpoint, remote: Endpoint): void;
  /** Sends ESP packets (already encapsulated) from the NAT-T socket at local.port. */
  sendEsp(packets: Uint8Array[], local: Endpoint, remote: Endpoint): void;
  /** Port of the NAT-T socket (4500 in production). */
  readonly natPort: number;
  /** Sends one NAT keepalive (a single 0xff byte, RFC 3948 §2.3) from the NAT-T socket. */
  sendKeepalive?(remote: Endpoint): void;
}

/** NAT keepalive interval (strongSwan's charon.keep_alive default). */
export const KEEPALIVE_MS = 20_000;

/** Time source and timers (injected so tests can run a virtual clock). */
export interface Clock {
  now(): number;
  setTimer(ms: number, fn: () => void): TimerId;
  clearTimer(t: TimerId): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => {
    const t = setTimeout(fn, ms);
    (t as { unref?: () => void }).unref?.();
    return t;
  },
  clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
};

/** Options of an {@link IkeDaemon}. */
export interface IkeDaemonOptions {
  dataplane: Dataplane;
  crypto: ControlCrypto;
  connections: IkeConnection[];
  transport: IkeTransport;
  log?: LogSink;
  /**
   * The highest level `log` wants (0, 1 or 2; -1 for none). Lines above it are dropped before
   * their text is formatted. Default: 2 (every line) when `log` is set, -1 without it.
   */
  logLevel?: -1 | 0 | 1 | 2;
  clock?: Clock;
  /** n fresh bytes of a CSPRNG (default: the runtime's `crypto.getRandomValues`, drawn in blocks: `random.ts`). */
  random?: (n: number) => Uint8Array;
  /** Half-open IKE SAs above which IKE_SA_INIT must carry a COOKIE (strongSwan's cookie_threshold: 30). */
  cookieThreshold?: number;
  /** Half-open IKE SAs from one address above which its IKE_SA_INIT must carry a COOKIE (cookie_threshold_ip: 3). */
  cookieThresholdIp?: number;
  /** Half-open IKE SAs from one address above which its IKE_SA_INITs are dropped (block_threshold: 5). */
  blockThreshold?: number;
  /** Our own address, used for "dynamic" selectors and IDs when the socket is bound to a wildcard. */
  localAddress?: string;
  /**
   * Opt-in key log for debugging with Wireshark: called with the keys of every Child SA as it is
   * installed (both directions). Keys otherwise live only in the wasm dataplane; leave this unset
   * in production. IKE SA keys are available from `IkeSa.keys` on the `established` event.
   */
  keyLog?: (rec: ChildKeyRecord) => void;
  /** Virtual IP pools (swanctl `pools`) that connections with `pools` lease peers' addresses from. */
  pools?: readonly VipPoolConfig[];
  /** EAP passwords (swanctl `eap-NAME` secrets), for `findEapSecret`. */
  eapSecrets?: readonly EapSecret[];
  /**
   * Resolves a DNS name in remote_addrs when initiating (strongSwan resolves it then, too);
   * without it only addresses can be initiated to.
   */
  resolveHost?: (name: string) => Promise<string>;
  /**
   * The address the host's routing would send from to reach `remote`, for an initiator whose
   * socket is bound to the wildcard: it becomes the IKE SA's local address (and the IDi of a
   * connection without `id`, as charon falls back on the source address).
   */
  sourceFor?: (remote: string) => Promise<string | undefined>;
}

/** One direction of a Child SA with its keys, for Wireshark's `esp_sa` table (see {@link IkeDaemonOptions.keyLog}). */
export interface ChildKeyRecord extends ChildKeys {
  ike: IkeSa;
}

/** Where decapsulated inner packets go. */
export type InnerHandler = (packet: Uint8Array, child: ChildSa, ike: IkeSa) => void;

/** Counters of the daemon itself (IKE level), like strongSwan's `swanctl --stats`. */
export interface IkeCounters {
  ikeReceived: number;
  ikeSent: number;
  ikeDroppedInvalid: number;
  ikeV1Dropped: number;
  cookiesSent: number;
  /** Responder IKE SAs between IKE_SA_INIT and the end of IKE_AUTH. */
  halfOpen: number;
  /** IKE_SA_INITs dropped because their address has too many half-open IKE SAs. */
  initsBlocked: number;
  /** IKE messages dropped over a size or fragment limit. */
  ikeOverLimit: number;
  espToUnknownChild: number;
  keepalivesSent: number;
  /** Initiations started by an outbound packet hitting a trap (start_action / dpd_action / close_action = trap). */
  acquires: number;
  /** Outbound packets dropped at a trap: the one that triggered it and those while negotiating (the kernel's larval drop). */
  trapDropped: number;
}

/** A snapshot for `ipsec-wasm status` (shaped like `swanctl --list-sas`). */
export interface IkeSaStatus {
  name: string;
  uniqueId: number;
  state: string;
  initiator: boolean;
  spiI: string;
  spiR: string;
  local: string;
  remote: string;
  localId: string;
  remoteId: string;
  proposal: string;
  establishedSecondsAgo: number;
  /** Virtual IPs the peer assigned us (CP), and its DNS servers. */
  localVips: string[];
  dns: string[];
  /** Virtual IPs leased to the peer from our pools. */
  remoteVips: string[];
  children: {
    name: string;
    uniqueId: number;
    state: string;
    mode: string;
    proposal: string;
    spiIn: string;
    spiOut: string;
    localTs: string;
    remoteTs: string;
    installedSecondsAgo: number;
    in?: SaStats;
    out?: SaStats;
  }[];
}
