// Shared pieces of the scapy/tshark interop tests: finding the outside tools (failing with the
// Debian package to install when they are missing), running them, building test IP packets,
// and writing pcap files.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Debian's python packages are only visible to this interpreter, not to `python3` on PATH. `IPSEC_WASM_PYTHON` overrides it. */
export const SYSTEM_PYTHON = process.env.IPSEC_WASM_PYTHON ?? "/usr/bin/python3";

/** Absolute path of a file in this repository, from its repo-relative path. */
export function repoPath(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url));
}

/** /usr/bin/python3 if it can import scapy's IPsec layer and python-cryptography; throws naming the packages otherwise. */
export function requireScapyPython(): string {
  if (!existsSync(SYSTEM_PYTHON)) {
    throw new Error(
      `${SYSTEM_PYTHON} not found: install Debian packages python3, python3-scapy and python3-cryptography`,
    );
  }
  const probe = spawnSync(SYSTEM_PYTHON, ["-c", "import cryptography, scapy.layers.ipsec; print(scapy.VERSION)"], {
    encoding: "utf8",
    timeout: 60_000,
  });
  if (probe.status !== 0) {
    throw new Error(
      `scapy is not importable by ${SYSTEM_PYTHON}: install the Debian packages python3-scapy and python3-cryptography ` +
        `(apt-get install python3-scapy python3-cryptography)\n${probe.stderr}`,
    );
  }
  return SYSTEM_PYTHON;
}

/** Path of tshark (`IPSEC_WASM_TSHARK` overrides the search); throws naming the Debian package when it is missing. */
export function requireTshark(): string {
  const forced = process.env.IPSEC_WASM_TSHARK;
  if (forced !== undefined) {
    if (existsSync(forced)) return forced;
    throw new Error(`tshark not found at ${forced}: install the Debian package tshark (apt-get install tshark)`);
  }
  for (const p of ["/usr/bin/tshark", "/usr/local/bin/tshark"]) if (existsSync(p)) return p;
  const which = spawnSync("sh", ["-c", "command -v tshark"], { encoding: "utf8", timeout: 10_000 });
  if (which.status === 0 && which.stdout.trim() !== "") return which.stdout.trim();
  throw new Error("tshark not found: install the Debian package tshark (apt-get install tshark)");
}

/** Runs a program with `input` on stdin; returns stdout, throws with stderr on a non-zero exit or after `timeoutMs` (then SIGKILLed). */
export function run(cmd: string, args: string[], input = "", env?: NodeJS.ProcessEnv, timeoutMs = 120_000): string {
  const r = spawnSync(cmd, args, {
    input,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    env: env ?? process.env,
    timeout: timeoutMs,
    killSignal: "SIGKILL",
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** A fresh private temp directory and a function that removes it. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `ipsec-wasm-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Deterministic PRNG (xorshift32) so failing cases can be replayed from their seed. */
export function prng(seed: number): {
  u32: () => number;
  bytes: (n: number) => Uint8Array;
  int: (lo: number, hi: number) => number;
} {
  let s = seed >>> 0 || 0x9e3779b9;
  const u32 = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return {
    u32,
    bytes: (n) => Uint8Array.from({ length: n }, () => u32() & 0xff),
    int: (lo, hi) => lo + (u32() % (hi - lo + 1)),
  };
}

function checksum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) sum += (p[i]! << 8) | (i + 1 < p.length ? p[i + 1]! : 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function be16(v: number): Uint8Array {
  return Uint8Array.of(v >>> 8, v & 0xff);
}

function be32(v: number): Uint8Array {
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/** Parses "a.b.c.d" or a full/compressed IPv6 address into bytes. */
export function ipBytes(addr: string): Uint8Array {
  if (addr.includes(".")) return Uint8Array.from(addr.split(".").map(Number));
  const [head, tail] = addr.split("::");
  const words = (s: string | undefined): number[] => (s ? s.split(":").map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return concat(...all.map(be16));
}

/** Upper-layer protocol of a test packet. */
export type L4 = "icmp" | "udp" | "tcp";

/** Describes one test packet; `build` turns it into bytes with correct lengths and checksums. */
export interface PacketSpec {
  v6: boolean;
  src: string;
  dst: string;
  l4: L4;
  /** ICMP id / UDP and TCP source port. */
  id: number;
  /** ICMP sequence / TCP sequence number. */
  seq: number;
  payload: Uint8Array;
  /** UDP/TCP destination port (default 53 for UDP, 443 for TCP). */
  dport?: number;
}

/** An IPv4 or IPv6 packet with an ICMP(v6) echo request, UDP (port 53) or TCP (port 443) segment. */
export function buildPacket(p: PacketSpec): Uint8Array {
  const src = ipBytes(p.src);
  const dst = ipBytes(p.dst);
  const proto = p.l4 === "icmp" ? (p.v6 ? 58 : 1) : p.l4 === "udp" ? 17 : 6;
  let l4: Uint8Array;
  if (p.l4 === "icmp") l4 = concat(Uint8Array.of(p.v6 ? 128 : 8, 0, 0, 0), be16(p.id), be16(p.seq & 0xffff), p.payload);
  else if (p.l4 === "udp") l4 = concat(be16(p.id), be16(p.dport ?? 53), be16(8 + p.payload.length), be16(0), p.payload);
  else
    l4 = concat(
      be16(p.id),
      be16(p.dport ?? 443),
      be32(p.seq),
      be32(0x01020304),
      Uint8Array.of(0x50, 0x18),
      be16(8192),
      be16(0),
      be16(0),
      p.payload,
    );
  const pseudo = p.v6
    ? concat(src, dst, be32(l4.length), Uint8Array.of(0, 0, 0, proto))
    : concat(src, dst, Uint8Array.of(0, proto), be16(l4.length));
  const csumAt = p.l4 === "icmp" ? 2 : p.l4 === "udp" ? 6 : 16;
  let c = p.l4 === "icmp" && !p.v6 ? checksum(l4) : checksum(pseudo, l4);
  if (c === 0 && p.l4 === "udp") c = 0xffff;
  l4.set(be16(c), csumAt);
  if (p.v6) return concat(Uint8Array.of(0x60, 0, 0, 0), be16(l4.length), Uint8Array.of(proto, 64), src, dst, l4);
  const hdr = concat(
    Uint8Array.of(0x45, 0),
    be16(20 + l4.length),
    be16(p.id ^ 0x5a5a),
    Uint8Array.of(0x40, 0, 64, proto),
    be16(0),
    src,
    dst,
  );
  hdr.set(be16(checksum(hdr)), 10);
  return concat(hdr, l4);
}

/** A random test packet between the given addresses, payload 0..maxPayload bytes. */
export function randomPacket(
  rnd: ReturnType<typeof prng>,
  v6: boolean,
  src: string,
  dst: string,
  maxPayload = 1400,
): Uint8Array {
  const kinds: L4[] = ["icmp", "udp", "tcp"];
  return buildPacket({
    v6,
    src,
    dst,
    l4: kinds[rnd.int(0, 2)]!,
    id: rnd.int(1024, 65535),
    seq: rnd.u32(),
    payload: rnd.bytes(rnd.int(0, maxPayload)),
  });
}

/** IPv4 header (no options) for `payloadLength` bytes of protocol `proto`, checksum filled in. */
export function ipv4Header(src: string, dst: string, proto: number, payloadLength: number, id = 1): Uint8Array {
  const hdr = concat(
    Uint8Array.of(0x45, 0),
    be16(20 + payloadLength),
    be16(id),
    Uint8Array.of(0, 0, 64, proto),
    be16(0),
    ipBytes(src),
    ipBytes(dst),
  );
  hdr.set(be16(checksum(hdr)), 10);
  return hdr;
}

/** IPv6 header (no extension headers) for `payloadLength` bytes of next header `nh`. */
export function ipv6Header(src: string, dst: string, nh: number, payloadLength: number): Uint8Array {
  return concat(Uint8Array.of(0x60, 0, 0, 0), be16(payloadLength), Uint8Array.of(nh, 64), ipBytes(src), ipBytes(dst));
}

/** UDP header (checksum 0, allowed for ESP-in-UDP over IPv4 by RFC 3948 §2.1). */
export function udpHeader(sport: number, dport: number, payloadLength: number): Uint8Array {
  return concat(be16(sport), be16(dport), be16(8 + payloadLength), be16(0));
}

/** A classic pcap file with LINKTYPE_RAW (101): every frame starts with an IP header. */
export function pcapRaw(frames: Uint8Array[]): Uint8Array {
  const le32 = (v: number): Uint8Array => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  const le16 = (v: number): Uint8Array => Uint8Array.of(v & 0xff, v >>> 8);
  const parts = [le32(0xa1b2c3d4), le16(2), le16(4), le32(0), le32(0), le32(65535), le32(101)];
  frames.forEach((f, i) => parts.push(le32(1_700_000_000 + i), le32(0), le32(f.length), le32(f.length), f));
  return concat(...parts);
}

/**
 * Turns an IP packet carrying ESP (protocol 50 right after a plain IPv4/IPv6 header) into
 * ESP-in-UDP on port 4500 (RFC 3948): UDP header inserted, protocol, length and checksum fixed.
 */
export function espInUdp(packet: Uint8Array): Uint8Array {
  const v4 = packet[0]! >> 4 === 4;
  const l3 = v4 ? (packet[0]! & 15) * 4 : 40;
  if (packet[v4 ? 9 : 6] !== 50) throw new Error("espInUdp: not an ESP packet without extension headers");
  const esp = packet.subarray(l3);
  const hdr = packet.slice(0, l3);
  if (v4) {
    hdr[9] = 17;
    hdr.set(be16(l3 + 8 + esp.length), 2);
    hdr.set([0, 0], 10);
    hdr.set(be16(checksum(hdr)), 10);
  } else {
    hdr[6] = 17;
    hdr.set(be16(8 + esp.length), 4);
  }
  return concat(hdr, udpHeader(4500, 4500, esp.length), esp);
}
