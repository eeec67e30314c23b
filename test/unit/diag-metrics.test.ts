// OpenMetrics / Prometheus text from a live status report, checked by a line parser written from
// the two specifications (test/helpers/exposition.ts: HELP/TYPE before samples, counters with
// _total, # EOF, no duplicate series, label escaping) and against the dataplane's own counters.
// The real parser (prometheus_client) reads the same output in test/interop/metrics-parser.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makePair, settle } from "../helpers/ike-pair.ts";
import { icmpEcho, echoReplyFor, parseIcmpEcho } from "../../sdk/packet/icmp.ts";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { buildStatusReport, type StatusReport } from "../../sdk/diag/status-report.ts";
import {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  escapeLabelValue,
  metricsResponse,
  negotiateMetricsFormat,
  renderMetrics,
} from "../../sdk/diag/metrics.ts";
import { ipv4Udp } from "../helpers/esp-ref.ts";
import { parseExposition, type ParsedFamily } from "../helpers/exposition.ts";

const WEIRD = 'we"ird\\child\nname ü';

/** Our two daemons after 3 pings, plus a manual SA named WEIRD that saw 4 packets with a wrong key. */
async function liveReport(): Promise<{ report: StatusReport; manual: number; close: () => void }> {
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
  const r = p.a.initiate("peer");
  await settle();
  await r;
  for (let i = 0; i < 3; i++) p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 7, i)], "203.0.113.2");
  await settle();
  const gcm = { mode: "tunnel" as const, esp: "aes128gcm16", spi: 0x4242 };
  const manual = p.dpA.addSa({ ...gcm, direction: "in", encKey: new Uint8Array(20).fill(1) });
  const tx = await Dataplane.create({ maxSas: 2 });
  const out = tx.addSa({ ...gcm, direction: "out", encKey: new Uint8Array(20).fill(2) });
  p.dpA.decapsulateBatch(
    tx
      .encapsulateBatch(
        out,
        Array.from({ length: 4 }, () => ipv4Udp(8)),
      )
      .map((x) => x.packet!),
  );
  const report = buildStatusReport({
    dataplane: p.dpA,
    daemon: p.a,
    now: p.clock.now(),
    describe: (h) => (h === manual ? { child: WEIRD, peer: "198.18.0.9" } : undefined),
    diagnostics: [
      { kind: "icv-truncation", severity: "error", message: "m", sa: manual },
      { kind: "up-but-silent", severity: "warning", message: "n", spi: 0xc0000001 },
    ],
  });
  return {
    report,
    manual,
    close: () => {
      p.a.close();
      p.b.close();
    },
  };
}

const find = (fams: ParsedFamily[], family: string, labels: Record<string, string>): string | undefined =>
  fams
    .find((f) => f.name === family || f.name === `${family}_total`)
    ?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

test("both formats parse line by line; values equal the dataplane's counters; escaping round-trips", async () => {
  const { report, manual, close } = await liveReport();
  for (const format of ["openmetrics", "prometheus"] as const) {
    const text = renderMetrics(report, format);
    const fams = parseExposition(text, format);
    const names = fams.map((f) => f.name.replace(/_total$/, ""));
    for (const n of [
      "ipsec_sa_packets",
      "ipsec_sa_bytes",
      "ipsec_sa_drops",
      "ipsec_xfrm_stat",
      "ipsec_ike_messages_received",
      "ipsec_diagnostics_active",
    ]) {
      assert.ok(names.includes(n), `${format}: ${n}`);
    }
    for (const e of report.sas) {
      const spi = `0x${e.spi.toString(16).padStart(8, "0")}`;
      assert.equal(find(fams, "ipsec_sa_packets", { spi, direction: e.direction }), String(e.lifetime.packets));
      assert.equal(find(fams, "ipsec_sa_bytes", { spi, direction: e.direction }), String(e.lifetime.bytes));
      assert.equal(find(fams, "ipsec_sa_icv_bits", { spi, direction: e.direction }), String(e.icvBits));
    }
    // The IKE child carried 3 pings each way; labels name it and the peer.
    const child = report.ikeSas[0]!.children[0];
    assert.equal(
      find(fams, "ipsec_sa_packets", {
        spi: `0x${child!.in.spi}`,
        direction: "in",
        child: "net",
        peer: "198.18.0.2",
        suite: "aes128gcm16",
      }),
      "3",
    );
    // The manual SA: label value with a quote, a backslash, a line feed and a non-ASCII letter, read back exactly.
    assert.equal(find(fams, "ipsec_sa_drops", { spi: "0x00004242", reason: "integrity-failed" }), "4");
    assert.equal(
      fams.find((f) => f.name.startsWith("ipsec_sa_drops"))!.samples.find((s) => s.labels.spi === "0x00004242")!.labels
        .child,
      WEIRD,
    );
    assert.equal(find(fams, "ipsec_xfrm_stat", { stat: "XfrmInStateProtoError" }), "4");
    assert.equal(fams.find((f) => f.name.startsWith("ipsec_xfrm_stat"))!.samples.length, 32);
    assert.equal(find(fams, "ipsec_diagnostics_active", {}), "2");
    assert.equal(
      find(fams, "ipsec_diagnostic_active", {
        kind: "icv-truncation",
        spi: "0x00004242",
        child: WEIRD,
        peer: "198.18.0.9",
      }),
      "1",
    );
    assert.equal(
      find(fams, "ipsec_diagnostic_active", { kind: "up-but-silent", severity: "warning", spi: "0xc0000001" }),
      "1",
    );
    assert.equal(find(fams, "ipsec_ike_sas", { state: "ESTABLISHED" }), "1");
    assert.equal(find(fams, "ipsec_ike_messages_sent", {}), String(report.ikeCounters!.ikeSent));
    // Every drop reason exists for every SA (increase() works from the first scrape).
    assert.equal(
      fams.find((f) => f.name.startsWith("ipsec_sa_drops"))!.samples.filter((s) => s.labels.spi === "0x00004242")
        .length,
      12,
    );
    void manual;
  }
  close();
});

test("escaping, content negotiation and content types", async () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  // What Prometheus 2.x sends when it prefers OpenMetrics, and older/other scrapers.
  assert.equal(
    negotiateMetricsFormat(
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    ),
    "openmetrics",
  );
  assert.equal(negotiateMetricsFormat("text/plain;version=0.0.4"), "prometheus");
  assert.equal(negotiateMetricsFormat(undefined), "prometheus");
  const { report, close } = await liveReport();
  const om = metricsResponse(report, "application/openmetrics-text; version=1.0.0");
  assert.equal(om.contentType, OPENMETRICS_CONTENT_TYPE);
  assert.ok(om.body.endsWith("# EOF\n"));
  const prom = metricsResponse(report, "*/*");
  assert.equal(prom.contentType, PROMETHEUS_CONTENT_TYPE);
  assert.ok(!prom.body.includes("# EOF"));
  // Prometheus text declares counters with their _total name; OpenMetrics without.
  assert.ok(prom.body.includes("# TYPE ipsec_sa_packets_total counter\n"));
  assert.ok(om.body.includes("# TYPE ipsec_sa_packets counter\n"));
  close();
});

test("the line parser rejects what it must (so the checks above can fail)", () => {
  const good = '# HELP x_total h\n# TYPE x_total counter\nx_total{a="1"} 1\n';
  parseExposition(good, "prometheus");
  assert.throws(() => parseExposition(good, "openmetrics"));
  assert.throws(
    () => parseExposition('# HELP x h\n# TYPE x counter\nx{a="1"} 1\n# EOF\n', "openmetrics"),
    /sample x in family x/,
  );
  assert.throws(
    () => parseExposition('# HELP x h\n# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n', "prometheus"),
    /duplicate/,
  );
  assert.throws(() => parseExposition('# HELP x h\n# TYPE x gauge\nx{a="\\q"} 1\n', "prometheus"), /bad escape/);
});
