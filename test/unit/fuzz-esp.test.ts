// The ESP decapsulation fuzzer (test/fuzz/esp-fuzz.ts), a short deterministic run: a million
// packets over every suite in both modes, every invariant checked after every batch; and the
// harness's self-check, which must catch a forged `ok`, a plaintext leak and a replay hole.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EspFuzzer } from "../fuzz/esp-fuzz.ts";
import { allEspSuites } from "../fuzz/esp-suites.ts";
import { parseSuite } from "../../sdk/dataplane/suites.ts";
import { dirtyArenaDecap, forgingDecap, leakingDecap, replayHoleDecap } from "../fuzz/esp-fakes.ts";

const PACKETS = 1_000_000;

test("the fuzzer covers every ESP suite keyword family, each accepted by parseSuite", () => {
  const suites = allEspSuites();
  assert.equal(suites.length, 48);
  assert.equal(new Set(suites.map((s) => parseSuite(s).name)).size, 48);
  for (const kind of [1, 2, 3, 4, 5, 6])
    assert.ok(
      suites.some((s) => parseSuite(s).kind === kind),
      `suite kind ${kind}`,
    );
});

test(`ESP fuzz, seed 1: ${PACKETS} packets, no trap, no forged ok, no leak, windows and counters equal the model`, async () => {
  const f = await EspFuzzer.create({ seed: 1 });
  const v = f.run(PACKETS);
  assert.deepEqual(v.slice(0, 5), []);
  const s = f.stats;
  assert.ok(s.packets >= PACKETS);
  assert.equal(s.sas, 96, "48 suites x tunnel and transport");
  // Every path was taken often: deliveries, replays, ICV failures, short packets, unknown SPIs.
  for (const st of ["ok", "replay", "integrity-failed", "truncated", "no-sa"])
    assert.ok((s.byStatus[st] ?? 0) > PACKETS / 50, `${st}: ${s.byStatus[st]}`);
  assert.ok(s.byKind.mutant > PACKETS / 3);
  // Dropped packets whose arena slot was checked for bytes written in place (plaintext).
  assert.ok(s.arenaChecked > PACKETS / 2, `arena checked for ${s.arenaChecked}`);
});

test("self-check: the checker reports a forged ok (a broken ICV compare)", async () => {
  const f = await EspFuzzer.create({ seed: 2 });
  const fake = forgingDecap();
  const v = f.run(50_000, fake.decap);
  assert.equal(fake.forged(), 1);
  assert.equal(v.length, 1, JSON.stringify(v));
  assert.match(v[0]!.what, /^forged ok: mutant\//);
});

test("self-check: the checker reports plaintext returned for a dropped packet", async () => {
  const f = await EspFuzzer.create({ seed: 3 });
  const v = f.run(50_000, leakingDecap());
  assert.equal(v.length, 1, JSON.stringify(v));
  assert.match(v[0]!.what, /^plaintext from a dropped packet: .* was integrity-failed but returned 32 bytes/);
});

test("self-check: the checker reports bytes written into a dropped packet's arena slot", async () => {
  const f = await EspFuzzer.create({ seed: 6 });
  const v = f.run(50_000, dirtyArenaDecap());
  assert.equal(v.length, 1, JSON.stringify(v));
  assert.match(v[0]!.what, /^plaintext in the arena: .* was integrity-failed but byte 16 of its slot changed/);
});

test("self-check: the checker reports a replayed packet delivered twice", async () => {
  const f = await EspFuzzer.create({ seed: 4 });
  const v = f.run(50_000, replayHoleDecap());
  assert.equal(v.length, 1, JSON.stringify(v));
  assert.match(v[0]!.what, /^forged ok: replayed .* expected replay/);
});

test("self-check: a drop the model did not see shows up as a counter difference", async () => {
  const f = await EspFuzzer.create({ seed: 5 });
  assert.deepEqual(f.run(1_000), []);
  // SPI 0x1000 is the first SA; 10 bytes is too short for any suite: one `truncated` drop on it.
  assert.equal(f.dataplane.decapsulate(Uint8Array.of(0, 0, 0x10, 0, 0, 0, 0, 9, 1, 2)).status, "truncated");
  const v = f.run(1_000);
  assert.ok(
    v.some((x) => /spi 0x1000: truncated drops \d+, model \d+/.test(x.what)),
    JSON.stringify(v),
  );
  assert.ok(
    v.some((x) => /^global truncated: /.test(x.what)),
    JSON.stringify(v),
  );
});
