/**
 * What one IKE SA needs to know about its connection, resolved from swanctl.conf (identities
 * parsed, secrets and certificates loaded). Built by sdk/ike/resolve.ts; tests build it directly.
 * @module
 */
import type { AlgorithmSet } from "./proposals.ts";
import type { ChildConfig } from "../config/swanctl.ts";
import type { IkeIdentity } from "./identity.ts";
import type { Certificate } from "./x509.ts";
import type { PrivateKey } from "./signature-auth.ts";

/** One side's authentication (swanctl `local {}` / `remote {}`). */
export interface AuthConfig {
  auth: "psk" | "pubkey";
  /** Our identity, or the identity we require of the peer ("any" accepts every one). */
  id: IkeIdentity | "any";
  /** pubkey, local side: our certificate chain (leaf first) and private key. */
  certs?: Certificate[];
  key?: PrivateKey;
  /** pubkey, remote side: trust anchors the peer's certificate must chain to. */
  cacerts?: Certificate[];
}

/**
 * A Child SA template (swanctl `children.<name>`): the parsed child configuration minus what only
 * the config layer needs (the proposal text as written, updown, policy flags).
 */
export type ChildTemplate = Pick<ChildConfig,
  "name" | "localTs" | "remoteTs" | "espProposals" | "mode" | "startAction" | "dpdAction" | "closeAction" |
  "rekeyTime" | "lifeTime" | "randTime" | "rekeyBytes" | "lifeBytes" | "rekeyPackets" | "lifePackets" | "replayWindow" | "tfcPadding">;

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
}

/** strongSwan's retransmission defaults (charon.retransmit_timeout/base/tries). */
export const DEFAULT_RETRANSMIT: RetransmitConfig = { timeoutMs: 4000, base: 1.8, tries: 5 };
