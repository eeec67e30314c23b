// The responder under attack, in memory on a virtual clock: IKE_SA_INIT floods that engage COOKIEs
// (RFC 7296 §2.6) with strongSwan's thresholds, retransmitted IKE_SA_INITs answered from cache,
// a per-address block, the half-open gauge back to 0, and fragment floods bounded (RFC 7383).
import { test } from "node:test";
import assert from "node:assert/strict";
import { makePair, settle, type Pair, type PeerOptions } from "../helpers/ike-pair.ts";
import { attacker as attackerSa } from "../helpers/ike-attacker.ts";
import type { IkeSa, Endpoint } from "../../sdk/ike/ike-sa.ts";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { decodeMessage, decodeHeader, encodeMessage } from "../../sdk/ike/codec.ts";
import { Exchange, HeaderFlag, Notify } from "../../sdk/ike/message.ts";
import { SkCipher } from "../../sdk/ike/sk.ts";
import { MAX_FRAGMENTS, MAX_MESSAGE_BYTES } from "../../sdk/ike/task-manager.ts";

const A: PeerOptions = {
  addr: "198.18.0.1",
  remoteAddr: "198.18.0.2",
  id: "client.example.org",
  remoteId: "swan.example.org",
  localTs: "198.51.100.1/32",
  remoteTs: "203.0.113.0/24",
};
// The responder accepts IKE from any address (the flood comes from 127.0.0.0/8).
const B: PeerOptions = {
  addr: "198.18.0.2",
  remoteAddr: "%any",
  id: "swan.example.org",
  localTs: "203.0.113.0/24",
  remoteTs: "198.51.100.0/24",
};
const B_EP: Endpoint = { address: "198.18.0.2", port: 500 };

/** An attacker's initiator at `address`: our own IkeSa, its datagrams captured instead of sent. */
async function attacker(address: string): Promise<{ ike: IkeSa; sent: Uint8Array[]; ep: Endpoint }> {
  const ep = { address, port: 500 };
  const { ike, sent } = await attackerSa(ep, B_EP, A);
  return { ike, sent, ep };
}

/** Datagrams B sent, by destination address. */
function capture(p: Pair): Map<string, Uint8Array[]> {
  const to = new Map<string, Uint8Array[]>();
  p.filter = (d) => {
    if (d.esp) return true;
    const list = to.get(d.to.address) ?? [];
    list.push(d.bytes);
    to.set(d.to.address, list);
    return d.to.address === A.addr || d.to.address === B.addr; // only the two real peers are on the wire
  };
  return to;
}

function notifyOf(bytes: Uint8Array): number | undefined {
  const m = decodeMessage(bytes);
  assert.ok(m.ok);
  const n = m.value.payloads.find((x) => x.type === "N");
  return n?.type === "N" ? n.notifyType : undefined;
}

function hasSa(bytes: Uint8Array): boolean {
  const m = decodeMessage(bytes);
  return m.ok && m.value.payloads.some((x) => x.type === "SA");
}

test("SA_INIT flood from 100 addresses: COOKIEs for all but the threshold, the gauge counts CONNECTING SAs and returns to 0, a legitimate peer gets through", async () => {
  const p = await makePair(A, B);
  const to = capture(p);
  for (let i = 0; i < 100; i++) {
    const a = await attacker(`127.0.${i >> 8}.${(i & 255) + 1}`);
    p.b.receiveIke(a.sent[0]!, B_EP, a.ep);
  }
  await settle();
  const answers = [...to.entries()].filter(([addr]) => addr.startsWith("127.")).map(([, d]) => d[0]!);
  assert.equal(answers.length, 100);
  const cookies = answers.filter((d) => notifyOf(d) === Notify.COOKIE).length;
  assert.equal(cookies, 70, "the first 30 (cookie_threshold) got full responses, 70 a COOKIE");
  assert.equal(p.b.counters.cookiesSent, 70);
  assert.equal(p.b.counters.halfOpen, 30);
  const connecting = [...new Set(p.b.sas.values())].filter((s) => s.state === "CONNECTING").length;
  assert.equal(connecting, 30, "the gauge equals the CONNECTING responder SAs");

  // A legitimate initiator during the flood: COOKIE, retry with it, IKE and the child come up.
  const r = p.a.initiate("peer");
  await settle();
  const { ike } = await r;
  assert.equal(ike.state, "ESTABLISHED");
  assert.ok(p.logs.a.some((l) => /received COOKIE notify/.test(l)));
  assert.equal(p.b.counters.halfOpen, 30, "the legitimate SA left the half-open set when established");

  // half_open_timeout: the flood's SAs are gone after 30 s; the gauge returns to 0.
  await p.clock.advance(31_000);
  assert.equal(p.b.counters.halfOpen, 0);
  assert.equal([...new Set(p.b.sas.values())].filter((s) => s.state === "CONNECTING").length, 0);
  p.a.close();
  p.b.close();
});

test("a retransmitted IKE_SA_INIT gets the cached response byte for byte, and creates one SA", async () => {
  const p = await makePair(A, B);
  const to = capture(p);
  const a = await attacker("127.0.0.9");
  for (let i = 0; i < 3; i++) p.b.receiveIke(a.sent[0]!, B_EP, a.ep);
  await settle();
  const got = to.get("127.0.0.9") ?? [];
  assert.equal(got.length, 3);
  assert.deepEqual(got[1], got[0]);
  assert.deepEqual(got[2], got[0]);
  assert.equal(new Set(p.b.sas.values()).size, 1);
  assert.equal(p.b.counters.halfOpen, 1);
  p.a.close();
  p.b.close();
});

test("one address: COOKIEs above 3 half-open SAs (cookie_threshold_ip), dropped above 5 (block_threshold) even with a valid cookie", async () => {
  const p = await makePair(A, B);
  const to = capture(p);
  const from = "127.0.0.77";
  const kinds: string[] = [];
  for (let i = 0; i < 7; i++) {
    const a = await attacker(from);
    const before = to.get(from)?.length ?? 0;
    p.b.receiveIke(a.sent[0]!, B_EP, a.ep);
    await settle();
    let answer = (to.get(from) ?? [])[before];
    if (answer && notifyOf(answer) === Notify.COOKIE) {
      // The attacker returns the cookie, as a real initiator would.
      await a.ike.receive(answer, a.ep, B_EP);
      await settle();
      const retry = a.sent.at(-1)!;
      const n = to.get(from)?.length ?? 0;
      p.b.receiveIke(retry, B_EP, a.ep);
      await settle();
      answer = (to.get(from) ?? [])[n];
      kinds.push(answer === undefined ? "blocked" : hasSa(answer) ? "cookie+full" : "cookie+other");
    } else kinds.push(answer === undefined ? "blocked" : hasSa(answer) ? "full" : "other");
  }
  assert.deepEqual(kinds, ["full", "full", "full", "cookie+full", "cookie+full", "blocked", "blocked"]);
  assert.equal(p.b.counters.initsBlocked, 2);
  assert.equal(p.b.counters.halfOpen, 5);
  p.a.close();
  p.b.close();
});

test("fragment flood on a half-open SA: more than 64 fragments or 10000 bytes are dropped and counted; IKE_AUTH still works", async () => {
  const p = await makePair(A, B);
  const to = capture(p);
  const a = await attacker("127.0.0.5");
  p.b.receiveIke(a.sent[0]!, B_EP, a.ep);
  await settle();
  const resp = to.get("127.0.0.5")![0]!;
  await a.ike.receive(resp, a.ep, B_EP); // the attacker completes IKE_SA_INIT: it has the SK keys
  await settle();
  const k = a.ike.keys!;
  const sk = new SkCipher(await ControlCrypto.create(), k.encrId, k.skEi, k.integId, k.skAi, (n) =>
    crypto.getRandomValues(new Uint8Array(n)),
  );
  const hdr = {
    spiI: a.ike.spiI,
    spiR: a.ike.spiR,
    majorVersion: 2,
    minorVersion: 0,
    exchange: Exchange.IKE_AUTH,
    flags: HeaderFlag.INITIATOR,
    messageId: 1,
  };
  const chunk = new Uint8Array(1200).fill(0x41);
  // 1000 fragments of a 65534-fragment message: refused at the first look.
  for (let i = 1; i <= 1000; i++)
    p.b.receiveIke(sk.seal(hdr, i === 1 ? 35 : 0, chunk, { number: i, total: 65534 }), B_EP, a.ep);
  await settle();
  assert.equal(p.b.counters.ikeOverLimit, 1000);
  // 64 fragments of 1200 bytes: the set is dropped once it passes max_packet, again and again.
  for (let i = 1; i <= MAX_FRAGMENTS; i++)
    p.b.receiveIke(sk.seal(hdr, i === 1 ? 35 : 0, chunk, { number: i, total: MAX_FRAGMENTS }), B_EP, a.ep);
  await settle();
  const perSet = Math.floor(MAX_MESSAGE_BYTES / 1200) + 1;
  assert.equal(p.b.counters.ikeOverLimit, 1000 + Math.floor(MAX_FRAGMENTS / perSet));
  // The SA is unharmed: the attacker's real IKE_AUTH (sent before the flood) is answered.
  const auth = a.sent.find((d) => {
    const h = decodeHeader(d);
    return h.ok && h.value.exchange === Exchange.IKE_AUTH;
  });
  assert.ok(auth);
  const n = to.get("127.0.0.5")!.length;
  p.b.receiveIke(auth, B_EP, a.ep);
  await settle();
  assert.equal(to.get("127.0.0.5")!.length, n + 1, "IKE_AUTH answered");
  p.a.close();
  p.b.close();
});

test("log rate limit: 10,000 bad datagrams make 10 lines and one count, not 10,000 lines", async () => {
  const p = await makePair(A, B);
  const before = p.logs.b.length;
  const junk = new Uint8Array(40).fill(0x5a);
  for (let i = 0; i < 10_000; i++)
    p.b.receiveIke(junk, B_EP, { address: `127.0.${(i >> 8) & 255}.${(i & 255) + 1}`, port: 500 });
  assert.equal(p.b.counters.ikeDroppedInvalid, 10_000, "every datagram is still counted");
  const lines = p.logs.b.slice(before);
  assert.equal(lines.filter((l) => /dropping invalid IKE packet/.test(l)).length, 10);
  await p.clock.advance(1_000);
  p.b.receiveIke(junk, B_EP, { address: "127.0.0.1", port: 500 });
  const after = p.logs.b.slice(before + lines.length);
  assert.match(after[0] ?? "", /9990 similar messages suppressed \(invalid-packet, more than 10 in 1 s\)/);
  assert.match(after[1] ?? "", /dropping invalid IKE packet/);
  p.a.close();
  p.b.close();
});

test("a forged IKE_SA_INIT error notify (unauthenticated) does not stop the initiator: it is ignored and the real response wins", async () => {
  // Found by the IKE fuzzer (test/fuzz): one forged INVALID_SYNTAX used to fail the IKE SA with INTERNAL.
  const p = await makePair(A, { ...B, remoteAddr: A.addr });
  let forged = false;
  p.filter = (d) => {
    const h = decodeHeader(d.bytes);
    if (
      d.esp ||
      forged ||
      !h.ok ||
      h.value.exchange !== Exchange.IKE_SA_INIT ||
      (h.value.flags & HeaderFlag.RESPONSE) !== 0
    )
      return true;
    forged = true;
    const fake = encodeMessage({
      header: {
        spiI: h.value.spiI,
        spiR: new Uint8Array(8),
        nextPayload: 0,
        majorVersion: 2,
        minorVersion: 0,
        exchange: Exchange.IKE_SA_INIT,
        flags: HeaderFlag.RESPONSE,
        messageId: 0,
        length: 0,
      },
      payloads: [
        {
          type: "N",
          protocolId: 0,
          spi: new Uint8Array(0),
          notifyType: Notify.INVALID_SYNTAX,
          data: new Uint8Array(0),
        },
      ],
    });
    p.a.receiveIke(fake, d.from, d.to); // arrives before the real response
    return true;
  };
  const r = p.a.initiate("peer");
  await settle();
  const { ike } = await r;
  assert.equal(ike.state, "ESTABLISHED");
  assert.ok(
    p.logs.a.some((l) => /IKE_SA_INIT answered with INVALID_SYNTAX, which is not authenticated: ignored/.test(l)),
  );
  p.a.close();
  p.b.close();
});

test("only forged error notifies and no real responder: the error names them after the retransmits, not INTERNAL", async () => {
  const p = await makePair(A, B);
  p.filter = (d) => {
    const h = decodeHeader(d.bytes);
    if (!d.esp && h.ok && h.value.exchange === Exchange.IKE_SA_INIT && (h.value.flags & HeaderFlag.RESPONSE) === 0) {
      p.a.receiveIke(
        encodeMessage({
          header: {
            spiI: h.value.spiI,
            spiR: new Uint8Array(8),
            nextPayload: 0,
            majorVersion: 2,
            minorVersion: 0,
            exchange: Exchange.IKE_SA_INIT,
            flags: HeaderFlag.RESPONSE,
            messageId: 0,
            length: 0,
          },
          payloads: [
            {
              type: "N",
              protocolId: 0,
              spi: new Uint8Array(0),
              notifyType: Notify.INVALID_SYNTAX,
              data: new Uint8Array(0),
            },
          ],
        }),
        d.from,
        d.to,
      );
      return false; // the real responder never sees it
    }
    return true;
  };
  const r = p.a.initiate("peer").then(
    () => undefined,
    (e: Error & { code?: string }) => e,
  );
  await settle();
  await p.clock.advance(200_000);
  const err = await r;
  assert.equal(err?.code, "PEER_UNREACHABLE");
  assert.match(err?.message ?? "", /the only answers were INVALID_SYNTAX notifies, which are not authenticated/);
  p.a.close();
  p.b.close();
});
