/**
 * What `pcap decrypt` says about each frame and about the run: the verdicts, their sentences,
 * the JSON-lines format and the text summary. Shared by the streaming core (decrypt-stream.ts)
 * and the whole-capture API (decrypt.ts). No `node:` import.
 * @module
 */
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { DecapResult, EspMode, SaConfig, SaHandle, Status } from "../dataplane/types.ts";
import type { Diagnostic, ProbeResult } from "../diag/icv-truncation.ts";

/** Outcome of one frame in the verdicts file. */
export type Verdict =
  "ok" | "no-sa" | "replay" | "integrity-failed" | "malformed" | "dummy" | "nat-keepalive" | "not-esp";

/** Every verdict, in the order the summary prints them. */
export const VERDICTS: readonly Verdict[] = [
  "ok",
  "no-sa",
  "replay",
  "integrity-failed",
  "malformed",
  "dummy",
  "nat-keepalive",
  "not-esp",
];

/** One line of the verdicts file. */
export interface FrameVerdict {
  /** 1-based frame number in the input capture. */
  frame: number;
  /** SPI, when the frame carried at least 4 bytes of ESP. */
  spi?: number;
  /** Sequence number (64-bit with ESN), when the frame carried an ESP header. */
  seq?: bigint;
  verdict: Verdict;
  /** A short sentence saying why. */
  reason: string;
}

/** One SA's counters after the run, like a block of `ip -s xfrm state`. */
export interface SaCounters {
  spi: number;
  /** Where the SA came from, e.g. `sas.json: SA 1 (spi 0x0e582872)`. */
  origin: string;
  esp: string;
  mode: EspMode;
  icvLength: number;
  replayWindow: number;
  packets: bigint;
  bytes: bigint;
  /** Highest sequence number accepted. */
  seq: bigint;
  /** Non-zero drop counters by reason. */
  drops: Record<string, bigint>;
}

/** Bad input the user can fix: reported on one line, exit code 2. */
export class InputError extends Error {
  override name = "InputError";
}

/** `0x` and 8 hex digits. */
export const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

const STATUS_SENTENCES: Record<Exclude<Status, "ok">, string> = {
  "no-sa": "No SA with this SPI was loaded.",
  replay: "The sequence number was already received or is older than the replay window.",
  "integrity-failed": "The ICV did not verify: wrong key, wrong ICV length, or the packet was modified.",
  "bad-padding": "The decrypted padding is not 1, 2, 3, ... as RFC 4303 section 2.4 requires.",
  truncated: "The ESP packet is too short for its IV, trailer and ICV.",
  "seq-overflow": "The sequence number cannot advance any further on this SA.",
  "lifetime-expired": "The SA's lifetime has expired.",
  dummy: "Dummy packet (next header 59), discarded as RFC 4303 section 2.6 says.",
  "bad-next-header": "The ESP trailer's next header does not fit the SA's mode.",
  "too-big": "The packet is larger than the dataplane's packet slot.",
  "invalid-sa": "The SA is not usable for inbound traffic.",
  "malformed-inner": "The decrypted inner packet is not a well-formed IP packet.",
};

/** The verdict and sentence of one decapsulated frame (with its ICV probe, when it was probed). */
export function verdictOf(r: DecapResult, probe?: ProbeResult): { verdict: Verdict; reason: string } {
  switch (r.status) {
    case "ok":
      return { verdict: "ok", reason: `Decrypted and verified; next header ${r.nextHeader}.` };
    case "no-sa":
      return { verdict: "no-sa", reason: `No SA with SPI ${hex32(r.spi)} was loaded.` };
    case "replay":
    case "dummy":
      return { verdict: r.status, reason: STATUS_SENTENCES[r.status] };
    case "integrity-failed":
      return { verdict: r.status, reason: probeSentence(probe) ?? STATUS_SENTENCES[r.status] };
    default: {
      const why = r.status === "truncated" ? probeSentence(probe) : undefined;
      return { verdict: "malformed", reason: `${r.status}: ${why ?? STATUS_SENTENCES[r.status]}` };
    }
  }
}

/** The frame's own evidence: it verifies with this SA's key at another ICV length. */
function probeSentence(p?: ProbeResult): string | undefined {
  if (!p || p.verifiesAtBits.length === 0) return undefined;
  const bits = p.verifiesAtBits[0];
  return (
    `The packet does not verify with this SA's ${p.configuredIcvBits}-bit ICV but does with ${bits} bits: ` +
    `the peer appears to use ${bits}-bit ICVs (see the diagnostic in the summary).`
  );
}

/** The verdicts file: one {@link verdictLine} per frame, each ending in a newline. */
export function verdictsJsonl(verdicts: readonly FrameVerdict[]): string {
  return verdicts.map((v) => verdictLine(v) + "\n").join("");
}

/** Serialises one verdict line; `seq` is written as an exact integer even above 2^53. */
export function verdictLine(v: FrameVerdict): string {
  let s = `{"frame": ${v.frame}`;
  if (v.spi !== undefined) s += `, "spi": "${hex32(v.spi)}"`;
  if (v.seq !== undefined) s += `, "seq": ${v.seq.toString()}`;
  return `${s}, "verdict": "${v.verdict}", "reason": ${JSON.stringify(v.reason)}}`;
}

/** The text summary: per SA like `ip -s xfrm state`, its diagnostics, then the verdict totals. */
export function summarise(
  dp: Dataplane,
  handles: { handle: SaHandle; config: SaConfig }[],
  counts: Record<Verdict, number>,
  frames: number,
  diagnostics: Diagnostic[],
): string {
  const lines: string[] = [];
  for (const { handle, config } of handles) {
    const s = dp.stats(handle);
    lines.push(
      `spi ${hex32(s.spi)} esp ${s.esp} mode ${config.mode} icv ${s.icvLength} replay-window ${s.replayWindow}`,
    );
    lines.push(`\tpackets ${s.packets} bytes ${s.bytes} seq ${s.seq}`);
    const drops = Object.entries(s.drops)
      .filter(([, n]) => n > 0n)
      .map(([k, n]) => `${k} ${n}`);
    if (drops.length) lines.push(`\tdrops: ${drops.join(" ")}`);
    for (const d of diagnostics) if (d.sa === handle) lines.push(`\tdiagnostic ${d.kind}: ${d.message}`);
  }
  lines.push(`frames ${frames}: ${VERDICTS.map((v) => `${v} ${counts[v]}`).join(", ")}`);
  return lines.join("\n") + "\n";
}
