// The IKE task manager and Child SA lifetimes on a virtual clock, two of our peers in memory:
// schedules that survive IKE rekeys, one message ID per request whatever starts at once, and
// rekey collisions resolved as RFC 7296 §2.8.1/§2.8.2 say.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makePair, settle, type Pair, type PeerOptions } from "../helpers/ike-pair.ts";
import { icmpEcho, echoReplyFor, parseIcmpEcho } from "../../sdk/packet/icmp.ts";
import { decodeHeader } from "../../sdk/ike/codec.ts";
import { HeaderFlag } from "../../sdk/ike/message.ts";
import type { IkeSa, ChildSa } from "../../sdk/ike/ike-sa.ts";

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

async function up(p: Pair): Promise<IkeSa> {
  const r = p.a.initiate("peer");
  r.catch(() => undefined);
  await settle();
  return (await r).ike;
}

/** The one established IKE SA of a side (the daemon's map also holds an old SA that waits for its DELETE). */
function liveIke(p: Pair, side: "a" | "b"): IkeSa {
  const all = [...new Set(p[side].sas.values())].filter((s) => s.state === "ESTABLISHED");
  assert.equal(
    all.length,
    1,
    `${side}: one established IKE SA (${all.map((s) => `${s.uniqueId}:${s.state}`).join(", ")})`,
  );
  return all[0]!;
}

function onlyChild(ike: IkeSa): ChildSa {
  const cs = [...ike.children.values()].filter((c) => c.state !== "DELETED");
  assert.equal(
    cs.length,
    1,
    `one child on IKE SA ${ike.uniqueId}: ${cs.map((c) => `${c.uniqueId}:${c.state}`).join(", ")}`,
  );
  return cs[0]!;
}

/** Both ends agree on the one Child SA pair: A's inbound SPI is B's outbound and the reverse. */
function assertOnePair(p: Pair): void {
  const ca = onlyChild(liveIke(p, "a")),
    cb = onlyChild(liveIke(p, "b"));
  assert.equal(ca.spiIn, cb.spiOut);
  assert.equal(ca.spiOut, cb.spiIn);
  assert.equal(p.dpA.handles().length, 2, "A's dataplane holds exactly the pair's two SAs");
  assert.equal(p.dpB.handles().length, 2, "B's dataplane holds exactly the pair's two SAs");
}

/** Records every IKE datagram on the wire, by direction. */
function recordWire(p: Pair): { from: string; bytes: Uint8Array }[] {
  const seen: { from: string; bytes: Uint8Array }[] = [];
  p.filter = (d) => {
    if (!d.esp) seen.push({ from: d.from.address, bytes: d.bytes });
    return true;
  };
  return seen;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/**
 * RFC 7296 §2.3 on the recorded wire: per IKE SA and sender, one request per message ID (a
 * retransmit repeats the same bytes), and every response answers a request of the same ID and
 * exchange from the other side.
 */
function assertMessageIds(wire: { from: string; bytes: Uint8Array }[]): number {
  const requests = new Map<string, string>();
  let checked = 0;
  for (const d of wire) {
    const h = decodeHeader(d.bytes);
    assert.ok(h.ok);
    if ((h.value.flags & HeaderFlag.RESPONSE) !== 0) continue;
    const key = `${d.from}/${hex(h.value.spiI)}/${h.value.messageId}`;
    const prev = requests.get(key);
    if (prev !== undefined)
      assert.equal(
        prev,
        `${h.value.exchange}/${hex(d.bytes)}`,
        `two different requests with message ID ${h.value.messageId} from ${d.from}`,
      );
    requests.set(key, `${h.value.exchange}/${hex(d.bytes)}`);
    checked++;
  }
  for (const d of wire) {
    const h = decodeHeader(d.bytes);
    assert.ok(h.ok);
    if ((h.value.flags & HeaderFlag.RESPONSE) === 0) continue;
    const other = d.from === A.addr ? B.addr : A.addr;
    const req = requests.get(`${other}/${hex(h.value.spiI)}/${h.value.messageId}`);
    assert.ok(req, `response with message ID ${h.value.messageId} from ${d.from} answers no request`);
    assert.equal(
      Number(req.split("/")[0]),
      h.value.exchange,
      `response ${h.value.messageId} has the exchange type of its request`,
    );
  }
  return checked;
}

function assertNoWindowTrouble(p: Pair): void {
  for (const side of ["a", "b"] as const) {
    const bad = p.logs[side].filter((l) =>
      /ignoring unexpected response|ignoring request with message ID|TEMPORARY_FAILURE|internal error/.test(l),
    );
    assert.deepEqual(bad, [], `${side} log`);
  }
}

test("schedule: child rekey every 3 s and IKE rekey every 7 s on both ends for 5 minutes: children keep their schedule, zero loss", async () => {
  const sched = { rekeyTime: 7, childRekeyTime: 3, espProposals: "aes128gcm16" };
  const p = await makePair(
    { ...A, ...sched, extra: { randTime: 1 }, child: { randTime: 1 } },
    { ...B, ...sched, extra: { randTime: 1 }, child: { randTime: 1 } },
    { seed: 11 },
  );
  const echo = wireEcho(p);
  await up(p);
  const childRekeys: number[] = [];
  let ikeRekeys = 0;
  p.a.on((e) => {
    if (e.type === "child-up" && e.rekeyOf) childRekeys.push(p.clock.now());
    if (e.type === "rekeyed") ikeRekeys++;
  });
  const t0 = p.clock.now();
  let sent = 0;
  let oldest = 0;
  for (let ms = 0; ms < 300_000; ms += 100) {
    sent += p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 7, ms / 100)], "203.0.113.2");
    await p.clock.advance(100);
    if (ms % 1000 === 0) {
      for (const c of liveIke(p, "a").children.values()) oldest = Math.max(oldest, p.clock.now() - c.installedAt);
    }
  }
  await settle();
  assert.equal(sent, 3000);
  assert.equal(echo.replies(), sent, "every echo came back across every rekey");
  assert.ok(ikeRekeys >= 40, `IKE rekeys: ${ikeRekeys}`);
  assert.ok(childRekeys.length >= 95, `child rekeys: ${childRekeys.length}`);
  const gaps = childRekeys.map((t, i) => t - (i === 0 ? t0 : childRekeys[i - 1]!));
  assert.ok(Math.max(...gaps) <= 3_100, `longest time between child rekeys: ${Math.max(...gaps)} ms`);
  assert.ok(oldest <= 3_100, `oldest child seen: ${oldest} ms`);
  assertOnePair(p);
  assertNoWindowTrouble(p);
  p.a.close();
  p.b.close();
});

test("life_time: a child with no rekey is deleted at its hard lifetime, after two IKE rekeys moved it", async () => {
  const p = await makePair({ ...A, rekeyTime: 7, child: { lifeTime: 20 } }, { ...B });
  await up(p);
  const t0 = p.clock.now();
  let downAt = 0;
  p.b.on((e) => {
    if (e.type === "child-down") downAt = p.clock.now();
  });
  await p.clock.advance(19_000);
  assert.equal(downAt, 0);
  assert.equal(onlyChild(liveIke(p, "a")).state, "INSTALLED");
  await p.clock.advance(2_000);
  assert.equal(downAt - t0, 20_000, "deleted on both ends at life_time");
  assert.equal(liveIke(p, "a").children.size, 0);
  assert.equal(liveIke(p, "b").children.size, 0);
  assert.equal(p.dpA.handles().length, 0);
  assert.ok(p.logs.a.some((l) => /reached its hard lifetime \(20 s\)/.test(l)));
  p.a.close();
  p.b.close();
});

type Op = { name: string; run(ike: IkeSa, child: ChildSa): void };
const OPS: Op[] = [
  { name: "child rekey", run: (ike, c) => ike.rekeyChild(c) },
  { name: "soft lifetime", run: (ike, c) => ike.childSoftExpired(c, "test") },
  { name: "hard lifetime", run: (ike, c) => ike.childHardExpired(c, "test") },
  { name: "child delete", run: (ike, c) => ike.deleteChild(c) },
  { name: "child create", run: (ike) => ike.createChild(ike.conn.children[0]!) },
  { name: "IKE rekey", run: (ike) => ike.rekeyIke() },
  { name: "DPD", run: (ike) => ike.checkLiveness() },
  { name: "IKE delete", run: (ike) => void ike.delete() },
];

test("message IDs: every pair of exchanges started at the same instant gets its own ID; every response matches its request", async () => {
  let requests = 0;
  for (const [i, x] of OPS.entries()) {
    for (const y of OPS.slice(i)) {
      for (const sides of [
        ["a", "a"],
        ["a", "b"],
      ] as const) {
        const p = await makePair(A, B);
        const wire = recordWire(p);
        await up(p);
        const ikeX = liveIke(p, sides[0]),
          ikeY = liveIke(p, sides[1]);
        x.run(ikeX, onlyChild(ikeX));
        y.run(ikeY, onlyChild(ikeY));
        await p.clock.advance(30_000);
        requests += assertMessageIds(wire);
        for (const side of ["a", "b"] as const) {
          const bad = p.logs[side].filter((l) =>
            /ignoring unexpected response|ignoring request with message ID|internal error/.test(l),
          );
          assert.deepEqual(bad, [], `${x.name} + ${y.name} (${sides.join("/")}): ${side} log`);
        }
        // Both ends agree on what is left.
        const sa = (s: "a" | "b") => [...new Set(p[s].sas.values())].filter((v) => v.state === "ESTABLISHED");
        assert.equal(sa("a").length, sa("b").length, `${x.name} + ${y.name}: IKE SAs on both ends`);
        if (sa("a").length === 1) {
          const inA = [...sa("a")[0]!.children.values()].map((c) => c.spiIn).sort();
          const outB = [...sa("b")[0]!.children.values()].map((c) => c.spiOut).sort();
          assert.deepEqual(inA, outB, `${x.name} + ${y.name} (${sides.join("/")}): the same Child SAs on both ends`);
        }
        p.a.close();
        p.b.close();
      }
    }
  }
  assert.ok(requests > 300, `requests checked: ${requests}`);
});

for (const what of ["child rekey", "IKE rekey", "child and IKE rekey"] as const) {
  test(`collision: both ends start a ${what} at the same instant; one new SA survives on both (RFC 7296 §2.8.1)`, async () => {
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) {
      const p = await makePair(
        { ...A, espProposals: "aes128gcm16-x25519" },
        { ...B, espProposals: "aes128gcm16-x25519" },
        { seed },
      );
      const wire = recordWire(p);
      const echo = wireEcho(p);
      await up(p);
      const ikeA = liveIke(p, "a"),
        ikeB = liveIke(p, "b");
      const oldChild = onlyChild(ikeA).spiIn;
      if (what !== "IKE rekey") {
        ikeA.rekeyChild(onlyChild(ikeA));
        ikeB.rekeyChild(onlyChild(ikeB));
      }
      if (what !== "child rekey") {
        ikeA.rekeyIke();
        ikeB.rekeyIke();
      }
      let sent = 0;
      for (let i = 0; i < 20; i++) {
        sent += p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 7, i)], "203.0.113.2");
        await new Promise((r) => setImmediate(r));
      }
      await p.clock.advance(15_000); // the switch timer of a rekey responder, had a DELETE been lost
      for (let i = 0; i < 20; i++)
        sent += p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 7, 100 + i)], "203.0.113.2");
      await settle();
      assertOnePair(p);
      assert.equal(echo.replies(), sent, `seed ${seed}: zero loss`);
      assert.notEqual(onlyChild(liveIke(p, "a")).spiIn, what === "IKE rekey" ? -1 : oldChild);
      if (what !== "child rekey") assert.notEqual(liveIke(p, "a").uniqueId, ikeA.uniqueId);
      assertMessageIds(wire);
      assertNoWindowTrouble(p);
      const logs = [...p.logs.a, ...p.logs.b].join("\n");
      const kind = what === "IKE rekey" ? "IKE_SA" : "CHILD_SA";
      const won = /collision won/.test(p.logs.a.join("\n")) ? "a" : "b";
      assert.match(logs, new RegExp(`${kind} rekey collision lost`), `seed ${seed}`);
      assert.match(logs, new RegExp(`${kind} rekey collision won`), `seed ${seed}`);
      outcomes.add(won);
      p.a.close();
      p.b.close();
    }
    assert.deepEqual([...outcomes].sort(), ["a", "b"], "over 8 seeds, each end wins some collisions");
  });
}
