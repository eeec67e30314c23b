/**
 * The shape every diagnostic shares, so `status`, metrics and logs can show any of them the same
 * way: the ICV-truncation detector, the up-but-silent detector, and whatever comes next.
 * @module
 */

/** How bad it is: `error` when traffic is being lost, `warning` when it may be. */
export type DiagnosticSeverity = "warning" | "error";

/** One active diagnostic: a sentence a network engineer understands plus the counters behind it. */
export interface Diagnostic {
  /** Stable machine name, e.g. `up-but-silent`, `icv-truncation`. */
  kind: string;
  severity: DiagnosticSeverity;
  /** What is wrong, in plain words, with the numbers that show it. */
  message: string;
  /** What to change to fix it, when we know. */
  hint?: string;
  /** The SPI (host order) the diagnostic is about, when it is about one SA. */
  spi?: number;
  /** The dataplane handle of that SA. */
  sa?: number;
  /** When the condition was first seen (ms, the detector's clock). */
  since: number;
  /** The counters that support the message, by name. */
  evidence: Record<string, bigint | number | string>;
}

/**
 * What every diagnostic has, whichever detector raised it: {@link Diagnostic}, and the
 * ICV-truncation detector's own type (which has no severity; it counts as an error).
 */
export interface DiagnosticLike {
  kind: string;
  message: string;
  hint?: string;
  severity?: DiagnosticSeverity;
  spi?: number;
  /** Dataplane handle of the SA concerned. */
  sa?: number;
}
