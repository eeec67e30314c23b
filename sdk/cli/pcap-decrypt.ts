/**
 * `ipsec-wasm pcap decrypt`: runs every frame of a capture (classic pcap or pcapng) through the
 * real dataplane, in file order (so replay windows apply), writes the inner packets of the `ok`
 * frames to a pcap and one verdict per frame to a JSON-lines file, then prints per-SA counters
 * like `ip -s xfrm state` followed by the ICV-truncation detector's diagnostics: a capture plus
 * the SAs as configured in production is enough to learn that the peers disagree on the HMAC
 * truncation. The work is done by the runtime-neutral core in ../pcap/decrypt.ts (which the web
 * page runs too); this module reads and writes the files.
 * @module
 */
import { readFileSync } from "node:fs";
import {
  decryptCaptureStream,
  InputError,
  loadSas,
  verdictLine,
  type FrameVerdict,
  type SaSource,
  type StreamSummary,
} from "../pcap/decrypt.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { checkOutputs, fileChunks, LazyFileWriter, openInput } from "./files.ts";
import { ProgressLine } from "./progress.ts";
import type { CliCommand, CliIo } from "./command.ts";

export {
  decryptCapture,
  decryptCaptureStream,
  detectSaFormat,
  InputError,
  loadSas,
  readCaptureFile,
  SA_FORMATS,
  VERDICTS,
  verdictLine,
  verdictsJsonl,
} from "../pcap/decrypt.ts";
export type {
  DecryptOptions,
  DecryptResult,
  DecryptSink,
  DecryptSummary,
  FrameVerdict,
  SaCounters,
  SaFormat,
  SaSource,
  Verdict,
} from "../pcap/decrypt.ts";

/** Usage text of `ipsec-wasm pcap decrypt`. */
export const PCAP_DECRYPT_USAGE = `Usage: ipsec-wasm pcap decrypt (--sa FILE | --xfrm FILE | --wireshark FILE | --charon FILE)...
                               IN.pcap|IN.pcapng [-o OUT.pcap] [--verdicts OUT.jsonl] [--json] [-q]

Decrypts the ESP packets of a pcap or pcapng capture (Ethernet, 802.1Q, Linux cooked or raw IP;
IPv4/IPv6; raw ESP or ESP-in-UDP on port 4500) in file order with the wasm dataplane,
replay windows included. pcapng interfaces may differ in link type and timestamp resolution.
The capture is streamed: verdicts and the output pcap are written as frames are read, in
memory that does not grow with the number of frames. On a terminal, a job longer than a
second shows its progress on stderr.

SA sources (repeatable, combined):
  --sa FILE          JSON: {"sas": [{"spi": "0x0e582872", "mode": "tunnel", "esp": "aes128gcm16",
                     "encKey": "hex", "integKey": "hex", "esn": false, "replayWindow": 64,
                     "replaySeq": "0"}]}
  --xfrm FILE        the output of \`ip xfrm state\` (keys included)
  --wireshark FILE   Wireshark's esp_sa preferences file
  --charon FILE      strongSwan's charon log with the Child SA keys: filelog or syslog with
                     default = 1 and chd = 4 (ipsec.conf: charondebug="chd 4"); both directions
                     of every Child SA are loaded
  --wireshark-mode tunnel|transport
                     mode of the Wireshark SAs (the file does not say; default tunnel)

Output:
  -o, --output FILE  inner packets of the frames that decrypted, LINKTYPE_RAW, original timestamps
  --verdicts FILE    one JSON line per input frame: {"frame", "spi", "seq", "verdict", "reason"};
                     "-" writes them to stdout (the summary then goes to stderr); when the
                     reader goes away (\`| head\`), the run stops quietly with exit 0
  --json             the summary as one JSON object: frames, counts, sas (64-bit counters as
                     decimal strings), diagnostics
  -q, --quiet        no summary
  An output that is an input (the capture or an SA file), or both outputs one file, is refused.
  -h, --help         this text

The summary lists each SA's counters like \`ip -s xfrm state\`. Every frame that failed its HMAC
ICV is checked at 96, 128, 192 and 256 bits with the SA's key; an SA whose peer truncates
differently gets a "diagnostic icv-truncation" line naming the peer's ICV length and the setting
to change, and one where nothing verifies (3 frames or more, none ever ok) a
"diagnostic integrity-key-mismatch" line.

Verdicts: ok, no-sa, replay, integrity-failed, malformed, dummy, nat-keepalive, not-esp.
Exit status: 0 when the run completed (drops included) or stdout was closed by its reader,
2 on bad arguments or unusable files (one line on stderr; a capture that turns bad after its
first frames leaves the outputs written so far).
`;

function readSaFile(path: string): string {
  try {
    return new TextDecoder().decode(readFileSync(path));
  } catch (e) {
    throw new InputError(`cannot read SA file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

const OPTIONS = {
  sa: { type: "string", multiple: true },
  xfrm: { type: "string", multiple: true },
  wireshark: { type: "string", multiple: true },
  charon: { type: "string", multiple: true },
  "wireshark-mode": { type: "string" },
  output: { type: "string", short: "o" },
  verdicts: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  json: { type: "boolean" },
} as const;

/** Ends the run when stdout's reader went away: not an error, nothing more to say. */
class OutputClosed extends Error {}

/** Bytes of verdict lines collected before one write to stdout. */
const STDOUT_CHUNK = 64 * 1024;

async function run(args: string[], io: CliIo): Promise<number> {
  const fail = (msg: string): number => {
    io.err(`ipsec-wasm pcap decrypt: ${msg}\n`);
    return 2;
  };
  const hint = " (see `ipsec-wasm pcap decrypt --help`)";
  let values, positionals;
  try {
    ({ values, positionals } = parseCommandArgs(args, OPTIONS, { command: "pcap decrypt", maxPositionals: Infinity }));
  } catch (e) {
    if (e instanceof UsageError) return fail(e.message);
    throw e;
  }
  if (positionals.length !== 1) {
    return fail(
      positionals.length === 0
        ? `missing the input capture IN.pcap${hint}`
        : `expected one input capture, got ${positionals.length}: ${positionals.join(" ")}${hint}`,
    );
  }
  const [input = ""] = positionals; // exactly one: checked above
  const mode = values["wireshark-mode"] ?? "tunnel";
  if (mode !== "tunnel" && mode !== "transport")
    return fail(`--wireshark-mode must be tunnel or transport, got '${mode}'${hint}`);
  const sources: { format: SaSource["format"]; path: string }[] = [
    ...(values.sa ?? []).map((path) => ({ format: "json" as const, path })),
    ...(values.xfrm ?? []).map((path) => ({ format: "xfrm" as const, path })),
    ...(values.wireshark ?? []).map((path) => ({ format: "wireshark" as const, path })),
    ...(values.charon ?? []).map((path) => ({ format: "charon" as const, path })),
  ];
  if (sources.length === 0) return fail(`no SAs given: use --sa, --xfrm, --wireshark or --charon${hint}`);

  const toStdout = values.verdicts === "-";
  const summaryTo = toStdout ? io.err : io.out;
  const writers: LazyFileWriter[] = [];
  let progress: ProgressLine | undefined;
  try {
    checkOutputs(
      [{ path: input, what: "input capture" }, ...sources.map((s) => ({ path: s.path, what: "SA file" }))],
      [
        ...(values.output !== undefined ? [{ path: values.output, what: "-o" }] : []),
        ...(values.verdicts !== undefined && !toStdout ? [{ path: values.verdicts, what: "--verdicts" }] : []),
      ],
    );
    const sas = loadSas(
      sources.map((s) => ({ format: s.format, name: s.path, text: readSaFile(s.path) })),
      mode,
    );
    const { handle, size } = await openInput(input, "capture");
    const output = values.output !== undefined ? new LazyFileWriter(values.output) : undefined;
    const verdictFile = values.verdicts !== undefined && !toStdout ? new LazyFileWriter(values.verdicts) : undefined;
    writers.push(...[output, verdictFile].filter((w): w is LazyFileWriter => w !== undefined));
    progress = ProgressLine.forStderr(io, size);
    let stdoutText = "";
    const sink = {
      verdicts: (batch: readonly FrameVerdict[]): void => {
        progress?.frames(batch.length);
        if (!verdictFile && !toStdout) return;
        let text = "";
        for (const v of batch) text += verdictLine(v) + "\n";
        if (verdictFile) verdictFile.write(text);
        else {
          stdoutText += text;
          if (stdoutText.length >= STDOUT_CHUNK) flushStdout();
        }
      },
      output: output ? (bytes: Uint8Array): void => output.write(bytes) : undefined,
    };
    const flushStdout = (): void => {
      if (io.outClosed?.()) throw new OutputClosed();
      io.out(stdoutText);
      stdoutText = "";
    };
    const result = await decryptCaptureStream(
      fileChunks(handle, input, (n) => progress?.bytes(n)),
      sas,
      sink,
      {},
      input,
    );
    if (toStdout && stdoutText) flushStdout();
    for (const w of writers) w.close();
    progress?.done();
    if (values.quiet) return 0;
    summaryTo(values.json ? summaryJson(result, input) : result.summary);
    return 0;
  } catch (e) {
    progress?.done();
    for (const w of writers) {
      try {
        w.close();
      } catch {
        /* the first error is the one to report */
      }
    }
    if (e instanceof OutputClosed) return 0;
    if (e instanceof InputError) return fail(e.message);
    throw e;
  }
}

/** The `--json` summary: one object, 64-bit counters as decimal strings, SPIs as 0x-hex. */
export function summaryJson(r: StreamSummary, input: string): string {
  const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
  return (
    JSON.stringify(
      {
        input,
        format: r.capture.format,
        frames: r.frames,
        counts: r.counts,
        sas: r.sas.map((s) => ({
          spi: hex(s.spi),
          origin: s.origin,
          esp: s.esp,
          mode: s.mode,
          icvLength: s.icvLength,
          replayWindow: s.replayWindow,
          packets: s.packets.toString(),
          bytes: s.bytes.toString(),
          seq: s.seq.toString(),
          drops: Object.fromEntries(Object.entries(s.drops).map(([k, n]) => [k, n.toString()])),
        })),
        diagnostics: r.diagnostics.map((d) => ({
          kind: d.kind,
          spi: hex(d.spi),
          suite: d.suite,
          message: d.message,
          hint: d.hint,
        })),
      },
      null,
      2,
    ) + "\n"
  );
}

/** The `pcap decrypt` entry of the CLI's command table. */
export const pcapDecryptCommand: CliCommand = {
  usage: PCAP_DECRYPT_USAGE,
  run,
};
