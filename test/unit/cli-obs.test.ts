// `ipsec-wasm up` observability, end to end over loopback UDP: two `up` processes negotiate
// (IKE AES-GCM, ESP aes128-sha256 = HMAC-SHA-256 with RFC 4868's 128-bit ICV). Packets built with
// node:crypto from the keys `--wireshark-keys` exported are sent to the responder: first three
// good echo requests (answered through the tunnel), then packets of a peer that truncates to 96
// bits (the Linux `auth hmac(sha256)` default of seed 000). `status` must show no diagnostic
// before and name the mismatch after (text and JSON) with the fix, count the failures as the
// kernel's XfrmInStateProtoError, and `up` must log it; the `--metrics` endpoint, read by
// python3-prometheus-client's OpenMetrics parser, must carry the same counters and the diagnostic.
// Up-but-silent: `ipsec-wasm ping --silence-after 1` against a responder we freeze (SIGSTOP) and
// thaw (SIGCONT) must log the diagnostic (nothing arrives, with the SPIs) only while frozen, and
// its clearing once replies verify again. Also: `--metrics` refuses non-loopback addresses.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMetricsAddress } from "../../sdk/cli/up.ts";
import { main } from "../../sdk/cli/main.ts";
import { ConfigError } from "../../sdk/config/errors.ts";
import { icmpEcho } from "../../sdk/packet/icmp.ts";
import { refEncap } from "../helpers/esp-ref.ts";
import { SYSTEM_PYTHON, repoPath, unhex } from "../helpers/interop.ts";

const CLI = repoPath("bin/ipsec-wasm.mjs");
const work = mkdtempSync(join(tmpdir(), "ipsec-wasm-cli-obs-"));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

test("--metrics: loopback addresses only, port 0 allowed, clear refusal otherwise", async () => {
  assert.deepEqual(parseMetricsAddress("127.0.0.1:9464"), { host: "127.0.0.1", port: 9464 });
  assert.deepEqual(parseMetricsAddress("127.8.9.10:0"), { host: "127.8.9.10", port: 0 });
  assert.deepEqual(parseMetricsAddress("[::1]:9464"), { host: "::1", port: 9464 });
  for (const bad of ["0.0.0.0:9464", "198.18.0.1:9464", "[::]:9464", "[2001:db8::1]:9464", "localhost:9464"]) {
    assert.throws(() => parseMetricsAddress(bad), (e: Error) => e instanceof ConfigError && /only loopback addresses/.test(e.message), bad);
  }
  for (const bad of ["127.0.0.1", "127.0.0.1:70000", ":9464"]) assert.throws(() => parseMetricsAddress(bad), ConfigError, bad);
  let err = "";
  const code = await main(["up", "--conf", "/nonexistent.conf", "--metrics", "0.0.0.0:9464"], { out: () => undefined, err: (t) => (err += t) });
  assert.equal(code, 2);
  assert.match(err, /refusing to serve metrics on 0\.0\.0\.0: only loopback addresses/);
});

async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const s = createSocket("udp4");
    const port = await new Promise<number>((r) => s.bind(0, "127.0.0.1", () => r(s.address().port)));
    const t = createSocket("udp4");
    const ok = await new Promise<boolean>((r) => { t.once("error", () => r(false)); t.bind(port, "127.0.0.2", () => r(true)); });
    s.close();
    if (ok) t.close();
    if (ok) return port;
  }
  throw new Error("no free UDP port on 127.0.0.1 and 127.0.0.2");
}

interface Side { addr: string; id: string; ts: string }
function conf(me: Side, peer: Side, port: number): string {
  const path = join(work, `${me.id}.conf`);
  writeFileSync(path, `connections {
  t {
    local_addrs = ${me.addr}
    remote_addrs = ${peer.addr}
    local_port = ${port}
    remote_port = ${port}
    proposals = aes128gcm16-prfsha256-x25519
    local {
      auth = psk
      id = ${me.id}
    }
    remote {
      auth = psk
      id = ${peer.id}
    }
    children {
      net {
        local_ts = ${me.ts}
        remote_ts = ${peer.ts}
        esp_proposals = aes128-sha256
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = ${me.id}
    id-2 = ${peer.id}
    secret = cli-obs-test-psk-not-secret
  }
}
`);
  return path;
}

interface Proc { child: ChildProcess; out: () => string; exited: Promise<number> }
function startUp(args: string[], tmp: string): Proc {
  const child = spawn(process.execPath, [CLI, "up", ...args], { env: { ...process.env, TMPDIR: tmp }, cwd: repoPath(".") });
  children.push(child);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  return { child, out: () => out, exited: new Promise<number>((r) => child.on("exit", (c) => r(c ?? -1))) };
}
async function waitFor(p: Proc, re: RegExp, ms = 20_000): Promise<void> {
  for (let t = 0; t < ms && !re.test(p.out()); t += 100) await new Promise((r) => setTimeout(r, 100));
  assert.match(p.out(), re);
}
function cli(tmp: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, TMPDIR: tmp }, encoding: "utf8", timeout: 30_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** The esp_sa line of the SA from `src`: SPI and keys (Wireshark's UAT fields, quoted). */
function exportedSa(file: string, src: string): { spi: number; encKey: Uint8Array; integKey: Uint8Array } {
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const f = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    if (f.length === 8 && f[1] === src) return { spi: Number(f[3]), encKey: unhex(f[5].slice(2)), integKey: unhex(f[7].slice(2)) };
  }
  throw new Error(`no esp_sa line from ${src} in ${file}`);
}

/** One metric sample as python3-prometheus-client's OpenMetrics parser reads it. */
interface Sample { name: string; labels: Record<string, string>; value: number }

/** GET /metrics asking for OpenMetrics; the body parsed by prometheus_client (a parse error fails the test). */
async function scrape(url: string): Promise<{ contentType: string; samples: Sample[] }> {
  const res = await fetch(url, { headers: { accept: "application/openmetrics-text; version=1.0.0" } });
  assert.equal(res.status, 200);
  const body = await res.text();
  const py = [
    "import sys, json",
    "from prometheus_client.openmetrics.parser import text_string_to_metric_families",
    "out = [[s.name, s.labels, s.value] for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples]",
    "print(json.dumps(out))",
  ].join("\n");
  const r = spawnSync(SYSTEM_PYTHON, ["-c", py], { input: body, encoding: "utf8" });
  assert.equal(r.status, 0, `prometheus_client rejected the exposition:\n${r.stderr}\n${body}`);
  const samples = (JSON.parse(r.stdout) as [string, Record<string, string>, number][]).map(([name, labels, value]) => ({ name, labels, value }));
  return { contentType: res.headers.get("content-type") ?? "", samples };
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

test("status and /metrics: good packets counted with no diagnostic, then a peer truncating HMAC-SHA-256 to 96 bits is named (text, JSON, log, metrics)", async () => {
  const port = await freePort();
  const R: Side = { addr: "127.0.0.1", id: "resp.example.org", ts: "203.0.113.2/32" };
  const I: Side = { addr: "127.0.0.2", id: "init.example.org", ts: "198.51.100.1/32" };
  const rtmp = join(work, "resp-ctl"), itmp = join(work, "init-ctl");
  mkdirSync(rtmp);
  mkdirSync(itmp);
  const keys = join(work, "keys");
  const resp = startUp(["--listen", "--conf", conf(R, I, port), "--wireshark-keys", keys, "--metrics", "127.0.0.1:0"], rtmp);
  await waitFor(resp, /listening on/);
  const url = /up: metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(resp.out())?.[1];
  assert.ok(url, resp.out());
  const init = startUp(["--conf", conf(I, R, port)], itmp);
  await waitFor(init, /ESTABLISHED, IKEv2/);
  await waitFor(resp, /up: CHILD_SA net/);

  const clean = cli(rtmp, ["status"]);
  assert.equal(clean.code, 0, clean.out);
  assert.match(clean.out, /^t: #\d+, ESTABLISHED, IKEv2, [0-9a-f]{16}_i [0-9a-f]{16}_r\*$/m);
  assert.match(clean.out, /ESP:AES_CBC-128\/HMAC_SHA2_256_128/);
  assert.match(clean.out, /auth-trunc hmac\(sha256\) .* 128$/m);
  assert.match(clean.out, /no active diagnostics/);

  const sa = exportedSa(join(keys, "esp_sa"), I.addr);
  const spiHex = `0x${sa.spi.toString(16).padStart(8, "0")}`;
  const sock = createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, I.addr, () => r()));
  const send = async (seq: number, icv: number): Promise<void> => {
    const esp = refEncap({ spi: sa.spi, suite: "cbc", key: sa.encKey, integKey: sa.integKey, hash: "sha256", icv }, BigInt(seq),
      icmpEcho("198.51.100.1", "203.0.113.2", 99, seq), 4, { iv: new Uint8Array(16).fill(seq) });
    await new Promise<void>((r) => sock.send(esp, port, R.addr, () => r()));
  };
  // Three good echo requests: counted in, answered out, no diagnostic.
  for (let seq = 1; seq <= 3; seq++) await send(seq, 16);
  let m = await scrape(url);
  for (let i = 0; i < 50 && value(m.samples, "ipsec_sa_packets_total", { spi: spiHex }) !== 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    m = await scrape(url);
  }
  assert.match(m.contentType, /^application\/openmetrics-text; version=1\.0\.0/);
  const labels = { spi: spiHex, direction: "in", child: "net", peer: I.addr, suite: "aes128-sha256" };
  assert.equal(value(m.samples, "ipsec_sa_packets_total", labels), 3, JSON.stringify(m.samples.filter((s) => s.labels.spi === spiHex)));
  assert.equal(value(m.samples, "ipsec_sa_icv_bits", labels), 128);
  assert.equal(value(m.samples, "ipsec_sa_packets_total", { direction: "out", child: "net" }), 3, "the echo replies went out");
  assert.equal(value(m.samples, "ipsec_diagnostics_active", {}), 0);

  // A peer with Linux's 96-bit truncation: right keys, right SPI, 12-byte ICV.
  const sent = 6;
  for (let seq = 4; seq < 4 + sent; seq++) {
    await send(seq, 12);
    // the detector samples at most 4 failures per SA per second: spread them out
    await new Promise((r) => setTimeout(r, 300));
  }
  sock.close();
  await waitFor(resp, new RegExp(`\\[ESP\\] .*SA ${spiHex} \\(aes128-sha256, 128-bit ICV\\).*96-bit ICV`));

  const text = cli(rtmp, ["status"]);
  assert.equal(text.code, 0, text.out);
  assert.match(text.out, /1 active diagnostic:/);
  // (with CBC a 12-byte ICV read as 16 leaves the ciphertext off the block size: the dataplane may
  // call that an integrity failure, as the kernel does, or a length it cannot have, "truncated")
  assert.match(text.out, new RegExp(`icv-truncation: SA ${spiHex} \\(aes128-sha256, 128-bit ICV\\): ${sent} (integrity failures|packets dropped as truncated)\\b.*96-bit ICV`));
  assert.match(text.out, /fix: .*aes128-sha256_96/);
  assert.match(text.out, new RegExp(`XfrmInStateProtoError\\s+${sent}$`, "m"));

  const json = cli(rtmp, ["status", "--json"]);
  assert.equal(json.code, 0, json.out);
  const reports = JSON.parse(json.out) as { diagnostics: { kind: string; spi: number; peerIcvBits?: number }[]; ikeSas: { children: { icvBits: number }[] }[] }[];
  assert.equal(reports.length, 1);
  assert.deepEqual(reports[0].diagnostics.map((d) => [d.kind, d.spi, d.peerIcvBits]), [["icv-truncation", sa.spi, 96]]);
  assert.equal(reports[0].ikeSas[0].children[0].icvBits, 128);

  m = await scrape(url);
  assert.equal(value(m.samples, "ipsec_diagnostics_active", {}), 1);
  assert.equal(value(m.samples, "ipsec_sa_packets_total", labels), 3, "failed packets are not counted as processed");
  const dropped = m.samples.filter((s) => s.name === "ipsec_sa_drops_total" && s.labels.spi === spiHex).reduce((n, s) => n + s.value, 0);
  assert.equal(dropped, sent);
  assert.equal(value(m.samples, "ipsec_xfrm_stat_total", { stat: "XfrmInStateProtoError" }), sent);

  const down = cli(itmp, ["down", "--all"]);
  assert.equal(down.code, 0, down.out);
  assert.equal(await init.exited, 0);
  assert.equal(cli(rtmp, ["down", "--all"]).code, 0);
  assert.equal(await resp.exited, 0);
});

test("up-but-silent: ping logs the diagnostic while the responder is frozen (not before) and clears it when replies verify again", async () => {
  const port = await freePort();
  const R: Side = { addr: "127.0.0.1", id: "resp2.example.org", ts: "203.0.113.2/32" };
  const I: Side = { addr: "127.0.0.2", id: "init2.example.org", ts: "198.51.100.1/32" };
  const rtmp = join(work, "silence-resp"), itmp = join(work, "silence-ping");
  mkdirSync(rtmp);
  mkdirSync(itmp);
  const resp = startUp(["--listen", "--conf", conf(R, I, port)], rtmp);
  await waitFor(resp, /listening on/);
  const ping = spawn(process.execPath, [CLI, "ping", "--conf", conf(I, R, port), "203.0.113.2", "-c", "40", "-i", "0.25", "-W", "2", "--silence-after", "1"],
    { env: { ...process.env, TMPDIR: itmp }, cwd: repoPath(".") });
  children.push(ping);
  let out = "";
  ping.stdout.on("data", (d) => (out += d));
  ping.stderr.on("data", (d) => (out += d));
  const exited = new Promise<number>((r) => ping.on("exit", (c) => r(c ?? -1)));
  const until = async (re: RegExp, ms = 20_000): Promise<void> => {
    for (let t = 0; t < ms && !re.test(out); t += 50) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, re);
  };
  await until(/icmp_seq=2 /);
  assert.doesNotMatch(out, /up-but-silent/, "no diagnostic while replies come back");
  process.kill(resp.child.pid!, "SIGSTOP");
  try {
    await until(/\[ESP\] up-but-silent: SA pair net\{\d+\} \(peer 127\.0\.0\.1\) is up but silent: \d+ packets went out on 0x[0-9a-f]{8} over \d+ s and nothing verified on 0x[0-9a-f]{8}/);
    assert.match(out, /\(1\) nothing arrives for 0x[0-9a-f]{8}/);
  } finally {
    process.kill(resp.child.pid!, "SIGCONT");
  }
  await until(/\[ESP\] up-but-silent cleared: inbound traffic verifies again on 0x[0-9a-f]{8}/);
  assert.equal(await exited, 0, out);
  assert.match(out, /40 packets transmitted, 40 received/, "the frozen responder answered everything once thawed");
  assert.equal(cli(rtmp, ["down", "--all"]).code, 0);
  assert.equal(await resp.exited, 0);
});
