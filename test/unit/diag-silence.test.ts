// The up-but-silent detector on real dataplanes: two of them joined by a "wire" this test
// controls (deliver, drop, send with the wrong ICV length, replay, change SPI), a virtual clock,
// check() every 5 s. It must name the right cause first, with the counters behind it, stay quiet
// for healthy, idle, one-way and briefly quiet tunnels, and clear itself when traffic verifies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import type { SaConfig, SaHandle } from "../../sdk/dataplane/types.ts";
import {
  SilenceDetector,
  SILENCE_KIND,
  daemonSilencePairs,
  type SilenceEvent,
  type SilencePair,
} from "../../sdk/diag/silence.ts";
import { buildStatusReport, formatStatusReport } from "../../sdk/diag/status-report.ts";
import { IcvTruncationDetector } from "../../sdk/diag/icv-truncation.ts";
import { renderMetrics } from "../../sdk/diag/metrics.ts";
import { ipv4Udp } from "../helpers/esp-ref.ts";
import { makePair, settle } from "../helpers/ike-pair.ts";
import { icmpEcho, echoReplyFor, parseIcmpEcho } from "../../sdk/packet/icmp.ts";

const KE = new Uint8Array(16).fill(0x11),
  KA = new Uint8Array(32).fill(0x22);
const cbc = (over: Partial<SaConfig> = {}) => ({
  mode: "tunnel" as const,
  esp: "aes128-sha256",
  encKey: KE,
  integKey: KA,
  ...over,
});

/** Us (A) and a peer (B): A sends on 0xa0000001, B answers on 0xb0000001. */
async function tunnel(peerOut: Partial<SaConfig> = {}) {
  const a = await Dataplane.create({ maxSas: 8, batchSize: 32 });
  const b = await Dataplane.create({ maxSas: 8, batchSize: 32 });
  const aOut = a.addSa({ ...cbc(), spi: 0xa0000001, direction: "out" });
  const aIn = a.addSa({ ...cbc(), spi: 0xb0000001, direction: "in" });
  b.addSa({ ...cbc(), spi: 0xa0000001, direction: "in" });
  const bOut = b.addSa({ ...cbc(), spi: 0xb0000001, direction: "out", ...peerOut });
  let t = 1_000_000;
  const events: SilenceEvent[] = [];
  const pair: SilencePair = { name: "net{1}", peer: "198.18.0.2", in: aIn, out: aOut };
  const det = new SilenceDetector({ dataplane: a, pairs: () => [pair], now: () => t });
  det.on((e) => events.push(e));
  return {
    a,
    b,
    aIn,
    aOut,
    bOut,
    det,
    events,
    pair,
    /** A sends n packets (B decapsulates them). */
    send(n = 1) {
      b.decapsulateBatch(
        a
          .encapsulateBatch(
            aOut,
            Array.from({ length: n }, () => ipv4Udp(20)),
          )
          .map((r) => r.packet!),
      );
    },
    /** B answers n packets; `deliver` false drops them on the way. Returns the ESP packets. */
    answer(n = 1, deliver = true, from: SaHandle = bOut) {
      const pkts = b
        .encapsulateBatch(
          from,
          Array.from({ length: n }, () => ipv4Udp(20, 0x55, [203, 0, 113, 2], [198, 51, 100, 1])),
        )
        .map((r) => r.packet!);
      if (deliver) a.decapsulateBatch(pkts);
      return pkts;
    },
    /** Advances the clock in 5-s steps, calling check() at each. */
    run(ms: number, each?: () => void) {
      for (let s = 0; s < ms; s += 5000) {
        t += 5000;
        each?.();
        det.check();
      }
    },
    get now() {
      return t;
    },
  };
}

test("healthy two-way traffic for 5 minutes: never raised", async () => {
  const x = await tunnel();
  x.det.check();
  x.run(300_000, () => {
    x.send(3);
    x.answer(3);
  });
  assert.deepEqual(x.events, []);
  assert.deepEqual(x.det.diagnostics(), []);
});

test("nothing comes back: raised at the threshold, not before, naming UDP 4500/NAT/policy and the counters", async () => {
  const x = await tunnel();
  x.det.check();
  x.run(25_000, () => x.send(2));
  assert.equal(x.events.length, 0, "25 s of silence is below the 30 s threshold");
  x.run(10_000, () => x.send(2));
  assert.equal(x.events.length, 1);
  const [e] = x.events;
  assert.equal(e!.type, "raised");
  const d = e!.diagnostic;
  assert.equal(d.kind, SILENCE_KIND);
  assert.equal(d.severity, "error");
  assert.equal(d.spi, 0xb0000001);
  assert.equal(d.sa, x.aIn);
  assert.equal(d.evidence.causes, "nothing");
  assert.equal(d.evidence.outboundPackets, 14n);
  assert.equal(d.evidence.integrityFailed, 0n);
  assert.match(
    d.message,
    /^SA pair net\{1\} \(peer 198\.18\.0\.2\) is up but silent: 14 packets went out on 0xa0000001 over 30 s and nothing verified on 0xb0000001/,
  );
  assert.match(
    d.message,
    /\(1\) nothing arrives for 0xb0000001 .*UDP 4500 .*NAT.*traffic selectors.*never receives ours \(check its inbound counter for 0xa0000001\)/,
  );
  assert.doesNotMatch(d.message, /\(2\)/);
  assert.match(d.hint ?? "", /capture UDP 4500 from 198\.18\.0\.2/);
  assert.deepEqual(x.det.diagnostics(), [d]);
});

test("a quiet gap shorter than the threshold, an idle tunnel woken by a burst, and inbound-only traffic: never raised", async () => {
  const x = await tunnel();
  x.det.check();
  // Replies pause for 20 s while we keep sending, then resume.
  x.run(20_000, () => x.send(2));
  x.answer(1);
  x.run(60_000, () => {
    x.send(1);
    x.answer(1);
  });
  // Idle for 10 minutes (nothing either way), then a burst whose answer comes a moment later.
  x.run(600_000);
  x.send(5);
  x.det.check();
  x.answer(5);
  x.run(60_000);
  // One-way inbound: the peer streams to us, we send nothing.
  x.run(120_000, () => x.answer(4));
  assert.deepEqual(x.events, []);
  // A pair marked one-way outbound never raises even when nothing comes back.
  x.pair.oneWay = true;
  x.run(120_000, () => x.send(4));
  assert.deepEqual(x.events, []);
});

test("seed 000: the peer uses 96-bit ICVs, we expect 128 — integrity failures are cause (1), and it clears once fixed", async () => {
  const x = await tunnel({ esp: "aes128-sha256_96" });
  x.det.check();
  x.run(35_000, () => {
    x.send(2);
    x.answer(2);
  });
  const raised = x.events.filter((e) => e.type === "raised");
  assert.equal(raised.length, 1);
  const d = raised[0]!.diagnostic;
  assert.equal(d.evidence.causes, "integrity");
  // The dataplane checks the ICV before CBC's block rule (as Linux's authenc does), so the shifted
  // ciphertext counts as an integrity failure (the kernel: XfrmInStateProtoError).
  assert.equal(d.evidence.lengthMismatch, 0n);
  assert.ok(x.a.stats(x.aIn).drops["integrity-failed"] >= 12n);
  assert.match(
    d.message,
    /\(1\) \d+ packets reached 0xb0000001: \d+ failed their ICV\. The ICV length or the integrity key differs/,
  );
  assert.match(d.message, /icv-truncation diagnostic for 0xb0000001/);
  assert.match(d.hint ?? "", /96-bit vs 128-bit HMAC-SHA-256/);
  // The peer fixes its side (auth-trunc ... 128): a new outbound SA with the right ICV length.
  x.b.removeSa(x.bOut);
  const fixed = x.b.addSa({ ...cbc(), spi: 0xb0000001, direction: "out", seq: 100n });
  x.answer(1, true, fixed);
  x.det.check();
  assert.deepEqual(
    x.events.map((e) => e.type),
    ["raised", "cleared"],
  );
  assert.deepEqual(x.det.diagnostics(), []);
});

test("causes come in order with their own counters: ICV failures before replays before unknown SPIs", async () => {
  const x = await tunnel();
  x.det.check();
  const old = x.answer(3); // delivered once: verified, resets the silence
  x.det.check();
  // Now the peer's answers: old packets again (replays), packets to an SPI we do not have, and
  // packets with the wrong integrity key.
  const stranger = x.b.addSa({ ...cbc(), spi: 0xb0000099, direction: "out" });
  const wrongKey = x.b.addSa({
    ...cbc({ integKey: new Uint8Array(32).fill(0x23) }),
    spi: 0xb0000001,
    direction: "out",
    seq: 50n,
  });
  x.run(35_000, () => {
    x.send(1);
    x.a.decapsulateBatch(old);
    x.answer(1, true, stranger);
    x.answer(1, true, wrongKey);
  });
  const d = x.det.diagnostics()[0];
  assert.ok(d, "raised");
  assert.equal(d.evidence.causes, "integrity,replay,no-sa");
  assert.equal(d.evidence.replay, 21n);
  assert.equal(d.evidence.XfrmInNoStates, 7n);
  assert.equal(d.evidence.integrityFailed, 7n);
  assert.match(d.message, /\(1\) 7 packets reached 0xb0000001: 7 failed their ICV\. /);
  const i1 = d.message.indexOf("(1) 7 packets reached"),
    i2 = d.message.indexOf("(2) 21 packets on 0xb0000001 were dropped as replays"),
    i3 = d.message.indexOf("(3) XfrmInNoStates rose by 7");
  assert.ok(i1 > 0 && i2 > i1 && i3 > i2, d.message);
});

test("only unknown SPIs arrive (the peer rekeyed and we missed it): the no-SA cause alone, and an update when ICV failures join", async () => {
  const x = await tunnel();
  x.det.check();
  const rekeyed = x.b.addSa({ ...cbc(), spi: 0xb0000002, direction: "out" });
  x.run(35_000, () => {
    x.send(1);
    x.answer(1, true, rekeyed);
  });
  assert.equal(x.det.diagnostics()[0]?.evidence.causes, "no-sa");
  assert.match(
    x.det.diagnostics()[0]!.message,
    /\(1\) XfrmInNoStates rose by 7: ESP arrives for SPIs we have no SA for, so the peer sends to an SPI other than 0xb0000001/,
  );
  const wrong = x.b.addSa({ ...cbc({ integKey: new Uint8Array(32) }), spi: 0xb0000001, direction: "out", seq: 9n });
  x.run(5000, () => x.answer(1, true, wrong));
  assert.deepEqual(
    x.events.map((e) => e.type),
    ["raised", "updated"],
  );
  assert.equal(x.det.diagnostics()[0]!.evidence.causes, "integrity,no-sa");
  // The original `since` is kept across updates.
  assert.equal(x.det.diagnostics()[0]!.since, x.events[0]!.diagnostic.since);
});

test("CBC with the right integrity key but the wrong encryption key: failures after the ICV", async () => {
  const x = await tunnel({ encKey: new Uint8Array(16).fill(0x12) });
  x.det.check();
  x.run(35_000, () => {
    x.send(1);
    x.answer(1);
  });
  const d = x.det.diagnostics()[0];
  assert.equal(d?.evidence.causes, "decrypt");
  assert.match(d.message, /passed the ICV but failed after it \((bad-padding|bad-next-header|malformed-inner) \d+/);
});

test("a pair that disappears (SA deleted, rekeyed away) clears its diagnostic; a reused handle starts afresh", async () => {
  const x = await tunnel();
  let pairs: SilencePair[] = [x.pair];
  let t = 0;
  const det = new SilenceDetector({
    dataplane: x.a,
    pairs: () => pairs,
    now: () => t,
    quietMs: 10_000,
    minOutbound: 1,
  });
  det.check();
  x.send(1);
  t += 5000;
  det.check();
  t += 10_000;
  det.check();
  assert.equal(det.diagnostics().length, 1);
  pairs = [];
  assert.deepEqual(
    det.check().map((e) => e.type),
    ["cleared"],
  );
  // Same handles, new SAs: the new inbound SA's 0 packets are not compared with the old one's.
  pairs = [x.pair];
  det.check();
  x.a.removeSa(x.aIn);
  const again = x.a.addSa({ ...cbc(), spi: 0xb0000003, direction: "in" });
  assert.equal(again, x.aIn, "slot reused");
  t += 20_000;
  assert.deepEqual(det.check(), []);
});

test("with the IKE daemon: replies lost on the way back raise for net{n}; status and metrics show it; delivery clears it", async () => {
  const A = {
    addr: "198.18.0.1",
    remoteAddr: "198.18.0.2",
    id: "client.example.org",
    remoteId: "swan.example.org",
    localTs: "198.51.100.1/32",
    remoteTs: "203.0.113.0/24",
  };
  const B = {
    addr: "198.18.0.2",
    remoteAddr: "198.18.0.1",
    id: "swan.example.org",
    remoteId: "client.example.org",
    localTs: "203.0.113.0/24",
    remoteTs: "198.51.100.0/24",
  };
  const p = await makePair(A, B);
  p.b.onInner = (pkt) => {
    const r = echoReplyFor(pkt);
    if (r) p.b.sendInner([r], parseIcmpEcho(pkt)!.src);
  };
  const up = p.a.initiate("peer");
  await settle();
  await up;
  const det = new SilenceDetector({ dataplane: p.dpA, pairs: daemonSilencePairs(p.a), now: () => p.clock.now() });
  det.check();
  // ESP from B to A is lost (a firewall dropping UDP 4500 one way).
  p.filter = (d) => !(d.esp && d.from.address === "198.18.0.2");
  let seq = 0;
  for (let i = 0; i < 8; i++) {
    p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 1, seq++)], "203.0.113.2");
    await settle();
    p.clock.t += 5000;
    det.check();
  }
  const [d] = det.diagnostics();
  assert.ok(d, "raised");
  const child = p.a.status()[0]!.children[0];
  assert.match(
    d.message,
    new RegExp(`^SA pair net\\{${child!.uniqueId}\\} \\(peer 198\\.18\\.0\\.2\\) is up but silent`),
  );
  assert.equal(d.evidence.spiIn, `0x${child!.spiIn}`);
  assert.equal(d.evidence.causes, "nothing");
  const report = buildStatusReport({
    dataplane: p.dpA,
    daemon: p.a,
    diagnostics: det.diagnostics(),
    now: p.clock.now(),
  });
  assert.match(renderMetrics(report), /^ipsec_diagnostics_active 1$/m);
  assert.match(
    renderMetrics(report),
    new RegExp(
      `^ipsec_diagnostic_active\\{kind="up-but-silent",severity="error",spi="0x${child!.spiIn}",child="net",peer="198\\.18\\.0\\.2"\\} 1$`,
      "m",
    ),
  );
  // The firewall is fixed.
  p.filter = undefined;
  p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 1, seq)], "203.0.113.2");
  await settle();
  assert.deepEqual(
    det.check().map((e) => e.type),
    ["cleared"],
  );
  p.a.close();
  p.b.close();
});

test("seed 000 end to end: the peer sends 96-bit ICVs; both detectors speak, one status and one scrape show them", async () => {
  const x = await tunnel({ esp: "aes128-sha256_96" });
  const icv = new IcvTruncationDetector(x.a, { now: () => x.now, log: null });
  x.det.check();
  x.run(40_000, () => {
    x.send(2);
    x.answer(2);
  });
  const silent = x.det.diagnostics();
  const truncation = icv.diagnostics();
  assert.equal(silent.length, 1);
  assert.equal(truncation.length, 1);
  assert.equal(truncation[0]!.spi, silent[0]!.spi, "both about our inbound SA");
  assert.equal(truncation[0]!.peerIcvBits, 96);
  // The silence diagnostic points at the truncation one; the truncation one names the fix.
  assert.match(silent[0]!.message, /icv-truncation diagnostic for 0xb0000001/);
  const report = buildStatusReport({ dataplane: x.a, diagnostics: [...truncation, ...silent], now: x.now });
  const text = formatStatusReport(report);
  assert.match(
    text,
    /2 active diagnostics:\n {2}\[error\] icv-truncation: [^\n]*96[^\n]*\n[^]*\[error\] up-but-silent: SA pair net\{1\}/,
  );
  assert.match(text, /\tproto esp spi 0xb0000001\(2952790017\)[^]*\n\t {2}replay-window 0 replay 0 failed 16\n/);
  const metrics = renderMetrics(report);
  assert.match(metrics, /^ipsec_diagnostics_active 2$/m);
  assert.match(metrics, /^ipsec_xfrm_stat_total\{stat="XfrmInStateProtoError"\} 16$/m);
  assert.match(
    metrics,
    /^ipsec_sa_icv_bits\{spi="0xb0000001",direction="in",child="",peer="",suite="aes128-sha256"\} 128$/m,
  );
  icv.detach();
});
