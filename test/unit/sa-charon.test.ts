// strongSwan charon logs as an SA source (sdk/sa/charon.ts), against real logs: two charon 5.9.8
// daemons (test/fixtures/charon/make-charon-logs.ts) logged the same six Child SAs — IKE_AUTH,
// rekeys started by either side, and CREATE_CHILD_SA with ChaCha20-Poly1305, AES-CBC +
// HMAC-SHA-256 and AES-CBC + HMAC-SHA-1 — in two log layouts, and tcpdump captured the ESP-in-UDP
// between them. Each log alone must decrypt every ESP frame of that capture.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCharonLog, parseCharonLogSas, type CharonSa } from "../../sdk/sa/charon.ts";
import { SaFileError } from "../../sdk/sa/files.ts";
import { decryptCapture, detectSaFormat, loadSas, verdictsJsonl } from "../../sdk/pcap/decrypt.ts";
import { readCapture } from "../../sdk/pcap/pcapng.ts";
import { readPcap } from "../../sdk/pcap/pcap.ts";
import { main } from "../../sdk/cli/main.ts";
import type { CliIo } from "../../sdk/cli/command.ts";

const dir = fileURLToPath(new URL("../fixtures/charon/", import.meta.url));
const pcapDir = fileURLToPath(new URL("../fixtures/pcap/", import.meta.url));
const initiatorLog = readFileSync(join(dir, "initiator.log"), "utf8");
const responderLog = readFileSync(join(dir, "responder.log"), "utf8");
const hex = (b?: Uint8Array): string => (b ? Buffer.from(b).toString("hex") : "");
const key = (s: CharonSa): string =>
  `${s.config.spi.toString(16)} ${s.config.esp} ${s.config.mode} ${s.config.esn} ${hex(s.config.encKey)} ${hex(s.config.integKey)}`;

const CHILDREN = ["net{1}", "net{2}", "net{3}", "net{4}", "net{5}", "net{6}"];
const SUITES = ["aes128gcm16", "aes128gcm16", "aes128gcm16", "chacha20poly1305", "aes256-sha256", "aes128-sha1"];

test("both real logs: six Child SAs, two directions each, the suites and roles as negotiated", () => {
  const ini = parseCharonLogSas(initiatorLog);
  const resp = parseCharonLogSas(responderLog);
  for (const [name, sas, roles] of [
    // net{3} is the rekey the responder started: there the roles swap.
    ["initiator", ini, ["initiator", "initiator", "responder", "initiator", "initiator", "initiator"]],
    ["responder", resp, ["responder", "responder", "initiator", "responder", "responder", "responder"]],
  ] as const) {
    assert.deepEqual(
      sas.map((s) => s.child),
      CHILDREN.flatMap((c) => [c, c]),
      name,
    );
    assert.deepEqual(
      sas.map((s) => s.direction),
      CHILDREN.flatMap(() => ["inbound", "outbound"]),
      name,
    );
    assert.deepEqual(
      sas.map((s) => s.config.esp),
      SUITES.flatMap((x) => [x, x]),
      name,
    );
    assert.deepEqual(
      sas.map((s) => s.role),
      roles.flatMap((r) => [r, r]),
      name,
    );
    for (const s of sas) {
      assert.equal(s.config.direction, "in");
      assert.equal(s.config.mode, "tunnel");
      assert.equal(s.config.esn, false);
      assert.equal(
        s.config.integKey === undefined,
        /gcm|chacha/.test(s.config.esp),
        `${name} ${s.child}: integrity key only for HMAC suites`,
      );
    }
    assert.deepEqual(
      sas.map((s) => s.config.icvLength),
      SUITES.flatMap((x) => (x === "aes128-sha1" ? [12, 12] : [16, 16])),
    );
    assert.equal(sas.find((s) => s.child === "net{5}")?.proposal, "AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ");
  }
  // Independent derivations of the same SAs: what one side receives with, the other sends with.
  assert.deepEqual(ini.map(key).sort(), resp.map(key).sort());
  for (const s of ini) {
    const twin = resp.find((r) => r.config.spi === s.config.spi)!;
    assert.notEqual(twin.direction, s.direction, `SPI ${s.config.spi.toString(16)}`);
  }
  assert.equal(
    hex(ini[0]!.config.encKey),
    "4c44896355d16f10febfdf1805dccbe3eb06903d",
    "net{1} inbound = the responder's key, as dumped",
  );
  assert.equal(ini[0]!.config.spi, 0x56dc7c1b);
});

test("each log alone decrypts every ESP frame of the capture between the two daemons", async () => {
  const capture = readCapture(readFileSync(join(dir, "capture.pcap")));
  let first: string | undefined;
  for (const [name, text] of [
    ["initiator.log", initiatorLog],
    ["responder.log", responderLog],
  ]) {
    const r = await decryptCapture(capture, loadSas([{ format: "charon", name: name!, text: text! }]));
    const esp = r.verdicts.filter((v) => v.spi !== undefined);
    assert.equal(esp.length, 36, "6 Child SAs x 3 echo requests and replies");
    assert.ok(
      esp.every((v) => v.verdict === "ok"),
      verdictsJsonl(esp),
    );
    assert.ok(
      r.verdicts.every((v) => v.verdict === "ok" || v.verdict === "not-esp"),
      "IKE and ARP frames are not-esp",
    );
    assert.deepEqual(r.diagnostics, []);
    // The inner packets: ICMP echo between the tunnel's inner addresses, requests then replies.
    const inner = readPcap(r.output).records.map((x) => x.data);
    assert.equal(inner.length, 36);
    inner.forEach((p, i) => {
      const [src, dst, type] = i % 2 === 0 ? ["198.51.100.1", "203.0.113.2", 8] : ["203.0.113.2", "198.51.100.1", 0];
      assert.equal([...p.subarray(12, 16)].join("."), src, `inner ${i}`);
      assert.equal([...p.subarray(16, 20)].join("."), dst, `inner ${i}`);
      assert.equal(p[9], 1);
      assert.equal(p[20], type);
    });
    // Each SA carried 3 packets.
    assert.ok(
      r.sas.every((s) => s.packets === 3n),
      r.summary,
    );
    first ??= verdictsJsonl(r.verdicts);
    assert.equal(verdictsJsonl(r.verdicts), first);
  }
});

test("syslog and journal prefixes, CRLF: the same SAs", () => {
  const want = parseCharonLogSas(initiatorLog).map(key);
  const body = initiatorLog.split("\n").map((l) => l.replace(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d /, ""));
  const syslog = body.map((l) => (l ? `Dec  7 01:40:19 gw charon: ${l}` : l)).join("\n");
  const journal = body.map((l) => (l ? `2026-12-07T01:40:19+0000 gw charon-systemd[812]: ${l}` : l)).join("\r\n");
  assert.deepEqual(parseCharonLogSas(syslog).map(key), want);
  assert.deepEqual(parseCharonLogSas(journal).map(key), want);
  assert.deepEqual(
    parseCharonLog(responderLog).map((c) => c.spi),
    parseCharonLogSas(responderLog).map((s) => s.config.spi),
  );
});

test("transport mode: N(USE_TRANSP) in the initiator's parsed response or the responder's generated one", () => {
  const ini = initiatorLog.replace(
    "parsed IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]",
    "parsed IKE_AUTH response 1 [ IDr AUTH N(USE_TRANSP) SA TSi TSr ]",
  );
  assert.deepEqual(
    parseCharonLogSas(ini).map((s) => s.config.mode),
    ["transport", "transport", ...Array(10).fill("tunnel")],
  );
  const resp = responderLog.replace(
    "generating IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]",
    "generating IKE_AUTH response 1 [ IDr AUTH N(USE_TRANSP) SA TSi TSr ]",
  );
  assert.deepEqual(
    parseCharonLogSas(resp).map((s) => s.config.mode),
    ["transport", "transport", ...Array(10).fill("tunnel")],
  );
});

test("what is missing from a log is named with the setting that logs it", () => {
  const fails = (text: string, re: RegExp): void => {
    assert.throws(
      () => parseCharonLogSas(text),
      (e) => e instanceof SaFileError && re.test(e.message),
      re.source,
    );
  };
  const lines = initiatorLog.split("\n");
  // Level 1 for CHD: no key lines, no hex dumps.
  const noKeys = lines.filter((l) => !/\[CHD\] (?:<[^>]*> )?(?:.* => \d+ bytes|\s+\d+: )/.test(l)).join("\n");
  fails(
    noKeys,
    /line \d+ \(CHILD_SA net\{1\}, .*\): no Child SA keys logged before it; log CHD at level 4 \(chd = 4\)/,
  );
  fails("", /no Child SA keys found/);
  // A hex dump cut short by the end of the log.
  const cut = lines.slice(0, lines.findIndex((l) => /encryption responder key/.test(l)) + 2).join("\n");
  fails(cut, /line 39: the log ends inside the encryption responder key's hex dump/);
  // Without the proposal line (CFG below level 1).
  fails(
    initiatorLog.replace(/^.*selected proposal: ESP:.*$/gm, ""),
    /line 46 \(CHILD_SA net\{1\}, SPIs 0x56dc7c1b in, 0x86213d6b out\): no "selected proposal: ESP:\.\.\." line/,
  );
  // Without role evidence (no "establishing", no parsed messages).
  fails(
    initiatorLog.replace(/^.*(establishing CHILD_SA|parsed ).*$/gm, ""),
    /net\{1\}.*cannot tell which side initiated/,
  );
  // A suite the dataplane does not have.
  fails(
    initiatorLog.replace("ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ", "ESP:3DES_CBC/HMAC_SHA1_96/NO_EXT_SEQ"),
    /CHILD_SA net\{6\}.*3DES_CBC is not supported/,
  );
  fails(
    initiatorLog.replace("ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ", "ESP:AES_CBC_128/HMAC_MD5_96/NO_EXT_SEQ"),
    /HMAC_MD5_96 is not supported/,
  );
  fails(
    initiatorLog.replace(
      "ESP:AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ",
      "ESP:AES_CBC_128/HMAC_SHA2_256_128/NO_EXT_SEQ",
    ),
    /net\{5\}.*32 bytes\) does not fit 128-bit AES/,
  );
  // Two logs of different daemons that reuse an SPI with other keys.
  const clash = responderLog.replace(/b1eab4b6/g, "56dc7c1b");
  fails(`${initiatorLog}\n${clash}`, /SPI 0x56dc7c1b was already used with other keys/);
  // The two sides' logs concatenated: the same SAs once.
  assert.equal(parseCharonLogSas(`${initiatorLog}\n${responderLog}`).length, 12);
});

test("ESN, HMAC-SHA-256-96 and the GCM ICV lengths map to the dataplane's suites", () => {
  const swap = (from: string, to: string): CharonSa[] => parseCharonLogSas(initiatorLog.replace(from, to));
  const gcm = "ESP:AES_GCM_16_128/NO_EXT_SEQ";
  assert.deepEqual(
    swap(gcm, "ESP:AES_GCM_16_128/EXT_SEQ")
      .slice(0, 2)
      .map((s) => [s.config.esp, s.config.esn]),
    [
      ["aes128gcm16", true],
      ["aes128gcm16", true],
    ],
  );
  assert.deepEqual(
    swap(gcm, "ESP:AES_GCM_8_128/NO_EXT_SEQ")
      .slice(0, 2)
      .map((s) => [s.config.esp, s.config.icvLength]),
    [
      ["aes128gcm8", 8],
      ["aes128gcm8", 8],
    ],
  );
  assert.deepEqual(
    swap(gcm, "ESP:AES_GCM_12_128/CURVE_25519/NO_EXT_SEQ")[0]!.config.esp,
    "aes128gcm12",
    "a PFS group in the proposal is ignored",
  );
  const sha256 = "ESP:AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ";
  assert.deepEqual(
    swap(sha256, "ESP:AES_CBC_256/HMAC_SHA2_256_96/NO_EXT_SEQ").find((s) => s.child === "net{5}")?.config.esp,
    "aes256-sha256_96",
  );
});

test("format detection and the CLI's --charon", async () => {
  assert.equal(detectSaFormat(initiatorLog), "charon");
  assert.equal(detectSaFormat(responderLog), "charon");
  assert.equal(detectSaFormat(readFileSync(join(pcapDir, "esp-mixed.sas.json"), "utf8")), "json");
  assert.equal(detectSaFormat(readFileSync(join(pcapDir, "esp-mixed.xfrm.txt"), "utf8")), "xfrm");
  assert.equal(
    detectSaFormat('"IPv4","*","*","0x0e582872","AES-GCM with 16 octet ICV [RFC4106]","0x00","NULL",""\n'),
    "wireshark",
  );
  assert.equal(detectSaFormat("hello"), undefined);

  let out = "",
    err = "";
  const io: CliIo = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  };
  const code = await main(["pcap", "decrypt", "--charon", join(dir, "responder.log"), join(dir, "capture.pcap")], io);
  assert.equal(code, 0, err);
  assert.match(
    out,
    /frames 64: ok 36, no-sa 0, replay 0, integrity-failed 0, malformed 0, dummy 0, nat-keepalive 0, not-esp 28\n/,
  );
  assert.match(out, /spi 0x163357ce esp chacha20poly1305 mode tunnel icv 16 /);
  out = "";
  err = "";
  const bad = await main(
    ["pcap", "decrypt", "--charon", join(pcapDir, "esp-mixed.sas.json"), join(dir, "capture.pcap")],
    io,
  );
  assert.equal(bad, 2);
  assert.match(err, /esp-mixed\.sas\.json: no Child SA keys found/);
});
