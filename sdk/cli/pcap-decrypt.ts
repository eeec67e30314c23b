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
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { decryptCapture, InputError, loadSas, readCaptureFile, verdictsJsonl, type SaSource } from "../pcap/decrypt.ts";
import type { CliCommand, CliIo } from "./main.ts";

export {
  decryptCapture, detectSaFormat, InputError, loadSas, readCaptureFile, SA_FORMATS, VERDICTS, verdictLine, verdictsJsonl,
} from "../pcap/decrypt.ts";
export type {
  DecryptOptions, DecryptResult, FrameVerdict, SaCounters, SaFormat, SaSource, Verdict,
} from "../pcap/decrypt.ts";

/** Usage text of `ipsec-wasm pcap decrypt`. */
export const PCAP_DECRYPT_USAGE = `Usage: ipsec-wasm pcap decrypt (--sa FILE | --xfrm FILE | --wireshark FILE | --charon FILE)...
                               IN.pcap|IN.pcapng [-o OUT.pcap] [--verdicts OUT.jsonl]

Decrypts the ESP packets of a pcap or pcapng capture (Ethernet, 802.1Q, Linux cooked or raw IP;
IPv4/IPv6; raw ESP or ESP-in-UDP on port 4500) in file order with the wasm dataplane,
replay windows included. pcapng interfaces may differ in link type and timestamp resolution.

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
        charon: { type: "string", multiple: true },
        "wireshark-mode": { type: "string" },
        output: { type: "string", short: "o" },
        verdicts: { type: "string" },
        quiet: { type: "boolean", short: "q" },
      },
    });
  } catch (e) {
    const msg = (e as Error).message.replace(/\n[^]*$/, "").replace(/\. To specify a positional argument.*$/, "");
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
    ...(values.charon ?? []).map((path) => ({ format: "charon" as const, path })),
  ];
  if (sources.length === 0) return usageError("no SAs given: use --sa, --xfrm, --wireshark or --charon");

  try {
    const sas = loadSas(sources.map((s) => ({
      format: s.format, name: s.path, text: new TextDecoder().decode(readInput(s.path, "SA file")),
    })), mode);
    const [input = ""] = positionals; // exactly one: checked above
    const capture = readCaptureFile(readInput(input, "capture"), input);
    const result = await decryptCapture(capture, sas);
    if (values.output !== undefined) writeOutput(values.output, result.output);
    const jsonl = verdictsJsonl(result.verdicts);
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
