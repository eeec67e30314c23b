// Proves the strongSwan interop harness (test/helpers/strongswan.ts, test/interop/strongswan/) with
// none of the SDK's IKE code: strongSwan answers a hand-built IKE_SA_INIT from the caller namespace
// as RFC 7296 says (SA/KE/Nonce, NAT-D hashes per §2.23, COOKIE per §2.6 once the half-open limit is
// reached), two charons negotiate and carry pings through ESP-in-UDP with PSK, RSA and ECDSA
// certificates (tshark decrypts the capture with the logged keys), a certificate from a foreign CA is
// refused, and stop() leaves no namespace, process or state directory behind. Needs root; fails (never skips) when strongSwan is missing.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createHash, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { once } from "node:events";
import type { ChildProcess } from "node:child_process";
import {
  CALLER_ADDR,
  CALLER_INNER_ADDR,
  PEER_ADDR,
  PEER_INNER_ADDR,
  SWAN_DEFAULTS,
  listNetns,
  makeTestPki,
  startSwanInCaller,
  startSwanPeer,
  strongswanAvailable,
} from "../helpers/strongswan.ts";
import type { SwanCharon, SwanPeer, TestPki } from "../helpers/strongswan.ts";
import type { ProbeResult } from "./strongswan/ike-probe.ts";

const started: SwanCharon[] = [];
const pkis: TestPki[] = [];
after(async () => {
  for (const c of started.reverse()) await c.stop().catch(() => undefined);
  for (const p of pkis) p.remove();
});

const ms = (t: number): string => `${t.toFixed(0)} ms`;

/** Stops `c` and checks that its charon, state dir and (if given) namespaces are gone. */
async function stopAndCheck(c: SwanCharon, namespaces: string[]): Promise<number> {
  const t0 = performance.now();
  await c.stop();
  const took = performance.now() - t0;
  assert.equal(existsSync(`/proc/${c.charonPid}`), false, `charon ${c.charonPid} still running`);
  assert.equal(existsSync(c.dir), false, `${c.dir} left behind`);
  const now = listNetns();
  for (const ns of namespaces) assert.ok(!now.includes(ns), `namespace ${ns} left behind: ${now.join(" ")}`);
  return took;
}

test("strongSwan, swanctl, ip netns and TUN are usable (root)", () => {
  const a = strongswanAvailable();
  assert.ok(a.ok, a.why);
});

test("make-certs.sh: node:crypto accepts the chain, SANs are the FQDN IDs, keys match", () => {
  for (const [type, keyType, size] of [
    ["rsa", "rsa", 2048],
    ["ecdsa", "ec", 256],
  ] as const) {
    const pki = makeTestPki(type);
    pkis.push(pki);
    const ca = new X509Certificate(readFileSync(pki.ca));
    assert.equal(ca.ca, true);
    assert.ok(ca.verify(ca.publicKey), `${type}: CA not self-signed`);
    for (const [cert, key, id] of [
      [pki.swanCert, pki.swanKey, SWAN_DEFAULTS.peerId],
      [pki.clientCert, pki.clientKey, SWAN_DEFAULTS.callerId],
    ] as const) {
      const x = new X509Certificate(readFileSync(cert));
      assert.equal(x.ca, false);
      assert.equal(x.subjectAltName, `DNS:${id}`);
      assert.ok(x.checkIssued(ca) && x.verify(ca.publicKey), `${type} ${id}: not signed by the CA`);
      assert.ok(x.checkPrivateKey(createPrivateKey(readFileSync(key))), `${type} ${id}: key does not match`);
      assert.equal(x.publicKey.asymmetricKeyType, keyType);
      const details = x.publicKey.asymmetricKeyDetails;
      if (keyType === "rsa") assert.equal(details?.modulusLength, size);
      else assert.equal(details?.namedCurve, "prime256v1");
    }
  }
});

const sha1 = (...parts: Buffer[]): string => createHash("sha1").update(Buffer.concat(parts)).digest("hex");
const ipPort = (ip: string, port: number): Buffer =>
  Buffer.from([...ip.split(".").map(Number), port >> 8, port & 0xff]);

test(
  "responder answers IKE_SA_INIT from the caller namespace (ports 500 and 4500), then demands a COOKIE",
  { timeout: 30_000 },
  async (t) => {
    // threshold 3 half-open SAs from one IP: the 4th request must get N(COOKIE); DPD and rekey time prove SWAN_* reach charon
    const peer = await startSwanPeer({
      env: { SWAN_COOKIE_THRESHOLD_IP: "3", SWAN_DPD_DELAY: "5s", SWAN_REKEY_TIME: "2h" },
    });
    started.push(peer);
    t.diagnostic(`peer ${peer.ns} up in ${ms(peer.startMs)}, caller ns ${peer.callerNs}`);
    assert.ok(listNetns().includes(peer.ns) && listNetns().includes(peer.callerNs));

    const conns = await peer.swanctl("--list-conns");
    assert.match(conns, /rekeying every 7200s, dpd delay 5s/);
    assert.match(conns, /remote pre-shared key authentication:\s+id: client\.example\.org/);

    const t0 = performance.now();
    const r = await peer.inCaller(
      [
        process.execPath,
        "--import",
        "tsx",
        "test/interop/strongswan/ike-probe.ts",
        "500:31",
        "4500:19",
        "500:14",
        "500:31",
      ],
      { timeoutMs: 20_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const probes = JSON.parse(r.stdout) as ProbeResult[];
    t.diagnostic(
      `4 probes in ${ms(performance.now() - t0)} (node start included); rtt ${probes.map((p) => p.rttMs?.toFixed(1)).join("/")} ms`,
    );

    for (const p of probes.slice(0, 3)) {
      const what = `probe to ${p.port} group ${p.group}`;
      assert.equal(p.error, undefined, `${what}: ${p.error}`);
      assert.equal(p.from, PEER_ADDR);
      assert.equal(p.fromPort, p.port, `${what}: answered from another port`);
      assert.equal(p.marker, p.port === 4500, `${what}: non-ESP marker`);
      // RFC 7296 §3.1: version 2.0, IKE_SA_INIT, Response flag only, message ID 0, length = datagram
      assert.deepEqual([p.version, p.exchange, p.flags, p.messageId, p.length], [0x20, 34, 0x20, 0, p.datagramLength]);
      assert.notEqual(p.spiR, "0000000000000000");
      const payloads = p.payloads ?? [];
      assert.deepEqual(
        payloads.slice(0, 3).map((x) => x.type),
        [33, 34, 40],
        `${what}: SA, KE, Nonce first`,
      );
      assert.equal(p.nextPayload, 33);
      // the one proposal we made, chosen as is: ENCR_AES_GCM_16/128, PRF_HMAC_SHA2_256, our group
      assert.deepEqual(payloads[0]!.proposal, {
        number: 1,
        protocol: 1,
        spiSize: 0,
        transforms: [
          { type: 1, id: 20, keyLength: 128 },
          { type: 2, id: 5 },
          { type: 4, id: p.group },
        ],
      });
      // KE of our group, the size RFC 7748/5903/3526 give it, and usable with our private key
      const keLen = { 31: 32, 19: 64, 14: 256 }[p.group];
      assert.deepEqual(payloads[1]!.ke, { group: p.group, length: keLen, dh: true }, what);
      const nonce = payloads[2]!.nonceLength ?? 0;
      assert.ok(nonce >= 16 && nonce <= 256, `${what}: nonce of ${nonce} bytes`);
      // NAT-D (§2.23): SHA-1(SPIi | SPIr | IP | port). The peer saw our address unchanged, and fakes
      // its own (encap = yes) so that the IKE_SA floats to 4500 with ESP in UDP
      const notify = (type: number): string | undefined => payloads.find((x) => x.notify?.type === type)?.notify?.data;
      const spis = [Buffer.from(p.spiI, "hex"), Buffer.from(p.spiR ?? "", "hex")];
      assert.equal(
        notify(16389),
        sha1(...spis, ipPort(CALLER_ADDR, p.localPort)),
        `${what}: NAT_DETECTION_DESTINATION_IP`,
      );
      const src = notify(16388);
      assert.equal(src?.length, 40, `${what}: NAT_DETECTION_SOURCE_IP missing`);
      assert.notEqual(src, sha1(...spis, ipPort(PEER_ADDR, p.port)), `${what}: peer's NAT-D not faked`);
    }
    // §2.6: over the limit the responder keeps no state: SPIr zero and N(COOKIE) alone
    const cookie = probes[3];
    assert.equal(cookie!.error, undefined, cookie!.error);
    assert.equal(cookie!.spiR, "0000000000000000");
    assert.deepEqual(
      cookie!.payloads?.map((x) => x.notify?.type),
      [16390],
    );
    assert.ok((cookie!.payloads?.[0]!.notify?.data.length ?? 0) >= 2, "COOKIE data");

    const log = await peer.logs();
    assert.equal(log.match(/faking NAT situation to enforce UDP encapsulation/g)?.length, 3);
    assert.match(log, /sending COOKIE notify to 198\.18\.0\.1/);
    const stopMs = await stopAndCheck(peer, [peer.ns, peer.callerNs]);
    t.diagnostic(`stop ${ms(stopMs)}`);
  },
);

type Auth = "psk" | "rsa" | "ecdsa";

/**
 * The peer + a second charon in its caller namespace standing in for our library; the latter
 * initiates, or with `peerInitiates` the peer does (role initiator, the setup for testing our
 * responder). The test stops both.
 */
async function pair(
  auth: Auth,
  opts: { initiatorPki?: TestPki; peerInitiates?: boolean } = {},
): Promise<{ peer: SwanPeer; ini: SwanCharon }> {
  let pki: TestPki | undefined;
  let penv: Record<string, string> = {};
  let ienv: Record<string, string> = {};
  if (auth !== "psk") {
    pki = makeTestPki(auth);
    pkis.push(pki);
    const ip = opts.initiatorPki ?? pki;
    penv = { SWAN_AUTH: "pubkey", SWAN_CERT_DIR: pki.dir };
    ienv = { SWAN_AUTH: "pubkey", SWAN_CERT: ip.clientCert, SWAN_KEY: ip.clientKey, SWAN_CA: ip.ca };
  }
  const role = opts.peerInitiates ? "initiator" : "responder";
  const peer = await startSwanPeer({ role, env: { ...penv, SWAN_ESP_PROPOSALS: "aes128gcm16" } });
  started.push(peer);
  const ini = await startSwanInCaller(peer, {
    ...ienv,
    SWAN_ESP_PROPOSALS: "aes128gcm16",
    ...(opts.peerInitiates ? { SWAN_ROLE: "responder" } : {}),
  });
  started.push(ini);
  return { peer, ini };
}

const AUTH_LINE: Record<Auth, RegExp> = {
  psk: /authentication of 'client\.example\.org' with pre-shared key successful/,
  // RFC 7427 digital signatures (AUTH method 14) with the certificate's key
  rsa: /authentication of 'client\.example\.org' with RSA_EMSA_PKCS1_SHA2_256 successful/,
  ecdsa: /authentication of 'client\.example\.org' with ECDSA_WITH_SHA256_DER successful/,
};

for (const auth of ["psk", "rsa", "ecdsa"] as const) {
  // ecdsa: the peer initiates, with its certificate (what tests of our responder need)
  const peerInitiates = auth === "ecdsa";
  const title = `two charons (${auth}, ${peerInitiates ? "peer" : "caller"} initiates): IKE_SA + CHILD_SA, 3 pings through ESP-in-UDP, clean stop`;
  test(title, { timeout: 40_000 }, async (t) => {
    const { peer, ini } = await pair(auth, { peerInitiates });
    if (auth === "psk") assert.equal((await peer.script("capture-start")).code, 0);
    const t0 = performance.now();
    const out = await (peerInitiates ? peer : ini).initiate();
    const initMs = performance.now() - t0;
    assert.match(out, /initiate completed successfully/);

    let streamer: ChildProcess | undefined;
    if (auth === "rsa") {
      // long-running command in the caller namespace, read as it goes; stop() must kill it
      streamer = peer.spawnInCaller(["ping", "-n", "-i", "0.2", "-w", "30", "-I", CALLER_INNER_ADDR, PEER_INNER_ADDR]);
      const replies = await new Promise<number>((resolve) => {
        let n = 0;
        const timer = setTimeout(() => resolve(n), 10_000);
        streamer?.stdout?.setEncoding("utf8").on("data", (d: string) => {
          n += d.match(/bytes from 203\.0\.113\.2/g)?.length ?? 0;
          if (n >= 3) {
            clearTimeout(timer);
            resolve(n);
          }
        });
      });
      assert.ok(replies >= 3, `${replies} echo replies streamed within 10 s`);
    } else {
      const ping = await peer.inCaller(
        ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-w", "8", "-I", CALLER_INNER_ADDR, PEER_INNER_ADDR],
        { timeoutMs: 15_000 },
      );
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      assert.match(ping.stdout, /3 packets transmitted, 3 received, 0% packet loss/);
    }
    if (auth === "psk") {
      // on the wire: ESP only in UDP 4500, and tshark decrypts it with the keys from charon's key log
      const pcap = (await peer.script("capture-stop")).stdout.trim();
      const count = async (filter: string): Promise<number> => {
        const r = await peer.script("decrypt", pcap, "-Y", filter);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.split("\n").filter((l) => l.trim() !== "").length;
      };
      assert.equal(await count("ip.proto == 50"), 0, "raw ESP on the wire");
      assert.equal(await count("icmp && !esp"), 0, "cleartext ICMP on the wire");
      assert.equal(await count("udp.port == 4500 && esp && icmp"), 6, "decrypted ICMP echo requests + replies");
    }

    const sas = await peer.sas();
    // '*' marks the initiator's IKE SPI
    assert.match(
      sas,
      peerInitiates
        ? /ESTABLISHED, IKEv2, [0-9a-f]{16}_i\* [0-9a-f]{16}_r\n/
        : /ESTABLISHED, IKEv2, [0-9a-f]{16}_i [0-9a-f]{16}_r\*\n/,
    );
    assert.match(sas, /remote 'client\.example\.org' @ 198\.18\.0\.1\[4500\]/);
    assert.match(sas, /INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-128/);
    const counter = (dir: "in" | "out"): number =>
      Number(new RegExp(`^\\s*${dir} +[0-9a-f]{8}, +\\d+ bytes, +(\\d+) packets`, "m").exec(sas)?.[1] ?? -1);
    assert.ok(
      counter("in") >= 3 && counter("out") >= 3,
      `ESP packet counters in/out ${counter("in")}/${counter("out")}:\n${sas}`,
    );
    assert.match(await peer.logs(), AUTH_LINE[auth]);
    if (auth !== "psk") {
      assert.match(await peer.logs(), /using trusted ca certificate "O=ipsec-wasm, CN=ipsec-wasm test CA/);
    }

    if (peerInitiates)
      assert.match(
        await peer.logs(),
        /authentication of 'swan\.example\.org' \(myself\) with ECDSA_WITH_SHA256_DER successful/,
      );
    const iniStop = await stopAndCheck(ini, []);
    const peerStop = await stopAndCheck(peer, [peer.ns, peer.callerNs]);
    if (streamer) {
      if (streamer.exitCode === null && streamer.signalCode === null) await once(streamer, "exit");
      assert.equal(streamer.signalCode, "SIGKILL", "stop() kills what spawnInCaller started");
    }
    t.diagnostic(
      `peer start ${ms(peer.startMs)}, caller-side charon start ${ms(ini.startMs)}, initiate ${ms(initMs)}, ` +
        `stop caller-side charon ${ms(iniStop)} + peer ${ms(peerStop)}`,
    );
  });
}

test("a client certificate from a foreign CA is refused (AUTHENTICATION_FAILED)", { timeout: 40_000 }, async () => {
  const foreign = makeTestPki("rsa");
  pkis.push(foreign);
  const { peer, ini } = await pair("rsa", { initiatorPki: foreign });
  await assert.rejects(ini.initiate(), /initiate failed|AUTHENTICATION_FAILED|AUTH_FAILED/);
  const log = await peer.logs();
  assert.match(log, /no trusted RSA public key found for 'client\.example\.org'/);
  assert.match(log, /generating IKE_AUTH response 1 \[ N\(AUTH_FAILED\) \]/);
  await stopAndCheck(ini, []);
  await stopAndCheck(peer, [peer.ns, peer.callerNs]);
});
