// Constant-time helpers shared by every primitive.
// Constant time: the loop runs over the full length whatever the data, and the
// result is folded with OR/XOR, never compared early; the final mapping to 0/1 is
// arithmetic (no branch on the accumulated difference).

/** Returns 1 when the `len` bytes at `a` and `b` are equal, 0 otherwise, in time that depends only on `len`. */
export function ctEqual(a: usize, b: usize, len: i32): i32 {
  let acc: u32 = 0;
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    const x = load<u64>(a + i) ^ load<u64>(b + i);
    acc |= <u32>(x | (x >>> 32));
  }
  for (; i < len; i++) acc |= <u32>(load<u8>(a + i) ^ load<u8>(b + i));
  // acc == 0  ->  1 ; acc != 0  ->  0, without a branch.
  return <i32>(((acc | (0 - acc)) >>> 31) ^ 1);
}

/** Zeroes `len` bytes at `p` (keys, decrypted bytes of rejected packets). */
export function wipe(p: usize, len: i32): void {
  memory.fill(p, 0, <usize>len);
}
