// SPI -> SA slot index for inbound SAs: open addressing with linear probing and
// backward-shift deletion (no tombstones), so lookups stay O(1) expected under any
// amount of add/delete churn. Capacity is a power of two >= 2 * maxSas (load <= 0.5).
// Entry: u64 = spi << 32 | (slot + 1); 0 is empty.

let table: usize = 0;
let mask: u32 = 0;
let seed: u32 = 0;

export function spiTableInit(ptr: usize, capacity: u32, hashSeed: u32): void {
  table = ptr; mask = capacity - 1; seed = hashSeed;
  memory.fill(ptr, 0, <usize>capacity << 3);
}

export function spiTableBytes(maxSas: i32): u32 {
  let cap: u32 = 16;
  while (cap < <u32>maxSas * 2) cap <<= 1;
  return cap << 3;
}

// @ts-ignore: decorator
@inline function home(spi: u32): u32 {
  // murmur3 fmix32 with a per-instance seed: SPIs from files or peers may be sequential.
  let h = spi ^ seed;
  h ^= h >>> 16; h *= 0x85ebca6b; h ^= h >>> 13; h *= 0xc2b2ae35; h ^= h >>> 16;
  return h & mask;
}

/** Slot of the SA with this SPI, or -1. */
export function spiLookup(spi: u32): i32 {
  let i = home(spi);
  while (true) {
    const e = load<u64>(table + (<usize>i << 3));
    if (e == 0) return -1;
    if (<u32>(e >>> 32) == spi) return <i32>(<u32>e) - 1;
    i = (i + 1) & mask;
  }
}

/** Inserts; returns false when the SPI is already present. */
export function spiInsert(spi: u32, slot: i32): bool {
  let i = home(spi);
  while (true) {
    const p = table + (<usize>i << 3);
    const e = load<u64>(p);
    if (e == 0) { store<u64>(p, (<u64>spi << 32) | <u64>(slot + 1)); return true; }
    if (<u32>(e >>> 32) == spi) return false;
    i = (i + 1) & mask;
  }
}

/** Removes the SPI, shifting later entries of the probe run back into the hole. */
export function spiRemove(spi: u32): bool {
  let i = home(spi);
  while (true) {
    const e = load<u64>(table + (<usize>i << 3));
    if (e == 0) return false;
    if (<u32>(e >>> 32) == spi) break;
    i = (i + 1) & mask;
  }
  let hole = i;
  let j = (i + 1) & mask;
  while (true) {
    const e = load<u64>(table + (<usize>j << 3));
    if (e == 0) break;
    const h = home(<u32>(e >>> 32));
    // Move e into the hole if its home is not cyclically within (hole, j].
    if (((j - h) & mask) >= ((j - hole) & mask)) {
      store<u64>(table + (<usize>hole << 3), e);
      hole = j;
    }
    j = (j + 1) & mask;
  }
  store<u64>(table + (<usize>hole << 3), 0);
  return true;
}
