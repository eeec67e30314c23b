/**
 * Reads a classic pcap or pcapng capture incrementally, from chunks of any size as they arrive
 * (a file read in pieces, a `ReadableStream`, a fetch body): memory holds the unread tail of the
 * last chunk, never the capture. Records come out in file order, exactly as {@link readCapture}
 * gives them, with one difference for pcapng: the timestamp resolution is decided when the first
 * packet comes out (nanoseconds if an interface described before it records finer than
 * microseconds), where the whole-file reader looks at every interface of the file.
 * No `node:` import.
 * @module
 */
import {
  PCAP_HEADER_LENGTH,
  PcapError,
  readPcapHeader,
  readPcapRecord,
  type CaptureInterface,
  type PcapHeader,
  type PcapRecord,
} from "./pcap.ts";
import { isPcapng, needsNanoseconds, PcapngBlockReader } from "./pcapng.ts";

/** Chunks of a capture file, in order. */
export type ByteChunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** What is known of a capture while it is read. */
export interface CaptureInfo {
  format: "pcap" | "pcapng";
  /** Link types of the file (pcap) or of the interfaces described so far (pcapng). */
  linkTypes: number[];
  /** Whether records' `tsFrac` is in nanoseconds (fixed once a record came out). */
  nanosecond: boolean;
  /** pcapng: the interfaces described so far. */
  interfaces?: readonly CaptureInterface[];
}

/**
 * Push-style reader: {@link push} each chunk, then {@link end}; both return the records completed.
 * Throws {@link PcapError} as soon as the bytes cannot be a capture we read.
 */
export class CaptureStreamReader {
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  /** File offset of `#buf[0]`, for error messages. */
  #base = 0;
  #format: "pcap" | "pcapng" | undefined;
  #pcap: PcapHeader | undefined;
  #ng: PcapngBlockReader | undefined;
  #nano: boolean | undefined;

  /** What is known so far; undefined until the file header was read. */
  get info(): CaptureInfo | undefined {
    if (this.#pcap) return { format: "pcap", linkTypes: [this.#pcap.linkType], nanosecond: this.#pcap.nanosecond };
    if (!this.#ng) return undefined;
    const interfaces = this.#ng.interfaces;
    return {
      format: "pcapng",
      linkTypes: [...new Set(interfaces.map((i) => i.linkType))],
      nanosecond: this.#nano ?? needsNanoseconds(interfaces),
      interfaces,
    };
  }

  /** Adds the next chunk; returns the records it completed. */
  push(chunk: Uint8Array): PcapRecord[] {
    this.#append(chunk);
    return this.#drain(false);
  }

  /** The end of the file: returns the last records (a torn one flagged `fileTruncated`). */
  end(): PcapRecord[] {
    const out = this.#drain(true);
    if (!this.#format) throw new PcapError(`too short for a pcap file header (${this.#buf.length} bytes)`);
    if (this.#ng && this.#ng.interfaces.length === 0 && this.#ng.packets === 0)
      throw new PcapError("the pcapng file describes no interface");
    return out;
  }

  #append(chunk: Uint8Array): void {
    const rest = this.#buf.length - this.#pos;
    if (rest === 0) {
      this.#base += this.#buf.length;
      this.#buf = chunk;
    } else {
      const joined = new Uint8Array(rest + chunk.length);
      joined.set(this.#buf.subarray(this.#pos));
      joined.set(chunk, rest);
      this.#base += this.#pos;
      this.#buf = joined;
    }
    this.#pos = 0;
  }

  #drain(final: boolean): PcapRecord[] {
    const out: PcapRecord[] = [];
    const buf = this.#buf;
    if (!this.#format) {
      if (buf.length >= 4 && isPcapng(buf)) {
        this.#format = "pcapng";
        this.#ng = new PcapngBlockReader();
      } else if (buf.length >= PCAP_HEADER_LENGTH || (final && buf.length > 0)) {
        this.#pcap = readPcapHeader(buf);
        this.#format = "pcap";
        this.#pos = PCAP_HEADER_LENGTH;
      } else if (final) {
        readPcapHeader(buf); // throws: too short
      } else {
        return out;
      }
    }
    while (this.#pos < buf.length) {
      if (this.#pcap) {
        const step = readPcapRecord(buf, this.#pos, this.#pcap.bigEndian, final);
        if (!step) break;
        out.push(step.record);
        this.#pos += step.used;
      } else {
        const ng = this.#ng!;
        const step = ng.next(buf, this.#pos, final, this.#base + this.#pos);
        if (!step) break;
        if (step.packet) {
          this.#nano ??= needsNanoseconds(ng.interfaces);
          out.push(ng.record(step.packet, this.#nano));
        }
        this.#pos += step.used;
      }
    }
    return out;
  }
}

/** Reads `chunks` with a {@link CaptureStreamReader}, yielding the records of each chunk as one array. */
export async function* readCaptureStream(
  chunks: ByteChunks,
  reader = new CaptureStreamReader(),
): AsyncGenerator<PcapRecord[]> {
  for await (const chunk of chunks) {
    const records = reader.push(chunk);
    if (records.length) yield records;
  }
  const last = reader.end();
  if (last.length) yield last;
}
