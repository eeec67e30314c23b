/**
 * Classic libpcap files (not pcapng): both byte orders, microsecond and nanosecond timestamps.
 * Format: https://www.tcpdump.org/manpages/pcap-savefile.5.html
 * @module
 */

/** Link-layer header types (https://www.tcpdump.org/linktypes.html) the CLI understands. */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;

const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;

/** One captured frame. */
export interface PcapRecord {
  /** Seconds since the epoch. */
  tsSec: number;
  /** Fraction of the second, in microseconds or nanoseconds (see {@link PcapFile.nanosecond}). */
  tsFrac: number;
  /** Length of the frame on the wire; larger than `data.length` when the snap length cut it. */
  origLength: number;
  /** The captured bytes. */
  data: Uint8Array;
  /** Set on the last record when the file ends before its captured bytes do. */
  fileTruncated?: boolean;
  /** The record's own link type (pcapng: its interface's), when it differs from the file's. */
  linkType?: number;
  /** pcapng: the interface the packet was captured on (index in {@link PcapFile.interfaces}). */
  interfaceId?: number;
}

/** A capture interface of a pcapng file (one Interface Description Block). */
export interface CaptureInterface {
  linkType: number;
  snapLength: number;
  /** `if_name`, when the file gives one. */
  name?: string;
  /** Timestamp units per second (`if_tsresol`; default 1,000,000). */
  unitsPerSecond: bigint;
  /** `if_tsoffset`: seconds added to every timestamp. */
  offsetSeconds: bigint;
}

/** A whole classic pcap file. */
export interface PcapFile {
  linkType: number;
  /** Timestamps' fraction is in nanoseconds (magic 0xa1b23c4d) rather than microseconds. */
  nanosecond: boolean;
  /** The file was written big-endian. */
  bigEndian: boolean;
  snapLength: number;
  records: PcapRecord[];
  /** Which file format the bytes were (readPcap: always "pcap"; set by readCapture). */
  format?: "pcap" | "pcapng";
  /** pcapng: every interface of every section, in file order (records' `interfaceId` index this). */
  interfaces?: CaptureInterface[];
}

/** The bytes are not a classic pcap file we can read. */
export class PcapError extends Error {
  override name = "PcapError";
}

/** What a classic pcap file header says. */
export interface PcapHeader {
  linkType: number;
  nanosecond: boolean;
  bigEndian: boolean;
  snapLength: number;
}

/** Parses the 24-byte file header. Throws {@link PcapError} on a pcapng file, a short file or a bad magic. */
export function readPcapHeader(bytes: Uint8Array): PcapHeader {
  if (bytes.length >= 4 && bytes[0] === 0x0a && bytes[1] === 0x0d && bytes[2] === 0x0d && bytes[3] === 0x0a) {
    throw new PcapError("this is a pcapng file; convert it with `editcap -F pcap IN OUT` first");
  }
  if (bytes.length < FILE_HEADER_LENGTH)
    throw new PcapError(`too short for a pcap file header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicBe = view.getUint32(0, false);
  const magicLe = view.getUint32(0, true);
  let littleEndian: boolean;
  let nanosecond: boolean;
  if (magicLe === MAGIC_MICRO || magicLe === MAGIC_NANO) {
    littleEndian = true;
    nanosecond = magicLe === MAGIC_NANO;
  } else if (magicBe === MAGIC_MICRO || magicBe === MAGIC_NANO) {
    littleEndian = false;
    nanosecond = magicBe === MAGIC_NANO;
  } else {
    throw new PcapError(`not a pcap file (magic 0x${magicBe.toString(16).padStart(8, "0")})`);
  }
  const snapLength = view.getUint32(16, littleEndian);
  // The upper bits of the link-type field carry FCS information; the link type is the low 16 bits.
  const linkType = view.getUint32(20, littleEndian) & 0xffff;
  return { linkType, nanosecond, bigEndian: !littleEndian, snapLength };
}

/** Bytes of the file header. */
export const PCAP_HEADER_LENGTH = FILE_HEADER_LENGTH;

/**
 * Reads the record at `off`: how many bytes it used and the record, or `undefined` when it is not
 * complete and `final` is false (more bytes may come). With `final` the end of `bytes` is the end
 * of the file: a torn record is returned flagged `fileTruncated`, using the rest.
 */
export function readPcapRecord(
  bytes: Uint8Array,
  off: number,
  bigEndian: boolean,
  final: boolean,
): { used: number; record: PcapRecord } | undefined {
  const rest = bytes.length - off;
  if (rest < RECORD_HEADER_LENGTH) {
    return final
      ? { used: rest, record: { tsSec: 0, tsFrac: 0, origLength: 0, data: bytes.slice(off), fileTruncated: true } }
      : undefined;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = !bigEndian;
  const tsSec = view.getUint32(off, le);
  const tsFrac = view.getUint32(off + 4, le);
  const inclLength = view.getUint32(off + 8, le);
  const origLength = view.getUint32(off + 12, le);
  const body = off + RECORD_HEADER_LENGTH;
  if (inclLength > bytes.length - body) {
    return final
      ? { used: rest, record: { tsSec, tsFrac, origLength, data: bytes.slice(body), fileTruncated: true } }
      : undefined;
  }
  return {
    used: RECORD_HEADER_LENGTH + inclLength,
    record: { tsSec, tsFrac, origLength, data: bytes.slice(body, body + inclLength) },
  };
}

/** Parses a classic pcap file. Throws {@link PcapError} on a bad file header; a torn last record is kept, flagged. */
export function readPcap(bytes: Uint8Array): PcapFile {
  const header = readPcapHeader(bytes);
  const records: PcapRecord[] = [];
  for (let off = FILE_HEADER_LENGTH; off < bytes.length;) {
    const { used, record } = readPcapRecord(bytes, off, header.bigEndian, true)!;
    records.push(record);
    off += used;
  }
  return { ...header, records };
}

/** What {@link writePcap} needs; omitted options give a little-endian microsecond file with snap length 262144. */
export interface PcapWriteInput {
  linkType: number;
  nanosecond?: boolean;
  bigEndian?: boolean;
  snapLength?: number;
  records: ReadonlyArray<Pick<PcapRecord, "tsSec" | "tsFrac" | "data"> & { origLength?: number }>;
}

/** Serialises a classic pcap file (version 2.4). */
export function writePcap(file: PcapWriteInput): Uint8Array {
  const littleEndian = !file.bigEndian;
  let total = FILE_HEADER_LENGTH;
  for (const r of file.records) total += RECORD_HEADER_LENGTH + r.data.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, file.nanosecond ? MAGIC_NANO : MAGIC_MICRO, littleEndian);
  view.setUint16(4, 2, littleEndian);
  view.setUint16(6, 4, littleEndian);
  view.setUint32(16, file.snapLength ?? 262144, littleEndian);
  view.setUint32(20, file.linkType, littleEndian);
  let off = FILE_HEADER_LENGTH;
  for (const r of file.records) {
    view.setUint32(off, r.tsSec, littleEndian);
    view.setUint32(off + 4, r.tsFrac, littleEndian);
    view.setUint32(off + 8, r.data.length, littleEndian);
    view.setUint32(off + 12, r.origLength ?? r.data.length, littleEndian);
    out.set(r.data, off + RECORD_HEADER_LENGTH);
    off += RECORD_HEADER_LENGTH + r.data.length;
  }
  return out;
}

/** The 24-byte header {@link writePcap} writes, for writing a file record by record. */
export function pcapFileHeader(file: Omit<PcapWriteInput, "records">): Uint8Array {
  return writePcap({ ...file, records: [] });
}

/** The bytes of records as {@link writePcap} lays them out after the header (little-endian unless `bigEndian`). */
export function pcapRecordBytes(records: PcapWriteInput["records"], bigEndian = false): Uint8Array {
  return writePcap({ linkType: 0, bigEndian, records }).subarray(FILE_HEADER_LENGTH);
}
