// byteAt: the checked read the parsers use instead of plain indexing (which yields undefined, and
// `undefined << 8` is a silent 0).
import { test } from "node:test";
import assert from "node:assert/strict";
import { byteAt } from "../../sdk/packet/bytes.ts";

test("byteAt returns every byte inside the buffer, also through a subarray's offset", () => {
  const whole = Uint8Array.of(0x00, 0x7f, 0x80, 0xff, 0x12);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => byteAt(whole, i)),
    [0x00, 0x7f, 0x80, 0xff, 0x12],
  );
  const view = whole.subarray(2, 4);
  assert.deepEqual([byteAt(view, 0), byteAt(view, 1)], [0x80, 0xff]);
});

test("byteAt throws a RangeError naming offset and length where indexing would give undefined", () => {
  const b = Uint8Array.of(1, 2, 3);
  for (const offset of [3, 4, -1, 1.5, Number.NaN]) {
    assert.equal(b[offset], undefined, `plain indexing at ${offset}`);
    assert.throws(
      () => byteAt(b, offset),
      (e: unknown) => e instanceof RangeError && e.message === `byte offset ${offset} outside a 3-byte buffer`,
    );
  }
  // a subarray ends where it ends, even though its buffer goes on
  assert.throws(() => byteAt(Uint8Array.of(1, 2, 3, 4).subarray(0, 2), 2), RangeError);
  assert.throws(() => byteAt(new Uint8Array(0), 0), RangeError);
});
