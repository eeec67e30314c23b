// The IKE daemon's block RNG (sdk/ike/random.ts): pieces of the right length, one fill per block,
// every handed-out byte zeroed in the block, requests larger than a block drawn directly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { blockRandom } from "../../sdk/ike/random.ts";

test("blockRandom: pieces come from one fill per block, and the block keeps no copy of a piece", () => {
  const blocks: Uint8Array[] = [];
  let counter = 1;
  const random = blockRandom((b) => {
    blocks.push(b);
    for (let i = 0; i < b.length; i++) b[i] = counter++ & 0xff || 1; // never 0: a zero in the block means "handed out"
  }, 64);
  const a = random(32);
  const b = random(8);
  assert.equal(blocks.length, 1);
  assert.equal(a.length, 32);
  assert.equal(b.length, 8);
  assert.deepEqual([...a.subarray(0, 3)], [1, 2, 3]);
  assert.deepEqual([...b.subarray(0, 2)], [33, 34]);
  const block = blocks[0]!;
  assert.ok(
    block.subarray(0, 40).every((x) => x === 0),
    "handed-out bytes are zeroed",
  );
  assert.ok(
    block.subarray(40).every((x) => x !== 0),
    "the rest is still there",
  );
  const c = random(32); // 24 left: a new fill
  assert.equal(blocks.length, 2);
  assert.equal(c.length, 32);
  const big = random(100); // larger than a block: filled directly
  assert.equal(big.length, 100);
  assert.equal(blocks.length, 3);
  assert.notEqual(blocks[2], block);
});

test("blockRandom over getRandomValues: distinct values", () => {
  const random = blockRandom();
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) seen.add(Buffer.from(random(16)).toString("hex"));
  assert.equal(seen.size, 200);
});
