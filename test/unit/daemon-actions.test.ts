// start_action, dpd_action and close_action between two daemons in memory (PSK, virtual clock):
// a trap starts the IKE SA on the first packet (dropped and counted), a dead peer is restarted
// with backoff until it answers again, clear/trap variants, keyingtries; and the virtual IP
// hooks: leases released with their IKE SA and given back to the same identity, status fields.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makePair, settle, type Pair, type PeerOptions } from "../helpers/ike-pair.ts";
import { icmpEcho, echoReplyFor, parseIcmpEcho } from "../../sdk/packet/icmp.ts";
import type { ChildTemplate } from "../../sdk/ike/config.ts";
import { parseTs } from "../../sdk/ike/ts.ts";
import type { IkeSa } from "../../sdk/ike/ike-sa.ts";
import { buildStatusReport, formatStatusReport } from "../../sdk/diag/status-report.ts";

const RETRANSMIT = { timeoutMs: 1000, base: 1.5, tries: 3 };
/** One keying try against a silent peer: the four sends and the last wait (1 + 1.5 + 2.25 + 3.375 s). */
const ONE_TRY_MS = 1000 * (1 + 1.5 + 2.25 + 3.375);

const A = (child: Partial<ChildTemplate>, extra: PeerOptions["extra"] = {}): PeerOptions => ({
  addr: "198.18.0.1",
  remoteAddr: "198.18.0.2",
  id: "client.example.org",
  remoteId: "swan.example.org",
  localTs: "198.51.100.1/32",
  remoteTs: "203.0.113.0/24",
  dpdDelay: 30,
  child,
  extra: { retransmit: RETRANSMIT, keyingTries: 0, ...extra },
});
const B = (child: Partial<ChildTemplate> = {}): PeerOptions => ({
  addr: "198.18.0.2",
  remoteAddr: "198.18.0.1",
  id: "swan.example.org",
  remoteId: "client.example.org",
  localTs: "203.0.113.0/24",
  remoteTs: "198.51.100.0/24",
  child,
});

/** B answers echo requests; returns the count of replies A received. */
function wireEcho(p: Pair): () => number {
  let replies = 0;
  p.b.onInner = (pkt) => {
    const r = echoReplyFor(pkt);
    if (r) p.b.sendInner([r], parseIcmpEcho(pkt)!.src);
  };
  p.a.onInner = (pkt) => {
    if (parseIcmpEcho(pkt)?.type === 0) replies++;
  };
  return () => replies;
}

const ping = (p: Pair, seq: number): number =>
  p.a.sendInner([icmpEcho("198.51.100.1", "203.0.113.5", 7, seq)], "203.0.113.5");

const established = (p: Pair, side: "a" | "b" = "a"): IkeSa[] =>
  [...new Set(p[side].sas.values())].filter((s) => s.state === "ESTABLISHED");

function close(p: Pair): void {
  p.a.close();
  p.b.close();
}

test("start_action = trap: the first packet starts the IKE SA and is dropped (counted); later ones flow", async () => {
  const p = await makePair(A({ startAction: "trap" }), B());
  const replies = wireEcho(p);
  const { trapped, started } = p.a.startActions();
  assert.equal(trapped.length, 1);
  assert.equal(started.length, 0);
  assert.equal(p.wire.ike, 0, "a trap sends nothing by itself");
  assert.deepEqual(
    p.a.traps().map((t) => [t.template.name, t.acquiring]),
    [["net", false]],
  );
  assert.equal(ping(p, 1), 0, "the trigger is dropped");
  assert.equal(ping(p, 2), 0, "so is what follows while negotiating");
  assert.equal(p.a.counters.acquires, 1, "one initiation per trap at a time");
  assert.equal(p.a.counters.trapDropped, 2);
  assert.equal(p.a.counters.espToUnknownChild, 0);
  await p.clock.advance(100);
  assert.equal(established(p).length, 1);
  assert.equal(p.a.traps()[0]?.acquiring, false);
  assert.ok(ping(p, 3) > 0);
  await settle();
  assert.equal(replies(), 1);
  assert.ok(p.logs.a.some((l) => /acquire: packet to 203\.0\.113\.5 hit the trap of CHILD_SA net/.test(l)));
  // Packets outside every trap are still "no Child SA" drops.
  p.a.sendInner([icmpEcho("198.51.100.1", "198.51.100.77", 7, 9)], "198.51.100.77");
  assert.equal(p.a.counters.espToUnknownChild, 1);
  close(p);
});

test("two traps: a destination in both starts the child with the narrower selector", async () => {
  const p = await makePair(A({ startAction: "trap", remoteTs: parseTs("203.0.113.0/24") }), B());
  const wide = { ...p.a.connections[0]!.children[0]!, name: "wide", remoteTs: parseTs("203.0.0.0/16") };
  p.a.connections[0]!.children.unshift(wide);
  p.a.installTrap("peer", "wide");
  p.a.installTrap("peer", "net");
  assert.equal(ping(p, 1), 0);
  assert.deepEqual(
    p.a.traps().map((t) => [t.template.name, t.acquires]),
    [
      ["wide", 0],
      ["net", 1],
    ],
  );
  p.a.sendInner([icmpEcho("198.51.100.1", "203.0.9.9", 7, 2)], "203.0.9.9");
  assert.equal(p.a.traps()[0]?.acquires, 1);
  close(p);
});

test("start_action = start: startActions() initiates the connection", async () => {
  const p = await makePair(A({ startAction: "start" }), B());
  const { started } = p.a.startActions();
  assert.equal(started.length, 1);
  await p.clock.advance(100);
  const r = await started[0]!.up;
  assert.equal(r.child?.name, "net");
  assert.equal(established(p).length, 1);
  close(p);
});

test("dpd_action = restart: DPD failure logged, re-initiation with backoff, SA and child back when the peer answers", async () => {
  const p = await makePair(A({ dpdAction: "restart" }), B());
  const replies = wireEcho(p);
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  const first = established(p)[0]!;
  p.filter = () => false; // the peer goes silent
  await p.clock.advance(30_000 + ONE_TRY_MS + 1000);
  assert.ok(p.logs.a.some((l) => /peer dead .*did not answer the liveness check \(DPD\)/.test(l)));
  assert.ok(p.logs.a.some((l) => /dpd_action = restart: re-initiating 'peer' for CHILD_SA net/.test(l)));
  assert.ok(p.a.recovering);
  // still silent: the first restart try fails, a pause of 1 s, the second fails, a pause of 2 s
  await p.clock.advance(2 * ONE_TRY_MS + 4000);
  assert.ok(p.logs.a.some((l) => /dpd_action: 'peer' failed .*; retrying in 1 s/.test(l)));
  assert.ok(p.logs.a.some((l) => /dpd_action: 'peer' failed .*; retrying in 2 s/.test(l)));
  assert.equal(established(p).length, 0);
  p.filter = undefined; // the peer is back
  await p.clock.advance(ONE_TRY_MS + 8000);
  const again = established(p);
  assert.equal(again.length, 1, p.logs.a.slice(-10).join("\n"));
  assert.notEqual(again[0]!.uniqueId, first.uniqueId);
  assert.deepEqual(
    [...again[0]!.children.values()].map((c) => [c.name, c.state]),
    [["net", "INSTALLED"]],
  );
  assert.ok(p.logs.a.some((l) => /dpd_action: 'peer' is up again/.test(l)));
  assert.equal(p.a.recovering, false);
  assert.ok(ping(p, 1) > 0);
  await settle();
  assert.equal(replies(), 1);
  close(p);
});

test("keyingtries bounds the restart: after N failed tries it gives up and says how to retry forever", async () => {
  const p = await makePair(A({ dpdAction: "restart" }, { keyingTries: 2 }), B());
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  p.filter = () => false;
  await p.clock.advance(30_000 + ONE_TRY_MS + 1000 + 2 * ONE_TRY_MS + 4000);
  assert.ok(
    p.logs.a.some((l) =>
      /dpd_action: giving up on 'peer' after 2 keying tries \(keyingtries = 2; 0 retries forever\)/.test(l),
    ),
    p.logs.a.slice(-8).join("\n"),
  );
  const sent = p.wire.dropped;
  await p.clock.advance(120_000);
  assert.equal(p.wire.dropped, sent, "nothing more is sent");
  assert.equal(p.a.recovering, false);
  close(p);
});

test("dpd_action = clear: the SA and child go, nothing is re-initiated and no trap installed", async () => {
  const p = await makePair(A({ dpdAction: "clear" }), B());
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  p.filter = () => false;
  await p.clock.advance(30_000 + ONE_TRY_MS + 1000);
  assert.equal(p.a.sas.size, 0);
  const sent = p.wire.dropped + p.wire.ike;
  p.filter = undefined;
  await p.clock.advance(60_000);
  assert.equal(p.wire.dropped + p.wire.ike, sent);
  assert.deepEqual(p.a.traps(), []);
  assert.equal(ping(p, 1), 0);
  assert.equal(p.a.counters.espToUnknownChild, 1);
  close(p);
});

test("dpd_action = trap: a trap replaces the dead SA; the next packet brings it back", async () => {
  const p = await makePair(A({ dpdAction: "trap" }), B());
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  p.filter = () => false;
  await p.clock.advance(30_000 + ONE_TRY_MS + 1000);
  assert.equal(p.a.traps().length, 1);
  assert.ok(p.logs.a.some((l) => /dpd_action = trap for CHILD_SA net/.test(l)));
  p.filter = undefined;
  await p.clock.advance(60_000);
  assert.equal(established(p).length, 0, "a trap waits for traffic");
  assert.equal(ping(p, 1), 0);
  await p.clock.advance(100);
  assert.equal(established(p).length, 1);
  assert.equal(p.a.counters.acquires, 1);
  close(p);
});

test("close_action = start: the peer deletes the IKE SA and it is re-initiated; = trap installs a trap", async () => {
  const p = await makePair(A({ closeAction: "start" }), B());
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  const first = established(p)[0]!;
  await Promise.all([p.b.terminateAll(), p.clock.advance(100)]);
  await p.clock.advance(100);
  assert.ok(p.logs.a.some((l) => /close_action = start: re-initiating 'peer'/.test(l)));
  const again = established(p);
  assert.equal(again.length, 1);
  assert.notEqual(again[0]!.uniqueId, first.uniqueId);
  close(p);

  const q = await makePair(A({ closeAction: "trap" }), B());
  await Promise.all([q.a.initiate("peer"), q.clock.advance(100)]);
  await Promise.all([q.b.terminateAll(), q.clock.advance(100)]);
  assert.equal(q.a.sas.size, 0);
  assert.equal(q.a.traps().length, 1);
  close(q);
});

test("close_action applies to a child the peer deletes, not to one we delete, nor to our own DELETE of the IKE SA", async () => {
  const p = await makePair(A({ closeAction: "start" }), B());
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  const ike = established(p)[0]!;
  const bChild = [...established(p, "b")[0]!.children.values()][0]!;
  established(p, "b")[0]!.deleteChild(bChild);
  await p.clock.advance(100);
  assert.equal(established(p)[0], ike, "the child comes back on the same IKE SA");
  assert.deepEqual(
    [...ike.children.values()].map((c) => c.state),
    ["INSTALLED"],
  );
  const child = [...ike.children.values()][0]!;
  ike.deleteChild(child);
  await p.clock.advance(100);
  assert.equal(ike.children.size, 0, "our own DELETE is not a close");
  await Promise.all([p.a.terminateAll(), p.clock.advance(100)]);
  await p.clock.advance(10_000);
  assert.equal(p.a.sas.size, 0);
  close(p);
});

/** A road warrior (vips = 0.0.0.0, dynamic selectors) and a gateway with pool rw: the IKE side's CP leases through the daemon's hooks. */
const rwClient = (): PeerOptions => ({ ...A({}, { vips: ["0.0.0.0"] }), localTs: "dynamic" });
const rwGateway = (): PeerOptions => ({ ...B(), remoteTs: "dynamic", extra: { pools: ["rw"] } });

test("virtual IP hooks: leases from the pools, released with the IKE SA, the same address on reconnect; status shows them", async () => {
  const p = await makePair(rwClient(), rwGateway(), {
    b: {
      pools: [{ name: "rw", addrs: "10.99.0.0/24", dns: ["10.1.0.53"] }],
      eapSecrets: [
        { ids: [{ idType: 2, data: new TextEncoder().encode("alice") }], secret: new TextEncoder().encode("pw") },
      ],
    },
  });
  assert.equal(
    new TextDecoder().decode(p.b.findEapSecret({ idType: 2, data: new TextEncoder().encode("alice") })),
    "pw",
  );
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  const gw = established(p, "b")[0]!;
  assert.deepEqual(gw.remoteVips, [{ pool: "rw", address: "10.99.0.1", dns: ["10.1.0.53"] }]);
  const a = p.a.status()[0]!;
  assert.deepEqual([a.localVips, a.dns, a.remoteVips], [["10.99.0.1"], ["10.1.0.53"], []]);
  assert.deepEqual(p.b.status()[0]!.remoteVips, ["10.99.0.1"]);
  const text = formatStatusReport(buildStatusReport({ dataplane: p.dpA, daemon: p.a }));
  assert.match(text, /local {2}'client\.example\.org' @ 198\.18\.0\.1\[\d+\] \[10\.99\.0\.1\]/);
  assert.match(text, /dns 10\.1\.0\.53/);
  const gwText = formatStatusReport(buildStatusReport({ dataplane: p.dpB, daemon: p.b }));
  assert.match(gwText, /remote 'client\.example\.org' @ 198\.18\.0\.1\[\d+\] \[10\.99\.0\.1\]/);
  assert.match(gwText, /rw +10\.99\.0\.0 +1 \/ +0 \/ +254/);
  // another peer takes the next address meanwhile
  const other = p.b.acquireVirtualIp(["rw"], { idType: 2, data: new TextEncoder().encode("bob.example.org") }, 4);
  assert.equal((other as { address: string }).address, "10.99.0.2");
  await Promise.all([p.a.terminateAll(), p.clock.advance(100)]);
  assert.deepEqual(
    p.b.pools.status()[0]!.leases.find((l) => l.identity === "client.example.org"),
    { address: "10.99.0.1", identity: "client.example.org", online: false },
  );
  assert.ok(p.logs.b.some((l) => /lease 10\.99\.0\.1 by 'client\.example\.org' went offline/.test(l)));
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  assert.deepEqual(established(p)[0]!.localVips, ["10.99.0.1"], "the same address on reconnect");
  close(p);
});

test("INITIAL_CONTACT: the other IKE SAs of the same peer identity are destroyed at once, their leases offline first", async () => {
  const p = await makePair(rwClient(), rwGateway(), { b: { pools: [{ name: "rw", addrs: "10.99.0.0/24" }] } });
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  const old = established(p, "b")[0]!;
  assert.deepEqual(
    old.remoteVips.map((l) => l.address),
    ["10.99.0.1"],
  );
  // While the client holds that SA, a second one carries no INITIAL_CONTACT: both stay.
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  assert.equal(established(p, "b").length, 2);
  assert.ok(!p.logs.b.some((l) => /received INITIAL_CONTACT/.test(l)));
  const second = established(p, "b").find((s) => s !== old)!;
  await Promise.all([p.a.terminateAll(), p.clock.advance(100)]);
  assert.deepEqual(established(p, "b"), []);
  // A client that lost its state (a restart: no DELETE) comes back with INITIAL_CONTACT: the old one goes.
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  const stale = established(p, "b")[0]!;
  assert.notEqual(stale, second);
  const staleVips = stale.remoteVips.map((l) => l.address);
  assert.equal(staleVips.length, 1);
  established(p)[0]!.teardown("client restarted");
  await Promise.all([p.a.initiate("peer"), p.clock.advance(100)]);
  const fresh = established(p, "b").find((s) => s !== stale)!;
  assert.ok(fresh);
  assert.equal(stale.state, "DESTROYED");
  assert.deepEqual(established(p, "b"), [fresh]);
  assert.ok(
    p.logs.b.some((l) =>
      /destroying duplicate IKE_SA peer\[\d+\] for peer 'client\.example\.org', received INITIAL_CONTACT/.test(l),
    ),
  );
  // the stale SA's lease went offline first, so the identity got one of its own again, not a third
  // address (it holds two: its two earlier IKE SAs were up at once)
  assert.equal(fresh.remoteVips.length, 1);
  assert.ok(["10.99.0.1", "10.99.0.2"].includes(fresh.remoteVips[0]!.address), JSON.stringify(fresh.remoteVips));
  assert.ok(staleVips[0] === "10.99.0.1" || staleVips[0] === "10.99.0.2");
  assert.equal(p.b.pools.status()[0]!.leases.length, 2);
  assert.equal(p.b.destroyDuplicates(fresh), 0);
  close(p);
});
