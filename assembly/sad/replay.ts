// Anti-replay window, RFC 6479 style: a ring of 64-bit blocks; advancing the window clears
// whole blocks instead of shifting a big bitmap. Extended Sequence Numbers are inferred per
// RFC 4303 Appendix A. The window moves only in replayAccept, which the decap path calls after
// the ICV verified and the trailer checked out.

/** Bitmap blocks for a window: a power of two >= ceil(window/64) + 1 (the extra block absorbs advance). */
export function replayBlocks(window: u32): u32 {
  let n: u32 = 2;
  while (n < ((window + 63) >>> 6) + 1) n <<= 1;
  return n;
}

/**
 * Full 64-bit sequence number for the 32 bits on the wire (RFC 4303 A.2). Without ESN it is the
 * wire value. Returns 0 (never a valid number) when the packet lies before the start of the space.
 */
export function inferSeq(meta: usize, wireSeq: u32): u64 {
  if ((load<u32>(meta, M_FLAGS) & F_ESN) == 0) return <u64>wireSeq;
  const top = load<u64>(meta, M_SEQ);
  const tl = <u32>top;
  const th = <u32>(top >>> 32);
  let w = load<u32>(meta, M_WINDOW);
  if (w < 32) w = 32; // inference needs a window even when replay checks are off
  const bottom = tl - w + 1; // mod 2^32
  let hi: u32;
  if (tl >= w - 1) {
    hi = wireSeq >= bottom ? th : th + 1;
  } else {
    if (wireSeq >= bottom) {
      if (th == 0) return 0;
      hi = th - 1;
    } else {
      hi = th;
    }
  }
  return (<u64>hi << 32) | <u64>wireSeq;
}

/** True when seq may be processed: new, or inside the window and not seen. Changes nothing. */
export function replayCheck(meta: usize, seq: u64): bool {
  if (seq == 0) return false; // sequence numbers start at 1 (RFC 4303 §3.3.3)
  const w = load<u32>(meta, M_WINDOW);
  const top = load<u64>(meta, M_SEQ);
  if (seq > top || w == 0) return true;
  if (top - seq >= <u64>w) return false;
  const n = load<u32>(meta, M_BITMAP_BLOCKS);
  const block = load<u64>(<usize>load<u32>(meta, M_BITMAP) + (<usize>(<u32>(seq >>> 6) & (n - 1)) << 3));
  return ((block >>> (seq & 63)) & 1) == 0;
}

/** Marks seq as received and advances the window (call only for authenticated packets). */
export function replayAccept(meta: usize, seq: u64): void {
  const top = load<u64>(meta, M_SEQ);
  const w = load<u32>(meta, M_WINDOW);
  if (w == 0) {
    if (seq > top) store<u64>(meta, seq, M_SEQ);
    return;
  }
  const n = load<u32>(meta, M_BITMAP_BLOCKS);
  const bitmap = <usize>load<u32>(meta, M_BITMAP);
  if (seq > top) {
    const oldIdx = top >>> 6;
    let diff = (seq >>> 6) - oldIdx;
    if (diff > <u64>n) diff = <u64>n;
    for (let i: u64 = 1; i <= diff; i++) {
      store<u64>(bitmap + (<usize>(<u32>(oldIdx + i) & (n - 1)) << 3), 0);
    }
    store<u64>(meta, seq, M_SEQ);
  }
  const p = bitmap + (<usize>(<u32>(seq >>> 6) & (n - 1)) << 3);
  store<u64>(p, load<u64>(p) | (<u64>1 << (seq & 63)));
}import { M_SEQ, M_WINDOW, M_BITMAP, M_BITMAP_BLOCKS, M_FLAGS, F_ESN } from "../abi";

