// Virtual IPs by Configuration Payload (RFC 7296 §2.19) between our EAP-MSCHAPv2 road warriors and
// our gateway on the virtual clock: one address per identity, the same one again on reconnect,
// INTERNAL_ADDRESS_FAILURE when the pool is exhausted, leases released with the IKE SA and kept
// across an IKE rekey.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeWorld, connect, settled, until, type World } from "../helpers/ike-rw.ts";
import { formatTsList } from "../../sdk/ike/ts.ts";
import type { IkeSa } from "../../sdk/ike/ike-sa.ts";

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
  assert.deepEqual(a.localVips, ["10.99.0.1"]);
  assert.deepEqual(b.localVips, ["10.99.0.2"]);
  for (const [ike, vip] of [
    [a, "10.99.0.1"],
    [b, "10.99.0.2"],
  ] as const) {
    const c = [...ike.children.values()];
    assert.equal(c.length, 1);
    assert.equal(formatTsList(c[0]!.localTs), `${vip}/32`);
  }
  assert.deepEqual(
    gatewaySaOf(w, "bob").remoteVips.map((l) => l.address),
    ["10.99.0.2"],
  );
  assert.equal(formatTsList([...gatewaySaOf(w, "bob").children.values()][0]!.remoteTs), "10.99.0.2/32");
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
  assert.match(gl, /no virtual IP found for 0\.0\.0\.0 requested by 'bob'/);
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
