// Live two-way ESP interop with scapy (test/interop/scapy_esp.py, run by /usr/bin/python3):
// packets we encapsulate must decrypt in scapy to the originals, packets scapy encrypts (random
// IVs, its own padding) must decapsulate in our dataplane to the originals, and a tampered
// packet must fail in both. One python process answers every case at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import type { IcvLength, SaConfig } from "../../sdk/dataplane/types.ts";
import {
  concat, espInUdp, hex, ipv4Header, ipv6Header, prng, randomPacket, repoPath, requireScapyPython, run, unhex,
} from "../helpers/interop.ts";

const SUITES: Record<string, { key: number; integ: number; icv: IcvLength }> = {
  aes128gcm16: { key: 20, integ: 0, icv: 16 },
  aes256gcm16: { key: 36, integ: 0, icv: 16 },
  aes128gcm8: { key: 20, integ: 0, icv: 8 },
  aes128gcm12: { key: 20, integ: 0, icv: 12 },
  "aes128-sha256": { key: 16, integ: 32, icv: 16 },
  "aes128-sha256_96": { key: 16, integ: 32, icv: 12 },
  "aes256-sha1": { key: 32, integ: 20, icv: 12 },
  "null-sha256": { key: 0, integ: 32, icv: 16 },
};
// tunnel: inner family "in" outer family; transport: the packet's own family
const FAMILIES = { tunnel: ["4in4", "6in6", "4in6", "6in4"], transport: ["4", "6"] } as const;
const OUTER = { v4: ["198.18.0.1", "198.18.0.2"], v6: ["2001:db8:ffff::1", "2001:db8:ffff::2"] };
const INNER = { v4: ["198.51.100.10", "203.0.113.20"], v6: ["2001:db8:100::10", "2001:db8:200::20"] };
const PACKETS = 8;

interface ScapySa {
  spi: number;
  mode: "tunnel" | "transport";
  esp: string;
  encKey: string;
  integKey?: string;
  icvLength: IcvLength;
  esn: boolean;
}

interface Case {
  name: string;
  sa: ScapySa;
  outer: "4" | "6";
  /** ESP in UDP 4500 both ways (RFC 3948). */
  natt: boolean;
  /** Originals we encapsulated (→ scapy decrypts `ours`). */
  sent: Uint8Array[];
  ours: { wire: string; seq: string }[];
  /** Originals scapy encrypts (→ we decapsulate). */
  forScapy: Uint8Array[];
  scapySeqs: bigint[];
  encStatus: string[];
}

interface Answer {
  cases: { encrypt: { wire: string; l3HeaderLength: number }[]; decrypt: ({ ok: true; packet: string } | { ok: false; error: string })[] }[];
}

function config(c: Case, direction: "in" | "out", seq: bigint): SaConfig {
  return {
    spi: c.sa.spi, direction, mode: c.sa.mode, esp: c.sa.esp, encKey: unhex(c.sa.encKey),
    integKey: c.sa.integKey === undefined ? undefined : unhex(c.sa.integKey), icvLength: c.sa.icvLength, esn: c.sa.esn, seq,
  };
}

const rnd = prng(0x5ca9e);
const dp = await Dataplane.create({ maxSas: 256 });
const cases: Case[] = [];

function addCase(suite: string, mode: "tunnel" | "transport", family: string, firstSeq: bigint, esn: boolean, natt = false): void {
  const s = SUITES[suite];
  const sa: ScapySa = {
    spi: rnd.int(0x1000, 0x7fffffff), mode, esp: suite, encKey: hex(rnd.bytes(s.key)),
    integKey: s.integ ? hex(rnd.bytes(s.integ)) : undefined, icvLength: s.icv, esn,
  };
  const innerV6 = family[0] === "6";
  const outer = family[family.length - 1] as "4" | "6";
  const [src, dst] = mode === "tunnel" ? (innerV6 ? INNER.v6 : INNER.v4) : innerV6 ? OUTER.v6 : OUTER.v4;
  const c: Case = {
    name: `${suite}${esn ? "-esn" : ""} ${mode} ${family}${natt ? " udp4500" : ""}`, sa, outer, natt, sent: [], ours: [], forScapy: [],
    scapySeqs: [], encStatus: [],
  };
  const h = dp.addSa(config(c, "out", firstSeq - 1n));
  for (let i = 0; i < PACKETS; i++) {
    const pkt = randomPacket(rnd, innerV6, src, dst, i === 0 ? 1400 : 200);
    const r = dp.encapsulate(h, pkt);
    c.encStatus.push(r.status);
    if (r.status !== "ok" || !r.packet) continue;
    let wire = r.packet;
    if (mode === "tunnel") {
      const [os, od] = outer === "4" ? OUTER.v4 : OUTER.v6;
      wire = concat(outer === "4" ? ipv4Header(os, od, 50, wire.length) : ipv6Header(os, od, 50, wire.length), wire);
    }
    if (natt) wire = espInUdp(wire);
    c.sent.push(pkt);
    c.ours.push({ wire: hex(wire), seq: r.seq.toString() });
    c.forScapy.push(randomPacket(rnd, innerV6, src, dst, i === 0 ? 1400 : 200));
    c.scapySeqs.push(firstSeq + BigInt(i));
  }
  cases.push(c);
}

for (const suite of Object.keys(SUITES)) {
  for (const mode of ["tunnel", "transport"] as const) {
    for (const family of FAMILIES[mode]) addCase(suite, mode, family, BigInt(rnd.int(1, 100000)), false);
  }
}
// ESN: sequence numbers across 2^32, one AEAD and one HMAC suite
addCase("aes128gcm16", "tunnel", "4in4", 0xfffffffcn, true);
addCase("aes128-sha256_96", "transport", "6", 0xfffffffcn, true);
addCase("aes256-sha1", "tunnel", "6in4", 0xfffffffcn, true);
// ESP in UDP 4500: the decapsulation is handed the IP + UDP header length
addCase("aes128gcm16", "tunnel", "4in4", 1n, false, true);
addCase("aes128-sha256", "tunnel", "6in6", 1n, false, true);
addCase("aes256gcm16", "transport", "4", 1n, false, true);
addCase("null-sha256", "transport", "6", 1n, false, true);

// Tampered copies: the last byte before the ICV flipped (ciphertext or, for NULL, payload).
function tamper(wireHex: string, icv: number): string {
  const b = unhex(wireHex);
  b[b.length - icv - 1] ^= 0x01;
  return hex(b);
}

let answer: Answer | undefined;
let setupError: unknown;
try {
  const python = requireScapyPython();
  const request = {
    cases: cases.map((c) => ({
      sa: c.sa,
      outer: c.outer,
      natt: c.natt,
      decrypt: [...c.ours, ...(c.ours.length ? [{ wire: tamper(c.ours[0].wire, c.sa.icvLength), seq: c.ours[0].seq }] : [])],
      encrypt: c.forScapy.map((p, i) => ({ inner: hex(p), seq: c.scapySeqs[i].toString() })),
    })),
  };
  answer = JSON.parse(run(python, [repoPath("test/interop/scapy_esp.py")], JSON.stringify(request))) as Answer;
} catch (err) {
  setupError = err;
}

test("scapy (Debian python3-scapy) runs the interop helper", () => {
  if (setupError) throw setupError;
  assert.equal(answer?.cases.length, cases.length);
});

for (const [i, c] of cases.entries()) {
  test(`${c.name}: our encapsulation decrypts in scapy to the originals`, () => {
    assert.ok(answer, "scapy did not run");
    assert.deepEqual(c.encStatus, new Array<string>(PACKETS).fill("ok"), "our encapsulate statuses");
    const dec = answer.cases[i].decrypt;
    for (const [k, sent] of c.sent.entries()) {
      const d = dec[k];
      assert.ok(d.ok, `packet ${k} (seq ${c.ours[k].seq}): scapy says ${d.ok ? "" : d.error}`);
      assert.equal(d.packet, hex(sent), `packet ${k} (seq ${c.ours[k].seq})`);
    }
  });

  test(`${c.name}: a tampered packet of ours fails scapy's integrity check`, () => {
    assert.ok(answer, "scapy did not run");
    const last = answer.cases[i].decrypt[c.sent.length];
    assert.ok(last && !last.ok, "scapy accepted a tampered packet");
    assert.match(last.error, /IPSecIntegrityError/);
  });

  test(`${c.name}: scapy's encapsulation decapsulates in ours to the originals, tampered copy dropped`, async () => {
    assert.ok(answer, "scapy did not run");
    const rx = await Dataplane.create({ maxSas: 4 });
    rx.addSa(config(c, "in", c.scapySeqs[0] - 1n));
    const enc = answer.cases[i].encrypt;
    assert.equal(enc.length, c.forScapy.length);
    for (const [k, e] of enc.entries()) {
      const r = rx.decapsulate(unhex(e.wire), e.l3HeaderLength);
      assert.equal(r.status, "ok", `packet ${k} (seq ${c.scapySeqs[k]})`);
      assert.equal(r.seq, c.scapySeqs[k]);
      assert.equal(hex(r.payload ?? new Uint8Array(0)), hex(c.forScapy[k]), `packet ${k} (seq ${c.scapySeqs[k]})`);
    }
    // a fresh SA, so the replay window does not decide: the ICV must
    const rx2 = await Dataplane.create({ maxSas: 4 });
    rx2.addSa(config(c, "in", c.scapySeqs[0] - 1n));
    const bad = rx2.decapsulate(unhex(tamper(enc[0].wire, c.sa.icvLength)), enc[0].l3HeaderLength);
    assert.equal(bad.status, "integrity-failed");
    assert.equal(bad.payload, undefined);
  });
}
