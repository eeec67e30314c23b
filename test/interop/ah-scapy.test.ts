// Authentication Header (RFC 4302) against scapy's AH (an independent implementation: its own
// header layout, mutable-field zeroing and HMAC): both directions, transport and tunnel mode,
// IPv4 and IPv6, HMAC-SHA-1-96/SHA-256-128/SHA-384-192/SHA-512-256 (IPv6 needs AH padded to
// 8 bytes for the last two), ESN, IPv4 options. Moved from test/unit/dataplane-ah.test.ts (which
// keeps the node-only AH tests) because it needs Debian's python3-scapy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { ipv4Udp, ipv6Udp } from "../helpers/esp-ref.ts";
import { ahPair, hex, unhex } from "../helpers/ah.ts";
import { requireScapyPython } from "../helpers/interop.ts";

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

interface Job {
  op: "encrypt" | "decrypt";
  spi: number;
  alg: string;
  key: string;
  esn: boolean;
  seq: number | bigint;
  tunnel: 0 | 4 | 6;
  packet: string;
}
function scapy(jobs: Job[]): string[] {
  const input = JSON.stringify(jobs, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v));
  const r = spawnSync(requireScapyPython(), ["-c", SCAPY], { input, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
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
  p.writeUInt16BE(5000, 32);
  p.writeUInt16BE(5001, 34);
  p.writeUInt16BE(8 + payload, 36);
  p.writeUInt16BE(0, 38);
  return new Uint8Array(p);
}

const CASES: { alg: string; mode: "tunnel" | "transport"; v: 4 | 6 }[] = [];
for (const alg of ["sha256", "sha1", "sha384", "sha512"]) {
  for (const mode of ["transport", "tunnel"] as const) for (const v of [4, 6] as const) CASES.push({ alg, mode, v });
}

test(
  "AH both ways against scapy: transport and tunnel, IPv4 and IPv6, four HMACs, ESN across 2^32, IPv4 options",
  { timeout: 150_000 },
  async () => {
    const jobs: Job[] = [];
    const checks: ((got: string) => void)[] = [];
    for (const { alg, mode, v } of [
      ...CASES,
      { alg: "sha256-esn", mode: "transport" as const, v: 4 as const },
      { alg: "sha512-esn", mode: "tunnel" as const, v: 6 as const },
    ]) {
      const esn = alg.endsWith("-esn");
      const start = esn ? 0xfffffffen : 0n;
      const s = await ahPair(alg, mode, v, { seq: start });
      const h = alg.replace(/-esn$/, "");
      const inners =
        mode === "transport"
          ? v === 4
            ? [ipv4Udp(0), ipv4Udp(301), ipv4WithOptions(20)]
            : [ipv6Udp(0), ipv6Udp(257)]
          : [ipv4Udp(64), ipv6Udp(99), ipv4WithOptions(3)];
      const where = `${alg} ${mode} IPv${v}`;
      for (const [i, inner] of inners.entries()) {
        const seq = start + BigInt(i + 1);
        const e = s.dp.encapsulate(s.out, inner);
        assert.equal(e.status, "ok", where);
        assert.equal(e.seq, seq);
        const pkt = e.packet!;
        assert.equal(
          pkt.length - inner.length,
          s.dp.overhead(s.out, inner.length, { ipVersion: mode === "tunnel" ? v : ((inner[0]! >> 4) as 4 | 6) }),
          `${where}: overhead()`,
        );
        // scapy verifies and strips ours (for tunnel mode it returns the inner packet).
        jobs.push({
          op: "decrypt",
          spi: 0xa4a4,
          alg: h,
          key: hex(s.key),
          esn,
          seq,
          tunnel: mode === "tunnel" ? v : 0,
          packet: hex(pkt),
        });
        checks.push((got) => assert.equal(got, hex(inner), `${where} #${i}: scapy decrypts ours`));
        // We decapsulate our own and scapy's packets.
        const hl = mode === "tunnel" ? (v === 4 ? 20 : 40) : inner[0]! >> 4 === 4 ? (inner[0]! & 15) * 4 : 40;
        const d = s.dp.decapsulate(pkt, hl);
        assert.equal(d.status, "ok", `${where} #${i}: our decap of ours`);
        assert.deepEqual(d.payload, inner);
        jobs.push({
          op: "encrypt",
          spi: 0xa4a4,
          alg: h,
          key: hex(s.key),
          esn,
          seq: seq + 100n,
          tunnel: mode === "tunnel" ? v : 0,
          packet: hex(inner),
        });
        checks.push((got) => {
          assert.ok(!got.startsWith("error"), got);
          const theirs = unhex(got);
          const r = s.dp.decapsulate(theirs, hl);
          assert.equal(r.status, "ok", `${where} #${i}: our decap of scapy's`);
          assert.deepEqual(r.payload, inner);
          assert.equal(r.seq, seq + 100n);
          assert.equal(r.nextHeader, mode === "tunnel" ? (inner[0]! >> 4 === 4 ? 4 : 41) : 17);
        });
      }
    }
    const results = scapy(jobs);
    assert.equal(results.length, checks.length);
    results.forEach((r, i) => checks[i]!(r));
  },
);
