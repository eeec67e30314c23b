/**
 * What the page does with the two files, in a Web Worker or on the page itself: the same core
 * as `ipsec-wasm pcap decrypt` (sdk/pcap/decrypt.ts), nothing else. Everything stays in memory.
 * @module
 */
import {
  decryptCapture,
  detectSaFormat,
  InputError,
  loadSas,
  readCaptureFile,
  SA_FORMATS,
  verdictsJsonl,
  type FrameVerdict,
  type SaCounters,
  type SaFormat,
  type Verdict,
} from "../../sdk/pcap/decrypt.ts";
import { DataplaneError } from "../../sdk/dataplane/errors.ts";
import type { WasmSource } from "../../sdk/dataplane/wasm.ts";

/** The inputs, as the page read them from the chosen files. */
export interface DecryptRequest {
  capture: { name: string; bytes: Uint8Array };
  sas: { name: string; text: string }[];
  /** A format for every SA file, or "auto" to detect each one. */
  format: SaFormat | "auto";
  wiresharkMode: "tunnel" | "transport";
}

/** Everything the page shows, plus the two downloads. */
export interface DecryptResponse {
  captureFormat: "pcap" | "pcapng";
  frames: number;
  linkTypes: number[];
  saFiles: { name: string; format: SaFormat; formatName: string; count: number }[];
  verdicts: FrameVerdict[];
  counts: Record<Verdict, number>;
  diagnostics: { kind: string; spi: number; message: string; hint: string }[];
  sas: SaCounters[];
  /** The text summary, exactly as the CLI prints it. */
  summary: string;
  /** The decrypted inner packets (LINKTYPE_RAW pcap), byte for byte the CLI's `-o` output. */
  output: Uint8Array;
  /** The verdicts file, byte for byte the CLI's `--verdicts` output. */
  jsonl: string;
  ms: number;
}

/** A failure to show: `input` ones are the user's to fix (one sentence), `wasm` ones mean no dataplane. */
export interface DecryptFailure {
  kind: "input" | "wasm" | "internal";
  message: string;
}

export function failureOf(e: unknown): DecryptFailure {
  if (e instanceof InputError) return { kind: "input", message: e.message };
  if (e instanceof DataplaneError && e.code === "WASM_LOAD") return { kind: "wasm", message: e.message };
  return { kind: "internal", message: (e as Error)?.message ?? String(e) };
}

export async function runDecrypt(req: DecryptRequest, wasm?: WasmSource): Promise<DecryptResponse> {
  const t0 = performance.now();
  if (req.sas.length === 0) throw new InputError("choose an SA file");
  const saFiles = req.sas.map((f) => {
    const format = req.format === "auto" ? detectSaFormat(f.text) : req.format;
    if (!format) {
      throw new InputError(
        `${f.name}: cannot tell its format (SAS.json, ip xfrm state, Wireshark esp_sa or a charon log); choose it in the list`,
      );
    }
    return { ...f, format };
  });
  const loaded = saFiles.map((f) => ({
    f,
    sas: loadSas([{ format: f.format, name: f.name, text: f.text }], req.wiresharkMode),
  }));
  const capture = readCaptureFile(req.capture.bytes, req.capture.name);
  const result = await decryptCapture(
    capture,
    loaded.flatMap((l) => l.sas),
    { wasm },
  );
  const linkTypes = capture.interfaces ? [...new Set(capture.interfaces.map((i) => i.linkType))] : [capture.linkType];
  return {
    captureFormat: capture.format ?? "pcap",
    frames: capture.records.length,
    linkTypes,
    saFiles: loaded.map(({ f, sas }) => ({
      name: f.name,
      format: f.format,
      formatName: SA_FORMATS.find((x) => x.format === f.format)?.name ?? f.format,
      count: sas.length,
    })),
    verdicts: result.verdicts,
    counts: result.counts,
    diagnostics: result.diagnostics.map((d) => ({ kind: d.kind, spi: d.spi, message: d.message, hint: d.hint })),
    sas: result.sas,
    summary: result.summary,
    output: result.output,
    jsonl: verdictsJsonl(result.verdicts),
    ms: performance.now() - t0,
  };
}
