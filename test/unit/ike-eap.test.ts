// Road warrior IKE_AUTH on the virtual clock: a client authenticating by EAP-MSCHAPv2 (RFC 7296
// §2.16) against a gateway that signs with a certificate, asking for a virtual IP by CP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeWorld, connect, settled, until, mutateEap, type World } from "../helpers/ike-rw.ts";
import { seededRandom } from "../helpers/ike-pair.ts";
import { EapType } from "../../sdk/ike/eap/eap.ts";
import { decodeHeader } from "../../sdk/ike/codec.ts";
import { Exchange, HeaderFlag, type Payload } from "../../sdk/ike/message.ts";
import { formatTsList } from "../../sdk/ike/ts.ts";
import { formatIdentity } from "../../sdk/ike/identity.ts";
import type { IkeSa } from "../../sdk/ike/ike-sa.ts";
import type { IkeError } from "../../sdk/ike/errors.ts";

const ALICE = { id: "client.example.org", eapId: "alice", secret: "Passw0rd!" };

function only<T>(xs: Iterable<T>, what: string): T {
  const a = [...xs];
  assert.equal(a.length, 1, `exactly one ${what}, got ${a.length}`);
  return a[0]!;
}

function gatewaySa(w: World): IkeSa {
  return only(
    [...new Set(w.gateway.sas.values())].filter((s) => s.state === "ESTABLISHED"),
    "established gateway IKE SA",
  );
}

/** Message IDs of the IKE_AUTH requests the client sent, in order (retransmits once). */
function authRequestIds(w: World, from: string): number[] {
  const ids: number[] = [];
  for (const d of w.wire) {
    if (d.from !== from) continue;
    const h = decodeHeader(d.bytes);
    if (!h.ok || h.value.exchange !== Exchange.IKE_AUTH || (h.value.flags & HeaderFlag.RESPONSE) !== 0) continue;
    if (!ids.includes(h.value.messageId)) ids.push(h.value.messageId);
  }
  return ids;
}

test("EAP-MSCHAPv2 with EAP-Identity and a virtual IP: both ends up, VIP, DNS and narrowed selectors", async () => {
  const w = await makeWorld({ eapId: "%any", secrets: { alice: "Passw0rd!" } }, [ALICE]);
  const ike = connect(w, 0);
  await settled(ike);
  assert.equal(ike.state, "ESTABLISHED", w.clients[0]!.logs.join("\n") + "\n---\n" + w.gateway.logs.join("\n"));
  const gw = gatewaySa(w);
  assert.deepEqual(ike.localVips, ["10.99.0.1"]);
  assert.deepEqual(ike.dnsServers, ["10.1.0.53"]);
  assert.deepEqual(
    gw.remoteVips.map((l) => l.address),
    ["10.99.0.1"],
  );
  assert.equal(formatIdentity(gw.eapIdentity!), "alice");
  assert.equal(formatIdentity(gw.remoteId!), "client.example.org");
  const c = only(ike.children.values(), "client child");
  const g = only(gw.children.values(), "gateway child");
  assert.equal(formatTsList(c.localTs), "10.99.0.1/32");
  assert.equal(formatTsList(c.remoteTs), "10.1.0.0/16");
  assert.equal(formatTsList(g.remoteTs), "10.99.0.1/32");
  assert.equal(c.spiIn, g.spiOut);
  // IKE_AUTH rounds: IDi (no AUTH), EAP-Identity, MSCHAPv2 Response, Success ack, AUTH.
  assert.deepEqual(authRequestIds(w, w.clients[0]!.addr), [1, 2, 3, 4, 5]);
  const cl = w.clients[0]!.logs.join("\n");
  const gl = w.gateway.logs.join("\n");
  assert.match(cl, /server requested EAP_IDENTITY \(id 0x[0-9A-F]{2}\), sending 'alice'/);
  assert.match(cl, /server requested EAP_MSCHAPV2 authentication \(id 0x[0-9A-F]{2}\)/);
  assert.match(cl, /EAP-MS-CHAPv2 succeeded: 'Welcome2strongSwan'/);
  assert.match(cl, /EAP method EAP_MSCHAPV2 succeeded, MSK established/);
  assert.match(cl, /authentication of 'swan\.example\.org' with EAP successful/);
  assert.match(cl, /installing new virtual IP 10\.99\.0\.1/);
  assert.match(cl, /installing DNS server 10\.1\.0\.53/);
  assert.match(cl, /generating IKE_AUTH request 1 \[ IDi CERTREQ N\(INIT_CONTACT\) IDr CPRQ\(ADDR DNS\) SA TSi TSr \]/);
  assert.match(gl, /initiating EAP_IDENTITY method/);
  assert.match(gl, /received EAP identity 'alice'/);
  assert.match(gl, /peer requested virtual IP %any\n/);
  assert.match(gl, /assigning virtual IP 10\.99\.0\.1 to peer 'alice'/);
  assert.match(gl, /authentication of 'client\.example\.org' with EAP successful/);
  assert.match(gl, /generating IKE_AUTH response 5 \[ AUTH CPRP\(ADDR DNS\) SA TSi TSr \]/);
});

/** The client's error (from its failed event) and the gateway's. */
function failures(w: World): { client?: IkeError; gateway?: IkeError } {
  const c = w.clients[0]!.events.find((e) => e.type === "failed");
  const g = w.gateway.events.find((e) => e.type === "failed");
  return {
    client: c?.type === "failed" ? c.error : undefined,
    gateway: g?.type === "failed" ? g.error : undefined,
  };
}

test("EAP-MSCHAPv2: a wrong password fails on both sides and each says so", async () => {
  const w = await makeWorld({ eapId: "%any", secrets: { alice: "Passw0rd!" } }, [{ ...ALICE, secret: "passw0rd" }]);
  const ike = connect(w, 0);
  await settled(ike);
  await until(() => w.gateway.events.some((e) => e.type === "failed"));
  assert.equal(ike.state, "DESTROYED");
  const f = failures(w);
  assert.equal(f.client?.code, "AUTHENTICATION_FAILED");
  assert.match(
    f.client?.message ?? "",
    /^the gateway rejected the EAP-MSCHAPv2 password for 'alice' \(E=691 authentication failure\)/,
  );
  assert.equal(f.gateway?.code, "AUTHENTICATION_FAILED");
  assert.match(
    f.gateway?.message ?? "",
    /^EAP-MSCHAPv2 authentication of 'alice' failed: the password \(NT-Response\) does not match the EAP secret for 'alice'/,
  );
  const gl = w.gateway.logs.join("\n");
  assert.match(gl, /EAP-MS-CHAPv2 verification failed, retry \(1\)/);
  assert.match(w.clients[0]!.logs.join("\n"), /EAP-MS-CHAPv2 failed with error ERROR_AUTHENTICATION_FAILURE/);
  assert.match(w.clients[0]!.logs.join("\n"), /generating INFORMATIONAL request 4 \[ N\(AUTH_FAILED\) \]/);
  assert.equal(w.gateway.all[0]!.state, "DESTROYED");
  assert.deepEqual(w.pool.inUse(), [], "no lease for a client that never authenticated");
});

test("EAP-MSCHAPv2: an EAP identity the gateway has no secret for is refused with that reason", async () => {
  const w = await makeWorld({ eapId: "%any", secrets: { bob: "x" } }, [ALICE]);
  const ike = connect(w, 0);
  await settled(ike);
  await until(() => w.gateway.events.some((e) => e.type === "failed"));
  const f = failures(w);
  assert.match(f.gateway?.message ?? "", /EAP-MSCHAPv2 authentication of 'alice' failed: no EAP secret for 'alice'/);
  assert.match(f.client?.message ?? "", /the gateway rejected the EAP-MSCHAPv2 password for 'alice'/);
});

test("EAP-MSCHAPv2: a client without an EAP secret fails with CONFIG before it sends IKE_AUTH", async () => {
  const w = await makeWorld({ eapId: "%any", secrets: { alice: "x" } }, [{ id: "client.example.org", eapId: "alice" }]);
  const ike = connect(w, 0);
  await settled(ike);
  const f = failures(w);
  assert.equal(f.client?.code, "CONFIG");
  assert.match(f.client?.message ?? "", /no EAP secret for 'alice'/);
  assert.deepEqual(authRequestIds(w, w.clients[0]!.addr), [], "no IKE_AUTH request left");
});

test("EAP-MSCHAPv2 without a remote eap_id: no EAP-Identity, MSCHAPv2 runs as the IKE identity (as charon)", async () => {
  const w = await makeWorld({ secrets: { "client.example.org": "pw" } }, [{ id: "client.example.org", secret: "pw" }]);
  const ike = connect(w, 0);
  await settled(ike);
  assert.equal(ike.state, "ESTABLISHED", w.gateway.logs.join("\n"));
  assert.deepEqual(authRequestIds(w, w.clients[0]!.addr), [1, 2, 3, 4]);
  assert.doesNotMatch(w.gateway.logs.join("\n"), /EAP_IDENTITY/);
  assert.equal(formatIdentity(gatewaySa(w).eapIdentity!), "client.example.org");
  assert.deepEqual(ike.localVips, ["10.99.0.1"]);
});

test("EAP-MSCHAPv2: the gateway's eap_id must match the EAP identity", async () => {
  const w = await makeWorld({ eapId: "bob", secrets: { alice: "Passw0rd!", bob: "b" } }, [ALICE]);
  const ike = connect(w, 0);
  await settled(ike);
  await until(() => w.gateway.events.some((e) => e.type === "failed"));
  const f = failures(w);
  assert.match(f.gateway?.message ?? "", /EAP identity 'alice' does not match eap_id 'bob' of connection 'rw'/);
  assert.match(f.client?.message ?? "", /EAP_FAILURE/);
  assert.match(w.clients[0]!.logs.join("\n"), /received EAP_FAILURE, EAP authentication failed/);
});

type Protect = (exchange: number, response: boolean, messageId: number, payloads: Payload[]) => Uint8Array[];

/** Flips a bit of the AUTH over the MSK (method 2) that `ike` sends, before encryption. */
function tamperMskAuth(ike: IkeSa): void {
  const sa = ike as unknown as { protect: Protect };
  const orig = sa.protect.bind(ike);
  sa.protect = (x, response, id, ps) =>
    orig(
      x,
      response,
      id,
      ps.map((p) =>
        p.type === "AUTH" && p.method === 2 ? { ...p, data: p.data.map((b, i) => (i === 0 ? b ^ 1 : b)) } : p,
      ),
    );
}

test("EAP-MSCHAPv2: a gateway AUTH not made with the MSK is refused by the client", async () => {
  const w = await makeWorld({ eapId: "%any", secrets: { alice: "Passw0rd!" } }, [ALICE]);
  w.onResponder = tamperMskAuth;
  const ike = connect(w, 0);
  await settled(ike);
  const f = failures(w);
  assert.equal(f.client?.code, "AUTHENTICATION_FAILED", w.clients[0]!.logs.join("\n"));
  assert.match(f.client?.message ?? "", /verification of AUTH payload with EAP MSK failed/);
  assert.equal(ike.children.size, 0);
  // The client's AUTHENTICATION_FAILED notice ends the gateway's SA, and its lease with it.
  await until(() => w.gateway.events.some((e) => e.type === "failed"));
  assert.deepEqual(w.pool.inUse(), []);
  assert.deepEqual(w.pool.released, ["10.99.0.1 alice"]);
});

test("EAP-MSCHAPv2: a client AUTH not made with the MSK is refused by the gateway", async () => {
  const w = await makeWorld({ eapId: "%any", secrets: { alice: "Passw0rd!" } }, [ALICE]);
  const ike = connect(w, 0);
  tamperMskAuth(ike);
  await settled(ike);
  await until(() => w.gateway.events.some((e) => e.type === "failed"));
  const f = failures(w);
  assert.match(
    f.gateway?.message ?? "",
    /verification of AUTH payload with EAP MSK failed: the AUTH of 'client\.example\.org'/,
  );
  assert.equal(f.client?.code, "AUTHENTICATION_FAILED");
  assert.equal(f.client?.side, "remote");
  assert.deepEqual(w.pool.inUse(), []);
});

test("EAP-MSCHAPv2: a lost request of a middle round is retransmitted with its message ID, and the SA comes up", async () => {
  const w = await makeWorld({ eapId: "%any", secrets: { alice: "Passw0rd!" } }, [ALICE]);
  let dropped = 0;
  w.filter = (d) => {
    const h = decodeHeader(d.bytes);
    const isReq = h.ok && (h.value.flags & HeaderFlag.RESPONSE) === 0;
    if (h.ok && isReq && h.value.exchange === Exchange.IKE_AUTH && h.value.messageId === 3 && dropped === 0) {
      dropped++;
      return undefined;
    }
    return d.bytes;
  };
  const ike = connect(w, 0);
  await until(() => dropped > 0);
  assert.equal(ike.state, "CONNECTING");
  await w.clock.advance(4_100);
  await settled(ike);
  assert.equal(ike.state, "ESTABLISHED");
  assert.match(w.clients[0]!.logs.join("\n"), /retransmit 1 of request with message ID 3/);
  // every request ID once, with the same bytes when repeated
  const seen = new Map<number, string>();
  for (const d of w.wire) {
    const h = decodeHeader(d.bytes);
    if (!h.ok || d.from !== w.clients[0]!.addr || (h.value.flags & HeaderFlag.RESPONSE) !== 0) continue;
    const hexed = Buffer.from(d.bytes).toString("hex");
    const prev = seen.get(h.value.messageId);
    if (prev !== undefined) assert.equal(prev, hexed, `request ${h.value.messageId} repeated with other bytes`);
    seen.set(h.value.messageId, hexed);
  }
  assert.deepEqual([...seen.keys()], [0, 1, 2, 3, 4, 5]);
});

test("EAP-MSCHAPv2: a gateway that stops answering mid-EAP makes the client fail with PEER_UNREACHABLE", async () => {
  const w = await makeWorld({ eapId: "%any", secrets: { alice: "Passw0rd!" } }, [ALICE]);
  w.filter = (d) => {
    const h = decodeHeader(d.bytes);
    return h.ok && d.from === "198.18.0.2" && h.value.messageId >= 2 ? undefined : d.bytes;
  };
  const ike = connect(w, 0);
  await until(() => authRequestIds(w, w.clients[0]!.addr).includes(2));
  await w.clock.advance(200_000);
  const f = failures(w);
  assert.equal(f.client?.code, "PEER_UNREACHABLE");
  assert.match(f.client?.message ?? "", /no answer to IKE_AUTH/);
  assert.equal(ike.state, "DESTROYED");
});

/** Rewrites the EAP payloads `ike` sends (before encryption); `edit` returns the new EAP bytes. */
function editEap(ike: IkeSa, edit: (data: Uint8Array, n: number) => Uint8Array): void {
  const sa = ike as unknown as { protect: Protect };
  const orig = sa.protect.bind(ike);
  let n = 0;
  sa.protect = (x, response, id, ps) =>
    orig(
      x,
      response,
      id,
      ps.map((p) => (p.type === "EAP" ? { ...p, data: edit(p.data, n++) } : p)),
    );
}

test("EAP-MSCHAPv2: a gateway requesting another EAP method gets an EAP-Nak; both fail saying so", async () => {
  const w = await makeWorld({ eapId: "%any", secrets: { alice: "Passw0rd!" } }, [ALICE]);
  // the gateway's second EAP request (the MSCHAPv2 Challenge) becomes an EAP-MD5 request
  w.onResponder = (g) =>
    editEap(g, (d, n) => (n === 1 ? Uint8Array.from(d, (b, i) => (i === 4 ? EapType.MD5 : b)) : d));
  const ike = connect(w, 0);
  await settled(ike);
  await until(() => w.gateway.events.some((e) => e.type === "failed"));
  const f = failures(w);
  assert.match(f.client?.message ?? "", /the gateway requested EAP_MD5 authentication, we do EAP-MSCHAPv2 only/);
  assert.match(w.clients[0]!.logs.join("\n"), /requesting EAP_MSCHAPV2 authentication, sending EAP_NAK/);
  assert.match(w.clients[0]!.logs.join("\n"), /generating IKE_AUTH request 3 \[ EAP\/RES\/NAK \]/);
  assert.match(f.gateway?.message ?? "", /refused EAP_MSCHAPV2 with EAP_NAK/);
  assert.match(w.gateway.logs.join("\n"), /received EAP_NAK, sending EAP_FAILURE/);
});

const IKE_FUZZ = 20;

for (const dir of ["gateway to client", "client to gateway"] as const) {
  test(`fuzz: ${IKE_FUZZ} seeded mutations of the EAP messages ${dir} in IKE_AUTH: no crash, up or failed with a reason`, async () => {
    const rnd = seededRandom(dir === "gateway to client" ? 77 : 78);
    let failedRuns = 0;
    for (let run = 0; run < IKE_FUZZ; run++) {
      const w = await makeWorld({ eapId: "%any", secrets: { alice: "Passw0rd!" } }, [ALICE], run + 1);
      const target = run % 3;
      const edit = (d: Uint8Array, n: number): Uint8Array => (n === target ? mutateEap(rnd, d) : d);
      if (dir === "gateway to client") w.onResponder = (g) => editEap(g, edit);
      const ike = connect(w, 0);
      if (dir === "client to gateway") editEap(ike, edit);
      await settled(ike);
      await w.clock.advance(200_000);
      const logs = [...w.clients[0]!.logs, ...w.gateway.logs].join("\n");
      assert.doesNotMatch(logs, /internal error/, logs);
      const f = failures(w);
      if (ike.state === "ESTABLISHED") continue;
      failedRuns++;
      assert.ok(f.client, `run ${run}: the client failed with an error`);
      assert.notEqual(f.client.code, "INTERNAL");
      assert.ok(f.client.message.length > 20);
      if (f.gateway) assert.notEqual(f.gateway.code, "INTERNAL");
    }
    assert.ok(failedRuns >= IKE_FUZZ / 2, `most mutations make the SA fail (${failedRuns})`);
  });
}
