/**
 * Observability: counters under the kernel's names (xfrm_stat, `ip -s xfrm state`), the status
 * report behind `ipsec-wasm status`, OpenMetrics, and the detectors that explain failures in
 * plain words (ICV truncation, up-but-silent). Runtime-neutral.
 * @module
 */
export type { Diagnostic, DiagnosticLike, DiagnosticSeverity } from "./types.ts";
export {
  XFRM_STAT_NAMES,
  XfrmStatCollector,
  formatXfrmStat,
  formatXfrmState,
  formatXfrmStates,
  kernelReplayBitmap,
  xfrmAlgorithms,
  xfrmStatFrom,
  xfrmStateEntries,
  xfrmStateEntry,
  zeroDrops,
} from "./xfrm-stat.ts";
export type {
  DropCounts,
  DropReason,
  XfrmAlgorithm,
  XfrmCounterInput,
  XfrmLifetime,
  XfrmReplayState,
  XfrmStat,
  XfrmStatName,
  XfrmStateContext,
  XfrmStateEntry,
} from "./xfrm-stat.ts";
export {
  buildStatusReport,
  formatStatusReport,
  formatSwanctlSas,
  statusReportJson,
  swanctlAlgorithms,
} from "./status-report.ts";
export type {
  ChildSaReport,
  ChildSaTraffic,
  IkeSaReport,
  RekeyDue,
  SaDescription,
  StatusReport,
  StatusSources,
} from "./status-report.ts";
export {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  escapeLabelValue,
  metricsResponse,
  negotiateMetricsFormat,
  renderMetrics,
} from "./metrics.ts";
export type { MetricsFormat } from "./metrics.ts";
export { SILENCE_KIND, SilenceDetector, daemonSilencePairs } from "./silence.ts";
export type { SilenceDetectorOptions, SilenceEvent, SilencePair } from "./silence.ts";
export { IcvTruncationDetector } from "./icv-truncation.ts";
export type {
  Diagnostic as IcvTruncationDiagnostic,
  DiagnosticKind as IcvTruncationKind,
  IcvTruncationDetectorOptions,
  ProbeResult,
} from "./icv-truncation.ts";
export { hexSpi } from "./messages.ts";
export {
  WiresharkExportError,
  WiresharkKeyTables,
  espSaLine,
  ikev2DecryptionLine,
  wiresharkEspAlgorithms,
  wiresharkIkeAlgorithms,
} from "./wireshark.ts";
export type { EspSaKeys, IkeSaKeys, WiresharkEspAlgorithms } from "./wireshark.ts";
