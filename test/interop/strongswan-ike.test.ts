// ipsec-wasm's IKEv2 against a real strongSwan (charon 5.9 + kernel-libipsec in a network
// namespace, test/interop/strongswan/peer.sh): both roles, the suites and DH groups the issue
// names, PSK and certificates, rekeys of both kinds started by each side under a packet stream,
// DELETE both ways, DPD, and the failures that must explain themselves. Our side is the real CLI
// (`ipsec-wasm ping` / `up`) running in the caller namespace.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startSwanPeer, makeTestPki, type SwanPeer, type CommandResult } from "../helpers/strongswan.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = ["node", join(ROOT, "bin/ipsec-wasm.mjs")];
const work = mkdtempSync(join(tmpdir(), "ipsec-wasm-ike-"));
const peers: SwanPeer[] = [];
after(async () => {
  for (const p of peers) await p.stop().catch(() => undefined);
});

interface Conf {
  proposals?: string;
  esp?: string;
  psk?: string;
  localTs?: string;
  remoteTs?: string;
  rekeyTime?: string;
  childRekeyTime?: string;
  dpdDelay?: string;
  auth?: "psk" | "pubkey";
  certs?: { dir: string };
}

/** Our swanctl.conf (the caller side: 198.18.0.1, client.example.org). */
function writeConf(name: string, c: Conf): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const pub = c.auth === "pubkey";
  if (pub && c.certs) {
    for (const sub of ["x509", "x509ca", "private"]) mkdirSync(join(dir, sub), { recursive: true });
    copyFileSync(join(c.certs.dir, "client.crt"), join(dir, "x509/client.crt"));
    copyFileSync(join(c.certs.dir, "ca.crt"), join(dir, "x509ca/ca.crt"));
    copyFileSync(join(c.certs.dir, "client.key"), join(dir, "private/client.key"));
  }
  const text = `
connections {
  peer {
    version = 2
    local_addrs = 198.18.0.1
    remote_addrs = 198.18.0.2
    proposals = ${c.proposals ?? "aes128gcm16-prfsha256-x25519"}
    ${c.rekeyTime ? `rekey_time = ${c.rekeyTime}` : ""}
    ${c.dpdDelay ? `dpd_delay = ${c.dpdDelay}` : ""}
    local {
      auth = ${pub ? "pubkey" : "psk"}
      id = client.example.org
      ${pub ? "certs = client.crt" : ""}
    }
    remote {
      auth = ${pub ? "pubkey" : "psk"}
      id = swan.example.org
      ${pub ? "cacerts = ca.crt" : ""}
    }
    children {
      net {
        local_ts = ${c.localTs ?? "198.51.100.1/32"}
        remote_ts = ${c.remoteTs ?? "203.0.113.0/24"}
        esp_proposals = ${c.esp ?? "aes128gcm16"}
        ${c.childRekeyTime ? `rekey_time = ${c.childRekeyTime}` : ""}
      }
    }
  }
}
secrets {
  ${pub ? "private-client {\n    file = client.key\n  }" : ""}
  ike-1 {
    id-1 = client.example.org
    id-2 = swan.example.org
    secret = ${c.psk ?? "interop-test-psk-not-secret"}
  }
}
`;
  const path = join(dir, "swanctl.conf");
  writeFileSync(path, text);
  return path;
}

const IKE_ALL =
  "aes128gcm16-aes256gcm16-prfsha256-prfsha384-x25519-ecp256-ecp384-ecp384bp-modp2048,aes128-aes256-sha256-sha384-prfsha256-x25519-ecp256-ecp384bp-modp2048";
const ESP_ALL = "aes128gcm16-aes256gcm16,aes128-aes256-sha256-sha384-sha512-sha1";

async function peer(
  env: Record<string, string> = {},
  role: "responder" | "initiator" = "responder",
): Promise<SwanPeer> {
  const p = await startSwanPeer({ role, env: { SWAN_IKE_PROPOSALS: IKE_ALL, SWAN_ESP_PROPOSALS: ESP_ALL, ...env } });
  peers.push(p);
  return p;
}
async function stop(p: SwanPeer): Promise<void> {
  await p.stop();
  peers.splice(peers.indexOf(p), 1);
}
function ping(p: SwanPeer, conf: string, extra: string[] = [], timeoutMs = 30_000): Promise<CommandResult> {
  return p.inCaller([...CLI, "ping", "--conf", conf, "203.0.113.2", ...extra], { timeoutMs, cwd: ROOT });
}
const show = (r: CommandResult): string => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

test("strongSwan responder: every suite x DH group the issue names, ICMP through the tunnel, counters on both sides", async () => {
  const p = await peer();
  for (const esp of ["aes128gcm16", "aes256gcm16", "aes128-sha256"]) {
    for (const dh of ["x25519", "ecp256", "ecp384bp", "modp2048"]) {
      const ike = esp === "aes128-sha256" ? `aes128-sha256-prfsha256-${dh}` : `${esp}-prfsha256-${dh}`;
      const r = await ping(p, writeConf(`resp-${esp}-${dh}`, { proposals: ike, esp }), ["-c", "3", "-i", "0.1"]);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /3 packets transmitted, 3 received, 0% packet loss/);
      assert.match(r.stdout, /in {2}[0-9a-f]{8}, +252 bytes, +3 packets/, show(r));
      assert.match(r.stdout, /out [0-9a-f]{8}, +252 bytes, +3 packets/);
    }
  }
  const log = await p.logs(4000);
  for (const name of ["CURVE_25519", "ECP_256", "ECP_384_BP", "MODP_2048"])
    assert.match(log, new RegExp(`selected proposal: IKE:[A-Z_0-9/]*${name}`));
  assert.match(log, /ESP:AES_CBC_128\/HMAC_SHA2_256_128/);
  assert.match(log, /received DELETE for IKE_SA/);
  await stop(p);
});

// AES-GMAC and ESN are not here: charon 5.9.8 with kernel-libipsec accepts `aes128gmac` and `-esn`
// in its config but answers NO_PROPOSAL_CHOSEN for them (libipsec implements neither); scapy,
// python-cryptography and the Linux kernel under QEMU cover those.
test("strongSwan responder: ChaCha20-Poly1305, AES-CTR and SHA-384/512 ESP suites (issue 4) carry ICMP both ways", async () => {
  const esps = ["chacha20poly1305", "aes128ctr-sha256", "aes256ctr-sha512", "aes256-sha384", "aes256-sha512"];
  const p = await peer({
    SWAN_ESP_PROPOSALS: esps.join(","),
    SWAN_IKE_PROPOSALS: "aes128gcm16-prfsha256-x25519,chacha20poly1305-prfsha256-x25519",
  });
  for (const esp of esps) {
    // the ChaCha20-Poly1305 child also runs under an IKE SA protected with ChaCha20-Poly1305 (RFC 7634 §3)
    const ike = esp === "chacha20poly1305" ? "chacha20poly1305-prfsha256-x25519" : "aes128gcm16-prfsha256-x25519";
    const r = await ping(p, writeConf(`resp-new-${esp}`, { proposals: ike, esp }), ["-c", "3", "-i", "0.1"]);
    assert.equal(r.code, 0, `${esp}: ${show(r)}`);
    assert.match(r.stdout, /3 packets transmitted, 3 received, 0% packet loss/, esp);
    assert.match(r.stdout, /in {2}[0-9a-f]{8}, +252 bytes, +3 packets/, `${esp}: ${show(r)}`);
    assert.match(r.stdout, /out [0-9a-f]{8}, +252 bytes, +3 packets/, esp);
  }
  const log = await p.logs(100_000);
  for (const name of [
    "IKE:CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519",
    "ESP:CHACHA20_POLY1305/NO_EXT_SEQ",
    "ESP:AES_CTR_128/HMAC_SHA2_256_128/NO_EXT_SEQ",
    "ESP:AES_CTR_256/HMAC_SHA2_512_256/NO_EXT_SEQ",
    "ESP:AES_CBC_256/HMAC_SHA2_384_192/NO_EXT_SEQ",
    "ESP:AES_CBC_256/HMAC_SHA2_512_256/NO_EXT_SEQ",
  ]) {
    assert.ok(
      log.includes(`selected proposal: ${name}`),
      `charon selected ${name}:\n${log
        .split("\n")
        .filter((l) => /selected proposal/.test(l))
        .join("\n")}`,
    );
  }
  await stop(p);
});

// AES-CCM, from the suite registry: ESP (RFC 4309) through charon's kernel-libipsec, and the IKE SA
// itself protected with AES-CCM (RFC 5282), with charon's ccm plugin as the other end.
test("strongSwan responder: AES-CCM for IKE (RFC 5282) and ESP (RFC 4309) carries ICMP both ways", async () => {
  const esps = ["aes128ccm16", "aes256ccm8", "aes192ccm12"];
  const p = await peer({
    SWAN_ESP_PROPOSALS: esps.join(","),
    SWAN_IKE_PROPOSALS: "aes128ccm16-prfsha256-x25519,aes256ccm12-prfsha384-ecp384",
  });
  for (const [esp, ike] of [
    [esps[0], "aes128ccm16-prfsha256-x25519"],
    [esps[1], "aes256ccm12-prfsha384-ecp384"],
    [esps[2], "aes128ccm16-prfsha256-x25519"],
  ]) {
    const r = await ping(p, writeConf(`resp-ccm-${esp}`, { proposals: ike, esp }), ["-c", "3", "-i", "0.1"]);
    assert.equal(r.code, 0, `${esp}: ${show(r)}`);
    assert.match(r.stdout, /3 packets transmitted, 3 received, 0% packet loss/, esp);
    assert.match(r.stdout, /in {2}[0-9a-f]{8}, +252 bytes, +3 packets/, `${esp}: ${show(r)}`);
    assert.match(r.stdout, /out [0-9a-f]{8}, +252 bytes, +3 packets/, esp);
  }
  const log = await p.logs(100_000);
  for (const name of [
    "IKE:AES_CCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519",
    "IKE:AES_CCM_12_256/PRF_HMAC_SHA2_384/ECP_384",
    "ESP:AES_CCM_16_128/NO_EXT_SEQ",
    "ESP:AES_CCM_8_256/NO_EXT_SEQ",
    "ESP:AES_CCM_12_192/NO_EXT_SEQ",
  ]) {
    assert.ok(
      log.includes(`selected proposal: ${name}`),
      `charon selected ${name}:\n${log
        .split("\n")
        .filter((l) => /selected proposal/.test(l))
        .join("\n")}`,
    );
  }
  await stop(p);
});

test("strongSwan initiator: our `up --listen` responds, charon pings our side, `status` lists the SAs, DELETE from charon", async () => {
  const p = await peer({ SWAN_ROLE: "initiator" }, "initiator");
  const conf = writeConf("listen", { esp: "aes256gcm16", proposals: "aes256gcm16-prfsha384-ecp384bp" });
  const up = p.spawnInCaller([...CLI, "up", "--listen", "--conf", conf, "--for", "25"], { cwd: ROOT });
  let out = "";
  up.stdout?.on("data", (d) => (out += d));
  up.stderr?.on("data", (d) => (out += d));
  for (let i = 0; i < 50 && !/listening on/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(out, /listening on/);
  const init = await p.initiate();
  assert.match(init, /established|CHILD_SA/i, init);
  const pingRes = await p.inPeer(["ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", "203.0.113.2", "198.51.100.1"], {
    timeoutMs: 15_000,
  });
  assert.match(pingRes.stdout, /3 packets transmitted, 3 received/, `${pingRes.stdout}${pingRes.stderr}\n${out}`);
  const st = await p.inCaller([...CLI, "status"], { timeoutMs: 10_000, cwd: ROOT });
  assert.equal(st.code, 0, show(st));
  assert.match(st.stdout, /peer: #\d+, ESTABLISHED, IKEv2/);
  assert.match(st.stdout, /ESP:AES_GCM_16-256/);
  assert.match(st.stdout, /in {2}[0-9a-f]{8}, +252 bytes, +3 packets/);
  await p.terminate();
  for (let i = 0; i < 50 && !/received DELETE for IKE_SA/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(out, /received DELETE for IKE_SA/);
  assert.match(
    out,
    /authentication of 'client\.example\.org' \(myself\)|authentication of 'swan\.example\.org' with pre-shared key successful/,
  );
  up.kill("SIGINT");
  await stop(p);
});

test("rekeys started by us under a steady ping stream (child every 4 s, IKE every 6 s): zero loss", async () => {
  const p = await peer({ SWAN_ESP_PROPOSALS: "aes128gcm16-x25519,aes128gcm16" });
  const conf = writeConf("rekey-ours", { childRekeyTime: "4s", rekeyTime: "6s", esp: "aes128gcm16-x25519" });
  const r = await ping(p, conf, ["-c", "60", "-i", "0.15"], 40_000);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /60 packets transmitted, 60 received, 0% packet loss/);
  assert.match(r.stdout, /rekeying CHILD_SA net/);
  assert.match(r.stdout, /rekeying IKE_SA peer/);
  const log = await p.logs(4000);
  assert.match(log, /CHILD_SA net\{\d+\} established/);
  assert.doesNotMatch(log, /ESP decryption or ICV verification failed|does not belong to an installed SA/);
  await stop(p);
});

test("rekeys started by strongSwan under a steady ping stream: zero loss", async () => {
  // charon rounds life_time = 110% of rekey_time down to whole seconds: 10 s gives it 1 s to rekey.
  const p = await peer({
    SWAN_CHILD_REKEY_TIME: "10s",
    SWAN_REKEY_TIME: "14s",
    SWAN_ESP_PROPOSALS: "aes128gcm16-x25519,aes128gcm16",
  });
  const conf = writeConf("rekey-theirs", { esp: "aes128gcm16-x25519" });
  const r = await ping(p, conf, ["-c", "100", "-i", "0.2"], 45_000);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /100 packets transmitted, 100 received, 0% packet loss/);
  assert.match(r.stdout, /peer rekeys CHILD_SA net/);
  assert.match(r.stdout, /peer rekeys IKE_SA peer/);
  await stop(p);
});

test("rekeys both ways (ours: child 3 s, IKE 7 s; charon's: child 10 s, IKE 14 s): child rekeys keep going after IKE rekeys, zero loss", async () => {
  // The regression: our Child SAs' rekey timers died with the IKE SA that installed them, so after
  // the first IKE rekey no child was rekeyed by time again (0 in 18 s).
  const p = await peer({
    SWAN_CHILD_REKEY_TIME: "10s",
    SWAN_REKEY_TIME: "14s",
    SWAN_ESP_PROPOSALS: "aes128gcm16-x25519,aes128gcm16",
  });
  const conf = writeConf("rekey-both", { childRekeyTime: "3s", rekeyTime: "7s", esp: "aes128gcm16-x25519" });
  const r = await ping(p, conf, ["-c", "110", "-i", "0.2"], 60_000);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /110 packets transmitted, 110 received, 0% packet loss/);
  const lines = r.stdout.split("\n");
  const firstIkeRekey = lines.findIndex((l) => /IKE_SA peer\[\d+\] rekeyed to/.test(l));
  assert.ok(firstIkeRekey >= 0, show(r));
  const childRekeysAfter = lines
    .slice(firstIkeRekey)
    .filter((l) => /rekeying CHILD_SA net|peer rekeys CHILD_SA net/.test(l)).length;
  assert.ok(childRekeysAfter >= 4, `child rekeys after the first IKE rekey: ${childRekeysAfter}\n${show(r)}`);
  assert.doesNotMatch(r.stdout, /ignoring unexpected response|ignoring request with message ID/);
  const log = await p.logs(4000);
  assert.doesNotMatch(
    log,
    /ESP decryption or ICV verification failed|does not belong to an installed SA|duplicate Message ID/,
  );
  await stop(p);
});

test("DPD: a killed strongSwan is noticed within dpd_delay plus the retransmissions", async () => {
  const p = await peer();
  const conf = writeConf("dpd", { dpdDelay: "2s" });
  const up = p.spawnInCaller(
    [...CLI, "up", "--conf", conf, "--retransmit-timeout", "1", "--retransmit-base", "1.5", "--retransmit-tries", "2"],
    { cwd: ROOT },
  );
  let out = "";
  up.stdout?.on("data", (d) => (out += d));
  up.stderr?.on("data", (d) => (out += d));
  for (let i = 0; i < 100 && !/CHILD_SA net\{\d+\} established/.test(out); i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.match(out, /CHILD_SA net\{\d+\} established/);
  const exited = new Promise<number>((r) => up.on("exit", (c) => r(c ?? -1)));
  process.kill(p.charonPid, "SIGKILL");
  const t0 = Date.now();
  const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-2), 20_000))]);
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(code, 16, out);
  assert.match(out, /did not answer the liveness check \(DPD\)/);
  assert.ok(seconds < 2 + 1 + 1.5 + 2.25 + 3, `noticed after ${seconds} s`);
  await stop(p);
});

test("certificates: RSA and ECDSA, both directions of RFC 7427 signature authentication", async () => {
  for (const type of ["rsa", "ecdsa"] as const) {
    const pki = makeTestPki(type);
    const p = await peer({ SWAN_AUTH: "pubkey", SWAN_CERT_DIR: pki.dir });
    const r = await ping(p, writeConf(`cert-${type}`, { auth: "pubkey", certs: { dir: pki.dir } }), [
      "-c",
      "2",
      "-i",
      "0.1",
    ]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /authentication of 'swan\.example\.org' with .* successful/);
    const log = await p.logs(3000);
    assert.match(log, /authentication of 'client\.example\.org' with (RSA_EMSA|ECDSA|RSA signature|ECDSA_WITH)/);
    await stop(p);
    pki.remove();
  }
});

test("failures explain themselves on our side, and strongSwan logs the matching notify", async () => {
  const p = await peer({ SWAN_ESP_PROPOSALS: "aes256gcm16" });
  const psk = await ping(p, writeConf("bad-psk", { psk: "wrong-secret" }), ["-c", "1"]);
  assert.equal(psk.code, 11, show(psk));
  assert.match(psk.stderr, /AUTHENTICATION_FAILED.*pre-shared keys differ/);
  const prop = await ping(p, writeConf("bad-esp", { esp: "aes128-sha1" }), ["-c", "1"]);
  assert.equal(prop.code, 10, show(prop));
  assert.match(prop.stderr, /none of our ESP proposals.*ESP:AES_CBC_128\/HMAC_SHA1_96/);
  const ts = await ping(p, writeConf("bad-ts", { esp: "aes256gcm16", localTs: "10.9.9.1/32" }), ["-c", "1"]);
  assert.equal(ts.code, 12, show(ts));
  assert.match(ts.stderr, /traffic selectors.*unacceptable: 10\.9\.9\.1\/32/);
  const ike = await ping(p, writeConf("bad-ike", { proposals: "aes128-sha1-prfsha1-modp3072" }), ["-c", "1"]);
  assert.equal(ike.code, 10, show(ike));
  assert.match(ike.stderr, /NO_PROPOSAL_CHOSEN.*IKE:AES_CBC_128\/HMAC_SHA1_96\/PRF_HMAC_SHA1\/MODP_3072/);
  const log = await p.logs(4000);
  assert.match(log, /MAC mismatched/);
  assert.match(log, /N\(NO_PROP\)/);
  assert.match(log, /N\(TS_UNACCEPT\)/);
  await stop(p);
});

test("failures detected by us when strongSwan initiates: wrong PSK is named on our side", async () => {
  const p = await peer(
    { SWAN_ROLE: "initiator", SWAN_PSK: "their-different-psk", SWAN_RETRANSMIT_TRIES: "1" },
    "initiator",
  );
  const conf = writeConf("listen-bad", {});
  const up = p.spawnInCaller([...CLI, "up", "--listen", "--conf", conf, "--for", "8"], { cwd: ROOT });
  let out = "";
  up.stdout?.on("data", (d) => (out += d));
  up.stderr?.on("data", (d) => (out += d));
  for (let i = 0; i < 50 && !/listening on/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
  await p.initiate().catch(() => "");
  for (let i = 0; i < 50 && !/pre-shared key mismatch/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(
    out,
    /pre-shared key mismatch: the AUTH payload of 'swan\.example\.org' does not verify with the key configured for 'client\.example\.org'/,
    out,
  );
  assert.match(out, /generating IKE_AUTH response 1 \[ N\(AUTH_FAILED\) \]/);
  up.kill("SIGINT");
  await stop(p);
});
