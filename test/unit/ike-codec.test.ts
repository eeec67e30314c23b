// IKEv2 codec and names. Outside references:
// - a real exchange between two strongSwan 5.9.8 charons (test/fixtures/ike/exchange.pcap, captured
//   by capture-strongswan.sh): IKE_SA_INIT, IKE_AUTH split into two SKF fragments, with a CP
//   payload, and an INFORMATIONAL DELETE. The encrypted parts are opened with node:crypto
//   (AES-GCM-16, RFC 5282) using the keys charon logged; every message must decode, re-encode to
//   the same bytes, and summarize exactly as charon's own log lines say (charon-summaries.txt);
//   proposals must print as charon's "received proposals:" lines.
// - Wireshark 4.0 (tshark): our encoding of messages that use every payload kind
//   (fixtures/ike/samples.ts -> encoded.pcap) must be read by its dissector field by field as
//   our decoder reads it (tshark's reading recorded in encoded.fields.tsv; that a live tshark
//   still reads it so is test/interop/ike-codec-tshark.test.ts).
// - strongSwan's source for the name tables (see sdk/ike/names.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createDecipheriv } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  decodeHeader,
  decodeMessage,
  decodePayloads,
  encodeHeader,
  encodeMessage,
  encodePayloads,
  payloadHeaderBytes,
} from "../../sdk/ike/codec.ts";
import type { IkeMessage, IkeParseError, ParseResult, Payload, Proposal } from "../../sdk/ike/message.ts";
import {
  exchangeName,
  notifyName,
  notifyShortName,
  payloadShortName,
  proposalString,
  summarizeMessage,
  transformName,
} from "../../sdk/ike/names.ts";
import { readPcap } from "../../sdk/pcap/pcap.ts";
import { prng } from "../helpers/interop.ts";
import { SAMPLES, TSHARK_FIELDS, seq } from "../fixtures/ike/samples.ts";

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/ike/${name}`, import.meta.url));
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

function value<T>(r: ParseResult<T>, what = "decode"): T {
  if (!r.ok) assert.fail(`${what} failed: ${r.error.code} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}

function error<T>(r: ParseResult<T>): IkeParseError {
  if (r.ok) assert.fail("decoding succeeded but should have failed");
  return r.error;
}

// ---------------------------------------------------------------- the strongSwan capture

interface Captured {
  bytes: Uint8Array;
  fromInitiator: boolean;
}

/** IKE messages of exchange.pcap (Ethernet / IPv4 / UDP 500, or 4500 after the non-ESP marker). */
function capturedMessages(): Captured[] {
  const pcap = readPcap(readFileSync(fixture("exchange.pcap")));
  const out: Captured[] = [];
  for (const r of pcap.records) {
    const f = r.data;
    if (((f[12]! << 8) | f[13]!) !== 0x0800) continue; // ARP
    const ip = f.subarray(14);
    if (ip[9] !== 17) continue;
    const udp = ip.subarray((ip[0]! & 15) * 4);
    const dport = (udp[2]! << 8) | udp[3]!;
    let ike = udp.subarray(8, (udp[4]! << 8) | udp[5]!);
    if (dport === 4500) {
      assert.deepEqual([...ike.subarray(0, 4)], [0, 0, 0, 0], "non-ESP marker");
      ike = ike.subarray(4);
    }
    out.push({ bytes: ike, fromInitiator: ip[15] === 1 });
  }
  return out;
}

/** charon-summaries.txt: lines of both charons, tagged [initiator] / [responder]. */
function charonLines(): { side: string; text: string }[] {
  return readFileSync(fixture("charon-summaries.txt"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const m = /^\[(initiator|responder)\] (.*)$/.exec(l);
      assert.ok(m, l);
      return { side: m[1]!, text: m[2]! };
    });
}

/** SK_ei / SK_er of the IKE SA: AES-GCM-16-128 key followed by the 4-byte salt (RFC 5282 §7.1). */
function ikeKeys(): { ei: Uint8Array; er: Uint8Array } {
  const [, , ei, er, alg] = readFileSync(fixture("ikev2_decryption_table"), "utf8").trim().split(",");
  assert.match(alg!, /AES-GCM-128 with 16 octet ICV/);
  return { ei: unhex(ei!), er: unhex(er!) };
}

/**
 * Opens an SK or SKF payload (the last payload of `bytes`): IV (8) | ciphertext | ICV (16), nonce
 * = salt | IV, AAD = everything before the IV (RFC 5282 §5.1; for SKF RFC 7383 §2.5 includes the
 * fragment number and total). Returns the inner bytes with the padding and pad length removed.
 */
function openEncrypted(bytes: Uint8Array, body: Uint8Array, key: Uint8Array): Uint8Array {
  const aad = bytes.subarray(0, bytes.length - body.length);
  const iv = body.subarray(0, 8);
  const tag = body.subarray(body.length - 16);
  const d = createDecipheriv("aes-128-gcm", key.subarray(0, 16), Buffer.concat([key.subarray(16, 20), iv]));
  d.setAAD(aad);
  d.setAuthTag(tag);
  const plain = Buffer.concat([d.update(body.subarray(8, body.length - 16)), d.final()]);
  return new Uint8Array(plain.subarray(0, plain.length - plain[plain.length - 1]! - 1));
}

interface Opened {
  header: IkeMessage["header"];
  fromInitiator: boolean;
  /** What charon lists for this message: the outer payloads, or the inner ones once decrypted. */
  payloads: Payload[];
  /** Decrypted inner payload chains with their first type (fragments: reassembled). */
  inner?: { firstType: number; bytes: Uint8Array };
}

/** Every captured message decoded; SK opened; SKF fragments opened and reassembled as a further entry. */
function openCapture(): { outer: Opened[]; reassembled: Opened[] } {
  const keys = ikeKeys();
  const outer: Opened[] = [];
  const reassembled: Opened[] = [];
  const fragments: {
    n: number;
    firstType: number;
    plain: Uint8Array;
    header: IkeMessage["header"];
    fromInitiator: boolean;
  }[] = [];
  for (const c of capturedMessages()) {
    const m = value(decodeMessage(c.bytes));
    const last = m.payloads[m.payloads.length - 1];
    const key = c.fromInitiator ? keys.ei : keys.er;
    if (last?.type === "SK") {
      const plain = openEncrypted(c.bytes, last.body, key);
      const inner = value(decodePayloads(plain, last.innerType), "inner decode");
      outer.push({
        header: m.header,
        fromInitiator: c.fromInitiator,
        payloads: inner,
        inner: { firstType: last.innerType, bytes: plain },
      });
    } else {
      if (last?.type === "SKF") {
        fragments.push({
          n: last.fragmentNumber,
          firstType: last.innerType,
          plain: openEncrypted(c.bytes, last.body, key),
          header: m.header,
          fromInitiator: c.fromInitiator,
        });
      }
      outer.push({ header: m.header, fromInitiator: c.fromInitiator, payloads: m.payloads });
    }
  }
  if (fragments.length > 0) {
    fragments.sort((a, b) => a.n - b.n);
    const bytes = Buffer.concat(fragments.map((f) => f.plain));
    const inner = value(decodePayloads(bytes, fragments[0]!.firstType), "reassembled decode");
    reassembled.push({
      header: fragments[0]!.header,
      fromInitiator: fragments[0]!.fromInitiator,
      payloads: inner,
      inner: { firstType: fragments[0]!.firstType, bytes },
    });
  }
  return { outer, reassembled };
}

const summary = (o: Opened): string =>
  summarizeMessage(o.header.exchange, (o.header.flags & 0x20) !== 0, o.header.messageId, o.payloads);
const sorted = (xs: string[]): string[] => [...xs].sort();

test("strongSwan capture: all 7 IKE messages decode and re-encode to the same bytes", () => {
  const msgs = capturedMessages();
  assert.equal(msgs.length, 7);
  for (const c of msgs) {
    const m = value(decodeMessage(c.bytes));
    assert.equal(m.header.length, c.bytes.length);
    assert.equal(hex(encodeMessage(m)), hex(c.bytes));
  }
});

test("strongSwan capture: decrypted inner payload chains decode and re-encode to the same bytes", () => {
  const { outer, reassembled } = openCapture();
  const opened = [...outer, ...reassembled].filter((o) => o.inner !== undefined);
  assert.equal(opened.length, 4); // IKE_AUTH (reassembled) + response, INFORMATIONAL request + response
  for (const o of opened) {
    const inner = o.inner!;
    const again = encodePayloads(value(decodePayloads(inner.bytes, inner.firstType)));
    assert.equal(again.firstType, inner.firstType);
    assert.equal(hex(again.bytes), hex(inner.bytes));
  }
});

test("strongSwan capture: summaries equal the lines charon logged for the same messages", () => {
  const { outer, reassembled } = openCapture();
  const lines = charonLines();
  for (const side of ["initiator", "responder"]) {
    const fromSide = [...outer, ...reassembled].filter((o) => o.fromInitiator === (side === "initiator"));
    const ours = sorted(fromSide.map((o) => `generating ${summary(o)}`));
    const charon = sorted(lines.filter((l) => l.side === side && l.text.startsWith("generating ")).map((l) => l.text));
    assert.deepEqual(ours, charon, side);
    // ... and the peer parsed the same thing
    const peer = side === "initiator" ? "responder" : "initiator";
    const parsed = sorted(
      lines
        .filter((l) => l.side === peer && l.text.startsWith("parsed "))
        .map((l) => l.text.replace(/^parsed /, "generating ")),
    );
    assert.deepEqual(ours, parsed, `${peer} parsed`);
  }
  // the cases that are easy to get wrong, spelled out
  const all = [...outer, ...reassembled].map(summary);
  assert.ok(all.includes("IKE_AUTH request 1 [ EF(1/2) ]"));
  assert.ok(all.includes("IKE_AUTH response 1 [ IDr AUTH CPRP(ADDR DNS) SA TSi TSr ]"));
  assert.ok(all.includes("INFORMATIONAL response 2 [ ]"));
});

test("strongSwan capture: every SA payload prints as charon's 'received proposals:' line", () => {
  const { outer, reassembled } = openCapture();
  const ours = [...outer, ...reassembled].flatMap((o) =>
    o.payloads
      .filter((p) => p.type === "SA")
      .map((p) => `received proposals: ${(p as { proposals: Proposal[] }).proposals.map(proposalString).join(", ")}`),
  );
  const charon = charonLines()
    .filter((l) => l.text.startsWith("received proposals: "))
    .map((l) => l.text);
  assert.equal(ours.length, 4);
  assert.deepEqual(sorted(ours), sorted(charon));
});

test("strongSwan capture: decoded fields are the configured values", () => {
  const { outer, reassembled } = openCapture();
  const find = <T extends Payload["type"]>(o: Opened, type: T): Payload & { type: T } => {
    const p = o.payloads.find((x) => x.type === type);
    assert.ok(p, type);
    return p as Payload & { type: T };
  };
  const [initReq, initResp] = outer;
  assert.equal(initReq!.header.exchange, 34);
  assert.equal(hex(initReq!.header.spiR), "0000000000000000");
  assert.equal(find(initReq!, "KE").group, 31);
  assert.equal(find(initReq!, "KE").data.length, 32);
  assert.equal(find(initResp!, "KE").group, 31);
  const natd = initResp!.payloads.filter((p) => p.type === "N" && p.notifyType === 16388);
  assert.equal(natd.length, 1);
  assert.equal((natd[0] as { data: Uint8Array }).data.length, 20); // SHA-1 (RFC 7296 §2.23)
  const authReq = reassembled[0];
  const idi = find(authReq!, "IDi");
  assert.equal(idi.idType, 2);
  assert.equal(new TextDecoder().decode(idi.data), "client.example.org");
  assert.equal(new TextDecoder().decode(find(authReq!, "IDr").data), "swan.example.org");
  assert.equal(find(authReq!, "AUTH").method, 2); // PSK
  const esp = find(authReq!, "SA").proposals;
  assert.deepEqual(
    esp.map((p) => [p.num, p.protocolId, p.spi.length]),
    [
      [1, 3, 4],
      [2, 3, 4],
    ],
  );
  const authResp = outer.find((o) => o.header.exchange === 35 && (o.header.flags & 0x20) !== 0)!;
  const cp = find(authResp, "CP");
  assert.equal(cp.cfgType, 2);
  // pool 198.51.100.64/28 hands out its first host address; DNS as configured
  assert.deepEqual(
    cp.attributes.map((a) => [a.type, [...a.value].join(".")]),
    [
      [1, "198.51.100.65"],
      [3, "198.51.100.53"],
    ],
  );
  const tsr = find(authResp, "TSr").selectors;
  assert.deepEqual(
    tsr.map((s) => [s.tsType, s.ipProtocol, s.startPort, s.endPort, [...s.start].join("."), [...s.end].join(".")]),
    [[7, 0, 0, 65535, "203.0.113.0", "203.0.113.255"]],
  );
  const del = find(
    outer.find((o) => o.header.exchange === 37 && (o.header.flags & 0x20) === 0)!,
    "D",
  );
  assert.deepEqual([del.protocolId, del.spiSize, del.spis.length], [1, 0, 0]);
});

// ---------------------------------------------------------------- Wireshark reads our encoding

/** The IKE bytes of every record of encoded.pcap (raw IPv4, 20-byte header, UDP). */
function encodedFixture(): Uint8Array[] {
  return readPcap(readFileSync(fixture("encoded.pcap"))).records.map((r) => r.data.subarray(28));
}

function ipv6Text(b: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16));
  return new URL(`http://[${groups.join(":")}]`).hostname.slice(1, -1);
}

/**
 * What tshark shows for a message, derived from our decoding: the lists of TSHARK_FIELDS values.
 * Substructures count as tshark counts them: each proposal and transform has its own type
 * (2 / 3), "next payload" (last/more) and length.
 */
function expectedFields(m: IkeMessage): Record<string, string[]> {
  const f: Record<string, string[]> = Object.fromEntries(TSHARK_FIELDS.map((k) => [k, []]));
  const put = (k: (typeof TSHARK_FIELDS)[number], v: string | number): void => void f[k]!.push(String(v));
  const h = m.header;
  const hex2 = (n: number, w: number): string => `0x${n.toString(16).padStart(w, "0")}`;
  put("isakmp.ispi", hex(h.spiI));
  put("isakmp.rspi", hex(h.spiR));
  put("isakmp.mjver", hex2(h.majorVersion, 2));
  put("isakmp.mnver", hex2(h.minorVersion, 2));
  put("isakmp.exchangetype", h.exchange);
  put("isakmp.flags", hex2(h.flags, 2));
  put("isakmp.messageid", hex2(h.messageId, 8));
  put("isakmp.length", h.length);
  put("isakmp.nextpayload", h.nextPayload);
  const typeNumber: Record<string, number> = {
    SA: 33,
    KE: 34,
    IDi: 35,
    IDr: 36,
    CERT: 37,
    CERTREQ: 38,
    AUTH: 39,
    NONCE: 40,
    N: 41,
    D: 42,
    V: 43,
    TSi: 44,
    TSr: 45,
    SK: 46,
    CP: 47,
    EAP: 48,
    SKF: 53,
  };
  const numberOf = (p: Payload): number => (p.type === "UNKNOWN" ? p.payloadType : typeNumber[p.type]!);
  m.payloads.forEach((p, i) => {
    const next =
      p.type === "SK" || p.type === "SKF" ? p.innerType : i + 1 < m.payloads.length ? numberOf(m.payloads[i + 1]!) : 0;
    put("isakmp.typepayload", numberOf(p));
    put("isakmp.nextpayload", next);
    put("isakmp.criticalpayload", p.critical ? 1 : 0);
    switch (p.type) {
      case "SA": {
        const tLen = (t: { keyLength?: number }): number => 8 + (t.keyLength === undefined ? 0 : 4);
        const pLen = (q: Proposal): number => 8 + q.spi.length + q.transforms.reduce((n, t) => n + tLen(t), 0);
        put("isakmp.payloadlength", 4 + p.proposals.reduce((n, q) => n + pLen(q), 0));
        p.proposals.forEach((q, qi) => {
          put("isakmp.typepayload", 2);
          put("isakmp.nextpayload", qi + 1 < p.proposals.length ? 2 : 0);
          put("isakmp.payloadlength", pLen(q));
          put("isakmp.prop.number", q.num);
          put("isakmp.prop.protoid", q.protocolId);
          put("isakmp.spisize", q.spi.length);
          if (q.spi.length > 0) put("isakmp.spi", hex(q.spi));
          put("isakmp.prop.transforms", q.transforms.length);
          q.transforms.forEach((t, ti) => {
            put("isakmp.typepayload", 3);
            put("isakmp.nextpayload", ti + 1 < q.transforms.length ? 3 : 0);
            put("isakmp.payloadlength", tLen(t));
            put("isakmp.tf.type", t.type);
            const idField = (
              {
                1: "isakmp.tf.id.encr",
                2: "isakmp.tf.id.prf",
                3: "isakmp.tf.id.integ",
                4: "isakmp.tf.id.dh",
                5: "isakmp.tf.id.esn",
              } as const
            )[t.type as 1 | 2 | 3 | 4 | 5];
            put(idField, t.id);
            if (t.keyLength !== undefined) {
              put("isakmp.ike2.attr.type", 14);
              put("isakmp.ike2.attr.key_length", t.keyLength);
            }
          });
        });
        break;
      }
      case "KE":
        put("isakmp.payloadlength", 8 + p.data.length);
        put("isakmp.key_exchange.dh_group", p.group);
        put("isakmp.key_exchange.data", hex(p.data));
        break;
      case "NONCE":
        put("isakmp.payloadlength", 4 + p.data.length);
        put("isakmp.nonce", hex(p.data));
        break;
      case "IDi":
      case "IDr":
        put("isakmp.payloadlength", 8 + p.data.length);
        put("isakmp.id.type", p.idType);
        if (p.idType === 2) put("isakmp.id.data.fqdn", new TextDecoder().decode(p.data));
        if (p.idType === 1) put("isakmp.id.data.ipv4_addr", [...p.data].join("."));
        break;
      case "AUTH":
        put("isakmp.payloadlength", 8 + p.data.length);
        put("isakmp.auth.method", p.method);
        put("isakmp.auth.data", hex(p.data));
        break;
      case "CERT":
      case "CERTREQ":
        put("isakmp.payloadlength", 5 + p.data.length);
        put(p.type === "CERT" ? "isakmp.cert.encoding" : "isakmp.certreq.type", p.encoding);
        break;
      case "N":
        put("isakmp.payloadlength", 8 + p.spi.length + p.data.length);
        put("isakmp.notify.protoid", p.protocolId);
        put("isakmp.spisize", p.spi.length);
        if (p.spi.length > 0) put("isakmp.spi", hex(p.spi));
        put("isakmp.notify.msgtype", p.notifyType);
        put("isakmp.notify.data", p.data.length > 0 ? hex(p.data) : "<MISSING>");
        break;
      case "D":
        put("isakmp.payloadlength", 8 + p.spiSize * p.spis.length);
        put("isakmp.delete.protoid", p.protocolId);
        put("isakmp.spisize", p.spiSize);
        put("isakmp.spinum", p.spis.length);
        for (const s of p.spis) put("isakmp.delete.spi", hex(s));
        break;
      case "V":
        put("isakmp.payloadlength", 4 + p.data.length);
        put("isakmp.vid_bytes", hex(p.data));
        break;
      case "TSi":
      case "TSr":
        put("isakmp.payloadlength", 8 + p.selectors.reduce((n, s) => n + 8 + s.start.length + s.end.length, 0));
        put("isakmp.ts.number", p.selectors.length);
        for (const s of p.selectors) {
          put("isakmp.ts.type", s.tsType);
          put("isakmp.ts.protoid", s.ipProtocol);
          put("isakmp.ts.selector_length", 8 + s.start.length + s.end.length);
          put("isakmp.ts.start_port", s.startPort);
          put("isakmp.ts.end_port", s.endPort);
          if (s.tsType === 7) {
            put("isakmp.ts.start_ipv4", [...s.start].join("."));
            put("isakmp.ts.end_ipv4", [...s.end].join("."));
          } else {
            put("isakmp.ts.start_ipv6", ipv6Text(s.start));
            put("isakmp.ts.end_ipv6", ipv6Text(s.end));
          }
        }
        break;
      case "CP":
        put("isakmp.payloadlength", 8 + p.attributes.reduce((n, a) => n + 4 + a.value.length, 0));
        put("isakmp.cfg.type", p.cfgType);
        for (const a of p.attributes) {
          put("isakmp.cfg.attr.type", a.type);
          put("isakmp.cfg.attr.length", a.value.length);
        }
        break;
      case "EAP":
        put("isakmp.payloadlength", 4 + p.data.length);
        put("eap.code", p.data[0]!);
        put("eap.id", p.data[1]!);
        put("eap.type", p.data[4]!);
        put("eap.identity", new TextDecoder().decode(p.data.subarray(5)));
        break;
      case "SK":
        put("isakmp.payloadlength", 4 + p.body.length);
        break;
      case "SKF":
        put("isakmp.payloadlength", 8 + p.body.length);
        put("isakmp.frag.number", p.fragmentNumber);
        put("isakmp.frag.total", p.totalFragments);
        break;
      case "UNKNOWN":
        put("isakmp.payloadlength", 4 + p.data.length);
        put("isakmp.datapayload", hex(p.data));
        break;
    }
  });
  return f;
}

/** encoded.fields.tsv as one record of field -> values per frame. */
function parseFields(tsv: string): Record<string, string[]>[] {
  const [head, ...rows] = tsv
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => l.split("\t"));
  assert.deepEqual(head, [...TSHARK_FIELDS]);
  return rows.map((r) =>
    Object.fromEntries(head.map((k, i) => [k, r[i] === "" || r[i] === undefined ? [] : r[i].split("|")])),
  );
}

test("our encoding of the samples is exactly encoded.pcap, and decodes back to the samples", () => {
  const wire = encodedFixture();
  assert.equal(wire.length, SAMPLES.length);
  SAMPLES.forEach((s, i) => {
    const bytes = encodeMessage(s.message);
    assert.equal(hex(bytes), hex(wire[i]!), s.name);
    const back = value(decodeMessage(bytes), s.name);
    assert.deepEqual(back.payloads, s.message.payloads, s.name);
    assert.deepEqual(
      back.header,
      { ...s.message.header, length: bytes.length, nextPayload: back.header.nextPayload },
      s.name,
    );
  });
});

test("tshark's reading of every field equals our decoder's, for every payload kind", () => {
  const shown = parseFields(readFileSync(fixture("encoded.fields.tsv"), "utf8"));
  const wire = encodedFixture();
  assert.equal(shown.length, wire.length);
  const kinds = new Set<string>();
  wire.forEach((bytes, i) => {
    const m = value(decodeMessage(bytes));
    for (const p of m.payloads) kinds.add(p.type);
    const want = expectedFields(m);
    for (const k of TSHARK_FIELDS) assert.deepEqual(shown[i]![k], want[k], `${SAMPLES[i]!.name}: ${k}`);
  });
  assert.deepEqual([...kinds].sort(), [
    "AUTH",
    "CERT",
    "CERTREQ",
    "CP",
    "D",
    "EAP",
    "IDi",
    "IDr",
    "KE",
    "N",
    "NONCE",
    "SA",
    "SK",
    "SKF",
    "TSi",
    "TSr",
    "UNKNOWN",
    "V",
  ]);
});

// ---------------------------------------------------------------- round trips, canonical form

test("round trip: decode(encode(x)) = x for payload chains, and encodeHeader/payloadHeaderBytes lay out RFC 7296 §3.1/§3.2", () => {
  for (const s of SAMPLES) {
    const { firstType, bytes } = encodePayloads(s.message.payloads);
    assert.deepEqual(value(decodePayloads(bytes, firstType)), s.message.payloads, s.name);
  }
  assert.deepEqual(encodePayloads([]), { firstType: 0, bytes: new Uint8Array(0) });
  const h = encodeHeader(
    {
      spiI: seq(8, 1),
      spiR: seq(8, 9),
      majorVersion: 2,
      minorVersion: 0,
      exchange: 37,
      flags: 0x28,
      messageId: 0x01020304,
    },
    46,
    0x1234,
  );
  assert.equal(hex(h), "0102030405060708" + "090a0b0c0d0e0f10" + "2e" + "20" + "25" + "28" + "01020304" + "00001234");
  assert.equal(hex(payloadHeaderBytes(35, 300)), "2300012c");
  assert.equal(hex(payloadHeaderBytes(0, 8, true)), "00800008");
  const empty = value(decodeMessage(encodeMessage({ header: SAMPLES[0]!.message.header, payloads: [] })));
  assert.deepEqual(empty.payloads, []);
  assert.equal(empty.header.length, 28);
});

test("canonical encoding: reserved bits are ignored on decode and written as zero", () => {
  const bytes = encodeMessage(SAMPLES[3]!.message); // D, D, V (critical)
  const dirty = bytes.slice();
  dirty[28 + 1]! |= 0x7f; // reserved bits of the first payload's generic header
  dirty[28 + 8 + 16 + 1]! |= 0x01;
  const m = value(decodeMessage(dirty));
  assert.deepEqual(m, value(decodeMessage(bytes)));
  assert.equal(hex(encodeMessage(m)), hex(bytes));
  // the CP attribute's reserved top bit (RFC 7296 §3.15.1) likewise
  const cp: Payload = { type: "CP", cfgType: 2, attributes: [{ type: 1, value: Uint8Array.of(198, 51, 100, 64) }] };
  const { firstType, bytes: cpBytes } = encodePayloads([cp]);
  const cpDirty = cpBytes.slice();
  cpDirty[8]! |= 0x80;
  assert.deepEqual(value(decodePayloads(cpDirty, firstType)), [cp]);
});

test("encoding refuses models that cannot go on the wire", () => {
  const sk: Payload = { type: "SK", innerType: 35, body: seq(40, 0) };
  assert.throws(() => encodePayloads([sk, { type: "V", data: seq(4, 0) }]), RangeError);
  assert.throws(() => encodeHeader({ ...SAMPLES[0]!.message.header, spiI: seq(4, 0) }, 0, 28), RangeError);
  assert.throws(() => encodePayloads([{ type: "KE", group: 70000, data: seq(4, 0) }]), RangeError);
  assert.throws(() => encodePayloads([{ type: "V", data: new Uint8Array(65532) }]), RangeError);
  assert.throws(
    () =>
      encodePayloads([
        {
          type: "TSi",
          selectors: [{ tsType: 7, ipProtocol: 0, startPort: 0, endPort: 0, start: seq(16, 0), end: seq(16, 0) }],
        },
      ]),
    RangeError,
  );
  assert.throws(() => encodePayloads([{ type: "D", protocolId: 3, spiSize: 4, spis: [seq(8, 0)] }]), RangeError);
  assert.doesNotThrow(() => encodePayloads([{ type: "V", data: new Uint8Array(65531) }]));
});

test("decoded values are plain Uint8Array copies, also from a Node Buffer (whose slice() would alias)", () => {
  const wire = Buffer.from(encodeMessage(SAMPLES[1]!.message));
  const m = value(decodeMessage(wire));
  const ke = m.payloads[1] as Extract<Payload, { type: "KE" }>;
  assert.equal(Object.getPrototypeOf(ke.data), Uint8Array.prototype);
  assert.equal(Object.getPrototypeOf(m.header.spiI), Uint8Array.prototype);
  const before = hex(ke.data);
  wire.fill(0);
  assert.equal(hex(ke.data), before);
});

test("SK body, innerType and SKF fields survive a round trip; critical unknown payloads are kept", () => {
  const chain: Payload[] = [
    { type: "UNKNOWN", payloadType: 49, critical: true, data: seq(3, 7) },
    { type: "SK", innerType: 41, body: seq(33, 1) },
  ];
  const { firstType, bytes } = encodePayloads(chain);
  assert.equal(firstType, 49);
  assert.equal(bytes[0], 46); // UNKNOWN's next payload = SK
  assert.equal(bytes[1], 0x80);
  assert.equal(bytes[7], 41); // SK's next payload = its inner type
  assert.deepEqual(value(decodePayloads(bytes, firstType)), chain);
  assert.equal(payloadShortName(chain[0]!), "UNKN(49)");
});

// ---------------------------------------------------------------- totality

const CODES = new Set([
  "TOO_SHORT",
  "BAD_LENGTH",
  "UNSUPPORTED_VERSION",
  "BAD_PAYLOAD_LENGTH",
  "BAD_PAYLOAD",
  "TRAILING_BYTES",
  "UNSUPPORTED_CRITICAL_PAYLOAD",
]);

/** Counts of what a batch of inputs gave, so the test can show the fuzzing reached the payload parsers. */
interface Tally {
  ok: number;
  codes: Map<string, number>;
}

/**
 * Decodes `buf` and checks the outcome is well-formed. Whatever decodes must encode to the same
 * length; every `deepEvery`-th success is also re-decoded and compared in full (that comparison
 * is what makes the 700 000-input byte-change test slow, so it samples).
 */
function checkMessage(buf: Uint8Array, tally: Tally, what: string, deepEvery = 1): void {
  let r: ParseResult<IkeMessage>;
  try {
    r = decodeMessage(buf);
  } catch (e) {
    assert.fail(`${what}: decodeMessage threw ${String(e)}`);
  }
  if (r.ok) {
    tally.ok++;
    const again = encodeMessage(r.value);
    if (again.length !== buf.length) assert.fail(`${what}: re-encoded to ${again.length} bytes, not ${buf.length}`);
    if (tally.ok % deepEvery === 0) assert.deepEqual(value(decodeMessage(again), what), r.value, what);
  } else {
    const e = r.error;
    assert.ok(CODES.has(e.code), `${what}: code ${e.code}`);
    assert.ok(
      Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= buf.length,
      `${what}: offset ${e.offset} of ${buf.length}: ${e.message}`,
    );
    assert.ok(
      e.message.length > 10 && !e.message.includes("undefined") && !e.message.includes("NaN"),
      `${what}: ${e.message}`,
    );
    tally.codes.set(e.code, (tally.codes.get(e.code) ?? 0) + 1);
  }
}

function checkChain(buf: Uint8Array, firstType: number, base: number, what: string): boolean {
  let r: ParseResult<Payload[]>;
  try {
    r = decodePayloads(buf, firstType, base);
  } catch (e) {
    assert.fail(`${what}: decodePayloads threw ${String(e)}`);
  }
  if (r.ok) {
    const again = encodePayloads(r.value);
    assert.deepEqual(value(decodePayloads(again.bytes, again.firstType)), r.value, what);
    return true;
  }
  assert.ok(r.error.offset >= base && r.error.offset <= base + buf.length, `${what}: offset ${r.error.offset}`);
  return false;
}

/** A copy of `buf` whose header length field says `buf.length`, so the payload parser runs on it. */
function withLength(buf: Uint8Array): Uint8Array {
  const b = buf.slice();
  if (b.length >= 28) new DataView(b.buffer).setUint32(24, b.length);
  return b;
}

function corpus(): Uint8Array[] {
  return [...SAMPLES.map((s) => encodeMessage(s.message)), ...capturedMessages().map((c) => c.bytes)];
}

test("totality: every truncation of 15 valid messages (raw and with the header length adjusted)", () => {
  const tally: Tally = { ok: 0, codes: new Map() };
  let n = 0;
  for (const msg of corpus()) {
    for (let len = 0; len <= msg.length; len++) {
      checkMessage(msg.subarray(0, len), tally, `truncated to ${len}`);
      checkMessage(withLength(msg.subarray(0, len)), tally, `truncated to ${len}, length fixed`);
      n += 2;
    }
  }
  assert.ok(n > 5000, `${n} inputs`);
  for (const code of ["TOO_SHORT", "BAD_LENGTH", "BAD_PAYLOAD_LENGTH"])
    assert.ok((tally.codes.get(code) ?? 0) > 0, code);
});

test("totality: every single-byte change at each of the first 200 offsets of 15 valid messages", () => {
  const tally: Tally = { ok: 0, codes: new Map() };
  let n = 0;
  for (const msg of corpus()) {
    const end = Math.min(200, msg.length);
    for (let off = 0; off < end; off++) {
      const b = msg.slice();
      for (let v = 0; v < 256; v++) {
        if (v === msg[off]) continue;
        b[off] = v;
        checkMessage(b, tally, `byte ${off} = ${v}`, 16);
        n++;
      }
    }
  }
  assert.ok(n > 500_000, `${n} inputs`);
  assert.ok(tally.ok > 1000, `${tally.ok} still decoded`);
  for (const code of CODES) {
    // the codec leaves critical payloads to the state machine; a changed byte cannot shorten the input
    if (code === "UNSUPPORTED_CRITICAL_PAYLOAD" || code === "TOO_SHORT") continue;
    assert.ok((tally.codes.get(code) ?? 0) > 0, `no ${code} among ${n} changed messages`);
  }
});

test("totality: 5000 seeded random inputs, and byte changes inside decrypted strongSwan payload chains", () => {
  const rnd = prng(0x1ce2c0de);
  const firstTypes = [0, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53, 99];
  const anyType = (): number => firstTypes[rnd.int(1, firstTypes.length - 1)]!;
  /** Well-formed generic payload headers around random bodies, so every body parser gets random input. */
  const structuredChain = (): { first: number; bytes: Uint8Array } => {
    const types = Array.from({ length: rnd.int(1, 4) }, anyType);
    const parts = types.map((t, j) => {
      const body = rnd.bytes(rnd.int(0, 48));
      const next = j + 1 < types.length ? types[j + 1] : 0;
      return Uint8Array.from([next, rnd.int(0, 1) * 0x80, 0, 4 + body.length, ...body]);
    });
    return { first: types[0]!, bytes: new Uint8Array(Buffer.concat(parts)) };
  };
  const header = (next: number): Uint8Array =>
    Uint8Array.from([...rnd.bytes(16), next, 0x20, rnd.int(34, 37), rnd.int(0, 255), ...rnd.bytes(4), 0, 0, 0, 0]);

  const tally: Tally = { ok: 0, codes: new Map() };
  for (let i = 0; i < 1000; i++) checkMessage(rnd.bytes(rnd.int(0, 300)), tally, `random ${i}`);
  for (let i = 0; i < 1000; i++)
    checkMessage(
      withLength(
        Uint8Array.from([...header(firstTypes[rnd.int(0, firstTypes.length - 1)]!), ...rnd.bytes(rnd.int(0, 300))]),
      ),
      tally,
      `random after a header ${i}`,
    );
  for (let i = 0; i < 1000; i++) {
    const c = structuredChain();
    checkMessage(withLength(Uint8Array.from([...header(c.first), ...c.bytes])), tally, `structured message ${i}`);
  }
  let chainsOk = 0;
  for (let i = 0; i < 1000; i++) {
    if (
      checkChain(
        rnd.bytes(rnd.int(0, 200)),
        firstTypes[rnd.int(0, firstTypes.length - 1)]!,
        rnd.int(0, 1000),
        `random chain ${i}`,
      )
    )
      chainsOk++;
  }
  for (let i = 0; i < 1000; i++) {
    const c = structuredChain();
    if (checkChain(c.bytes, c.first, 0, `structured chain ${i}`)) chainsOk++;
  }
  assert.ok(tally.ok > 50 && chainsOk > 50, `${tally.ok} random messages and ${chainsOk} random chains decoded`);
  for (const code of ["BAD_PAYLOAD_LENGTH", "BAD_PAYLOAD", "TRAILING_BYTES"])
    assert.ok((tally.codes.get(code) ?? 0) > 0, code);

  const { outer, reassembled } = openCapture();
  let changed = 0;
  for (const o of [...outer, ...reassembled]) {
    if (!o.inner) continue;
    const { firstType, bytes } = o.inner;
    for (let off = 0; off < bytes.length; off++) {
      for (const v of [0x00, 0x01, 0x07, 0x80, 0xff]) {
        const b = bytes.slice();
        b[off] = v;
        checkChain(b, firstType, 32, `inner byte ${off} = ${v}`);
        changed++;
      }
    }
  }
  assert.ok(changed > 1000, `${changed} changed inner chains`);
});

// ---------------------------------------------------------------- specific errors

/** A minimal valid message around `payloads`, as bytes. */
const build = (payloads: Payload[]): Uint8Array => encodeMessage({ header: SAMPLES[1]!.message.header, payloads });

test("IKEv1 header: UNSUPPORTED_VERSION with majorVersion 1", () => {
  // ISAKMP (RFC 2408 §3.1) Main Mode: version 0x10, exchange 2, SA payload (next 1) follows
  const v1 = Uint8Array.from([
    ...seq(8, 0x11),
    ...new Array<number>(8).fill(0),
    1,
    0x10,
    2,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    40,
    0,
    0,
    0,
    12,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    1,
  ]);
  const e = error(decodeMessage(v1));
  assert.equal(e.code, "UNSUPPORTED_VERSION");
  assert.equal(e.majorVersion, 1);
  assert.equal(e.offset, 17);
  assert.match(e.message, /IKEv1/);
  assert.equal(error(decodeHeader(v1)).majorVersion, 1);
  const v3 = v1.slice();
  v3[17] = 0x30;
  assert.equal(error(decodeHeader(v3)).majorVersion, 3);
});

test("header: too short, and a length field that disagrees with the datagram (both numbers named)", () => {
  const bytes = build([{ type: "NONCE", data: seq(16, 0) }]);
  assert.equal(error(decodeMessage(bytes.subarray(0, 27))).code, "TOO_SHORT");
  assert.equal(error(decodeMessage(new Uint8Array(0))).offset, 0);
  const short = error(decodeMessage(bytes.subarray(0, bytes.length - 1)));
  assert.equal(short.code, "BAD_LENGTH");
  assert.equal(short.offset, 24);
  assert.match(short.message, new RegExp(`\\b${bytes.length}\\b.*\\b${bytes.length - 1}\\b`));
  const long = Uint8Array.from([...bytes, 0]);
  assert.match(error(decodeMessage(long)).message, new RegExp(`${bytes.length} bytes but ${bytes.length + 1} bytes`));
});

test("payload length below 4, a chain running past the end, and trailing bytes", () => {
  const bytes = build([
    { type: "NONCE", data: seq(16, 0) },
    { type: "V", data: seq(8, 0) },
  ]);
  const tiny = bytes.slice();
  tiny[28 + 3] = 3;
  const e1 = error(decodeMessage(tiny));
  assert.deepEqual([e1.code, e1.offset], ["BAD_PAYLOAD_LENGTH", 30]);
  assert.match(e1.message, /NONCE payload at offset 28 claims a length of 3, less than its 4-byte header/);
  const past = bytes.slice();
  past[48 + 3]! += 1; // V payload (at 28 + 20) one byte longer than the message
  const e2 = error(decodeMessage(past));
  assert.deepEqual([e2.code, e2.offset], ["BAD_PAYLOAD_LENGTH", 50]);
  assert.match(e2.message, /V payload at offset 48 claims 13 bytes but only 12 bytes remain/);
  const chainEnds = bytes.slice();
  chainEnds[28] = 33; // NONCE says an SA follows; the V bytes are read as one
  assert.match(
    error(decodeMessage(chainEnds)).message,
    /SA payload at offset 48: proposal 1 at offset 52 claims 515 bytes but only 8 bytes remain/,
  );
  const noNext = bytes.slice();
  noNext[28] = 0;
  const e3 = error(decodeMessage(noNext));
  assert.deepEqual([e3.code, e3.offset], ["TRAILING_BYTES", 48]);
  const afterSk = encodeMessage({
    header: SAMPLES[5]!.message.header,
    payloads: [{ type: "SK", innerType: 35, body: seq(40, 0) }],
  });
  const skShort = withLength(afterSk.slice());
  skShort[28 + 3]! -= 4;
  const e4 = error(decodeMessage(skShort));
  assert.equal(e4.code, "TRAILING_BYTES");
  assert.match(e4.message, /SK payload at offset 28 must be the last payload but 4 bytes follow it/);
  const headerOnly = withLength(Uint8Array.from([...bytes.subarray(0, 28)]));
  headerOnly[16] = 33;
  assert.match(
    error(decodeMessage(headerOnly)).message,
    /SA payload at offset 28 needs a 4-byte header but the message ends there/,
  );
});

test("SA: transform count mismatch, bad last/more, key length in TLV form, unknown attribute, SPI sizes", () => {
  const bytes = encodeMessage(SAMPLES[1]!.message); // SA: one IKE proposal with 3 transforms
  const count = bytes.slice();
  count[32 + 7] = 4;
  const e1 = error(decodeMessage(count));
  assert.deepEqual([e1.code, e1.offset], ["BAD_PAYLOAD", 39]);
  assert.match(e1.message, /SA payload at offset 28: proposal 1 at offset 32 says it has 4 transforms but holds 3/);
  const more = bytes.slice();
  more[32] = 2;
  assert.match(error(decodeMessage(more)).message, /proposal 1 at offset 32 is marked 'more' but nothing follows it/);
  const tMore = bytes.slice();
  tMore[40 + 12 + 8] = 3; // last transform (at 40 + 12 + 8) marked "more"
  assert.match(error(decodeMessage(tMore)).message, /transform 3 at offset 60 is marked 'more'/);
  const tlv = bytes.slice();
  tlv[40 + 8] = 0x00; // AF bit cleared: TLV with length 128 -> runs past the transform
  assert.equal(error(decodeMessage(tlv)).code, "BAD_PAYLOAD_LENGTH");
  const tlv0 = bytes.slice();
  tlv0.set([0x00, 0x0e, 0x00, 0x00], 48); // TLV key length with an empty value
  assert.match(
    error(decodeMessage(tlv0)).message,
    /key length attribute at offset 48 is in TLV form; RFC 7296 §3.3.5 requires TV/,
  );
  const other = bytes.slice();
  other[49] = 0x0b; // attribute type 11, TV
  assert.match(error(decodeMessage(other)).message, /attribute type 11 at offset 48 is not the key length/);
  const espNoSpi = build([
    {
      type: "SA",
      proposals: [{ num: 1, protocolId: 3, spi: new Uint8Array(0), transforms: [{ type: 1, id: 20, keyLength: 128 }] }],
    },
  ]);
  assert.match(
    error(decodeMessage(espNoSpi)).message,
    /proposal 1 at offset 32 is for ESP with a 0-byte SPI; ESP SPIs are 4 bytes/,
  );
  const ike4 = build([
    { type: "SA", proposals: [{ num: 1, protocolId: 1, spi: seq(4, 0), transforms: [{ type: 4, id: 31 }] }] },
  ]);
  assert.match(error(decodeMessage(ike4)).message, /IKE SPIs are 0 or 8 bytes/);
  assert.match(
    error(decodeMessage(build([{ type: "SA", proposals: [] }]))).message,
    /SA payload at offset 28 holds no proposal/,
  );
});

test("TS: selector lengths that do not fit the address type, selector count, unknown TS type", () => {
  const sel = (t: number, len: 4 | 16) => ({
    tsType: t,
    ipProtocol: 0,
    startPort: 0,
    endPort: 65535,
    start: seq(len, 1),
    end: seq(len, 9),
  });
  const bytes = build([{ type: "TSi", selectors: [sel(7, 4), sel(7, 4)] }]);
  // TSi at 28, body at 32, selector 1 at 36, selector 2 at 52 (length field at 54)
  const claims24 = bytes.slice();
  claims24[55] = 24;
  const e = error(decodeMessage(claims24));
  assert.deepEqual([e.code, e.offset], ["BAD_PAYLOAD_LENGTH", 54]);
  assert.equal(e.message, "TSi payload at offset 28: selector 2 claims 24 bytes but type 7 needs 16");
  const v6As4 = bytes.slice();
  v6As4[52] = 8;
  assert.equal(
    error(decodeMessage(v6As4)).message,
    "TSi payload at offset 28: selector 2 claims 16 bytes but type 8 needs 40",
  );
  const v6 = build([{ type: "TSr", selectors: [sel(8, 16)] }]);
  const v4As6 = v6.slice();
  v4As6[36] = 7;
  assert.equal(
    error(decodeMessage(v4As6)).message,
    "TSr payload at offset 28: selector 1 claims 40 bytes but type 7 needs 16",
  );
  const count = bytes.slice();
  count[32] = 3;
  assert.match(error(decodeMessage(count)).message, /TSi payload at offset 28 says it has 3 selectors but holds 2/);
  const fc = bytes.slice();
  fc[36] = 9;
  assert.match(
    error(decodeMessage(fc)).message,
    /selector 1 has type 9; only 7 \(IPv4 range\) and 8 \(IPv6 range\) are supported/,
  );
});

test("minimum sizes and counts of KE, N, D, CERT, AUTH, NONCE, EAP, SKF", () => {
  const payloadOnly = (type: number, body: number[]): Uint8Array => {
    const len = 4 + body.length;
    const b = Uint8Array.from([
      ...new Uint8Array(16),
      type,
      0x20,
      37,
      8,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      len >> 8,
      len & 0xff,
      ...body,
    ]);
    return withLength(b);
  };
  const m = (type: number, body: number[]): string => error(decodeMessage(payloadOnly(type, body))).message;
  assert.equal(
    m(34, [0, 31]),
    "KE payload at offset 28 is 6 bytes, shorter than its 8-byte minimum (DH group and reserved field)",
  );
  assert.match(
    m(41, [3, 4, 0x40, 0x09, 1, 2]),
    /N payload at offset 28 is 10 bytes, shorter than its 12-byte minimum \(its SPI size field says 4\)/,
  );
  assert.match(m(41, [0, 0, 0x40]), /shorter than its 8-byte minimum/);
  assert.match(
    m(42, [3, 4, 0, 2, 1, 2, 3, 4]),
    /D payload at offset 28 lists 2 SPIs of 4 bytes \(8 bytes\) but 4 bytes follow/,
  );
  assert.match(m(42, [1, 4, 0, 0]), /D payload at offset 28 has SPI size 4 for protocol 1, which needs 0/);
  assert.match(m(42, [9, 0, 0, 0]), /names protocol 9/);
  assert.match(m(37, []), /CERT payload at offset 28 is 4 bytes/);
  assert.match(m(39, [2, 0]), /AUTH payload at offset 28 is 6 bytes/);
  assert.match(
    m(40, [...seq(15, 0)]),
    /NONCE payload at offset 28 carries a 15-byte nonce; RFC 7296 §3.9 allows 16 to 256/,
  );
  assert.match(m(40, [...new Uint8Array(257)]), /257-byte nonce/);
  assert.match(
    m(48, [2, 1, 0, 9, 1]),
    /EAP payload at offset 28: the EAP message says it is 9 bytes but the payload holds 5/,
  );
  assert.match(m(53, [0, 0, 0, 2, 1, 2]), /SKF payload at offset 28 is fragment 0 of 2/);
  assert.match(m(53, [0, 3, 0, 2, 1, 2]), /fragment 3 of 2/);
  assert.match(m(53, [0, 1]), /SKF payload at offset 28 is 6 bytes, shorter than its 8-byte minimum/);
  assert.match(
    m(47, [1, 0, 0, 0, 0, 1, 0, 5, 1]),
    /CP payload at offset 28: attribute 1 at offset 36 claims 5 value bytes but only 1 byte remain/,
  );
});

test("unknown payload types decode as UNKNOWN with their critical bit; decodePayloads offsets include baseOffset", () => {
  const body = [0xde, 0xad];
  const crit = Uint8Array.from([41, 0x80, 0, 6, ...body, 0, 0, 0, 8, 0, 0, 0x40, 0x0e]);
  const chain = value(decodePayloads(crit, 250));
  assert.deepEqual(chain, [
    { type: "UNKNOWN", payloadType: 250, critical: true, data: Uint8Array.from(body) },
    { type: "N", protocolId: 0, spi: new Uint8Array(0), notifyType: 16398, data: new Uint8Array(0) },
  ]);
  const e = error(decodePayloads(crit.subarray(0, 9), 250, 100));
  assert.equal(e.code, "BAD_PAYLOAD_LENGTH");
  assert.equal(e.offset, 100 + 9);
  assert.match(e.message, /N payload at offset 106 needs a 4-byte header but only 3 bytes remain/);
});

// ---------------------------------------------------------------- names (strongSwan's spelling)

test("names: notify names as in strongSwan's notify_payload.c", () => {
  const short: Record<number, string> = {
    16388: "NATD_S_IP",
    16389: "NATD_D_IP",
    16430: "FRAG_SUP",
    16431: "HASH_ALG",
    16406: "REDIR_SUP",
    16418: "CHDLESS_SUP",
    16404: "MULT_AUTH",
    14: "NO_PROP",
    24: "AUTH_FAILED",
    38: "TS_UNACCEPT",
    17: "INVAL_KE",
    16390: "COOKIE",
    16394: "ESP_TFC_PAD_N",
    16395: "NON_FIRST_FRAG",
    16384: "INIT_CONTACT",
    16393: "REKEY_SA",
    16391: "USE_TRANSP",
    16396: "MOBIKE_SUP",
    16386: "ADD_TS_POSS",
    7: "INVAL_SYN",
    4: "INVAL_IKE_SPI",
    43: "TEMP_FAIL",
    44: "NO_CHILD_SA",
    1: "CRIT",
    16417: "EAP_ONLY",
    16420: "MSG_ID_SYN_SUP",
  };
  for (const [n, s] of Object.entries(short)) assert.equal(notifyShortName(Number(n)), s, n);
  assert.equal(notifyShortName(40000), "(40000)");
  assert.equal(notifyName(14), "NO_PROPOSAL_CHOSEN");
  assert.equal(notifyName(16388), "NAT_DETECTION_SOURCE_IP");
  assert.equal(notifyName(16430), "FRAGMENTATION_SUPPORTED");
  assert.equal(notifyName(44), "CHILD_SA_NOT_FOUND");
  assert.equal(notifyName(40000), "NOTIFY_40000");
});

test("names: exchanges and transforms as strongSwan logs them", () => {
  assert.deepEqual([34, 35, 36, 37, 99].map(exchangeName), [
    "IKE_SA_INIT",
    "IKE_AUTH",
    "CREATE_CHILD_SA",
    "INFORMATIONAL",
    "EXCHANGE_99",
  ]);
  const cases: [number, number, number | undefined, string][] = [
    [1, 12, 128, "AES_CBC_128"],
    [1, 12, 256, "AES_CBC_256"],
    [1, 20, 128, "AES_GCM_16_128"],
    [1, 20, 256, "AES_GCM_16_256"],
    [1, 18, 128, "AES_GCM_8_128"],
    [1, 19, 128, "AES_GCM_12_128"],
    [1, 13, 128, "AES_CTR_128"],
    [1, 21, 128, "NULL_AES_GMAC_128"],
    [1, 28, undefined, "CHACHA20_POLY1305"],
    [1, 3, undefined, "3DES_CBC"],
    [3, 2, undefined, "HMAC_SHA1_96"],
    [3, 12, undefined, "HMAC_SHA2_256_128"],
    [3, 13, undefined, "HMAC_SHA2_384_192"],
    [3, 14, undefined, "HMAC_SHA2_512_256"],
    [3, 5, undefined, "AES_XCBC_96"],
    [2, 2, undefined, "PRF_HMAC_SHA1"],
    [2, 5, undefined, "PRF_HMAC_SHA2_256"],
    [2, 6, undefined, "PRF_HMAC_SHA2_384"],
    [2, 7, undefined, "PRF_HMAC_SHA2_512"],
    [4, 14, undefined, "MODP_2048"],
    [4, 15, undefined, "MODP_3072"],
    [4, 16, undefined, "MODP_4096"],
    [4, 19, undefined, "ECP_256"],
    [4, 20, undefined, "ECP_384"],
    [4, 21, undefined, "ECP_521"],
    [4, 28, undefined, "ECP_256_BP"],
    [4, 29, undefined, "ECP_384_BP"],
    [4, 30, undefined, "ECP_512_BP"],
    [4, 31, undefined, "CURVE_25519"],
    [4, 32, undefined, "CURVE_448"],
    [5, 0, undefined, "NO_EXT_SEQ"],
    [5, 1, undefined, "EXT_SEQ"],
    [1, 99, undefined, "(99)"],
    [7, 3, undefined, "UNKNOWN_7_3"],
  ];
  for (const [type, id, keyLength, name] of cases) assert.equal(transformName(type, id, keyLength), name);
  const p: Proposal = {
    num: 1,
    protocolId: 1,
    spi: new Uint8Array(0),
    transforms: [
      { type: 4, id: 31 },
      { type: 1, id: 20, keyLength: 128 },
      { type: 2, id: 5 },
      { type: 1, id: 28 },
    ],
  };
  assert.equal(proposalString(p), "IKE:CURVE_25519/AES_GCM_16_128/CHACHA20_POLY1305/PRF_HMAC_SHA2_256");
});

test("names: payload short names and the one-line summary (message.c get_string)", () => {
  const n = (notifyType: number): Payload => ({
    type: "N",
    protocolId: 0,
    spi: new Uint8Array(0),
    notifyType,
    data: new Uint8Array(0),
  });
  const init = SAMPLES[0]!.message.payloads.slice(0, 6);
  assert.equal(
    summarizeMessage(34, false, 0, [...init.slice(0, 3), n(16388), n(16389), n(16430)]),
    "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) ]",
  );
  assert.equal(
    summarizeMessage(
      35,
      true,
      1,
      SAMPLES[2]!.message.payloads.filter((p) => ["IDr", "AUTH", "SA", "TSi", "TSr"].includes(p.type)),
    ),
    "IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]",
  );
  assert.equal(summarizeMessage(37, false, 0xffffffff, []), "INFORMATIONAL request 4294967295 [ ]");
  const names = SAMPLES.flatMap((s) => s.message.payloads.map(payloadShortName));
  for (const x of [
    "SA",
    "KE",
    "No",
    "IDi",
    "IDr",
    "CERT",
    "CERTREQ",
    "AUTH",
    "D",
    "V",
    "TSi",
    "TSr",
    "E",
    "EF(1/2)",
    "EF(2/2)",
    "CPRQ(ADDR DNS ADDR6)",
    "EAP/RES/ID",
    "N(REKEY_SA)",
    "UNKN(200)",
  ]) {
    assert.ok(names.includes(x), `${x} in ${names.join(" ")}`);
  }
  const eap = (data: number[]): string => payloadShortName({ type: "EAP", data: Uint8Array.from(data) });
  assert.equal(eap([1, 1, 0, 5, 1]), "EAP/REQ/ID");
  assert.equal(eap([3, 1, 0, 4]), "EAP/SUCC");
  assert.equal(eap([1, 2, 0, 12, 254, 0, 0x28, 0xaf, 0, 0, 0, 3]), "EAP/REQ/3-10415");
  assert.equal(payloadShortName({ type: "CP", cfgType: 1, attributes: [] }), "CP");
  assert.equal(
    payloadShortName({
      type: "CP",
      cfgType: 2,
      attributes: [
        { type: 1, value: new Uint8Array(4) },
        { type: 300, value: new Uint8Array(0) },
      ],
    }),
    "CPRP(ADDR (300))",
  );
});
