/**
 * Checked reads from byte buffers. Indexing past a Uint8Array's end yields `undefined`, which bit
 * operators turn into 0 and arithmetic into NaN without a word; these read the byte or throw.
 * Parsers call them after their own length checks, so the throw marks a parser bug, not bad input.
 * @module
 */

/** The byte at `offset`; a RangeError when `offset` is outside `b`. */
export function byteAt(b: Uint8Array, offset: number): number {
  const v = b[offset];
  if (v === undefined) throw new RangeError(`byte offset ${offset} outside a ${b.length}-byte buffer`);
  return v;
}
