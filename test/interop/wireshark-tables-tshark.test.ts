// Wireshark key export (sdk/diag/wireshark.ts) read by Wireshark itself (Debian's tshark 4.0):
// - tshark must open the IKE_AUTH of a real strongSwan exchange (test/fixtures/ike/exchange.pcap)
//   with an ikev2_decryption_table we wrote (and not with a wrong key);
// - esp_sa lines for every suite family Wireshark can decrypt: ESP packets built by node:crypto
//   (test/helpers/esp-ref.ts, and AES-CTR here) must be decrypted by tshark to the inner ICMP
//   echo with the ICV good, and a wrong key must neither verify nor decrypt;
// - every IKE and ESP algorithm name we emit must be one the installed libwireshark knows.
// Moved from test/unit/diag-wireshark.test.ts (which keeps the node-only checks: the line
// strongSwan's save-keys plugin wrote, the name tables, table merging).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { wiresharkEspAlgorithms, wiresharkIkeAlgorithms, WiresharkKeyTables } from "../../sdk/diag/wireshark.ts";
import { Encr, Integ } from "../../sdk/ike/proposals.ts";
import { refEncap, type RefSa } from "../helpers/esp-ref.ts";
import {
  buildPacket,
  concat,
  hex,
  ipv4Header,
  pcapRaw,
  prng,
  repoPath,
  requireTshark,
  run,
  tempDir,
  unhex,
} from "../helpers/interop.ts";

const fixture = (f: string): string => repoPath(`test/fixtures/ike/${f}`);

/** The strings of the installed libwireshark (binutils' strings), to check names against Wireshark itself. */
function tsharkStrings(): Set<string> {
  requireTshark(); // names the Debian package when Wireshark is not installed
  const out = run("sh", ["-c", "strings $(ls /usr/lib/*/libwireshark.so.* | head -1) | grep -E '\\[(RFC|draft)'"]);
  assert.ok(out.includes("AES-CBC [RFC3602]"), "libwireshark's algorithm names not found");
  return new Set(out.split("\n"));
}

test(
  "every IKE algorithm name we emit is one libwireshark knows (an unknown one voids the whole table)",
  { timeout: 60_000 },
  () => {
    const lib = tsharkStrings();
    for (const [e, bits, i] of [
      [Encr.AES_CBC, 128, Integ.HMAC_SHA2_256_128],
      [Encr.AES_CTR, 256, Integ.HMAC_SHA2_512_256],
      [Encr.AES_GCM_12, 192, undefined],
      [Encr.NULL, 0, Integ.HMAC_SHA1_96],
    ] as const) {
      const a = wiresharkIkeAlgorithms(e, bits, i);
      assert.ok(lib.has(a.encryption) && lib.has(a.integrity), `${a.encryption} / ${a.integrity} in libwireshark`);
    }
  },
);

test("every ESP algorithm name we emit is one libwireshark knows", { timeout: 60_000 }, () => {
  const lib = tsharkStrings();
  for (const s of [
    "aes128gcm8",
    "aes128gcm12",
    "aes128gcm16",
    "aes128-sha1",
    "aes128-sha256",
    "aes128-sha256_96",
    "aes128-sha384",
    "aes128-sha512",
    "aes128ctr-sha256",
    "null-sha1",
  ]) {
    const a = wiresharkEspAlgorithms(s);
    // "NULL" is not a string of its own in the library (the linker merges it into a longer one)
    assert.ok(
      [a.encryption, a.authentication].every((n) => n === "NULL" || lib.has(n)),
      `${s}: ${a.encryption} / ${a.authentication} in libwireshark`,
    );
  }
});

test(
  "tshark opens the recorded strongSwan IKE_AUTH with a table written by WiresharkKeyTables, not with a wrong key",
  { timeout: 60_000 },
  () => {
    const tshark = requireTshark();
    const charon = readFileSync(fixture("ikev2_decryption_table"), "utf8").trim();
    const [spiI, spiR, ei, er] = charon.split(",");
    const keys = {
      spiI: unhex(spiI!),
      spiR: unhex(spiR!),
      skEi: unhex(ei!),
      skEr: unhex(er!),
      skAi: new Uint8Array(0),
      skAr: new Uint8Array(0),
      encrId: Encr.AES_GCM_16,
      keyBits: 128,
    };
    const ids = (table: string): string[] => {
      const tmp = tempDir("ws-ike");
      try {
        writeFileSync(join(tmp.dir, "ikev2_decryption_table"), table);
        const out = run(
          tshark,
          [
            "-r",
            fixture("exchange.pcap"),
            "-n",
            "-T",
            "fields",
            "-e",
            "isakmp.id.data.fqdn",
            "-Y",
            "isakmp.exchangetype == 35",
          ],
          "",
          { ...process.env, WIRESHARK_CONFIG_DIR: tmp.dir, HOME: tmp.dir, XDG_CONFIG_HOME: tmp.dir },
        );
        return out
          .split("\n")
          .flatMap((l) => l.split(","))
          .filter(Boolean);
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
    bad[0]! ^= 1;
    wrong.addIke({ ...keys, skEr: bad, skEi: bad });
    assert.deepEqual(ids(wrong.ikev2Text()), []);
  },
);

// ------------------------------------------------------------------ tshark decrypts node:crypto ESP

const [SRC, DST] = ["198.18.0.1", "198.18.0.2"];
const rnd = prng(0x3e5a);

interface Case {
  suite: string;
  encKey: Uint8Array;
  integKey: Uint8Array;
  esp: (spi: number, seq: number, inner: Uint8Array) => Uint8Array;
}

/** RFC 3686 AES-CTR + HMAC, built on node:crypto (the counter block is nonce | IV | 1). */
function ctrEsp(
  key: Uint8Array,
  nonce: Uint8Array,
  integ: Uint8Array,
  spi: number,
  seq: number,
  inner: Uint8Array,
): Uint8Array {
  const iv = rnd.bytes(8);
  const padLen = (4 - ((inner.length + 2) % 4)) % 4;
  const pt = concat(
    inner,
    Uint8Array.from({ length: padLen }, (_, i) => i + 1),
    Uint8Array.of(padLen, 4),
  );
  const c = createCipheriv(`aes-${key.length * 8}-ctr`, key, concat(nonce, iv, Uint8Array.of(0, 0, 0, 1)));
  const hdr = new Uint8Array(8);
  new DataView(hdr.buffer).setUint32(0, spi);
  new DataView(hdr.buffer).setUint32(4, seq);
  const signed = concat(hdr, iv, c.update(pt), c.final());
  return concat(signed, new Uint8Array(createHmac("sha256", integ).update(signed).digest()).subarray(0, 16));
}

function refCase(suite: string, ref: Omit<RefSa, "spi">, encKey: Uint8Array, integKey: Uint8Array): Case {
  return {
    suite,
    encKey,
    integKey,
    esp: (spi, seq, inner) => new Uint8Array(refEncap({ ...ref, spi }, BigInt(seq), inner, 4)),
  };
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const [bits, icv] of [
    [128, 16],
    [256, 16],
    [128, 8],
    [128, 12],
  ] as const) {
    const key = rnd.bytes(bits / 8),
      salt = rnd.bytes(4);
    out.push(refCase(`aes${bits}gcm${icv}`, { suite: "gcm", key, salt, icv }, concat(key, salt), new Uint8Array(0)));
  }
  for (const [suite, hash, klen, icv] of [
    ["aes128-sha256", "sha256", 32, 16],
    ["aes256-sha256_96", "sha256", 32, 12],
    ["aes128-sha1", "sha1", 20, 12],
    ["aes256-sha384", "sha384", 48, 24],
    ["aes128-sha512", "sha512", 64, 32],
  ] as const) {
    const key = rnd.bytes(suite.startsWith("aes256") ? 32 : 16),
      integ = rnd.bytes(klen);
    out.push(refCase(suite, { suite: "cbc", key, integKey: integ, hash, icv }, key, integ));
  }
  const ni = rnd.bytes(32);
  out.push(
    refCase(
      "null-sha256",
      { suite: "null", key: new Uint8Array(0), integKey: ni, hash: "sha256", icv: 16 },
      new Uint8Array(0),
      ni,
    ),
  );
  const ck = rnd.bytes(16),
    cn = rnd.bytes(4),
    ci = rnd.bytes(32);
  out.push({
    suite: "aes128ctr-sha256",
    encKey: concat(ck, cn),
    integKey: ci,
    esp: (spi, seq, inner) => ctrEsp(ck, cn, ci, spi, seq, inner),
  });
  return out;
}

test(
  "tshark decrypts node:crypto-built ESP of every suite with our esp_sa lines (ICV good), and not with a wrong key",
  { timeout: 60_000 },
  () => {
    const tshark = requireTshark();
    const frames: Uint8Array[] = [];
    const good = new WiresharkKeyTables();
    const wrong = new WiresharkKeyTables();
    const expect: { suite: string; spi: number; id: number; payload: string }[] = [];
    cases().forEach((c, i) => {
      const spi = 0xc1000000 + i;
      const id = 1000 + i;
      const payload = rnd.bytes(40);
      const inner = buildPacket({
        v6: false,
        src: "198.51.100.1",
        dst: "203.0.113.2",
        l4: "icmp",
        id,
        seq: 7,
        payload,
      });
      const esp = c.esp(spi, 1, inner);
      frames.push(concat(ipv4Header(SRC, DST, 50, esp.length), esp));
      good.addChild({ src: SRC, dst: DST, spi, suite: c.suite, encKey: c.encKey, integKey: c.integKey });
      const badEnc = c.encKey.slice(),
        badInteg = c.integKey.slice();
      if (badEnc.length) badEnc[0]! ^= 0x80;
      if (badInteg.length) badInteg[0]! ^= 0x80;
      wrong.addChild({ src: SRC, dst: DST, spi, suite: c.suite, encKey: badEnc, integKey: badInteg });
      expect.push({ suite: c.suite, spi, id, payload: hex(payload) });
    });
    const read = (table: string): string[][] => {
      const tmp = tempDir("ws-esp");
      try {
        writeFileSync(join(tmp.dir, "esp_sa"), table);
        writeFileSync(join(tmp.dir, "in.pcap"), pcapRaw(frames));
        const out = run(
          tshark,
          [
            "-r",
            join(tmp.dir, "in.pcap"),
            "-n",
            "-o",
            "esp.enable_encryption_decode:TRUE",
            "-o",
            "esp.enable_authentication_check:TRUE",
            "-T",
            "fields",
            "-E",
            "occurrence=l",
            "-e",
            "esp.spi",
            "-e",
            "esp.icv_good",
            "-e",
            "icmp.ident",
            "-e",
            "data.data",
          ],
          "",
          { ...process.env, WIRESHARK_CONFIG_DIR: tmp.dir, HOME: tmp.dir, XDG_CONFIG_HOME: tmp.dir },
        );
        return out
          .trimEnd()
          .split("\n")
          .map((l) => l.split("\t"));
      } finally {
        tmp.remove();
      }
    };
    const rows = read(good.espSaText());
    assert.equal(rows.length, expect.length);
    expect.forEach((e, i) => {
      const [, icvGood, ident, data] = rows[i]!;
      assert.equal(Number(ident), e.id, `${e.suite}: inner ICMP echo id`);
      assert.equal(data, e.payload, `${e.suite}: inner ICMP payload`);
      assert.equal(icvGood, "1", `${e.suite}: ICV good`);
    });
    const bad = read(wrong.espSaText());
    expect.forEach((e, i) => {
      const [, icvGood, ident, data] = bad[i]!;
      assert.notEqual(icvGood, "1", `${e.suite}: wrong key must not verify`);
      // NULL encryption carries the payload in the clear; every other suite must not decrypt
      if (!e.suite.startsWith("null"))
        assert.ok(Number(ident) !== e.id || data !== e.payload, `${e.suite}: wrong key must not decrypt`);
    });
  },
);
