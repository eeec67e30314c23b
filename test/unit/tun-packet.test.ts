// The pure parts of the TUN packet path (sdk/io, issue 15), without root or a TUN: ICMP
// "fragmentation needed" / "packet too big" built byte for byte, traffic-selector matching on raw
// IP headers, selector ranges as routes, interface-name checks; that the package's main entry
// never reaches sdk/io (koffi, worker_threads), and that a missing koffi is one clear sentence.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { packetTooBig, RateLimit } from "../../sdk/io/icmp-too-big.ts";
import { compileTs, matchTs, wireTs } from "../../sdk/io/selectors.ts";
import { checkTunName, rangeToPrefixes } from "../../sdk/io/tun-linux.ts";
import { parseTs } from "../../sdk/ike/ts.ts";
import type { TrafficSelector } from "../../sdk/ike/message.ts";
import { buildPacket, ipBytes, repoPath } from "../helpers/interop.ts";

/** RFC 1071 checksum over `b` (0 when a packet's checksum field is right). */
function csum(b: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

const udp4 = (size: number, df: boolean): Uint8Array => {
  const p = buildPacket({
    v6: false,
    src: "10.1.0.1",
    dst: "203.0.113.9",
    l4: "udp",
    id: 4000,
    seq: 0,
    payload: new Uint8Array(size),
    dport: 5201,
  });
  // buildPacket sets DF; clear it when asked, and fix the header checksum.
  p[6] = df ? p[6]! | 0x40 : p[6]! & ~0x40;
  const h = p.subarray(0, 20);
  h[10] = 0;
  h[11] = 0;
  const c = csum(h);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return p;
};

test("ICMPv4 fragmentation needed: type 3 code 4 with the MTU, from the packet's destination, quoting the packet, checksums right", () => {
  const pkt = udp4(1400, true);
  const r = packetTooBig(pkt, 1338)!;
  assert.ok(r);
  assert.equal(r[0], 0x45);
  assert.equal(r[9], 1);
  assert.deepEqual([...r.subarray(12, 16)], [203, 0, 113, 9], "source: the unreachable destination");
  assert.deepEqual([...r.subarray(16, 20)], [10, 1, 0, 1], "sent back to the sender");
  assert.equal(csum(r.subarray(0, 20)), 0, "IP header checksum");
  assert.equal((r[2]! << 8) | r[3]!, r.length);
  assert.deepEqual([r[20], r[21]], [3, 4]);
  assert.equal((r[26]! << 8) | r[27]!, 1338);
  assert.equal(csum(r.subarray(20)), 0, "ICMP checksum");
  assert.equal(r.length, 576, "RFC 1812: as much as fits in 576 bytes");
  assert.deepEqual([...r.subarray(28, 48)], [...pkt.subarray(0, 20)]);
});

test("no ICMP for IPv4 without DF, for ICMP errors, for later fragments; a given source is used", () => {
  assert.equal(packetTooBig(udp4(1400, false), 1338), undefined);
  const err = buildPacket({
    v6: false,
    src: "10.1.0.1",
    dst: "203.0.113.9",
    l4: "icmp",
    id: 0,
    seq: 0,
    payload: new Uint8Array(1400),
  });
  err[6]! |= 0x40;
  err[20] = 3; // a destination-unreachable is never answered with another error
  assert.equal(packetTooBig(err, 1338), undefined);
  const frag = udp4(1400, true);
  frag[7] = 10;
  assert.equal(packetTooBig(frag, 1338), undefined);
  const r = packetTooBig(udp4(1400, true), 1338, Uint8Array.of(10, 9, 9, 9))!;
  assert.deepEqual([...r.subarray(12, 16)], [10, 9, 9, 9]);
});

test("ICMPv6 packet too big: type 2 with the 32-bit MTU, quote within 1280 bytes, checksum over the pseudo-header", () => {
  const pkt = buildPacket({
    v6: true,
    src: "2001:db8::1",
    dst: "2001:db8:1::9",
    l4: "udp",
    id: 1,
    seq: 0,
    payload: new Uint8Array(1400),
    dport: 5201,
  });
  const r = packetTooBig(pkt, 1280)!;
  assert.equal(r.length, 1280);
  assert.equal(r[6], 58);
  assert.deepEqual([...r.subarray(8, 24)], [...ipBytes("2001:db8:1::9")]);
  assert.deepEqual([...r.subarray(24, 40)], [...ipBytes("2001:db8::1")]);
  assert.deepEqual([r[40], r[41]], [2, 0]);
  assert.equal(new DataView(r.buffer).getUint32(44), 1280);
  const upper = r.subarray(40);
  let pseudo = 0;
  for (let i = 8; i < 40; i += 2) pseudo += (r[i]! << 8) | r[i + 1]!;
  pseudo += upper.length + 58;
  assert.equal(csum(upper, pseudo), 0);
  const echoErr = buildPacket({
    v6: true,
    src: "2001:db8::1",
    dst: "2001:db8:1::9",
    l4: "icmp",
    id: 1,
    seq: 0,
    payload: new Uint8Array(1400),
  });
  echoErr[40] = 1; // destination unreachable
  assert.equal(packetTooBig(echoErr, 1280), undefined);
});

test("the ICMP rate limit lets a burst through, then the rate", () => {
  const l = new RateLimit(10);
  let n = 0;
  for (let i = 0; i < 100; i++) if (l.take(1000)) n++;
  assert.equal(n, 10);
  assert.equal(l.take(1100), true, "one more after 100 ms");
  assert.equal(l.take(1100), false);
});

const ts = (text: string): TrafficSelector[] => parseTs(text).filter((t): t is TrafficSelector => t !== "dynamic");

test("selectors match raw headers: IPv4 ranges, IPv6, protocol and ports, source or destination", () => {
  const remote = compileTs(wireTs(ts("203.0.113.0/24")));
  const p = udp4(100, false);
  assert.equal(matchTs(p, p.length, remote, true), true);
  assert.equal(matchTs(p, p.length, remote, false), false, "the source is not in 203.0.113.0/24");
  assert.equal(matchTs(p, p.length, compileTs(wireTs(ts("10.1.0.1/32"))), false), true);
  assert.equal(matchTs(p, p.length, compileTs(wireTs(ts("203.0.113.0/24[udp/5201]"))), true), true);
  assert.equal(matchTs(p, p.length, compileTs(wireTs(ts("203.0.113.0/24[udp/53]"))), true), false);
  assert.equal(matchTs(p, p.length, compileTs(wireTs(ts("203.0.113.0/24[tcp]"))), true), false);
  const v6 = buildPacket({
    v6: true,
    src: "2001:db8::1",
    dst: "2001:db8:1::9",
    l4: "tcp",
    id: 1,
    seq: 0,
    payload: new Uint8Array(10),
  });
  assert.equal(matchTs(v6, v6.length, compileTs(wireTs(ts("2001:db8:1::/48"))), true), true);
  assert.equal(matchTs(v6, v6.length, compileTs(wireTs(ts("2001:db8:2::/48"))), true), false);
  assert.equal(matchTs(v6, v6.length, remote, true), false, "an IPv4 selector never matches IPv6");
  assert.equal(matchTs(p, 10, remote, true), false, "truncated");
});

test("selector ranges become the fewest routes; interface names are checked", () => {
  const r = (a: string, b: string): string[] => rangeToPrefixes(ipBytes(a), ipBytes(b));
  assert.deepEqual(r("10.0.0.0", "10.0.0.255"), ["10.0.0.0/24"]);
  assert.deepEqual(r("10.0.0.1", "10.0.0.6"), ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]);
  assert.deepEqual(r("0.0.0.0", "255.255.255.255"), ["0.0.0.0/0"]);
  assert.deepEqual(r("2001:db8::", "2001:db8::ffff"), ["2001:db8::/112"]);
  assert.equal(checkTunName("ipsec0"), "ipsec0");
  for (const bad of ["", "a/b", "0123456789abcdef", "a b", "..", "-x"])
    assert.throws(() => checkTunName(bad), /not a usable interface name/, bad);
});

test("the package's main entry never imports sdk/io (koffi, worker_threads stay out of browsers and workerd)", () => {
  const seen = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms))
      walk(resolve(dirname(file), m[1]!));
  };
  walk(repoPath("sdk/index.ts"));
  const io = [...seen].filter((f) => f.includes("/sdk/io/") || f.includes("/sdk/cli/"));
  assert.deepEqual(io, [], "sdk/index.ts reaches no sdk/io or sdk/cli module");
  assert.ok(seen.size > 5, "the walk followed the imports");
});

test(
  "without koffi, asking for TUN I/O is one sentence naming `npm install koffi` and the node:dgram fallback",
  { skip: !existsSync(repoPath("dist/io/libc.js")) && "dist/ not built (npm run build)" },
  () => {
    // A copy of dist/ with no node_modules anywhere above it: koffi cannot resolve.
    const dir = mkdtempSync(join(tmpdir(), "ipsec-wasm-nokoffi-"));
    try {
      cpSync(repoPath("dist"), join(dir, "dist"), { recursive: true });
      const r = spawnSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `import("${join(dir, "dist/io/libc.js")}").then((m) => m.loadLibc("--tun tun0")).then(() => console.log("loaded"), (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })))`,
        ],
        { cwd: dir, encoding: "utf8", timeout: 30_000 },
      );
      const e = JSON.parse(r.stdout) as { name: string; code: string; message: string };
      assert.equal(e.name, "IoError");
      assert.equal(e.code, "FFI_MISSING");
      assert.match(
        e.message,
        /^--tun tun0 needs koffi \(FFI to libc, an optional peer dependency\).*run `npm install koffi@3`; without it only node:dgram \(`--io dgram`, no --tun\) carries ESP-in-UDP$/,
      );
      assert.equal(e.message.split("\n").length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "`ipsec-wasm up --tun` without koffi: exit 20 and one line on stderr",
  { skip: !existsSync(repoPath("dist/cli/main.js")) && "dist/ not built (npm run build)" },
  () => {
    // The package as installed without its optional peer koffi: dist/, the bin, @noble from the repo.
    const dir = mkdtempSync(join(tmpdir(), "ipsec-wasm-nokoffi-cli-"));
    try {
      for (const d of ["dist", "bin"]) cpSync(repoPath(d), join(dir, d), { recursive: true });
      cpSync(repoPath("package.json"), join(dir, "package.json"));
      mkdirSync(join(dir, "node_modules"));
      symlinkSync(repoPath("node_modules/@noble"), join(dir, "node_modules/@noble"));
      writeFileSync(
        join(dir, "t.conf"),
        `connections {
  t {
    local_addrs = 127.0.0.1
    remote_addrs = 127.0.0.2
    local {
      auth = psk
      id = a
    }
    remote {
      auth = psk
      id = b
    }
    children {
      net {
        local_ts = 10.0.0.1/32
        remote_ts = 10.0.0.2/32
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = a
    secret = x
  }
}
`,
      );
      const r = spawnSync(
        process.execPath,
        [join(dir, "bin/ipsec-wasm.mjs"), "up", "--conf", join(dir, "t.conf"), "--tun", "nokoffi0"],
        { cwd: dir, encoding: "utf8", timeout: 30_000 },
      );
      assert.equal(r.status, 20, r.stdout + r.stderr);
      assert.match(r.stderr, /^error: --tun nokoffi0 needs koffi .*`npm install koffi(@3)?`.*node:dgram/);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
