// A deliberately plain model of the RFC 4303 §3.4.3 anti-replay window (a set of accepted
// sequence numbers and the highest one) and of RFC 4303 Appendix A.2 ESN inference, written from
// the RFC and not from assembly/sad/replay.ts, so the fuzzer can compare the dataplane against it.

const TWO32 = 2 ** 32;

/** The receiver state of one inbound SA as the RFC describes it. */
export class ReplayModel {
  /** Highest authenticated sequence number (64-bit value with ESN; < 2^53 in every run). */
  top: number;
  /** Accepted sequence numbers, pruned to the window when it moves. */
  readonly #seen = new Set<number>();

  /** window: the SA's replay window (0 = replay checks off); esn: Extended Sequence Numbers. */
  constructor(
    readonly window: number,
    readonly esn: boolean,
    start = 0,
  ) {
    this.top = start;
  }

  /**
   * The full sequence number the receiver assumes for the 32 bits on the wire (Appendix A.2, with
   * a window of at least 32 for the inference when replay checks are off); 0 means "before the start".
   */
  infer(wire: number): number {
    if (!this.esn) return wire;
    const w = Math.max(this.window, 32);
    const tl = this.top % TWO32;
    const th = Math.floor(this.top / TWO32);
    const bottom = (tl - w + 1 + TWO32) % TWO32;
    let hi: number;
    if (tl >= w - 1) hi = wire >= bottom ? th : th + 1;
    else if (wire >= bottom) {
      if (th === 0) return 0;
      hi = th - 1;
    } else hi = th;
    return hi * TWO32 + wire;
  }

  /** RFC 4303 §3.4.3: may this sequence number be processed (new, or in the window and unseen)? */
  check(seq: number): boolean {
    if (seq === 0) return false;
    if (seq > this.top || this.window === 0) return true;
    if (this.top - seq >= this.window) return false;
    return !this.#seen.has(seq);
  }

  /** Records an authenticated packet: marks it and slides the window. */
  accept(seq: number): void {
    if (seq > this.top) this.top = seq;
    if (this.window === 0) return;
    this.#seen.add(seq);
    if (this.#seen.size > 2 * this.window) {
      for (const s of this.#seen) if (this.top - s >= this.window) this.#seen.delete(s);
    }
  }

  /** Whether seq is marked as received (only meaningful inside the window). */
  seen(seq: number): boolean {
    return this.#seen.has(seq);
  }
}

/**
 * Differences between the dataplane's window (`Dataplane.replayState`: top, window, the ring of
 * 64-bit little-endian blocks indexed by seq / 64) and the model; empty when they agree.
 */
export function compareWindow(
  model: ReplayModel,
  state: { top: bigint; window: number; bitmap: Uint8Array },
): string[] {
  const out: string[] = [];
  if (state.top !== BigInt(model.top)) out.push(`top ${state.top} != model ${model.top}`);
  if (state.window !== model.window) out.push(`window ${state.window} != model ${model.window}`);
  if (model.window === 0 || out.length) return out;
  const blocks = state.bitmap.length / 8;
  for (let s = Math.max(1, model.top - model.window + 1); s <= model.top; s++) {
    const block = Math.floor(s / 64) % blocks;
    const bit = s % 64;
    const set = ((state.bitmap[block * 8 + (bit >> 3)]! >> (bit & 7)) & 1) === 1;
    if (set !== model.seen(s)) {
      out.push(`seq ${s}: bitmap ${set ? "set" : "clear"}, model ${model.seen(s) ? "set" : "clear"}`);
      if (out.length > 4) break;
    }
  }
  return out;
}
