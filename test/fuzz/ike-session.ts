// One scripted IKEv2 session between two in-memory daemons (test/helpers/ike-pair.ts) that runs
// every exchange the daemon speaks: IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA (new child, child
// rekey, IKE rekey), INFORMATIONAL (DPD both ways, DELETE). Recorded, it is the fuzzers' corpus.
import { makePair, settle, type Pair, type PeerOptions } from "../helpers/ike-pair.ts";
import type { Endpoint, IkeSa } from "../../sdk/ike/ike-sa.ts";

/** The initiator ("a") and responder ("b") of every fuzz session. */
export const PEER_A: PeerOptions = {
  addr: "198.18.0.1",
  remoteAddr: "198.18.0.2",
  id: "client.example.org",
  remoteId: "swan.example.org",
  localTs: "198.51.100.1/32",
  remoteTs: "203.0.113.0/24",
};
export const PEER_B: PeerOptions = {
  addr: "198.18.0.2",
  remoteAddr: "198.18.0.1",
  id: "swan.example.org",
  remoteId: "client.example.org",
  localTs: "203.0.113.0/24",
  remoteTs: "198.51.100.0/24",
};

/** One IKE datagram as it crossed the wire. */
export interface WireMessage {
  /** Sender: the initiator a or the responder b. */
  from: "a" | "b";
  src: Endpoint;
  dst: Endpoint;
  bytes: Uint8Array;
}

/** A pair whose IKE datagrams are all recorded (ESP passes untouched). */
export async function recordingPair(seed: number): Promise<{ p: Pair; wire: WireMessage[] }> {
  const p = await makePair(PEER_A, PEER_B, { seed });
  const wire: WireMessage[] = [];
  p.filter = (d) => {
    if (!d.esp)
      wire.push({ from: d.from.address === PEER_A.addr ? "a" : "b", src: d.from, dst: d.to, bytes: d.bytes.slice() });
    return true;
  };
  return { p, wire };
}

/** Initiates from a; resolves with a's IKE SA, or undefined with the reason it failed. */
export async function establish(p: Pair): Promise<{ ike?: IkeSa; error?: unknown }> {
  const r = p.a.initiate("peer").then(
    (x) => ({ ike: x.ike }),
    (error: unknown) => ({ error }),
  );
  await settle();
  return (
    (await untilSettled(p, r)) ?? {
      error: new Error("initiate neither resolved nor rejected within 300 s of virtual time"),
    }
  );
}

/**
 * Waits for a promise while the virtual clock runs (retransmits are timers): undefined when it is
 * still pending after 300 s of virtual time.
 */
export async function untilSettled<T>(p: Pair, r: Promise<T>): Promise<T | undefined> {
  let result: { v: T } | undefined;
  void r.then(
    (v) => {
      result = { v };
    },
    () => undefined,
  );
  for (let i = 0; i < 30 && !result; i++) {
    await settle();
    if (!result) await p.clock.advance(10_000);
  }
  return result?.v;
}

/** The rest of the script on an established pair: every other exchange, then DELETE. */
export async function exerciseExchanges(p: Pair, ike: IkeSa): Promise<void> {
  const first = [...ike.children.values()][0];
  if (first) {
    ike.createChild(first.template);
    await settle();
    ike.rekeyChild(first);
    await settle();
  }
  ike.checkLiveness();
  await settle();
  for (const b of new Set(p.b.sas.values())) b.checkLiveness();
  await settle();
  ike.rekeyIke();
  await settle();
  await p.clock.advance(1_000);
  await untilSettled(p, p.a.terminateAll());
}

/** Records the whole scripted session of this seed. */
export async function recordSession(seed: number): Promise<WireMessage[]> {
  const { p, wire } = await recordingPair(seed);
  const { ike, error } = await establish(p);
  if (!ike) throw new Error(`the unmutated session of seed ${seed} failed: ${String(error)}`);
  await exerciseExchanges(p, ike);
  p.a.close();
  p.b.close();
  return wire;
}
