/**
 * pcapng files (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html): Section Header,
 * Interface Description, Enhanced Packet, Simple Packet and the obsolete Packet block; every other
 * block (name resolution, interface statistics, decryption secrets, custom, unknown) is skipped.
 * Each section has its own byte order and its own interfaces; each interface its own link type,
 * snap length and timestamp resolution (`if_tsresol`, powers of 10 or of 2) and offset
 * (`if_tsoffset`). {@link readCapture} reads either format.
 * @module
 */
import { PcapError, readPcap, type CaptureInterface, type PcapFile, type PcapRecord } from "./pcap.ts";
import { byteAt } from "../packet/bytes.ts";

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const PB = 0x00000002; // obsolete Packet Block
const SPB = 0x00000003;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Whether the bytes start like a pcapng file (a Section Header Block). */
export function isPcapng(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x0a && bytes[1] === 0x0d && bytes[2] === 0x0d && bytes[3] === 0x0a;
}

/** Reads a classic pcap or a pcapng file, whichever the bytes are. Throws {@link PcapError}. */
export function readCapture(bytes: Uint8Array): PcapFile {
  if (isPcapng(bytes)) return readPcapng(bytes);
  return { ...readPcap(bytes), format: "pcap" };
}

interface Section {
  littleEndian: boolean;
  /** Index in the file-wide interface list of this section's interface 0. */
  firstInterface: number;
  count: number;
}

/** A packet as a block holds it: timestamp in its interface's units, not yet converted. */
export interface PcapngPacket {
  /** File-wide interface index; -1 when a cut block did not say. */
  iface: number;
  units: bigint;
  origLength: number;
  data: Uint8Array;
  fileTruncated?: boolean;
}

/**
 * Reads pcapng blocks one at a time from a window of bytes, keeping the section and interface
 * state between calls: {@link readPcapng} runs it over a whole file, the streaming reader
 * (capture-stream.ts) over chunks as they arrive.
 */
export class PcapngBlockReader {
  readonly interfaces: CaptureInterface[] = [];
  /** Byte order of the first section (true until one was read). */
  firstLittleEndian = true;
  /** Packets read so far (including cut ones). */
  packets = 0;
  #section: Section | undefined;

  /**
   * Reads the block at `off` of `bytes`. Returns how many bytes it used and the packet it held, or
   * `undefined` when the block is not complete and `final` is false (more bytes may come). With
   * `final` the end of `bytes` is the end of the file: a cut block ends the read (`used` reaches the end).
   * `at` is the block's offset in the file, for error messages.
   */
  next(bytes: Uint8Array, off: number, final: boolean, at = off): { used: number; packet?: PcapngPacket } | undefined {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const section = this.#section;
    const rest = bytes.length - off;
    if (rest < 12) {
      if (!final) return undefined;
      if (rest >= 4 && isPacketType(view.getUint32(off, section?.littleEndian ?? true))) {
        return {
          used: rest,
          packet: this.#count({ iface: -1, units: 0n, origLength: 0, data: bytes.slice(off + 4), fileTruncated: true }),
        };
      }
      return { used: rest };
    }
    let type: number;
    let le: boolean;
    if (view.getUint32(off, true) === SHB) {
      // The byte-order magic decides how this section (its header's length field too) is read.
      const magic = view.getUint32(off + 8, true);
      if (magic === BYTE_ORDER_MAGIC) le = true;
      else if (magic === 0x4d3c2b1a) le = false;
      else
        throw new PcapError(
          `section header at offset ${at}: bad byte-order magic 0x${magic.toString(16).padStart(8, "0")}`,
        );
      type = SHB;
    } else {
      if (!section) throw new PcapError("the file does not start with a Section Header Block");
      le = section.littleEndian;
      type = view.getUint32(off, le);
    }
    const length = view.getUint32(off + 4, le);
    if (length < 12 || length % 4 !== 0)
      throw new PcapError(`block at offset ${at} (type 0x${type.toString(16)}): bad block length ${length}`);
    const end = off + length;
    if (end > bytes.length) {
      if (!final) return undefined;
      if (section && isPacketType(type)) {
        const p = packetOf(view, bytes, off, bytes.length, type, le, section, this.interfaces, true, at);
        if (p) return { used: rest, packet: this.#count({ ...p, fileTruncated: true }) };
      }
      return { used: rest };
    }
    if (view.getUint32(end - 4, le) !== length) {
      throw new PcapError(
        `block at offset ${at} (type 0x${type.toString(16)}): trailing length does not match ${length}`,
      );
    }
    if (type === SHB) {
      const major = view.getUint16(off + 12, le);
      if (major !== 1)
        throw new PcapError(`section header at offset ${at}: pcapng version ${major} is not supported (1)`);
      if (!section) this.firstLittleEndian = le;
      this.#section = { littleEndian: le, firstInterface: this.interfaces.length, count: 0 };
    } else if (type === IDB) {
      if (length < 20) throw new PcapError(`interface description at offset ${at}: too short`);
      const iface: CaptureInterface = {
        linkType: view.getUint16(off + 8, le),
        snapLength: view.getUint32(off + 12, le),
        unitsPerSecond: 1_000_000n,
        offsetSeconds: 0n,
      };
      for (const o of options(view, off + 16, end - 4, le)) {
        if (o.code === 2 && o.length > 0)
          iface.name = new TextDecoder().decode(bytes.subarray(o.at, o.at + o.length)).replace(/\0+$/, "");
        else if (o.code === 9 && o.length >= 1) {
          const r = byteAt(bytes, o.at);
          const exp = BigInt(r & 0x7f);
          iface.unitsPerSecond = r & 0x80 ? 1n << exp : 10n ** exp;
        } else if (o.code === 14 && o.length >= 8) iface.offsetSeconds = view.getBigInt64(o.at, le);
      }
      this.interfaces.push(iface);
      section!.count++;
    } else if (isPacketType(type)) {
      const p = packetOf(view, bytes, off, end, type, le, section!, this.interfaces, false, at);
      if (p) return { used: length, packet: this.#count(p) };
    }
    return { used: length };
  }

  /** The same record {@link readPcapng} makes, with the fraction in nanoseconds or microseconds. */
  record(p: PcapngPacket, nanosecond: boolean): PcapRecord {
    const iface = this.interfaces[p.iface];
    if (!iface) return { tsSec: 0, tsFrac: 0, origLength: p.origLength, data: p.data, fileTruncated: p.fileTruncated };
    const per = iface.unitsPerSecond;
    const sec = p.units / per + iface.offsetSeconds;
    const frac = ((p.units % per) * (nanosecond ? 1_000_000_000n : 1_000_000n)) / per;
    const rec: PcapRecord = {
      tsSec: Number(BigInt.asUintN(32, sec)),
      tsFrac: Number(frac),
      origLength: p.origLength,
      data: p.data,
      linkType: iface.linkType,
      interfaceId: p.iface,
    };
    if (p.fileTruncated) rec.fileTruncated = true;
    return rec;
  }

  #count(p: PcapngPacket): PcapngPacket {
    this.packets++;
    return p;
  }
}

/** Whether any interface records timestamps finer than microseconds (then records carry nanoseconds). */
export const needsNanoseconds = (interfaces: readonly CaptureInterface[]): boolean =>
  interfaces.some((i) => i.unitsPerSecond > 1_000_000n);

/**
 * Parses a pcapng file into the same shape as a classic one: `records` in file order, each with its
 * `interfaceId` (file-wide, across sections) and `linkType`; `interfaces` lists them all. The
 * file-level `linkType`/`snapLength`/`bigEndian` are those of the first interface and section.
 * Timestamps are converted to seconds plus a fraction in microseconds, or in nanoseconds
 * (`nanosecond: true`) when any interface records finer than microseconds. A block cut short by the
 * end of the file ends the read; a cut packet is kept and flagged `fileTruncated`.
 */
export function readPcapng(bytes: Uint8Array): PcapFile {
  if (!isPcapng(bytes)) throw new PcapError("not a pcapng file (no Section Header Block)");
  const reader = new PcapngBlockReader();
  const raw: PcapngPacket[] = [];
  for (let off = 0; off < bytes.length;) {
    const step = reader.next(bytes, off, true)!;
    if (step.packet) raw.push(step.packet);
    off += step.used;
  }
  const interfaces = reader.interfaces;
  if (interfaces.length === 0 && raw.length === 0) throw new PcapError("the pcapng file describes no interface");
  const nanosecond = needsNanoseconds(interfaces);
  const records = raw.map((p) => reader.record(p, nanosecond));
  const first = interfaces[0];
  return {
    linkType: first?.linkType ?? 0,
    nanosecond,
    bigEndian: !reader.firstLittleEndian,
    snapLength: first?.snapLength ?? 0,
    records,
    format: "pcapng",
    interfaces,
  };
}

const isPacketType = (type: number): boolean => type === EPB || type === SPB || type === PB;

/** The packet of an EPB, SPB or PB between `off` and `end` (which may be cut short by the end of the file). */
function packetOf(
  view: DataView,
  bytes: Uint8Array,
  off: number,
  end: number,
  type: number,
  le: boolean,
  section: Section,
  interfaces: CaptureInterface[],
  cut: boolean,
  at: number,
): { iface: number; units: bigint; origLength: number; data: Uint8Array } | undefined {
  const body = off + 8;
  const avail = (n: number): boolean => body + n <= end;
  if (type === SPB) {
    if (!avail(4))
      return cut ? { iface: section.firstInterface, units: 0n, origLength: 0, data: new Uint8Array(0) } : undefined;
    const origLength = view.getUint32(body, le);
    const snap = interfaces[section.firstInterface]?.snapLength || Infinity;
    const room = end - (body + 4) - (cut ? 0 : 4);
    const captured = Math.max(0, Math.min(origLength, snap, room));
    return { iface: section.firstInterface, units: 0n, origLength, data: bytes.slice(body + 4, body + 4 + captured) };
  }
  // EPB: interface (4), ts high, ts low, captured, original. PB: interface (2), drops (2), ts high, ts low, captured, original.
  if (!avail(20)) return cut ? { iface: -1, units: 0n, origLength: 0, data: new Uint8Array(0) } : undefined;
  const local = type === EPB ? view.getUint32(body, le) : view.getUint16(body, le);
  const units = (BigInt(view.getUint32(body + 4, le)) << 32n) | BigInt(view.getUint32(body + 8, le));
  const capLength = view.getUint32(body + 12, le);
  const origLength = view.getUint32(body + 16, le);
  if (local >= section.count) {
    if (cut) return { iface: -1, units, origLength, data: new Uint8Array(0) };
    throw new PcapError(
      `packet block at offset ${at}: interface ${local} is not described in its section (${section.count})`,
    );
  }
  const start = body + 20;
  const limit = cut ? end : end - 4;
  if (!cut && start + capLength > limit)
    throw new PcapError(`packet block at offset ${at}: captured length ${capLength} exceeds the block`);
  return {
    iface: section.firstInterface + local,
    units,
    origLength,
    data: bytes.slice(start, Math.min(start + capLength, limit)),
  };
}

/** The options between `from` and `to`: code, length and where the value starts. */
function* options(
  view: DataView,
  from: number,
  to: number,
  le: boolean,
): Generator<{ code: number; length: number; at: number }> {
  let o = from;
  while (o + 4 <= to) {
    const code = view.getUint16(o, le);
    const length = view.getUint16(o + 2, le);
    if (code === 0) return;
    if (o + 4 + length > to) return;
    yield { code, length, at: o + 4 };
    o += 4 + Math.ceil(length / 4) * 4;
  }
}
