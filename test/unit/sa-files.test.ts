// SA file parsers on inputs written the way their producers print them: iproute2's
// `ip xfrm state` / `ip -s xfrm state`, Wireshark 4.0's esp_sa UAT file, and our JSON.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SaFileError, parseSaJson, parseWiresharkEspSa, parseXfrmState } from "../../sdk/sa/files.ts";

const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));

const GCM_KEY = "e406a01083986e14d116488549094710e9c57bc6"; // 16-byte key + 4-byte salt
const CBC_KEY = "2818a489fe84929c8ab72907e9ce2f0e";
const CBC256_KEY = "2818a489fe84929c8ab72907e9ce2f0eac6f16f2258bd22240f4087e0326badb";
const SHA256_KEY = "8c59f680c8ea1e667b665d8424e2ab749cec12dc8c59f680c8ea1e667b665d84";
const SHA1_KEY = "d960ddc0a6baaccb343396a51295e08cfd8aaddd";

// `ip xfrm state` as iproute2 prints it (tab-indented; ESN and non-ESN anti-replay contexts).
const XFRM = `src 10.1.0.2 dst 10.1.0.1
\tproto esp spi 0xc88b7652 reqid 1 mode tunnel
\treplay-window 0 flag af-unspec esn
\taead rfc4106(gcm(aes)) 0x${GCM_KEY} 128
\tencap type espinudp sport 4500 dport 4500 addr 0.0.0.0
\tanti-replay esn context:
\t seq-hi 0x1, seq 0x1d, oseq-hi 0x0, oseq 0x0
\t replay_window 128, bitmap-length 4
\t 00000000 00000000 00000000 1fffffff
\tsel src 0.0.0.0/0 dst 0.0.0.0/0
src 10.1.0.1 dst 10.1.0.2
\tproto esp spi 0x0b81df6e reqid 1 mode tunnel
\treplay-window 32 flag af-unspec
\tauth hmac(sha256) 0x${SHA256_KEY}
\tenc cbc(aes) 0x${CBC_KEY}
\tanti-replay context: seq 0x2a, oseq 0x0, bitmap 0xffffffff
\tsel src 0.0.0.0/0 dst 0.0.0.0/0
src fd00::1 dst fd00::2
\tproto esp spi 0x00001001 reqid 2 mode transport
\treplay-window 64 flag af-unspec
\tauth-trunc hmac(sha256) 0x${SHA256_KEY} 128
\tenc cbc(aes) 0x${CBC256_KEY}
\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000
\tsel src ::/0 dst ::/0
src 10.1.0.1 dst 10.1.0.2
\tproto ah spi 0x00002000 reqid 3 mode transport
\treplay-window 0 flag af-unspec
\tauth-trunc hmac(sha256) 0x${SHA256_KEY} 128
`;

// `ip -s xfrm state`: SPI and reqid also in decimal/hex, lifetime and stats sections.
const XFRM_STATS = `src 10.0.0.1 dst 10.0.0.2
\tproto esp spi 0x00000301(769) reqid 0(0x00000000) mode transport
\treplay-window 0 seq 0x00000000 flag  (0x00000000)
\tauth-trunc hmac(sha1) 0x${SHA1_KEY} 96
\tenc ecb(cipher_null) 
\tanti-replay context: seq 0x5, oseq 0x0, bitmap 0x0000001f
\tsel src 0.0.0.0/0 dst 0.0.0.0/0 uid 0
\tlifetime config:
\t  limit: soft (INF)(bytes), hard (INF)(bytes)
\t  limit: soft (INF)(packets), hard (INF)(packets)
\t  expire add: soft 0(sec), hard 0(sec)
\t  expire use: soft 0(sec), hard 0(sec)
\tlifetime current:
\t  420(bytes), 5(packets)
\t  add 2026-11-23 10:00:00 use 2026-11-23 10:00:05
\tstats:
\t  replay-window 0 replay 0 failed 0
`;

test("ip xfrm state: GCM+ESN, legacy `auth hmac(sha256)` = 96-bit, auth-trunc 128, AH skipped", () => {
  const sas = parseXfrmState(XFRM);
  assert.equal(sas.length, 3);
  assert.deepEqual(sas[0], {
    spi: 0xc88b7652,
    direction: "in",
    mode: "tunnel",
    esp: "aes128gcm16",
    encKey: bytes(GCM_KEY),
    icvLength: 16,
    esn: true,
    replayWindow: 128,
    seq: (1n << 32n) | 0x1dn,
  });
  assert.deepEqual(sas[1], {
    spi: 0x0b81df6e,
    direction: "in",
    mode: "tunnel",
    esp: "aes128-sha256_96",
    encKey: bytes(CBC_KEY),
    icvLength: 12,
    integKey: bytes(SHA256_KEY),
    esn: false,
    replayWindow: 32,
    seq: 0x2an,
  });
  assert.deepEqual(sas[2], {
    spi: 0x1001,
    direction: "in",
    mode: "transport",
    esp: "aes256-sha256",
    encKey: bytes(CBC256_KEY),
    icvLength: 16,
    integKey: bytes(SHA256_KEY),
    esn: false,
    replayWindow: 64,
    seq: 0n,
  });
});

test("ip -s xfrm state: decimal SPI suffix, stats sections, NULL encryption with HMAC-SHA1-96", () => {
  const [sa] = parseXfrmState(XFRM_STATS);
  assert.deepEqual(sa, {
    spi: 0x301,
    direction: "in",
    mode: "transport",
    esp: "null-sha1",
    encKey: new Uint8Array(0),
    icvLength: 12,
    integKey: bytes(SHA1_KEY),
    esn: false,
    replayWindow: 0,
    seq: 5n,
  });
});

test("ip xfrm state errors name the state, SPI and line", () => {
  const nokeys = XFRM_STATS.replace(`0x${SHA1_KEY} 96`, "160 96");
  assert.throws(
    () => parseXfrmState(nokeys),
    (e: Error) => e instanceof SaFileError && /state 1.*0x00000301.*auth-trunc.*nokeys/.test(e.message),
  );
  const chacha = XFRM.replace("rfc4106(gcm(aes))", "rfc7539esp(chacha20,poly1305)");
  assert.throws(() => parseXfrmState(chacha), /state 1 .*spi 0xc88b7652: aead: rfc7539esp/);
  const sha512 = XFRM.replace("auth hmac(sha256)", "auth hmac(sha512)");
  assert.throws(() => parseXfrmState(sha512), /state 2 .*spi 0x0b81df6e: auth: hmac\(sha512\) is not supported/);
  const badKey = XFRM.replace(`0x${CBC_KEY}`, `0x${CBC_KEY.slice(2)}`);
  assert.throws(() => parseXfrmState(badKey), /state 2 .*AES-CBC key must be 16 or 32 bytes, got 15/);
  assert.throws(() => parseXfrmState("hello\n"), SaFileError);
  assert.throws(() => parseXfrmState(""), /no states found/);
});

// Wireshark 4.0 esp_sa: protocol, src, dst, spi, encryption, key, authentication, key.
const WIRESHARK = `# This file is automatically generated, DO NOT MODIFY.
"IPv4","10.1.0.2","10.1.0.1","0xc88b7652","AES-GCM with 16 octet ICV [RFC4106]","0x${GCM_KEY}","NULL",""
"IPv4","10.1.0.1","10.1.0.2","0x0b81df6e","AES-CBC [RFC3602]","0x${CBC_KEY}","HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]","0x${SHA256_KEY}"
"IPv6","fd00::1","fd00::2","0x00001001","AES-CBC [RFC3602]","0x${CBC256_KEY}","HMAC-SHA-256-128 [RFC4868]","0x${SHA256_KEY}"
"Any","*","*","4097","NULL","","HMAC-SHA-1-96 [RFC2404]","0x${SHA1_KEY}"
"IPv4","*","*","0x00002002","AES-GCM with 8 octet ICV [RFC4106]","0x${GCM_KEY}","NULL",""
`;

test("Wireshark esp_sa: GCM, CBC with HMAC-SHA-256-96/128, NULL with HMAC-SHA-1-96", () => {
  const sas = parseWiresharkEspSa(WIRESHARK);
  assert.deepEqual(
    sas.map((s) => [s.spi, s.esp, s.icvLength, s.mode]),
    [
      [0xc88b7652, "aes128gcm16", 16, "tunnel"],
      [0x0b81df6e, "aes128-sha256_96", 12, "tunnel"],
      [0x1001, "aes256-sha256", 16, "tunnel"],
      [4097, "null-sha1", 12, "tunnel"],
      [0x2002, "aes128gcm8", 8, "tunnel"],
    ],
  );
  assert.deepEqual(sas[0]!.encKey, bytes(GCM_KEY));
  assert.equal(sas[0]!.integKey, undefined);
  assert.deepEqual(sas[1]!.integKey, bytes(SHA256_KEY));
  assert.deepEqual(sas[3]!.encKey, new Uint8Array(0));
  assert.equal(parseWiresharkEspSa(WIRESHARK, "transport")[2]!.mode, "transport");
});

test("Wireshark esp_sa errors name the line and field", () => {
  assert.throws(
    () => parseWiresharkEspSa(`"IPv4","a","b","*","NULL","","NULL",""`),
    /line 1 \(spi \*\): spi: .*wildcards/,
  );
  assert.throws(
    () => parseWiresharkEspSa(`"IPv4","a","b","0x1000","TripleDES-CBC [RFC2451]","0x00","NULL",""`),
    /line 1 .*encryption: "TripleDES-CBC/,
  );
  assert.throws(
    () => parseWiresharkEspSa(`\n"IPv4","a","b","0x1000","AES-CBC [RFC3602]","0x${CBC_KEY}","NULL",""`),
    /line 2 .*AES-CBC without an integrity algorithm/,
  );
  assert.throws(() => parseWiresharkEspSa(`IPv4,a,b`), /line 1: expected comma-separated "quoted" fields/);
});

test("JSON SA file: fields, defaults, -esn suffix, 64-bit replaySeq", () => {
  const sas = parseSaJson(
    JSON.stringify({
      sas: [
        {
          spi: "0x0e582872",
          mode: "tunnel",
          esp: "aes128gcm16",
          encKey: GCM_KEY,
          esn: false,
          replayWindow: 64,
          replaySeq: "41",
        },
        {
          spi: "0x00001001",
          mode: "transport",
          esp: "aes256-sha256-esn",
          encKey: CBC256_KEY,
          integKey: SHA256_KEY,
          replaySeq: "18446744073709551615",
        },
        { spi: "0x00001002", mode: "tunnel", esp: "null-sha256", integKey: SHA256_KEY, icvLength: 32, replayWindow: 0 },
      ],
    }),
  );
  assert.deepEqual(sas[0], {
    spi: 0x0e582872,
    direction: "in",
    mode: "tunnel",
    esp: "aes128gcm16",
    encKey: bytes(GCM_KEY),
    esn: false,
    icvLength: 16,
    replayWindow: 64,
    seq: 41n,
  });
  assert.deepEqual(sas[1], {
    spi: 0x1001,
    direction: "in",
    mode: "transport",
    esp: "aes256-sha256-esn",
    encKey: bytes(CBC256_KEY),
    integKey: bytes(SHA256_KEY),
    esn: true,
    icvLength: 16,
    seq: (1n << 64n) - 1n,
  });
  assert.deepEqual(sas[2], {
    spi: 0x1002,
    direction: "in",
    mode: "tunnel",
    esp: "null-sha256",
    encKey: new Uint8Array(0),
    integKey: bytes(SHA256_KEY),
    esn: false,
    icvLength: 32,
    replayWindow: 0,
  });
});

test("JSON SA file errors name the SA index and field", () => {
  const one =
    (sa: Record<string, unknown>): SaConfigsThunk =>
    () =>
      parseSaJson(
        JSON.stringify({ sas: [{ spi: "0x1000", mode: "tunnel", esp: "aes128gcm16", encKey: GCM_KEY }, sa] }),
      );
  type SaConfigsThunk = () => unknown;
  const base = { spi: "0x2000", mode: "tunnel", esp: "aes128gcm16", encKey: GCM_KEY };
  assert.throws(one({ ...base, spi: "0x10" }), /^SaFileError: sas\[1\]\.spi:/);
  assert.throws(one({ ...base, mode: "beet" }), /sas\[1\]\.mode:/);
  assert.throws(one({ ...base, esp: "aes128gcm15" }), /sas\[1\]\.esp: unknown suite "aes128gcm15"/);
  assert.throws(
    one({ ...base, encKey: GCM_KEY.slice(8) }),
    /sas\[1\]\.encKey: aes128gcm16 needs 20 bytes \(AES key then 4-byte salt\), got 16/,
  );
  assert.throws(one({ ...base, encKey: "zz" }), /sas\[1\]\.encKey: expected a hex string/);
  assert.throws(one({ ...base, integKey: SHA256_KEY }), /sas\[1\]\.integKey: .*AEAD/);
  assert.throws(
    one({ ...base, esp: "aes128-sha256", encKey: CBC_KEY }),
    /sas\[1\]\.integKey: aes128-sha256 needs an HMAC key/,
  );
  assert.throws(one({ ...base, replayWindow: 16 }), /sas\[1\]\.replayWindow:/);
  assert.throws(one({ ...base, replaySeq: "4294967296" }), /sas\[1\]\.replaySeq: exceeds 32 bits/);
  assert.throws(one({ ...base, replaySeq: "-1" }), /sas\[1\]\.replaySeq: expected a decimal string/);
  assert.throws(one({ ...base, keys: 1 }), /sas\[1\]\.keys: unknown field/);
  assert.throws(() => parseSaJson("{"), /not valid JSON/);
  assert.throws(() => parseSaJson('{"sas": []}'), /"sas" is empty/);
});
