/**
 * `ipsec-wasm pcap decrypt`: runs every frame of a capture through the real dataplane, in file
 * order (so replay windows apply), writes the inner packets of the `ok` frames to a pcap and one
 * verdict per frame to a JSON-lines file, then prints per-SA counters like `ip -s xfrm state`
 * followed by the ICV-truncation detector's diagnostics: a capture plus the SAs as configured in
 * production is enough to learn that the peers disagree on the HMAC truncation.
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Dataplane, DataplaneError } from "../dataplane/dataplane.ts";
import type { DecapResult, EspMode, SaConfig, SaHandle, Status } from "../dataplane/types.ts";
import { IcvTruncationDetector, type Diagnostic, type ProbeResult } from "../diag/icv-truncation.ts";
import { classifyFrame, SUPPORTED_LINKTYPES, type EspFrame } from "../pcap/frames.ts";
import { LINKTYPE_RAW, PcapError, readPcap, writePcap, type PcapFile, type PcapRecord } from "../pcap/pcap.ts";
import { parseSaJson, parseWiresharkEspSa, parseXfrmState, SaFileError } from "../sa/files.ts";
import type { CliCommand, CliIo } from "./main.ts";

/** Outcome of one frame in the verdicts file. */
export type Verdict = "ok" | "no-sa" | "replay" | "integrity-failed" | "malformed" | "dummy" | "nat-keepalive" | "not-esp";

/** Every verdict, in the order the summary prints them. */
export const VERDICTS: readonly Verdict[] = ["ok", "no-sa", "replay", "integrity-failed", "malformed", "dummy", "nat-keepalive", "not-esp"];

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

/** Where SAs come from. */
export interface SaSource {
  format: "json" | "xfrm" | "wireshark";
  /** File name, used in error messages. */
  name: string;
  text: string;
}

/** Result of {@link decryptCapture}. */
export interface DecryptResult {
  verdicts: FrameVerdict[];
  /** Inner packets of the `ok` frames as a LINKTYPE_RAW pcap with the frames' timestamps. */
  output: Uint8Array;
  /** Human-readable counters, like `ip -s xfrm state`. */
  summary: string;
  counts: Record<Verdict, number>;
  /** What the ICV-truncation detector concluded per SA (every failed HMAC frame is probed offline). */
  diagnostics: Diagnostic[];
}

/** Bad input the user can fix: reported on one line, exit code 2. */
export class InputError extends Error {
  override name = "InputError";
}

/** Parses every SA source into inbound SA configurations; errors name the file. */
export function loadSas(sources: SaSource[], wiresharkMode: EspMode = "tunnel"): { config: SaConfig; origin: string }[] {
  const out: { config: SaConfig; origin: string }[] = [];
  for (const src of sources) {
    let sas: SaConfig[];
    try {
      sas = src.format === "json" ? parseSaJson(src.text)
        : src.format === "xfrm" ? parseXfrmState(src.text)
        : parseWiresharkEspSa(src.text, wiresharkMode);
    } catch (e) {
      if (e instanceof SaFileError) throw new InputError(`${src.name}: ${e.message}`);
      throw e;
    }
    sas.forEach((config, i) => out.push({ config, origin: `${src.name}: SA ${i + 1} (spi ${hex32(config.spi)})` }));
  }
  return out;
}

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

const STATUS_SENTENCES: Record<Exclude<Status, "ok">, string> = {
  "no-sa": "No SA with this SPI was loaded.",
  "replay": "The sequence number was already received or is older than the replay window.",
  "integrity-failed": "The ICV did not verify: wrong key, wrong ICV length, or the packet was modified.",
  "bad-padding": "The decrypted padding is not 1, 2, 3, ... as RFC 4303 section 2.4 requires.",
  "truncated": "The ESP packet is too short for its IV, trailer and ICV.",
  "seq-overflow": "The sequence number cannot advance any further on this SA.",
  "lifetime-expired": "The SA's lifetime has expired.",
  "dummy": "Dummy packet (next header 59), discarded as RFC 4303 section 2.6 says.",
  "bad-next-header": "The ESP trailer's next header does not fit the SA's mode.",
  "too-big": "The packet is larger than the dataplane's packet slot.",
  "invalid-sa": "The SA is not usable for inbound traffic.",
  "malformed-inner": "The decrypted inner packet is not a well-formed IP packet.",
};

function verdictOf(r: DecapResult, probe?: ProbeResult): { verdict: Verdict; reason: string } {
  switch (r.status) {
    case "ok": return { verdict: "ok", reason: `Decrypted and verified; next header ${r.nextHeader}.` };
    case "no-sa": return { verdict: "no-sa", reason: `No SA with SPI ${hex32(r.spi)} was loaded.` };
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
  return `The packet does not verify with this SA's ${p.configuredIcvBits}-bit ICV but does with ${bits} bits: ` +
    `the peer appears to use ${bits}-bit ICVs (see the diagnostic in the summary).`;
}

/** Serialises one verdict line; `seq` is written as an exact integer even above 2^53. */
export function verdictLine(v: FrameVerdict): string {
  let s = `{"frame": ${v.frame}`;
  if (v.spi !== undefined) s += `, "spi": "${hex32(v.spi)}"`;
  if (v.seq !== undefined) s += `, "seq": ${v.seq.toString()}`;
  return `${s}, "verdict": "${v.verdict}", "reason": ${JSON.stringify(v.reason)}}`;
}

const BATCH = 64;
const SLOT_OVERHEAD = 128; // head and tail room the dataplane keeps around each packet

/** Decrypts a parsed capture with the given SAs. Throws {@link InputError} when an SA is refused. */
export async function decryptCapture(capture: PcapFile, sas: { config: SaConfig; origin: string }[]): Promise<DecryptResult> {
  if (!SUPPORTED_LINKTYPES.has(capture.linkType)) {
    const known = [...SUPPORTED_LINKTYPES].map(([n, name]) => `${n} (${name})`).join(", ");
    throw new InputError(`link type ${capture.linkType} is not supported (supported: ${known})`);
  }
  const verdicts: FrameVerdict[] = [];
  const espFrames: { index: number; frame: EspFrame }[] = [];
  capture.records.forEach((rec, i) => {
    const frame = i + 1;
    const c = classifyFrame(rec.data, capture.linkType);
    const spi = c.spi;
    const seq = c.seq === undefined ? undefined : BigInt(c.seq);
    if (rec.fileTruncated) {
      verdicts.push({ frame, spi, seq, verdict: "malformed", reason: "The capture file ends in the middle of this frame." });
    } else if (c.kind === "esp" && rec.origLength > rec.data.length) {
      verdicts.push({ frame, spi, seq, verdict: "malformed",
        reason: `Only ${rec.data.length} of ${rec.origLength} bytes were captured (snap length), so the ICV cannot be checked.` });
    } else if (c.kind === "esp") {
      verdicts.push({ frame, spi, seq, verdict: "malformed", reason: "" });
      espFrames.push({ index: i, frame: c });
    } else {
      verdicts.push({ frame, spi, seq, verdict: c.kind, reason: c.reason });
    }
  });

  const largest = espFrames.reduce((m, f) => Math.max(m, f.frame.packet.length), 0);
  const slotBytes = Math.min(1 << 20, Math.max(2176, Math.ceil((largest + SLOT_OVERHEAD) / 16) * 16));
  const dp = await Dataplane.create({ maxSas: Math.max(16, sas.length), batchSize: BATCH, slotBytes });
  const handles: { handle: SaHandle; config: SaConfig }[] = [];
  for (const { config, origin } of sas) {
    try {
      handles.push({ handle: dp.addSa(config), config });
    } catch (e) {
      if (e instanceof DataplaneError) throw new InputError(`${origin}: ${e.message}`);
      throw e;
    }
  }

  // Offline there is no live traffic to protect: probe every failed HMAC frame, so each one's
  // verdict line can say whether it verifies at another ICV length.
  const probes = new Map<number, ProbeResult>();
  const detector = new IcvTruncationDetector(dp, {
    now: () => 0, log: null, maxProbesPerSecond: Infinity, maxTotalProbesPerSecond: Infinity,
    onProbe: (p) => probes.set(p.index, p),
  });
  const inner: (Uint8Array | undefined)[] = new Array(capture.records.length);
  for (let start = 0; start < espFrames.length; start += BATCH) {
    const chunk = espFrames.slice(start, start + BATCH);
    probes.clear();
    const results = dp.decapsulateBatch(chunk.map((f) => f.frame.packet), chunk.map((f) => f.frame.l3HeaderLength));
    results.forEach((r, k) => {
      const { index } = chunk[k];
      const { verdict, reason } = verdictOf(r, probes.get(k));
      const v = verdicts[index];
      v.verdict = verdict;
      v.reason = reason;
      v.spi = r.spi;
      // With ESN the dataplane infers the full 64-bit number, but only once the ICV verified.
      if (r.status === "ok" || r.status === "replay" || r.status === "dummy") v.seq = r.seq;
      if (r.status === "ok") inner[index] = r.payload;
    });
  }
  detector.detach();
  const diagnostics = detector.diagnostics();

  const records: Pick<PcapRecord, "tsSec" | "tsFrac" | "data">[] = [];
  capture.records.forEach((rec, i) => {
    const data = inner[i];
    if (data) records.push({ tsSec: rec.tsSec, tsFrac: rec.tsFrac, data });
  });
  const output = writePcap({ linkType: LINKTYPE_RAW, nanosecond: capture.nanosecond, records });

  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const v of verdicts) counts[v.verdict]++;
  return { verdicts, output, summary: summarise(dp, handles, counts, verdicts.length, diagnostics), counts, diagnostics };
}

function summarise(dp: Dataplane, handles: { handle: SaHandle; config: SaConfig }[], counts: Record<Verdict, number>, frames: number,
  diagnostics: Diagnostic[]): string {
  const lines: string[] = [];
  for (const { handle, config } of handles) {
    const s = dp.stats(handle);
    lines.push(`spi ${hex32(s.spi)} esp ${s.esp} mode ${config.mode} icv ${s.icvLength} replay-window ${s.replayWindow}`);
    lines.push(`\tpackets ${s.packets} bytes ${s.bytes} seq ${s.seq}`);
    const drops = Object.entries(s.drops).filter(([, n]) => n > 0n).map(([k, n]) => `${k} ${n}`);
    if (drops.length) lines.push(`\tdrops: ${drops.join(" ")}`);
    for (const d of diagnostics) if (d.sa === handle) lines.push(`\tdiagnostic ${d.kind}: ${d.message}`);
  }
  lines.push(`frames ${frames}: ${VERDICTS.map((v) => `${v} ${counts[v]}`).join(", ")}`);
  return lines.join("\n") + "\n";
}

/** Usage text of `ipsec-wasm pcap decrypt`. */
export const PCAP_DECRYPT_USAGE = `Usage: ipsec-wasm pcap decrypt (--sa FILE | --xfrm FILE | --wireshark FILE)... IN.pcap
                               [-o OUT.pcap] [--verdicts OUT.jsonl]

Decrypts the ESP packets of a classic pcap capture (Ethernet, 802.1Q, Linux cooked or raw IP;
IPv4/IPv6; raw ESP or ESP-in-UDP on port 4500) in file order with the wasm dataplane,
replay windows included.

SA sources (repeatable, combined):
  --sa FILE          JSON: {"sas": [{"spi": "0x0e582872", "mode": "tunnel", "esp": "aes128gcm16",
                     "encKey": "hex", "integKey": "hex", "esn": false, "replayWindow": 64,
                     "replaySeq": "0"}]}
  --xfrm FILE        the output of \`ip xfrm state\` (keys included)
  --wireshark FILE   Wireshark's esp_sa preferences file
  --wireshark-mode tunnel|transport
                     mode of the Wireshark SAs (the file does not say; default tunnel)

Output:
  -o, --output FILE  inner packets of the frames that decrypted, LINKTYPE_RAW, original timestamps
  --verdicts FILE    one JSON line per input frame: {"frame", "spi", "seq", "verdict", "reason"};
                     "-" writes them to stdout (the summary then goes to stderr)
  -q, --quiet        no summary
  -h, --help         this text

The summary lists each SA's counters like \`ip -s xfrm state\`. Every frame that failed its HMAC
ICV is checked at 96, 128, 192 and 256 bits with the SA's key; an SA whose peer truncates
differently gets a "diagnostic icv-truncation" line naming the peer's ICV length and the setting
to change, and one where nothing verifies (3 frames or more, none ever ok) a
"diagnostic integrity-key-mismatch" line.

Verdicts: ok, no-sa, replay, integrity-failed, malformed, dummy, nat-keepalive, not-esp.
Exit status: 0 when the run completed (drops included), 2 on bad arguments or unusable files.
`;

function readInput(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function writeOutput(path: string, data: Uint8Array | string): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw new InputError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function run(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        sa: { type: "string", multiple: true },
        xfrm: { type: "string", multiple: true },
        wireshark: { type: "string", multiple: true },
        "wireshark-mode": { type: "string" },
        output: { type: "string", short: "o" },
        verdicts: { type: "string" },
        quiet: { type: "boolean", short: "q" },
      },
    });
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0].replace(/\. To specify a positional argument.*$/, "");
    io.err(`ipsec-wasm pcap decrypt: ${msg}\nRun \`ipsec-wasm pcap decrypt --help\` for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const usageError = (msg: string): number => {
    io.err(`ipsec-wasm pcap decrypt: ${msg}\nRun \`ipsec-wasm pcap decrypt --help\` for usage.\n`);
    return 2;
  };
  if (positionals.length !== 1) return usageError(positionals.length === 0 ? "missing the input capture IN.pcap" : `expected one input capture, got ${positionals.length}: ${positionals.join(" ")}`);
  const mode = values["wireshark-mode"] ?? "tunnel";
  if (mode !== "tunnel" && mode !== "transport") return usageError(`--wireshark-mode must be tunnel or transport, got '${mode}'`);
  const sources: { format: SaSource["format"]; path: string }[] = [
    ...(values.sa ?? []).map((path) => ({ format: "json" as const, path })),
    ...(values.xfrm ?? []).map((path) => ({ format: "xfrm" as const, path })),
    ...(values.wireshark ?? []).map((path) => ({ format: "wireshark" as const, path })),
  ];
  if (sources.length === 0) return usageError("no SAs given: use --sa, --xfrm or --wireshark");

  try {
    const sas = loadSas(sources.map((s) => ({
      format: s.format, name: s.path, text: new TextDecoder().decode(readInput(s.path, "SA file")),
    })), mode);
    let capture: PcapFile;
    try {
      capture = readPcap(readInput(positionals[0], "capture"));
    } catch (e) {
      if (e instanceof PcapError) throw new InputError(`${positionals[0]}: ${e.message}`);
      throw e;
    }
    const result = await decryptCapture(capture, sas);
    if (values.output !== undefined) writeOutput(values.output, result.output);
    const jsonl = result.verdicts.map((v) => verdictLine(v) + "\n").join("");
    if (values.verdicts === "-") io.out(jsonl);
    else if (values.verdicts !== undefined) writeOutput(values.verdicts, jsonl);
    if (!values.quiet) (values.verdicts === "-" ? io.err : io.out)(result.summary);
    return 0;
  } catch (e) {
    if (e instanceof InputError) {
      io.err(`ipsec-wasm pcap decrypt: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

/** The `pcap decrypt` entry of the CLI's command table. */
export const pcapDecryptCommand: CliCommand = {
  usage: PCAP_DECRYPT_USAGE,
  run,
};
