// The benchmark baselines (bench/baselines: node:crypto and @noble ESP) against scapy's ESP
// implementation (python cryptography), both directions, every bench suite; where the IV is the
// sequence number, scapy given our IV must write the same bytes. Moved from
// test/unit/bench-baselines.test.ts (which keeps the node-only references) because it needs
// Debian's python3-scapy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createNodeCryptoEsp } from "../../bench/baselines/node-crypto-esp.ts";
import { createNobleEsp } from "../../bench/baselines/noble-esp.ts";
import { BENCH_SUITES, type BaselineSa, type BenchSuite, randomBaselineSa } from "../../bench/baselines/esp-layout.ts";
import { ipv4UdpPacket } from "../../bench/packets.ts";
import { requireScapyPython } from "../helpers/interop.ts";

const SUITES = BENCH_SUITES;
/** Suites whose IV is the sequence number, so the same SA and seq give the same bytes everywhere. */
const DETERMINISTIC: BenchSuite[] = ["aes128gcm16", "chacha20poly1305", "aes128ctr-sha256"];
const BASELINES = { "node:crypto": createNodeCryptoEsp, noble: createNobleEsp };
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function randomSa(suite: BenchSuite, spi = 0x0a0b0c0d): BaselineSa {
  return randomBaselineSa(suite, spi);
}

/**
 * Runs scapy's ESP (tunnel mode) on JSON jobs; /usr/bin/python3 is the interpreter with scapy installed.
 * scapy 2.5 names: AES-GCM, AES-CBC, CHACHA20-POLY1305, AES-CTR (key ‖ salt/nonce split by scapy), SHA2-256-128.
 */
const SCAPY = String.raw`
import json, sys
from scapy.all import IP, Raw
from scapy.layers.ipsec import SecurityAssociation, ESP
ALGOS = {"aes128gcm16": ("AES-GCM", "NULL"), "aes128-sha256": ("AES-CBC", "SHA2-256-128"),
         "chacha20poly1305": ("CHACHA20-POLY1305", "NULL"), "aes128ctr-sha256": ("AES-CTR", "SHA2-256-128")}
out = []
for job in json.load(sys.stdin):
    crypt, auth = ALGOS[job["suite"]]
    sa = SecurityAssociation(ESP, spi=job["spi"], crypt_algo=crypt, crypt_key=bytes.fromhex(job["encKey"]),
        auth_algo=auth, auth_key=bytes.fromhex(job["integKey"]) if auth != "NULL" else None,
        tunnel_header=IP(src="10.9.0.1", dst="10.9.0.2"))
    if job["op"] == "decrypt":
        outer = IP(bytes(IP(src="10.9.0.1", dst="10.9.0.2", proto=50) / Raw(bytes.fromhex(job["esp"]))))
        out.append(bytes(sa.decrypt(outer)).hex())
    else:
        iv = bytes.fromhex(job["iv"]) if job.get("iv") else None
        pkt = sa.encrypt(IP(bytes.fromhex(job["inner"])), seq_num=job["seq"], iv=iv)
        out.append(bytes(pkt[ESP]).hex())
print(json.dumps(out))
`;

function scapy(jobs: object[]): string[] {
  const r = spawnSync(requireScapyPython(), ["-c", SCAPY], {
    input: JSON.stringify(jobs),
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

test(
  "scapy decapsulates the baselines' packets and the baselines decapsulate scapy's; IV = seq gives scapy's bytes",
  { timeout: 90_000 },
  () => {
    const jobs: object[] = [];
    const expected: { inner: Uint8Array; check: (wire: string) => void }[] = [];
    for (const suite of SUITES) {
      const sa = randomSa(suite);
      const keys = { suite, spi: sa.spi, encKey: hex(sa.encKey), integKey: sa.integKey ? hex(sa.integKey) : "" };
      for (const [name, make] of Object.entries(BASELINES)) {
        const esp = make(suite, sa);
        for (const size of [28, 64, 1400]) {
          const inner = ipv4UdpPacket(size);
          jobs.push({ ...keys, op: "decrypt", esp: hex(esp.encapsulate(inner)) });
          expected.push({
            inner,
            check: (got) => assert.equal(got, hex(inner), `scapy decrypt of ${name} ${suite} ${size}`),
          });
          jobs.push({ ...keys, op: "encrypt", inner: hex(inner), seq: 7 + size });
          expected.push({
            inner,
            check: (got) => {
              const out = esp.decapsulate(Buffer.from(got, "hex"));
              assert.deepEqual(Buffer.from(out.inner), Buffer.from(inner), `${name} decap of scapy ${suite} ${size}`);
              assert.equal(out.seq, 7 + size);
              assert.equal(out.nextHeader, 4);
            },
          });
        }
        if (DETERMINISTIC.includes(suite)) {
          // a fresh endpoint's first packet has seq 1 and IV 0…01: scapy given that IV must write the same bytes
          const inner = ipv4UdpPacket(333);
          const ours = hex(make(suite, sa).encapsulate(inner));
          jobs.push({ ...keys, op: "encrypt", inner: hex(inner), seq: 1, iv: "0000000000000001" });
          expected.push({ inner, check: (got) => assert.equal(got, ours, `${name} ${suite} bytes vs scapy`) });
        }
      }
    }
    const results = scapy(jobs);
    assert.equal(results.length, expected.length);
    results.forEach((r, i) => expected[i]!.check(r));
  },
);
