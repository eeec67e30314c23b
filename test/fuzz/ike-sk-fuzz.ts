// Authenticated mutants: with the IKE SA's keys in hand (IkeSa.keys on the initiator), encrypted
// datagrams of a live session are opened, their inner payloads mutated (bytes or whole payloads,
// plus header fields), and sealed again with valid integrity, so that the mutants pass the SK
// check and reach the exchange handlers of IKE_AUTH, CREATE_CHILD_SA and INFORMATIONAL.
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { decodeMessage, decodePayloads, encodePayloads } from "../../sdk/ike/codec.ts";
import { IkeError } from "../../sdk/ike/errors.ts";
import { HeaderFlag, type IkeHeader, type Payload } from "../../sdk/ike/message.ts";
import { SkCipher } from "../../sdk/ike/sk.ts";
import type { Pair } from "../helpers/ike-pair.ts";
import { equalBytes, BYTE_MUTATIONS, mutateBytes } from "./mutate.ts";
import { randomPayload } from "./ike-gen.ts";
import type { Prng } from "./prng.ts";
import { CrashWatch, PairWatch, cleanSession, type DaemonFuzzStats } from "./ike-daemon-fuzz.ts";
import { establish, exerciseExchanges, recordingPair } from "./ike-session.ts";

const INNER_OPS = [
  "inner-bytes",
  "inner-drop",
  "inner-dup",
  "inner-insert",
  "inner-replace",
  "inner-swap",
  "inner-critical",
  "inner-empty",
  "msgid",
  "exchange",
  "response-flag",
] as const;

/** Keys of the IKE SA a datagram belongs to, for the direction it travels. */
function cipherFor(p: Pair, cc: ControlCrypto, rng: Prng, h: IkeHeader): SkCipher | undefined {
  for (const ike of new Set(p.a.sas.values())) {
    const k = ike.keys;
    if (!k || !equalBytes(ike.spiI, h.spiI) || !equalBytes(ike.spiR, h.spiR)) continue;
    const fromInitiator = (h.flags & HeaderFlag.INITIATOR) !== 0;
    return new SkCipher(
      cc,
      k.encrId,
      fromInitiator ? k.skEi : k.skEr,
      k.integId,
      fromInitiator ? k.skAi : k.skAr,
      (n) => rng.bytes(n),
    );
  }
  return undefined;
}

/** The inner payload chain after one mutation; header fields may change too. */
function mutateInner(
  rng: Prng,
  op: (typeof INNER_OPS)[number],
  header: IkeHeader,
  innerType: number,
  plain: Uint8Array,
): { header: IkeHeader; innerType: number; plain: Uint8Array } {
  const chain = (ps: Payload[]): { header: IkeHeader; innerType: number; plain: Uint8Array } => {
    const e = encodePayloads(ps);
    return { header, innerType: e.firstType, plain: e.bytes };
  };
  if (op === "inner-bytes")
    return {
      header,
      innerType: rng.chance(0.1) ? rng.int(256) : innerType,
      plain: mutateBytes(rng, plain, rng.pick(BYTE_MUTATIONS)),
    };
  if (op === "inner-empty") return { header, innerType: 0, plain: new Uint8Array(0) };
  if (op === "msgid")
    return { header: { ...header, messageId: (header.messageId + rng.range(-2, 2)) >>> 0 }, innerType, plain };
  if (op === "exchange") return { header: { ...header, exchange: rng.pick([34, 35, 36, 37, 38]) }, innerType, plain };
  if (op === "response-flag")
    return { header: { ...header, flags: header.flags ^ HeaderFlag.RESPONSE }, innerType, plain };
  const d = decodePayloads(plain, innerType);
  const ps = d.ok ? d.value.slice() : [];
  const at = rng.int(Math.max(ps.length, 1));
  switch (op) {
    case "inner-drop":
      ps.splice(at, 1);
      break;
    case "inner-dup":
      if (ps.length) ps.splice(at, 0, ps[at]!);
      break;
    case "inner-insert":
      ps.splice(rng.int(ps.length + 1), 0, randomPayload(rng));
      break;
    case "inner-replace":
      ps[at] = randomPayload(rng);
      break;
    case "inner-swap": {
      const b = rng.int(Math.max(ps.length, 1));
      if (ps.length) [ps[at], ps[b]] = [ps[b]!, ps[at]!];
      break;
    }
    case "inner-critical":
      ps.splice(
        at,
        0,
        rng.chance(0.5)
          ? { type: "UNKNOWN", critical: true, payloadType: rng.pick([1, 49, 200]), data: rng.bytes(rng.int(16)) }
          : { ...randomPayload(rng), critical: true },
      );
      break;
  }
  return chain(ps);
}

/**
 * `n` sessions whose encrypted datagrams (1..4 of them, chosen at random) are replaced by
 * authenticated mutants. Each session comes up or fails with an IkeError, with no crash and no
 * internal error; a clean session follows each.
 */
export async function fuzzAuthenticated(rng: Prng, n: number, stats: DaemonFuzzStats): Promise<string[]> {
  const cc = await ControlCrypto.create();
  const crashes = new CrashWatch();
  const out: string[] = [];
  try {
    for (let s = 0; s < n && out.length === 0; s++) {
      const seed = rng.u32();
      const { p } = await recordingPair(seed);
      const watch = new PairWatch(p);
      let budget = rng.range(1, 4);
      const ops: string[] = [];
      p.filter = (d) => {
        if (d.esp || budget === 0 || !rng.chance(0.35)) return true;
        const m = decodeMessage(d.bytes);
        if (!m.ok) return true;
        const sk = m.value.payloads[m.value.payloads.length - 1];
        if (sk?.type !== "SK") return true;
        const cipher = cipherFor(p, cc, rng, m.value.header);
        const opened = cipher?.open(d.bytes, sk.body.length);
        if (!cipher || !opened?.ok) return true;
        const op = rng.pick(INNER_OPS);
        const x = mutateInner(rng, op, m.value.header, sk.innerType, opened.plaintext);
        let sealed: Uint8Array;
        try {
          sealed = cipher.seal(x.header, x.innerType, x.plain);
        } catch {
          return true; // a payload too long to encode: not a message
        }
        budget--;
        ops.push(op);
        stats.byOp[op] = (stats.byOp[op] ?? 0) + 1;
        stats.messages++;
        stats.authenticated++;
        const peer = d.to.address === "198.18.0.1" ? p.a : p.b;
        setImmediate(() => peer.receiveIke(sealed, d.to, d.from));
        return rng.chance(0.3); // mostly replacing the original (retransmits recover), sometimes beside it
      };
      stats.sessions++;
      const r = await establish(p);
      if (r.ike) {
        stats.sessionsUp++;
        await exerciseExchanges(p, r.ike).catch((e: unknown) => {
          if (!(e instanceof IkeError)) out.push(`session ${seed}: exchanges rejected with ${String(e)}`);
        });
      } else if (!(r.error instanceof IkeError))
        out.push(`session ${seed}: failed with ${String(r.error)}, not an IkeError`);
      else stats.sessionsFailed[r.error.code] = (stats.sessionsFailed[r.error.code] ?? 0) + 1;
      await p.clock.advance(200_000);
      out.push(...watch.check(), ...crashes.crashes.splice(0));
      if (out.length === 0) out.push(...(await cleanSession(p, stats)));
      if (out.length) out.push(`(authenticated-mutant session seed ${seed}, ops ${ops.join(", ")})`);
      watch.close();
      p.a.close();
      p.b.close();
    }
  } finally {
    crashes.close();
  }
  return out;
}
