// Timing primitives: fixed time slices measured with process.hrtime.bigint, medians of repetitions.

/** Processes some packets and returns how many (1 for a per-packet baseline, N for a batch). */
export type Step = () => number;

/** Runs `step` until `ms` milliseconds have passed; returns packets per second. */
export function packetsPerSecond(step: Step, ms: number): number {
  const budget = BigInt(Math.round(ms * 1e6));
  const start = process.hrtime.bigint();
  let packets = 0;
  let elapsed = 0n;
  do {
    packets += step();
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  return (packets * 1e9) / Number(elapsed);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Gbit/s of inner (cleartext) bytes, the number a user compares with a link speed. */
export function gbps(pps: number, innerBytes: number): number {
  return (pps * innerBytes * 8) / 1e9;
}

/** One progress line on stderr, overwritten in place; `done()` clears it. */
export class Progress {
  private last = 0;
  constructor(private readonly total: number, private readonly enabled = process.stderr.isTTY ?? false) {}
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
