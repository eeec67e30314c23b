// `ipsec-wasm up` with start_action, dpd_action and pools, end to end over loopback UDP: a trap
// is installed and listed by `status` (text and JSON) without sending anything; a gateway with
// remote_addrs = %any waits for peers without --listen and lists its pool; start_action = start
// initiates; a responder frozen (SIGSTOP) is declared dead by DPD, `up` keeps running and the
// IKE SA comes back once the responder is thawed (dpd_action = restart, keyingtries = 0).
// Every child process is killed in t.after, also when a test fails or times out.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CliHarness, freePort, waitFor, type Side } from "../helpers/cli-up.ts";
import { pingSource } from "../../sdk/cli/ping.ts";
import { tunAddresses } from "../../sdk/io/tunnel.ts";
import { parseTs } from "../../sdk/ike/ts.ts";
import type { TrafficSelector } from "../../sdk/ike/message.ts";
import { CLIENT_CONF, GATEWAY_CONF } from "../helpers/roadwarrior-confs.ts";

const h = new CliHarness("cli-rw");
after(() => h.remove());

const R: Side = { addr: "127.0.0.1", id: "gw.example.org", ts: "203.0.113.0/24" };
const I: Side = { addr: "127.0.0.2", id: "rw.example.org", ts: "198.51.100.1/32" };

/** h.conf() with more connection and child settings. */
function conf(me: Side, peer: Side, port: number, more: { conn?: string; child?: string; tail?: string }): string {
  const path = h.conf(me, peer, port);
  let text = readFileSync(path, "utf8");
  if (more.conn) text = text.replace("    proposals = ", `    ${more.conn}\n    proposals = `);
  if (more.child) text = text.replace("        esp_proposals = ", `        ${more.child}\n        esp_proposals = `);
  if (more.tail) text += more.tail;
  writeFileSync(path, text);
  return path;
}

test("start_action = trap: up installs the trap and waits; status lists it as TRAP (text, JSON)", async (t) => {
  t.after(() => h.stop());
  const port = await freePort();
  const tmp = h.dir("trap");
  const up = h.startUp(["--conf", conf(I, R, port, { child: "start_action = trap" })], tmp);
  await waitFor(
    up,
    /up: trap installed for CHILD_SA net \(203\.0\.113\.0\/24\): the first packet to it starts the IKE_SA/,
  );
  const text = h.cli(tmp, ["status"]);
  assert.equal(text.code, 0, text.out);
  assert.match(text.out, /^t\/net, TRAP, reqid 1, 0 acquires, 0 packets dropped$/m);
  assert.match(text.out, /^ {2}remote: 203\.0\.113\.0\/24$/m);
  assert.match(text.out, /no IKE_SAs/);
  const json = JSON.parse(h.cli(tmp, ["status", "--json"]).out) as { traps: { child: string; acquires: number }[] }[];
  assert.deepEqual(
    json[0]?.traps.map((x) => [x.child, x.acquires]),
    [["net", 0]],
  );
  assert.doesNotMatch(up.out(), /initiating/);
  assert.equal(h.cli(tmp, ["down", "--all"]).code, 0);
  assert.equal(await up.exited, 0, up.out());
});

test("a gateway with remote_addrs = %any waits without --listen and lists its pool; start_action = start initiates", async (t) => {
  t.after(() => h.stop());
  const port = await freePort();
  const rtmp = h.dir("gw"),
    itmp = h.dir("rw");
  const gwConf = conf(R, I, port, {
    conn: "pools = rw-pool",
    tail: "pools {\n  rw-pool {\n    addrs = 10.99.0.0/24\n    dns = 10.1.0.53\n  }\n}\n",
  });
  // A gateway with pools builds no child for a client that asks for no virtual IP (FAILED_CP_REQUIRED,
  // as charon): the client asks (vips), both sides' selectors for it are dynamic.
  writeFileSync(
    gwConf,
    readFileSync(gwConf, "utf8")
      .replace(`remote_addrs = ${I.addr}`, "remote_addrs = %any")
      .replace(/remote_ts = \S+/, "remote_ts = dynamic"),
  );
  const gw = h.startUp(["--conf", gwConf], rtmp);
  await waitFor(
    gw,
    /has no remote address to initiate to \(remote_addrs = %any\): waiting for peers, as with --listen/,
  );
  await waitFor(gw, /listening on/);
  const rwConf = conf(I, R, port, { conn: "vips = 0.0.0.0", child: "start_action = start" });
  writeFileSync(rwConf, readFileSync(rwConf, "utf8").replace(/local_ts = \S+/, "local_ts = dynamic"));
  const rw = h.startUp(["--conf", rwConf], itmp);
  await waitFor(rw, /ESTABLISHED, IKEv2/);
  await waitFor(gw, /up: CHILD_SA net/);
  await waitFor(rw, /virtual IP 10\.99\.0\.1 assigned, DNS 10\.1\.0\.53/);
  const st = h.cli(rtmp, ["status"]);
  assert.match(st.out, /^rw-pool +10\.99\.0\.0 +1 \/ +0 \/ +254$/m, st.out);
  assert.equal(h.cli(itmp, ["down", "--all"]).code, 0);
  assert.equal(await rw.exited, 0, rw.out());
  assert.equal(h.cli(rtmp, ["down", "--all"]).code, 0);
  assert.equal(await gw.exited, 0, gw.out());
});

/** A swanctl directory: swanctl.conf (on test ports) and files under x509/, x509ca/, private/. */
function swanctlDir(name: string, text: string, ports: [number, number], files: Record<string, string>): string {
  const dir = h.dir(name);
  const certs = new URL("../fixtures/certs/", import.meta.url);
  for (const [path, fixture] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), readFileSync(new URL(fixture, certs)));
  }
  const conf = join(dir, "swanctl.conf");
  writeFileSync(
    conf,
    text.replace("version = 2\n", `version = 2\n    local_port = ${ports[0]}\n    remote_port = ${ports[1]}\n`),
  );
  return conf;
}

test("the seed's road-warrior configs run: the gateway waits with its pool, the client traps (status lists both)", async (t) => {
  t.after(() => h.stop());
  const gwPort = await freePort(),
    rwPort = await freePort();
  const gwConf = swanctlDir("seed-gw", GATEWAY_CONF, [gwPort, rwPort], {
    "x509/gw-cert.pem": "ec256.pem",
    "private/gw-key.pem": "ec256.key",
  });
  const rwConf = swanctlDir("seed-rw", CLIENT_CONF, [rwPort, gwPort], { "x509ca/ca.pem": "ca.pem" });
  const gtmp = h.dir("seed-gw-ctl"),
    ctmp = h.dir("seed-rw-ctl");
  const gw = h.startUp(["--conf", gwConf], gtmp);
  await waitFor(gw, /connection 'roadwarrior' has no remote address to initiate to .*waiting for peers/);
  await waitFor(gw, /listening on/);
  const rw = h.startUp(["--conf", rwConf], ctmp);
  await waitFor(rw, /up: trap installed for CHILD_SA office-net \(10\.0\.0\.0\/8\)/);
  const gst = h.cli(gtmp, ["status"]);
  assert.match(gst.out, /^rw-pool +10\.99\.0\.0 +0 \/ +0 \/ +254$/m, gst.out);
  const cst = h.cli(ctmp, ["status", "--json"]);
  const report = (JSON.parse(cst.out) as { traps: { conn: string; child: string; remoteTs: string[] }[] }[])[0];
  assert.deepEqual(
    report?.traps.map((x) => [x.conn, x.child, x.remoteTs]),
    [["office", "office-net", ["10.0.0.0/8"]]],
  );
  for (const [tmp, p] of [
    [ctmp, rw],
    [gtmp, gw],
  ] as const) {
    assert.equal(h.cli(tmp, ["down", "--all"]).code, 0);
    assert.equal(await p.exited, 0, p.out());
  }
});

test("start_action = start against nobody: keyingtries = 2 tries twice, then up exits 15 with one error line", async (t) => {
  t.after(() => h.stop());
  const port = await freePort();
  const tmp = h.dir("start-none");
  const up = h.startUp(
    [
      "--conf",
      conf(I, R, port, { conn: "keyingtries = 2", child: "start_action = start" }),
      "--retransmit-timeout",
      "0.2",
      "--retransmit-base",
      "1",
      "--retransmit-tries",
      "1",
    ],
    tmp,
  );
  assert.equal(await up.exited, 15, up.out());
  assert.match(up.out(), /start_action: initiating 't' for CHILD_SA net \(keying try 2\/2\)/);
  assert.match(up.out(), /start_action: giving up on 't' after 2 keying tries \(keyingtries = 2; 0 retries forever\)/);
  assert.equal(up.out().match(/^error: /gm)?.length, 1, up.out());
});

test(
  "dpd_action = restart: a frozen responder is declared dead, up keeps running, the IKE SA comes back after the thaw",
  { timeout: 120_000 },
  async (t) => {
    t.after(() => h.stop());
    const port = await freePort();
    const rtmp = h.dir("dpd-r"),
      itmp = h.dir("dpd-i");
    const resp = h.startUp(["--listen", "--conf", h.conf(R, I, port)], rtmp);
    await waitFor(resp, /listening on/);
    const init = h.startUp(
      [
        "--conf",
        conf(I, R, port, { conn: "dpd_delay = 1s\n    keyingtries = 0", child: "dpd_action = restart" }),
        "--retransmit-timeout",
        "0.3",
        "--retransmit-base",
        "1",
        "--retransmit-tries",
        "2",
      ],
      itmp,
    );
    await waitFor(init, /ESTABLISHED, IKEv2/);
    process.kill(resp.child.pid!, "SIGSTOP");
    try {
      await waitFor(init, /dpd_action = restart: re-initiating 't' for CHILD_SA net/, 20_000);
      await waitFor(init, /dpd_action: 't' failed .*; retrying in 1 s/, 20_000);
    } finally {
      process.kill(resp.child.pid!, "SIGCONT");
    }
    await waitFor(init, /dpd_action: 't' is up again/, 30_000);
    assert.match(init.out(), /peer dead \(peer 127\.0\.0\.1\[\d+\] did not answer the liveness check \(DPD\)/);
    assert.equal(init.child.exitCode, null, "up is still running");
    const st = h.cli(itmp, ["status"]);
    assert.match(st.out, /^t: #\d+, ESTABLISHED, IKEv2/m, st.out);
    assert.match(st.out, /^ {2}net: #\d+, reqid 1, INSTALLED/m);
    const down = h.cli(itmp, ["down", "--all"]);
    assert.equal(down.code, 0, down.out);
    assert.equal(await init.exited, 0, init.out());
    // The responder still holds the SA of before the freeze (it has no DPD): t.after stops it.
  },
);

test("a virtual IP is the inner source of ping and the TUN's address; without one, the single-host local selector", () => {
  assert.equal(pingSource(["10.99.0.1", "fd00:99::1"], "10.0.0.5"), "10.99.0.1");
  assert.equal(pingSource(["10.99.0.1", "fd00:99::1"], "fd00::5"), "fd00:99::1");
  assert.equal(pingSource([], "10.0.0.5"), undefined);
  const ts = (t: string): TrafficSelector[] => parseTs(t).filter((x): x is TrafficSelector => x !== "dynamic");
  assert.deepEqual(tunAddresses(["10.99.0.1"], ts("10.99.0.1/32")), ["10.99.0.1/32"]);
  assert.deepEqual(tunAddresses(["fd00:99::1"], []), ["fd00:99::1/128"]);
  assert.deepEqual(tunAddresses([], ts("198.51.100.1/32")), ["198.51.100.1/32"]);
  assert.deepEqual(tunAddresses([], ts("198.51.100.0/24")), []);
});
