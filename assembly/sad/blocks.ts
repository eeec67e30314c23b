// Per-SA memory blocks (key material, replay bitmaps, lifetime limits) with free lists by exact
// size. SA churn reuses blocks of the sizes suites actually use, so a million add/delete cycles
// do not grow memory. Blocks are 16-byte aligned (v128 loads of round keys); blocks of 64 bytes
// or more start on a cache line, so a 64-byte HMAC context (two SHA-256 states) is one line.

const MAX_CLASSES: i32 = 32;
// [size u32, head u32] per class; a free block stores the next pointer in its first 4 bytes.
const classes = memory.data(MAX_CLASSES * 8, 16);
let classCount: i32 = 0;

function classOf(size: u32): usize {
  for (let i = 0; i < classCount; i++) {
    const c = classes + (<usize>i << 3);
    if (load<u32>(c) == size) return c;
  }
  if (classCount == MAX_CLASSES) return 0;
  const c = classes + (<usize>classCount << 3);
  store<u32>(c, size);
  store<u32>(c, 0, 4);
  classCount++;
  return c;
}

/** Returns a zeroed block of at least `size` bytes, or 0 when memory cannot grow. */
export function blockAlloc(size: i32): usize {
  const rounded = <u32>((size + 15) & ~15);
  const c = classOf(rounded);
  if (c != 0) {
    const head = <usize>load<u32>(c, 4);
    if (head != 0) {
      store<u32>(c, load<u32>(head), 4);
      memory.fill(head, 0, rounded);
      return head;
    }
  }
  const p = carve(<usize>rounded);
  memory.fill(p, 0, rounded);
  return p;
}

// New blocks are cut from 64 KiB chunks (no allocator header per block): blocks of 64 bytes or
// more on a 64-byte boundary, smaller ones on 16. The tail of a chunk too short for a block is left.
const CHUNK: usize = 65536;
let chunkNext: usize = 0;
let chunkEnd: usize = 0;
/** Bytes of all chunks taken so far: what per-SA blocks cost in memory (free blocks included). */
export let chunkBytes: usize = 0;

function carve(size: usize): usize {
  const mask: usize = size >= 64 ? 63 : 15;
  let p = (chunkNext + mask) & ~mask;
  if (p + size > chunkEnd) {
    const bytes = size + 64 > CHUNK ? size + 64 : CHUNK;
    const raw = heap.alloc(bytes);
    chunkBytes += bytes;
    chunkEnd = raw + bytes;
    p = (raw + mask) & ~mask;
  }
  chunkNext = p + size;
  return p;
}

/** Zeroes the block (it may hold keys) and puts it on its size's free list. */
export function blockFree(p: usize, size: i32): void {
  const rounded = <u32>((size + 15) & ~15);
  memory.fill(p, 0, rounded);
  const c = classOf(rounded);
  if (c == 0) return; // more distinct sizes than classes: leak rather than misuse
  store<u32>(p, load<u32>(c, 4));
  store<u32>(c, <u32>p, 4);
}
