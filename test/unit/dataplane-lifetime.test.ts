// SA lifetimes: soft and hard limits in packets, bytes and seconds (injected clock), the soft
// warning before an outbound sequence number runs out, events raised once, expired SAs failing
// every further packet with lifetime-expired while keeping their counters.
import { test } from "../helpers/aes-both-ways.ts";
import assert from "node:assert/strict";
import { Dataplane, DataplaneError, type LifetimeEvent, type SaConfig } from "../../sdk/index.ts";
import { ipv4Udp } from "../helpers/esp-ref.ts";

const key = new Uint8Array(20).fill(3);
const sa = (spi: number, direction: "in" | "out", extra: Partial<SaConfig> = {}): SaConfig => ({
  spi,
  direction,
  mode: "tunnel",
  esp: "aes128gcm16",
  encKey: key,
  ...extra,
});

function record(dp: Dataplane): LifetimeEvent[] {
  const events: LifetimeEvent[] = [];
  dp.on("lifetime", (e) => events.push(e));
  return events;
}
const brief = (e: LifetimeEvent): string => `${e.kind}:${e.reason}`;

test("packets: soft once at the limit, hard after the last allowed packet; later packets fail in the same batch", async () => {
  const dp = await Dataplane.create({ maxSas: 4, batchSize: 16 });
  const events = record(dp);
  const out = dp.addSa(sa(0x100, "out", { lifetime: { soft: { packets: 3 }, hard: { packets: 5 } } }));
  const r1 = dp.encapsulateBatch(out, [ipv4Udp(1), ipv4Udp(1)]);
  assert.deepEqual(
    r1.map((r) => r.status),
    ["ok", "ok"],
  );
  assert.equal(events.length, 0);
  dp.encapsulate(out, ipv4Udp(1));
  assert.deepEqual(events.map(brief), ["soft:packets"]);
  assert.deepEqual(events[0], { sa: out, spi: 0x100, direction: "out", kind: "soft", reason: "packets" });
  const r2 = dp.encapsulateBatch(
    out,
    Array.from({ length: 6 }, () => ipv4Udp(1)),
  );
  assert.deepEqual(
    r2.map((r) => r.status),
    ["ok", "ok", "lifetime-expired", "lifetime-expired", "lifetime-expired", "lifetime-expired"],
  );
  assert.equal(r2[2]!.packet, undefined);
  assert.deepEqual(events.map(brief), ["soft:packets", "hard:packets"]);
  const s = dp.stats(out);
  assert.equal(s.packets, 5n, "expired SAs keep their counters");
  assert.equal(s.seq, 5n, "no sequence number spent on refused packets");
  assert.equal(s.drops["lifetime-expired"], 4n);
  assert.deepEqual({ soft: s.lifetime.soft, hard: s.lifetime.hard }, { soft: "packets", hard: "packets" });
  assert.equal(dp.globalStats().byStatus["lifetime-expired"], 4n);
  dp.encapsulate(out, ipv4Udp(1));
  assert.equal(events.length, 2, "each event once");
  dp.removeSa(out);
});

test("bytes on an inbound SA: counted on delivered payload only; replays and forgeries do not age it", async () => {
  const dp = await Dataplane.create({ maxSas: 4, batchSize: 16 });
  const events = record(dp);
  const out = dp.addSa(sa(0x200, "out"));
  const inn = dp.addSa(sa(0x200, "in", { lifetime: { soft: { bytes: 250n }, hard: { bytes: 400 } } }));
  const pkts = dp
    .encapsulateBatch(
      out,
      Array.from({ length: 6 }, () => ipv4Udp(72)),
    )
    .map((r) => r.packet!); // 100 B each
  assert.equal(dp.decapsulate(pkts[0]!).status, "ok");
  assert.equal(dp.decapsulate(pkts[0]!).status, "replay");
  const forged = pkts[1]!.slice();
  forged[30]! ^= 1;
  assert.equal(dp.decapsulate(forged).status, "integrity-failed");
  assert.equal(dp.stats(inn).bytes, 100n);
  assert.equal(events.length, 0);
  const res = dp.decapsulateBatch(pkts.slice(1));
  assert.deepEqual(
    res.map((r) => r.status),
    ["ok", "ok", "ok", "lifetime-expired", "lifetime-expired"],
  );
  assert.equal(res[3]!.payload, undefined);
  assert.deepEqual(
    events.map((e) => `${e.direction} ${brief(e)}`),
    ["in soft:bytes", "in hard:bytes"],
  );
  assert.equal(dp.stats(inn).bytes, 400n);
  assert.equal(dp.replayState(inn).top, 4n, "expired packets do not move the window");
});

test("seconds on the injected clock: checked per batch and by checkLifetimes(), idle SAs expire too", async () => {
  let now = 1_000_000;
  const dp = await Dataplane.create({ maxSas: 4, now: () => now });
  const events = record(dp);
  const out = dp.addSa(sa(0x300, "out", { lifetime: { soft: { seconds: 10 }, hard: { seconds: 20 } } }));
  const idle = dp.addSa(sa(0x301, "in", { lifetime: { hard: { seconds: 15 } } }));
  assert.equal(dp.stats(out).lifetime.addedAt, 1_000_000);
  now += 9_999;
  assert.equal(dp.encapsulate(out, ipv4Udp(1)).status, "ok");
  assert.equal(events.length, 0);
  now += 1;
  assert.equal(dp.encapsulate(out, ipv4Udp(1)).status, "ok", "soft does not stop traffic");
  assert.deepEqual(events.map(brief), ["soft:seconds"]);
  now += 5_000;
  dp.checkLifetimes();
  assert.deepEqual(
    events.map((e) => `${e.sa === idle ? "idle" : "out"} ${brief(e)}`),
    ["out soft:seconds", "idle hard:seconds"],
  );
  now += 5_000;
  assert.equal(dp.encapsulate(out, ipv4Udp(1)).status, "lifetime-expired");
  assert.deepEqual(events.map(brief), ["soft:seconds", "hard:seconds", "hard:seconds"]);
  assert.deepEqual(dp.stats(out).lifetime, { soft: "seconds", hard: "seconds", addedAt: 1_000_000 });
  assert.equal(dp.stats(out).packets, 2n);
  now += 100_000;
  dp.checkLifetimes();
  assert.equal(events.length, 3, "nothing raised twice");
});

test("sequence numbers: soft 2^20 before 2^32 without ESN, hard with the first seq-overflow; ESN warns before 2^64", async () => {
  const dp = await Dataplane.create({ maxSas: 4 });
  const events = record(dp);
  const warnAt = 2n ** 32n - 1n - 2n ** 20n;
  const out = dp.addSa(sa(0x400, "out", { seq: warnAt - 2n }));
  assert.equal(dp.encapsulate(out, ipv4Udp(1)).seq, warnAt - 1n);
  assert.equal(events.length, 0);
  assert.equal(dp.encapsulate(out, ipv4Udp(1)).seq, warnAt);
  assert.deepEqual(events.map(brief), ["soft:sequence"]);
  dp.encapsulate(out, ipv4Udp(1));
  assert.equal(events.length, 1);
  const last = dp.addSa(sa(0x401, "out", { seq: 0xfffffffen }));
  assert.equal(dp.encapsulate(last, ipv4Udp(1)).status, "ok");
  assert.equal(dp.encapsulate(last, ipv4Udp(1)).status, "seq-overflow");
  assert.equal(dp.encapsulate(last, ipv4Udp(1)).status, "seq-overflow");
  assert.deepEqual(
    events.slice(1).map((e) => `${e.spi.toString(16)} ${brief(e)}`),
    ["401 soft:sequence", "401 hard:sequence"],
  );
  assert.deepEqual(dp.stats(last).lifetime.hard, "sequence");
  const esn = dp.addSa(sa(0x402, "out", { esp: "aes128gcm16-esn", seq: 2n ** 64n - 2n ** 20n - 2n }));
  dp.encapsulateBatch(esn, [ipv4Udp(1), ipv4Udp(1)]);
  assert.deepEqual(events.slice(3).map(brief), ["soft:sequence"]);
  // Inbound SAs never raise it (the peer's counter is the peer's business).
  const inn = dp.addSa(sa(0x403, "in", { seq: 0xfffffff0n }));
  assert.equal(dp.stats(inn).lifetime.soft, null);
});

test("a thousand SAs crossing their limit in one batch: every event raised once (wasm queue overflow path)", async () => {
  const n = 1100;
  const dp = await Dataplane.create({ maxSas: n, batchSize: 2048 });
  const events = record(dp);
  const hs = Array.from({ length: n }, (_, i) =>
    dp.addSa(sa(0x10000 + i, "out", { lifetime: { soft: { packets: 1 } } })),
  );
  const b = dp.batch;
  b.reset();
  for (const h of hs) b.add(ipv4Udp(1), h);
  assert.equal(dp.runEncapsulate(b), n);
  b.reset();
  assert.equal(events.length, n);
  assert.equal(new Set(events.map((e) => e.sa)).size, n);
  assert.ok(events.every((e) => e.kind === "soft" && e.reason === "packets"));
});

test("listeners: several, unsubscribe; bad lifetime settings are refused", async () => {
  const dp = await Dataplane.create({ maxSas: 4 });
  const seen: string[] = [];
  const off = dp.on("lifetime", (e) => seen.push(brief(e)));
  const second: string[] = [];
  dp.on("lifetime", (e) => second.push(brief(e)));
  const out = dp.addSa(sa(0x500, "out", { lifetime: { hard: { packets: 1 } } }));
  const r = dp.encapsulateBatch(out, [ipv4Udp(1), ipv4Udp(1)]);
  assert.deepEqual(
    r.map((x) => x.status),
    ["ok", "lifetime-expired"],
  );
  assert.deepEqual(seen, ["hard:packets"]);
  assert.deepEqual(second, ["hard:packets"]);
  off();
  const h2 = dp.addSa(sa(0x501, "out", { lifetime: { soft: { packets: 1 } } }));
  dp.encapsulate(h2, ipv4Udp(1));
  assert.deepEqual(seen, ["hard:packets"], "unsubscribed");
  assert.deepEqual(second, ["hard:packets", "soft:packets"]);
  const cases: [SaConfig["lifetime"], RegExp][] = [
    [{ soft: { packets: 10 }, hard: { packets: 5 } }, /soft\.packets \(10\) is above hard\.packets \(5\)/],
    [{ hard: { bytes: 0 } }, /hard\.bytes must be a positive integer/],
    [{ soft: { packets: 1.5 } }, /soft\.packets must be a positive integer/],
    [{ hard: { seconds: -1 } }, /hard\.seconds must be a positive number/],
    [{ soft: { seconds: 30 }, hard: { seconds: 20 } }, /soft\.seconds \(30\) is above hard\.seconds \(20\)/],
  ];
  for (const [lifetime, msg] of cases) {
    assert.throws(
      () => dp.addSa(sa(0x600, "out", { lifetime })),
      (e: unknown) => e instanceof DataplaneError && e.code === "BAD_ARGUMENT" && msg.test(e.message),
    );
  }
  assert.equal(dp.saCount, 2);
});
