// Live two-way ESP interop with scapy for the issue-4 suites (test/interop/scapy_suites.py, run by
// /usr/bin/python3): AES-CTR + HMAC-SHA-1/256/384/512 (RFC 3686, RFC 4868), AES-CBC +
// HMAC-SHA-384/512, AES-GMAC (RFC 4543), ChaCha20-Poly1305 (RFC 7634) and AES-CCM (RFC 4309, the
// suite registry's aes-ccm rows), every key size.
//   * ours -> scapy: scapy decrypts to the originals; a tampered copy fails scapy's ICV check;
//   * scapy (random IVs, its own padding) -> ours: we decapsulate to the originals; tampered: dropped
//     as integrity-failed with no payload;
//   * scapy given our IV and sequence number writes our packet byte for byte (padding, IP header);
//   * ESN (across 2^32) for at least one suite per family, and ESP-in-UDP 4500.
// scapy 2.5 has AES-CTR, CHACHA20-POLY1305 and the HMACs itself; it has no AES-GMAC, so that one is
// python3-cryptography's AESGCM driven by scapy_suites.py from RFC 4543 (checked below against a
// published GMAC ESP packet). One python process answers every case at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { CIPHERS } from "../../sdk/dataplane/suite-registry.ts";
import type { IcvLength, SaConfig, SaHandle } from "../../sdk/dataplane/types.ts";
import {
  concat,
  espInUdp,
  hex,
  ipv4Header,
  prng,
  randomPacket,
  repoPath,
  requireScapyPython,
  run,
  unhex,
} from "../helpers/interop.ts";
import {
  assertOursDecryptInScapy,
  assertScapyDecapsInOurs,
  assertTamperedFailsScapy,
  FAMILIES,
  newCase,
  OUTER,
  PACKETS,
  requestCase,
  saConfig,
  withOuterHeader,
  type ScapyAnswer,
  type ScapyCase,
} from "../helpers/scapy-esp.ts";

interface SuiteShape {
  key: number;
  integ: number;
  icv: IcvLength;
  iv: number;
}
const SUITES: Record<string, SuiteShape> = { chacha20poly1305: { key: 36, integ: 0, icv: 16, iv: 8 } };
const HMAC = { sha1: [20, 12], sha256: [32, 16], sha384: [48, 24], sha512: [64, 32] } as const;
for (const bits of [128, 192, 256]) {
  SUITES[`aes${bits}gmac`] = { key: bits / 8 + 4, integ: 0, icv: 16, iv: 8 };
  for (const [h, [integ, icv]] of Object.entries(HMAC)) {
    SUITES[`aes${bits}ctr-${h}`] = { key: bits / 8 + 4, integ, icv, iv: 8 };
    if (h === "sha384" || h === "sha512") SUITES[`aes${bits}-${h}`] = { key: bits / 8, integ, icv, iv: 16 };
  }
}

// AES-CCM: every row of the registry (scapy 2.5's own AES-CCM)
for (const r of CIPHERS.filter((c) => c.family === "aes-ccm")) {
  SUITES[r.keyword] = { key: r.keyBytes + r.saltBytes, integ: 0, icv: r.icvBytes as IcvLength, iv: r.ivBytes };
}

function tryAddSa(dp: Dataplane, cfg: SaConfig): SaHandle | string {
  try {
    return dp.addSa(cfg);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const rnd = prng(0x5a17e5);
const dp = await Dataplane.create({ maxSas: 512 });
const cases: ScapyCase[] = [];

function addCase(
  suite: string,
  mode: "tunnel" | "transport",
  family: string,
  firstSeq: bigint,
  esn: boolean,
  natt = false,
): void {
  const s = SUITES[suite];
  const { c, innerV6, src, dst } = newCase(rnd, suite, s!, mode, family, esn, natt);
  cases.push(c);
  for (let i = 0; i < PACKETS; i++) {
    c.forScapy.push(randomPacket(rnd, innerV6, src, dst, i === 0 ? 1400 : 200));
    c.scapySeqs.push(firstSeq + BigInt(i));
  }
  const h = tryAddSa(dp, saConfig(c, "out", firstSeq - 1n, false));
  if (typeof h === "string") {
    c.addError = h;
    return;
  }
  for (let i = 0; i < PACKETS; i++) {
    const pkt = randomPacket(rnd, innerV6, src, dst, i === 0 ? 1400 : 200);
    const r = dp.encapsulate(h, pkt);
    c.encStatus.push(r.status);
    if (r.status !== "ok" || !r.packet) continue;
    let wire = withOuterHeader(c, r.packet);
    if (i === 0 && !natt) {
      const espAt = mode === "tunnel" ? (c.outer === "4" ? 20 : 40) : innerV6 ? 40 : 20;
      c.twin = { inner: hex(pkt), seq: r.seq.toString(), iv: hex(wire.subarray(espAt + 8, espAt + 8 + s!.iv)) };
    }
    if (natt) wire = espInUdp(wire);
    c.sent.push(pkt);
    c.ours.push({ wire: hex(wire), seq: r.seq.toString() });
  }
}

for (const suite of Object.keys(SUITES)) {
  for (const mode of ["tunnel", "transport"] as const) {
    for (const family of FAMILIES[mode]) addCase(suite, mode, family, BigInt(rnd.int(1, 100000)), false);
  }
}
// ESN across 2^32: every family (CTR+HMAC of each hash, CBC+SHA-384/512, GMAC, ChaCha20)
const ESN = 0xfffffffcn;
addCase("aes128ctr-sha256", "tunnel", "4in4", ESN, true);
addCase("aes192ctr-sha1", "tunnel", "6in4", ESN, true);
addCase("aes256ctr-sha384", "transport", "4", ESN, true);
addCase("aes256ctr-sha512", "transport", "6", ESN, true);
addCase("aes256-sha384", "tunnel", "4in6", ESN, true);
addCase("aes128-sha512", "transport", "4", ESN, true);
addCase("aes128gmac", "tunnel", "4in4", ESN, true);
addCase("aes256gmac", "transport", "6", ESN, true);
addCase("chacha20poly1305", "tunnel", "4in4", ESN, true);
addCase("chacha20poly1305", "transport", "6", ESN, true);
addCase("aes128ccm16", "tunnel", "4in4", ESN, true);
addCase("aes256ccm8", "transport", "6", ESN, true);
// ESP in UDP 4500
addCase("chacha20poly1305", "tunnel", "4in4", 1n, false, true);
addCase("aes128ctr-sha256", "transport", "6", 1n, false, true);
addCase("aes256gmac", "tunnel", "6in6", 1n, false, true);
addCase("aes192-sha512", "transport", "4", 1n, false, true);
addCase("aes192ccm12", "tunnel", "4in4", 1n, false, true);

// Published packets: ChaCha20-Poly1305 from RFC 7634 appendix A, and an AES-128-GMAC ESP packet
// (key f89370ca901af1a99070273f0e90db57, salt 2f5af3fc, SPI 0x91909dc9, seq 1, IV 73e18b4108000000,
// a 100-byte ICMP echo; ICV 8ff59c004238788f41a38a69c8fe3855) as it appears in the GMAC test
// configuration of a hardware IPsec driver's test suite, which lays it out as draft-mcgrew-gcm-test-01 does.
const rfc7634 = (
  JSON.parse(readFileSync(repoPath("test/vectors/rfc/rfc7634_chacha20_poly1305_esp.json"), "utf8")) as {
    keymat_hex: string;
    spi_hex: string;
    seq: number;
    plaintext_hex: string;
    pad_length: number;
    esp_packet_hex: string;
  }[]
)[0];
const GMAC_INNER = "4500006400050000ff01a28a0c0000010d0000090800294d0005000000000000016f5389" + "abcd".repeat(32);
const PUBLISHED = [
  {
    name: "RFC 7634 appendix A (chacha20poly1305)",
    esp: "chacha20poly1305",
    spi: parseInt(rfc7634!.spi_hex, 16),
    seq: rfc7634!.seq,
    encKey: rfc7634!.keymat_hex,
    packet: rfc7634!.esp_packet_hex,
    inner: rfc7634!.plaintext_hex.slice(0, rfc7634!.plaintext_hex.length - 2 * (rfc7634!.pad_length + 2)),
  },
  {
    name: "AES-128-GMAC ESP packet (aes128gmac)",
    esp: "aes128gmac",
    spi: 0x91909dc9,
    seq: 1,
    encKey: "f89370ca901af1a99070273f0e90db57" + "2f5af3fc",
    packet: "91909dc900000001" + "73e18b4108000000" + GMAC_INNER + "01020204" + "8ff59c004238788f41a38a69c8fe3855",
    inner: GMAC_INNER,
  },
];

let answer: ScapyAnswer | undefined;
let setupError: unknown;
try {
  const python = requireScapyPython();
  const request = {
    cases: [
      ...cases.map(requestCase),
      ...PUBLISHED.map((p) => ({
        sa: { spi: p.spi, mode: "tunnel", esp: p.esp, encKey: p.encKey, icvLength: 16, esn: false },
        outer: "4",
        natt: false,
        decrypt: [
          {
            wire: hex(concat(ipv4Header(OUTER.v4[0]!, OUTER.v4[1]!, 50, p.packet.length / 2), unhex(p.packet))),
            seq: String(p.seq),
          },
        ],
        encrypt: [],
      })),
    ],
  };
  answer = JSON.parse(run(python, [repoPath("test/interop/scapy_suites.py")], JSON.stringify(request))) as ScapyAnswer;
} catch (err) {
  setupError = err;
}

test("scapy (Debian python3-scapy) runs the suites helper", () => {
  if (setupError) throw setupError;
  assert.equal(answer?.cases.length, cases.length + PUBLISHED.length);
});

for (const [k, p] of PUBLISHED.entries()) {
  test(`${p.name}: scapy_suites.py and our dataplane both decapsulate it to the published inner packet`, async () => {
    assert.ok(answer, "scapy did not run");
    const d = answer.cases[cases.length + k]!.decrypt[0];
    assert.ok(d!.ok, `scapy: ${d!.ok ? "" : d!.error}`);
    assert.equal(d!.packet, p.inner, "scapy");
    const rx = await Dataplane.create({ maxSas: 4 });
    const h = tryAddSa(rx, { spi: p.spi, direction: "in", mode: "tunnel", esp: p.esp, encKey: unhex(p.encKey) });
    assert.equal(typeof h, "number", `our dataplane refused the SA: ${String(h)}`);
    const r = rx.decapsulate(unhex(p.packet));
    assert.equal(r.status, "ok");
    assert.equal(r.seq, BigInt(p.seq));
    assert.equal(r.nextHeader, 4);
    assert.equal(hex(r.payload ?? new Uint8Array(0)), p.inner);
    const bad = unhex(p.packet);
    bad[20]! ^= 0x01; // inside the inner IPv4 header (cleartext for GMAC, ciphertext for ChaCha20)
    const rx2 = await Dataplane.create({ maxSas: 4 });
    rx2.addSa({ spi: p.spi, direction: "in", mode: "tunnel", esp: p.esp, encKey: unhex(p.encKey) });
    const r2 = rx2.decapsulate(bad);
    assert.equal(r2.status, "integrity-failed");
    assert.equal(r2.payload, undefined);
  });
}

for (const [i, c] of cases.entries()) {
  test(`${c.name}: our encapsulation decrypts in scapy to the originals`, () => {
    assertOursDecryptInScapy(answer, i, c);
  });

  test(`${c.name}: a tampered packet of ours fails scapy's integrity check`, () => {
    assertTamperedFailsScapy(answer, i, c);
  });

  if (!c.natt) {
    test(`${c.name}: scapy given our IV and sequence number writes our packet byte for byte`, () => {
      assert.equal(c.addError, undefined, `our dataplane refused the SA: ${c.addError}`);
      assert.ok(answer && c.twin, "scapy did not run");
      const enc = answer.cases[i]!.encrypt;
      assert.equal(enc.length, PACKETS + 1);
      assert.equal(enc[PACKETS]!.wire, c.ours[0]!.wire, `seq ${c.twin.seq}, IV ${c.twin.iv}`);
    });
  }

  test(`${c.name}: scapy's encapsulation decapsulates in ours to the originals, tampered copy dropped`, async () => {
    await assertScapyDecapsInOurs(answer, i, c, saConfig(c, "in", c.scapySeqs[0]! - 1n, false));
  });
}
