// examples/node-tool (the ESP-in-UDP echo responder) from the packed tarball, twice: as installed
// (plain `node echo-responder.mjs`, the package from node_modules) and as an esbuild
// `--platform=node --format=esm` bundle run from a directory with no node_modules, with the
// exported `ipsec-wasm/dataplane.wasm` copied beside it as the example's README says. The test
// is the responder's peer: its ESP is made and checked with node:crypto (test/helpers/esp-ref.ts),
// never with ipsec-wasm, so the replies prove the responder's bytes, not our own round trip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { consumerProject, repo, runOk, startProcess, tool } from "./harness.ts";
import { refDecap, refEncap, type RefSa } from "../helpers/esp-ref.ts";

const example = (f: string): string => readFileSync(repo(`examples/node-tool/${f}`), "utf8");

/** RFC 1071 checksum over b[start..end). */
function inet(b: Buffer, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** IPv4 header (20 bytes, valid checksum) + `l4`. */
function ipv4(proto: number, src: number[], dst: number[], l4: Buffer, ttl: number, id: number): Buffer {
  const p = Buffer.concat([Buffer.alloc(20), l4]);
  p.set([0x45, 0, p.length >> 8, p.length & 255, id >> 8, id & 255, 0x40, 0, ttl, proto, 0, 0, ...src, ...dst]);
  p.writeUInt16BE(inet(p, 0, 20), 10);
  return p;
}

function icmpEcho(type: 0 | 8, id: number, seq: number, data: Buffer): Buffer {
  const m = Buffer.concat([Buffer.from([type, 0, 0, 0, id >> 8, id & 255, seq >> 8, seq & 255]), data]);
  m.writeUInt16BE(inet(m, 0, m.length), 2);
  return m;
}

function udp(sport: number, dport: number, data: Buffer): Buffer {
  const u = Buffer.concat([Buffer.alloc(8), data]);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(u.length, 4); // checksum 0
  return u;
}

const HOST = [198, 51, 100, 7];
const SERVER = [203, 0, 113, 9];

/** SA pair for one suite, as the test (node:crypto) and the responder's JSON see it. */
function saPair(suite: "aes128gcm16" | "aes128-sha256"): { config: object; toResponder: RefSa; fromResponder: RefSa } {
  const spiIn = 0x0000a000 + randomBytes(1)[0]!;
  const spiOut = 0x0000b000 + randomBytes(1)[0]!;
  if (suite === "aes128gcm16") {
    const k1 = randomBytes(16),
      s1 = randomBytes(4),
      k2 = randomBytes(16),
      s2 = randomBytes(4);
    return {
      config: {
        esp: suite,
        in: { spi: `0x${spiIn.toString(16)}`, encKey: Buffer.concat([k1, s1]).toString("hex") },
        out: { spi: `0x${spiOut.toString(16)}`, encKey: Buffer.concat([k2, s2]).toString("hex") },
      },
      toResponder: { spi: spiIn, suite: "gcm", key: k1, salt: s1, icv: 16 },
      fromResponder: { spi: spiOut, suite: "gcm", key: k2, salt: s2, icv: 16 },
    };
  }
  const k1 = randomBytes(16),
    i1 = randomBytes(32),
    k2 = randomBytes(16),
    i2 = randomBytes(32);
  return {
    config: {
      esp: suite,
      in: { spi: `0x${spiIn.toString(16)}`, encKey: k1.toString("hex"), integKey: i1.toString("hex") },
      out: { spi: `0x${spiOut.toString(16)}`, encKey: k2.toString("hex"), integKey: i2.toString("hex") },
    },
    toResponder: { spi: spiIn, suite: "cbc", key: k1, integKey: i1, hash: "sha256", icv: 16 },
    fromResponder: { spi: spiOut, suite: "cbc", key: k2, integKey: i2, hash: "sha256", icv: 16 },
  };
}

/**
 * Starts the responder (`cmd args… CONFIG`), sends it an ICMP echo request, a UDP datagram and a
 * tampered packet as ESP in UDP, and checks both answers decapsulate (node:crypto) to exactly the
 * expected inner packets, and that the tampered one is dropped as integrity-failed.
 */
async function exercise(
  cmd: string,
  args: string[],
  cwd: string,
  suite: "aes128gcm16" | "aes128-sha256",
): Promise<void> {
  const pair = saPair(suite);
  const configPath = join(cwd, "sa.test.json");
  writeFileSync(configPath, JSON.stringify({ listen: { address: "127.0.0.1", port: 0 }, ...pair.config }));
  const responder = startProcess(cmd, [...args, configPath], { cwd });
  const sock = dgram.createSocket("udp4");
  try {
    const port = Number(
      (await responder.waitFor(/echo responder on 127\.0\.0\.1:(\d+) \(ESP-in-UDP, ([\w-]+)\)/, 20_000))[1],
    );
    const replies: Buffer[] = [];
    sock.on("message", (m) => replies.push(m));
    await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));

    const data = randomBytes(40);
    const echoReq = ipv4(1, HOST, SERVER, icmpEcho(8, 0x4242, 1, data), 63, 0x1111);
    const udpReq = ipv4(17, HOST, SERVER, udp(40000, 7, data), 63, 0x2222);
    const send = (p: Buffer): Promise<void> =>
      new Promise((resolve, reject) => sock.send(p, port, "127.0.0.1", (e) => (e ? reject(e) : resolve())));
    const tampered = refEncap(pair.toResponder, 3n, udpReq, 4);
    tampered[tampered.length - 20]! ^= 0x80;
    await send(refEncap(pair.toResponder, 1n, echoReq, 4));
    await send(refEncap(pair.toResponder, 2n, udpReq, 4));
    await send(tampered);

    const deadline = Date.now() + 10_000;
    while ((replies.length < 2 || !responder.stderr().includes("integrity-failed")) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200)); // nothing more may arrive
    assert.equal(replies.length, 2, `replies: ${replies.length}\n--- responder stderr\n${responder.stderr()}`);

    const got = replies.map((r) => refDecap(pair.fromResponder, r));
    assert.deepEqual(got.map((g) => g.seq).sort(), [1, 2], "the outbound SA numbers its packets 1, 2");
    for (const g of got) assert.equal(g.nextHeader, 4, "tunnel mode, IPv4 inside");
    const byProto = new Map(got.map((g) => [g.payload[9], g.payload]));
    assert.equal(
      byProto.get(1)?.toString("hex"),
      ipv4(1, SERVER, HOST, icmpEcho(0, 0x4242, 1, data), 64, 0x1111).toString("hex"),
      "ICMP echo reply",
    );
    assert.equal(
      byProto.get(17)?.toString("hex"),
      ipv4(17, SERVER, HOST, udp(7, 40000, data), 64, 0x2222).toString("hex"),
      "UDP answer",
    );
    assert.match(
      responder.stderr(),
      new RegExp(
        `dropped ESP from 127\\.0\\.0\\.1:\\d+ \\(spi 0x${pair.toResponder.spi.toString(16)}\\): integrity-failed`,
      ),
    );
  } finally {
    sock.close();
    await responder.stop();
  }
}

test(
  "examples/node-tool from the tarball install: plain node, the package from node_modules",
  { timeout: 180_000 },
  async () => {
    const c = await consumerProject("node-tool", {
      files: { "echo-responder.mjs": example("echo-responder.mjs"), "sa.example.json": example("sa.example.json") },
    });
    try {
      await exercise(process.execPath, ["echo-responder.mjs"], c.dir, "aes128gcm16");
    } finally {
      c.remove();
    }
  },
);

test(
  "examples/node-tool bundled by esbuild --platform=node --format=esm, run with no node_modules beside the wasm copied from ipsec-wasm/dataplane.wasm",
  { timeout: 180_000 },
  async () => {
    const esbuild = await tool("esbuild");
    const c = await consumerProject("node-tool-bundle", {
      files: { "echo-responder.mjs": example("echo-responder.mjs") },
    });
    const run = mkdtempSync(join(tmpdir(), "ipsec-wasm-node-tool-bundle-"));
    try {
      // The example's `npm run bundle`, with the pinned esbuild.
      await runOk(
        esbuild,
        ["echo-responder.mjs", "--bundle", "--platform=node", "--format=esm", "--outfile=dist/echo-responder.mjs"],
        { cwd: c.dir, timeoutMs: 60_000 },
      );
      const copy = JSON.parse(example("package.json")).scripts.bundle.split("&& ")[1] as string;
      assert.match(copy, /^node -e /);
      await runOk("sh", ["-c", copy], { cwd: c.dir, timeoutMs: 30_000 });
      const bundle = readFileSync(join(c.dir, "dist/echo-responder.mjs"), "utf8");
      assert.doesNotMatch(bundle, /from ["']ipsec-wasm/, "the package is inside the bundle");
      assert.ok(
        readFileSync(join(c.dir, "dist/dataplane.wasm")).equals(
          readFileSync(join(c.dir, "node_modules/ipsec-wasm/dist/wasm/dataplane.wasm")),
        ),
      );
      // A directory with only the bundle and the wasm: nothing can come from node_modules.
      copyFileSync(join(c.dir, "dist/echo-responder.mjs"), join(run, "echo-responder.mjs"));
      copyFileSync(join(c.dir, "dist/dataplane.wasm"), join(run, "dataplane.wasm"));
      assert.equal(existsSync(join(run, "node_modules")), false);
      await exercise(process.execPath, ["echo-responder.mjs"], run, "aes128-sha256");
    } finally {
      c.remove();
      rmSync(run, { recursive: true, force: true });
    }
  },
);
