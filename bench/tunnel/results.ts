// The shape of bench/tunnel/results.json (written by run.ts, read by report.ts).
import type { Measurement, Mode } from "./iperf.ts";

export interface PathResult {
  id: string;
  label: string;
  note: string;
  /** Set when the path could not run here: the reason, printed in its row instead of numbers. */
  unavailable?: string;
  /** Setup failures (one per repetition that could not bring the path up). */
  errors: string[];
  runs: Measurement[];
  measuredAt: string;
  commit: string;
}

export interface TunnelResults {
  machine: {
    cpu: string;
    cores: number;
    kernel: string;
    node: string;
    tools: Record<string, string>;
  };
  settings: { seconds: number; reps: number; modes: Mode[]; waitLoad: number };
  startedAt: string;
  finishedAt: string;
  commit: string;
  /** load1 when the run started and ended. */
  load: { before: number; after: number };
  paths: PathResult[];
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
