// Timing primitives: fixed time slices measured with process.hrtime.bigint, medians of repetitions.

/** Processes some packets and returns how many (1 for a per-packet baseline, N for a batch). */
export type Step = () => number;

/**
 * What a packet rate is divided by. `wall`: elapsed time (what a user sees on an idle machine).
 * `cpu`: this process's user+system CPU time (process.cpuUsage), which stays meaningful when other
 * processes compete for the cores; it includes V8's helper threads (e.g. concurrent GC), so it
 * charges allocation-heavy code for all the CPU it uses.
 */
export type Clock = "wall" | "cpu";
let clock: Clock = "wall";
export function setClock(c: Clock): void {
  clock = c;
}
export function getClock(): Clock {
  return clock;
}

/** Runs `step` for `ms` milliseconds of wall time; returns packets per second of the chosen clock. */
export function packetsPerSecond(step: Step, ms: number): number {
  const budget = BigInt(Math.round(ms * 1e6));
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let packets = 0;
  let elapsed: bigint;
  do {
    packets += step();
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  if (clock === "wall") return (packets * 1e9) / Number(elapsed);
  const used = process.cpuUsage(cpu0);
  return (packets * 1e6) / Math.max(1, used.user + used.system);
}

/** Median of the samples (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Gbit/s of inner (cleartext) bytes, the number a user compares with a link speed. */
export function gbps(pps: number, innerBytes: number): number {
  return (pps * innerBytes * 8) / 1e9;
}

/** One progress line on stderr, overwritten in place; `done()` clears it. */
export class Progress {
  private last = 0;
  constructor(
    private readonly total: number,
    private readonly enabled = process.stderr.isTTY ?? false,
  ) {}
  show(index: number, text: string): void {
    const line = `[${String(index).padStart(String(this.total).length)}/${this.total}] ${text}`;
    if (this.enabled) {
      process.stderr.write(`\r${line.padEnd(this.last)}`);
      this.last = line.length;
    } else if (index === 1 || index % 10 === 0 || index === this.total) {
      process.stderr.write(`${line}\n`); // not a terminal (CI log): an occasional plain line
    }
  }
  /** A free-form progress line (phases without a known count). */
  note(text: string): void {
    if (!this.enabled) return;
    process.stderr.write(`\r${text.padEnd(this.last)}`);
    this.last = text.length;
  }
  done(): void {
    if (this.enabled && this.last) process.stderr.write(`\r${" ".repeat(this.last)}\r`);
    this.last = 0;
  }
}
