// Writes a large ESP capture for `pcap decrypt` memory and speed runs, streamed to disk (the
// generator holds one frame at a time). ESP is made by node:crypto with the fixture's encoders
// and SAs (test/fixtures/pcap/make-esp-capture.ts: SA A AES-GCM, SA B AES-CBC + HMAC-SHA-256-128),
// so `--sa test/fixtures/pcap/esp-mixed.sas.json` decrypts it. Deterministic: the frame number
// decides everything. Every verdict occurs:
//   frame % 50 == 49  a replay of the previous frame       frame % 97 == 96  one ICV byte flipped
//   frame % 89 == 88  an SPI nobody loaded (no-sa)         frame % 101 == 100 a DNS datagram (not-esp)
//   frame % 211 == 210 a NAT-keepalive                      every 3rd ESP frame on SA B, raw ESP
//   otherwise SA A, ESP-in-UDP 4500; inner packets 40..200 bytes.
//   node --import tsx bench/pcap-gen.ts OUT.pcap FRAMES
import { closeSync, openSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { espCbcSha256, espGcm, ipv4, SA_A, SA_B } from "../test/fixtures/pcap/make-esp-capture.ts";

const MAC = Buffer.from("020000000002020000000001" + "0800", "hex");
const udp = (sport: number, dport: number, data: Buffer): Buffer => {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([u, data]);
};

/** The inner packet of ESP frame `n`: an IPv4 UDP datagram of 40..200 bytes. */
function inner(n: number): Buffer {
  const data = Buffer.alloc(12 + ((n * 7919) % 161), n & 0xff);
  return ipv4("10.1.0.1", "10.2.0.1", 17, udp(40000 + (n % 1000), 7, data), n & 0xffff);
}

/** Frame `n` (0-based) of the capture, Ethernet. */
export function frame(n: number, seq: { a: number; b: number }, last: { frame?: Buffer }): Buffer {
  if (n % 50 === 49 && last.frame) return last.frame;
  let ip: Buffer;
  if (n % 101 === 100) ip = ipv4("198.51.100.7", "203.0.113.53", 17, udp(5353, 53, Buffer.alloc(30, 1)), n & 0xffff);
  else if (n % 211 === 210)
    ip = ipv4("198.51.100.7", "203.0.113.9", 17, udp(4500, 4500, Buffer.from([0xff])), n & 0xffff);
  else {
    const onB = n % 3 === 2;
    const iv = Buffer.alloc(onB ? 16 : 8);
    iv.writeUInt32BE(n >>> 0, iv.length - 4);
    const esp = onB ? espCbcSha256(SA_B, ++seq.b, iv, inner(n), 4) : espGcm(SA_A, BigInt(++seq.a), iv, inner(n), 4);
    if (n % 89 === 88) esp.writeUInt32BE((0xdead0000 | (n & 0xffff)) >>> 0, 0);
    if (n % 97 === 96) esp[esp.length - 1]! ^= 0x01;
    ip = onB
      ? ipv4("198.51.100.7", "203.0.113.9", 50, esp, n & 0xffff)
      : ipv4("198.51.100.7", "203.0.113.9", 17, udp(4500, 4500, esp), n & 0xffff);
  }
  const f = Buffer.concat([MAC, ip]);
  last.frame = f;
  return f;
}

/** Writes `frames` frames to `path` as a classic little-endian microsecond pcap; returns its size. */
export function writeCapture(path: string, frames: number): number {
  const fd = openSync(path, "w");
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  let parts: Buffer[] = [header],
    pending = 24,
    size = 0;
  const flush = (): void => {
    const b = Buffer.concat(parts);
    writeSync(fd, b);
    size += b.length;
    parts = [];
    pending = 0;
  };
  const seq = { a: 0, b: 0 },
    last: { frame?: Buffer } = {};
  for (let n = 0; n < frames; n++) {
    const f = frame(n, seq, last);
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1_700_000_000 + Math.floor(n / 1000), 0);
    r.writeUInt32LE((n % 1000) * 1000, 4);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    parts.push(r, f);
    pending += 16 + f.length;
    if (pending >= 4 << 20) flush();
  }
  flush();
  closeSync(fd);
  return size;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [path, count] = process.argv.slice(2);
  if (!path || !/^\d+$/.test(count ?? "")) {
    console.error("usage: node --import tsx bench/pcap-gen.ts OUT.pcap FRAMES");
    process.exit(2);
  }
  const t0 = performance.now();
  const size = writeCapture(path, Number(count));
  console.log(
    `${path}: ${count} frames, ${(size / 1e6).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}
