// The EAP state machines without IKE around them: EAP-MSCHAPv2 peer and server (sdk/ike/eap/) and
// the IKE glue's EAP client and gateway (sdk/ike/tasks/eap-*.ts) on a stub IKE SA. Checks the
// conversation, strongSwan's retry rule, the EAP-Nak, key wiping, and that seeded mutations of
// every EAP message never throw and always end in a reply or a failure with a reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { HashAlg } from "../../sdk/dataplane/suites.ts";
import type { IkeSa } from "../../sdk/ike/ike-sa.ts";
import { parseIdentity, type IkeIdentity } from "../../sdk/ike/identity.ts";
import { decodeEap, EapCode, EapType, encodeEap, eapNak } from "../../sdk/ike/eap/eap.ts";
import { MschapV2Peer } from "../../sdk/ike/eap/mschapv2-peer.ts";
import { MschapV2Server } from "../../sdk/ike/eap/mschapv2-server.ts";
import { decodeMschapv2, MsOpcode } from "../../sdk/ike/eap/mschapv2-packet.ts";
import { ntHashFromUtf8 } from "../../sdk/ike/eap/nt-hash.ts";
import { ntPasswordHash } from "../../sdk/ike/eap/mschapv2.ts";
import { EapClient, type EapClientStep } from "../../sdk/ike/tasks/eap-client.ts";
import { EapGateway, type EapGatewayStep } from "../../sdk/ike/tasks/eap-gateway.ts";
import { seededRandom } from "../helpers/ike-pair.ts";
import { mutateEap as mutate } from "../helpers/ike-rw.ts";

const cc = await ControlCrypto.create();
const sha1 = (d: Uint8Array): Uint8Array => cc.hash(HashAlg.Sha1, d);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const id = (s: string): IkeIdentity => parseIdentity(s) as IkeIdentity;

test("NT hash from UTF-8 bytes equals RFC 2759's from the string, non-ASCII included", () => {
  for (const pw of ["clientPass", "Pässwörd €", "emoji 😀 pw", ""])
    assert.deepEqual(ntHashFromUtf8(utf8(pw)), ntPasswordHash(pw), pw);
});

function pair(peerPw: string, serverPw: string | undefined, seed = 3) {
  const random = seededRandom(seed);
  const logs: string[] = [];
  const server = new MschapV2Server({
    sha1,
    random,
    describe: (n) => new TextDecoder().decode(n),
    log: (m) => logs.push(m),
    ntHashFor: () => (serverPw === undefined ? { error: "no secret" } : { hash: ntHashFromUtf8(utf8(serverPw)) }),
  });
  const ntHash = ntHashFromUtf8(utf8(peerPw));
  const peer = new MschapV2Peer({ sha1, random, name: utf8("EXAMPLE\\alice"), ntHash });
  return { server, peer, logs, ntHash };
}

function reply(step: { kind: string; packet?: Uint8Array }): Uint8Array {
  assert.equal(step.kind, "reply", JSON.stringify(step));
  return step.packet!;
}

const body = (pkt: Uint8Array): { id: number; data: Uint8Array } => {
  const d = decodeEap(pkt);
  assert.ok(d.ok);
  return { id: d.packet.identifier, data: d.packet.data };
};

test("MSCHAPv2 peer and server: success, the same MSK on both sides, NT hash and MSK wiped", () => {
  const { server, peer, ntHash } = pair("secret", "secret");
  const ch = body(server.initiate());
  const resp = body(reply(peer.process(ch.id, ch.data)));
  assert.ok(
    ntHash.every((b) => b === 0),
    "the peer wipes the NT hash once the Response is computed",
  );
  const succ = server.process(resp.id, resp.data);
  const s = body(reply(succ));
  const text = new TextDecoder().decode(s.data.subarray(4));
  assert.match(text, /^S=[0-9A-F]{40} M=Welcome2strongSwan\0$/);
  const ack = body(reply(peer.process(s.id, s.data)));
  const done = server.process(ack.id, ack.data);
  assert.equal(done.kind, "success");
  const a = peer.msk!,
    b = server.msk!;
  assert.equal(a.length, 64);
  assert.deepEqual(a, b);
  assert.ok(a.subarray(0, 32).some((x) => x !== 0));
  assert.ok(
    a.subarray(32).every((x) => x === 0),
    "strongSwan's MSK ends in 32 zero bytes",
  );
  peer.wipe();
  server.wipe();
  assert.ok(a.every((x) => x === 0) && b.every((x) => x === 0));
});

test("MSCHAPv2 server: a wrong password gets 'E=691 R=1 C=...' twice, then the method fails (strongSwan's MAX_RETRIES)", () => {
  const { server, logs } = pair("wrong", "secret");
  let ch = body(server.initiate());
  const ids: number[] = [ch.id];
  for (let round = 1; round <= 3; round++) {
    const p = new MschapV2Peer({
      sha1,
      random: seededRandom(round),
      name: utf8("alice"),
      ntHash: ntHashFromUtf8(utf8("wrong")),
    });
    const r = body(reply(p.process(ch.id, ch.data)));
    const step = server.process(r.id, r.data);
    if (round === 3) {
      assert.equal(step.kind, "failed");
      assert.match(
        step.kind === "failed" ? step.reason : "",
        /the password \(NT-Response\) does not match the EAP secret for 'alice'/,
      );
      break;
    }
    const f = body(reply(step));
    const m = decodeMschapv2(f.data);
    assert.ok(m.ok && m.msg.opcode === MsOpcode.FAILURE && !("short" in m.msg));
    assert.match(m.msg.text, /^E=691 R=1 C=[0-9A-F]{32}$/);
    // the peer gives up on a Failure, as strongSwan's does
    const peerStep = p.process(f.id, f.data);
    assert.equal(peerStep.kind, "failed");
    assert.deepEqual(peerStep.kind === "failed" ? peerStep.rejected : undefined, { error: 691, text: "" });
    // a retrying peer answers the new challenge: C= is it
    const c = Buffer.from(m.msg.text.slice(12), "hex");
    ch = { id: f.id, data: Uint8Array.from([MsOpcode.CHALLENGE, 0, 0, 26, 16, ...c, ...utf8("strongSwan")]) };
    ids.push(f.id);
  }
  assert.deepEqual(
    ids,
    [ids[0], (ids[0]! + 1) & 255, (ids[0]! + 2) & 255],
    "each Failure request takes the next identifier",
  );
  assert.deepEqual(
    logs.filter((l) => /retry|maximum/.test(l)),
    [
      "EAP-MS-CHAPv2 verification failed, retry (1)",
      "EAP-MS-CHAPv2 verification failed, retry (2)",
      "EAP-MS-CHAPv2 verification failed: maximum number of retries reached",
    ],
  );
});

test("MSCHAPv2 peer: a Success request whose S= does not match is refused", () => {
  const { server, peer } = pair("secret", "secret");
  const ch = body(server.initiate());
  const resp = body(reply(peer.process(ch.id, ch.data)));
  const s = body(reply(server.process(resp.id, resp.data)));
  const forged = s.data.slice();
  forged[6] = forged[6] === 0x41 ? 0x42 : 0x41; // a hex digit of S=
  const step = peer.process(s.id, forged);
  assert.equal(step.kind, "failed");
  assert.match(step.kind === "failed" ? step.reason : "", /does not prove that it knows our password/);
  assert.equal(peer.msk, undefined);
});

// ---- the IKE glue on a stub IKE SA

interface Stub {
  ike: IkeSa;
  logs: string[];
}

function stub(opts: {
  local: string;
  remote: string;
  localEapId?: string;
  remoteEapId?: string;
  secrets: Record<string, string>;
  seed: number;
}): Stub {
  const logs: string[] = [];
  const random = seededRandom(opts.seed);
  const ike = {
    localId: id(opts.local),
    remoteId: id(opts.remote),
    conn: {
      name: "rw",
      local: { auth: "eap-mschapv2", id: id(opts.local), eapId: opts.localEapId ? id(opts.localEapId) : undefined },
      remote: {
        auth: "eap-mschapv2",
        id: "any",
        eapId: opts.remoteEapId === undefined ? undefined : parseIdentity(opts.remoteEapId),
      },
    },
    host: {
      crypto: cc,
      random,
      findEapSecret: (i: IkeIdentity) => {
        const s = opts.secrets[new TextDecoder().decode(i.data)];
        return s === undefined ? undefined : utf8(s);
      },
    },
    log: (_s: string, _l: number, m: string) => logs.push(m),
    fmtId: (i: IkeIdentity | "any" | undefined) =>
      i === undefined || i === "any" ? "%any" : new TextDecoder().decode(i.data),
  };
  return { ike: ike as unknown as IkeSa, logs };
}

const clientStub = (seed = 1): Stub =>
  stub({
    local: "client.example.org",
    remote: "swan.example.org",
    localEapId: "alice",
    secrets: { alice: "pw" },
    seed,
  });
const gatewayStub = (seed = 2): Stub =>
  stub({
    local: "swan.example.org",
    remote: "client.example.org",
    remoteEapId: "%any",
    secrets: { alice: "pw" },
    seed,
  });

/** A whole conversation; returns every message each side received, in order. */
function conversation(): { toClient: Uint8Array[]; toGateway: Uint8Array[] } {
  const c = new EapClient(clientStub().ike);
  const g = new EapGateway(gatewayStub().ike);
  const toClient = [g.start()];
  const toGateway: Uint8Array[] = [];
  for (;;) {
    const cs = c.process(toClient.at(-1)!);
    if (cs.kind !== "reply") {
      assert.equal(cs.kind, "success");
      break;
    }
    toGateway.push(cs.data);
    const gs = g.process(cs.data);
    assert.notEqual(gs.kind, "failed", JSON.stringify(gs));
    toClient.push(gs.data);
  }
  assert.ok(c.msk && g.msk);
  assert.deepEqual(c.msk, g.msk);
  return { toClient, toGateway };
}

test("EAP glue: Identity, Challenge/Response, Success/ack, EAP-Success; both sides hold the same MSK", () => {
  const { toClient, toGateway } = conversation();
  const summary = (b: Uint8Array) => {
    const d = decodeEap(b);
    return d.ok ? `${d.packet.code}/${d.packet.type ?? "-"}` : "bad";
  };
  assert.deepEqual(toClient.map(summary), ["1/1", "1/26", "1/26", "3/-"]);
  assert.deepEqual(toGateway.map(summary), ["2/1", "2/26", "2/26"]);
});

test("EAP glue: a gateway asking for EAP-MD5 gets an EAP-Nak for MSCHAPv2; the EAP-Failure after it names both", () => {
  const s = clientStub();
  const c = new EapClient(s.ike);
  const md5 = encodeEap({
    code: EapCode.REQUEST,
    identifier: 7,
    type: EapType.MD5,
    data: Uint8Array.of(16, ...new Uint8Array(16)),
  });
  const nak = c.process(md5);
  assert.equal(nak.kind, "reply");
  assert.deepEqual(nak.kind === "reply" ? nak.data : undefined, eapNak(7, [EapType.MSCHAPV2]));
  assert.ok(s.logs.includes("requesting EAP_MSCHAPV2 authentication, sending EAP_NAK"));
  const end = c.process(encodeEap({ code: EapCode.FAILURE, identifier: 7, data: new Uint8Array(0) }));
  assert.equal(end.kind, "failed");
  assert.match(
    end.kind === "failed" ? end.error.message : "",
    /requested EAP_MD5 authentication, we do EAP-MSCHAPv2 only/,
  );
});

test("EAP glue: a client answering the Challenge with an EAP-Nak gets EAP-Failure and a reason", () => {
  const g = new EapGateway(gatewayStub().ike);
  g.start();
  const { toGateway } = conversation();
  assert.equal(g.process(toGateway[0]!).kind, "reply"); // identity -> challenge
  const d = decodeEap(toGateway[1]!);
  assert.ok(d.ok);
  const step = g.process(eapNak(d.packet.identifier, [EapType.MD5]));
  assert.equal(step.kind, "failed");
  assert.match(step.kind === "failed" ? step.reason : "", /refused EAP_MSCHAPV2 with EAP_NAK \(it asks for EAP_MD5\)/);
  const f = decodeEap(step.data);
  assert.ok(f.ok && f.packet.code === EapCode.FAILURE);
});

// ---- fuzz

function checkClientStep(s: EapClientStep): void {
  assert.ok(s.kind === "reply" || s.kind === "success" || s.kind === "failed");
  if (s.kind === "failed") {
    assert.ok(s.error.message.length > 10);
    assert.notEqual(s.error.code, "INTERNAL");
  }
  if (s.kind === "reply") assert.ok(decodeEap(s.data).ok, "our replies are valid EAP");
}

function checkGatewayStep(s: EapGatewayStep): void {
  assert.ok(s.kind === "reply" || s.kind === "success" || s.kind === "failed");
  assert.ok(decodeEap(s.data).ok, "what we send is valid EAP");
  if (s.kind === "failed") assert.ok(s.reason.length > 10);
}

const ROUNDS = 300;

test(`fuzz: ${ROUNDS} seeded mutations of each EAP message to the client never throw, and end in a reply or a reason`, () => {
  const { toClient } = conversation();
  const rnd = seededRandom(0xeac1);
  let failed = 0;
  for (const [k, valid] of toClient.entries()) {
    for (let i = 0; i < ROUNDS; i++) {
      const c = new EapClient(clientStub().ike);
      for (const earlier of toClient.slice(0, k)) assert.equal(c.process(earlier).kind, "reply");
      const s = c.process(mutate(rnd, valid));
      checkClientStep(s);
      if (s.kind === "failed") failed++;
    }
  }
  assert.ok(failed > ROUNDS, `mutations were refused (${failed})`);
});

test(`fuzz: ${ROUNDS} seeded mutations of each EAP message to the gateway never throw, and end in a reply or a reason`, () => {
  const { toGateway } = conversation();
  const rnd = seededRandom(0xeac2);
  let failed = 0;
  for (const [k, valid] of toGateway.entries()) {
    for (let i = 0; i < ROUNDS; i++) {
      const g = new EapGateway(gatewayStub().ike);
      g.start();
      for (const earlier of toGateway.slice(0, k)) assert.equal(g.process(earlier).kind, "reply");
      const s = g.process(mutate(rnd, valid));
      checkGatewayStep(s);
      if (s.kind === "failed") failed++;
    }
  }
  assert.ok(failed > ROUNDS, `mutations were refused (${failed})`);
});
