// The IKEv2 codec fuzzer (sdk/ike/codec.ts): random bytes, random headers, truncations and
// mutations of a recorded session's messages, and random well-formed payload chains (encoded,
// then mutated) must decode to a value or to a structured error, never throw.
import {
  decodeHeader,
  decodeMessage,
  decodePayloads,
  encodeHeader,
  encodePayloads,
  IKE_HEADER_LENGTH,
} from "../../sdk/ike/codec.ts";
import type { IkeParseErrorCode, ParseResult } from "../../sdk/ike/message.ts";
import type { Prng } from "./prng.ts";
import { BYTE_MUTATIONS, mutateBytes } from "./mutate.ts";
import { randomPayloads } from "./ike-gen.ts";

const CODES: ReadonlySet<IkeParseErrorCode> = new Set<IkeParseErrorCode>([
  "TOO_SHORT",
  "BAD_LENGTH",
  "UNSUPPORTED_VERSION",
  "BAD_PAYLOAD_LENGTH",
  "BAD_PAYLOAD",
  "TRAILING_BYTES",
  "UNSUPPORTED_CRITICAL_PAYLOAD",
]);

/** Counts of one codec run. */
export interface CodecFuzzStats {
  inputs: number;
  ok: number;
  errors: Record<string, number>;
  byInput: Record<string, number>;
  /** Well-formed payload chains that decoded back to the same payload types. */
  roundTrips: number;
}

/** Why a result broke the contract, or undefined. */
function badResult<T>(r: ParseResult<T>): string | undefined {
  if (r.ok === true) return r.value === undefined ? "ok without a value" : undefined;
  if (r.ok !== false) return "neither ok nor an error";
  const e = r.error;
  if (!CODES.has(e.code)) return `unknown error code ${String(e.code)}`;
  if (typeof e.message !== "string" || e.message.length === 0) return "error without a message";
  if (!Number.isInteger(e.offset) || e.offset < 0) return `bad error offset ${e.offset}`;
  return undefined;
}

/** Fuzzes the codec with `n` inputs; returns the first violations found (empty: none). */
export function fuzzCodec(rng: Prng, corpus: readonly Uint8Array[], n: number, stats: CodecFuzzStats): string[] {
  const out: string[] = [];
  const note = (kind: string): void => {
    stats.byInput[kind] = (stats.byInput[kind] ?? 0) + 1;
  };
  const decode = (kind: string, input: Uint8Array, firstType?: number): ParseResult<unknown> | undefined => {
    stats.inputs++;
    note(kind);
    try {
      const r: ParseResult<unknown> = firstType === undefined ? decodeMessage(input) : decodePayloads(input, firstType);
      const bad = badResult(r);
      if (bad) out.push(`${kind}: ${bad} for ${Buffer.from(input).toString("hex")}`);
      if (r.ok) stats.ok++;
      else stats.errors[r.error.code] = (stats.errors[r.error.code] ?? 0) + 1;
      if (firstType === undefined) {
        const h = decodeHeader(input);
        const bad2 = badResult(h);
        if (bad2) out.push(`${kind}: decodeHeader: ${bad2}`);
      }
      return r;
    } catch (e) {
      out.push(`${kind}: threw ${(e as Error).stack ?? String(e)} for ${Buffer.from(input).toString("hex")}`);
      return undefined;
    }
  };
  for (let i = 0; i < n && out.length < 5; i++) {
    const r = rng.int(100);
    if (r < 8) decode("random-bytes", rng.bytes(rng.int(rng.chance(0.5) ? 40 : 600)));
    else if (r < 16) {
      // A valid header with a random body: the payload walker gets random chains.
      const body = rng.bytes(rng.int(300));
      const hdr = encodeHeader(
        {
          spiI: rng.bytes(8),
          spiR: rng.bytes(8),
          majorVersion: 2,
          minorVersion: 0,
          exchange: rng.range(33, 38),
          flags: rng.int(256),
          messageId: rng.u32(),
        },
        rng.pick([0, 33, 34, 35, 40, 41, 46, 53, rng.int(256)]),
        IKE_HEADER_LENGTH + body.length,
      );
      decode("random-body", concat(hdr, body));
    } else if (r < 26 && corpus.length) {
      const m = rng.pick(corpus);
      decode("truncated", m.subarray(0, rng.int(m.length)));
    } else if (r < 60 && corpus.length) {
      const m = rng.pick(corpus);
      let x = mutateBytes(rng, m, rng.pick(BYTE_MUTATIONS), rng.pick(corpus));
      if (x.length >= IKE_HEADER_LENGTH && rng.chance(0.5)) x = fixLength(x);
      decode("mutated", x);
    } else {
      // A well-formed chain: it must round-trip; then mutated copies of it.
      const ps = randomPayloads(rng);
      const enc = encodePayloads(ps);
      const back = decode("payloads", enc.bytes, enc.firstType);
      if (back && !back.ok)
        out.push(
          `round trip: a well-formed chain (${ps.map((p) => p.type).join(",")}) did not decode: ${back.error.message}`,
        );
      if (back?.ok) {
        const types = (back.value as { type: string }[]).map((p) => p.type).join(",");
        if (types !== ps.map((p) => p.type).join(","))
          out.push(`round trip: encoded ${ps.map((p) => p.type).join(",")}, decoded ${types}`);
        else stats.roundTrips++;
      }
      for (let k = 0; k < 3; k++)
        decode(
          "payloads-mutated",
          mutateBytes(rng, enc.bytes, rng.pick(BYTE_MUTATIONS)),
          rng.chance(0.9) ? enc.firstType : rng.int(256),
        );
    }
  }
  return out;
}

/** Rewrites the header's length field to the real length, so the parser goes past the header check. */
function fixLength(x: Uint8Array): Uint8Array {
  const y = x.slice();
  new DataView(y.buffer).setUint32(24, y.length);
  return y;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}
