// tshark (Wireshark 4.0) as an independent ESP decoder for the issue-4 suites it knows: AES-CTR
// (RFC 3686, "AES-CTR [RFC3686]", key = AES key ‖ 4-byte nonce, the key length picks AES-128/192/256)
// with HMAC-SHA-1-96 / -256-128 / -384-192 / -512-256 (RFC 2404, RFC 4868), and AES-CBC with
// HMAC-SHA-384-192 / -512-256. Packets we encapsulate go into a pcap (LINKTYPE_RAW; outer IPv4
// 198.18.0.1 -> 198.18.0.2: raw ESP, ESP-in-UDP 4500 and transport mode; raw ESP over IPv6
// 2001:db8:ffff::1 -> ::2), the keys into a Wireshark `esp_sa` table in a private config directory,
// and tshark must decrypt every packet to what we sent, call the ICV good, and a tampered copy bad.
//
// What tshark 4.0 cannot check, so this file does not pretend to: ChaCha20-Poly1305 (RFC 7634) and
// AES-GMAC (RFC 4543) are not among its ESP algorithms (encryption: NULL, 3DES, AES-CBC, AES-CTR,
// DES, CAST5, Blowfish, Twofish, AES-GCM 8/12/16; authentication: NULL, HMAC-SHA-1-96,
// HMAC-SHA-256-96/128, HMAC-SHA-384-192, HMAC-SHA-512-256, HMAC-MD5-96, MAC-RIPEMD-160-96, "ANY n
// bit"), and its esp_sa table has no ESN column. Those are covered by scapy-suites.test.ts. tshark
// cannot encrypt either, so the other direction (theirs -> ours) is scapy's job too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import {
  buildPacket, concat, hex, ipv4Header, ipv6Header, pcapRaw, prng, requireTshark, run, tempDir, udpHeader, type PacketSpec,
} from "../helpers/interop.ts";

/** Our suite keyword -> key sizes and Wireshark 4.0's esp_sa algorithm names. */
const SUITES: Record<string, { key: number; integ: number; icv: number; encr: string; auth: string }> = {};
const AUTH = {
  sha1: { integ: 20, icv: 12, name: "HMAC-SHA-1-96 [RFC2404]" },
  sha256: { integ: 32, icv: 16, name: "HMAC-SHA-256-128 [RFC4868]" },
  sha384: { integ: 48, icv: 24, name: "HMAC-SHA-384-192 [RFC4868]" },
  sha512: { integ: 64, icv: 32, name: "HMAC-SHA-512-256 [RFC4868]" },
};
for (const bits of [128, 192, 256]) {
  for (const [h, a] of Object.entries(AUTH)) {
    SUITES[`aes${bits}ctr-${h}`] = { key: bits / 8 + 4, integ: a.integ, icv: a.icv, encr: "AES-CTR [RFC3686]", auth: a.name };
    if (h === "sha384" || h === "sha512") {
      SUITES[`aes${bits}-${h}`] = { key: bits / 8, integ: a.integ, icv: a.icv, encr: "AES-CBC [RFC3602]", auth: a.name };
    }
  }
}
const [OUT_SRC, OUT_DST] = ["198.18.0.1", "198.18.0.2"];
const [OUT6_SRC, OUT6_DST] = ["2001:db8:ffff::1", "2001:db8:ffff::2"];
const INNER4 = ["198.51.100.10", "203.0.113.20"];
const INNER6 = ["2001:db8:100::10", "2001:db8:200::20"];

/** What tshark must show for one frame. */
interface Expect {
  label: string;
  spi: number;
  seq: number;
  nextHeader: number;
  /** ESP Contained Data: tunnel, the inner packet; transport, the upper-layer payload. */
  contained: string;
  good: boolean;
  icmp?: { id: number; seq: number; v6: boolean };
  udpPort?: number;
  /** Payload of the ICMP echo / UDP datagram as tshark's data.data shows it. */
  data: string;
}

const rnd = prng(0x7c7a5e);
/** Suites our dataplane refused (their tests fail with the reason). */
const refused = new Map<string, string>();
const dp = await Dataplane.create({ maxSas: 128 });
const frames: Uint8Array[] = [];
const expects: Expect[] = [];
const uat: string[] = [];

function spec(v6: boolean, src: string, dst: string, kind: "icmp" | "udp", size: number): PacketSpec {
  return {
    v6, src, dst, l4: kind, id: rnd.int(1024, 65535), seq: rnd.int(1, 65535), payload: rnd.bytes(size), dport: 41001,
  };
}

for (const [suite, s] of Object.entries(SUITES)) {
  const encKey = rnd.bytes(s.key);
  const integKey = rnd.bytes(s.integ);
  for (const variant of ["esp", "udp4500", "transport", "esp-over-ipv6"] as const) {
    const spi = rnd.int(0x10000, 0x7fffffff);
    const mode = variant === "transport" ? "transport" : "tunnel";
    let h: number;
    try {
      h = dp.addSa({ spi, direction: "out", mode, esp: suite, encKey, integKey, seq: BigInt(rnd.int(0, 1000)) });
    } catch (err) {
      refused.set(suite, err instanceof Error ? err.message : String(err));
      continue;
    }
    const v6Outer = variant === "esp-over-ipv6";
    uat.push(
      [v6Outer ? `"IPv6"` : `"IPv4"`, `"${v6Outer ? OUT6_SRC : OUT_SRC}"`, `"${v6Outer ? OUT6_DST : OUT_DST}"`, `"0x${spi.toString(16).padStart(8, "0")}"`, `"${s.encr}"`,
        `"0x${hex(encKey)}"`, `"${s.auth}"`, `"${s.integ ? `0x${hex(integKey)}` : ""}"`].join(","),
    );
    const specs =
      mode === "transport"
        ? [spec(false, OUT_SRC, OUT_DST, "icmp", 56), spec(false, OUT_SRC, OUT_DST, "udp", 1), spec(false, OUT_SRC, OUT_DST, "udp", 1200)]
        : [
          spec(false, INNER4[0], INNER4[1], "icmp", 56), spec(false, INNER4[0], INNER4[1], "udp", 0),
          spec(false, INNER4[0], INNER4[1], "udp", 1400), spec(true, INNER6[0], INNER6[1], "icmp", 17),
          spec(true, INNER6[0], INNER6[1], "udp", 100),
        ];
    specs.forEach((p, k) => {
      const inner = buildPacket(p);
      const r = dp.encapsulate(h, inner);
      assert.equal(r.status, "ok", `${suite} ${variant}: our encapsulate`);
      assert.ok(r.packet);
      let frame: Uint8Array;
      if (variant === "esp") frame = concat(ipv4Header(OUT_SRC, OUT_DST, 50, r.packet.length), r.packet);
      else if (variant === "esp-over-ipv6") frame = concat(ipv6Header(OUT6_SRC, OUT6_DST, 50, r.packet.length), r.packet);
      else if (variant === "udp4500") {
        frame = concat(ipv4Header(OUT_SRC, OUT_DST, 17, 8 + r.packet.length), udpHeader(4500, 4500, r.packet.length), r.packet);
      } else frame = r.packet;
      const expect: Expect = {
        label: `${suite} ${variant} ${p.v6 ? "ipv6" : "ipv4"} ${p.l4} ${p.payload.length}`,
        spi,
        seq: Number(r.seq),
        nextHeader: mode === "tunnel" ? (p.v6 ? 41 : 4) : p.l4 === "icmp" ? 1 : 17,
        contained: hex(mode === "tunnel" ? inner : inner.subarray(20)),
        good: true,
        icmp: p.l4 === "icmp" ? { id: p.id, seq: p.seq, v6: p.v6 } : undefined,
        udpPort: p.l4 === "udp" ? 41001 : undefined,
        data: hex(p.payload),
      };
      frames.push(frame);
      expects.push(expect);
      if (k === 0) {
        // the same packet with one ciphertext byte flipped (inside the inner packet, so the trailer
        // still parses): tshark must not call the ICV good
        const bad = frame.slice();
        bad[bad.length - s.icv - 20] ^= 0x80;
        frames.push(bad);
        expects.push({ ...expect, label: `${expect.label} TAMPERED`, good: false });
      }
    });
  }
}

const FIELDS = [
  "frame.number", "esp.spi", "esp.sequence", "esp.icv_good", "esp.icv_bad", "esp.protocol", "esp.contained_data",
  "icmp.ident", "icmp.seq", "icmpv6.echo.identifier", "icmpv6.echo.sequence_number", "udp.dstport", "data.data",
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

let rows: Row[] = [];
let setupError: unknown;
const tmp = tempDir("tshark");
try {
  const tshark = requireTshark();
  writeFileSync(join(tmp.dir, "esp_sa"), `${uat.join("\n")}\n`);
  const pcap = join(tmp.dir, "ours.pcap");
  writeFileSync(pcap, pcapRaw(frames));
  const out = run(
    tshark,
    ["-r", pcap, "-n", "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE",
      "-E", "occurrence=l", "-T", "fields", ...FIELDS.flatMap((f) => ["-e", f])],
    "",
    { ...process.env, WIRESHARK_CONFIG_DIR: tmp.dir, HOME: tmp.dir, XDG_CONFIG_HOME: tmp.dir },
  );
  rows = out.trimEnd().split("\n").map((line) => {
    const cols = line.split("\t");
    return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ""])) as Row;
  });
} catch (err) {
  setupError = err;
} finally {
  if (!process.env.KEEP_TSHARK_DIR) tmp.remove(); else console.log(`kept ${tmp.dir}`);
}

test("tshark (Debian package tshark) reads our pcap", () => {
  if (setupError) throw setupError;
  assert.equal(rows.length, frames.length);
});

for (const suite of Object.keys(SUITES)) {
  test(`tshark decrypts our ${suite} packets (raw ESP over IPv4 and IPv6, ESP-in-UDP 4500, transport) to what we sent, ICV good`, () => {
    assert.equal(refused.get(suite), undefined, "our dataplane refused the SA");
    assert.ok(rows.length === frames.length, "tshark did not run");
    let checked = 0;
    expects.forEach((e, i) => {
      if (!e.label.startsWith(`${suite} `) || !e.good) return;
      const r = rows[i];
      const at = `${e.label} (frame ${i + 1})`;
      assert.equal(Number(r["esp.spi"]), e.spi, `${at}: SPI`);
      assert.equal(Number(r["esp.sequence"]), e.seq, `${at}: sequence`);
      assert.equal(r["esp.icv_good"], "1", `${at}: ICV good`);
      assert.equal(r["esp.icv_bad"], "0", `${at}: ICV bad flag`);
      assert.equal(Number(r["esp.protocol"]), e.nextHeader, `${at}: next header`);
      assert.equal(r["esp.contained_data"], e.contained, `${at}: decrypted payload`);
      if (e.icmp) {
        const [id, sq] = e.icmp.v6 ? ["icmpv6.echo.identifier", "icmpv6.echo.sequence_number"] as const : ["icmp.ident", "icmp.seq"] as const;
        assert.equal(Number(r[id]), e.icmp.id, `${at}: ICMP id`);
        assert.equal(Number(r[sq]), e.icmp.seq, `${at}: ICMP seq`);
      } else {
        assert.equal(Number(r["udp.dstport"]), e.udpPort, `${at}: UDP port`);
      }
      assert.equal(r["data.data"], e.data, `${at}: payload`);
      checked++;
    });
    assert.equal(checked, 18);
  });

  test(`tshark reports the ICV of a tampered ${suite} packet of ours as bad`, () => {
    assert.equal(refused.get(suite), undefined, "our dataplane refused the SA");
    assert.ok(rows.length === frames.length, "tshark did not run");
    const bad = expects.flatMap((e, i) => (e.label.startsWith(`${suite} `) && !e.good ? [i] : []));
    assert.equal(bad.length, 4);
    for (const i of bad) {
      assert.equal(rows[i]["esp.icv_good"], "0", `${expects[i].label}: ICV good flag`);
      assert.equal(rows[i]["esp.icv_bad"], "1", `${expects[i].label}: ICV bad flag`);
    }
  });
}
