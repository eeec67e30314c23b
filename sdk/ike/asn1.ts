/**
 * A small DER reader and writer (ITU-T X.690), enough for X.509 certificates, distinguished
 * names, AlgorithmIdentifiers and ECDSA signatures. The reader is total: every function returns a
 * {@link DerResult} and none throws, whatever the input, so a hostile certificate in a CERT
 * payload can only ever produce a typed error.
 * @module
 */
import { byteAt } from "../packet/bytes.ts";

/** Universal tags (first identifier octet, with the constructed bit where DER sets it). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Identifier octet of a context-specific tag `[n]` (n < 31). */
export function contextTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

/** One decoded element: identifier octet, where it starts in the outermost input, and its bytes. */
export interface Tlv {
  /** The identifier octet (class, constructed bit and tag number; only tag numbers < 31). */
  tag: number;
  /** Offset of the identifier octet in the buffer the caller first decoded. */
  offset: number;
  /** Identifier plus length octets. */
  headerLength: number;
  /** The contents octets (a view into the input, not a copy). */
  value: Uint8Array;
  /** Header and contents (a view into the input). */
  raw: Uint8Array;
}

/** What is wrong with an encoding. */
export type DerErrorCode =
  | "TRUNCATED"
  | "HIGH_TAG_NUMBER"
  | "INDEFINITE_LENGTH"
  | "LENGTH_TOO_LONG"
  | "UNEXPECTED_TAG"
  | "TRAILING_BYTES"
  | "BAD_VALUE";

/** A typed decoding failure with the byte offset it was found at. */
export interface DerError {
  code: DerErrorCode;
  offset: number;
  /** One sentence, e.g. "element at offset 4 claims 300 bytes but only 12 remain". */
  message: string;
}

/** A value or a typed error; the reader never throws. */
export type DerResult<T> = { ok: true; value: T } | { ok: false; error: DerError };

function fail<T>(code: DerErrorCode, offset: number, message: string): DerResult<T> {
  return { ok: false, error: { code, offset, message } };
}

function ok<T>(value: T): DerResult<T> {
  return { ok: true, value };
}

function wrongTag<T>(tlv: Tlv, tag: number): DerResult<T> {
  return fail(
    "UNEXPECTED_TAG",
    tlv.offset,
    `element at offset ${tlv.offset} has tag 0x${hex2(tlv.tag)}, expected 0x${hex2(tag)}`,
  );
}

/**
 * Decode the element starting at `pos` of `buf`. `base` is the offset of `buf[0]` in the
 * outermost input, so errors and {@link Tlv.offset} point into what the caller started with.
 * Long-form lengths are accepted even when not minimal (signatures cover the raw bytes, so this
 * cannot change what is verified); indefinite lengths and tag numbers >= 31 are refused.
 */
export function readTlv(buf: Uint8Array, pos = 0, base = 0): DerResult<Tlv> {
  const at = base + pos;
  if (pos >= buf.length) return fail("TRUNCATED", at, `expected an element at offset ${at}, input ends there`);
  const tag = byteAt(buf, pos);
  if ((tag & 0x1f) === 0x1f)
    return fail("HIGH_TAG_NUMBER", at, `element at offset ${at} uses a multi-byte tag number, which X.509 never needs`);
  if (pos + 1 >= buf.length) return fail("TRUNCATED", at, `element at offset ${at} has no length octet`);
  let len = byteAt(buf, pos + 1);
  let header = 2;
  if (len === 0x80)
    return fail("INDEFINITE_LENGTH", at, `element at offset ${at} has an indefinite length, which DER forbids`);
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4) return fail("LENGTH_TOO_LONG", at, `element at offset ${at} has a ${n}-octet length field`);
    if (pos + 2 + n > buf.length)
      return fail("TRUNCATED", at, `length field of the element at offset ${at} is cut off`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + byteAt(buf, pos + 2 + i);
    header = 2 + n;
  }
  const end = pos + header + len;
  if (end > buf.length) {
    return fail(
      "TRUNCATED",
      at,
      `element at offset ${at} claims ${len} bytes but only ${buf.length - pos - header} remain`,
    );
  }
  return ok({
    tag,
    offset: at,
    headerLength: header,
    value: buf.subarray(pos + header, end),
    raw: buf.subarray(pos, end),
  });
}

/** Decode `buf` as exactly one element (optionally of tag `tag`), with nothing after it. */
export function readOne(buf: Uint8Array, tag?: number, base = 0): DerResult<Tlv> {
  const r = readTlv(buf, 0, base);
  if (!r.ok) return r;
  if (r.value.raw.length !== buf.length) {
    return fail(
      "TRAILING_BYTES",
      base + r.value.raw.length,
      `${buf.length - r.value.raw.length} bytes follow the element at offset ${base}`,
    );
  }
  return tag === undefined ? r : expectTag(r.value, tag);
}

/** The elements inside a constructed element, in order. */
export function readChildren(parent: Tlv): DerResult<Tlv[]> {
  if ((parent.tag & 0x20) === 0)
    return fail(
      "UNEXPECTED_TAG",
      parent.offset,
      `element at offset ${parent.offset} is primitive, expected a constructed one`,
    );
  const out: Tlv[] = [];
  const base = parent.offset + parent.headerLength;
  let pos = 0;
  while (pos < parent.value.length) {
    const r = readTlv(parent.value, pos, base);
    if (!r.ok) return r;
    out.push(r.value);
    pos += r.value.raw.length;
  }
  return ok(out);
}

/** `tlv` if its identifier octet is `tag`, else an UNEXPECTED_TAG error. */
export function expectTag(tlv: Tlv, tag: number): DerResult<Tlv> {
  return tlv.tag === tag ? ok(tlv) : wrongTag(tlv, tag);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** An OBJECT IDENTIFIER's contents as dotted decimal ("1.2.840.113549.1.1.11"). */
export function decodeOid(tlv: Tlv): DerResult<string> {
  const v = tlv.value;
  if (tlv.tag !== Tag.OID) return wrongTag(tlv, Tag.OID);
  if (v.length === 0 || (byteAt(v, v.length - 1) & 0x80) !== 0)
    return fail("BAD_VALUE", tlv.offset, `OBJECT IDENTIFIER at offset ${tlv.offset} is empty or cut off`);
  const arcs: bigint[] = [];
  let acc = 0n;
  let start = true;
  for (const b of v) {
    if (start && b === 0x80)
      return fail("BAD_VALUE", tlv.offset, `OBJECT IDENTIFIER at offset ${tlv.offset} has a non-minimal arc`);
    acc = (acc << 7n) | BigInt(b & 0x7f);
    start = (b & 0x80) === 0;
    if (start) {
      arcs.push(acc);
      acc = 0n;
    }
  }
  const first = arcs[0];
  if (first === undefined)
    return fail("BAD_VALUE", tlv.offset, `OBJECT IDENTIFIER at offset ${tlv.offset} has no arcs`);
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return ok([...head, ...arcs.slice(1)].join("."));
}

/** An INTEGER's magnitude, big-endian, without the sign octet DER adds to positive values. */
export function decodeUnsigned(tlv: Tlv): DerResult<Uint8Array> {
  if (tlv.tag !== Tag.INTEGER) return wrongTag(tlv, Tag.INTEGER);
  const v = tlv.value;
  if (v.length === 0) return fail("BAD_VALUE", tlv.offset, `INTEGER at offset ${tlv.offset} has no contents`);
  if ((byteAt(v, 0) & 0x80) !== 0) return fail("BAD_VALUE", tlv.offset, `INTEGER at offset ${tlv.offset} is negative`);
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return ok(v.subarray(i));
}

/** A small non-negative INTEGER (up to 2^48) as a number. */
export function decodeSmallInt(tlv: Tlv): DerResult<number> {
  const r = decodeUnsigned(tlv);
  if (!r.ok) return r;
  if (r.value.length > 6) return fail("BAD_VALUE", tlv.offset, `INTEGER at offset ${tlv.offset} is too large here`);
  let n = 0;
  for (const b of r.value) n = n * 256 + b;
  return ok(n);
}

/** A BOOLEAN (DER: 0x00 or 0xff; any nonzero octet is accepted as true). */
export function decodeBoolean(tlv: Tlv): DerResult<boolean> {
  if (tlv.tag !== Tag.BOOLEAN) return wrongTag(tlv, Tag.BOOLEAN);
  if (tlv.value.length !== 1)
    return fail("BAD_VALUE", tlv.offset, `BOOLEAN at offset ${tlv.offset} is ${tlv.value.length} bytes, not 1`);
  return ok(tlv.value[0] !== 0);
}

/** A BIT STRING's bytes and its count of unused trailing bits. */
export function decodeBitString(tlv: Tlv): DerResult<{ unusedBits: number; bytes: Uint8Array }> {
  if (tlv.tag !== Tag.BIT_STRING) return wrongTag(tlv, Tag.BIT_STRING);
  const v = tlv.value;
  if (v.length === 0 || byteAt(v, 0) > 7 || (v.length === 1 && v[0] !== 0)) {
    return fail("BAD_VALUE", tlv.offset, `BIT STRING at offset ${tlv.offset} has a bad unused-bits octet`);
  }
  return ok({ unusedBits: byteAt(v, 0), bytes: v.subarray(1) });
}

/** UTCTime (YYMMDDHHMMSSZ, years 1950..2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), as RFC 5280 §4.1.2.5 requires. */
export function decodeTime(tlv: Tlv): DerResult<Date> {
  const s = latin1(tlv.value);
  let m: RegExpMatchArray | null;
  let year: number;
  if (tlv.tag === Tag.UTC_TIME && (m = s.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (tlv.tag === Tag.GENERALIZED_TIME && (m = s.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
    year = Number(m[1]);
  } else {
    return fail(
      "BAD_VALUE",
      tlv.offset,
      `time at offset ${tlv.offset} is not a UTCTime or GeneralizedTime of the form RFC 5280 requires`,
    );
  }
  const field = (i: number): number => Number(m[i]);
  const [mo, d, h, mi, se] = [field(2), field(3), field(4), field(5), field(6)] as const;
  const t = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(t);
  // Date.UTC rolls 31 February over into March; a round trip catches impossible dates.
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    return fail("BAD_VALUE", tlv.offset, `time at offset ${tlv.offset} ("${s}") is not a valid date`);
  }
  return ok(back);
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/** A directory string (Printable, IA5, T61, UTF8, BMP or Universal) as text. */
export function decodeString(tlv: Tlv): DerResult<string> {
  const v = tlv.value;
  switch (tlv.tag) {
    case Tag.PRINTABLE_STRING:
    case Tag.IA5_STRING:
    case Tag.T61_STRING:
      return ok(latin1(v));
    case Tag.UTF8_STRING:
      try {
        return ok(new TextDecoder("utf-8", { fatal: true }).decode(v));
      } catch {
        return fail("BAD_VALUE", tlv.offset, `UTF8String at offset ${tlv.offset} is not valid UTF-8`);
      }
    case Tag.BMP_STRING:
    case Tag.UNIVERSAL_STRING: {
      const w = tlv.tag === Tag.BMP_STRING ? 2 : 4;
      if (v.length % w !== 0)
        return fail(
          "BAD_VALUE",
          tlv.offset,
          `string at offset ${tlv.offset} has a length that is not a multiple of ${w}`,
        );
      let s = "";
      for (let i = 0; i < v.length; i += w) {
        const cp =
          w === 2
            ? (byteAt(v, i) << 8) | byteAt(v, i + 1)
            : ((byteAt(v, i) << 24) | (byteAt(v, i + 1) << 16) | (byteAt(v, i + 2) << 8) | byteAt(v, i + 3)) >>> 0;
        if (cp > 0x10ffff)
          return fail("BAD_VALUE", tlv.offset, `UniversalString at offset ${tlv.offset} has an invalid code point`);
        s += String.fromCodePoint(cp);
      }
      return ok(s);
    }
    default:
      return fail(
        "UNEXPECTED_TAG",
        tlv.offset,
        `element at offset ${tlv.offset} (tag 0x${hex2(tlv.tag)}) is not a string`,
      );
  }
}

// ---- writer ----

/** DER length octets for `n`. */
export function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One element: identifier octet, length, and the concatenated contents. */
export function encodeTlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const len = contents.reduce((n, c) => n + c.length, 0);
  const lenBytes = encodeLength(len);
  const out = new Uint8Array(1 + lenBytes.length + len);
  out[0] = tag;
  out.set(lenBytes, 1);
  let pos = 1 + lenBytes.length;
  for (const c of contents) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/** SEQUENCE of the given encoded elements. */
export function encodeSequence(...elements: Uint8Array[]): Uint8Array {
  return encodeTlv(Tag.SEQUENCE, ...elements);
}

/** SET of the given encoded elements, in the order given (callers pass one element or sorted ones). */
export function encodeSet(...elements: Uint8Array[]): Uint8Array {
  return encodeTlv(Tag.SET, ...elements);
}

/** NULL. */
export function encodeNull(): Uint8Array {
  return Uint8Array.of(Tag.NULL, 0);
}

/** OBJECT IDENTIFIER from dotted decimal; throws on a malformed string (callers pass constants). */
export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`"${dotted}" is not a dotted OID`);
    return BigInt(a);
  });
  const [a0, a1, ...rest] = arcs;
  if (a0 === undefined || a1 === undefined || a0 > 2n || (a0 < 2n && a1 >= 40n))
    throw new Error(`"${dotted}" is not a valid OID`);
  const body: number[] = [];
  for (const arc of [a0 * 40n + a1, ...rest]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    body.push(...chunk);
  }
  return encodeTlv(Tag.OID, Uint8Array.from(body));
}

/** INTEGER from a non-negative number or a big-endian magnitude (a sign octet is added when needed). */
export function encodeUnsigned(value: number | Uint8Array): Uint8Array {
  let mag: Uint8Array;
  if (typeof value === "number") {
    const b: number[] = [];
    for (let v = value; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
    mag = Uint8Array.from(b);
  } else {
    let i = 0;
    while (i < value.length && value[i] === 0) i++;
    mag = value.subarray(i);
  }
  if (mag.length === 0) return Uint8Array.of(Tag.INTEGER, 1, 0);
  return (byteAt(mag, 0) & 0x80) !== 0 ? encodeTlv(Tag.INTEGER, Uint8Array.of(0), mag) : encodeTlv(Tag.INTEGER, mag);
}

/** OCTET STRING. */
export function encodeOctetString(bytes: Uint8Array): Uint8Array {
  return encodeTlv(Tag.OCTET_STRING, bytes);
}

/** A string type (PrintableString, IA5String, UTF8String...) holding `text` as UTF-8 octets. */
export function encodeString(tag: number, text: string): Uint8Array {
  return encodeTlv(tag, new TextEncoder().encode(text));
}
