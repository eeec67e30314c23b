// Wireshark key export (sdk/diag/wireshark.ts) against outside references: the
// ikev2_decryption_table line strongSwan's save-keys plugin wrote for a real charon IKE SA
// (test/fixtures/ike) must come out byte for byte from the same SPIs, keys and transform ids; the
// algorithm names are Wireshark 4.0's. What needs Debian's tshark (tshark opening that capture's
// IKE_AUTH and node:crypto ESP of every suite with tables we wrote, every emitted name present in
// libwireshark) is test/interop/wireshark-tables-tshark.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  espSaLine,
  ikev2DecryptionLine,
  wiresharkEspAlgorithms,
  wiresharkIkeAlgorithms,
  WiresharkKeyTables,
  WiresharkExportError,
} from "../../sdk/diag/wireshark.ts";
import { Encr, Integ } from "../../sdk/ike/proposals.ts";
import { repoPath, unhex } from "../helpers/interop.ts";

const fixture = (f: string): string => repoPath(`test/fixtures/ike/${f}`);

test("ikev2_decryption_table line equals the one strongSwan's save-keys plugin wrote for the same IKE SA", () => {
  const charon = readFileSync(fixture("ikev2_decryption_table"), "utf8").trim();
  const [spiI, spiR, ei, er] = charon.split(",");
  const ours = ikev2DecryptionLine({
    spiI: unhex(spiI!),
    spiR: unhex(spiR!),
    skEi: unhex(ei!),
    skEr: unhex(er!),
    skAi: new Uint8Array(0),
    skAr: new Uint8Array(0),
    encrId: Encr.AES_GCM_16,
    keyBits: 128,
  });
  assert.equal(ours, charon);
});

test("IKE algorithm names are Wireshark's (CBC/CTR/GCM sizes, RFC 4868 HMACs, strongSwan's sha256_96)", () => {
  assert.deepEqual(wiresharkIkeAlgorithms(Encr.AES_CBC, 256, Integ.HMAC_SHA2_384_192), {
    encryption: "AES-CBC-256 [RFC3602]",
    integrity: "HMAC_SHA2_384_192 [RFC4868]",
  });
  assert.deepEqual(wiresharkIkeAlgorithms(Encr.AES_CTR, 192, Integ.HMAC_SHA1_96), {
    encryption: "AES-CTR-192 [RFC5930]",
    integrity: "HMAC_SHA1_96 [RFC2404]",
  });
  assert.deepEqual(wiresharkIkeAlgorithms(Encr.AES_GCM_8, 256), {
    encryption: "AES-GCM-256 with 8 octet ICV [RFC5282]",
    integrity: "NONE [RFC4306]",
  });
  assert.equal(
    wiresharkIkeAlgorithms(Encr.AES_CBC, 128, Integ.HMAC_SHA2_256_96).integrity,
    "HMAC_SHA2_256_96 [draft-ietf-ipsec-ciph-sha-256-00]",
  );
  assert.throws(() => wiresharkIkeAlgorithms(Encr.CHACHA20_POLY1305, 0), WiresharkExportError);
  assert.throws(() => wiresharkIkeAlgorithms(Encr.AES_CBC, 128, 999), WiresharkExportError);
});

test("ESP algorithm names: every suite keyword family, ESN flagged, unknown suites refused", () => {
  assert.deepEqual(wiresharkEspAlgorithms("aes128gcm16"), {
    encryption: "AES-GCM with 16 octet ICV [RFC4106]",
    authentication: "NULL",
  });
  assert.match(wiresharkEspAlgorithms("aes128gcm16-esn").caveat ?? "", /extended sequence numbers/);
  assert.equal(wiresharkEspAlgorithms("aes256gcm8").encryption, "AES-GCM with 8 octet ICV [RFC4106]");
  assert.deepEqual(wiresharkEspAlgorithms("aes128-sha256_96"), {
    encryption: "AES-CBC [RFC3602]",
    authentication: "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
  });
  assert.deepEqual(wiresharkEspAlgorithms("aes256ctr-sha512"), {
    encryption: "AES-CTR [RFC3686]",
    authentication: "HMAC-SHA-512-256 [RFC4868]",
  });
  assert.equal(wiresharkEspAlgorithms("null-sha384").authentication, "HMAC-SHA-384-192 [RFC4868]");
  assert.throws(() => wiresharkEspAlgorithms("aes128gmac"), /no AES-GMAC/);
  assert.match(wiresharkEspAlgorithms("chacha20poly1305").caveat ?? "", /4\.0 rejects/);
  assert.throws(() => wiresharkEspAlgorithms("3des-md5"), WiresharkExportError);
});

test("WiresharkKeyTables keeps existing lines, replaces a line for the same SA, keeps gone SAs", () => {
  const k = {
    src: "198.18.0.1",
    dst: "198.18.0.2",
    spi: 0xc0000001,
    suite: "aes128gcm16",
    encKey: new Uint8Array(20).fill(1),
    integKey: new Uint8Array(0),
  };
  const first = new WiresharkKeyTables();
  first.addChild(k);
  first.addChild({ ...k, src: k.dst, dst: k.src, spi: 0xc0000002 });
  const again = new WiresharkKeyTables({ espSa: first.espSaText() });
  again.addChild({ ...k, encKey: new Uint8Array(20).fill(2) });
  const lines = again
    .espSaText()
    .split("\n")
    .filter((l) => l && !l.startsWith("#"));
  assert.equal(lines.length, 2);
  assert.equal(
    lines[0],
    `"IPv4","198.18.0.1","198.18.0.2","0xc0000001","AES-GCM with 16 octet ICV [RFC4106]","0x${"02".repeat(20)}","NULL",""`,
  );
  assert.match(lines[1]!, /"0xc0000002"/);
  assert.match(espSaLine({ ...k, src: "2001:db8::1", dst: "2001:db8::2" }), /^"IPv6","2001:db8::1","2001:db8::2",/);
});
