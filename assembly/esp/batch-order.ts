// The order in which a batch's packets are processed: packets of one SA next to each other, in
// arrival order within each SA. The output stays where it was (descriptor i is packet i); only the
// work moves. What it buys when a batch interleaves a few SAs:
// - the one-key caches of expanded keys (bitsliced AES round keys, aes.ts; GHASH powers, ghash.ts)
//   expand once per SA and batch instead of at every change of SA (about 50 + 45 ns each);
// - CBC encryption fills its 8 lanes (cbc-lanes.ts groups consecutive packets of one SA);
// - native AES runs (native-ks.ts, consecutive packets of one SA) get fewer and longer.
// Arrival order within an SA is what sequence numbers, the replay window and ESN inference depend
// on, and it is kept; SAs are independent of each other, so their relative order does not matter.
// Only up to MAX_GROUPS distinct keys are grouped: a batch spread over more SAs than that (a
// gateway with many peers) is processed in arrival order, after a scan that stops at the first
// key too many. Keys are SA slots (public), -1 for packets without one.

const MAX_GROUPS: i32 = 8;
/** Per descriptor: its grouping key (set by the caller before batchOrder). */
let keys: usize = 0;
/** Processing order: descriptor indices. */
let order: usize = 0;
const groupKeys = memory.data(MAX_GROUPS * 4, 16);
const groupAt = memory.data(MAX_GROUPS * 4, 16);
/** Whether `order` is in use for the current batch (false: arrival order). */
let grouped: bool = false;

export function batchOrderInit(nBatch: i32): void {
  keys = heap.alloc(<usize>nBatch << 2);
  order = heap.alloc(<usize>nBatch << 2);
}

// @ts-ignore: decorator
@inline export function setBatchKey(i: i32, key: i32): void {
  store<i32>(keys + (<usize>i << 2), key);
}

// @ts-ignore: decorator
@inline export function batchKey(i: i32): i32 {
  return load<i32>(keys + (<usize>i << 2));
}

/** Descriptor index of the k-th packet to process. */
// @ts-ignore: decorator
@inline export function batchAt(k: i32): i32 {
  return grouped ? load<i32>(order + (<usize>k << 2)) : k;
}

/** Computes the processing order of descriptors 0..n-1 from their keys (setBatchKey). */
export function batchOrder(n: i32): void {
  grouped = false;
  let groups = 0;
  let changes = 0;
  let last = 0;
  for (let i = 0; i < n; i++) {
    const key = batchKey(i);
    if (i > 0 && key != last) changes++;
    last = key;
    let g = 0;
    while (g < groups && load<i32>(groupKeys + (<usize>g << 2)) != key) g++;
    if (g == groups) {
      if (groups == MAX_GROUPS) return; // too many SAs: arrival order
      store<i32>(groupKeys + (<usize>g << 2), key);
      store<i32>(groupAt + (<usize>g << 2), 0);
      groups++;
    }
    store<i32>(groupAt + (<usize>g << 2), load<i32>(groupAt + (<usize>g << 2)) + 1);
  }
  // Already one run per SA (one SA, or SAs one after another): arrival order is grouped.
  if (changes < groups) return;
  // Counts -> start positions, then a stable placement.
  let at = 0;
  for (let g = 0; g < groups; g++) {
    const c = load<i32>(groupAt + (<usize>g << 2));
    store<i32>(groupAt + (<usize>g << 2), at);
    at += c;
  }
  for (let i = 0; i < n; i++) {
    const key = batchKey(i);
    let g = 0;
    while (load<i32>(groupKeys + (<usize>g << 2)) != key) g++;
    const pos = load<i32>(groupAt + (<usize>g << 2));
    store<i32>(order + (<usize>pos << 2), i);
    store<i32>(groupAt + (<usize>g << 2), pos + 1);
  }
  grouped = true;
}
