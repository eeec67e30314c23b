// The ESP fuzzer's invariants: each verdict against the model's prediction (no forged `ok`, no
// plaintext from a dropped packet, authentic packets delivered byte for byte, every drop for the
// reason RFC 4303's receive order gives), then per-SA counters and replay windows after a batch.
import type { Dataplane, SaHandle, Status } from "../../sdk/index.ts";
import { STATUS_NAMES } from "../../sdk/dataplane/types.ts";
import { equalBytes } from "./mutate.ts";
import { compareWindow, type ReplayModel } from "./replay-model.ts";

/** One packet given to the decapsulator. */
export interface Staged {
  bytes: Uint8Array;
  /** IP header bytes in front of the SPI (transport mode with its header), else 0. */
  l3: number;
  /** How the packet was made: an authentic packet (first delivery or a replayed copy), a mutant, or generated. */
  kind: "fresh" | "replayed" | "mutant" | "generated";
  /** The mutation, for mutants. */
  op?: string;
}

/** What the decapsulator answered for one packet. */
export interface Verdict {
  status: Status;
  sa: SaHandle;
  /** Output bytes (empty unless ok). */
  payload: Uint8Array;
  /**
   * For a dropped packet that reached its SA: a copy of its arena slot after the run, where the
   * packet was staged (absent when no packet of the batch was ok to locate wasm memory by).
   */
  arena?: Uint8Array;
}

/** What the model says must happen to one packet. */
export interface Expected {
  status: Status;
  /** The inbound SA the SPI names, or -1 (too short, unknown SPI). */
  sa: SaHandle;
  /** For `ok`: the exact bytes to deliver. */
  payload?: Uint8Array;
}

/** An invariant that did not hold. */
export interface Violation {
  batch: number;
  index?: number;
  what: string;
}

/** Compares a batch's verdicts with the model's predictions; returns what broke. */
export function checkVerdicts(
  batch: number,
  staged: readonly Staged[],
  expected: readonly Expected[],
  verdicts: readonly Verdict[],
): Violation[] {
  const out: Violation[] = [];
  if (verdicts.length !== staged.length)
    return [{ batch, what: `${verdicts.length} verdicts for ${staged.length} packets` }];
  for (let i = 0; i < staged.length; i++) {
    const s = staged[i],
      e = expected[i],
      v = verdicts[i];
    const tag = `${s!.kind}${s!.op ? `/${s!.op}` : ""} (${s!.bytes.length} B)`;
    if (v!.status !== "ok" && v!.payload.length > 0)
      out.push({
        batch,
        index: i,
        what: `plaintext from a dropped packet: ${tag} was ${v!.status} but returned ${v!.payload.length} bytes`,
      });
    if (v!.arena && v!.status !== "ok") {
      // Each byte the packet was staged with is still there or wiped; anything else is output
      // (plaintext) written for a packet that was dropped.
      const at = v!.arena.findIndex((x, k) => x !== 0 && x !== s!.bytes[k]);
      if (at >= 0)
        out.push({
          batch,
          index: i,
          what: `plaintext in the arena: ${tag} was ${v!.status} but byte ${at} of its slot changed`,
        });
    }
    if (v!.status === "ok" && e!.status !== "ok") {
      out.push({ batch, index: i, what: `forged ok: ${tag} decapsulated ok, expected ${e!.status}` });
      continue;
    }
    if (v!.status !== e!.status) {
      out.push({ batch, index: i, what: `${tag}: status ${v!.status}, expected ${e!.status}` });
      continue;
    }
    if (v!.sa !== e!.sa) out.push({ batch, index: i, what: `${tag}: SA ${v!.sa}, expected ${e!.sa}` });
    if (e!.status === "ok" && !equalBytes(v!.payload, e!.payload!))
      out.push({
        batch,
        index: i,
        what: `${tag}: ok with ${v!.payload.length} bytes that differ from the ${e!.payload!.length} sent`,
      });
  }
  return out;
}

/** The counts the model keeps for one inbound SA. */
export interface ModelCounters {
  packets: bigint;
  bytes: bigint;
  drops: Map<Status, bigint>;
}

/** Counters and replay window of one SA against the model. */
export function checkSa(
  batch: number,
  dp: Dataplane,
  h: SaHandle,
  name: string,
  model: ReplayModel,
  c: ModelCounters,
): Violation[] {
  const out: Violation[] = [];
  const s = dp.stats(h);
  if (s.packets !== c.packets) out.push({ batch, what: `${name}: packets ${s.packets}, model ${c.packets}` });
  if (s.bytes !== c.bytes) out.push({ batch, what: `${name}: bytes ${s.bytes}, model ${c.bytes}` });
  for (const st of STATUS_NAMES) {
    if (st === "ok") continue;
    const want = c.drops.get(st) ?? 0n;
    if (s.drops[st] !== want) out.push({ batch, what: `${name}: ${st} drops ${s.drops[st]}, model ${want}` });
  }
  for (const d of compareWindow(model, dp.replayState(h))) out.push({ batch, what: `${name}: replay window: ${d}` });
  return out;
}

/** Global per-status totals against the model's. */
export function checkGlobal(batch: number, dp: Dataplane, totals: ReadonlyMap<Status, bigint>): Violation[] {
  const g = dp.globalStats().byStatus;
  const out: Violation[] = [];
  for (const st of STATUS_NAMES) {
    const want = totals.get(st) ?? 0n;
    if (g[st] !== want) out.push({ batch, what: `global ${st}: ${g[st]}, model ${want}` });
  }
  return out;
}
