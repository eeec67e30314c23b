// IKE without a dataplane: two IkeSa objects wired back to back, each on a fake ChildBackend that
// records what IKE asks of it. Proves the IKE layer needs nothing of the dataplane but the
// backend interface, and pins down the order of install / activate / remove in a rekey.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  IkeSa,
  type IkeSaHost,
  type IkeEvent,
  type ChildSa,
  type ChildBackend,
  type Endpoint,
} from "../../sdk/ike/ike-sa.ts";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { decodeMessage } from "../../sdk/ike/codec.ts";
import { connection, VirtualClock, settle, seededRandom } from "../helpers/ike-pair.ts";

class FakeBackend implements ChildBackend {
  calls: string[] = [];
  #spi = 0x1000;
  allocateSpi(): number {
    return this.#spi++;
  }
  installChild(child: ChildSa, keys: { encIn: Uint8Array; encOut: Uint8Array }, outbound: boolean): void {
    assert.ok(
      keys.encIn.some((b) => b !== 0) && keys.encOut.some((b) => b !== 0),
      "keys handed over before they are wiped",
    );
    this.calls.push(`install ${child.spiIn.toString(16)} out=${outbound}`);
  }
  activateOutbound(child: ChildSa): void {
    this.calls.push(`activate ${child.spiIn.toString(16)}`);
  }
  removeChild(child: ChildSa): void {
    this.calls.push(`remove ${child.spiIn.toString(16)}`);
  }
}

test("IKE on a fake backend: establish, child rekey both ways, delete; the backend sees each step in order", async () => {
  const clock = new VirtualClock();
  const crypto = await ControlCrypto.create();
  const events: string[] = [];
  const sas: Record<string, IkeSa> = {};
  const backends = { a: new FakeBackend(), b: new FakeBackend() };
  const ep = { a: { address: "198.18.0.1", port: 500 }, b: { address: "198.18.0.2", port: 500 } };
  const host = (me: "a" | "b"): IkeSaHost => ({
    crypto,
    now: () => clock.now(),
    setTimer: (ms, fn) => clock.setTimer(ms, fn),
    clearTimer: (t) => clock.clearTimer(t),
    random: seededRandom(me === "a" ? 5 : 6),
    log: () => undefined,
    backend: backends[me],
    natPort: () => 4500,
    lastHeard: () => clock.now(),
    register: () => undefined,
    event: (e: IkeEvent) => events.push(`${me}:${e.type}`),
    send: (bytes: Uint8Array, _l: Endpoint, remote: Endpoint) => {
      const peer = me === "a" ? "b" : "a";
      setImmediate(() => {
        if (!sas[peer]) {
          const msg = decodeMessage(bytes);
          assert.ok(msg.ok);
          sas[peer] = new IkeSa(host(peer), connB, remote, ep[me], false, msg.value.header.spiI.slice());
          sas[peer].respondInit(bytes, msg.value);
          return;
        }
        void sas[peer].receive(bytes, remote, ep[me]);
      });
    },
  });
  const connA = {
    ...connection({
      addr: "198.18.0.1",
      remoteAddr: "198.18.0.2",
      id: "a.example.org",
      localTs: "198.51.100.1/32",
      remoteTs: "203.0.113.0/24",
    }),
    encap: false,
  };
  const connB = {
    ...connection({
      addr: "198.18.0.2",
      remoteAddr: "198.18.0.1",
      id: "b.example.org",
      localTs: "203.0.113.0/24",
      remoteTs: "198.51.100.0/24",
    }),
    encap: false,
  };
  sas.a = new IkeSa(host("a"), connA, ep.a, ep.b, true);
  sas.a.initiate(connA.children[0]);
  await settle();
  assert.equal(sas.a.state, "ESTABLISHED");
  assert.equal(sas.b!.state, "ESTABLISHED");
  assert.deepEqual(backends.a.calls, ["install 1000 out=true"]);
  assert.deepEqual(backends.b.calls, ["install 1000 out=true"]);

  // Initiator A rekeys: A installs the new pair with outbound, deletes the old; B installs without
  // outbound and switches when the DELETE arrives.
  sas.a.rekeyChild([...sas.a.children.values()][0]!);
  await settle();
  assert.deepEqual(backends.a.calls.slice(1), ["install 1001 out=true", "remove 1000"]);
  assert.deepEqual(backends.b.calls.slice(1), ["install 1001 out=false", "activate 1001", "remove 1000"]);

  // Responder B rekeys the new pair: the same, mirrored.
  sas.b!.rekeyChild([...sas.b!.children.values()][0]!);
  await settle();
  assert.deepEqual(backends.b.calls.slice(4), ["install 1002 out=true", "remove 1001"]);
  assert.deepEqual(backends.a.calls.slice(3), ["install 1002 out=false", "activate 1002", "remove 1001"]);

  await sas.a.delete();
  await settle();
  assert.equal(backends.a.calls.at(-1), "remove 1002");
  assert.equal(backends.b.calls.at(-1), "remove 1002");
  assert.deepEqual(events.filter((e) => e.endsWith("deleted")).sort(), ["a:deleted", "b:deleted"]);
});
