// Every row of the suite registry (sdk/dataplane/suite-registry.ts), looped: the keyword parses,
// turns into the IANA transforms strongSwan puts on the wire and back into the same keyword; the
// key layout the registry states is the one the wasm dataplane accepts and runs a packet with;
// the charon, kernel xfrm and Wireshark names round-trip through the parsers that read them.
// Outside references: IANA's "IKEv2 Transform Type 1/3" registries for the ids (RFC 4106 §8,
// RFC 4309 §7, RFC 4543 §8, RFC 3686 §6, RFC 7634 §4) and strongSwan's signer.c for its private
// HMAC_SHA2_256_96 (1026).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane, parseSuite } from "../../sdk/index.ts";
import { CIPHERS, INTEGS, espSuites, suiteKeyword, type SuiteRows } from "../../sdk/dataplane/suite-registry.ts";
import {
  Encr,
  Integ,
  espSuiteKeyword,
  formatProposal,
  keyLengths,
  parseProposals,
  toWireProposals,
  transformName,
  type Chosen,
} from "../../sdk/ike/proposals.ts";
import { transformName as logName } from "../../sdk/ike/names.ts";
import { ENCR as SK_ENCR } from "../../sdk/ike/sk.ts";
import { parseSaJson, parseWiresharkEspSa, parseXfrmState } from "../../sdk/sa/files.ts";
import { espSaLine, wiresharkEspAlgorithms } from "../../sdk/diag/wireshark.ts";
import { xfrmAlgorithms } from "../../sdk/diag/xfrm-stat.ts";

const SUITES = espSuites();
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const keyOf = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 1) & 255);
const innerPacket = (): Uint8Array => {
  const p = new Uint8Array(40);
  p.set([0x45, 0, 0, 40, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
  return p;
};

test("registry: the IANA ids (Transform Type 1 and 3) and every keyword is unique", () => {
  // IANA ENCR ids: AES-CBC 12, AES-CTR 13, AES-CCM_8/12/16 14-16, AES-GCM_8/12/16 18-20,
  // NULL_AUTH_AES_GMAC 21, CHACHA20_POLY1305 28, NULL 11; INTEG: HMAC_SHA1_96 2, HMAC_SHA2_256_128 12,
  // HMAC_SHA2_384_192 13, HMAC_SHA2_512_256 14.
  const iana: Record<string, number> = {
    "aes-cbc": 12,
    "aes-ctr": 13,
    "aes-gmac": 21,
    "chacha20-poly1305": 28,
    null: 11,
  };
  for (const r of CIPHERS) {
    const want =
      r.family === "aes-gcm"
        ? { 8: 18, 12: 19, 16: 20 }[r.icvBytes]
        : r.family === "aes-ccm"
          ? { 8: 14, 12: 15, 16: 16 }[r.icvBytes]
          : iana[r.family];
    assert.equal(r.iana, want, r.keyword);
  }
  assert.deepEqual(
    INTEGS.map((r) => [r.keyword, r.iana]),
    [
      ["sha1", 2],
      ["sha256", 12],
      ["sha256_96", 1026],
      ["sha384", 13],
      ["sha512", 14],
    ],
  );
  assert.equal(Encr.AES_GCM_16, 20);
  assert.equal(Integ.HMAC_SHA2_256_96, 1026);
  const words = [...CIPHERS, ...INTEGS].flatMap((r) => [r.keyword, ...r.aliases]);
  assert.equal(new Set(words).size, words.length, "a keyword names two rows");
  assert.equal(new Set(SUITES.map(suiteKeyword)).size, SUITES.length);
});

test("names.ts and proposals.ts print every transform id alike (they were two tables that disagreed)", () => {
  for (const type of [1, 2, 3, 4, 5]) {
    for (const id of [...Array.from({ length: 40 }, (_, i) => i), 1024, 1025, 1026, 1027, 1028, 1029, 1030]) {
      assert.equal(transformName({ type, id }), logName(type, id), `type ${type} id ${id}`);
      assert.equal(transformName({ type, id, keyLength: 256 }), logName(type, id, 256), `type ${type} id ${id}/256`);
    }
  }
  // names.ts printed "(1026)" for strongSwan's private HMAC-SHA-256-96, which charon logs by name
  // (signer.c integrity_algorithm_names: AUTH_HMAC_SHA2_256_96 = 1026, "HMAC_SHA2_256_96").
  assert.equal(logName(3, 1026), "HMAC_SHA2_256_96");
  for (const r of CIPHERS)
    assert.equal(logName(1, r.iana, r.keyBits), r.keyBits ? `${r.charon}_${r.keyBits}` : r.charon);
  for (const r of INTEGS) assert.equal(logName(3, r.iana), r.charon);
});

const chosenOf = (s: SuiteRows, esn: boolean): Chosen => {
  const [set] = parseProposals(`${suiteKeyword(s)}${esn ? "-esn" : ""}`, "ESP");
  const [wire] = toWireProposals([set!], new Uint8Array([1, 2, 3, 4]));
  const encr = wire!.transforms.filter((t) => t.type === 1);
  const integ = wire!.transforms.filter((t) => t.type === 3);
  assert.equal(encr.length, 1);
  assert.deepEqual(
    encr[0]!.keyLength === undefined ? { id: encr[0]!.id } : { id: encr[0]!.id, keyLength: encr[0]!.keyLength },
    s.cipher.keyBits === undefined ? { id: s.cipher.iana } : { id: s.cipher.iana, keyLength: s.cipher.keyBits },
  );
  assert.deepEqual(
    integ.map((t) => t.id),
    s.integ ? [s.integ.iana] : [],
  );
  const c: Chosen = { protocol: "ESP", proposalNum: 1, spi: wire!.spi, encr: { id: encr[0]!.id }, esn };
  if (encr[0]!.keyLength !== undefined) c.encr.keyLength = encr[0]!.keyLength;
  if (integ.length) c.integ = integ[0]!.id;
  return c;
};

for (const s of SUITES) {
  const kw = suiteKeyword(s);
  test(`${kw}: keyword -> IANA transforms -> keyword; key layout matches the dataplane`, async () => {
    const suite = parseSuite(kw);
    assert.equal(suite.name, kw);
    assert.equal(suite.kind, s.cipher.kind);
    for (const esn of [false, true]) {
      const c = chosenOf(s, esn);
      assert.equal(espSuiteKeyword(c), `${kw}${esn ? "-esn" : ""}`);
      const k = keyLengths(c);
      assert.deepEqual(
        [k.encrKey, k.integKey, k.ivBytes, k.icvBytes],
        [suite.encKeyBytes, suite.integKeyBytes, suite.ivBytes, suite.icvBytes],
      );
      assert.match(
        formatProposal(toWireProposals(parseProposals(kw, "ESP"), new Uint8Array(0))[0]!),
        new RegExp(`^ESP:${s.cipher.charon}`),
      );
    }
    // the dataplane takes exactly the registry's key lengths, and a packet survives a round trip
    const dp = await Dataplane.create();
    const cfg = {
      spi: 0x1234,
      mode: "tunnel" as const,
      esp: kw,
      encKey: keyOf(suite.encKeyBytes, 1),
      integKey: s.integ ? keyOf(s.integ.keyBytes, 2) : undefined,
    };
    const out = dp.addSa({ ...cfg, direction: "out" });
    dp.addSa({ ...cfg, direction: "in" });
    const { packet } = dp.encapsulate(out, innerPacket());
    assert.ok(packet);
    assert.equal(
      (packet.length - 8 - s.cipher.ivBytes - suite.icvBytes) % s.cipher.align,
      0,
      "payload + trailer aligned",
    );
    const r = dp.decapsulate(packet);
    assert.equal(r.status, "ok");
    assert.throws(() => dp.addSa({ ...cfg, spi: 0x1235, direction: "in", encKey: keyOf(suite.encKeyBytes + 1, 1) }));
  });
}

test("every suite has a kernel xfrm name that parses back to its keyword", () => {
  for (const s of SUITES) {
    const kw = suiteKeyword(s);
    const suite = parseSuite(kw);
    const key = `0x${hex(keyOf(suite.encKeyBytes, 3))}`;
    const alg =
      "aead" in s.cipher.xfrm
        ? `aead ${s.cipher.xfrm.aead} ${key} ${suite.icvBytes * 8}`
        : `enc ${s.cipher.xfrm.enc} ${suite.encKeyBytes ? key : "0x"}\n\tauth-trunc ${s.integ!.xfrm.auth} 0x${hex(keyOf(s.integ!.keyBytes, 4))} ${s.integ!.icvBytes * 8}`;
    const text = `src 10.0.0.1 dst 10.0.0.2\n\tproto esp spi 0x00001234 reqid 1 mode tunnel\n\treplay-window 32 flag af-unspec\n\t${alg}\n`;
    const [cfg] = parseXfrmState(text);
    assert.equal(cfg!.esp, kw, text);
    assert.equal(cfg!.icvLength, suite.icvBytes);
    // and `status --xfrm` prints the same names and key sizes for our own SA
    const shown = xfrmAlgorithms(`${kw}-esn`, suite.icvBytes);
    assert.deepEqual(
      shown.map((a) => [a.name, a.keyBits, a.icvBits ?? suite.icvBytes * 8]).sort(),
      ("aead" in s.cipher.xfrm
        ? [[s.cipher.xfrm.aead, suite.encKeyBytes * 8, suite.icvBytes * 8]]
        : [
            [s.cipher.xfrm.enc, suite.encKeyBytes * 8, suite.icvBytes * 8],
            [s.integ!.xfrm.auth, s.integ!.keyBytes * 8, suite.icvBytes * 8],
          ]
      ).sort(),
    );
  }
});

test("every suite has a Wireshark esp_sa name that parses back, or says why Wireshark cannot show it", () => {
  let shown = 0;
  for (const s of SUITES) {
    const kw = suiteKeyword(s);
    const suite = parseSuite(kw);
    if ("refused" in s.cipher.wireshark) {
      assert.throws(() => wiresharkEspAlgorithms(kw), new RegExp(s.cipher.wireshark.refused.replace(/[()]/g, "\\$&")));
      continue;
    }
    const sa = {
      src: "10.0.0.1",
      dst: "10.0.0.2",
      spi: 0x1234,
      suite: kw,
      encKey: keyOf(suite.encKeyBytes, 5),
      integKey: keyOf(suite.integKeyBytes, 6),
    };
    const line = espSaLine(sa);
    assert.ok(line.includes(s.cipher.wireshark.name) && (!s.integ || line.includes(s.integ.wireshark)), line);
    const [cfg] = parseWiresharkEspSa(line);
    assert.equal(cfg!.esp, kw);
    shown++;
  }
  assert.ok(shown >= 40, `only ${shown} suites shown`);
});

test("every suite reads from a JSON SA file with the registry's key layout, and a wrong length names it", () => {
  for (const s of SUITES) {
    const kw = suiteKeyword(s);
    const suite = parseSuite(kw);
    const sa = {
      spi: "0x1234",
      mode: "tunnel",
      esp: kw,
      encKey: hex(keyOf(suite.encKeyBytes, 7)),
      ...(s.integ ? { integKey: hex(keyOf(s.integ.keyBytes, 8)) } : {}),
    };
    const [cfg] = parseSaJson(JSON.stringify({ sas: [sa] }));
    assert.equal(cfg!.esp, kw);
    assert.equal(cfg!.icvLength, suite.icvBytes);
    if (suite.encKeyBytes === 0) continue;
    const salt = s.cipher.saltBytes ? `then ${s.cipher.saltBytes}-byte` : "";
    assert.throws(
      () => parseSaJson(JSON.stringify({ sas: [{ ...sa, encKey: "00" }] })),
      new RegExp(`needs ${suite.encKeyBytes} bytes.*${salt}`),
    );
  }
});

test("the IKE SK payload implements exactly the registry rows marked ike", () => {
  const ike = new Set(CIPHERS.filter((r) => r.ike).map((r) => r.iana));
  assert.deepEqual(
    [...ike].sort((a, b) => a - b),
    Object.values(SK_ENCR).sort((a, b) => a - b),
  );
});
