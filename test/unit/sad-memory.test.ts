// Memory per SA (README, "Memory per SA"): the slot holds small keys and windows, other suites add a
// key block of compact keys (AES round keys, HMAC states, GHASH powers) whose fast forms live in
// shared caches. Dataplane.stateBytes counts the reserved SA state plus the chunks blocks came from.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/index.ts";
import { parseSuite } from "../../sdk/dataplane/suites.ts";

const N = 2000;

async function filled(suite: string, replayWindow = 64): Promise<{ reserved: number; full: number }> {
  const s = parseSuite(suite);
  const dp = await Dataplane.create({ maxSas: N, batchSize: 16 });
  const reserved = dp.stateBytes;
  const encKey = new Uint8Array(s.encKeyBytes).fill(7);
  const integKey = new Uint8Array(s.integKeyBytes).fill(9);
  for (let i = 0; i < N; i++) {
    dp.addSa({ spi: 0x1000 + i, direction: "in", mode: "tunnel", esp: suite, encKey, integKey, replayWindow });
  }
  return { reserved, full: dp.stateBytes };
}

test("NULL and ChaCha20-Poly1305 SAs with windows up to 64 need no memory beyond their slots", async () => {
  for (const suite of ["null-sha256", "null-sha1", "chacha20poly1305"]) {
    const { reserved, full } = await filled(suite);
    assert.equal(full, reserved, suite);
    assert.ok(reserved / N < 400, `${suite}: ${reserved / N} bytes reserved per SA`);
  }
});

test("every ESP suite fits in 1 KiB per SA (slot, table entry, key block)", async () => {
  for (const suite of [
    "aes128gcm16",
    "aes256gcm16",
    "aes128-sha256",
    "aes256-sha512",
    "aes256ctr-sha512",
    "aes256ccm16",
    "aes256gmac",
  ]) {
    const { reserved, full } = await filled(suite);
    assert.ok(full > reserved, `${suite}: a key block per SA`);
    assert.ok(full / N <= 1024, `${suite}: ${(full / N).toFixed(0)} bytes per SA`);
  }
});

test("a replay window above 64 adds its bitmap outside the slot", async () => {
  const small = await filled("null-sha256", 64);
  const large = await filled("null-sha256", 1024);
  assert.equal(small.full, small.reserved);
  // 1,024 packets: 128 bytes of bitmap at least per SA.
  assert.ok(large.full - large.reserved >= N * 128, `${(large.full - large.reserved) / N} bytes per SA`);
});
