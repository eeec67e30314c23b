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
}

/** Where log records go. */
export type LogSink = (r: LogRecord) => void;

/** Formats a record the way charon writes its log. */
export function formatLog(r: LogRecord): string {
  const who = r.ike ? `<${r.ike.name}|${r.ike.id}> ` : "";
  return `[${r.subsystem}] ${who}${r.message}`;
}

/** A sink that prints to the console up to `maxLevel`. */
// eslint-disable-next-line no-console -- the console sink: printing is what it is for
export function consoleSink(maxLevel = 1, write: (line: string) => void = (l) => console.log(l)): LogSink {
  return (r) => { if (r.level <= maxLevel) write(formatLog(r)); };
}
