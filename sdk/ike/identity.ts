/**
 * IKE identities (RFC 7296 §3.5) written, printed and matched the way strongSwan does it, so a
 * `local.id`/`remote.id` copied from a swanctl.conf means the same thing here. The rules follow
 * libstrongswan's identification.c (identification_create_from_string, atodn, dntoa,
 * compare_dn, matches_string, matches_range) and https://docs.strongswan.org/docs/latest/config/identityParsing.html.
 * @module
 */
import { IdType } from "./message.ts";
import { Tag, encodeOid, encodeSequence, encodeSet, encodeTlv, readTlv } from "./asn1.ts";
import { byteAt } from "../packet/bytes.ts";

/** An identity as it travels in an IDi/IDr payload: ID type number and identification data. */
export interface IkeIdentity {
  idType: number;
  data: Uint8Array;
}

/**
 * strongSwan-only ID types for address subnets and ranges (IKEv1 numbers). They never go on an
 * IKEv2 wire but are valid patterns: remote id "198.51.100.0/24" matches any IPV4_ADDR in it.
 */
export const IdPatternType = {
  IPV4_ADDR_SUBNET: 4,
  IPV6_ADDR_SUBNET: 6,
  IPV4_ADDR_RANGE: 7,
  IPV6_ADDR_RANGE: 8,
} as const;

// RDN names strongSwan's parser accepts (x501rdns), with the string type it writes.
// PrintableString values that hold other characters become UTF8String, as in atodn.
const OID = {
  CN: "2.5.4.3",
  SURNAME: "2.5.4.4",
  SERIAL: "2.5.4.5",
  EMAIL: "1.2.840.113549.1.9.1",
  UNSTRUCTURED_NAME: "1.2.840.113549.1.9.2",
  UNSTRUCTURED_ADDRESS: "1.2.840.113549.1.9.8",
  EMPLOYEE_NUMBER: "2.16.840.1.113730.3.1.3",
};
const P = Tag.PRINTABLE_STRING;
const IA5 = Tag.IA5_STRING;
const RDN_PARSE: Record<string, [string, number]> = {
  nd: ["0.2.262.1.10.7.20", P],
  uid: ["0.9.2342.19200300.100.1.1", P],
  dc: ["0.9.2342.19200300.100.1.25", P],
  cn: [OID.CN, P],
  s: [OID.SURNAME, P],
  sn: [OID.SERIAL, P],
  serialnumber: [OID.SERIAL, P],
  c: ["2.5.4.6", P],
  l: ["2.5.4.7", P],
  st: ["2.5.4.8", P],
  o: ["2.5.4.10", P],
  ou: ["2.5.4.11", P],
  t: ["2.5.4.12", P],
  d: ["2.5.4.13", P],
  n: ["2.5.4.41", P],
  g: ["2.5.4.42", P],
  i: ["2.5.4.43", P],
  dnqualifier: ["2.5.4.46", P],
  id: ["2.5.4.45", P],
  en: [OID.EMPLOYEE_NUMBER, P],
  employeenumber: [OID.EMPLOYEE_NUMBER, P],
  e: [OID.EMAIL, IA5],
  email: [OID.EMAIL, IA5],
  emailaddress: [OID.EMAIL, IA5],
  un: [OID.UNSTRUCTURED_NAME, IA5],
  unstructuredname: [OID.UNSTRUCTURED_NAME, IA5],
  ua: [OID.UNSTRUCTURED_ADDRESS, P],
  unstructuredaddress: [OID.UNSTRUCTURED_ADDRESS, P],
  tcgid: ["1.3.6.1.4.1.1201.1.1.2.2.75", P],
};

// Names charon prints (oid.txt). Note the quirk kept from strongSwan: surname prints as "SN",
// which its parser reads back as serialNumber.
const RDN_PRINT: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "STREET",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "T",
  "2.5.4.13": "D",
  "2.5.4.16": "postalAddress",
  "2.5.4.17": "postalCode",
  "2.5.4.41": "N",
  "2.5.4.42": "G",
  "2.5.4.43": "I",
  "2.5.4.45": "ID",
  "2.5.4.46": "dnQualifier",
  "2.5.4.54": "dmdName",
  "2.5.4.65": "pseudonym",
  "2.5.4.72": "role",
  "2.5.4.97": "organizationIdentifier",
  "1.2.840.113549.1.9.1": "E",
  "1.2.840.113549.1.9.2": "unstructuredName",
  "1.2.840.113549.1.9.8": "unstructuredAddress",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "0.2.262.1.10.7.20": "ND",
  "1.3.6.1.4.1.1201.1.1.2.2.75": "TCGID",
  "2.16.840.1.113730.3.1.3": "employeeNumber",
};
const RDN_PRINT_BY_DER = new Map<string, string>(
  Object.entries(RDN_PRINT).map(([oid, name]) => [hex(encodeOid(oid).subarray(2)), name]),
);
const EMAIL_OID_DER = hex(encodeOid(OID.EMAIL).subarray(2));

const RDN_MAX = 20; // strongSwan's atodn limit
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const utf8 = new TextEncoder();

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 32 : b;
}

function caseEqual(a: Uint8Array, b: Uint8Array, aFrom = 0, bFrom = 0, len = a.length): boolean {
  for (let i = 0; i < len; i++) if (lower(byteAt(a, aFrom + i)) !== lower(byteAt(b, bFrom + i))) return false;
  return true;
}

// ---- distinguished names ----

/**
 * DN text to DER the way strongSwan's atodn does: RDNs separated by "," (or by "/" when the
 * text starts with "/"), names case-insensitive, spaces around names and values trimmed, empty
 * values allowed. Returns undefined where strongSwan falls back to a KEY_ID (unknown RDN name,
 * a name without "=", more than 20 RDNs).
 */
export function parseDn(text: string): Uint8Array | undefined {
  const rdns: Uint8Array[] = [];
  let sep = "";
  let state: "searchOid" | "readOid" | "searchName" | "readName" = "searchOid";
  let oidStart = 0;
  let nameStart = -1;
  let whitespace = 0;
  let entry: [string, number] | undefined;
  for (let pos = 0; pos <= text.length; pos++) {
    const c = pos < text.length ? text[pos] : "\0";
    if (state === "searchOid") {
      if (!sep && c === "/") {
        sep = "/";
      } else if (c !== " " && c !== "\0") {
        if (!sep) sep = ",";
        oidStart = pos;
        state = "readOid";
      }
      continue;
    }
    if (state === "readOid") {
      if (c !== " " && c !== "=" && c !== "\0") continue;
      if (c === "\0") return undefined; // unterminated RDN name
      entry = RDN_PARSE[text.slice(oidStart, pos).toLowerCase()];
      if (!entry) return undefined;
      state = "searchName";
      continue;
    }
    if (state === "searchName") {
      if (c === " " || c === "=") continue;
      state = "readName";
      whitespace = 0;
      if (c !== sep && c !== "\0") {
        nameStart = pos;
        continue;
      }
      nameStart = pos; // empty value; handled by readName below
    }
    // readName
    if (c !== sep && c !== "\0") {
      whitespace = c === " " ? whitespace + 1 : 0;
      continue;
    }
    const value = text.slice(nameStart, pos - whitespace);
    if (rdns.length >= RDN_MAX) return undefined;
    const [oid, type] = entry!;
    const strType = type === P && !PRINTABLE.test(value) ? Tag.UTF8_STRING : type;
    rdns.push(encodeSet(encodeSequence(encodeOid(oid), encodeTlv(strType, utf8.encode(value)))));
    state = "searchOid";
  }
  return encodeSequence(...rdns);
}

/** One attribute of a DN: OID (contents octets), string tag, value octets, and where the value ends. */
interface Rdn {
  oid: Uint8Array;
  type: number;
  data: Uint8Array;
  end: number;
}

/** The attributes of a DN in order, stopping quietly at the first malformed one (like strongSwan's rdn enumerator). */
function* rdns(dn: Uint8Array): Generator<Rdn> {
  const outer = readTlv(dn, 0);
  if (!outer.ok || outer.value.tag !== Tag.SEQUENCE) return;
  const sets = outer.value.value;
  const setsBase = outer.value.headerLength;
  let pos = 0;
  while (pos < sets.length) {
    const set = readTlv(sets, pos, setsBase);
    if (!set.ok || set.value.tag !== Tag.SET) return;
    pos += set.value.raw.length;
    const seqs = set.value.value;
    const seqsBase = set.value.offset + set.value.headerLength;
    let p = 0;
    do {
      const seq = readTlv(seqs, p, seqsBase);
      if (!seq.ok || seq.value.tag !== Tag.SEQUENCE) return;
      p += seq.value.raw.length;
      const inner = seq.value.value;
      const innerBase = seq.value.offset + seq.value.headerLength;
      const oid = readTlv(inner, 0, innerBase);
      if (!oid.ok || oid.value.tag !== Tag.OID) return;
      const data = readTlv(inner, oid.value.raw.length, innerBase);
      if (!data.ok) return;
      const d = data.value;
      yield { oid: oid.value.value, type: d.tag, data: d.value, end: d.offset + d.headerLength + d.value.length };
    } while (p < seqs.length);
  }
}

function printable(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
  return s;
}

function colonHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/**
 * A DER DN as charon prints it: "C=CH, O=strongSwan, CN=moon", unknown attribute types as their
 * OID octets in hex ("55:04:15=123"), bytes outside printable ASCII as "?", and
 * "(invalid ID_DER_ASN1_DN)" where the encoding breaks off.
 */
export function formatDn(dn: Uint8Array): string {
  const parts: string[] = [];
  let finished = false;
  for (const r of rdns(dn)) {
    const name = RDN_PRINT_BY_DER.get(hex(r.oid)) ?? colonHex(r.oid);
    parts.push(`${name}=${printable(r.data)}`);
    if (r.end === dn.length) {
      finished = true;
      break;
    }
  }
  if (parts.length === 0) return "";
  return finished ? parts.join(", ") : parts.join(", ") + ", (invalid ID_DER_ASN1_DN)";
}

/**
 * strongSwan's compare_dn: same attributes in the same order; PrintableString values, and
 * IA5String e-mail values, compare case-insensitively, everything else byte for byte. With
 * `wildcards`, a pattern value of exactly "*" matches any value of that attribute.
 */
function compareDn(id: Uint8Array, pattern: Uint8Array, wildcards: boolean): boolean {
  if (!wildcards && id.length !== pattern.length) return false;
  if (bytesEqual(id, pattern)) return true;
  const t = rdns(id);
  const o = rdns(pattern);
  let finished = false;
  for (;;) {
    const a = t.next();
    const b = o.next();
    if (a.done && b.done) break;
    finished = false;
    if (a.done || b.done) break;
    const x = a.value;
    const y = b.value;
    if (!bytesEqual(x.oid, y.oid)) break;
    if (!(wildcards && y.data.length === 1 && y.data[0] === 0x2a)) {
      if (x.data.length !== y.data.length) break;
      const caseless =
        x.type === y.type &&
        (x.type === Tag.PRINTABLE_STRING || (x.type === Tag.IA5_STRING && hex(x.oid) === EMAIL_OID_DER));
      if (caseless ? !caseEqual(x.data, y.data) : !bytesEqual(x.data, y.data)) break;
    }
    if (x.end === id.length && y.end === pattern.length) finished = true;
  }
  return finished;
}

/** Whether two DER DNs name the same subject (strongSwan's equality: used to link issuer and subject). */
export function dnEquals(a: Uint8Array, b: Uint8Array): boolean {
  return compareDn(a, b, false);
}

// ---- addresses ----

/** Dotted-quad IPv4 as inet_pton(AF_INET) accepts it: four decimal parts 0..255, no leading zeros. */
export function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (const [i, p] of parts.entries()) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

/** IPv6 text as inet_pton(AF_INET6) accepts it (one "::", optional trailing dotted IPv4). */
export function parseIpv6(s: string): Uint8Array | undefined {
  if (s.length === 0 || s.length > 45) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (const [i, it] of items.entries()) {
      if (i === items.length - 1 && it.includes(".")) {
        const v4 = parseIpv4(it);
        if (!v4) return undefined;
        out.push((byteAt(v4, 0) << 8) | byteAt(v4, 1), (byteAt(v4, 2) << 8) | byteAt(v4, 3));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return undefined;
        out.push(parseInt(it, 16));
      }
    }
    return out;
  };
  const [before = "", after] = halves;
  const head = groups(before);
  const tail = after === undefined ? [] : groups(after);
  if (!head || !tail) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 2 ? total > 7 : total !== 8) return undefined;
  const words = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** IPv6 text as glibc's inet_ntop prints it (longest zero run of 2+ groups as "::", embedded IPv4 for ::a.b.c.d and ::ffff:a.b.c.d). */
export function formatIpv6(a: Uint8Array): string {
  const words = Array.from({ length: 8 }, (_, i) => (byteAt(a, 2 * i) << 8) | byteAt(a, 2 * i + 1));
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (const [i, w] of words.entries()) {
    if (w === 0) {
      cur = cur.base === -1 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
      if (cur.len > best.len) best = cur;
    } else {
      cur = { base: -1, len: 0 };
    }
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let s = "";
  for (const [i, w] of words.entries()) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) s += ":";
      continue;
    }
    if (i !== 0) s += ":";
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      return s + `${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
    }
    s += w.toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) s += ":";
  return s;
}

function formatIp(a: Uint8Array): string {
  return a.length === 4 ? Array.from(a).join(".") : formatIpv6(a);
}

function prefixMask(bits: number, bytes: number): Uint8Array {
  const m = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++)
    m[i] = bits >= 8 * (i + 1) ? 0xff : bits > 8 * i ? (0xff << (8 - (bits - 8 * i))) & 0xff : 0;
  return m;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return byteAt(a, i) - byteAt(b, i);
  return 0;
}

/** "addr/len" or "from-to" as a subnet/range pattern of the given family, or undefined. */
function parseAddressPattern(s: string, v6: boolean): IkeIdentity | undefined {
  const parse = v6 ? parseIpv6 : parseIpv4;
  const size = v6 ? 16 : 4;
  const slash = s.indexOf("/");
  if (slash >= 0) {
    const addr = parse(s.slice(0, slash));
    const bitsText = s.slice(slash + 1);
    if (!addr || !/^\d{1,3}$/.test(bitsText) || Number(bitsText) > 8 * size) return undefined;
    const mask = prefixMask(Number(bitsText), size);
    const net = addr.map((b, i) => b & byteAt(mask, i));
    return {
      idType: v6 ? IdPatternType.IPV6_ADDR_SUBNET : IdPatternType.IPV4_ADDR_SUBNET,
      data: Uint8Array.from([...net, ...mask]),
    };
  }
  const dash = s.indexOf("-");
  if (dash >= 0) {
    const from = parse(s.slice(0, dash));
    const to = parse(s.slice(dash + 1));
    if (!from || !to || compareBytes(from, to) > 0) return undefined;
    return {
      idType: v6 ? IdPatternType.IPV6_ADDR_RANGE : IdPatternType.IPV4_ADDR_RANGE,
      data: Uint8Array.from([...from, ...to]),
    };
  }
  return undefined;
}

// ---- parsing ----

/** strongSwan's chunk_from_hex: optional "0x", ":" separators ignored, odd length padded with a leading 0 nibble. */
function fromHex(s: string): Uint8Array {
  let h = s.startsWith("0x") ? s.slice(2) : s;
  h = h.replaceAll(":", "");
  if (h.length % 2) h = "0" + h;
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) {
    const nib = (c: string): number => (/[0-9a-fA-F]/.test(c) ? parseInt(c, 16) : 0);
    out[i] = (nib(h.charAt(2 * i)) << 4) | nib(h.charAt(2 * i + 1));
  }
  return out;
}

const PREFIXES: [string, number][] = [
  ["ipv4:", IdType.IPV4_ADDR],
  ["ipv6:", IdType.IPV6_ADDR],
  ["rfc822:", IdType.RFC822_ADDR],
  ["email:", IdType.RFC822_ADDR],
  ["userfqdn:", IdType.RFC822_ADDR],
  ["fqdn:", IdType.FQDN],
  ["dns:", IdType.FQDN],
  ["asn1dn:", IdType.DER_ASN1_DN],
  ["asn1gn:", IdType.DER_ASN1_GN],
  ["keyid:", IdType.KEY_ID],
];

const ANY = new Set(["", "%any", "%any6", "0.0.0.0", "*", "::", "0::0"]);

function typed(idType: number, rest: string): IkeIdentity {
  return { idType, data: rest.startsWith("#") ? fromHex(rest.slice(1)) : utf8.encode(rest) };
}

/**
 * An identity from its config text, with strongSwan's rules: "198.51.100.1" is IPV4_ADDR,
 * "2001:db8::1" IPV6_ADDR, "user@example.org" RFC822_ADDR, "@example.org" and
 * "host.example.org" FQDN ("@" forces FQDN, "@@" RFC822, "@#hex" KEY_ID), "C=CH, O=x, CN=y" a
 * DER_ASN1_DN (KEY_ID when the DN text is not understood), "%any" (also "", "*", "0.0.0.0",
 * "::") matches anything. Type prefixes ("fqdn:", "email:", "keyid:#0a0b", "{11}:x") and address
 * subnets/ranges ("198.51.100.0/24", "198.51.100.1-198.51.100.9") work as in strongSwan.
 */
export function parseIdentity(text: string): IkeIdentity | "any" {
  const lowerText = text.toLowerCase();
  for (const [prefix, idType] of PREFIXES) {
    if (lowerText.startsWith(prefix)) return typed(idType, text.slice(prefix.length));
  }
  const num = text.match(/^\{(0x[0-9a-fA-F]+|0[0-7]*|[1-9]\d*)\}:/);
  if (num) {
    const [whole, digits = ""] = num; // the group is not optional: a match has it
    const n = digits.startsWith("0x")
      ? parseInt(digits, 16)
      : digits.startsWith("0")
        ? parseInt(digits, 8)
        : Number(digits);
    return typed(n, text.slice(whole.length));
  }
  if (text.includes("=")) {
    const dn = parseDn(text);
    return dn ? { idType: IdType.DER_ASN1_DN, data: dn } : { idType: IdType.KEY_ID, data: utf8.encode(text) };
  }
  if (!text.includes("@")) {
    if (ANY.has(text)) return "any";
    if (!text.includes(":")) {
      const v4 = parseIpv4(text) ?? parseAddressPattern(text, false);
      if (v4 instanceof Uint8Array) return { idType: IdType.IPV4_ADDR, data: v4 };
      return v4 ?? { idType: IdType.FQDN, data: utf8.encode(text) };
    }
    const v6 = parseIpv6(text) ?? parseAddressPattern(text, true);
    if (v6 instanceof Uint8Array) return { idType: IdType.IPV6_ADDR, data: v6 };
    return v6 ?? { idType: IdType.KEY_ID, data: utf8.encode(text) };
  }
  if (text.startsWith("@#")) return { idType: IdType.KEY_ID, data: fromHex(text.slice(2)) };
  if (text.startsWith("@@")) return { idType: IdType.RFC822_ADDR, data: utf8.encode(text.slice(2)) };
  if (text.startsWith("@")) return { idType: IdType.FQDN, data: utf8.encode(text.slice(1)) };
  return { idType: IdType.RFC822_ADDR, data: utf8.encode(text) };
}

// ---- printing ----

/** An identity as charon prints it in logs and `swanctl --list-sas` ("client.example.org", "C=CH, O=x, CN=y", "198.51.100.1"). */
export function formatIdentity(id: IkeIdentity): string {
  const d = id.data;
  switch (id.idType) {
    case 0:
      return "%any";
    case IdType.IPV4_ADDR:
      return d.length >= 4 ? formatIp(d.subarray(0, 4)) : "(invalid ID_IPV4_ADDR)";
    case IdType.IPV6_ADDR:
      return d.length >= 16 ? formatIp(d.subarray(0, 16)) : "(invalid ID_IPV6_ADDR)";
    case IdPatternType.IPV4_ADDR_SUBNET:
    case IdPatternType.IPV6_ADDR_SUBNET: {
      const size = id.idType === IdPatternType.IPV4_ADDR_SUBNET ? 4 : 16;
      if (d.length < 2 * size) return `(invalid ID_IPV${size === 4 ? 4 : 6}_ADDR_SUBNET)`;
      let bits = 0;
      for (const b of d.subarray(size, 2 * size)) for (let m = 0x80; m && b & m; m >>= 1) bits++;
      return `${formatIp(d.subarray(0, size))}/${bits}`;
    }
    case IdPatternType.IPV4_ADDR_RANGE:
    case IdPatternType.IPV6_ADDR_RANGE: {
      const size = id.idType === IdPatternType.IPV4_ADDR_RANGE ? 4 : 16;
      if (d.length < 2 * size) return `(invalid ID_IPV${size === 4 ? 4 : 6}_ADDR_RANGE)`;
      return `${formatIp(d.subarray(0, size))}-${formatIp(d.subarray(size, 2 * size))}`;
    }
    case IdType.FQDN:
    case IdType.RFC822_ADDR:
      return printable(d);
    case IdType.DER_ASN1_DN:
      return formatDn(d);
    case IdType.DER_ASN1_GN:
      return "(ASN.1 general name)";
    case IdType.KEY_ID: {
      // charon prints a printable KEY_ID as text, except at SHA-1 size where it is likely a hash
      const isText = d.every((c) => c >= 0x20 && c < 0x7f);
      return isText && d.length !== 20 ? printable(d) : colonHex(d);
    }
    default:
      return `(unknown ID type: ${id.idType})`;
  }
}

// ---- matching ----

function matchesString(id: Uint8Array, pattern: Uint8Array): boolean {
  if (id.length === pattern.length && !id.includes(0) && !pattern.includes(0) && caseEqual(id, pattern)) return true;
  if (pattern.length === 0 || id.length < pattern.length) return false;
  if (pattern[0] !== 0x2a) return false;
  if (pattern.length === 1) return true;
  const tail = pattern.length - 1;
  return caseEqual(id, pattern, id.length - tail, 1, tail);
}

function matchesAddress(id: IkeIdentity, pattern: IkeIdentity): boolean {
  const size = id.idType === IdType.IPV4_ADDR ? 4 : 16;
  const v4 = size === 4;
  const a = id.data;
  const p = pattern.data;
  if (a.length !== size) return false;
  if (pattern.idType === id.idType) return bytesEqual(a, p);
  if (pattern.idType === (v4 ? IdPatternType.IPV4_ADDR_SUBNET : IdPatternType.IPV6_ADDR_SUBNET)) {
    if (p.length !== 2 * size) return false;
    for (let i = 0; i < size; i++) if ((byteAt(a, i) & byteAt(p, size + i)) !== p[i]) return false;
    return true;
  }
  if (pattern.idType === (v4 ? IdPatternType.IPV4_ADDR_RANGE : IdPatternType.IPV6_ADDR_RANGE)) {
    if (p.length !== 2 * size) return false;
    const from = p.subarray(0, size);
    const to = p.subarray(size);
    return compareBytes(from, to) <= 0 && compareBytes(from, a) <= 0 && compareBytes(a, to) <= 0;
  }
  return false;
}

/**
 * Whether `id` (what a peer sent, or a certificate name) satisfies `pattern` (a configured id),
 * as strongSwan's identification_t.matches: "any" matches everything; FQDN and RFC822 compare
 * case-insensitively and a leading "*" matches any prefix ("*.example.org", "*@example.org");
 * DNs compare attribute by attribute and a value of "*" matches anything ("C=CH, O=x, CN=*");
 * addresses match equal addresses and subnet/range patterns; everything else must be equal.
 */
export function identityMatches(pattern: IkeIdentity | "any", id: IkeIdentity): boolean {
  if (pattern === "any" || pattern.idType === 0) return true;
  switch (id.idType) {
    case IdType.FQDN:
    case IdType.RFC822_ADDR:
      return pattern.idType === id.idType && matchesString(id.data, pattern.data);
    case IdType.DER_ASN1_DN:
      return pattern.idType === id.idType && compareDn(id.data, pattern.data, true);
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR:
      return matchesAddress(id, pattern);
    default:
      return pattern.idType === id.idType && bytesEqual(id.data, pattern.data);
  }
}
