// `ipsec-wasm up` observability, end to end over loopback UDP: two `up` processes negotiate
// (IKE AES-GCM, ESP aes128-sha256 = HMAC-SHA-256 with RFC 4868's 128-bit ICV). Packets built with
// node:crypto from the keys `--wireshark-keys` exported are sent to the responder: first three
// good echo requests (answered through the tunnel), then packets of a peer that truncates to 96
// bits (the Linux `auth hmac(sha256)` default of seed 000). `status` must show no diagnostic
// before and name the mismatch after (text and JSON) with the fix, count the failures as the
// kernel's XfrmInStateProtoError, and `up` must log it; the `--metrics` endpoint, read by the
// specification-grammar parser of test/helpers/exposition.ts, must carry the same counters and the
// diagnostic (the same scenario read by python3-prometheus-client's OpenMetrics parser is
// test/interop/cli-obs-metrics.test.ts).
// Up-but-silent: `ipsec-wasm ping --silence-after 1` against a responder we freeze (SIGSTOP) and
// thaw (SIGCONT) must log the diagnostic (nothing arrives, with the SPIs) only while frozen, and
// its clearing once replies verify again. Also: `--metrics` refuses non-loopback addresses.
// Every child process and socket is killed/closed in t.after, also when a test fails or times out.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { parseMetricsAddress } from "../../sdk/cli/up.ts";
import { main } from "../../sdk/cli/main.ts";
import { ConfigError } from "../../sdk/ike/config-error.ts";
import { CliHarness, freePort, statusAndMetricsScenario, waitFor, type Sample, type Side } from "../helpers/cli-up.ts";
import { parseExposition } from "../helpers/exposition.ts";

const h = new CliHarness("cli-obs");
after(() => h.remove());

test("--metrics: loopback addresses only, port 0 allowed, clear refusal otherwise", async () => {
  assert.deepEqual(parseMetricsAddress("127.0.0.1:9464"), { host: "127.0.0.1", port: 9464 });
  assert.deepEqual(parseMetricsAddress("127.8.9.10:0"), { host: "127.8.9.10", port: 0 });
  assert.deepEqual(parseMetricsAddress("[::1]:9464"), { host: "::1", port: 9464 });
  for (const bad of ["0.0.0.0:9464", "198.18.0.1:9464", "[::]:9464", "[2001:db8::1]:9464", "localhost:9464"]) {
    assert.throws(
      () => parseMetricsAddress(bad),
      (e: Error) => e instanceof ConfigError && /only loopback addresses/.test(e.message),
      bad,
    );
  }
  for (const bad of ["127.0.0.1", "127.0.0.1:70000", ":9464"])
    assert.throws(() => parseMetricsAddress(bad), ConfigError, bad);
  let err = "";
  const code = await main(["up", "--conf", "/nonexistent.conf", "--metrics", "0.0.0.0:9464"], {
    out: () => undefined,
    err: (t) => (err += t),
  });
  assert.equal(code, 2);
  assert.match(err, /refusing to serve metrics on 0\.0\.0\.0: only loopback addresses/);
});

/** The OpenMetrics body read by the specification-grammar line parser (a grammar violation fails the test). */
function specParser(body: string): Sample[] {
  return parseExposition(body, "openmetrics").flatMap((f) =>
    f.samples.map((s) => ({ name: s.name, labels: s.labels, value: Number(s.value) })),
  );
}

test(
  "status and /metrics: good packets counted with no diagnostic, then a peer truncating HMAC-SHA-256 to 96 bits is named (text, JSON, log, metrics)",
  { timeout: 120_000 },
  async (t) => {
    t.after(() => h.stop());
    await statusAndMetricsScenario(h, specParser);
  },
);

test(
  "up-but-silent: ping logs the diagnostic while the responder is frozen (not before) and clears it when replies verify again",
  { timeout: 120_000 },
  async (t) => {
    t.after(() => h.stop());
    const port = await freePort();
    const R: Side = { addr: "127.0.0.1", id: "resp2.example.org", ts: "203.0.113.2/32" };
    const I: Side = { addr: "127.0.0.2", id: "init2.example.org", ts: "198.51.100.1/32" };
    const rtmp = h.dir("silence-resp"),
      itmp = h.dir("silence-ping");
    const resp = h.startUp(["--listen", "--conf", h.conf(R, I, port)], rtmp);
    await waitFor(resp, /listening on/);
    const ping = h.spawn(
      [
        "ping",
        "--conf",
        h.conf(I, R, port),
        "203.0.113.2",
        "-c",
        "40",
        "-i",
        "0.25",
        "-W",
        "2",
        "--silence-after",
        "1",
      ],
      itmp,
    );
    const until = (re: RegExp, ms = 20_000): Promise<void> => waitFor(ping, re, ms, 50);
    await until(/icmp_seq=2 /);
    assert.doesNotMatch(ping.out(), /up-but-silent/, "no diagnostic while replies come back");
    process.kill(resp.child.pid!, "SIGSTOP");
    try {
      await until(
        /\[ESP\] up-but-silent: SA pair net\{\d+\} \(peer 127\.0\.0\.1\) is up but silent: \d+ packets went out on 0x[0-9a-f]{8} over \d+ s and nothing verified on 0x[0-9a-f]{8}/,
      );
      assert.match(ping.out(), /\(1\) nothing arrives for 0x[0-9a-f]{8}/);
    } finally {
      process.kill(resp.child.pid!, "SIGCONT");
    }
    await until(/\[ESP\] up-but-silent cleared: inbound traffic verifies again on 0x[0-9a-f]{8}/);
    assert.equal(await ping.exited, 0, ping.out());
    assert.match(
      ping.out(),
      /40 packets transmitted, 40 received/,
      "the frozen responder answered everything once thawed",
    );
    assert.equal(h.cli(rtmp, ["down", "--all"]).code, 0);
    assert.equal(await resp.exited, 0);
  },
);
