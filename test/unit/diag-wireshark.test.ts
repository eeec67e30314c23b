// Wireshark key export (sdk/diag/wireshark.ts) against outside references:
// - the ikev2_decryption_table line strongSwan's save-keys plugin wrote for a real charon IKE SA
//   (test/fixtures/ike) must come out byte for byte from the same SPIs, keys and transform ids,
//   and tshark 4.0 must open that capture's IKE_AUTH with a table we wrote (and not with a wrong key);
// - esp_sa lines for every suite family Wireshark can decrypt: ESP packets built by node:crypto
//   (test/helpers/esp-ref.ts, and AES-CTR here) must be decrypted by tshark to the inner ICMP
//   echo with the ICV good, and a wrong key must neither verify nor decrypt.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  espSaLine, ikev2DecryptionLine, wiresharkEspAlgorithms, wiresharkIkeAlgorithms, WiresharkKeyTables, WiresharkExportError,
} from "../../sdk/diag/wireshark.ts";
import { Encr, Integ } from "../../sdk/ike/proposals.ts";
import { refEncap, type RefSa } from "../helpers/esp-ref.ts";
import { buildPacket, concat, hex, ipv4Header, pcapRaw, prng, repoPath, requireTshark, run, tempDir, unhex } from "../helpers/interop.ts";

const fixture = (f: string): string => repoPath(`test/fixtures/ike/${f}`);

test("ikev2_decryption_table line equals the one strongSwan's save-keys plugin wrote for the same IKE SA", () => {
  const charon = readFileSync(fixture("ikev2_decryption_table"), "utf8").trim();
  const [spiI, spiR, ei, er] = charon.split(",");
  const ours = ikev2DecryptionLine({
    spiI: unhex(spiI), spiR: unhex(spiR), skEi: unhex(ei), skEr: unhex(er), skAi: new Uint8Array(0), skAr: new Uint8Array(0),
    encrId: Encr.AES_GCM_16, keyBits: 128,
  });
  assert.equal(ours, charon);
});

test("IKE algorithm names are Wireshark's (CBC/CTR/GCM sizes, RFC 4868 HMACs, strongSwan's sha256_96)", () => {
  assert.deepEqual(wiresharkIkeAlgorithms(Encr.AES_CBC, 256, Integ.HMAC_SHA2_384_192), { encryption: "AES-CBC-256 [RFC3602]", integrity: "HMAC_SHA2_384_192 [RFC4868]" });
  assert.deepEqual(wiresharkIkeAlgorithms(Encr.AES_CTR, 192, Integ.HMAC_SHA1_96), { encryption: "AES-CTR-192 [RFC5930]", integrity: "HMAC_SHA1_96 [RFC2404]" });
  assert.deepEqual(wiresharkIkeAlgorithms(Encr.AES_GCM_8, 256), { encryption: "AES-GCM-256 with 8 octet ICV [RFC5282]", integrity: "NONE [RFC4306]" });
  assert.equal(wiresharkIkeAlgorithms(Encr.AES_CBC, 128, Integ.HMAC_SHA2_256_96).integrity, "HMAC_SHA2_256_96 [draft-ietf-ipsec-ciph-sha-256-00]");
  assert.throws(() => wiresharkIkeAlgorithms(Encr.CHACHA20_POLY1305, 0), WiresharkExportError);
  assert.throws(() => wiresharkIkeAlgorithms(Encr.AES_CBC, 128, 999), WiresharkExportError);
  // every name we emit must be one libwireshark knows (an unknown one voids the whole table)
  const lib = tsharkStrings();
  for (const [e, bits, i] of [[Encr.AES_CBC, 128, Integ.HMAC_SHA2_256_128], [Encr.AES_CTR, 256, Integ.HMAC_SHA2_512_256], [Encr.AES_GCM_12, 192, undefined], [Encr.NULL, 0, Integ.HMAC_SHA1_96]] as const) {
    const a = wiresharkIkeAlgorithms(e, bits, i);
    assert.ok(lib.has(a.encryption) && lib.has(a.integrity), `${a.encryption} / ${a.integrity} in libwireshark`);
  }
});

/** The strings of the installed libwireshark (binutils' strings), to check names against Wireshark itself. */
function tsharkStrings(): Set<string> {
  const out = run("sh", ["-c", "strings $(ls /usr/lib/*/libwireshark.so.* | head -1) | grep -E '\\[(RFC|draft)'"]);
  assert.ok(out.includes("AES-CBC [RFC3602]"), "libwireshark's algorithm names not found");
  return new Set(out.split("\n"));
}

test("tshark opens the recorded strongSwan IKE_AUTH with a table written by WiresharkKeyTables, not with a wrong key", () => {
  const tshark = requireTshark();
  const charon = readFileSync(fixture("ikev2_decryption_table"), "utf8").trim();
  const [spiI, spiR, ei, er] = charon.split(",");
  const keys = { spiI: unhex(spiI), spiR: unhex(spiR), skEi: unhex(ei), skEr: unhex(er), skAi: new Uint8Array(0), skAr: new Uint8Array(0), encrId: Encr.AES_GCM_16, keyBits: 128 };
  const ids = (table: string): string[] => {
    const tmp = tempDir("ws-ike");
    try {
      writeFileSync(join(tmp.dir, "ikev2_decryption_table"), table);
      const out = run(tshark, ["-r", fixture("exchange.pcap"), "-n", "-T", "fields", "-e", "isakmp.id.data.fqdn", "-Y", "isakmp.exchangetype == 35"], "",
        { ...process.env, WIRESHARK_CONFIG_DIR: tmp.dir, HOME: tmp.dir, XDG_CONFIG_HOME: tmp.dir });
      return out.split("\n").flatMap((l) => l.split(",")).filter(Boolean);
    } finally {
      tmp.remove();
    }
  };
  const t = new WiresharkKeyTables();
  t.addIke(keys);
  // IKE_AUTH request: IDi and the IDr hint; response: IDr
  assert.deepEqual(ids(t.ikev2Text()).sort(), ["client.example.org", "swan.example.org", "swan.example.org"]);
  const wrong = new WiresharkKeyTables();
  const bad = keys.skEr.slice();
  bad[0] ^= 1;
  wrong.addIke({ ...keys, skEr: bad, skEi: bad });
  assert.deepEqual(ids(wrong.ikev2Text()), []);
});

test("ESP algorithm names: every suite keyword family, ESN flagged, unknown suites refused", () => {
  assert.deepEqual(wiresharkEspAlgorithms("aes128gcm16"), { encryption: "AES-GCM with 16 octet ICV [RFC4106]", authentication: "NULL" });
  assert.match(wiresharkEspAlgorithms("aes128gcm16-esn").caveat ?? "", /extended sequence numbers/);
  assert.equal(wiresharkEspAlgorithms("aes256gcm8").encryption, "AES-GCM with 8 octet ICV [RFC4106]");
  assert.deepEqual(wiresharkEspAlgorithms("aes128-sha256_96"), { encryption: "AES-CBC [RFC3602]", authentication: "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]" });
  assert.deepEqual(wiresharkEspAlgorithms("aes256ctr-sha512"), { encryption: "AES-CTR [RFC3686]", authentication: "HMAC-SHA-512-256 [RFC4868]" });
  assert.equal(wiresharkEspAlgorithms("null-sha384").authentication, "HMAC-SHA-384-192 [RFC4868]");
  assert.throws(() => wiresharkEspAlgorithms("aes128gmac"), /no AES-GMAC/);
  assert.match(wiresharkEspAlgorithms("chacha20poly1305").caveat ?? "", /4\.0 rejects/);
  assert.throws(() => wiresharkEspAlgorithms("3des-md5"), WiresharkExportError);
  const lib = tsharkStrings();
  for (const s of ["aes128gcm8", "aes128gcm12", "aes128gcm16", "aes128-sha1", "aes128-sha256", "aes128-sha256_96", "aes128-sha384", "aes128-sha512", "aes128ctr-sha256", "null-sha1"]) {
    const a = wiresharkEspAlgorithms(s);
    // "NULL" is not a string of its own in the library (the linker merges it into a longer one)
    assert.ok([a.encryption, a.authentication].every((n) => n === "NULL" || lib.has(n)), `${s}: ${a.encryption} / ${a.authentication} in libwireshark`);
  }
});

test("WiresharkKeyTables keeps existing lines, replaces a line for the same SA, keeps gone SAs", () => {
  const k = { src: "198.18.0.1", dst: "198.18.0.2", spi: 0xc0000001, suite: "aes128gcm16", encKey: new Uint8Array(20).fill(1), integKey: new Uint8Array(0) };
  const first = new WiresharkKeyTables();
  first.addChild(k);
  first.addChild({ ...k, src: k.dst, dst: k.src, spi: 0xc0000002 });
  const again = new WiresharkKeyTables({ espSa: first.espSaText() });
  again.addChild({ ...k, encKey: new Uint8Array(20).fill(2) });
  const lines = again.espSaText().split("\n").filter((l) => l && !l.startsWith("#"));
  assert.equal(lines.length, 2);
  assert.equal(lines[0], `"IPv4","198.18.0.1","198.18.0.2","0xc0000001","AES-GCM with 16 octet ICV [RFC4106]","0x${"02".repeat(20)}","NULL",""`);
  assert.match(lines[1], /"0xc0000002"/);
  assert.match(espSaLine({ ...k, src: "2001:db8::1", dst: "2001:db8::2" }), /^"IPv6","2001:db8::1","2001:db8::2",/);
});

// ------------------------------------------------------------------ tshark decrypts node:crypto ESP

const [SRC, DST] = ["198.18.0.1", "198.18.0.2"];
const rnd = prng(0x3e5a);

interface Case { suite: string; encKey: Uint8Array; integKey: Uint8Array; esp: (spi: number, seq: number, inner: Uint8Array) => Uint8Array }

/** RFC 3686 AES-CTR + HMAC, built on node:crypto (the counter block is nonce | IV | 1). */
function ctrEsp(key: Uint8Array, nonce: Uint8Array, integ: Uint8Array, spi: number, seq: number, inner: Uint8Array): Uint8Array {
  const iv = rnd.bytes(8);
  const padLen = (4 - ((inner.length + 2) % 4)) % 4;
  const pt = concat(inner, Uint8Array.from({ length: padLen }, (_, i) => i + 1), Uint8Array.of(padLen, 4));
  const c = createCipheriv(`aes-${key.length * 8}-ctr`, key, concat(nonce, iv, Uint8Array.of(0, 0, 0, 1)));
  const hdr = new Uint8Array(8);
  new DataView(hdr.buffer).setUint32(0, spi);
  new DataView(hdr.buffer).setUint32(4, seq);
  const signed = concat(hdr, iv, c.update(pt), c.final());
  return concat(signed, new Uint8Array(createHmac("sha256", integ).update(signed).digest()).subarray(0, 16));
}

function refCase(suite: string, ref: Omit<RefSa, "spi">, encKey: Uint8Array, integKey: Uint8Array): Case {
  return { suite, encKey, integKey, esp: (spi, seq, inner) => new Uint8Array(refEncap({ ...ref, spi }, BigInt(seq), inner, 4)) };
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const [bits, icv] of [[128, 16], [256, 16], [128, 8], [128, 12]] as const) {
    const key = rnd.bytes(bits / 8), salt = rnd.bytes(4);
    out.push(refCase(`aes${bits}gcm${icv}`, { suite: "gcm", key, salt, icv }, concat(key, salt), new Uint8Array(0)));
  }
  for (const [suite, hash, klen, icv] of [["aes128-sha256", "sha256", 32, 16], ["aes256-sha256_96", "sha256", 32, 12], ["aes128-sha1", "sha1", 20, 12],
    ["aes256-sha384", "sha384", 48, 24], ["aes128-sha512", "sha512", 64, 32]] as const) {
    const key = rnd.bytes(suite.startsWith("aes256") ? 32 : 16), integ = rnd.bytes(klen);
    out.push(refCase(suite, { suite: "cbc", key, integKey: integ, hash, icv }, key, integ));
  }
  const ni = rnd.bytes(32);
  out.push(refCase("null-sha256", { suite: "null", key: new Uint8Array(0), integKey: ni, hash: "sha256", icv: 16 }, new Uint8Array(0), ni));
  const ck = rnd.bytes(16), cn = rnd.bytes(4), ci = rnd.bytes(32);
  out.push({ suite: "aes128ctr-sha256", encKey: concat(ck, cn), integKey: ci, esp: (spi, seq, inner) => ctrEsp(ck, cn, ci, spi, seq, inner) });
  return out;
}

test("tshark decrypts node:crypto-built ESP of every suite with our esp_sa lines (ICV good), and not with a wrong key", () => {
  const tshark = requireTshark();
  const frames: Uint8Array[] = [];
  const good = new WiresharkKeyTables();
  const wrong = new WiresharkKeyTables();
  const expect: { suite: string; spi: number; id: number; payload: string }[] = [];
  cases().forEach((c, i) => {
    const spi = 0xc1000000 + i;
    const id = 1000 + i;
    const payload = rnd.bytes(40);
    const inner = buildPacket({ v6: false, src: "198.51.100.1", dst: "203.0.113.2", l4: "icmp", id, seq: 7, payload });
    const esp = c.esp(spi, 1, inner);
    frames.push(concat(ipv4Header(SRC, DST, 50, esp.length), esp));
    good.addChild({ src: SRC, dst: DST, spi, suite: c.suite, encKey: c.encKey, integKey: c.integKey });
    const badEnc = c.encKey.slice(), badInteg = c.integKey.slice();
    if (badEnc.length) badEnc[0] ^= 0x80;
    if (badInteg.length) badInteg[0] ^= 0x80;
    wrong.addChild({ src: SRC, dst: DST, spi, suite: c.suite, encKey: badEnc, integKey: badInteg });
    expect.push({ suite: c.suite, spi, id, payload: hex(payload) });
  });
  const read = (table: string): string[][] => {
    const tmp = tempDir("ws-esp");
    try {
      writeFileSync(join(tmp.dir, "esp_sa"), table);
      writeFileSync(join(tmp.dir, "in.pcap"), pcapRaw(frames));
      const out = run(tshark, ["-r", join(tmp.dir, "in.pcap"), "-n", "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE",
        "-T", "fields", "-E", "occurrence=l", "-e", "esp.spi", "-e", "esp.icv_good", "-e", "icmp.ident", "-e", "data.data"], "",
      { ...process.env, WIRESHARK_CONFIG_DIR: tmp.dir, HOME: tmp.dir, XDG_CONFIG_HOME: tmp.dir });
      return out.trimEnd().split("\n").map((l) => l.split("\t"));
    } finally {
      tmp.remove();
    }
  };
  const rows = read(good.espSaText());
  assert.equal(rows.length, expect.length);
  expect.forEach((e, i) => {
    const [, icvGood, ident, data] = rows[i];
    assert.equal(Number(ident), e.id, `${e.suite}: inner ICMP echo id`);
    assert.equal(data, e.payload, `${e.suite}: inner ICMP payload`);
    assert.equal(icvGood, "1", `${e.suite}: ICV good`);
  });
  const bad = read(wrong.espSaText());
  expect.forEach((e, i) => {
    const [, icvGood, ident, data] = bad[i];
    assert.notEqual(icvGood, "1", `${e.suite}: wrong key must not verify`);
    // NULL encryption carries the payload in the clear; every other suite must not decrypt
    if (!e.suite.startsWith("null")) assert.ok(Number(ident) !== e.id || data !== e.payload, `${e.suite}: wrong key must not decrypt`);
  });
});
