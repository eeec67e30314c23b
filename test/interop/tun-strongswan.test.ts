// ipsec-wasm as a VPN (`up --tun`, issue 15) against strongSwan with kernel-libipsec (charon 5.9
// in its own namespace, test/helpers/strongswan.ts): from the caller namespace the system's own
// ping and an iperf3 TCP stream go through our TUN to 203.0.113.2 behind strongSwan, and
// strongSwan's side pings our inner address, with our side as initiator and as responder; after
// SIGTERM no TUN, route or process of ours is left. Needs root, strongSwan (see .ci/run),
// iputils-ping, iperf3 and a built dist/.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CALLER_ADDR,
  CALLER_INNER_ADDR,
  PEER_ADDR,
  PEER_INNER_ADDR,
  SWAN_DEFAULTS,
  startSwanPeer,
  type SwanPeer,
} from "../helpers/strongswan.ts";
import { NetnsLab, requireNetns, tunnelJson } from "../helpers/netns.ts";
import { repoPath } from "../helpers/interop.ts";
import { pskConf } from "../helpers/psk-conf.ts";

const CLI = repoPath("bin/ipsec-wasm.mjs");
const work = mkdtempSync(join(tmpdir(), "ipsec-wasm-tun-swan-"));
const lab = new NetnsLab("ts");
const peers: SwanPeer[] = [];

before(() =>
  requireNetns([
    { cmd: "ping", pkg: "iputils-ping" },
    { cmd: "iperf3", pkg: "iperf3" },
  ]),
);
after(async () => {
  await lab.cleanup();
  for (const p of peers) await p.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

/** Our side's swanctl.conf against the harness's strongSwan peer (its defaults: PSK, identities, selectors). */
function conf(name: string): string {
  const path = join(work, `${name}.conf`);
  const me = { addr: CALLER_ADDR, id: SWAN_DEFAULTS.callerId, ts: `${CALLER_INNER_ADDR}/32` };
  const peer = { addr: PEER_ADDR, id: SWAN_DEFAULTS.peerId, ts: SWAN_DEFAULTS.peerTs };
  writeFileSync(path, pskConf(me, peer, { esp: "aes128gcm16", psk: SWAN_DEFAULTS.psk }));
  return path;
}

for (const role of ["initiator", "responder"] as const) {
  test(
    `strongSwan (kernel-libipsec) as the far end, ipsec-wasm ${role} with --tun: system ping and TCP to ${PEER_INNER_ADDR} through our TUN, ping back`,
    { timeout: 120_000 },
    async (t) => {
      const p = await startSwanPeer({
        role: role === "initiator" ? "responder" : "initiator",
        env: { SWAN_IKE_PROPOSALS: "aes128gcm16-prfsha256-x25519", SWAN_ESP_PROPOSALS: "aes128gcm16" },
      });
      peers.push(p);
      const tmp = join(work, role);
      mkdirSync(tmp);
      const tun = `${lab.prefix}${role.slice(0, 4)}`;
      const args = [
        process.execPath,
        CLI,
        "up",
        "--conf",
        conf(role),
        "--tun",
        tun,
        ...(role === "responder" ? ["--listen"] : []),
      ];
      const up = lab.spawn(p.callerNs, args, { TMPDIR: tmp });
      t.after(() => lab.stop(up, "SIGKILL", 2000));
      if (role === "responder") {
        await up.waitFor(/listening on/, 15_000);
        const init = await p.initiate();
        assert.match(init, /established|CHILD_SA/i, init);
      }
      await up.waitFor(new RegExp(`${tun}: routes 203\\.0\\.113\\.0/24`), 20_000);
      assert.match(
        (await p.inCaller(["ip", "-o", "addr", "show", "dev", tun])).stdout,
        new RegExp(`inet ${CALLER_INNER_ADDR}/32`),
      );
      const ping = await p.inCaller(["ping", "-c", "3", "-i", "0.2", "-W", "2", PEER_INNER_ADDR], {
        timeoutMs: 15_000,
      });
      assert.match(ping.stdout, /3 packets transmitted, 3 received/, `${ping.stdout}${ping.stderr}\n${up.out()}`);
      const back = await p.inPeer(
        ["ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", PEER_INNER_ADDR, CALLER_INNER_ADDR],
        { timeoutMs: 15_000 },
      );
      assert.match(back.stdout, /3 packets transmitted, 3 received/, back.stdout + back.stderr);
      // TCP: iperf3's server behind strongSwan, the client here; short (kernel-libipsec is slow).
      const server = p.inPeer(["iperf3", "-s", "-1", "-B", PEER_INNER_ADDR], { timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 500));
      const client = await p.inCaller(["iperf3", "-c", PEER_INNER_ADDR, "-t", "2", "-J"], { timeoutMs: 20_000 });
      await server;
      assert.equal(client.code, 0, client.stdout.slice(-2000) + client.stderr);
      const end = (JSON.parse(client.stdout) as { end: { sum_received: { bytes: number; bits_per_second: number } } })
        .end;
      assert.ok(end.sum_received.bytes > 1e5, JSON.stringify(end.sum_received));
      t.diagnostic(
        `TCP to strongSwan through our TUN: ${(end.sum_received.bits_per_second / 1e6).toFixed(0)} Mbit/s (2 s, orientation only)`,
      );
      const sas = await p.sas();
      assert.match(sas, /net: #\d+, reqid \d+, INSTALLED, TUNNEL-in-UDP/, sas);
      const io = (await tunnelJson(up.pid, tmp)).io as { tunRead: number; tunWritten: number; policyDrops: number };
      assert.ok(io.tunRead > 100 && io.tunWritten > 100, JSON.stringify(io));
      assert.equal(await lab.stop(up), 0, up.out());
      const left = await p.inCaller(["ip", "-o", "link", "show", "type", "tun"]);
      assert.equal(left.stdout.trim(), "", "no TUN left in the caller namespace");
      const routes = await p.inCaller(["ip", "route"]);
      assert.doesNotMatch(routes.stdout, /203\.0\.113|198\.51\.100/, routes.stdout);
      await p.stop();
      peers.splice(peers.indexOf(p), 1);
    },
  );
}

test("afterwards: no process of these tests is left, no namespace of strongSwan's either", async () => {
  await lab.cleanup();
  assert.deepEqual(lab.leftovers().pids, []);
  for (const p of peers) await p.stop();
  const list = lab.ip(["netns", "list"]);
  assert.doesNotMatch(list, new RegExp(`^swt${process.pid.toString(36)}`, "m"), list);
});
