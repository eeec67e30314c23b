// Byte-level mutators shared by the ESP and IKE fuzzers. Every mutator returns a new array and
// never the input itself; it may by chance return equal bytes, which the callers account for.
import type { Prng } from "./prng.ts";

/** Names of the generic mutations, for the per-operation counts a run prints. */
export const BYTE_MUTATIONS = [
  "flip-bit",
  "flip-bits",
  "set-byte",
  "truncate",
  "extend",
  "delete-chunk",
  "insert-chunk",
  "duplicate-chunk",
  "zero-chunk",
  "ff-chunk",
  "flip-last",
  "flip-first",
  "splice",
] as const;
/** One generic mutation. */
export type ByteMutation = (typeof BYTE_MUTATIONS)[number];

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/**
 * Applies one generic mutation to `src`. `other` is a second input for splicing (another valid
 * message or packet); `maxGrow` bounds how much longer the result may be.
 */
export function mutateBytes(
  rng: Prng,
  src: Uint8Array,
  op: ByteMutation,
  other: Uint8Array = src,
  maxGrow = 64,
): Uint8Array {
  const n = src.length;
  const at = (): number => rng.int(Math.max(n, 1));
  const span = (): [number, number] => {
    const a = at();
    return [a, Math.min(n, a + 1 + rng.int(Math.min(32, Math.max(n, 1))))];
  };
  switch (op) {
    case "flip-bit": {
      const o = src.slice();
      if (n) o[at()]! ^= 1 << rng.int(8);
      return o;
    }
    case "flip-bits": {
      const o = src.slice();
      for (let k = rng.range(2, 8); k > 0 && n; k--) o[at()]! ^= 1 << rng.int(8);
      return o;
    }
    case "set-byte": {
      const o = src.slice();
      if (n) o[at()] = rng.pick([0, 1, 0x7f, 0x80, 0xfe, 0xff, rng.int(256)]);
      return o;
    }
    case "truncate":
      return src.slice(0, rng.int(n));
    case "extend":
      return concat(src, rng.bytes(rng.range(1, maxGrow)));
    case "delete-chunk": {
      const [a, b] = span();
      return concat(src.subarray(0, a), src.subarray(b));
    }
    case "insert-chunk": {
      const a = at();
      return concat(src.subarray(0, a), rng.bytes(rng.range(1, maxGrow)), src.subarray(a));
    }
    case "duplicate-chunk": {
      const [a, b] = span();
      return concat(src.subarray(0, b), src.subarray(a, Math.min(b, a + maxGrow)), src.subarray(b));
    }
    case "zero-chunk": {
      const o = src.slice();
      const [a, b] = span();
      o.fill(0, a, b);
      return o;
    }
    case "ff-chunk": {
      const o = src.slice();
      const [a, b] = span();
      o.fill(0xff, a, b);
      return o;
    }
    case "flip-last": {
      const o = src.slice();
      if (n) o[n - 1]! ^= 1 << rng.int(8);
      return o;
    }
    case "flip-first": {
      const o = src.slice();
      if (n) o[0]! ^= 1 << rng.int(8);
      return o;
    }
    case "splice": {
      const a = rng.int(n + 1);
      const b = rng.int(other.length + 1);
      return concat(src.subarray(0, a), other.subarray(b));
    }
  }
}

/** Big-endian u32 at offset o (the caller checks the length). */
export const readBe32 = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** Writes a big-endian u32 at offset o into a copy of b. */
export function withBe32(b: Uint8Array, o: number, v: number): Uint8Array {
  const c = b.slice();
  c[o] = v >>> 24;
  c[o + 1] = v >>> 16;
  c[o + 2] = v >>> 8;
  c[o + 3] = v;
  return c;
}

/** Byte equality. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
