/**
 * A progress line for long jobs on a terminal: `\r`-rewritten on stderr, at most every 250 ms,
 * only once the job has run for a second (short runs and pipes never see it), erased at the end.
 * @module
 */
import type { CliIo } from "./command.ts";

/** How long a job runs before its progress shows, and how often the line is rewritten. */
const SHOW_AFTER_MS = 1000;
const EVERY_MS = 250;

/** Counts frames and bytes and redraws one status line. */
export class ProgressLine {
  #frames = 0;
  #bytes = 0;
  #shown = false;
  #last = 0;
  readonly #start: number;
  readonly #write: (text: string) => void;
  readonly #total: number;
  readonly #now: () => number;

  /**
   * @param write where the line goes (a terminal)
   * @param total input size in bytes, for the percentage (0: unknown)
   * @param now clock in ms (tests pass their own)
   */
  constructor(write: (text: string) => void, total: number, now: () => number = () => performance.now()) {
    this.#write = write;
    this.#total = total;
    this.#now = now;
    this.#start = now();
  }

  /** A progress line on stderr when stderr is a terminal, else none. */
  static forStderr(io: CliIo, total: number): ProgressLine | undefined {
    return process.stderr.isTTY ? new ProgressLine(io.err, total) : undefined;
  }

  frames(n: number): void {
    this.#frames += n;
    this.#tick();
  }

  bytes(n: number): void {
    this.#bytes += n;
  }

  /** Erases the line, if it was shown. */
  done(): void {
    if (this.#shown) this.#write("\r\x1b[K");
    this.#shown = false;
  }

  #tick(): void {
    const t = this.#now();
    if (t - this.#start < SHOW_AFTER_MS || t - this.#last < EVERY_MS) return;
    this.#last = t;
    this.#shown = true;
    const pct =
      this.#total > 0
        ? ` ${Math.min(100, Math.floor((100 * this.#bytes) / this.#total))}% of ${(this.#total / 1e6).toFixed(0)} MB,`
        : "";
    this.#write(
      `\rpcap decrypt:${pct} ${this.#frames.toLocaleString("en")} frames, ${((t - this.#start) / 1000).toFixed(1)} s\x1b[K`,
    );
  }
}
