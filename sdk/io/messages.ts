/**
 * What the main thread (IKE daemon) and the packet worker tell each other. SA handles are the
 * main thread's: the worker maps them to its own Dataplane's. Keys travel only in `add` (a
 * structured-clone copy; the sender wipes its copy right after posting, the worker after
 * installing).
 * @module
 */
import type { GlobalStats, LifetimeEvent, SaConfig, SaStats, Status } from "../dataplane/types.ts";
import type { Diagnostic } from "../diag/types.ts";
import type { WireTs } from "./selectors.ts";

/** How the worker moves ESP-in-UDP datagrams. */
export type UdpIoMode = "mmsg" | "dgram";

/** Data the worker starts with. */
export interface WorkerSetup {
  tunFd: number;
  /** Local address and port of the ESP-in-UDP (NAT-T) socket; port 0 picks one. */
  address: string;
  natPort: number;
  io: UdpIoMode;
  /** Packets per batch (TUN reads per encapsulation, datagrams per recvmmsg). */
  batch: number;
  /** Sends its stats every this many ms. */
  statsMs: number;
  /** Measure the thread CPU time of each stage (IPSEC_WASM_IO_PROFILE=1): two clock reads per stage and batch. */
  profile: boolean;
  /**
   * With two workers: "out" reads the TUN and encapsulates (and receives what is not ESP),
   * "in" only receives ESP (steered to its socket by SPI) and writes to the TUN. One worker: "all".
   */
  role: "all" | "out" | "in";
  /** Join an SO_REUSEPORT group on natPort (two workers); `steer` attaches the ESP steering program. */
  reusePort: boolean;
  steer: boolean;
  /** The TUN fd carries a virtio_net_hdr per packet (TSO super-packets in, GRO writes out); `uso`: UDP too. */
  tunOffload?: { vnetHdr: boolean; uso: boolean };
  /** UDP_GRO on the ESP-in-UDP socket (mmsg): a received message may hold a run of datagrams. */
  udpGro?: boolean;
}

/** Stages of the packet path whose CPU time the worker measures when profiling. */
export const STAGES = ["tunRead", "encStage", "encap", "udpSend", "udpRecv", "decStage", "decap", "tunWrite"] as const;

/** An outbound Child SA as the worker routes to it (newest first in the list). */
export interface OutRoute {
  h: number;
  remote: { address: string; port: number };
  local: WireTs[];
  remoteTs: WireTs[];
  /** Largest inner packet this SA carries on the path (innerMtu); larger ones get ICMP too-big. */
  mtu: number;
}

/** An inbound Child SA's selectors: decapsulated packets must come from `remoteTs` to `local`. */
export interface InPolicy {
  h: number;
  local: WireTs[];
  remoteTs: WireTs[];
}

/** Main → worker. */
export type ToWorker =
  | { t: "add"; h: number; cfg: SaConfig }
  | { t: "remove"; h: number }
  | { t: "routes"; out: OutRoute[]; in: InPolicy[]; icmpSrc4?: Uint8Array; icmpSrc6?: Uint8Array }
  | { t: "ike"; bytes: Uint8Array; address: string; port: number }
  | { t: "esp"; packets: Uint8Array[]; address: string; port: number }
  | { t: "keepalive"; address: string; port: number }
  | { t: "stats" }
  | { t: "stop" };

/** Counters of the worker's I/O (per process lifetime). */
export interface IoCounters {
  /** Packets read from the TUN and written to it. */
  tunRead: number;
  tunWritten: number;
  /** Datagrams received and sent on the NAT-T socket (ESP, IKE, keepalives). */
  udpReceived: number;
  udpSent: number;
  /** System calls: TUN reads (including the last, empty one of a batch), recvmmsg, sendmmsg/sendto, poll. */
  readCalls: number;
  recvCalls: number;
  sendCalls: number;
  pollCalls: number;
  /** Encapsulation and decapsulation batch runs. */
  encapBatches: number;
  decapBatches: number;
  /** Inner packets from the TUN that no outbound SA's selectors match. */
  noRoute: number;
  /** Inner packets larger than their SA carries (answered with ICMP when allowed). */
  tooBig: number;
  icmpSent: number;
  /** Decapsulated packets whose addresses are outside the SA's selectors (dropped). */
  policyDrops: number;
  /** Datagrams the kernel refused to send, TUN writes that failed. */
  sendErrors: number;
  tunWriteErrors: number;
  /** IKE messages passed to the main thread and keepalives received. */
  ikeReceived: number;
  keepalives: number;
  /** Datagrams dropped as too short or as ESP with status other than ok, by status. */
  espDrops: Partial<Record<Status, number>>;
  /** TUN offloads: super-packets read (their segments count in tunRead), reads refused (bad virtio_net_hdr or checksum offsets), super-packets written and the packets in them. */
  tunGsoRead: number;
  tunGsoErrors: number;
  tunGroWritten: number;
  tunGroPackets: number;
  /** Received messages that held a run of coalesced datagrams (UDP_GRO; the datagrams count in udpReceived). */
  udpGroRuns: number;
  /** CPU time of the worker thread (CLOCK_THREAD_CPUTIME_ID, µs; 0 in dgram mode without koffi) and wall time since start (ms). */
  cpuUs: number;
  wallMs: number;
  /** With profiling: thread CPU µs spent in each stage (see STAGES). */
  stageUs?: Partial<Record<(typeof STAGES)[number], number>>;
}

/** Worker → main. */
export type FromWorker =
  | { t: "ready"; port: number; wakeFd: number }
  | { t: "ike"; bytes: Uint8Array; address: string; port: number }
  | {
      t: "stats";
      sas: { h: number; stats: SaStats; replay?: { top: bigint; window: number; bitmap: Uint8Array } }[];
      global: GlobalStats & { byStatus: Record<Status, bigint> };
      io: IoCounters;
      /** The ICV-truncation detector's active diagnostics (it watches this worker's decapsulation; `sa` is the main thread's handle). */
      diagnostics: Diagnostic[];
    }
  /** A diagnostic line as it is raised (ICV truncation, key mismatch). */
  | { t: "diag"; line: string }
  | { t: "lifetime"; event: LifetimeEvent }
  /** An inner packet matched no outbound SA (rate limited): the main thread may have a trap for `dst` (acquire). */
  | { t: "noroute"; dst: string }
  | { t: "log"; message: string }
  | { t: "fatal"; code: string; message: string }
  | { t: "stopped" };
