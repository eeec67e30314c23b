// Our metrics exposition read by the Prometheus project's own Python client parsers
// (Debian's python3-prometheus-client; metrics_parser.py next to this file): the strict
// OpenMetrics parser and the Prometheus text parser must accept both renderings of a live status
// report and see the same families, types, label values (escaping included) and numbers. The
// parsers must also reject deliberately broken variants, so acceptance means something.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { makePair, settle } from "../helpers/ike-pair.ts";
import { icmpEcho, echoReplyFor, parseIcmpEcho } from "../../sdk/packet/icmp.ts";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { buildStatusReport } from "../../sdk/diag/status-report.ts";
import { renderMetrics, type MetricsFormat } from "../../sdk/diag/metrics.ts";
import { XFRM_STAT_NAMES } from "../../sdk/diag/xfrm-stat.ts";
import { ipv4Udp } from "../helpers/esp-ref.ts";

const PARSER = fileURLToPath(new URL("./metrics_parser.py", import.meta.url));
const PYTHON = "/usr/bin/python3";

interface PyFamily {
  name: string;
  type: string;
  documentation: string;
  samples: { name: string; labels: Record<string, string>; value: number | string }[];
}

function pyParse(
  text: string,
  format: MetricsFormat,
): { ok: true; families: PyFamily[] } | { ok: false; error: string } {
  const r = spawnSync(PYTHON, [PARSER, format], { input: text, encoding: "utf8", timeout: 30_000 });
  if (r.error) throw r.error;
  if (r.status === 2) return { ok: false, error: r.stderr.trim() };
  assert.equal(r.status, 0, `metrics_parser.py: ${r.stderr}`);
  return { ok: true, families: (JSON.parse(r.stdout) as { families: PyFamily[] }).families };
}

test("python3-prometheus-client is installed (apt package python3-prometheus-client)", () => {
  const r = spawnSync(PYTHON, ["-c", "import prometheus_client.openmetrics.parser, prometheus_client.parser"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(r.status, 0, `install python3-prometheus-client: ${r.stderr}`);
});

const CHILD = 'core "dc-1" \\ backup\nlink ✓';

test("the Prometheus client's OpenMetrics and text parsers read our exposition of a live report", async () => {
  const A = {
    addr: "198.18.0.1",
    remoteAddr: "198.18.0.2",
    id: "client.example.org",
    remoteId: "swan.example.org",
    localTs: "198.51.100.1/32",
    remoteTs: "203.0.113.0/24",
    espProposals: "aes128-sha256",
  };
  const B = {
    addr: "198.18.0.2",
    remoteAddr: "198.18.0.1",
    id: "swan.example.org",
    remoteId: "client.example.org",
    localTs: "203.0.113.0/24",
    remoteTs: "198.51.100.0/24",
    espProposals: "aes128-sha256",
  };
  const p = await makePair(A, B);
  p.b.onInner = (pkt) => {
    const r = echoReplyFor(pkt);
    if (r) p.b.sendInner([r], parseIcmpEcho(pkt)!.src);
  };
  const up = p.a.initiate("peer");
  await settle();
  await up;
  for (let i = 0; i < 5; i++) p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 9, i)], "203.0.113.2");
  await settle();
  // A manually keyed SA with a hostile name that sees 2 replays and 3 packets with a wrong key.
  const gcm = { mode: "tunnel" as const, esp: "aes128gcm16-esn", spi: 0x7777 };
  const manual = p.dpA.addSa({ ...gcm, direction: "in", encKey: new Uint8Array(20).fill(3), seq: 0xfffffff0n });
  const tx = await Dataplane.create({ maxSas: 4 });
  const good = tx.addSa({ ...gcm, direction: "out", encKey: new Uint8Array(20).fill(3), seq: 0xfffffff0n });
  const bad = tx.addSa({ ...gcm, direction: "out", encKey: new Uint8Array(20).fill(4), seq: 0xfffffff4n });
  const ok = tx.encapsulateBatch(good, [ipv4Udp(8), ipv4Udp(8)]).map((x) => x.packet!);
  p.dpA.decapsulateBatch([...ok, ...ok]);
  p.dpA.decapsulateBatch(tx.encapsulateBatch(bad, [ipv4Udp(8), ipv4Udp(8), ipv4Udp(8)]).map((x) => x.packet!));
  const report = buildStatusReport({
    dataplane: p.dpA,
    daemon: p.a,
    now: p.clock.now(),
    describe: (h) => (h === manual ? { child: CHILD, peer: "2001:db8::9" } : undefined),
    diagnostics: [{ kind: "up-but-silent", severity: "error", message: "quiet", sa: manual }],
  });
  const manualEntry = report.sas.find((e) => e.handle === manual)!;
  assert.deepEqual(
    [manualEntry.drops.replay, manualEntry.drops["integrity-failed"], manualEntry.lifetime.packets],
    [2n, 3n, 2n],
  );

  for (const format of ["openmetrics", "prometheus"] as const) {
    const text = renderMetrics(report, format);
    const parsed = pyParse(text, format);
    assert.ok(parsed.ok, `${format}: ${parsed.ok ? "" : parsed.error}`);
    const fams = new Map(parsed.families.map((f) => [f.name, f]));
    const sample = (family: string, labels: Record<string, string>) =>
      fams.get(family)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    // Types as declared, counters under their family name without _total, samples with it.
    for (const [name, type] of [
      ["ipsec_sa_packets", "counter"],
      ["ipsec_sa_bytes", "counter"],
      ["ipsec_sa_drops", "counter"],
      ["ipsec_xfrm_stat", "counter"],
      ["ipsec_sa_sequence", "gauge"],
      ["ipsec_sa_replay_window", "gauge"],
      ["ipsec_sa_icv_bits", "gauge"],
      ["ipsec_ike_messages_received", "counter"],
      ["ipsec_ike_half_open_sas", "gauge"],
      ["ipsec_ike_sas", "gauge"],
      ["ipsec_child_sas", "gauge"],
      ["ipsec_diagnostics_active", "gauge"],
      ["ipsec_diagnostic_active", "gauge"],
    ] as const) {
      assert.equal(fams.get(name)?.type, type, `${format}: ${name}`);
      assert.ok(fams.get(name)!.documentation.length > 10, `${format}: ${name} has HELP`);
    }
    assert.ok(fams.get("ipsec_sa_packets")!.samples.every((s) => s.name === "ipsec_sa_packets_total"));
    // Every SA, both directions, with the values the dataplane holds.
    for (const e of report.sas) {
      const spi = `0x${e.spi.toString(16).padStart(8, "0")}`;
      assert.equal(
        Number(sample("ipsec_sa_packets", { spi, direction: e.direction })?.value),
        Number(e.lifetime.packets),
      );
      assert.equal(Number(sample("ipsec_sa_bytes", { spi, direction: e.direction })?.value), Number(e.lifetime.bytes));
      assert.equal(Number(sample("ipsec_sa_icv_bits", { spi, direction: e.direction })?.value), e.icvBits);
    }
    const child = report.ikeSas[0]!.children[0];
    assert.equal(
      Number(
        sample("ipsec_sa_packets", {
          spi: `0x${child!.out.spi}`,
          direction: "out",
          child: "net",
          peer: "198.18.0.2",
          suite: "aes128-sha256",
        })?.value,
      ),
      5,
    );
    // The hostile label value survives escaping exactly, in the real parser.
    const m = sample("ipsec_sa_drops", { spi: "0x00007777", reason: "replay" });
    assert.deepEqual([m?.labels.child, m?.labels.peer, Number(m?.value)], [CHILD, "2001:db8::9", 2]);
    assert.equal(Number(sample("ipsec_sa_drops", { spi: "0x00007777", reason: "integrity-failed" })?.value), 3);
    assert.equal(Number(sample("ipsec_sa_sequence", { spi: "0x00007777" })?.value), 0xfffffff2);
    assert.equal(Number(sample("ipsec_diagnostic_active", { kind: "up-but-silent", child: CHILD })?.value), 1);
    // xfrm_stat under the kernel's names.
    assert.deepEqual(
      fams.get("ipsec_xfrm_stat")!.samples.map((s) => s.labels.stat),
      [...XFRM_STAT_NAMES],
    );
    assert.equal(Number(sample("ipsec_xfrm_stat", { stat: "XfrmInStateSeqError" })?.value), 2);
    assert.equal(Number(sample("ipsec_xfrm_stat", { stat: "XfrmInStateProtoError" })?.value), 3);
    assert.equal(Number(sample("ipsec_ike_messages_sent", {})?.value), report.ikeCounters!.ikeSent);
  }
  p.a.close();
  p.b.close();
});

test("the parsers reject broken variants of our output (acceptance above is meaningful)", async () => {
  const dp = await Dataplane.create({ maxSas: 2 });
  dp.addSa({ spi: 0x100, direction: "in", mode: "tunnel", esp: "aes128gcm16", encKey: new Uint8Array(20) });
  const report = buildStatusReport({ dataplane: dp, describe: () => ({ child: 'a"b', peer: "p" }) });
  const om = renderMetrics(report, "openmetrics");
  assert.ok(pyParse(om, "openmetrics").ok);
  // No # EOF.
  assert.equal(pyParse(om.replace("# EOF\n", ""), "openmetrics").ok, false);
  // A quote left unescaped in a label value.
  const broken = om.replace('a\\"b', 'a"b');
  assert.notEqual(broken, om);
  assert.equal(pyParse(broken, "openmetrics").ok, false);
  // The Prometheus text parser is lenient: it does not reject, it reads a different value.
  const childOf = (r: ReturnType<typeof pyParse>): string | undefined =>
    r.ok ? r.families.find((f) => f.name === "ipsec_sa_packets")?.samples[0]?.labels.child : undefined;
  const prom = renderMetrics(report, "prometheus");
  assert.equal(childOf(pyParse(prom, "prometheus")), 'a"b');
  assert.notEqual(childOf(pyParse(prom.replace('a\\"b', 'a"b'), "prometheus")), 'a"b');
  // A counter sample without _total under an OpenMetrics counter family.
  assert.equal(pyParse(om.replace(/^ipsec_sa_packets_total/m, "ipsec_sa_packets"), "openmetrics").ok, false);
});
