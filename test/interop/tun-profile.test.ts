// The packet worker's own accounting (IPSEC_WASM_IO_PROFILE=1, the `tunnel-json` control request)
// under a short iperf3 UDP flood A -> B through two `up --tun` peers, per --io mode and packet
// size: A's worker does TUN -> UDP, B's does UDP -> TUN. The assertions check the accounting
// (packets flowed, stage times add up to no more than the thread's CPU time); the numbers (kpps,
// CPU µs per packet, per stage) are printed as diagnostics, never asserted: 2-second runs on a
// shared 2-core machine are orientation, `npm run bench:tunnel` is the benchmark.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tunnelJson, vethPair } from "../helpers/netns.ts";
import { repoPath } from "../helpers/interop.ts";

const CLI = repoPath("bin/ipsec-wasm.mjs");
/** The Child SA's suite (TUN_PROFILE_ESP=chacha20poly1305 profiles the other AEAD). */
const ESP = process.env.TUN_PROFILE_ESP ?? "aes128gcm16";
const veth = vethPair("tf", "198.18.9.1/24", "198.18.9.2/24", [{ cmd: "iperf3", pkg: "iperf3" }]);
const { lab, work } = veth;

function conf(name: string, me: string, peer: string, lts: string, rts: string): string {
  const path = join(work, `${name}.conf`);
  writeFileSync(
    path,
    `connections {
  t {
    local_addrs = ${me}
    remote_addrs = ${peer}
    proposals = aes128gcm16-prfsha256-x25519
    local {
      auth = psk
      id = ${me}
    }
    remote {
      auth = psk
      id = ${peer}
    }
    children {
      net {
        local_ts = ${lts}
        remote_ts = ${rts}
        esp_proposals = ${ESP}
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = ${me}
    id-2 = ${peer}
    secret = tun-profile-psk
  }
}
`,
  );
  return path;
}

type Io = {
  tunRead: number;
  tunWritten: number;
  udpSent: number;
  udpReceived: number;
  cpuUs: number;
  wallMs: number;
  stageUs: Record<string, number>;
};
const delta = (a: Io, b: Io): Io => ({
  tunRead: b.tunRead - a.tunRead,
  tunWritten: b.tunWritten - a.tunWritten,
  udpSent: b.udpSent - a.udpSent,
  udpReceived: b.udpReceived - a.udpReceived,
  cpuUs: b.cpuUs - a.cpuUs,
  wallMs: b.wallMs - a.wallMs,
  stageUs: Object.fromEntries(Object.keys(b.stageUs).map((k) => [k, b.stageUs[k]! - (a.stageUs[k] ?? 0)])),
});

for (const [io, offload] of [
  ["mmsg", "on"],
  ["mmsg", "off"],
  ["dgram", "on"],
] as const) {
  test(
    `profiled worker, --io ${io}, TUN offloads ${offload}: CPU per packet and per stage for TUN -> UDP and UDP -> TUN, TCP and UDP (printed)`,
    { timeout: 120_000 },
    async (t) => {
      const env = { IPSEC_WASM_IO_PROFILE: "1", IPSEC_WASM_TUN_OFFLOAD: offload };
      const tag = `${io}${offload}`;
      const tmpA = join(work, `${tag}-a`),
        tmpB = join(work, `${tag}-b`);
      mkdirSync(tmpA);
      mkdirSync(tmpB);
      const b = lab.spawn(
        veth.nsB,
        [
          process.execPath,
          CLI,
          "up",
          "--listen",
          "-q",
          "--conf",
          conf(`${tag}-b`, "198.18.9.2", "198.18.9.1", "10.92.0.2/32", "10.92.0.1/32"),
          "--tun",
          `${lab.prefix}${tag}b`,
          "--io",
          io,
        ],
        { ...env, TMPDIR: tmpB },
      );
      await b.waitFor(/listening on/, 15_000);
      const a = lab.spawn(
        veth.nsA,
        [
          process.execPath,
          CLI,
          "up",
          "--conf",
          conf(`${tag}-a`, "198.18.9.1", "198.18.9.2", "10.92.0.1/32", "10.92.0.2/32"),
          "--tun",
          `${lab.prefix}${tag}a`,
          "--io",
          io,
        ],
        { ...env, TMPDIR: tmpA },
      );
      t.after(() => lab.stop(a, "SIGKILL", 2000).then(() => lab.stop(b, "SIGKILL", 2000)));
      await a.waitFor(/routes 10\.92\.0\.2\/32/, 20_000);
      await b.waitFor(/routes 10\.92\.0\.1\/32/, 10_000);
      for (const size of ["tcp", 64, 1372] as const) {
        const server = lab.spawn(veth.nsB, ["iperf3", "-s", "-1", "--forceflush", "-B", "10.92.0.2"]);
        await server.waitFor(/Server listening/, 5000);
        const a0 = (await tunnelJson(a.pid, tmpA)).io as Io,
          b0 = (await tunnelJson(b.pid, tmpB)).io as Io;
        const r = await lab.exec(
          veth.nsA,
          ["iperf3", "-c", "10.92.0.2", "-t", "2", ...(size === "tcp" ? [] : ["-u", "-b", "0", "-l", String(size)])],
          20_000,
        );
        const a1 = (await tunnelJson(a.pid, tmpA)).io as Io,
          b1 = (await tunnelJson(b.pid, tmpB)).io as Io;
        await Promise.race([server.exited, new Promise((res) => setTimeout(res, 3000))]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const tx = delta(a0, a1),
          rx = delta(b0, b1);
        assert.ok(tx.tunRead > 1000 && rx.tunWritten > 1000, JSON.stringify({ tx, rx }));
        const staged = (d: Io, keys: string[]): number => keys.reduce((s, k) => s + (d.stageUs[k] ?? 0), 0);
        assert.ok(
          staged(tx, ["tunRead", "encStage", "encap", "udpSend"]) <= tx.cpuUs * 1.05 + 1000,
          JSON.stringify(tx),
        );
        const per = (us: number, n: number): string => (us / n).toFixed(2);
        const stages = (d: Io, keys: string[], n: number): string =>
          keys.map((k) => `${k} ${per(d.stageUs[k] ?? 0, n)}`).join(", ");
        t.diagnostic(
          `${io} offload ${offload} ${size === "tcp" ? "TCP" : `${size} B`} TUN->UDP (A): ${tx.tunRead} packets, ${(tx.tunRead / tx.wallMs).toFixed(1)} kpps, worker CPU ${per(tx.cpuUs, tx.tunRead)} us/packet ` +
            `(${stages(tx, ["tunRead", "encStage", "encap", "udpSend"], tx.tunRead)})`,
        );
        t.diagnostic(
          `${io} offload ${offload} ${size === "tcp" ? "TCP" : `${size} B`} UDP->TUN (B): ${rx.tunWritten} packets, ${(rx.tunWritten / rx.wallMs).toFixed(1)} kpps, worker CPU ${per(rx.cpuUs, rx.tunWritten)} us/packet ` +
            `(${stages(rx, ["udpRecv", "decStage", "decap", "tunWrite"], rx.tunWritten)})`,
        );
      }
      assert.equal(await lab.stop(a), 0, a.out());
      assert.equal(await lab.stop(b), 0, b.out());
    },
  );
}

test(
  "1 vs 2 packet workers: TCP both ways at once through two `up --tun` peers (printed; both peers, both iperf3 ends and the kernel share 2 cores)",
  { timeout: 120_000 },
  async (t) => {
    const rates: string[] = [];
    for (const workers of [1, 2]) {
      const tmpA = join(work, `w${workers}-a`),
        tmpB = join(work, `w${workers}-b`);
      mkdirSync(tmpA);
      mkdirSync(tmpB);
      const b = lab.spawn(
        veth.nsB,
        [
          process.execPath,
          CLI,
          "up",
          "--listen",
          "-q",
          "--conf",
          conf(`w${workers}-b`, "198.18.9.2", "198.18.9.1", "10.92.0.2/32", "10.92.0.1/32"),
          "--tun",
          `${lab.prefix}w${workers}b`,
          "--workers",
          String(workers),
        ],
        { TMPDIR: tmpB },
      );
      await b.waitFor(/listening on/, 15_000);
      const a = lab.spawn(
        veth.nsA,
        [
          process.execPath,
          CLI,
          "up",
          "-q",
          "--conf",
          conf(`w${workers}-a`, "198.18.9.1", "198.18.9.2", "10.92.0.1/32", "10.92.0.2/32"),
          "--tun",
          `${lab.prefix}w${workers}a`,
          "--workers",
          String(workers),
        ],
        { TMPDIR: tmpA },
      );
      t.after(() => lab.stop(a, "SIGKILL", 2000).then(() => lab.stop(b, "SIGKILL", 2000)));
      await a.waitFor(/routes 10\.92\.0\.2\/32/, 20_000);
      await b.waitFor(/routes 10\.92\.0\.1\/32/, 10_000);
      const server = lab.spawn(veth.nsB, ["iperf3", "-s", "-1", "--forceflush", "-B", "10.92.0.2"]);
      await server.waitFor(/Server listening/, 5000);
      const r = await lab.exec(veth.nsA, ["iperf3", "-c", "10.92.0.2", "--bidir", "-t", "3", "-J"], 20_000);
      await Promise.race([server.exited, new Promise((res) => setTimeout(res, 3000))]);
      assert.equal(r.code, 0, r.stdout.slice(-1000) + r.stderr);
      const end = (
        JSON.parse(r.stdout) as {
          end: { sum_received: { bits_per_second: number }; sum_received_bidir_reverse?: { bits_per_second: number } };
        }
      ).end;
      const fwd = end.sum_received.bits_per_second / 1e6,
        rev = (end.sum_received_bidir_reverse?.bits_per_second ?? 0) / 1e6;
      assert.ok(fwd > 1 && rev > 1, JSON.stringify(end));
      rates.push(
        `${workers} worker${workers > 1 ? "s" : ""}: ${fwd.toFixed(0)} + ${rev.toFixed(0)} = ${(fwd + rev).toFixed(0)} Mbit/s`,
      );
      assert.equal(await lab.stop(a), 0, a.out());
      assert.equal(await lab.stop(b), 0, b.out());
    }
    t.diagnostic(`TCP --bidir, 3 s: ${rates.join("; ")}`);
  },
);
