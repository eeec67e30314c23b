/**
 * What one IKE SA needs to know about its connection, resolved from swanctl.conf (identities
 * parsed, secrets and certificates loaded). Built by sdk/config/resolve.ts; tests build it directly.
 * @module
 */
import type { AlgorithmSet } from "./proposals.ts";
import type { TrafficSelector } from "./message.ts";
import type { IkeIdentity } from "./identity.ts";
import type { Certificate } from "./x509.ts";
import type { PrivateKey } from "./signature-auth.ts";

/** One side's authentication (swanctl `local {}` / `remote {}`). */
export interface AuthConfig {
  /**
   * How this side authenticates. "eap-mschapv2" (RFC 7296 §2.16): the client proves itself by
   * EAP-MSCHAPv2 and an AUTH over the MSK; the gateway always signs (its `local` is pubkey).
   */
  auth: "psk" | "pubkey" | "eap-mschapv2";
  /** Our identity, or the identity we require of the peer ("any" accepts every one). */
  id: IkeIdentity | "any";
  /** pubkey, local side: our certificate chain (leaf first) and private key. */
  certs?: Certificate[];
  key?: PrivateKey;
  /** pubkey, remote side: trust anchors the peer's certificate must chain to. */
  cacerts?: Certificate[];
  /**
   * eap-mschapv2 (swanctl `eap_id`): local side, the EAP identity we answer EAP-Identity with
   * (default: `id`); remote side, the EAP identity we require ("any": whoever has an EAP secret).
   */
  eapId?: IkeIdentity | "any";
}

/**
 * A Child SA template (swanctl `children.<name>`): what the IKE state machine needs of a child.
 * The config layer's ChildConfig extends it with what only that layer needs (the proposal text
 * as written, updown, policy flags). Times in seconds.
 */
export interface ChildTemplate {
  name: string;
  localTs: (TrafficSelector | "dynamic")[];
  remoteTs: (TrafficSelector | "dynamic")[];
  espProposals: AlgorithmSet[];
  mode: "tunnel" | "transport";
  startAction: "none" | "trap" | "start";
  closeAction: "none" | "trap" | "start";
  dpdAction: "clear" | "trap" | "restart";
  rekeyTime: number;
  lifeTime: number;
  randTime: number;
  rekeyBytes: number;
  lifeBytes: number;
  rekeyPackets: number;
  lifePackets: number;
  replayWindow: number;
  /** strongSwan's `tfc_padding`: pad inner packets to this many bytes, or to what fits the path MTU; absent = off. */
  tfcPadding?: number | "mtu";
}

/** Retransmission schedule (strongSwan: timeout 4 s, base 1.8, 5 tries). */
export interface RetransmitConfig {
  timeoutMs: number;
  base: number;
  tries: number;
}

/** A connection (swanctl `connections.<name>`) ready for the IKE state machine. */
export interface IkeConnection {
  name: string;
  localAddrs: string[];
  remoteAddrs: string[];
  localPort: number;
  remotePort: number;
  ikeProposals: AlgorithmSet[];
  local: AuthConfig;
  remote: AuthConfig;
  /** Pre-shared key for this pair of identities (both sides), when auth is psk. */
  psk?: Uint8Array;
  children: ChildTemplate[];
  /** Seconds; 0 = off. */
  dpdDelay: number;
  dpdTimeout: number;
  rekeyTime: number;
  overTime: number;
  randTime: number;
  fragmentation: "yes" | "no" | "accept" | "force";
  /** Always true in practice: a userspace dataplane can only carry ESP in UDP (RFC 3948). */
  encap: boolean;
  keyingTries: number;
  retransmit: RetransmitConfig;
  /**
   * Virtual IPs to request by Configuration Payload (swanctl `vips`): "0.0.0.0" or "::" for any
   * address of that family, or the address we would like. Absent or empty: no CP request.
   */
  vips?: string[];
  /** Pools (swanctl `pools`, by name) the peer's virtual IPs are leased from when it asks. */
  pools?: string[];
}

/** A virtual IP leased from a pool (responder side of CP, RFC 7296 §3.15). */
export interface VirtualIpLease {
  pool: string;
  address: string;
  /** DNS servers of the pool (INTERNAL_IP4_DNS / INTERNAL_IP6_DNS). */
  dns: string[];
}

/** strongSwan's retransmission defaults (charon.retransmit_timeout/base/tries). */
export const DEFAULT_RETRANSMIT: RetransmitConfig = { timeoutMs: 4000, base: 1.8, tries: 5 };
