/**
 * IKEv2 wire codec (RFC 7296 §3, RFC 7383 §2.5 for SKF): bytes to the message model of
 * message.ts and back.
 *
 * Decoding is total: every byte string gives `{ ok: true }` or a typed error naming what is wrong
 * and where; nothing throws and every length is checked against the bytes that are really there
 * before it is used. Encoding is canonical (reserved bits zero, lengths computed, "last/more"
 * markers 0/2 for proposals and 0/3 for transforms, the key length attribute in TV form), so
 * `encode(decode(bytes))` returns `bytes` for any canonical input. Encoding throws `RangeError`
 * only for models that cannot be put on the wire (a 3-byte IKE SPI, an SK payload that is not
 * last, a field that does not fit its width).
 * @module
 */
import type {
  ConfigAttribute,
  IkeHeader,
  IkeMessage,
  IkeParseError,
  IkeParseErrorCode,
  ParseResult,
  Payload,
  PayloadName,
  Proposal,
  TrafficSelector,
  Transform,
} from "./message.ts";
import { ATTR_KEY_LENGTH, PayloadType, ProtocolId, TsType } from "./message.ts";
import { byteAt } from "../packet/bytes.ts";

/** Length of the fixed IKE header (RFC 7296 §3.1). */
export const IKE_HEADER_LENGTH = 28;
/** Length of the generic payload header (RFC 7296 §3.2). */
export const PAYLOAD_HEADER_LENGTH = 4;
/** Length of the SKF payload header: generic header, fragment number, total fragments (RFC 7383 §2.5). */
export const SKF_HEADER_LENGTH = 8;

// Nonce size bounds of RFC 7296 §3.9 ("at least 128 bits", "at most 256 octets").
const NONCE_MIN = 16;
const NONCE_MAX = 256;
const CRITICAL_BIT = 0x80;
const ATTR_TV_BIT = 0x8000;
const PROPOSAL_LAST = 0;
const PROPOSAL_MORE = 2;
const TRANSFORM_LAST = 0;
const TRANSFORM_MORE = 3;

type KnownName = Exclude<PayloadName, "UNKNOWN">;

const TYPE_NUMBER: Readonly<Record<KnownName, number>> = {
  SA: PayloadType.SA,
  KE: PayloadType.KE,
  IDi: PayloadType.IDi,
  IDr: PayloadType.IDr,
  CERT: PayloadType.CERT,
  CERTREQ: PayloadType.CERTREQ,
  AUTH: PayloadType.AUTH,
  NONCE: PayloadType.NONCE,
  N: PayloadType.N,
  D: PayloadType.D,
  V: PayloadType.V,
  TSi: PayloadType.TSi,
  TSr: PayloadType.TSr,
  SK: PayloadType.SK,
  CP: PayloadType.CP,
  EAP: PayloadType.EAP,
  SKF: PayloadType.SKF,
};

const TYPE_NAME: ReadonlyMap<number, KnownName> = new Map(
  (Object.entries(TYPE_NUMBER) as [KnownName, number][]).map(([name, n]) => [n, name]),
);

/** The payload type number that goes on the wire for a payload (its `payloadType` for UNKNOWN). */
export function payloadTypeNumber(p: Payload): number {
  return p.type === "UNKNOWN" ? p.payloadType : TYPE_NUMBER[p.type];
}

// ---------------------------------------------------------------- decoding helpers

type Failure = { ok: false; error: IkeParseError };

function fail(code: IkeParseErrorCode, offset: number, message: string, extra?: Partial<IkeParseError>): Failure {
  return { ok: false, error: { code, offset, message, ...extra } };
}

function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

/** Part of the input, copied: decoded values never alias the caller's buffer. */
const copy = (b: Uint8Array, start = 0, end = b.length): Uint8Array => b.slice(start, end);

/**
 * The input as a plain Uint8Array view. A Node Buffer's slice() does not copy and its subarrays are
 * Buffers; viewing it as a Uint8Array first makes every decoded value a plain, independent copy.
 */
const plain = (b: Uint8Array): Uint8Array =>
  Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

const be16 = (b: Uint8Array, o: number): number => (byteAt(b, o) << 8) | byteAt(b, o + 1);
const be32 = (b: Uint8Array, o: number): number =>
  ((byteAt(b, o) << 24) | (byteAt(b, o + 1) << 16) | (byteAt(b, o + 2) << 8) | byteAt(b, o + 3)) >>> 0;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/** How a payload is named in error messages: its short name, or its number when unknown. */
function label(type: number): string {
  const name = TYPE_NAME.get(type);
  return name === undefined ? `payload of type ${type}` : `${name} payload`;
}

/**
 * Where one payload sits. Its description ("TSi payload at offset 120") is only built when an
 * error needs it: decoding a valid message builds no strings.
 */
class Site {
  readonly type: number;
  /** Absolute offset of the payload's generic header. */
  readonly at: number;
  constructor(type: number, at: number) {
    this.type = type;
    this.at = at;
  }
  /** Absolute offset of the payload body, just after the generic header. */
  get body(): number {
    return this.at + PAYLOAD_HEADER_LENGTH;
  }
  get what(): string {
    return `${label(this.type)} at offset ${this.at}`;
  }
}

/**
 * A proposal or transform inside a payload, for error messages ("SA payload at offset 28: proposal
 * 1 at offset 32: transform 2 at offset 48"): the text is built only when an error needs it.
 */
class Place {
  readonly parent: Site | Place;
  readonly kind: string;
  readonly n: number;
  readonly at: number;
  constructor(parent: Site | Place, kind: string, n: number, at: number) {
    this.parent = parent;
    this.kind = kind;
    this.n = n;
    this.at = at;
  }
  text(): string {
    const outer = this.parent instanceof Site ? this.parent.what : this.parent.text();
    return `${outer}: ${this.kind} ${this.n} at offset ${this.at}`;
  }
}

function tooShort(site: Site, bodyLength: number, minimum: number, detail: string): Failure {
  const total = PAYLOAD_HEADER_LENGTH + bodyLength;
  return fail(
    "BAD_PAYLOAD_LENGTH",
    site.at,
    `${site.what} is ${plural(total, "byte")}, shorter than its ${minimum}-byte minimum (${detail})`,
  );
}

// ---------------------------------------------------------------- header

/** Decodes the 28-byte IKE header at the start of `buf`; `buf` must be the whole message (its length is checked). */
export function decodeHeader(input: Uint8Array): ParseResult<IkeHeader> {
  const buf = plain(input);
  if (buf.length < IKE_HEADER_LENGTH) {
    return fail(
      "TOO_SHORT",
      buf.length,
      `an IKE message needs a ${IKE_HEADER_LENGTH}-byte header but only ${plural(buf.length, "byte")} arrived`,
    );
  }
  const majorVersion = byteAt(buf, 17) >> 4;
  if (majorVersion !== 2) {
    const hint = majorVersion === 1 ? " (IKEv1)" : "";
    return fail(
      "UNSUPPORTED_VERSION",
      17,
      `IKE header at offset 0 has major version ${majorVersion}${hint}; only IKEv2 is supported`,
      { majorVersion },
    );
  }
  const length = be32(buf, 24);
  if (length !== buf.length) {
    return fail(
      "BAD_LENGTH",
      24,
      `IKE header says the message is ${plural(length, "byte")} but ${plural(buf.length, "byte")} arrived`,
    );
  }
  return ok({
    spiI: copy(buf, 0, 8),
    spiR: copy(buf, 8, 16),
    nextPayload: byteAt(buf, 16),
    majorVersion,
    minorVersion: byteAt(buf, 17) & 0x0f,
    exchange: byteAt(buf, 18),
    flags: byteAt(buf, 19),
    messageId: be32(buf, 20),
    length,
  });
}

/** Decodes a whole IKE message: header and outer payload chain (ending in SK/SKF for encrypted messages). */
export function decodeMessage(input: Uint8Array): ParseResult<IkeMessage> {
  const buf = plain(input);
  const header = decodeHeader(buf);
  if (!header.ok) return header;
  const payloads = decodeChain(buf, IKE_HEADER_LENGTH, header.value.nextPayload, 0);
  if (!payloads.ok) return payloads;
  return ok({ header: header.value, payloads: payloads.value });
}

/**
 * Decodes a payload chain that starts with a payload of type `firstType` and fills `buf` exactly
 * (e.g. the decrypted contents of SK). Error offsets are offsets in `buf` plus `baseOffset`.
 */
export function decodePayloads(buf: Uint8Array, firstType: number, baseOffset = 0): ParseResult<Payload[]> {
  return decodeChain(plain(buf), 0, firstType, baseOffset);
}

function decodeChain(buf: Uint8Array, start: number, firstType: number, base: number): ParseResult<Payload[]> {
  const payloads: Payload[] = [];
  let type = firstType;
  let off = start;
  // Every payload is at least 4 bytes long, so the loop ends after at most buf.length / 4 rounds.
  while (type !== PayloadType.NONE) {
    const at = base + off;
    const site = new Site(type, at);
    const left = buf.length - off;
    if (left < PAYLOAD_HEADER_LENGTH) {
      const why = left === 0 ? "the message ends there" : `only ${plural(left, "byte")} remain`;
      return fail(
        "BAD_PAYLOAD_LENGTH",
        base + buf.length,
        `${site.what} needs a ${PAYLOAD_HEADER_LENGTH}-byte header but ${why}`,
      );
    }
    const next = byteAt(buf, off);
    const critical = (byteAt(buf, off + 1) & CRITICAL_BIT) !== 0;
    const length = be16(buf, off + 2);
    if (length < PAYLOAD_HEADER_LENGTH) {
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at + 2,
        `${site.what} claims a length of ${length}, less than its ${PAYLOAD_HEADER_LENGTH}-byte header`,
      );
    }
    if (length > left) {
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at + 2,
        `${site.what} claims ${plural(length, "byte")} but only ${plural(left, "byte")} remain`,
      );
    }
    const decoded = decodeBody(type, next, buf.subarray(off + PAYLOAD_HEADER_LENGTH, off + length), site);
    if (!decoded.ok) return decoded;
    const payload = decoded.value;
    if (payload.type === "UNKNOWN") payload.critical = critical;
    else if (critical) payload.critical = true;
    payloads.push(payload);
    off += length;
    if (type === PayloadType.SK || type === PayloadType.SKF) {
      // Its next-payload field names the first inner payload, so SK/SKF must end the chain (RFC 7296 §3.14).
      if (off !== buf.length) {
        return fail(
          "TRAILING_BYTES",
          base + off,
          `${site.what} must be the last payload but ${plural(buf.length - off, "byte")} follow it`,
        );
      }
      return ok(payloads);
    }
    type = next;
  }
  if (off !== buf.length) {
    const last = payloads.length === 0 ? "the header" : "the last payload";
    return fail(
      "TRAILING_BYTES",
      base + off,
      `${plural(buf.length - off, "byte")} follow ${last} (next payload 0) at offset ${base + off}`,
    );
  }
  return ok(payloads);
}

function decodeBody(type: number, next: number, body: Uint8Array, site: Site): ParseResult<Payload> {
  const name = TYPE_NAME.get(type);
  switch (name) {
    case "SA":
      return decodeSa(body, site);
    case "KE":
      if (body.length < 4) return tooShort(site, body.length, 8, "DH group and reserved field");
      return ok({ type: "KE", group: be16(body, 0), data: copy(body, 4) });
    case "IDi":
    case "IDr":
      if (body.length < 4) return tooShort(site, body.length, 8, "ID type and reserved field");
      return ok({ type: name, idType: byteAt(body, 0), data: copy(body, 4) });
    case "CERT":
    case "CERTREQ":
      if (body.length < 1) return tooShort(site, body.length, 5, "encoding field");
      return ok({ type: name, encoding: byteAt(body, 0), data: copy(body, 1) });
    case "AUTH":
      if (body.length < 4) return tooShort(site, body.length, 8, "auth method and reserved field");
      return ok({ type: "AUTH", method: byteAt(body, 0), data: copy(body, 4) });
    case "NONCE":
      if (body.length < NONCE_MIN || body.length > NONCE_MAX) {
        return fail(
          "BAD_PAYLOAD",
          site.body,
          `${site.what} carries a ${body.length}-byte nonce; RFC 7296 §3.9 allows ${NONCE_MIN} to ${NONCE_MAX}`,
        );
      }
      return ok({ type: "NONCE", data: copy(body) });
    case "N":
      return decodeNotify(body, site);
    case "D":
      return decodeDelete(body, site);
    case "V":
      return ok({ type: "V", data: copy(body) });
    case "TSi":
    case "TSr":
      return decodeTs(name, body, site);
    case "CP":
      return decodeCp(body, site);
    case "EAP":
      return decodeEap(body, site);
    case "SK":
      return ok({ type: "SK", innerType: next, body: copy(body) });
    case "SKF":
      return decodeSkf(next, body, site);
    case undefined:
      return ok({ type: "UNKNOWN", payloadType: type, data: copy(body) });
  }
}

// ---------------------------------------------------------------- SA (proposals, transforms, attributes)

function decodeSa(body: Uint8Array, site: Site): ParseResult<Payload> {
  if (body.length === 0) return fail("BAD_PAYLOAD", site.body, `${site.what} holds no proposal`);
  const proposals: Proposal[] = [];
  let o = 0;
  for (let n = 1; o < body.length; n++) {
    const at = site.body + o;
    const where = new Place(site, "proposal", n, at);
    const left = body.length - o;
    if (left < 8)
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at,
        `${where.text()} needs an 8-byte header but only ${plural(left, "byte")} remain`,
      );
    const lastMore = body[o];
    const length = be16(body, o + 2);
    const protocolId = byteAt(body, o + 5);
    const spiSize = byteAt(body, o + 6);
    const transformCount = byteAt(body, o + 7);
    if (lastMore !== PROPOSAL_LAST && lastMore !== PROPOSAL_MORE) {
      return fail(
        "BAD_PAYLOAD",
        at,
        `${where.text()} has last/more field ${lastMore}; RFC 7296 §3.3.1 allows 0 (last) or 2 (more)`,
      );
    }
    if (length < 8 + spiSize) {
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at + 2,
        `${where.text()} claims ${plural(length, "byte")}, less than its 8-byte header and ${spiSize}-byte SPI`,
      );
    }
    if (length > left) {
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at + 2,
        `${where.text()} claims ${plural(length, "byte")} but only ${plural(left, "byte")} remain in the payload`,
      );
    }
    const isLast = length === left;
    if (isLast !== (lastMore === PROPOSAL_LAST)) {
      const why = isLast
        ? "is marked 'more' but nothing follows it"
        : `is marked last but ${plural(left - length, "byte")} follow it`;
      return fail("BAD_PAYLOAD", at, `${where.text()} ${why}`);
    }
    const spiProblem = proposalSpiProblem(protocolId, spiSize);
    if (spiProblem !== undefined) return fail("BAD_PAYLOAD", at + 6, `${where.text()} ${spiProblem}`);
    const spi = copy(body, o + 8, o + 8 + spiSize);
    const transforms = decodeTransforms(body.subarray(o + 8 + spiSize, o + length), at + 8 + spiSize, where);
    if (!transforms.ok) return transforms;
    if (transforms.value.length !== transformCount) {
      return fail(
        "BAD_PAYLOAD",
        at + 7,
        `${where.text()} says it has ${plural(transformCount, "transform")} but holds ${transforms.value.length}`,
      );
    }
    proposals.push({ num: byteAt(body, o + 4), protocolId, spi, transforms: transforms.value });
    o += length;
  }
  return ok({ type: "SA", proposals });
}

/** SPI sizes of RFC 7296 §3.3.1: none in IKE_SA_INIT, 8 for an IKE rekey, 4 for AH and ESP. */
function proposalSpiProblem(protocolId: number, spiSize: number): string | undefined {
  if (protocolId === ProtocolId.IKE) {
    return spiSize === 0 || spiSize === 8
      ? undefined
      : `is for IKE with a ${spiSize}-byte SPI; IKE SPIs are 0 or 8 bytes`;
  }
  if (protocolId === ProtocolId.ESP || protocolId === ProtocolId.AH) {
    const proto = protocolId === ProtocolId.ESP ? "ESP" : "AH";
    return spiSize === 4 ? undefined : `is for ${proto} with a ${spiSize}-byte SPI; ${proto} SPIs are 4 bytes`;
  }
  return spiSize === 0 || spiSize === 4 || spiSize === 8
    ? undefined
    : `has a ${spiSize}-byte SPI; SPIs are 0, 4 or 8 bytes`;
}

function decodeTransforms(buf: Uint8Array, base: number, owner: Place): ParseResult<Transform[]> {
  const transforms: Transform[] = [];
  let o = 0;
  for (let n = 1; o < buf.length; n++) {
    const at = base + o;
    const where = new Place(owner, "transform", n, at);
    const left = buf.length - o;
    if (left < 8)
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at,
        `${where.text()} needs an 8-byte header but only ${plural(left, "byte")} remain`,
      );
    const lastMore = buf[o];
    const length = be16(buf, o + 2);
    if (lastMore !== TRANSFORM_LAST && lastMore !== TRANSFORM_MORE) {
      return fail(
        "BAD_PAYLOAD",
        at,
        `${where.text()} has last/more field ${lastMore}; RFC 7296 §3.3.2 allows 0 (last) or 3 (more)`,
      );
    }
    if (length < 8)
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at + 2,
        `${where.text()} claims ${plural(length, "byte")}, less than its 8-byte header`,
      );
    if (length > left) {
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at + 2,
        `${where.text()} claims ${plural(length, "byte")} but only ${plural(left, "byte")} remain in the proposal`,
      );
    }
    const isLast = length === left;
    if (isLast !== (lastMore === TRANSFORM_LAST)) {
      const why = isLast
        ? "is marked 'more' but nothing follows it"
        : `is marked last but ${plural(left - length, "byte")} follow it`;
      return fail("BAD_PAYLOAD", at, `${where.text()} ${why}`);
    }
    const transform: Transform = { type: byteAt(buf, o + 4), id: be16(buf, o + 6) };
    const keyLength = decodeKeyLength(buf.subarray(o + 8, o + length), at + 8, where);
    if (!keyLength.ok) return keyLength;
    if (keyLength.value !== undefined) transform.keyLength = keyLength.value;
    transforms.push(transform);
    o += length;
  }
  return ok(transforms);
}

/** Transform attributes (RFC 7296 §3.3.5): only the key length (type 14, TV form) exists in IKEv2. */
function decodeKeyLength(buf: Uint8Array, base: number, owner: Place): ParseResult<number | undefined> {
  let keyLength: number | undefined;
  let o = 0;
  while (o < buf.length) {
    const at = base + o;
    const left = buf.length - o;
    if (left < 4)
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at,
        `${owner.text()}: attribute at offset ${at} needs 4 bytes but only ${plural(left, "byte")} remain`,
      );
    const word = be16(buf, o);
    const attrType = word & ~ATTR_TV_BIT;
    const tv = (word & ATTR_TV_BIT) !== 0;
    const size = tv ? 4 : 4 + be16(buf, o + 2);
    if (size > left) {
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at + 2,
        `${owner.text()}: attribute ${attrType} at offset ${at} claims ${plural(size - 4, "value byte")} but only ${plural(left - 4, "byte")} remain`,
      );
    }
    if (attrType !== ATTR_KEY_LENGTH) {
      return fail(
        "BAD_PAYLOAD",
        at,
        `${owner.text()}: attribute type ${attrType} at offset ${at} is not the key length (14), the only transform attribute IKEv2 defines`,
      );
    }
    if (!tv)
      return fail(
        "BAD_PAYLOAD",
        at,
        `${owner.text()}: key length attribute at offset ${at} is in TLV form; RFC 7296 §3.3.5 requires TV`,
      );
    if (keyLength !== undefined)
      return fail("BAD_PAYLOAD", at, `${owner.text()}: second key length attribute at offset ${at}`);
    keyLength = be16(buf, o + 2);
    o += size;
  }
  return ok(keyLength);
}

// ---------------------------------------------------------------- N, D, TS, CP, EAP, SKF

function decodeNotify(body: Uint8Array, site: Site): ParseResult<Payload> {
  if (body.length < 4) return tooShort(site, body.length, 8, "protocol, SPI size and notify type");
  const spiSize = byteAt(body, 1);
  if (body.length < 4 + spiSize) return tooShort(site, body.length, 8 + spiSize, `its SPI size field says ${spiSize}`);
  return ok({
    type: "N",
    protocolId: byteAt(body, 0),
    spi: copy(body, 4, 4 + spiSize),
    notifyType: be16(body, 2),
    data: copy(body, 4 + spiSize),
  });
}

function decodeDelete(body: Uint8Array, site: Site): ParseResult<Payload> {
  if (body.length < 4) return tooShort(site, body.length, 8, "protocol, SPI size and SPI count");
  const protocolId = byteAt(body, 0);
  const spiSize = byteAt(body, 1);
  const count = be16(body, 2);
  // RFC 7296 §3.11: the IKE SA is named by the header's SPIs, child SAs by 4-byte SPIs.
  const expected =
    protocolId === ProtocolId.IKE ? 0 : protocolId === ProtocolId.ESP || protocolId === ProtocolId.AH ? 4 : -1;
  if (expected < 0)
    return fail(
      "BAD_PAYLOAD",
      site.body,
      `${site.what} names protocol ${protocolId}; only 1 (IKE), 2 (AH) and 3 (ESP) can be deleted`,
    );
  if (spiSize !== expected)
    return fail(
      "BAD_PAYLOAD",
      site.body + 1,
      `${site.what} has SPI size ${spiSize} for protocol ${protocolId}, which needs ${expected}`,
    );
  const need = spiSize * count;
  if (body.length - 4 !== need) {
    return fail(
      "BAD_PAYLOAD_LENGTH",
      site.body + 2,
      `${site.what} lists ${plural(count, "SPI")} of ${spiSize} bytes (${need} bytes) but ${plural(body.length - 4, "byte")} follow`,
    );
  }
  const spis: Uint8Array[] = [];
  for (let i = 0; i < count; i++) spis.push(copy(body, 4 + i * spiSize, 4 + (i + 1) * spiSize));
  return ok({ type: "D", protocolId, spiSize, spis });
}

/** Address length of each TS type (RFC 7296 §3.13.1). */
const TS_ADDRESS_LENGTH: ReadonlyMap<number, number> = new Map([
  [TsType.IPV4_ADDR_RANGE, 4],
  [TsType.IPV6_ADDR_RANGE, 16],
]);

function decodeTs(name: "TSi" | "TSr", body: Uint8Array, site: Site): ParseResult<Payload> {
  if (body.length < 4) return tooShort(site, body.length, 8, "selector count and reserved field");
  const count = byteAt(body, 0);
  const selectors: TrafficSelector[] = [];
  let o = 4;
  for (let n = 1; o < body.length; n++) {
    const at = site.body + o;
    const left = body.length - o;
    if (left < 4)
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at,
        `${site.what}: selector ${n} at offset ${at} needs at least 4 bytes but only ${plural(left, "byte")} remain`,
      );
    const tsType = byteAt(body, o);
    const length = be16(body, o + 2);
    const addrLength = TS_ADDRESS_LENGTH.get(tsType);
    if (addrLength === undefined) {
      return fail(
        "BAD_PAYLOAD",
        at,
        `${site.what}: selector ${n} has type ${tsType}; only 7 (IPv4 range) and 8 (IPv6 range) are supported`,
      );
    }
    const need = 8 + 2 * addrLength;
    if (length !== need)
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at + 2,
        `${site.what}: selector ${n} claims ${length} bytes but type ${tsType} needs ${need}`,
      );
    if (length > left)
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at + 2,
        `${site.what}: selector ${n} needs ${length} bytes but only ${plural(left, "byte")} remain`,
      );
    selectors.push({
      tsType,
      ipProtocol: byteAt(body, o + 1),
      startPort: be16(body, o + 4),
      endPort: be16(body, o + 6),
      start: copy(body, o + 8, o + 8 + addrLength),
      end: copy(body, o + 8 + addrLength, o + need),
    });
    o += length;
  }
  if (selectors.length !== count) {
    return fail(
      "BAD_PAYLOAD",
      site.body,
      `${site.what} says it has ${plural(count, "selector")} but holds ${selectors.length}`,
    );
  }
  return ok({ type: name, selectors });
}

function decodeCp(body: Uint8Array, site: Site): ParseResult<Payload> {
  if (body.length < 4) return tooShort(site, body.length, 8, "CFG type and reserved field");
  const attributes: ConfigAttribute[] = [];
  let o = 4;
  for (let n = 1; o < body.length; n++) {
    const at = site.body + o;
    const left = body.length - o;
    if (left < 4)
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at,
        `${site.what}: attribute ${n} at offset ${at} needs 4 bytes but only ${plural(left, "byte")} remain`,
      );
    const length = be16(body, o + 2);
    if (4 + length > left) {
      return fail(
        "BAD_PAYLOAD_LENGTH",
        at + 2,
        `${site.what}: attribute ${n} at offset ${at} claims ${plural(length, "value byte")} but only ${plural(left - 4, "byte")} remain`,
      );
    }
    // The top bit is reserved (RFC 7296 §3.15.1) and ignored on receipt.
    attributes.push({ type: be16(body, o) & 0x7fff, value: copy(body, o + 4, o + 4 + length) });
    o += 4 + length;
  }
  return ok({ type: "CP", cfgType: byteAt(body, 0), attributes });
}

function decodeEap(body: Uint8Array, site: Site): ParseResult<Payload> {
  if (body.length < 4) return tooShort(site, body.length, 8, "EAP code, identifier and length");
  const eapLength = be16(body, 2);
  if (eapLength !== body.length) {
    return fail(
      "BAD_PAYLOAD_LENGTH",
      site.body + 2,
      `${site.what}: the EAP message says it is ${plural(eapLength, "byte")} but the payload holds ${body.length}`,
    );
  }
  return ok({ type: "EAP", data: copy(body) });
}

function decodeSkf(innerType: number, body: Uint8Array, site: Site): ParseResult<Payload> {
  if (body.length < 4) return tooShort(site, body.length, SKF_HEADER_LENGTH, "fragment number and total");
  const fragmentNumber = be16(body, 0);
  const totalFragments = be16(body, 2);
  if (fragmentNumber < 1 || fragmentNumber > totalFragments) {
    return fail(
      "BAD_PAYLOAD",
      site.body,
      `${site.what} is fragment ${fragmentNumber} of ${totalFragments}; RFC 7383 §2.5 needs 1 <= number <= total`,
    );
  }
  return ok({ type: "SKF", innerType, fragmentNumber, totalFragments, body: copy(body, 4) });
}

// ---------------------------------------------------------------- encoding

function checkWidth(value: number, bits: 4 | 8 | 15 | 16 | 32, what: string): number {
  const max = bits === 32 ? 0xffffffff : (1 << bits) - 1;
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new RangeError(`${what} ${value} does not fit in ${bits} bits`);
  return value;
}

/**
 * A growing output buffer. The encoders write every field into one array and patch the length
 * fields afterwards, instead of building each field, payload and proposal as an array of its own
 * and concatenating them (an IKE_SA_INIT made some 150 small arrays that way).
 */
class Writer {
  // One scratch array for every encode (they never nest), zeroed again after each: the inner
  // payloads of SK (AUTH, EAP) do not stay behind in it, and no encode allocates it anew.
  static #scratch = new Uint8Array(2048);
  buf = Writer.#scratch;
  n = 0;

  #room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.n));
    this.buf.fill(0, 0, this.n);
    this.buf = Writer.#scratch = grown;
  }

  u8(v: number, what: string): void {
    checkWidth(v, 8, what);
    this.#room(1);
    this.buf[this.n++] = v;
  }

  u16(v: number, what: string): void {
    checkWidth(v, 16, what);
    this.#room(2);
    this.buf[this.n] = v >>> 8;
    this.buf[this.n + 1] = v & 0xff;
    this.n += 2;
  }

  /** `k` zero bytes (reserved fields, placeholders patched later). */
  zeros(k: number): void {
    this.#room(k);
    this.buf.fill(0, this.n, this.n + k);
    this.n += k;
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }

  /** Overwrites the 16-bit field at `at` (a length known only after what follows it). */
  set16(at: number, v: number, what: string): void {
    checkWidth(v, 16, what);
    this.buf[at] = v >>> 8;
    this.buf[at + 1] = v & 0xff;
  }

  /** The bytes written, as an array of their own. */
  result(): Uint8Array {
    return this.buf.slice(0, this.n);
  }

  /** Zeroes what was written (also after a RangeError part way). */
  wipe(): void {
    this.buf.fill(0, 0, this.n);
    this.n = 0;
  }
}

function putBe32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** The 28-byte IKE header alone, e.g. as the start of the AAD/ICV input before the SK body exists. */
export function encodeHeader(
  h: Omit<IkeHeader, "length" | "nextPayload">,
  nextPayload: number,
  length: number,
): Uint8Array {
  if (h.spiI.length !== 8 || h.spiR.length !== 8) {
    throw new RangeError(`IKE SPIs are 8 bytes, got ${h.spiI.length} (initiator) and ${h.spiR.length} (responder)`);
  }
  // Byte by byte, not through a DataView: `.buffer` of a small typed array makes V8 move its
  // bytes out of the heap first, which cost more than the rest of the header.
  const out = new Uint8Array(IKE_HEADER_LENGTH);
  out.set(h.spiI, 0);
  out.set(h.spiR, 8);
  out[16] = checkWidth(nextPayload, 8, "next payload");
  out[17] = (checkWidth(h.majorVersion, 4, "major version") << 4) | checkWidth(h.minorVersion, 4, "minor version");
  out[18] = checkWidth(h.exchange, 8, "exchange type");
  out[19] = checkWidth(h.flags, 8, "flags");
  putBe32(out, 20, checkWidth(h.messageId, 32, "message ID"));
  putBe32(out, 24, checkWidth(length, 32, "message length"));
  return out;
}

/** The 4-byte generic payload header (RFC 7296 §3.2), reserved bits zero. */
export function payloadHeaderBytes(nextPayload: number, length: number, critical = false): Uint8Array {
  checkWidth(length, 16, "payload length");
  return Uint8Array.of(
    checkWidth(nextPayload, 8, "next payload"),
    critical ? CRITICAL_BIT : 0,
    length >>> 8,
    length & 0xff,
  );
}

/** Encodes a whole message; the header's own `nextPayload` and `length` are ignored and computed. */
export function encodeMessage(msg: IkeMessage): Uint8Array {
  const w = new Writer();
  try {
    w.zeros(IKE_HEADER_LENGTH);
    const firstType = writeChain(w, msg.payloads);
    w.buf.set(encodeHeader(msg.header, firstType, w.n), 0);
    return w.result();
  } finally {
    w.wipe();
  }
}

/**
 * Encodes a payload chain canonically. An SK/SKF payload must be the last one; its next-payload
 * field carries its `innerType`. `firstType` is the type of the first payload (0 for none).
 */
export function encodePayloads(payloads: Payload[]): { firstType: number; bytes: Uint8Array } {
  const w = new Writer();
  try {
    const firstType = writeChain(w, payloads);
    return { firstType, bytes: w.result() };
  } finally {
    w.wipe();
  }
}

/** Writes the chain; returns the type of its first payload (0 for none). */
function writeChain(w: Writer, payloads: Payload[]): number {
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i]!;
    const following = payloads[i + 1];
    const encrypted = p.type === "SK" || p.type === "SKF";
    if (encrypted && following)
      throw new RangeError(`${p.type} payload ${i + 1} of ${payloads.length} must be the last payload`);
    const next = encrypted ? p.innerType : following ? payloadTypeNumber(following) : PayloadType.NONE;
    const at = w.n;
    w.zeros(PAYLOAD_HEADER_LENGTH);
    writeBody(w, p);
    const length = w.n - at;
    if (length > 0xffff)
      throw new RangeError(`${p.type} payload would be ${length} bytes, more than a payload length field holds`);
    w.buf[at] = checkWidth(next, 8, "next payload");
    w.buf[at + 1] = (p.critical ?? false) ? CRITICAL_BIT : 0;
    w.set16(at + 2, length, "payload length");
  }
  const first = payloads[0];
  return first ? payloadTypeNumber(first) : PayloadType.NONE;
}

function writeBody(w: Writer, p: Payload): void {
  switch (p.type) {
    case "SA":
      for (let i = 0; i < p.proposals.length; i++) writeProposal(w, p.proposals[i]!, i === p.proposals.length - 1);
      return;
    case "KE":
      w.u16(p.group, "KE group");
      w.zeros(2);
      w.bytes(p.data);
      return;
    case "IDi":
    case "IDr":
      w.u8(p.idType, "ID type");
      w.zeros(3);
      w.bytes(p.data);
      return;
    case "CERT":
    case "CERTREQ":
      w.u8(p.encoding, `${p.type} encoding`);
      w.bytes(p.data);
      return;
    case "AUTH":
      w.u8(p.method, "auth method");
      w.zeros(3);
      w.bytes(p.data);
      return;
    case "NONCE":
    case "V":
    case "EAP":
    case "UNKNOWN":
      w.bytes(p.data);
      return;
    case "N":
      w.u8(p.protocolId, "notify protocol");
      w.u8(p.spi.length, "notify SPI size");
      w.u16(p.notifyType, "notify type");
      w.bytes(p.spi);
      w.bytes(p.data);
      return;
    case "D":
      for (const spi of p.spis) {
        if (spi.length !== p.spiSize)
          throw new RangeError(`D payload SPI of ${spi.length} bytes, but its spiSize is ${p.spiSize}`);
      }
      w.u8(p.protocolId, "delete protocol");
      w.u8(p.spiSize, "delete SPI size");
      w.u16(p.spis.length, "delete SPI count");
      for (const spi of p.spis) w.bytes(spi);
      return;
    case "TSi":
    case "TSr":
      w.u8(p.selectors.length, "selector count");
      w.zeros(3);
      for (const s of p.selectors) writeSelector(w, s);
      return;
    case "CP":
      w.u8(p.cfgType, "CFG type");
      w.zeros(3);
      for (const a of p.attributes) {
        w.u16(checkWidth(a.type, 15, "CP attribute type"), "CP attribute type");
        w.u16(a.value.length, "CP attribute length");
        w.bytes(a.value);
      }
      return;
    case "SK":
      w.bytes(p.body);
      return;
    case "SKF":
      w.u16(p.fragmentNumber, "fragment number");
      w.u16(p.totalFragments, "total fragments");
      w.bytes(p.body);
      return;
  }
}

function writeProposal(w: Writer, p: Proposal, last: boolean): void {
  const at = w.n;
  w.zeros(4); // last/more, reserved, length (patched below)
  w.buf[at] = last ? PROPOSAL_LAST : PROPOSAL_MORE;
  w.u8(p.num, "proposal number");
  w.u8(p.protocolId, "proposal protocol");
  w.u8(p.spi.length, "proposal SPI size");
  w.u8(p.transforms.length, "transform count");
  w.bytes(p.spi);
  for (let i = 0; i < p.transforms.length; i++) writeTransform(w, p.transforms[i]!, i === p.transforms.length - 1);
  w.set16(at + 2, w.n - at, "proposal length");
}

function writeTransform(w: Writer, t: Transform, last: boolean): void {
  w.u8(last ? TRANSFORM_LAST : TRANSFORM_MORE, "transform last/more");
  w.zeros(1);
  w.u16(t.keyLength === undefined ? 8 : 12, "transform length");
  w.u8(t.type, "transform type");
  w.zeros(1);
  w.u16(t.id, "transform ID");
  if (t.keyLength !== undefined) {
    w.u16(ATTR_TV_BIT | ATTR_KEY_LENGTH, "attribute");
    w.u16(t.keyLength, "key length");
  }
}

function writeSelector(w: Writer, s: TrafficSelector): void {
  const addrLength = TS_ADDRESS_LENGTH.get(s.tsType);
  if (addrLength === undefined) throw new RangeError(`TS type ${s.tsType} is not 7 (IPv4 range) or 8 (IPv6 range)`);
  if (s.start.length !== addrLength || s.end.length !== addrLength) {
    throw new RangeError(
      `TS type ${s.tsType} needs ${addrLength}-byte addresses, got ${s.start.length} and ${s.end.length}`,
    );
  }
  w.u8(s.tsType, "TS type");
  w.u8(s.ipProtocol, "TS IP protocol");
  w.u16(8 + 2 * addrLength, "selector length");
  w.u16(s.startPort, "TS start port");
  w.u16(s.endPort, "TS end port");
  w.bytes(s.start);
  w.bytes(s.end);
}
