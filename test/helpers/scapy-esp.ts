// Shared by scapy-live.test.ts and scapy-suites.test.ts: the cases sent to a scapy python helper
// (test/interop/scapy_esp.py, scapy_suites.py), the request it reads, the answer it writes, and
// the checks both files make on it: our packets decrypt in scapy, a tampered one fails scapy's
// ICV check, and scapy's packets decapsulate in our dataplane (a tampered one is dropped).
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import type { IcvLength, SaConfig } from "../../sdk/dataplane/types.ts";
import { concat, hex, ipv4Header, ipv6Header, type prng, unhex } from "./interop.ts";

// tunnel: inner family "in" outer family; transport: the packet's own family
export const FAMILIES = { tunnel: ["4in4", "6in6", "4in6", "6in4"], transport: ["4", "6"] } as const;
export const OUTER = { v4: ["198.18.0.1", "198.18.0.2"], v6: ["2001:db8:ffff::1", "2001:db8:ffff::2"] };
export const INNER = { v4: ["198.51.100.10", "203.0.113.20"], v6: ["2001:db8:100::10", "2001:db8:200::20"] };
/** Packets per case and direction. */
export const PACKETS = 8;

export interface ScapySa {
  spi: number;
  mode: "tunnel" | "transport";
  esp: string;
  encKey: string;
  integKey?: string;
  icvLength: IcvLength;
  esn: boolean;
}

export interface ScapyCase {
  name: string;
  sa: ScapySa;
  outer: "4" | "6";
  /** ESP in UDP 4500 both ways (RFC 3948). */
  natt: boolean;
  /** Why our dataplane refused the SA (then every test of the case fails with it). */
  addError?: string;
  /** Originals we encapsulated (→ scapy decrypts `ours`). */
  sent: Uint8Array[];
  ours: { wire: string; seq: string }[];
  /** Originals scapy encrypts (→ we decapsulate). */
  forScapy: Uint8Array[];
  scapySeqs: bigint[];
  encStatus: string[];
  /** scapy re-encrypts our first packet with its IV and seq; must equal ours[0].wire. */
  twin?: { inner: string; seq: string; iv: string };
}

export type ScapyDecrypted = { ok: true; packet: string } | { ok: false; error: string };
export interface ScapyAnswer {
  cases: { encrypt: { wire: string; l3HeaderLength: number }[]; decrypt: ScapyDecrypted[] }[];
}

/** A new empty case with a random SPI and keys for `suite`, and the inner addresses its packets use. */
export function newCase(
  rnd: ReturnType<typeof prng>,
  suite: string,
  s: { key: number; integ: number; icv: IcvLength },
  mode: "tunnel" | "transport",
  family: string,
  esn: boolean,
  natt: boolean,
): { c: ScapyCase; innerV6: boolean; src: string; dst: string } {
  const sa: ScapySa = {
    spi: rnd.int(0x1000, 0x7fffffff),
    mode,
    esp: suite,
    encKey: hex(rnd.bytes(s.key)),
    integKey: s.integ ? hex(rnd.bytes(s.integ)) : undefined,
    icvLength: s.icv,
    esn,
  };
  const innerV6 = family[0] === "6";
  const outer = family[family.length - 1] as "4" | "6";
  const [src, dst] = mode === "tunnel" ? (innerV6 ? INNER.v6 : INNER.v4) : innerV6 ? OUTER.v6 : OUTER.v4;
  const c: ScapyCase = {
    name: `${suite}${esn ? "-esn" : ""} ${mode} ${family}${natt ? " udp4500" : ""}`,
    sa,
    outer,
    natt,
    sent: [],
    ours: [],
    forScapy: [],
    scapySeqs: [],
    encStatus: [],
  };
  return { c, innerV6, src: src!, dst: dst! };
}

/** Our SA for a case; `pinIcvLength` passes the case's ICV length instead of leaving the suite's default. */
export function saConfig(c: ScapyCase, direction: "in" | "out", seq: bigint, pinIcvLength: boolean): SaConfig {
  return {
    spi: c.sa.spi,
    direction,
    mode: c.sa.mode,
    esp: c.sa.esp,
    encKey: unhex(c.sa.encKey),
    integKey: c.sa.integKey === undefined ? undefined : unhex(c.sa.integKey),
    icvLength: pinIcvLength ? c.sa.icvLength : undefined,
    esn: c.sa.esn,
    seq,
  };
}

/** Our encapsulated ESP as it goes on the wire: tunnel mode gets the outer IPv4/IPv6 header. */
export function withOuterHeader(c: ScapyCase, esp: Uint8Array): Uint8Array {
  if (c.sa.mode !== "tunnel") return esp;
  const [os, od] = c.outer === "4" ? OUTER.v4 : OUTER.v6;
  return concat(c.outer === "4" ? ipv4Header(os!, od!, 50, esp.length) : ipv6Header(os!, od!, 50, esp.length), esp);
}

/** The last byte before the ICV flipped (ciphertext, or the cleartext payload/trailer for NULL and GMAC). */
export function tamper(wireHex: string, icv: number): string {
  const b = unhex(wireHex);
  b[b.length - icv - 1]! ^= 0x01;
  return hex(b);
}

/** A case as the python helper reads it: decrypt ours plus a tampered copy of ours[0]; encrypt forScapy (then the twin). */
export function requestCase(c: ScapyCase): object {
  return {
    sa: c.sa,
    outer: c.outer,
    natt: c.natt,
    decrypt: [
      ...c.ours,
      ...(c.ours.length ? [{ wire: tamper(c.ours[0]!.wire, c.sa.icvLength), seq: c.ours[0]!.seq }] : []),
    ],
    encrypt: [
      ...c.forScapy.map((p, i) => ({ inner: hex(p), seq: c.scapySeqs[i]!.toString() })),
      ...(c.twin ? [c.twin] : []),
    ],
  };
}

/** All PACKETS of ours encapsulated, and scapy decrypted each to its original. */
export function assertOursDecryptInScapy(answer: ScapyAnswer | undefined, i: number, c: ScapyCase): void {
  assert.equal(c.addError, undefined, `our dataplane refused the SA: ${c.addError}`);
  assert.ok(answer, "scapy did not run");
  assert.deepEqual(c.encStatus, new Array<string>(PACKETS).fill("ok"), "our encapsulate statuses");
  const dec = answer.cases[i]!.decrypt;
  for (const [k, sent] of c.sent.entries()) {
    const d = dec[k];
    assert.ok(d!.ok, `packet ${k} (seq ${c.ours[k]!.seq}): scapy says ${d!.ok ? "" : d!.error}`);
    assert.equal(d!.packet, hex(sent), `packet ${k} (seq ${c.ours[k]!.seq})`);
  }
}

/** scapy refused the tampered copy of our first packet with an integrity error. */
export function assertTamperedFailsScapy(answer: ScapyAnswer | undefined, i: number, c: ScapyCase): void {
  assert.equal(c.addError, undefined, `our dataplane refused the SA: ${c.addError}`);
  assert.ok(answer, "scapy did not run");
  const last = answer.cases[i]!.decrypt[c.sent.length];
  assert.ok(last && !last.ok, "scapy accepted a tampered packet");
  assert.match(last.error, /IPSecIntegrityError/);
}

/** scapy's first PACKETS packets decapsulate in ours (`inSa`) to the originals; a tampered copy is integrity-failed. */
export async function assertScapyDecapsInOurs(
  answer: ScapyAnswer | undefined,
  i: number,
  c: ScapyCase,
  inSa: SaConfig,
): Promise<void> {
  assert.equal(c.addError, undefined, `our dataplane refused the SA: ${c.addError}`);
  assert.ok(answer, "scapy did not run");
  const rx = await Dataplane.create({ maxSas: 4 });
  rx.addSa(inSa);
  const enc = answer.cases[i]!.encrypt.slice(0, PACKETS);
  assert.equal(enc.length, c.forScapy.length);
  for (const [k, e] of enc.entries()) {
    const r = rx.decapsulate(unhex(e.wire), e.l3HeaderLength);
    assert.equal(r.status, "ok", `packet ${k} (seq ${c.scapySeqs[k]})`);
    assert.equal(r.seq, c.scapySeqs[k]);
    assert.equal(hex(r.payload ?? new Uint8Array(0)), hex(c.forScapy[k]!), `packet ${k} (seq ${c.scapySeqs[k]})`);
  }
  // a fresh SA, so the replay window does not decide: the ICV must
  const rx2 = await Dataplane.create({ maxSas: 4 });
  rx2.addSa(inSa);
  const bad = rx2.decapsulate(unhex(tamper(enc[0]!.wire, c.sa.icvLength)), enc[0]!.l3HeaderLength);
  assert.equal(bad.status, "integrity-failed");
  assert.equal(bad.payload, undefined);
}
