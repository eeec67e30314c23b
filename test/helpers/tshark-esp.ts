// Shared by tshark-live.test.ts and tshark-suites.test.ts: tshark (Wireshark 4.0) as an
// independent ESP decoder. Packets we encapsulate are written to a pcap (LINKTYPE_RAW; outer IPv4
// 198.18.0.1 -> 198.18.0.2: raw ESP, ESP-in-UDP 4500 and transport mode; raw ESP over IPv6
// 2001:db8:ffff::1 -> ::2), each with a tampered copy of its first packet; the keys go into a
// Wireshark `esp_sa` table in a private config directory; tshark's per-frame fields are read back
// and checked against what we sent.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import type { IcvLength, SaHandle } from "../../sdk/dataplane/types.ts";
import {
  buildPacket,
  concat,
  hex,
  ipv4Header,
  ipv6Header,
  pcapRaw,
  prng,
  requireTshark,
  run,
  tempDir,
  udpHeader,
  type PacketSpec,
} from "./interop.ts";

/** One suite keyword's key sizes and Wireshark 4.0's esp_sa algorithm names. */
export interface TsharkSuite {
  key: number;
  integ: number;
  icv: IcvLength;
  encr: string;
  auth: string;
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

const FIELDS = [
  "frame.number",
  "esp.spi",
  "esp.sequence",
  "esp.icv_good",
  "esp.icv_bad",
  "esp.protocol",
  "esp.contained_data",
  "icmp.ident",
  "icmp.seq",
  "icmpv6.echo.identifier",
  "icmpv6.echo.sequence_number",
  "udp.dstport",
  "data.data",
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

/** Our frames, what tshark must show for each, and what it showed (one row per frame). */
export interface TsharkEspRun {
  frames: Uint8Array[];
  expects: Expect[];
  rows: Row[];
  /** Why tshark could not be run or read back (the first test throws it). */
  setupError: unknown;
  /** Suites our dataplane refused, with the reason (their tests fail with it). */
  refused: Map<string, string>;
}

export interface TsharkEspOptions {
  seed: number;
  maxSas: number;
  /** Pass the suite's `icv` to addSa as `icvLength` instead of leaving the suite's default. */
  pinIcvLength: boolean;
}

/** Encapsulates every suite × (raw ESP, UDP 4500, transport, ESP over IPv6) and runs tshark over the pcap. */
export async function runTsharkEsp(suites: Record<string, TsharkSuite>, opts: TsharkEspOptions): Promise<TsharkEspRun> {
  const rnd = prng(opts.seed);
  const dp = await Dataplane.create({ maxSas: opts.maxSas });
  const result: TsharkEspRun = { frames: [], expects: [], rows: [], setupError: undefined, refused: new Map() };
  const { frames, expects } = result;
  const uat: string[] = [];

  const spec = (v6: boolean, src: string, dst: string, kind: "icmp" | "udp", size: number): PacketSpec => ({
    v6,
    src,
    dst,
    l4: kind,
    id: rnd.int(1024, 65535),
    seq: rnd.int(1, 65535),
    payload: rnd.bytes(size),
    dport: 41001,
  });

  for (const [suite, s] of Object.entries(suites)) {
    const encKey = rnd.bytes(s.key);
    const integKey = rnd.bytes(s.integ);
    for (const variant of ["esp", "udp4500", "transport", "esp-over-ipv6"] as const) {
      const spi = rnd.int(0x10000, 0x7fffffff);
      const mode = variant === "transport" ? "transport" : "tunnel";
      const seq = BigInt(rnd.int(0, 1000));
      let h: SaHandle;
      try {
        h = dp.addSa({
          spi,
          direction: "out",
          mode,
          esp: suite,
          encKey,
          integKey: s.integ ? integKey : undefined,
          icvLength: opts.pinIcvLength ? s.icv : undefined,
          seq,
        });
      } catch (err) {
        result.refused.set(suite, err instanceof Error ? err.message : String(err));
        continue;
      }
      const v6Outer = variant === "esp-over-ipv6";
      uat.push(
        [
          v6Outer ? `"IPv6"` : `"IPv4"`,
          `"${v6Outer ? OUT6_SRC : OUT_SRC}"`,
          `"${v6Outer ? OUT6_DST : OUT_DST}"`,
          `"0x${spi.toString(16).padStart(8, "0")}"`,
          `"${s.encr}"`,
          `"0x${hex(encKey)}"`,
          `"${s.auth}"`,
          `"${s.integ ? `0x${hex(integKey)}` : ""}"`,
        ].join(","),
      );
      const specs =
        mode === "transport"
          ? [
              spec(false, OUT_SRC, OUT_DST, "icmp", 56),
              spec(false, OUT_SRC, OUT_DST, "udp", 1),
              spec(false, OUT_SRC, OUT_DST, "udp", 1200),
            ]
          : [
              spec(false, INNER4[0]!, INNER4[1]!, "icmp", 56),
              spec(false, INNER4[0]!, INNER4[1]!, "udp", 0),
              spec(false, INNER4[0]!, INNER4[1]!, "udp", 1400),
              spec(true, INNER6[0]!, INNER6[1]!, "icmp", 17),
              spec(true, INNER6[0]!, INNER6[1]!, "udp", 100),
            ];
      specs.forEach((p, k) => {
        const inner = buildPacket(p);
        const r = dp.encapsulate(h, inner);
        assert.equal(r.status, "ok", `${suite} ${variant}: our encapsulate`);
        assert.ok(r.packet);
        let frame: Uint8Array;
        if (variant === "esp") frame = concat(ipv4Header(OUT_SRC, OUT_DST, 50, r.packet.length), r.packet);
        else if (variant === "esp-over-ipv6")
          frame = concat(ipv6Header(OUT6_SRC, OUT6_DST, 50, r.packet.length), r.packet);
        else if (variant === "udp4500") {
          frame = concat(
            ipv4Header(OUT_SRC, OUT_DST, 17, 8 + r.packet.length),
            udpHeader(4500, 4500, r.packet.length),
            r.packet,
          );
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
          bad[bad.length - s.icv - 20]! ^= 0x80;
          frames.push(bad);
          expects.push({ ...expect, label: `${expect.label} TAMPERED`, good: false });
        }
      });
    }
  }

  const tmp = tempDir("tshark");
  try {
    const tshark = requireTshark();
    writeFileSync(join(tmp.dir, "esp_sa"), `${uat.join("\n")}\n`);
    const pcap = join(tmp.dir, "ours.pcap");
    writeFileSync(pcap, pcapRaw(frames));
    const out = run(
      tshark,
      [
        "-r",
        pcap,
        "-n",
        "-o",
        "esp.enable_encryption_decode:TRUE",
        "-o",
        "esp.enable_authentication_check:TRUE",
        "-E",
        "occurrence=l",
        "-T",
        "fields",
        ...FIELDS.flatMap((f) => ["-e", f]),
      ],
      "",
      { ...process.env, WIRESHARK_CONFIG_DIR: tmp.dir, HOME: tmp.dir, XDG_CONFIG_HOME: tmp.dir },
    );
    result.rows = out
      .trimEnd()
      .split("\n")
      .map((line) => {
        const cols = line.split("\t");
        return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ""])) as Row;
      });
  } catch (err) {
    result.setupError = err;
  } finally {
    if (!process.env.KEEP_TSHARK_DIR) tmp.remove();
    else console.log(`kept ${tmp.dir}`);
  }
  return result;
}

/** tshark ran and gave one row per frame. */
export function assertTsharkRan(t: TsharkEspRun): void {
  if (t.setupError) throw t.setupError;
  assert.equal(t.rows.length, t.frames.length);
}

/** Every good frame of `suite` (18: 5 tunnel × 3 outer variants + 3 transport) decrypts to what we sent, ICV good. */
export function assertTsharkDecrypts(t: TsharkEspRun, suite: string): void {
  assert.equal(t.refused.get(suite), undefined, "our dataplane refused the SA");
  assert.ok(t.rows.length === t.frames.length, "tshark did not run");
  let checked = 0;
  t.expects.forEach((e, i) => {
    if (!e.label.startsWith(`${suite} `) || !e.good) return;
    const r = t.rows[i];
    const at = `${e.label} (frame ${i + 1})`;
    assert.equal(Number(r!["esp.spi"]), e.spi, `${at}: SPI`);
    assert.equal(Number(r!["esp.sequence"]), e.seq, `${at}: sequence`);
    assert.equal(r!["esp.icv_good"], "1", `${at}: ICV good`);
    assert.equal(r!["esp.icv_bad"], "0", `${at}: ICV bad flag`);
    assert.equal(Number(r!["esp.protocol"]), e.nextHeader, `${at}: next header`);
    assert.equal(r!["esp.contained_data"], e.contained, `${at}: decrypted payload`);
    if (e.icmp) {
      const [id, sq] = e.icmp.v6
        ? (["icmpv6.echo.identifier", "icmpv6.echo.sequence_number"] as const)
        : (["icmp.ident", "icmp.seq"] as const);
      assert.equal(Number(r![id]), e.icmp.id, `${at}: ICMP id`);
      assert.equal(Number(r![sq]), e.icmp.seq, `${at}: ICMP seq`);
    } else {
      assert.equal(Number(r!["udp.dstport"]), e.udpPort, `${at}: UDP port`);
    }
    assert.equal(r!["data.data"], e.data, `${at}: payload`);
    checked++;
  });
  assert.equal(checked, 18);
}

/** The 4 tampered frames of `suite` (one per variant) have ICV bad. */
export function assertTsharkTamperedBad(t: TsharkEspRun, suite: string): void {
  assert.equal(t.refused.get(suite), undefined, "our dataplane refused the SA");
  assert.ok(t.rows.length === t.frames.length, "tshark did not run");
  const bad = t.expects.flatMap((e, i) => (e.label.startsWith(`${suite} `) && !e.good ? [i] : []));
  assert.equal(bad.length, 4);
  for (const i of bad) {
    assert.equal(t.rows[i]!["esp.icv_good"], "0", `${t.expects[i]!.label}: ICV good flag`);
    assert.equal(t.rows[i]!["esp.icv_bad"], "1", `${t.expects[i]!.label}: ICV bad flag`);
  }
}
