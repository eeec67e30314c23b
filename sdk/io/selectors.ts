/**
 * Traffic selectors compiled for the packet worker: which outbound Child SA an inner packet from
 * the TUN belongs to (its source in the local selectors, its destination in the remote ones, as
 * an XFRM policy matches), and whether a decapsulated packet is allowed in (RFC 4301 §5.2: the
 * inner addresses must match the SA's selectors). Reads the IP header in place; no allocation.
 * @module
 */
import type { TrafficSelector } from "../ike/message.ts";
import { byteAt } from "../packet/bytes.ts";

/** A selector as the worker receives it (structured-clone friendly). */
export interface WireTs {
  /** 4 or 16 bytes each. */
  start: Uint8Array;
  end: Uint8Array;
  /** 0 = any. */
  proto: number;
  startPort: number;
  endPort: number;
}

/** Converts negotiated selectors for the worker. */
export function wireTs(list: readonly TrafficSelector[]): WireTs[] {
  return list.map((t) => ({
    start: t.start.slice(),
    end: t.end.slice(),
    proto: t.ipProtocol,
    startPort: t.startPort,
    endPort: t.endPort,
  }));
}

/** A compiled selector: IPv4 bounds as numbers, IPv6 as bytes. */
export interface CompiledTs {
  v6: boolean;
  lo: number;
  hi: number;
  start: Uint8Array;
  end: Uint8Array;
  proto: number;
  startPort: number;
  endPort: number;
  anyPort: boolean;
}

const u32 = (b: Uint8Array, o: number): number =>
  ((byteAt(b, o) << 24) | (byteAt(b, o + 1) << 16) | (byteAt(b, o + 2) << 8) | byteAt(b, o + 3)) >>> 0;

/** Compiles selectors received from the main thread. */
export function compileTs(list: readonly WireTs[]): CompiledTs[] {
  return list.map((t) => ({
    v6: t.start.length === 16,
    lo: t.start.length === 4 ? u32(t.start, 0) : 0,
    hi: t.end.length === 4 ? u32(t.end, 0) : 0,
    start: t.start,
    end: t.end,
    proto: t.proto,
    startPort: t.startPort,
    endPort: t.endPort,
    anyPort: t.startPort === 0 && t.endPort === 65535,
  }));
}

/** Compares 16 bytes of `p` at `off` with `ref`: <0, 0, >0. */
function cmp16(p: Uint8Array, off: number, ref: Uint8Array): number {
  for (let i = 0; i < 16; i++) {
    const d = byteAt(p, off + i) - byteAt(ref, i);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Whether one side of packet `p` (`len` bytes) matches one of `list`: `dst` true tests the
 * destination address and port, false the source.
 */
export function matchTs(p: Uint8Array, len: number, list: readonly CompiledTs[], dst: boolean): boolean {
  const v = byteAt(p, 0) >> 4;
  let proto: number, l4: number;
  if (v === 4) {
    if (len < 20) return false;
    proto = byteAt(p, 9);
    // Ports only exist in the first fragment.
    l4 = ((byteAt(p, 6) & 0x1f) | byteAt(p, 7)) === 0 ? (byteAt(p, 0) & 15) * 4 : -1;
  } else if (v === 6) {
    if (len < 40) return false;
    proto = byteAt(p, 6);
    l4 = 40;
  } else {
    return false;
  }
  for (const t of list) {
    if (t.v6 !== (v === 6)) continue;
    if (v === 4) {
      const a = u32(p, dst ? 16 : 12);
      if (a < t.lo || a > t.hi) continue;
    } else {
      const off = dst ? 24 : 8;
      if (cmp16(p, off, t.start) < 0 || cmp16(p, off, t.end) > 0) continue;
    }
    if (t.proto !== 0 && t.proto !== proto) continue;
    if (!t.anyPort) {
      if (l4 < 0 || l4 + 4 > len || (proto !== 6 && proto !== 17 && proto !== 132)) continue;
      const port = (byteAt(p, l4 + (dst ? 2 : 0)) << 8) | byteAt(p, l4 + (dst ? 3 : 1));
      if (port < t.startPort || port > t.endPort) continue;
    }
    return true;
  }
  return false;
}
