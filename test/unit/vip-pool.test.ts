// Virtual IP pools with strongSwan's mem_pool.c semantics: which addresses a subnet, a range and
// a single address hand out, leases kept per identity across reconnects, requested addresses,
// exhaustion and reassignment of offline leases.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VipPool, VipPools } from "../../sdk/ike/pool.ts";
import { parseIdentity, type IkeIdentity } from "../../sdk/ike/identity.ts";
import { ConfigError } from "../../sdk/ike/config-error.ts";

const id = (s: string): IkeIdentity => parseIdentity(s) as IkeIdentity;
const alice = id("alice"),
  bob = id("bob"),
  carol = id("carol");

function lease(pools: VipPools, who: IkeIdentity, names = ["rw"], family: 4 | 6 = 4, requested?: string): string {
  const r = pools.acquire(names, who, family, requested);
  if ("error" in r) throw new Error(r.error);
  return r.address;
}

test("a /24 at its network address hands out .1 first and never .0 or .255 (254 addresses)", () => {
  const p = new VipPool({ name: "rw", addrs: "10.99.0.0/24" });
  assert.equal(p.size, 254);
  assert.equal(p.address(0), "10.99.0.1");
  assert.equal(p.address(253), "10.99.0.254");
  assert.equal(p.offsetOf("10.99.0.0"), undefined);
  assert.equal(p.offsetOf("10.99.0.255"), undefined);
});

test("a subnet whose base is inside it starts at the base and still skips the broadcast", () => {
  const p = new VipPool({ name: "rw", addrs: "10.99.0.5/24" });
  assert.equal(p.size, 250);
  assert.equal(p.address(0), "10.99.0.5");
  assert.equal(p.address(p.size - 1), "10.99.0.254");
});

test("/32, /31, a range and IPv6 subnets", () => {
  assert.equal(new VipPool({ name: "one", addrs: "10.0.0.7" }).size, 1);
  assert.equal(new VipPool({ name: "one", addrs: "10.0.0.7/32" }).address(0), "10.0.0.7");
  assert.equal(new VipPool({ name: "two", addrs: "10.0.0.6/31" }).size, 2);
  const r = new VipPool({ name: "r", addrs: "10.3.0.10-10.3.0.20" });
  assert.deepEqual([r.size, r.address(0), r.address(10)], [11, "10.3.0.10", "10.3.0.20"]);
  const v6 = new VipPool({ name: "v6", addrs: "fd00:99::/120" });
  assert.deepEqual([v6.family, v6.size, v6.address(0), v6.address(253)], [6, 254, "fd00:99::1", "fd00:99::fe"]);
  // Pools are limited to 2^31 addresses, as in strongSwan.
  assert.equal(new VipPool({ name: "big", addrs: "fd00::/64" }).size, 2 ** 31 - 2);
});

test("bad addrs and dns are configuration errors naming the pool", () => {
  for (const addrs of ["10.0.0.0/33", "nonsense", "10.0.0.9-10.0.0.1", "10.0.0.1-fd00::1"])
    assert.throws(
      () => new VipPool({ name: "p", addrs }),
      (e: unknown) => e instanceof ConfigError && /pool 'p'/.test(e.message),
    );
  assert.throws(() => new VipPool({ name: "p", addrs: "10.0.0.0/24", dns: ["ns1"] }), /pool 'p': dns = ns1/);
});

test("leases: first come first served; the same identity gets its address back after release", () => {
  const pools = new VipPools([{ name: "rw", addrs: "10.99.0.0/24", dns: ["10.1.0.53"] }]);
  const r = pools.acquire(["rw"], alice, 4);
  assert.deepEqual(r, { pool: "rw", address: "10.99.0.1", dns: ["10.1.0.53"] });
  assert.equal(lease(pools, bob), "10.99.0.2");
  assert.ok(pools.release({ pool: "rw", address: "10.99.0.1", dns: [] }, alice));
  assert.deepEqual(
    pools.status()[0]?.leases.find((l) => l.identity === "alice"),
    {
      address: "10.99.0.1",
      identity: "alice",
      online: false,
    },
  );
  // carol gets a fresh address: alice's offline lease stays hers
  assert.equal(lease(pools, carol), "10.99.0.3");
  assert.equal(lease(pools, alice), "10.99.0.1");
  const st = pools.status()[0]!;
  assert.deepEqual([st.online, st.offline, st.size], [3, 0, 254]);
  // releasing what was not leased to that identity is refused
  assert.equal(pools.release({ pool: "rw", address: "10.99.0.2", dns: [] }, alice), false);
});

test("a requested address is honoured when free, refused (another address instead) when taken", () => {
  const pools = new VipPools([{ name: "rw", addrs: "10.99.0.0/24" }]);
  assert.equal(lease(pools, alice, ["rw"], 4, "10.99.0.77"), "10.99.0.77");
  assert.equal(lease(pools, bob, ["rw"], 4, "10.99.0.77"), "10.99.0.1");
  assert.equal(lease(pools, carol, ["rw"], 4, "0.0.0.0"), "10.99.0.2");
  // outside the pool: ignored
  assert.equal(lease(pools, id("dave"), ["rw"], 4, "203.0.113.1"), "10.99.0.3");
});

test("exhausted: the error names the pool and the count; offline leases of others are then reassigned", () => {
  const pools = new VipPools([{ name: "tiny", addrs: "10.0.0.1-10.0.0.2" }]);
  assert.equal(lease(pools, alice, ["tiny"]), "10.0.0.1");
  assert.equal(lease(pools, bob, ["tiny"]), "10.0.0.2");
  assert.deepEqual(pools.acquire(["tiny"], carol, 4), { error: "pool 'tiny' is exhausted (2 addresses leased)" });
  pools.release({ pool: "tiny", address: "10.0.0.2", dns: [] }, bob);
  assert.equal(lease(pools, carol, ["tiny"]), "10.0.0.2");
  // bob's lease went to carol: bob finds the pool full
  assert.match((pools.acquire(["tiny"], bob, 4) as { error: string }).error, /exhausted/);
});

test("a /24 is exhausted after 254 leases, with the message the operator sees", () => {
  const pools = new VipPools([{ name: "rw-pool", addrs: "10.99.0.0/24" }]);
  for (let i = 0; i < 254; i++) lease(pools, id(`user${i}`), ["rw-pool"]);
  assert.deepEqual(pools.acquire(["rw-pool"], id("late"), 4), {
    error: "pool 'rw-pool' is exhausted (254 addresses leased)",
  });
});

test("several pools: the first with room of the right family; unknown pools and families explained", () => {
  const pools = new VipPools([
    { name: "a", addrs: "10.0.0.1" },
    { name: "b", addrs: "10.0.1.0/30" },
    { name: "v6", addrs: "fd00::/126" },
  ]);
  assert.equal(lease(pools, alice, ["a", "b", "v6"]), "10.0.0.1");
  assert.equal(lease(pools, bob, ["a", "b", "v6"]), "10.0.1.1");
  assert.equal(lease(pools, bob, ["a", "b", "v6"], 6), "fd00::1");
  assert.deepEqual(pools.acquire(["nope"], alice, 4), { error: "unknown pool 'nope'" });
  assert.deepEqual(pools.acquire(["a"], alice, 6), { error: "no IPv6 pool among 'a'" });
  assert.throws(
    () =>
      new VipPools([
        { name: "x", addrs: "10.0.0.1" },
        { name: "x", addrs: "10.0.0.2" },
      ]),
    /twice/,
  );
});
