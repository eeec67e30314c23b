/**
 * ipsec-wasm: a userspace IPsec (ESP, AH) stack for JavaScript runtimes.
 * @module
 */
export { Dataplane, PacketBatch, HUGE_PAGES_MIN_SAS, type DataplaneOptions } from "./dataplane/dataplane.ts";
export { DataplaneError, type DataplaneErrorCode } from "./dataplane/errors.ts";
export { parseSuite, parseAhSuite, KNOWN_SUITES, KNOWN_AH_SUITES, type Suite } from "./dataplane/suites.ts";
export * from "./dataplane/types.ts";
export { ControlCrypto } from "./dataplane/control-crypto.ts";

// IKEv2 (runtime-neutral; sockets come from ipsec-wasm/node/ike-udp or ipsec-wasm/deno/ike-udp).
export {
  IkeDaemon,
  systemClock,
  type IkeDaemonOptions,
  type IkeTransport,
  type Clock,
  type IkeSaStatus,
  type IkeCounters,
  type InnerHandler,
} from "./ike/daemon.ts";
export { IkeSa, type ChildSa, type Endpoint, type IkeEvent, type IkeState } from "./ike/ike-sa.ts";
export { IkeError, EXIT_CODES, type IkeErrorCode } from "./ike/errors.ts";
export {
  DEFAULT_RETRANSMIT,
  type IkeConnection,
  type ChildTemplate,
  type AuthConfig,
  type RetransmitConfig,
} from "./ike/config.ts";
export { formatLog, consoleSink, type LogRecord, type LogSink, type Subsystem } from "./ike/log.ts";
export { resolveConnections, resolveConfig, type ResolveIo, type ResolvedConfig } from "./config/resolve.ts";
// Road warriors: virtual IP pools, EAP secrets, traps and the children's start/DPD/close actions.
export { VipPools, VipPool, type VipPoolConfig, type VipPoolStatus, type VipLeaseStatus } from "./ike/pool.ts";
export { findEapSecret, type EapSecret } from "./ike/eap-secrets.ts";
export type { Trap } from "./ike/child-actions.ts";
export type { VirtualIpLease } from "./ike/config.ts";
export { parseSwanctlConf, type SwanctlConfig, type ConnectionConfig, type ChildConfig } from "./config/swanctl.ts";
export { ConfigError } from "./ike/config-error.ts";
export { parseProposals, formatProposal, type AlgorithmSet } from "./ike/proposals.ts";
export { parseTs, formatTs } from "./ike/ts.ts";
export { parseIdentity, formatIdentity, type IkeIdentity } from "./ike/identity.ts";
export { parseCertificate, type Certificate } from "./ike/x509.ts";
export { importPrivateKeyPem, type PrivateKey } from "./ike/signature-auth.ts";
export { DH_GROUPS, type DhGroup } from "./ike/dh.ts";

// Observability: kernel-named counters, status report, OpenMetrics, Wireshark keys, and the
// detectors that explain failures (ICV truncation, up-but-silent).
export * from "./diag/index.ts";
