// Linear-memory layout of the dataplane. Everything is allocated once by `init` (or per SA by
// the key allocator); the hot path never allocates.
import { STATUS_SLOTS, SA_META_BYTES, M_DROPS } from "../abi";

// The numbers the SDK shares (offsets inside an SA slot and a batch descriptor, flags, kinds,
// head- and tailroom) are in ../abi.ts; this file holds the regions and their accessors.

// ---- Regions, set by init -----------------------------------------------------------------------
export let maxSas: i32 = 0;
export let metaBase: usize = 0;
export let freeSlots: usize = 0;      // i32 stack of free slot numbers
export let freeTop: i32 = 0;
export let batchMax: i32 = 0;
export let slotBytes: i32 = 0;
export let arenaBase: usize = 0;
export let descBase: usize = 0;
export let ivPool: usize = 0;         // batchMax * 16 random bytes, refilled by the SDK before encap
export let keyStage: usize = 0;       // 256 bytes where the SDK stages key bytes for sa_add
export let scratch: usize = 0;        // 256 bytes for nonces, AADs, computed ICVs
export let globalCounters: usize = 0; // u64[STATUS_SLOTS]
export let lifeEvents: usize = 0;     // [count u32, overflowed u32, slot u32 * LIFE_EVENT_CAP]

export function setRegions(
  nSas: i32, meta: usize, free: usize, nBatch: i32, slot: i32, arena: usize, desc: usize,
  iv: usize, stage: usize, scr: usize, glob: usize, events: usize,
): void {
  maxSas = nSas; metaBase = meta; freeSlots = free; batchMax = nBatch; slotBytes = slot;
  arenaBase = arena; descBase = desc; ivPool = iv; keyStage = stage; scratch = scr; globalCounters = glob;
  lifeEvents = events;
}
export function setFreeTop(v: i32): void { freeTop = v; }

// @ts-ignore: decorator
@inline export function metaOf(slot: i32): usize {
  return metaBase + <usize>slot * <usize>SA_META_BYTES;
}

// @ts-ignore: decorator
@inline export function countDrop(meta: usize, status: u32): void {
  const p = meta + M_DROPS + (<usize>status << 3);
  store<u64>(p, load<u64>(p) + 1);
}

// @ts-ignore: decorator
@inline export function countGlobal(status: u32): void {
  const p = globalCounters + (<usize>status << 3);
  store<u64>(p, load<u64>(p) + 1);
}

/** Bytes of an outbound tunnel-mode AH SA's outer header template block (esp/ah.ts): [IP version u32, pad][header 40 bytes]. */
export const AH_OUTER_BYTES: i32 = 48;

export const GLOBAL_COUNTER_BYTES: i32 = STATUS_SLOTS * 8;

// @ts-ignore: decorator
@inline export function slotOf(meta: usize): i32 {
  return <i32>((meta - metaBase) / <usize>SA_META_BYTES);
}

