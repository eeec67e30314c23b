// Live two-way ESP interop with scapy (test/interop/scapy_esp.py, run by /usr/bin/python3):
// packets we encapsulate must decrypt in scapy to the originals, packets scapy encrypts (random
// IVs, its own padding) must decapsulate in our dataplane to the originals, and a tampered
// packet must fail in both. One python process answers every case at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import type { IcvLength } from "../../sdk/dataplane/types.ts";
import { espInUdp, hex, prng, randomPacket, repoPath, requireScapyPython, run } from "../helpers/interop.ts";
import {
  assertOursDecryptInScapy,
  assertScapyDecapsInOurs,
  assertTamperedFailsScapy,
  FAMILIES,
  newCase,
  PACKETS,
  requestCase,
  saConfig,
  withOuterHeader,
  type ScapyAnswer,
  type ScapyCase,
} from "../helpers/scapy-esp.ts";

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

const rnd = prng(0x5ca9e);
const dp = await Dataplane.create({ maxSas: 256 });
const cases: ScapyCase[] = [];

function addCase(
  suite: string,
  mode: "tunnel" | "transport",
  family: string,
  firstSeq: bigint,
  esn: boolean,
  natt = false,
): void {
  const { c, innerV6, src, dst } = newCase(rnd, suite, SUITES[suite]!, mode, family, esn, natt);
  const h = dp.addSa(saConfig(c, "out", firstSeq - 1n, true));
  for (let i = 0; i < PACKETS; i++) {
    const pkt = randomPacket(rnd, innerV6, src, dst, i === 0 ? 1400 : 200);
    const r = dp.encapsulate(h, pkt);
    c.encStatus.push(r.status);
    if (r.status !== "ok" || !r.packet) continue;
    let wire = withOuterHeader(c, r.packet);
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

let answer: ScapyAnswer | undefined;
let setupError: unknown;
try {
  const python = requireScapyPython();
  const request = { cases: cases.map(requestCase) };
  answer = JSON.parse(run(python, [repoPath("test/interop/scapy_esp.py")], JSON.stringify(request))) as ScapyAnswer;
} catch (err) {
  setupError = err;
}

test("scapy (Debian python3-scapy) runs the interop helper", () => {
  if (setupError) throw setupError;
  assert.equal(answer?.cases.length, cases.length);
});

for (const [i, c] of cases.entries()) {
  test(`${c.name}: our encapsulation decrypts in scapy to the originals`, () => {
    assertOursDecryptInScapy(answer, i, c);
  });

  test(`${c.name}: a tampered packet of ours fails scapy's integrity check`, () => {
    assertTamperedFailsScapy(answer, i, c);
  });

  test(`${c.name}: scapy's encapsulation decapsulates in ours to the originals, tampered copy dropped`, async () => {
    await assertScapyDecapsInOurs(answer, i, c, saConfig(c, "in", c.scapySeqs[0]! - 1n, true));
  });
}
