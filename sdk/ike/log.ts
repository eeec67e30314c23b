/**
 * Log lines in charon's shape, so a strongSwan user reads ours like theirs:
 * `[IKE] <peer|1> sending packet: from 198.18.0.1[500] to 198.18.0.2[500] (478 bytes)`.
 * @module
 */

/** Subsystems, as strongSwan names them. */
export type Subsystem = "IKE" | "CFG" | "ENC" | "NET" | "CHD" | "ESP" | "DMN";

/** One log record. Level 0 = always shown ("-1" in strongSwan terms), 1 = basic, 2 = detail. */
export interface LogRecord {
  subsystem: Subsystem;
  level: 0 | 1 | 2;
  /** IKE SA connection name and unique id, when the line belongs to one. */
  ike?: { name: string; id: number };
  message: string;
  time: number;
  /**
   * Set on lines caused by one received datagram (drops, unknown SAs, bad ICVs): lines with the
   * same key are rate limited by {@link rateLimited}, so a flood cannot flood the log too.
   */
  rateKey?: string;
}

/** Where log records go. */
export type LogSink = (r: LogRecord) => void;

/**
 * A message as IKE code hands it to its logger: the text, or a function that makes it, called only
 * when the line's level is wanted (see {@link logText}), so lines a sink would drop cost no
 * formatting.
 */
export type LogText = string | (() => string);

/** The text of a {@link LogText}. */
export function logText(m: LogText): string {
  return typeof m === "string" ? m : m();
}

/** Formats a record the way charon writes its log. */
export function formatLog(r: LogRecord): string {
  const who = r.ike ? `<${r.ike.name}|${r.ike.id}> ` : "";
  return `[${r.subsystem}] ${who}${r.message}`;
}

/** A sink that prints to the console up to `maxLevel`. */
// eslint-disable-next-line no-console -- the console sink: printing is what it is for
export function consoleSink(maxLevel = 1, write: (line: string) => void = (l) => console.log(l)): LogSink {
  return (r) => {
    if (r.level <= maxLevel) write(formatLog(r));
  };
}

/** Lines per key and interval that pass {@link rateLimited}; the rest are counted. */
export const RATE_LIMIT_LINES = 10;
export const RATE_LIMIT_INTERVAL_MS = 1000;

/**
 * Rate limits per-datagram lines (those with a {@link LogRecord.rateKey}) the way the kernel's
 * net_ratelimit does: at most {@link RATE_LIMIT_LINES} per key in each interval; the first line of
 * a key after a suppressing interval is preceded by one line saying how many were suppressed.
 */
export function rateLimited(
  sink: LogSink,
  now: () => number,
  lines = RATE_LIMIT_LINES,
  intervalMs = RATE_LIMIT_INTERVAL_MS,
): LogSink {
  const keys = new Map<string, { start: number; passed: number; suppressed: number }>();
  return (r) => {
    if (r.rateKey === undefined) {
      sink(r);
      return;
    }
    const t = now();
    let k = keys.get(r.rateKey);
    if (!k || t - k.start >= intervalMs) {
      if (k && k.suppressed > 0) {
        sink({
          subsystem: r.subsystem,
          level: r.level,
          ike: r.ike,
          time: t,
          message: `${k.suppressed} similar messages suppressed (${r.rateKey}, more than ${lines} in ${intervalMs / 1000} s)`,
        });
      }
      if (keys.size > 1000) keys.clear(); // keys are a fixed set of message kinds; bound it anyway
      k = { start: t, passed: 0, suppressed: 0 };
      keys.set(r.rateKey, k);
    }
    if (k.passed < lines) {
      k.passed++;
      sink(r);
    } else k.suppressed++;
  };
}
