// SA lifetimes (RFC 4301 §4.4.2.1): soft and hard limits in packets and bytes, and the soft
// warning before an outbound sequence number runs out. Time limits belong to the SDK, which owns
// the clock; it marks them here with lifeMark.
//
// The hot path only compares each counter with one precomputed "next limit" (M_LIM_*), all
// u64 max when the SA has no limits. When a counter reaches one, lifetimeCross works out which
// limit it was, records the reason once in M_LIFE, sets F_EXPIRED for a hard limit (every later
// packet fails with lifetime-expired), queues the SA for the SDK's event and moves the next limits.
import {
  M_FLAGS, M_LIFE, M_LIM_PACKETS, M_LIM_BYTES, M_LIM_SEQ, M_LIFE_PTR, M_PACKETS, M_BYTES, M_SEQ, F_EXPIRED,
  F_INBOUND, F_ESN, LIFE_EVENT_CAP, R_BYTES, R_PACKETS, R_SEQUENCE, LE_COUNT, LE_OVERFLOWED, LE_SLOTS,
} from "../abi";
import {
  lifeEvents, slotOf,
} from "./layout";
import { blockAlloc } from "./blocks";

/** Bytes of the per-SA limits block: soft packets, soft bytes, hard packets, hard bytes. */
export const LIMITS_BYTES: i32 = 32;
const NONE: u64 = 0xffffffffffffffff;
/** Sequence numbers kept in reserve after the soft event: 2^20 packets for the rekey to finish. */
const SEQ_RESERVE: u64 = 1 << 20;

/** Sets the limits of a new SA: none for packets and bytes, the sequence warning for outbound. */
export function lifetimeInit(meta: usize): void {
  store<u64>(meta, NONE, M_LIM_PACKETS);
  store<u64>(meta, NONE, M_LIM_BYTES);
  const flags = load<u32>(meta, M_FLAGS);
  const last: u64 = (flags & F_ESN) != 0 ? NONE : 0xffffffff;
  store<u64>(meta, (flags & F_INBOUND) != 0 ? NONE : last - SEQ_RESERVE, M_LIM_SEQ);
}

/** Stores packet/byte limits (u64 max = none). Returns 0, or -5 when the limits block cannot be allocated. */
export function lifetimeSet(meta: usize, softPackets: u64, softBytes: u64, hardPackets: u64, hardBytes: u64): i32 {
  let lim = <usize>load<u32>(meta, M_LIFE_PTR);
  if (lim == 0) {
    lim = blockAlloc(LIMITS_BYTES);
    if (lim == 0) return -5;
    store<u32>(meta, <u32>lim, M_LIFE_PTR);
  }
  store<u64>(lim, softPackets, 0);
  store<u64>(lim, softBytes, 8);
  store<u64>(lim, hardPackets, 16);
  store<u64>(lim, hardBytes, 24);
  nextLimits(meta);
  // Limits at or below the counters already apply (an SA re-added with its old counters).
  lifetimeCross(meta);
  return 0;
}

/** The smallest packet and byte limits not yet reached. */
function nextLimits(meta: usize): void {
  const lim = <usize>load<u32>(meta, M_LIFE_PTR);
  const life = load<u32>(meta, M_LIFE);
  let p = NONE, b = NONE;
  if (lim != 0) {
    if ((life & 0xff) == 0) { p = load<u64>(lim, 0); b = load<u64>(lim, 8); }
    if ((life & 0xff00) == 0) { p = min(p, load<u64>(lim, 16)); b = min(b, load<u64>(lim, 24)); }
  }
  store<u64>(meta, p, M_LIM_PACKETS);
  store<u64>(meta, b, M_LIM_BYTES);
}

function queue(meta: usize): void {
  const n = load<u32>(lifeEvents, LE_COUNT);
  if (n < <u32>LIFE_EVENT_CAP) {
    store<u32>(lifeEvents + LE_SLOTS + (<usize>n << 2), <u32>slotOf(meta));
    store<u32>(lifeEvents, n + 1, LE_COUNT);
  } else {
    store<u32>(lifeEvents, 1, LE_OVERFLOWED); // the SDK then looks at every SA
  }
}

/**
 * Counts one sent packet (the hot path's only lifetime cost: three compares against the
 * precomputed M_LIM_* values) and takes the slow path when a limit was reached.
 */
// @ts-ignore: decorator
@inline export function countOutbound(meta: usize, len: i32, seq: u64): void {
  const packets = load<u64>(meta, M_PACKETS) + 1;
  const bytes = load<u64>(meta, M_BYTES) + <u64>len;
  store<u64>(meta, packets, M_PACKETS);
  store<u64>(meta, bytes, M_BYTES);
  if (packets >= load<u64>(meta, M_LIM_PACKETS) || bytes >= load<u64>(meta, M_LIM_BYTES) || seq >= load<u64>(meta, M_LIM_SEQ)) {
    lifetimeCross(meta);
  }
}

/** Slow path, run when a counter reached its M_LIM_* value. */
export function lifetimeCross(meta: usize): void {
  const life = load<u32>(meta, M_LIFE);
  let soft = life & 0xff;
  let hard = (life >>> 8) & 0xff;
  const packets = load<u64>(meta, M_PACKETS);
  const bytes = load<u64>(meta, M_BYTES);
  const lim = <usize>load<u32>(meta, M_LIFE_PTR);
  if (soft == 0) {
    if (lim != 0 && packets >= load<u64>(lim, 0)) soft = R_PACKETS;
    else if (lim != 0 && bytes >= load<u64>(lim, 8)) soft = R_BYTES;
    else if (load<u64>(meta, M_SEQ) >= load<u64>(meta, M_LIM_SEQ)) soft = R_SEQUENCE;
  }
  if (hard == 0 && lim != 0) {
    if (packets >= load<u64>(lim, 16)) hard = R_PACKETS;
    else if (bytes >= load<u64>(lim, 24)) hard = R_BYTES;
  }
  if (soft != 0) store<u64>(meta, NONE, M_LIM_SEQ); // one soft event per SA, whatever its reason
  const next = soft | (hard << 8);
  if (next == life) return;
  store<u32>(meta, next, M_LIFE);
  if (hard != 0) store<u32>(meta, load<u32>(meta, M_FLAGS) | F_EXPIRED, M_FLAGS);
  nextLimits(meta);
  queue(meta);
}

/** The outbound sequence number is exhausted: the hard "sequence" state, without F_EXPIRED (packets keep failing as seq-overflow). */
export function lifetimeSeqExhausted(meta: usize): void {
  const life = load<u32>(meta, M_LIFE);
  if ((life & 0xff00) != 0) return;
  store<u32>(meta, life | (R_SEQUENCE << 8), M_LIFE);
  queue(meta);
}

/** The SDK's clock reached a time limit: records it (hard sets F_EXPIRED). Returns 1 when the state changed. */
export function lifeMark(meta: usize, hard: bool, reason: u32): i32 {
  const life = load<u32>(meta, M_LIFE);
  const shift: u32 = hard ? 8 : 0;
  if (((life >>> shift) & 0xff) != 0) return 0;
  store<u32>(meta, life | ((reason & 0xff) << shift), M_LIFE);
  if (hard) store<u32>(meta, load<u32>(meta, M_FLAGS) | F_EXPIRED, M_FLAGS);
  else store<u64>(meta, NONE, M_LIM_SEQ);
  nextLimits(meta);
  return 1;
}
