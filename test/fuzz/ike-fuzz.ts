// One entry point for the IKE fuzzers: record the scripted session of a seed, then the codec,
// the daemons (volume) and in-flight mutated sessions (depth).
import { Prng } from "./prng.ts";
import { recordSession } from "./ike-session.ts";
import { fuzzCodec, type CodecFuzzStats } from "./ike-codec-fuzz.ts";
import { fuzzDaemons, fuzzSessions, type DaemonFuzzStats } from "./ike-daemon-fuzz.ts";
import { fuzzAuthenticated } from "./ike-sk-fuzz.ts";

/** Sizes of an IKE fuzz run. */
export interface IkeFuzzOptions {
  seed: number;
  /** Codec inputs (decodeMessage / decodePayloads calls), at least. */
  codec: number;
  /** Mutated datagrams fed to daemons holding the recorded IKE SA. */
  daemon: number;
  /** Sessions with datagrams mutated in flight, and as many again with authenticated mutants. */
  sessions: number;
}

/** Counts and violations of an IKE fuzz run. */
export interface IkeFuzzResult {
  corpus: number;
  codec: CodecFuzzStats;
  daemon: DaemonFuzzStats;
  violations: string[];
}

/** Runs the three IKE fuzzers in turn; stops at the first that reports a violation. */
export async function fuzzIke(o: IkeFuzzOptions): Promise<IkeFuzzResult> {
  const rng = new Prng(o.seed);
  const sessionSeed = (o.seed % 1000) + 1;
  const corpus = await recordSession(sessionSeed);
  const codec: CodecFuzzStats = { inputs: 0, ok: 0, errors: {}, byInput: {}, roundTrips: 0 };
  const daemon: DaemonFuzzStats = {
    messages: 0,
    victims: 0,
    sessions: 0,
    sessionsUp: 0,
    sessionsFailed: {},
    cleanSessions: 0,
    authenticated: 0,
    byOp: {},
  };
  const result: IkeFuzzResult = { corpus: corpus.length, codec, daemon, violations: [] };
  // fuzzCodec counts an iteration as 1..4 inputs; run until the requested number of inputs.
  while (codec.inputs < o.codec && !result.violations.length) {
    result.violations.push(
      ...fuzzCodec(
        rng,
        corpus.map((m) => m.bytes),
        Math.min(10_000, o.codec - codec.inputs),
        codec,
      ),
    );
  }
  if (!result.violations.length)
    result.violations.push(...(await fuzzDaemons(rng, sessionSeed, corpus, o.daemon, daemon)));
  if (!result.violations.length) result.violations.push(...(await fuzzSessions(rng, o.sessions, daemon)));
  if (!result.violations.length) result.violations.push(...(await fuzzAuthenticated(rng, o.sessions, daemon)));
  return result;
}
