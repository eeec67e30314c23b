// Authentication Header (RFC 4302) against scapy's AH (an independent implementation: its own
// header layout, mutable-field zeroing and HMAC): both directions, transport and tunnel mode,
// IPv4 and IPv6, HMAC-SHA-1-96/SHA-256-128/SHA-384-192/SHA-512-256 (IPv6 needs AH padded to
// 8 bytes for the last two), ESN, IPv4 options. Fields routers change (TTL, TOS, DF, hop limit,
// flow label) do not break the ICV; anything else does, and never moves the window.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Dataplane, DataplaneError, type SaConfig } from "../../sdk/index.ts";
import { ipv4Udp, ipv6Udp } from "../helpers/esp-ref.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 41 + seed) & 255);

/** scapy's AH on JSON jobs (/usr/bin/python3 has scapy). Tunnel outer headers: 198.18.0.1 -> 198.18.0.2 or 2001:db8::a -> 2001:db8::b. */
const SCAPY = String.raw`
import json, sys
from scapy.all import IP, IPv6
from scapy.layers.ipsec import SecurityAssociation, AH
ALGOS = {"sha1": "HMAC-SHA1-96", "sha256": "SHA2-256-128", "sha384": "SHA2-384-192", "sha512": "SHA2-512-256"}
out = []
for job in json.load(sys.stdin):
    tunnel = None
    if job["tunnel"] == 4: tunnel = IP(src="198.18.0.1", dst="198.18.0.2")
    if job["tunnel"] == 6: tunnel = IPv6(src="2001:db8::a", dst="2001:db8::b")
    hi = job["seq"] >> 32
    sa = SecurityAssociation(AH, spi=job["spi"], auth_algo=ALGOS[job["alg"]], auth_key=bytes.fromhex(job["key"]),
        tunnel_header=tunnel, esn_en=job["esn"], esn=hi)
    raw = bytes.fromhex(job["packet"])
    pkt = (IP if raw[0] >> 4 == 4 else IPv6)(raw)
    try:
        if job["op"] == "encrypt":
            out.append(bytes(sa.encrypt(pkt, seq_num=job["seq"] & 0xffffffff, esn_en=job["esn"], esn=hi)).hex())
        else:
            out.append(bytes(sa.decrypt(pkt, esn_en=job["esn"], esn=hi)).hex())
    except Exception as e:
        out.append("error: " + type(e).__name__ + " " + str(e))
print(json.dumps(out))
`;

interface Job { op: "encrypt" | "decrypt"; spi: number; alg: string; key: string; esn: boolean; seq: number | bigint; tunnel: 0 | 4 | 6; packet: string }
function scapy(jobs: Job[]): string[] {
  const input = JSON.stringify(jobs, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v));
  const r = spawnSync("/usr/bin/python3", ["-c", SCAPY], { input, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

const KEYS: Record<string, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

interface Setup { dp: Dataplane; out: number; inn: number; key: Uint8Array }
async function ahPair(alg: string, mode: "tunnel" | "transport", outerV: 4 | 6, extra: Partial<SaConfig> = {}): Promise<Setup> {
  const dp = await Dataplane.create({ maxSas: 4, batchSize: 16 });
  const key = bytes(KEYS[alg.replace(/-esn$/, "")], 7);
  const base: SaConfig = { protocol: "ah", spi: 0xa4a4, mode, esp: alg, encKey: new Uint8Array(0), integKey: key, direction: "out", ...extra };
  const tunnel = outerV === 4 ? { src: "198.18.0.1", dst: "198.18.0.2" } : { src: "2001:db8::a", dst: "2001:db8::b" };
  const out = dp.addSa({ ...base, tunnel: mode === "tunnel" ? tunnel : undefined });
  const inn = dp.addSa({ ...base, direction: "in" });
  return { dp, out, inn, key };
}

/** IPv4 with options: Router Alert (immutable, stays in the ICV) and Record Route (mutable, zeroed). */
function ipv4WithOptions(payload: number): Uint8Array {
  const opts = [0x94, 4, 0, 0, 0x07, 7, 4, 0, 0, 0, 0, 0];
  const p = Buffer.alloc(32 + 8 + payload, 0x5c);
  p.set([0x48, 0x10, 0, 0, 0xbe, 0xef, 0x40, 0, 33, 17, 0, 0, 198, 51, 100, 7, 203, 0, 113, 9, ...opts]);
  p.writeUInt16BE(p.length, 2);
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum += p.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  p.writeUInt16BE(~sum & 0xffff, 10);
  p.writeUInt16BE(5000, 32); p.writeUInt16BE(5001, 34); p.writeUInt16BE(8 + payload, 36); p.writeUInt16BE(0, 38);
  return new Uint8Array(p);
}

const CASES: { alg: string; mode: "tunnel" | "transport"; v: 4 | 6 }[] = [];
for (const alg of ["sha256", "sha1", "sha384", "sha512"]) {
  for (const mode of ["transport", "tunnel"] as const) for (const v of [4, 6] as const) CASES.push({ alg, mode, v });
}

test("AH both ways against scapy: transport and tunnel, IPv4 and IPv6, four HMACs, ESN across 2^32, IPv4 options", async () => {
  const jobs: Job[] = [];
  const checks: ((got: string) => void)[] = [];
  for (const { alg, mode, v } of [...CASES, { alg: "sha256-esn", mode: "transport" as const, v: 4 as const }, { alg: "sha512-esn", mode: "tunnel" as const, v: 6 as const }]) {
    const esn = alg.endsWith("-esn");
    const start = esn ? 0xfffffffen : 0n;
    const s = await ahPair(alg, mode, v, { seq: start });
    const h = alg.replace(/-esn$/, "");
    const inners = mode === "transport"
      ? (v === 4 ? [ipv4Udp(0), ipv4Udp(301), ipv4WithOptions(20)] : [ipv6Udp(0), ipv6Udp(257)])
      : [ipv4Udp(64), ipv6Udp(99), ipv4WithOptions(3)];
    const where = `${alg} ${mode} IPv${v}`;
    for (const [i, inner] of inners.entries()) {
      const seq = start + BigInt(i + 1);
      const e = s.dp.encapsulate(s.out, inner);
      assert.equal(e.status, "ok", where);
      assert.equal(e.seq, seq);
      const pkt = e.packet!;
      assert.equal(pkt.length - inner.length, s.dp.overhead(s.out, inner.length, { ipVersion: mode === "tunnel" ? v : (inner[0] >> 4) as 4 | 6 }), `${where}: overhead()`);
      // scapy verifies and strips ours (for tunnel mode it returns the inner packet).
      jobs.push({ op: "decrypt", spi: 0xa4a4, alg: h, key: hex(s.key), esn, seq, tunnel: mode === "tunnel" ? v : 0, packet: hex(pkt) });
      checks.push((got) => assert.equal(got, hex(inner), `${where} #${i}: scapy decrypts ours`));
      // We decapsulate our own and scapy's packets.
      const hl = mode === "tunnel" ? (v === 4 ? 20 : 40) : inner[0] >> 4 === 4 ? (inner[0] & 15) * 4 : 40;
      const d = s.dp.decapsulate(pkt, hl);
      assert.equal(d.status, "ok", `${where} #${i}: our decap of ours`);
      assert.deepEqual(d.payload, inner);
      jobs.push({ op: "encrypt", spi: 0xa4a4, alg: h, key: hex(s.key), esn, seq: seq + 100n, tunnel: mode === "tunnel" ? v : 0, packet: hex(inner) });
      checks.push((got) => {
        assert.ok(!got.startsWith("error"), got);
        const theirs = unhex(got);
        const r = s.dp.decapsulate(theirs, hl);
        assert.equal(r.status, "ok", `${where} #${i}: our decap of scapy's`);
        assert.deepEqual(r.payload, inner);
        assert.equal(r.seq, seq + 100n);
        assert.equal(r.nextHeader, mode === "tunnel" ? (inner[0] >> 4 === 4 ? 4 : 41) : 17);
      });
    }
  }
  const results = scapy(jobs);
  assert.equal(results.length, checks.length);
  results.forEach((r, i) => checks[i](r));
});

test("AH: what routers change does not matter, anything else fails; failures never move the window", async () => {
  for (const v of [4, 6] as const) {
    const s = await ahPair("sha256", "transport", v);
    const inner = v === 4 ? ipv4Udp(40) : ipv6Udp(40);
    const hl = v === 4 ? 20 : 40;
    const mutable = v === 4 ? [1, 6, 8, 10, 11] : [0, 1, 2, 3, 7]; // TOS, flags, TTL, checksum / traffic class, flow label, hop limit
    for (const at of mutable) {
      const pkt = s.dp.encapsulate(s.out, inner).packet!.slice();
      pkt[at] ^= at === 0 ? 0x0f : 0x40; // (IPv6 byte 0: only the traffic-class nibble)
      assert.equal(s.dp.decapsulate(pkt, hl).status, "ok", `IPv${v}: byte ${at} is mutable`);
    }
    const top = s.dp.replayState(s.inn).top;
    const good = s.dp.encapsulate(s.out, inner).packet!;
    let failed = 0;
    for (let at = 0; at < good.length; at++) {
      if (mutable.includes(at)) continue;
      const bad = good.slice();
      bad[at] ^= at === 0 ? 0x01 : 0x80;
      const d = s.dp.decapsulate(bad, hl);
      assert.notEqual(d.status, "ok", `IPv${v} byte ${at}`);
      assert.equal(d.payload, undefined);
      failed++;
    }
    assert.ok(failed > 80);
    assert.equal(s.dp.replayState(s.inn).top, top, "no failed packet moved the window");
    for (let n = 0; n < good.length; n++) assert.notEqual(s.dp.decapsulate(good.subarray(0, n), Math.min(hl, n)).status, "ok");
    assert.equal(s.dp.decapsulate(good, hl).status, "ok");
    assert.equal(s.dp.decapsulate(good, hl).status, "replay");
    const st = s.dp.stats(s.inn);
    assert.equal(st.protocol, "ah");
    assert.ok(st.drops["integrity-failed"] > 0n);
  }
});

test("AH integrity gateway: verify-only forwards the packet unchanged; AH and ESP SPIs share one table", async () => {
  const s = await ahPair("sha256", "tunnel", 4);
  const gw = await Dataplane.create({ maxSas: 2 });
  const g = gw.addSa({ protocol: "ah", spi: 0xa4a4, direction: "in", mode: "tunnel", esp: "sha256", encKey: new Uint8Array(0), integKey: s.key, verifyOnly: true });
  const pkt = s.dp.encapsulate(s.out, ipv4Udp(10)).packet!;
  const r = gw.decapsulate(pkt, 20);
  assert.equal(r.status, "ok");
  assert.deepEqual(r.payload, pkt);
  assert.equal(gw.stats(g).packets, 1n);
  assert.throws(() => gw.addSa({ spi: 0xa4a4, direction: "in", mode: "tunnel", esp: "aes128gcm16", encKey: new Uint8Array(20) }), /already exists/);
  // An ESP SA's SPI in an AH header is no AH SA.
  const esp = await Dataplane.create({ maxSas: 2 });
  esp.addSa({ spi: 0xa4a4, direction: "in", mode: "tunnel", esp: "null-sha256", encKey: new Uint8Array(0), integKey: s.key });
  assert.equal(esp.decapsulate(pkt, 20).status, "no-sa");
});

test("AH configuration: keywords, the outer addresses tunnel mode needs, what AH does not do; MTU arithmetic", async () => {
  const dp = await Dataplane.create({ maxSas: 4 });
  const base: SaConfig = { protocol: "ah", spi: 0x5000, direction: "out", mode: "tunnel", esp: "sha256", encKey: new Uint8Array(0), integKey: new Uint8Array(32) };
  const refuse: [Partial<SaConfig>, string, RegExp][] = [
    [{}, "BAD_ARGUMENT", /needs tunnel: \{ src, dst \}/],
    [{ tunnel: { src: "198.18.0.1", dst: "2001:db8::1" } }, "BAD_ARGUMENT", /two IPv4 or two IPv6/],
    [{ esp: "aes128gcm16" }, "BAD_PROPOSAL", /unknown AH proposal.*sha256_96/],
    [{ mode: "transport", tfc: 500 }, "BAD_ARGUMENT", /AH carries no padding/],
    [{ mode: "transport", encKey: new Uint8Array(16) }, "BAD_KEY_LENGTH", /must be 0/],
  ];
  for (const [patch, code, msg] of refuse) {
    assert.throws(() => dp.addSa({ ...base, ...patch }), (e: unknown) => e instanceof DataplaneError && e.code === code && msg.test(e.message), JSON.stringify(patch));
  }
  const t6 = dp.addSa({ ...base, esp: "sha512", integKey: new Uint8Array(64), tunnel: { src: "2001:db8::a", dst: "2001:db8::b" } });
  assert.throws(() => dp.encapsulateDummy(t6, 10), /outbound ESP SA/);
  // AH-SHA-512-256 over IPv6: 12 + 32 = 44, padded to 48; plus the outer IPv6 header.
  assert.equal(dp.overhead(t6, 100, { ipVersion: 6 }), 88);
  const l = dp.innerMtu(t6, 1280, { ipVersion: 6 });
  assert.equal(l, 1280 - 88);
  assert.equal(dp.encapsulate(t6, ipv6Udp(l - 48)).packet!.length, 1280);
  assert.equal(dp.stats(t6).protocol, "ah");
});

test("fuzz: random IP headers claiming AH or ESP, random lengths and SPIs of every SA kind: never ok, never a trap", async () => {
  const dp = await Dataplane.create({ maxSas: 16, batchSize: 64 });
  const spis = [0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1006];
  dp.addSa({ protocol: "ah", spi: spis[0], direction: "in", mode: "transport", esp: "sha256", encKey: new Uint8Array(0), integKey: bytes(32, 1) });
  dp.addSa({ protocol: "ah", spi: spis[1], direction: "in", mode: "tunnel", esp: "sha512-esn", encKey: new Uint8Array(0), integKey: bytes(64, 2), verifyOnly: true });
  dp.addSa({ spi: spis[2], direction: "in", mode: "transport", esp: "chacha20poly1305", encKey: bytes(36, 3) });
  dp.addSa({ spi: spis[3], direction: "in", mode: "tunnel", esp: "aes128gmac-esn", encKey: bytes(20, 4) });
  dp.addSa({ spi: spis[4], direction: "in", mode: "transport", esp: "aes256ctr-sha384", encKey: bytes(36, 5), integKey: bytes(48, 6) });
  dp.addSa({ spi: spis[5], direction: "in", mode: "tunnel", esp: "aes128-sha1", encKey: new Uint8Array(0), integKey: bytes(20, 7), verifyOnly: true });
  let rnd = 2024;
  const next = (n: number): number => { rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0; return (rnd >>> 8) % n; };
  let runs = 0;
  for (let round = 0; round < 60; round++) {
    const pkts: Uint8Array[] = [];
    const l3s: number[] = [];
    for (let k = 0; k < 50; k++) {
      const len = next(400);
      const p = Uint8Array.from({ length: len }, () => next(256));
      let l3 = 0;
      if (len >= 40 && next(3) > 0) {
        const v6 = next(2) === 1;
        l3 = v6 ? 40 + 8 * next(3) : 20 + 4 * next(3);
        if (l3 > len) l3 = 0;
        else if (v6) { p[0] = 0x60; p[6] = l3 > 40 ? [0, 60][next(2)] : 51; if (l3 > 40) { p[40] = 51; p[41] = (l3 - 48) / 8; } }
        else { p[0] = 0x40 | (l3 / 4); p[9] = [51, 50, 17][next(3)]; p[6] = next(2) ? 0 : p[6]; }
      }
      if (len >= l3 + 12) {
        const spi = spis[next(spis.length)];
        const at = l3 + (l3 && (p[9] === 51 || p[0] >> 4 === 6) ? 4 : 0);
        if (at + 4 <= len) p.set([spi >>> 24, (spi >>> 16) & 255, (spi >>> 8) & 255, spi & 255], at);
      }
      pkts.push(p);
      l3s.push(l3);
    }
    for (const r of dp.decapsulateBatch(pkts, l3s)) {
      assert.notEqual(r.status, "ok");
      assert.equal(r.payload, undefined);
      runs++;
    }
  }
  assert.equal(runs, 3000);
  for (const h of dp.handles()) assert.equal(dp.replayState(h).top, 0n);
});
