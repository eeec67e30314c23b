/**
 * Public types of the ESP dataplane. Shared by the SDK, the CLI, tests and bench.
 * @module
 */

import { STATUS_NAMES } from "./abi.generated.ts";

/** Why a packet was not delivered (or `ok`). One name per drop counter; the index is the wasm status code (assembly/abi.ts ST_*). */
export { STATUS_NAMES };

/** A packet verdict: `ok` or the reason it was dropped. */
export type Status = (typeof STATUS_NAMES)[number];

/** HMAC keywords as strongSwan spells them: `sha256` is RFC 4868's 128-bit ICV, `sha256_96` Linux's 96-bit one. */
export type EspInteg = "sha1" | "sha256" | "sha256_96" | "sha384" | "sha512";
/** AES key sizes in bits, as they appear in keywords. */
export type AesBits = "128" | "192" | "256";

/**
 * ESP proposal keywords the dataplane accepts, spelled as strongSwan writes ESP proposals
 * (optionally followed by `-esn`): AES-GCM (RFC 4106), AES-CCM (RFC 4309), AES-GMAC (RFC 4543, integrity only),
 * ChaCha20-Poly1305 (RFC 7634), AES-CBC (RFC 3602) or AES-CTR (RFC 3686) with an HMAC, and NULL
 * encryption with an HMAC.
 */
export type EspSuite =
  | `aes${AesBits}gcm${8 | 12 | 16}`
  | `aes${AesBits}ccm${8 | 12 | 16}`
  | `aes${AesBits}gmac`
  | "chacha20poly1305"
  | `aes${AesBits}-${EspInteg}`
  | `aes${AesBits}ctr-${EspInteg}`
  | `null-${EspInteg}`;

/** Tunnel mode carries a whole inner IP packet; transport mode protects the upper-layer payload of the packet itself. */
export type EspMode = "tunnel" | "transport";

/** Integrity check value length in bytes. Explicit on every SA: 12 is Linux's `auth hmac(sha256)`, 16 is RFC 4868. */
export type IcvLength = 8 | 12 | 16 | 24 | 32;

/** Why a lifetime limit was reached: a configured limit, or the outbound sequence number running out. */
export type LifetimeReason = "bytes" | "packets" | "seconds" | "sequence";

/** One set of lifetime limits; any that is absent does not apply. */
export interface LifetimeLimits {
  /** Payload bytes (the `bytes` counter of stats()). */
  bytes?: number | bigint;
  /** Packets processed successfully. */
  packets?: number | bigint;
  /** Seconds since the SA was added, on the Dataplane's clock (DataplaneOptions.now). */
  seconds?: number;
}

/** Soft limits raise a `lifetime` event (rekey now); hard limits also make every further packet fail with `lifetime-expired`. */
export interface SaLifetime {
  soft?: LifetimeLimits;
  hard?: LifetimeLimits;
}

/** Headers in front of ESP on the wire, for MTU arithmetic. */
export interface OuterHeaders {
  /** IP version of the outer header (tunnel mode) or of the packet itself (transport mode). Default 4. */
  ipVersion?: 4 | 6;
  /** ESP inside UDP (RFC 3948, NAT traversal): 8 more bytes. Default false. */
  udpEncap?: boolean;
}

/** A `lifetime` event: an SA reached a soft or hard limit. Raised once per SA and kind. */
export interface LifetimeEvent {
  /** The SA's handle. */
  sa: SaHandle;
  spi: number;
  direction: "in" | "out";
  kind: "soft" | "hard";
  reason: LifetimeReason;
}

/** Configuration of one Security Association, like one `ip xfrm state add`. */
export interface SaConfig {
  /**
   * `esp` (default) or `ah` (RFC 4302: integrity for the whole IP packet, no encryption). For AH,
   * `esp` holds the integrity keyword as strongSwan's `ah_proposals` writes it (`sha256`, `sha1`,
   * `sha256_96`, `sha384`, `sha512`), `encKey` is empty, and packets are whole IP packets both ways.
   */
  protocol?: "esp" | "ah";
  /** AH tunnel mode, outbound: the outer header's addresses (both IPv4 or both IPv6), which the AH ICV covers. */
  tunnel?: { src: string; dst: string };
  /** Security Parameter Index, 32-bit, not 0..255 (RFC 4303 §2.1 reserves them). */
  spi: number;
  /** `in` SAs are found by SPI on decapsulation; `out` SAs are named by their handle on encapsulation. */
  direction: "in" | "out";
  mode: EspMode;
  /** Suite keyword, e.g. `aes128gcm16`, `aes128-sha256`, `aes128-sha256_96`, `null-sha1`; `-esn` may be appended. */
  esp: string;
  /** Encryption key; for GCM the AES key followed by the 4-byte salt (as `ip xfrm state ... aead`). Empty for NULL. */
  encKey: Uint8Array;
  /** HMAC key for the CBC and NULL suites; absent for GCM. */
  integKey?: Uint8Array;
  /** Overrides the ICV length the suite keyword implies (HMAC-SHA-256: 12, 16 or 32). */
  icvLength?: IcvLength;
  /** Extended Sequence Numbers (RFC 4303 §2.2.1). Also implied by an `-esn` suffix. */
  esn?: boolean;
  /** Anti-replay window in packets, 32..4096 (default 64); 0 turns replay protection off (inbound only). */
  replayWindow?: number;
  /** Outbound: the last sequence number already sent (next is +1). Inbound: the highest sequence number already received. */
  seq?: bigint;
  /**
   * Inbound integrity gateway ("Type 4"): the SA holds only the integrity key, checks ICV and
   * replay window, and delivers the packet unchanged (still encrypted) as its payload. HMAC suites
   * (give `integKey`, no `encKey`) and AES-GMAC (its key and salt as `encKey`); AEAD suites cannot,
   * their ICV is keyed by the encryption key.
   */
  verifyOnly?: boolean;
  /** Soft and hard limits in bytes, packets and seconds. */
  lifetime?: SaLifetime;
  /**
   * TFC padding (RFC 4303 §2.7, strongSwan's `tfc`), tunnel-mode outbound SAs: inner packets are
   * padded with zeros to this many bytes, or with `"mtu"` to the largest inner packet that fits
   * `pathMtu` (see Dataplane.innerMtu). The receiver drops the padding by the inner IP length.
   */
  tfc?: number | "mtu";
  /** Outer path MTU for `tfc: "mtu"` (default 1500). */
  pathMtu?: number;
  /** Outer headers for `tfc: "mtu"` (default IPv4, no UDP encapsulation). */
  outer?: OuterHeaders;
}

/** Opaque handle of an SA inside one Dataplane. */
export type SaHandle = number;

/** Result of encapsulating one packet. */
export interface EncapResult {
  status: Status;
  /** Sequence number the packet carries (64-bit with ESN). */
  seq: bigint;
  /**
   * On `ok`: tunnel mode, the ESP packet (SPI .. ICV) to put after an outer IP/UDP header;
   * transport mode, the whole IP packet with ESP inserted (protocol 50). AH: the whole IP packet
   * (tunnel mode with the outer header from SaConfig.tunnel), protocol 51.
   */
  packet?: Uint8Array;
}

/** Result of decapsulating one packet. */
export interface DecapResult {
  status: Status;
  /** SPI read from the packet (when it had at least 4 bytes). */
  spi: number;
  /** Sequence number: the 32 bits on the wire, or the inferred 64-bit value with ESN. */
  seq: bigint;
  /** Handle of the SA that matched, or -1. */
  sa: SaHandle;
  /** Next Header from the ESP trailer (4 IPv4, 41 IPv6, 59 dummy, 6 TCP, …), when the ICV verified. */
  nextHeader: number;
  /**
   * On `ok`: tunnel mode, the inner IP packet; transport mode with an IP header given,
   * the rebuilt original IP packet; transport mode without one, the upper-layer payload.
   * Never present when the ICV failed.
   */
  payload?: Uint8Array;
}

/** Per-SA counters, like `ip -s xfrm state`. */
export interface SaStats {
  spi: number;
  direction: "in" | "out";
  esp: string;
  icvLength: number;
  /** Packets and payload bytes processed successfully. */
  packets: bigint;
  bytes: bigint;
  /** Drops by reason (every Status except `ok`). */
  drops: Record<Exclude<Status, "ok">, bigint>;
  /** Outbound: last sequence number sent. Inbound: highest sequence number accepted. */
  seq: bigint;
  replayWindow: number;
  /** Integrity gateway SA (SaConfig.verifyOnly). */
  verifyOnly: boolean;
  /** ESP or AH. */
  protocol: "esp" | "ah";
  /** Lifetime state: the reason each limit was reached, or null; `addedAt` on the Dataplane's clock (ms). */
  lifetime: { soft: LifetimeReason | null; hard: LifetimeReason | null; addedAt: number };
}

/** Counters not tied to an SA, named like /proc/net/xfrm_stat. */
export interface GlobalStats {
  /** Packets whose SPI matched no inbound SA (XfrmInNoStates). */
  XfrmInNoStates: bigint;
  /** Packets too short to carry an ESP header (XfrmInHdrError). */
  XfrmInHdrError: bigint;
}

/**
 * Whether a dataplane's wasm memory is on transparent huge pages (`Dataplane.hugePages`; the
 * `hugePages` option of `Dataplane.create`). `active`: the kernel took MADV_HUGEPAGE for the memory's
 * whole reservation (`bytes`, up to 4 GiB: the memory grows inside it). Otherwise `reason` says why
 * not: turned off, not Node on Linux, koffi not installed, THP `never`, or the call failed.
 */
export type HugePagesStatus = { active: true; bytes: number } | { active: false; reason: string };
