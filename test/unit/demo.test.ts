// `npm run demo` end to end at a small count: IKEv2 over UDP on 127.0.0.1 for both suites, the
// negotiated proposals in strongSwan's notation, every echo answered, DELETE leaves nothing behind;
// and a wrong PSK fails with AUTHENTICATION_FAILED (exit code 11).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runDemo, runDemoSuite, DEMO_SUITES } from "../../sdk/cli/demo.ts";
import { main } from "../../sdk/cli/main.ts";
import { startPeerPair, CONN_A, INNER_A, INNER_B } from "../../sdk/node/ike-pair.ts";
import { IkeError } from "../../sdk/ike/errors.ts";
import { icmpEcho, parseIcmpEcho, echoReplyFor } from "../../sdk/packet/icmp.ts";

// What charon logs for these proposals (strongSwan's proposal_t printing, e.g. `swanctl --list-sas`).
const SWAN = {
  gcmIke: "IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519",
  gcmEsp: "ESP:AES_GCM_16_128/NO_EXT_SEQ",
  cbcIke: "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256",
  cbcEsp: "ESP:AES_CBC_128/HMAC_SHA2_256_128/NO_EXT_SEQ",
};
// An IPv4 ping of 56 data bytes is 84 bytes on the wire (20 IP + 8 ICMP + 56), as iputils' ping says.
const PING_BYTES = 84;

test("ICMP echo packets carry valid checksums and replies swap addresses", () => {
  const req = icmpEcho("198.51.100.1", "203.0.113.2", 7, 9, 56);
  assert.equal(req.length, PING_BYTES);
  assert.deepEqual(parseIcmpEcho(req), { src: "198.51.100.1", dst: "203.0.113.2", type: 8, id: 7, seq: 9 });
  const rep = echoReplyFor(req)!;
  assert.deepEqual(parseIcmpEcho(rep), { src: "203.0.113.2", dst: "198.51.100.1", type: 0, id: 7, seq: 9 });
  req[30]! ^= 1;
  assert.equal(parseIcmpEcho(req), null, "a corrupted echo fails its checksum");
});

test(
  "demo: both suites negotiate over UDP loopback, 300 echoes each come back, DELETE empties both peers",
  { timeout: 120_000 },
  async () => {
    const lines: string[] = [];
    const code = await runDemo(["--count", "300"], (l) => lines.push(l));
    const text = lines.join("\n");
    assert.equal(code, 0, text);
    for (const p of [SWAN.gcmIke, SWAN.gcmEsp, SWAN.cbcIke, SWAN.cbcEsp]) {
      assert.ok(
        lines.some((l) => l.includes(`negotiated ${p.slice(0, 3)} proposal: ${p}`) && !l.includes("peer B:")),
        `${p}\n${text}`,
      );
    }
    // One line per exchange, both directions, from both peers' logs.
    for (const re of [
      /A {2}\[ENC\] <peer-a\|\d+> generating IKE_SA_INIT request 0 \[ SA KE No N\(NATD_S_IP\) N\(NATD_D_IP\)/,
      /B {2}\[ENC\] <peer-b\|\d+> parsed IKE_SA_INIT request 0 /,
      /B {2}\[CFG\] <peer-b\|\d+> selected proposal: IKE:AES_(GCM_16|CBC)_128\//,
      /A {2}\[ENC\] <peer-a\|\d+> parsed IKE_SA_INIT response 0 /,
      /A {2}\[ENC\] <peer-a\|\d+> generating IKE_AUTH request 1 \[ IDi .*AUTH SA TSi TSr \]/,
      /B {2}\[ENC\] <peer-b\|\d+> generating IKE_AUTH response 1 \[ IDr AUTH SA TSi TSr \]/,
      /A {2}\[IKE\] <peer-a\|\d+> IKE_SA peer-a\[\d+\] established between 127\.0\.0\.1\[peer-a\.example\.org\]\.\.\.127\.0\.0\.1\[peer-b\.example\.org\]/,
      /B {2}\[IKE\] <peer-b\|\d+> IKE_SA peer-b\[\d+\] established/,
      /A {2}\[CHD\] <peer-a\|\d+> CHILD_SA net\{\d+\} established with SPIs [0-9a-f]{8}_i [0-9a-f]{8}_o and TS 198\.51\.100\.1\/32 === 203\.0\.113\.0\/24/,
      /B {2}\[IKE\] <peer-b\|\d+> received DELETE for IKE_SA peer-b\[\d+\]/,
    ])
      assert.equal(lines.filter((l) => re.test(l)).length, 2, `${re}\n${text}`);
    assert.equal(lines.filter((l) => /300 echo requests, 300 replies/.test(l)).length, 2);
    for (const [who, esp] of [
      ["A out", "aes128gcm16"],
      ["B in", "aes128gcm16"],
      ["B out", "aes128-sha256"],
      ["A in", "aes128-sha256"],
    ]) {
      const re = new RegExp(
        `^  ${who}\\s+spi 0x[0-9a-f]{8} (in |out) ${esp} \\(ICV 128 bit\\)\\s+packets 300\\s+bytes ${300 * PING_BYTES}\\s+seq 300\\s+drops: none$`,
      );
      assert.ok(
        lines.some((l) => re.test(l)),
        `${who} ${esp}\n${text}`,
      );
    }
    // The SPIs A sends to are the ones B receives on (and back), as both counter lines show.
    const spi = (who: string) =>
      lines.filter((l) => l.startsWith(`  ${who} `)).map((l) => / spi (0x[0-9a-f]{8}) /.exec(l)![1]);
    assert.deepEqual(spi("A out"), spi("B in"));
    assert.deepEqual(spi("B out"), spi("A in"));
    assert.notDeepEqual(spi("A out"), spi("A in"));
    assert.equal(
      lines.filter(
        (l) => l === "  after DELETE: peer A holds 0 IKE SAs and 0 dataplane SAs, peer B 0 IKE SAs and 0 dataplane SAs",
      ).length,
      2,
    );
  },
);

test(
  "demo suite result: proposals agree on both peers and every request got its own reply",
  { timeout: 120_000 },
  async () => {
    const r = await runDemoSuite(
      DEMO_SUITES[1]!,
      { packets: 130, burst: 64, timeoutMs: 20_000, wrongPsk: false },
      () => undefined,
    );
    assert.equal(r.error, undefined);
    assert.deepEqual(r.ikeProposal, { a: SWAN.cbcIke, b: SWAN.cbcIke });
    assert.deepEqual(r.espProposal, { a: SWAN.cbcEsp, b: SWAN.cbcEsp });
    assert.equal(r.established, true);
    assert.equal(r.requests, 130);
    assert.equal(r.replies, 130);
    assert.equal(r.cleanedUp, true);
  },
);

test(
  "demo --wrong-psk: AUTHENTICATION_FAILED reported by peer B, exit code 11, no traffic",
  { timeout: 120_000 },
  async () => {
    const lines: string[] = [];
    const code = await runDemo(["--wrong-psk", "--count", "5"], (l) => lines.push(l));
    const text = lines.join("\n");
    assert.equal(code, 11, text);
    assert.equal(
      lines.filter((l) => /B {2}\[ENC\] <peer-b\|\d+> generating IKE_AUTH response 1 \[ N\(AUTH_FAILED\) \]/.test(l))
        .length,
      2,
      text,
    );
    assert.equal(lines.filter((l) => /^ {2}negotiation failed: AUTHENTICATION_FAILED/.test(l)).length, 2, text);
    assert.equal(lines.at(-1), "\nnegotiation failed: AUTHENTICATION_FAILED");
    assert.ok(!lines.some((l) => /echo requests/.test(l)), text);
  },
);

test(
  "peer pair with different PSKs: initiate rejects with AUTHENTICATION_FAILED and neither peer keeps an SA",
  { timeout: 120_000 },
  async () => {
    const pair = await startPeerPair({
      ike: DEMO_SUITES[0]!.ike,
      esp: DEMO_SUITES[0]!.esp,
      psk: "key one",
      pskB: "key two",
    });
    try {
      const err = await pair.a.initiate(CONN_A).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof IkeError);
      assert.equal(err.code, "AUTHENTICATION_FAILED");
      assert.equal(err.side, "remote");
      assert.equal(pair.a.sas.size, 0);
      for (let i = 0; i < 40 && pair.b.sas.size > 0; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(pair.b.sas.size, 0);
      assert.equal(pair.dpA.handles().length + pair.dpB.handles().length, 0);
    } finally {
      await pair.close();
    }
  },
);

test(
  "peer pair in memory (the benchmark's wiring): ecp256 negotiates, pings pass, DELETE empties both",
  { timeout: 120_000 },
  async () => {
    const pair = await startPeerPair({
      ike: "aes128-sha256-prfsha256-ecp256",
      esp: "aes128gcm16",
      transport: "memory",
    });
    try {
      const { ike, child } = await pair.a.initiate(CONN_A);
      assert.equal(ike.proposal, SWAN.cbcIke);
      assert.equal(child?.proposal, SWAN.gcmEsp);
      let replies = 0;
      pair.b.onInner = (pkt) => {
        const r = echoReplyFor(pkt);
        if (r) pair.b.sendInner([r], INNER_A);
      };
      pair.a.onInner = (pkt) => {
        if (parseIcmpEcho(pkt)?.type === 0) replies++;
      };
      assert.equal(
        pair.a.sendInner(
          [0, 1, 2].map((s) => icmpEcho(INNER_A, INNER_B, 1, s)),
          INNER_B,
        ),
        3,
      );
      for (let i = 0; i < 50 && replies < 3; i++) await new Promise((r) => setImmediate(r));
      assert.equal(replies, 3);
      await pair.a.terminateAll();
      for (let i = 0; i < 50 && pair.b.sas.size > 0; i++) await new Promise((r) => setImmediate(r));
      assert.equal(pair.b.sas.size, 0);
      assert.equal(pair.dpA.handles().length + pair.dpB.handles().length, 0);
    } finally {
      await pair.close();
    }
  },
);

test("ipsec-wasm demo through the CLI dispatcher writes to its io and exits 0", { timeout: 120_000 }, async () => {
  let out = "",
    err = "";
  const code = await main(["demo", "--count", "20"], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  assert.equal(code, 0, out + err);
  assert.equal(err, "");
  assert.match(out, /20 echo requests, 20 replies/);
  assert.match(out, /DELETE removed every SA\n$/);
});
