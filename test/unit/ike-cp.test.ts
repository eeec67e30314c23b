// Virtual IPs by Configuration Payload (RFC 7296 §2.19) between our EAP-MSCHAPv2 road warriors and
// our gateway on the virtual clock: one address per identity, the same one again on reconnect,
// INTERNAL_ADDRESS_FAILURE when the pool is exhausted, leases released with the IKE SA and kept
// across an IKE rekey.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeWorld, connect, settled, until, type World } from "../helpers/ike-rw.ts";
import { formatTsList } from "../../sdk/ike/ts.ts";
import type { IkeSa } from "../../sdk/ike/ike-sa.ts";
import type { Payload } from "../../sdk/ike/message.ts";

const secrets = { alice: "alice-pw", bob: "bob-pw", carol: "carol-pw" };
const client = (eapId: string, id = `${eapId}-laptop.example.org`) => ({
  id,
  eapId,
  secret: secrets[eapId as keyof typeof secrets],
});

function gatewaySas(w: World): IkeSa[] {
  return [...new Set(w.gateway.sas.values())].filter((s) => s.state === "ESTABLISHED");
}

function gatewaySaOf(w: World, eapId: string): IkeSa {
  const s = gatewaySas(w).filter((x) => x.eapIdentity && new TextDecoder().decode(x.eapIdentity.data) === eapId);
  assert.equal(s.length, 1, `one gateway SA for ${eapId}`);
  return s[0]!;
}

test("CP: two clients get different addresses from the pool, each child narrowed to its own VIP", async () => {
  const w = await makeWorld({ eapId: "%any", secrets }, [client("alice"), client("bob")]);
  const a = connect(w, 0);
  const b = connect(w, 1);
  await settled(a);
  await settled(b);
  assert.equal(a.state, "ESTABLISHED", w.gateway.logs.join("\n"));
  assert.equal(b.state, "ESTABLISHED");
  // Both negotiate at once: which of them the pool serves first is up to the timing.
  const [va, vb] = [a.localVips[0]!, b.localVips[0]!];
  assert.deepEqual([a.localVips.length, b.localVips.length], [1, 1]);
  assert.deepEqual([va, vb].sort(), ["10.99.0.1", "10.99.0.2"]);
  for (const [ike, vip] of [
    [a, va],
    [b, vb],
  ] as const) {
    const c = [...ike.children.values()];
    assert.equal(c.length, 1);
    assert.equal(formatTsList(c[0]!.localTs), `${vip}/32`);
  }
  assert.deepEqual(
    gatewaySaOf(w, "bob").remoteVips.map((l) => l.address),
    [vb],
  );
  assert.equal(formatTsList([...gatewaySaOf(w, "bob").children.values()][0]!.remoteTs), `${vb}/32`);
  assert.deepEqual(w.pool.inUse().sort(), ["10.99.0.1", "10.99.0.2"]);
});

test("CP: the lease is released when the IKE SA is deleted, and the same identity gets the same address again", async () => {
  const w = await makeWorld({ eapId: "%any", secrets }, [client("alice"), client("bob")]);
  const a = connect(w, 1); // bob first: he gets .1
  await settled(a);
  const alice = connect(w, 0);
  await settled(alice);
  assert.deepEqual(alice.localVips, ["10.99.0.2"]);
  await alice.delete();
  await until(() => w.pool.released.length > 0);
  assert.deepEqual(w.pool.released, ["10.99.0.2 alice"]);
  assert.deepEqual(w.pool.inUse(), ["10.99.0.1"]);
  assert.equal(gatewaySas(w).length, 1);
  const again = connect(w, 0);
  await settled(again);
  assert.equal(again.state, "ESTABLISHED");
  assert.deepEqual(again.localVips, ["10.99.0.2"], "alice's address again, not the next free one");
  assert.deepEqual(w.pool.inUse().sort(), ["10.99.0.1", "10.99.0.2"]);
});

test("CP: pool exhausted: INTERNAL_ADDRESS_FAILURE, the IKE SA stays up without a child, as strongSwan", async () => {
  const w = await makeWorld({ eapId: "%any", secrets, poolSize: 1 }, [client("alice"), client("bob")]);
  const a = connect(w, 0);
  await settled(a);
  assert.deepEqual(a.localVips, ["10.99.0.1"]);
  const b = connect(w, 1);
  await settled(b);
  assert.equal(b.state, "ESTABLISHED");
  assert.deepEqual(b.localVips, []);
  assert.equal(b.children.size, 0);
  const gl = w.gateway.logs.join("\n");
  assert.match(gl, /no virtual IP found for %any requested by 'bob'/);
  assert.match(gl, /no virtual IP found, sending INTERNAL_ADDRESS_FAILURE/);
  assert.match(gl, /configuration payload negotiation failed, no CHILD_SA built/);
  assert.match(w.clients[1]!.logs.join("\n"), /received INTERNAL_ADDRESS_FAILURE notify, no CHILD_SA built/);
  const failed = w.clients[1]!.events.find((e) => e.type === "child-failed");
  assert.ok(failed && failed.type === "child-failed");
  assert.equal(failed.error.code, "CHILD_SA_FAILED");
  assert.match(failed.error.message, /INTERNAL_ADDRESS_FAILURE/);
  const gwFailed = w.gateway.events.find((e) => e.type === "child-failed");
  assert.ok(gwFailed && gwFailed.type === "child-failed");
  assert.match(gwFailed.error.message, /no virtual IP for peer 'bob' from pool rw: pool 'rw' is exhausted/);
  assert.deepEqual(gatewaySaOf(w, "bob").remoteVips, []);
});

test("CP: a gateway without pools answers a request with INTERNAL_ADDRESS_FAILURE", async () => {
  const w = await makeWorld({ eapId: "%any", secrets, pools: [] }, [client("alice")]);
  const a = connect(w, 0);
  await settled(a);
  assert.equal(a.state, "ESTABLISHED");
  assert.equal(a.children.size, 0);
  assert.match(w.gateway.logs.join("\n"), /no virtual IP found, sending INTERNAL_ADDRESS_FAILURE/);
});

test("CP: a specific vips address is requested and honoured when free", async () => {
  const w = await makeWorld({ eapId: "%any", secrets }, [{ ...client("alice"), vips: ["10.99.0.5"] }]);
  const a = connect(w, 0);
  await settled(a);
  assert.deepEqual(a.localVips, ["10.99.0.5"]);
  assert.match(w.gateway.logs.join("\n"), /peer requested virtual IP 10\.99\.0\.5/);
});

test("CP: an IKE rekey keeps the lease (the successor holds it); deleting the successor releases it once", async () => {
  const w = await makeWorld({ eapId: "%any", secrets }, [client("alice")]);
  const a = connect(w, 0);
  await settled(a);
  const old = gatewaySaOf(w, "alice");
  a.rekeyIke();
  await until(() => w.gateway.events.some((e) => e.type === "deleted"));
  await w.clock.advance(60_000);
  const now = gatewaySaOf(w, "alice");
  assert.notEqual(now, old, "a new gateway IKE SA");
  assert.equal(old.state, "DESTROYED");
  assert.deepEqual(
    now.remoteVips.map((l) => l.address),
    ["10.99.0.1"],
  );
  assert.deepEqual(old.remoteVips, []);
  assert.deepEqual(w.pool.released, [], "no release on rekey");
  const client0 = [...new Set(w.clients[0]!.sas.values())].find((s) => s.state === "ESTABLISHED");
  assert.ok(client0);
  assert.deepEqual(client0.localVips, ["10.99.0.1"]);
  await client0.delete();
  await until(() => w.pool.released.length > 0);
  assert.deepEqual(w.pool.released, ["10.99.0.1 alice"]);
});

test("CP: the gateway that rekeys also hands the lease over", async () => {
  const w = await makeWorld({ eapId: "%any", secrets }, [client("alice")]);
  const a = connect(w, 0);
  await settled(a);
  gatewaySaOf(w, "alice").rekeyIke();
  await until(() => w.gateway.events.some((e) => e.type === "rekeyed"));
  await w.clock.advance(60_000);
  assert.deepEqual(
    gatewaySaOf(w, "alice").remoteVips.map((l) => l.address),
    ["10.99.0.1"],
  );
  assert.deepEqual(w.pool.released, []);
});

test("CP without EAP: a PSK client gets its virtual IP in the one IKE_AUTH response", async () => {
  const w = await makeWorld({ psk: "k3y" }, [{ id: "dave.example.org", psk: "k3y" }]);
  const a = connect(w, 0);
  await settled(a);
  assert.equal(a.state, "ESTABLISHED", w.gateway.logs.join("\n"));
  assert.deepEqual(a.localVips, ["10.99.0.1"]);
  assert.match(w.gateway.logs.join("\n"), /assigning virtual IP 10\.99\.0\.1 to peer 'dave\.example\.org'/);
  assert.match(w.gateway.logs.join("\n"), /generating IKE_AUTH response 1 \[ IDr AUTH CPRP\(ADDR DNS\) SA TSi TSr \]/);
});

test("CP: a gateway with pools refuses a client that asks for no address (FAILED_CP_REQUIRED), no child", async () => {
  const w = await makeWorld({ psk: "k3y" }, [{ id: "dave.example.org", psk: "k3y", vips: [] }]);
  const a = connect(w, 0);
  await settled(a);
  assert.equal(a.state, "ESTABLISHED");
  assert.equal(a.children.size, 0);
  assert.match(w.gateway.logs.join("\n"), /expected a virtual IP request, sending FAILED_CP_REQUIRED/);
  assert.match(w.clients[0]!.logs.join("\n"), /received FAILED_CP_REQUIRED notify, no CHILD_SA built/);
});

test("CP: IPv4 and IPv6 virtual IPs at once: ADDR/ADDR6 and DNS/DNS6, TSi 0.0.0.0/0 and ::/0 narrowed to both", async () => {
  const w = await makeWorld({ psk: "k3y", localTs: "10.1.0.0/16,fd00:1::/64" }, [
    { id: "dave.example.org", psk: "k3y", vips: ["0.0.0.0", "::"], remoteTs: "10.1.0.0/16,fd00:1::/64" },
  ]);
  const a = connect(w, 0);
  // what the client proposes as TSi, read before encryption
  const proposed: string[] = [];
  const sa = a as unknown as { protect: (x: number, r: boolean, id: number, ps: Payload[]) => Uint8Array[] };
  const orig = sa.protect.bind(a);
  sa.protect = (x, r, id, ps) => {
    for (const p of ps) if (p.type === "TSi") proposed.push(formatTsList(p.selectors));
    return orig(x, r, id, ps);
  };
  await settled(a);
  assert.deepEqual(proposed, ["0.0.0.0/0 ::/0"]);
  const cl = w.clients[0]!.logs.join("\n");
  assert.match(cl, /IKE_AUTH request 1 \[ IDi N\(INIT_CONTACT\) IDr AUTH CPRQ\(ADDR ADDR6 DNS DNS6\) SA TSi TSr \]/);
  assert.deepEqual(a.localVips, ["10.99.0.1", "fd00:99::1"]);
  assert.deepEqual(a.dnsServers, ["10.1.0.53", "fd00:1::53"]);
  const c = [...a.children.values()];
  assert.equal(c.length, 1);
  assert.equal(formatTsList(c[0]!.localTs), "10.99.0.1/32 fd00:99::1/128");
  const g = [...gatewaySas(w)[0]!.children.values()];
  assert.equal(formatTsList(g[0]!.remoteTs), "10.99.0.1/32 fd00:99::1/128");
  assert.match(w.gateway.logs.join("\n"), /peer requested virtual IP %any6\n/);
});

test("CP: a second Child SA by CREATE_CHILD_SA uses the virtual IP for dynamic, on both ends", async () => {
  const w = await makeWorld({ eapId: "%any", secrets }, [client("alice")]);
  const a = connect(w, 0);
  await settled(a);
  a.createChild({ ...a.conn.children[0]!, name: "second" });
  await until(() => a.children.size === 2);
  const second = [...a.children.values()].find((c) => c.name === "second");
  assert.ok(second);
  assert.equal(formatTsList(second.localTs), "10.99.0.1/32");
  const g = [...gatewaySaOf(w, "alice").children.values()].find((c) => c.spiOut === second.spiIn);
  assert.ok(g);
  assert.equal(formatTsList(g.remoteTs), "10.99.0.1/32");
});
