// Our initiator against our responder, in memory with a virtual clock: every DH group, PSK,
// CREATE_CHILD_SA, rekeys under traffic, DELETE, DPD, retransmission, COOKIE, INVALID_KE and the
// failures that must explain themselves. (Certificates: ike-loopback-certs.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { makePair, settle, type Pair, type PeerOptions } from "../helpers/ike-pair.ts";
import { icmpEcho, echoReplyFor, parseIcmpEcho } from "../../sdk/packet/icmp.ts";
import { IkeError } from "../../sdk/ike/errors.ts";
import type { IkeSa } from "../../sdk/ike/ike-sa.ts";

const A: PeerOptions = {
  addr: "198.18.0.1",
  remoteAddr: "198.18.0.2",
  id: "client.example.org",
  remoteId: "swan.example.org",
  localTs: "198.51.100.1/32",
  remoteTs: "203.0.113.0/24",
};
const B: PeerOptions = {
  addr: "198.18.0.2",
  remoteAddr: "198.18.0.1",
  id: "swan.example.org",
  remoteId: "client.example.org",
  localTs: "203.0.113.0/24",
  remoteTs: "198.51.100.0/24",
};

/** B answers echo requests; A counts replies. */
function wireEcho(p: Pair): { replies: () => number } {
  let replies = 0;
  p.b.onInner = (pkt) => {
    const r = echoReplyFor(pkt);
    if (r) p.b.sendInner([r], parseIcmpEcho(pkt)!.src);
  };
  p.a.onInner = (pkt) => {
    const e = parseIcmpEcho(pkt);
    if (e && e.type === 0) replies++;
  };
  return { replies: () => replies };
}

async function pingN(p: Pair, n: number, seq0 = 0): Promise<number> {
  let sent = 0;
  for (let i = 0; i < n; i++)
    sent += p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 7, seq0 + i)], "203.0.113.2");
  await settle();
  return sent;
}

async function up(p: Pair): Promise<{ ike: IkeSa }> {
  const r = p.a.initiate("peer");
  r.catch(() => undefined); // observed by the caller after the exchanges settle
  await settle();
  return r;
}

const GROUPS = [
  "x25519",
  "x448",
  "ecp256",
  "ecp384",
  "ecp521",
  "ecp256bp",
  "ecp384bp",
  "ecp512bp",
  "modp2048",
  "modp3072",
  "modp4096",
];

for (const g of GROUPS) {
  test(`loopback: IKE_SA + Child SA with ${g} and PSK, ping through`, async () => {
    const p = await makePair(
      { ...A, proposals: `aes256gcm16-prfsha384-${g}` },
      { ...B, proposals: `aes128gcm16-aes256gcm16-prfsha256-prfsha384-${g}` },
    );
    const echo = wireEcho(p);
    const { ike } = await up(p);
    assert.equal(ike.state, "ESTABLISHED");
    assert.match(ike.proposal, /AES_GCM_16_256\/PRF_HMAC_SHA2_384/);
    const sent = await pingN(p, 5);
    assert.equal(sent, 5);
    assert.equal(echo.replies(), 5);
    const st = p.a.status()[0];
    assert.equal(st!.children.length, 1);
    assert.equal(st!.children[0]!.out!.packets, 5n);
    assert.equal(st!.children[0]!.in!.packets, 5n);
    p.a.close();
    p.b.close();
  });
}

for (const esp of ["aes128gcm16", "aes256gcm16", "aes128-sha256", "aes256-sha512", "aes128-sha1"]) {
  test(`loopback: ESP ${esp} negotiated and carries traffic; IKE with AES-CBC + HMAC-SHA-256`, async () => {
    const p = await makePair(
      { ...A, proposals: "aes128-sha256-prfsha256-ecp256", espProposals: esp },
      {
        ...B,
        proposals: "aes128-sha256-prfsha256-ecp256",
        espProposals: `aes128gcm16-aes256gcm16,aes128-aes256-sha256-sha512-sha1`,
      },
    );
    const echo = wireEcho(p);
    const { ike } = await up(p);
    assert.match(ike.proposal, /AES_CBC_128\/HMAC_SHA2_256_128\/PRF_HMAC_SHA2_256\/ECP_256/);
    await pingN(p, 3);
    assert.equal(echo.replies(), 3);
    assert.equal(p.a.status()[0]!.children[0]!.out!.esp.replace(/-esn$/, ""), esp);
    p.a.close();
    p.b.close();
  });
}

test("loopback: IKE SA protected with ChaCha20-Poly1305 (RFC 7634 §3), ping through", async () => {
  const p = await makePair(
    { ...A, proposals: "chacha20poly1305-prfsha256-x25519" },
    { ...B, proposals: "aes256gcm16-chacha20poly1305-prfsha256-x25519" },
  );
  const echo = wireEcho(p);
  const { ike } = await up(p);
  assert.equal(ike.state, "ESTABLISHED");
  assert.match(ike.proposal, /^IKE:CHACHA20_POLY1305\/PRF_HMAC_SHA2_256\/CURVE_25519$/);
  await pingN(p, 4);
  assert.equal(echo.replies(), 4);
  p.a.close();
  p.b.close();
});

test("tfc_padding: every ESP packet of the padded side has one size on the wire; the receiver strips the padding", async () => {
  const p = await makePair({ ...A, child: { tfcPadding: 600 } }, B);
  const sizes = { a: new Set<number>(), b: new Set<number>() };
  p.filter = (d) => {
    if (d.esp) sizes[d.from.address === A.addr ? "a" : "b"].add(d.bytes.length);
    return true;
  };
  const echo = wireEcho(p);
  await up(p);
  for (const [i, n] of [
    [0, 10],
    [1, 200],
    [2, 500],
  ] as const) {
    const pkt = icmpEcho("198.51.100.1", "203.0.113.2", 7, i, n);
    p.a.sendInner([pkt], "203.0.113.2");
  }
  await settle();
  assert.equal(echo.replies(), 3, "padded echoes arrive and are answered");
  assert.equal(sizes.a.size, 1, `A pads everything to 600 inner bytes: ${[...sizes.a]}`);
  assert.equal(
    [...sizes.a][0],
    8 + 8 + ((600 + 2 + 3) & ~3) + 16,
    "SPI/seq + IV + 600 padded to 4 with pad length/next header + ICV (aes128gcm16)",
  );
  assert.equal(sizes.b.size, 3, "B has no tfc_padding: its replies keep their sizes");
  p.a.close();
  p.b.close();
});

test("wrong PSK: both sides fail with AUTHENTICATION_FAILED and say which keys differ", async () => {
  const p = await makePair(A, { ...B, psk: "another-secret" });
  const err = await up(p).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof IkeError);
  assert.equal(err.code, "AUTHENTICATION_FAILED");
  assert.equal(err.side, "remote");
  assert.match(err.message, /pre-shared keys differ/);
  assert.ok(
    p.logs.b.some((l) => /pre-shared key mismatch/.test(l) && /client\.example\.org/.test(l)),
    p.logs.b.join("\n"),
  );
  assert.ok(
    p.logs.b.some((l) => /generating IKE_AUTH response 1 \[ N\(AUTH_FAILED\) \]/.test(l)),
    p.logs.b.join("\n"),
  );
  assert.equal(p.a.sas.size, 0);
  assert.equal(p.b.sas.size, 0);
  p.a.close();
  p.b.close();
});

test("no common IKE proposal: NO_PROPOSAL_CHOSEN with both lists in strongSwan notation", async () => {
  const p = await makePair(
    { ...A, proposals: "aes128-sha1-prfsha1-modp2048" },
    { ...B, proposals: "aes256gcm16-prfsha384-ecp384" },
  );
  const err = await up(p).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof IkeError);
  assert.equal(err.code, "NO_PROPOSAL_CHOSEN");
  assert.match(err.message, /IKE:AES_CBC_128\/HMAC_SHA1_96\/PRF_HMAC_SHA1\/MODP_2048/);
  assert.ok(p.logs.b.some((l) => /received proposals: IKE:AES_CBC_128/.test(l)));
  assert.ok(p.logs.b.some((l) => /configured proposals: IKE:AES_GCM_16_256/.test(l)));
  p.a.close();
  p.b.close();
});

test("no common ESP proposal: IKE SA up, child fails with NO_PROPOSAL_CHOSEN naming the difference", async () => {
  const p = await makePair({ ...A, espProposals: "aes128-sha1" }, { ...B, espProposals: "aes256gcm16" });
  const err = await up(p).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof IkeError);
  assert.equal(err.code, "NO_PROPOSAL_CHOSEN");
  assert.match(err.message, /ESP:AES_CBC_128\/HMAC_SHA1_96/);
  assert.ok(
    p.logs.b.some((l) => /no acceptable proposal found/.test(l)),
    p.logs.b.join("\n"),
  );
  p.a.close();
  p.b.close();
});

test("traffic selectors that do not overlap: TS_UNACCEPTABLE with both selector sets", async () => {
  const p = await makePair({ ...A, localTs: "10.9.0.1/32" }, B);
  const err = await up(p).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof IkeError);
  assert.equal(err.code, "TS_UNACCEPTABLE");
  assert.match(err.message, /10\.9\.0\.1\/32/);
  assert.ok(
    p.logs.b.some((l) => /traffic selectors .*10\.9\.0\.1\/32.* unacceptable/.test(l)),
    p.logs.b.join("\n"),
  );
  p.a.close();
  p.b.close();
});

test("INVALID_KE_PAYLOAD: the initiator retries with the group the responder asks for", async () => {
  const p = await makePair(
    { ...A, proposals: "aes128gcm16-prfsha256-x25519-ecp256" },
    { ...B, proposals: "aes128gcm16-prfsha256-ecp256" },
  );
  const { ike } = await up(p);
  assert.match(ike.proposal, /ECP_256/);
  assert.ok(
    p.logs.a.some((l) => /peer didn't accept DH group CURVE_25519, it requested ECP_256/.test(l)),
    p.logs.a.join("\n"),
  );
  p.a.close();
  p.b.close();
});

test("COOKIE: above the half-open threshold the responder demands a cookie and the initiator retries with it", async () => {
  const p = await makePair(A, B, { cookieThreshold: 0 });
  const { ike } = await up(p);
  assert.equal(ike.state, "ESTABLISHED");
  assert.equal(p.b.counters.cookiesSent, 1);
  assert.ok(p.logs.a.some((l) => /received COOKIE notify/.test(l)));
  p.a.close();
  p.b.close();
});

test("retransmission: a lost IKE_AUTH request is retransmitted; a lost response is answered from cache", async () => {
  const p = await makePair(A, B);
  let authRequests = 0,
    authDropped = 0;
  p.filter = (d) => {
    if (d.esp || d.bytes[18] !== 35) return true;
    const response = (d.bytes[19]! & 0x20) !== 0;
    if (!response) authRequests++;
    if (response && authDropped === 0) {
      authDropped++;
      return false;
    }
    return true;
  };
  const r = p.a.initiate("peer");
  await settle();
  await p.clock.advance(4100);
  const { ike } = await r;
  assert.equal(ike.state, "ESTABLISHED");
  assert.equal(authRequests, 2);
  assert.ok(
    p.logs.b.some((l) => /received retransmit of request with ID 1, retransmitting response/.test(l)),
    p.logs.b.join("\n"),
  );
  assert.equal(p.b.status()[0]!.children.length, 1, "the duplicate request must not create a second child");
  p.a.close();
  p.b.close();
});

test("no answer: after the retransmits the error names the address, ports and a blocked UDP 500/4500", async () => {
  const p = await makePair(A, B);
  p.filter = () => false;
  const r = p.a.initiate("peer").then(
    () => null,
    (e: unknown) => e,
  );
  await settle();
  await p.clock.advance(200_000);
  const err = await r;
  assert.ok(err instanceof IkeError);
  assert.equal(err.code, "PEER_UNREACHABLE");
  assert.match(err.message, /198\.18\.0\.2\[500\].*after 5 retransmits.*UDP 500\/4500 is blocked/);
  p.a.close();
  p.b.close();
});

test("CREATE_CHILD_SA: a second Child SA with PFS, and DELETE of it", async () => {
  const p = await makePair(
    { ...A, espProposals: "aes128gcm16-modp2048" },
    { ...B, espProposals: "aes128gcm16-modp2048" },
  );
  const { ike } = await up(p);
  const first = [...ike.children.values()][0];
  ike.createChild(first!.template);
  await settle();
  assert.equal(ike.children.size, 2);
  assert.equal(p.b.status()[0]!.children.length, 2);
  const second = [...ike.children.values()][1];
  ike.deleteChild(second!);
  await settle();
  assert.equal(ike.children.size, 1);
  assert.equal(p.b.status()[0]!.children.length, 1);
  p.a.close();
  p.b.close();
});

for (const side of ["initiator", "responder"] as const) {
  test(`child rekey started by the ${side} under a steady stream: zero loss`, async () => {
    const p = await makePair(
      { ...A, espProposals: "aes128gcm16-x25519" },
      { ...B, espProposals: "aes128gcm16-x25519" },
    );
    const echo = wireEcho(p);
    await up(p);
    let sent = 0;
    sent += await pingN(p, 20);
    const ike = side === "initiator" ? [...p.a.sas.values()][0] : [...p.b.sas.values()][0];
    const old = [...ike!.children.values()][0];
    ike!.rekeyChild(old!);
    // Traffic keeps flowing while the exchange is in flight.
    for (let i = 0; i < 10; i++) {
      sent += p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 7, 100 + i)], "203.0.113.2");
      await new Promise((r) => setImmediate(r));
    }
    await settle();
    sent += await pingN(p, 20, 200);
    assert.equal(echo.replies(), sent);
    assert.equal(sent, 50);
    const a = p.a.status()[0],
      b = p.b.status()[0];
    assert.equal(a!.children.length, 1);
    assert.equal(b!.children.length, 1);
    assert.notEqual(a!.children[0]!.spiIn, old!.spiIn.toString(16));
    assert.equal(p.dpA.handles().length, 2, "old SAs removed from A's dataplane");
    assert.equal(p.dpB.handles().length, 2, "old SAs removed from B's dataplane");
    p.a.close();
    p.b.close();
  });

  test(`IKE SA rekey started by the ${side} under traffic: children move over, zero loss`, async () => {
    const p = await makePair(A, B);
    const echo = wireEcho(p);
    await up(p);
    let sent = await pingN(p, 10);
    const ike = side === "initiator" ? [...p.a.sas.values()][0] : [...p.b.sas.values()][0];
    const oldId = ike!.uniqueId;
    ike!.rekeyIke();
    for (let i = 0; i < 10; i++) {
      sent += p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 7, 100 + i)], "203.0.113.2");
      await new Promise((r) => setImmediate(r));
    }
    await settle();
    sent += await pingN(p, 10, 300);
    assert.equal(echo.replies(), sent);
    const a = p.a.status(),
      b = p.b.status();
    assert.equal(a.length, 1);
    assert.equal(b.length, 1);
    assert.notEqual(a[0]!.uniqueId, side === "initiator" ? oldId : -1);
    assert.equal(a[0]!.children.length, 1);
    assert.equal(b[0]!.children.length, 1);
    // The new IKE SA works: a child rekey over it.
    const [next] = p.a.sas.values();
    next!.rekeyChild([...next!.children.values()][0]!);
    await settle();
    assert.equal(p.a.status()[0]!.children.length, 1);
    p.a.close();
    p.b.close();
  });
}

test("rekey_packets: the dataplane's soft lifetime event rekeys the child once, with zero loss", async () => {
  const p = await makePair({ ...A, child: { rekeyPackets: 12 } }, B);
  const echo = wireEcho(p);
  await up(p);
  const first = p.a.status()[0]!.children[0]!.spiIn;
  let sent = await pingN(p, 11);
  assert.equal(p.a.status()[0]!.children[0]!.spiIn, first, "below the limit: no rekey");
  sent += await pingN(p, 3, 100); // the 12th packet out crosses rekey_packets
  sent += await pingN(p, 20, 200);
  assert.equal(echo.replies(), sent);
  const now = p.a.status()[0]!.children;
  assert.equal(now.length, 1);
  assert.notEqual(now[0]!.spiIn, first, "rekeyed");
  assert.ok(now[0]!.out!.packets < 12n, "the new SA starts counting again, so no second rekey yet");
  assert.equal(p.dpA.handles().length, 2, "old SAs removed");
  assert.ok(
    p.logs.a.some((l) => /reached its soft outbound packets limit: rekeying/.test(l)),
    p.logs.a.join("\n"),
  );
  p.a.close();
  p.b.close();
});

test("life_packets: the dataplane's hard lifetime stops the SA and the child is deleted on both sides", async () => {
  const p = await makePair({ ...A, child: { lifePackets: 5 } }, B);
  const echo = wireEcho(p);
  await up(p);
  await pingN(p, 8);
  assert.equal(echo.replies(), 5, "packets 6..8 fail with lifetime-expired");
  await settle();
  assert.equal(p.a.status()[0]!.children.length, 0);
  assert.equal(p.b.status()[0]!.children.length, 0);
  assert.ok(
    p.logs.a.some((l) => /reached its hard outbound packets limit: deleting/.test(l)),
    p.logs.a.join("\n"),
  );
  p.a.close();
  p.b.close();
});

test("DELETE of the IKE SA: both sides remove the IKE SA and every child from the dataplane", async () => {
  const p = await makePair(A, B);
  await up(p);
  await p.a.terminateAll();
  await settle();
  assert.equal(p.a.sas.size, 0);
  assert.equal(p.b.sas.size, 0);
  assert.equal(p.dpA.handles().length, 0);
  assert.equal(p.dpB.handles().length, 0);
  assert.ok(p.logs.b.some((l) => /received DELETE for IKE_SA/.test(l)));
  p.a.close();
  p.b.close();
});

test("DPD: a silent peer is declared dead within dpd_delay plus the retransmission time", async () => {
  const p = await makePair({ ...A, dpdDelay: 30, extra: { retransmit: { timeoutMs: 1000, base: 1.5, tries: 3 } } }, B);
  await up(p);
  const failed = new Promise<IkeError>((res) =>
    p.a.on((e) => {
      if (e.type === "failed") res(e.error);
    }),
  );
  p.filter = () => false; // the peer is gone
  await p.clock.advance(30_000 + 1000 * (1 + 1.5 + 2.25 + 3.375) + 1000 + 30_000);
  const err = await failed;
  assert.equal(err.code, "PEER_DEAD");
  assert.match(err.message, /did not answer the liveness check \(DPD\)/);
  assert.equal(p.dpA.handles().length, 0);
  p.a.close();
  p.b.close();
});

test("IKEv1 packets are recognised and named, not answered", async () => {
  const p = await makePair(A, B);
  const v1 = new Uint8Array(28);
  v1.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
  v1[16] = 1;
  v1[17] = 0x10;
  v1[18] = 2;
  v1[27] = 28;
  p.b.receiveIke(v1, { address: "198.18.0.2", port: 500 }, { address: "198.18.0.1", port: 500 });
  assert.equal(p.b.counters.ikeV1Dropped, 1);
  assert.ok(p.logs.b.some((l) => /peer speaks IKEv1; this side is IKEv2 only/.test(l)));
  assert.equal(p.wire.ike, 0);
  p.a.close();
  p.b.close();
});
