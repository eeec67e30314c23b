// Road warrior end to end between two IkeDaemons in memory (virtual clock): the client of the
// seed config (EAP-MSCHAPv2, vips = 0.0.0.0, dpd_action = restart) against the gateway (certificate,
// pools, eap secrets), with the daemon's pools and secrets behind the IKE side's Configuration
// Payload and EAP exchanges.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { makePair, settle } from "../helpers/ike-pair.ts";
import { parseIdentity, type IkeIdentity } from "../../sdk/ike/identity.ts";
import { parseCertificate } from "../../sdk/ike/x509.ts";
import { importPrivateKeyPem } from "../../sdk/ike/signature-auth.ts";
import { icmpEcho, echoReplyFor, parseIcmpEcho } from "../../sdk/packet/icmp.ts";
import { pingSource } from "../../sdk/cli/ping.ts";
import { buildStatusReport, formatStatusReport } from "../../sdk/diag/status-report.ts";

const certDir = new URL("../fixtures/certs/", import.meta.url);
const pem = (f: string): string => readFileSync(new URL(f, certDir), "utf8");
const id = (s: string): IkeIdentity => parseIdentity(s) as IkeIdentity;

test("road warrior: EAP-MSCHAPv2 and a virtual IP from the daemon's pool; ping from it; same address on reconnect; DPD restart", async () => {
  const secrets = [{ ids: [id("alice")], secret: new TextEncoder().encode("alice_password_here") }];
  const p = await makePair(
    {
      addr: "198.18.0.1",
      remoteAddr: "198.18.0.2",
      id: "%any",
      localTs: "dynamic",
      remoteTs: "10.0.0.0/8",
      dpdDelay: 30,
      child: { dpdAction: "restart" },
      extra: {
        vips: ["0.0.0.0"],
        keyingTries: 0,
        retransmit: { timeoutMs: 1000, base: 1.5, tries: 3 },
        local: { auth: "eap-mschapv2", id: "any", eapId: id("alice") },
        remote: { auth: "pubkey", id: id("swan.example.org"), cacerts: [parseCertificate(pem("ca.pem"))] },
      },
    },
    {
      addr: "198.18.0.2",
      remoteAddr: "%any",
      id: "swan.example.org",
      localTs: "10.0.0.0/8",
      remoteTs: "dynamic",
      extra: {
        remoteAddrs: ["%any"],
        pools: ["rw-pool"],
        local: {
          auth: "pubkey",
          id: id("swan.example.org"),
          certs: [parseCertificate(pem("rsa.pem"))],
          key: await importPrivateKeyPem(pem("rsa.key")),
        },
        remote: { auth: "eap-mschapv2", id: "any", eapId: "any" },
      },
    },
    {
      a: { eapSecrets: secrets },
      b: { eapSecrets: secrets, pools: [{ name: "rw-pool", addrs: "10.99.0.0/24", dns: ["10.1.0.53"] }] },
    },
  );
  const [r] = await Promise.all([p.a.initiate("peer"), p.clock.advance(200)]);
  assert.deepEqual([r.ike.localVips, r.ike.dnsServers], [["10.99.0.1"], ["10.1.0.53"]]);
  assert.equal(r.ike.eapIdentity, undefined, "the client's eapIdentity is the gateway's business");
  const gw = [...p.b.sas.values()][0]!;
  assert.deepEqual(
    gw.remoteVips.map((l) => l.address),
    ["10.99.0.1"],
  );
  assert.match(
    formatStatusReport(buildStatusReport({ dataplane: p.dpA, daemon: p.a })),
    /local {2}'198\.18\.0\.1' @ 198\.18\.0\.1\[\d+\] \[10\.99\.0\.1\]\n {2}remote .*\n {2}dns 10\.1\.0\.53/,
  );
  assert.match(
    formatStatusReport(buildStatusReport({ dataplane: p.dpB, daemon: p.b })),
    /remote '198\.18\.0\.1' @ 198\.18\.0\.1\[\d+\] \[10\.99\.0\.1\]/,
  );
  // The virtual IP is the inner source; the gateway's child covers it.
  let replies = 0;
  p.b.onInner = (pkt) => {
    const reply = echoReplyFor(pkt);
    if (reply) p.b.sendInner([reply], parseIcmpEcho(pkt)!.src);
  };
  p.a.onInner = (pkt) => {
    if (parseIcmpEcho(pkt)?.type === 0) replies++;
  };
  const src = pingSource(r.ike.localVips, "10.1.0.1")!;
  assert.ok(p.a.sendInner([icmpEcho(src, "10.1.0.1", 1, 1)], "10.1.0.1") > 0);
  await settle();
  assert.equal(replies, 1);
  // Disconnect: the lease goes offline and stays alice's; she gets it back.
  await Promise.all([p.a.terminateAll(), p.clock.advance(200)]);
  assert.deepEqual(
    p.b.pools.status()[0]!.leases.map((l) => [l.address, l.online]),
    [["10.99.0.1", false]],
  );
  const [r2] = await Promise.all([p.a.initiate("peer"), p.clock.advance(200)]);
  assert.deepEqual(r2.ike.localVips, ["10.99.0.1"]);
  // The gateway goes silent: DPD declares it dead, the client restarts and authenticates again.
  p.filter = () => false;
  await p.clock.advance(30_000 + 12_000);
  p.filter = undefined;
  await p.clock.advance(20_000);
  const again = [...new Set(p.a.sas.values())].filter((s) => s.state === "ESTABLISHED");
  assert.equal(again.length, 1);
  assert.notEqual(again[0], r2.ike);
  // INITIAL_CONTACT made the gateway drop the dead SA first: the same address, not a second one.
  assert.deepEqual(again[0]!.localVips, ["10.99.0.1"]);
  assert.ok(p.logs.b.some((l) => /destroying duplicate IKE_SA .* received INITIAL_CONTACT/.test(l)));
  assert.ok(p.logs.a.some((l) => /dpd_action: 'peer' is up again/.test(l)));
  p.a.close();
  p.b.close();
});
