// Type 4 integrity gateway (seed 001: "the gateway never decrypts"): a verify-only inbound SA holds
// only the integrity key, checks ICV and replay window, and forwards the packet byte for byte.
// Sender -> gateway -> receiver with full SAs at both ends; packets from OpenSSL (test/helpers/esp-ref.ts)
// too; tampered and replayed packets stop at the gateway and are counted there.
import { test } from "../helpers/aes-both-ways.ts";
import assert from "node:assert/strict";
import { Dataplane, DataplaneError, parseSuite, type SaConfig } from "../../sdk/index.ts";
import { refEncap, ipv4Udp, ipv6Udp } from "../helpers/esp-ref.ts";

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed * 11 + 3) & 255);

interface Path {
  sender: Dataplane;
  gateway: Dataplane;
  receiver: Dataplane;
  out: number;
  gw: number;
  inn: number;
}

/** Three dataplanes: the sender's outbound SA, the gateway's verify-only SA, the receiver's inbound SA. */
async function path(esp: string, extra: Partial<SaConfig> = {}): Promise<Path> {
  const s = parseSuite(esp);
  const encKey = bytes(s.encKeyBytes, 1);
  const integKey = s.integKeyBytes ? bytes(s.integKeyBytes, 2) : undefined;
  const base = { spi: 0xabc12345, mode: "tunnel" as const, esp, ...extra };
  const [sender, gateway, receiver] = await Promise.all(
    [0, 1, 2].map(() => Dataplane.create({ maxSas: 4, batchSize: 16 })),
  );
  const out = sender!.addSa({ ...base, direction: "out", encKey, integKey });
  // GMAC's key is its integrity key; an HMAC gateway gets no encryption key at all.
  const gwKey = esp.includes("gmac") ? encKey : new Uint8Array(0);
  const gw = gateway!.addSa({ ...base, direction: "in", encKey: gwKey, integKey, verifyOnly: true });
  const inn = receiver!.addSa({ ...base, direction: "in", encKey, integKey });
  return { sender: sender!, gateway: gateway!, receiver: receiver!, out, gw, inn };
}

const GATEWAY_SUITES = [
  "aes128ctr-sha256",
  "aes256ctr-sha512",
  "aes128-sha256",
  "aes256-sha256_96",
  "aes192-sha384",
  "null-sha1",
  "aes128gmac",
  "aes256gmac",
  "aes128ctr-sha256-esn",
  "aes128gmac-esn",
];

for (const esp of GATEWAY_SUITES) {
  test(`${esp}: sender -> verify-only gateway (unchanged, still encrypted) -> receiver; tampering stops at the gateway`, async () => {
    const p = await path(esp);
    const inners = [ipv4Udp(0), ipv4Udp(100), ipv6Udp(40), ipv4Udp(1300)];
    const wire = p.sender.encapsulateBatch(p.out, inners).map((r) => r.packet!);
    const forwarded = p.gateway.decapsulateBatch(wire);
    forwarded.forEach((r, i) => {
      assert.equal(r.status, "ok", `${esp} packet ${i} at the gateway`);
      assert.deepEqual(r.payload, wire[i], "forwarded byte for byte");
      assert.equal(r.nextHeader, 0, "the gateway never sees the trailer");
    });
    if (!esp.includes("gmac") && !esp.startsWith("null")) {
      // Encrypted suites: the inner packet is nowhere in what the gateway forwards.
      const inner = Buffer.from(inners[1]!.subarray(0, 28));
      assert.equal(Buffer.from(forwarded[1]!.payload!).indexOf(inner), -1);
    }
    const delivered = p.receiver.decapsulateBatch(forwarded.map((r) => r.payload!));
    delivered.forEach((r, i) => {
      assert.equal(r.status, "ok");
      assert.deepEqual(r.payload, inners[i]);
    });

    // Tampering anywhere (header, IV, ciphertext, ICV) and replays stop at the gateway.
    const fresh = p.sender.encapsulate(p.out, ipv4Udp(64)).packet!;
    const tampered = [8, 12, 20, fresh.length - 30, fresh.length - 1].map((at) => {
      const t = fresh.slice();
      t[at]! ^= 0x10;
      return t;
    });
    for (const t of tampered) {
      const g = p.gateway.decapsulate(t);
      assert.equal(g.status, "integrity-failed");
      assert.equal(g.payload, undefined);
    }
    assert.equal(p.gateway.decapsulate(wire[2]!).status, "replay");
    const st = p.gateway.stats(p.gw);
    assert.equal(st.drops["integrity-failed"], 5n);
    assert.equal(st.drops.replay, 1n);
    assert.equal(st.packets, 4n);
    assert.equal(st.verifyOnly, true);
    assert.equal(p.gateway.replayState(p.gw).top, 4n, "only authentic packets moved the gateway's window");
    // The genuine packet still passes the gateway and reaches the receiver.
    const ok = p.gateway.decapsulate(fresh);
    assert.equal(ok.status, "ok");
    assert.deepEqual(p.receiver.decapsulate(ok.payload!).payload, ipv4Udp(64));
    assert.equal(p.receiver.stats(p.inn).packets, 5n);
  });
}

test("gateway with the IP header in front: transport and ESP-in-UDP packets forwarded whole", async () => {
  const p = await path("aes128ctr-sha256", { mode: "transport" });
  const orig = ipv4Udp(30);
  const pkt = p.sender.encapsulate(p.out, orig).packet!;
  const g = p.gateway.decapsulate(pkt, 20);
  assert.equal(g.status, "ok");
  assert.deepEqual(g.payload, pkt, "IP header, ESP and all");
  assert.deepEqual(p.receiver.decapsulate(g.payload, 20).payload, orig);
  // ESP-in-UDP (RFC 3948): outer IPv4 + UDP 4500 in front of a tunnel-mode packet.
  const t = await path("aes256gmac");
  const esp = t.sender.encapsulate(t.out, ipv6Udp(8)).packet!;
  const udp = new Uint8Array(28 + esp.length);
  udp.set([0x45, 0, (udp.length >> 8) & 255, udp.length & 255, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]);
  udp.set([0x11, 0x94, 0x11, 0x94, ((8 + esp.length) >> 8) & 255, (8 + esp.length) & 255, 0, 0], 20);
  udp.set(esp, 28);
  const gu = t.gateway.decapsulate(udp, 28);
  assert.equal(gu.status, "ok");
  assert.deepEqual(gu.payload, udp);
});

test("OpenSSL-made packets (CBC/NULL + HMAC) verify at the gateway; a wrong integrity key drops them all", async () => {
  for (const [esp, suite, hash, icv] of [
    ["aes128-sha256", "cbc", "sha256", 16],
    ["aes256-sha1", "cbc", "sha1", 12],
    ["null-sha256_96", "null", "sha256", 12],
  ] as const) {
    const s = parseSuite(esp);
    const key = bytes(s.aesKeyBytes, 5);
    const integKey = bytes(s.integKeyBytes, 6);
    const gateway = await Dataplane.create({ maxSas: 4 });
    const gw = gateway.addSa({
      spi: 0x7000,
      direction: "in",
      mode: "tunnel",
      esp,
      encKey: new Uint8Array(0),
      integKey,
      verifyOnly: true,
    });
    const wrong = gateway.addSa({
      spi: 0x7001,
      direction: "in",
      mode: "tunnel",
      esp,
      encKey: new Uint8Array(0),
      integKey: integKey.map((b) => b ^ 1),
      verifyOnly: true,
    });
    for (let seq = 1n; seq <= 5n; seq++) {
      const pkt = refEncap({ spi: 0x7000, suite, key, integKey, hash, icv }, seq, ipv4Udp(Number(seq) * 50), 4);
      const r = gateway.decapsulate(pkt);
      assert.equal(r.status, "ok", `${esp} seq ${seq}`);
      assert.deepEqual(Buffer.from(r.payload!), pkt);
      const bad = refEncap({ spi: 0x7001, suite, key, integKey, hash, icv }, seq, ipv4Udp(10), 4);
      assert.equal(gateway.decapsulate(bad).status, "integrity-failed");
    }
    assert.equal(gateway.stats(gw).packets, 5n);
    assert.equal(gateway.stats(wrong).drops["integrity-failed"], 5n);
  }
});

test("verify-only refusals: AEAD suites (their ICV needs the encryption key), outbound SAs, an encryption key handed over", async () => {
  const dp = await Dataplane.create({ maxSas: 4 });
  for (const esp of ["aes128gcm16", "aes256gcm8", "chacha20poly1305"]) {
    assert.throws(
      () =>
        dp.addSa({
          spi: 0x900,
          direction: "in",
          mode: "tunnel",
          esp,
          encKey: new Uint8Array(parseSuite(esp).encKeyBytes),
          verifyOnly: true,
        }),
      (e: unknown) =>
        e instanceof DataplaneError &&
        e.code === "BAD_PROPOSAL" &&
        /keyed by the encryption key/.test(e.message) &&
        /full key/.test(e.message),
      esp,
    );
  }
  assert.throws(
    () =>
      dp.addSa({
        spi: 0x900,
        direction: "out",
        mode: "tunnel",
        esp: "aes128-sha256",
        encKey: new Uint8Array(0),
        integKey: new Uint8Array(32),
        verifyOnly: true,
      }),
    /inbound SAs/,
  );
  assert.throws(
    () =>
      dp.addSa({
        spi: 0x900,
        direction: "in",
        mode: "tunnel",
        esp: "aes128ctr-sha256",
        encKey: new Uint8Array(20),
        integKey: new Uint8Array(32),
        verifyOnly: true,
      }),
    (e: unknown) =>
      e instanceof DataplaneError && e.code === "BAD_KEY_LENGTH" && /holds only the integrity key/.test(e.message),
  );
  assert.equal(dp.saCount, 0);
});
