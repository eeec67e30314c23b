// Certificate authentication for IKEv2 against outside references: certificates, keys,
// `openssl x509 -text`, `openssl verify` verdicts and AlgorithmIdentifier bytes made by the
// OpenSSL CLI (test/fixtures/certs/make.sh), signatures checked and made by node:crypto
// (OpenSSL underneath), RFC 7427 Appendix A encodings, and strongSwan's identity parsing rules
// (docs.strongswan.org config/identityParsing.html and the cases of strongSwan's
// src/libstrongswan/tests/suites/test_identification.c).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as nodeCrypto from "node:crypto";
import {
  Tag,
  decodeOid,
  decodeTime,
  encodeLength,
  encodeOid,
  encodeUnsigned,
  readChildren,
  readOne,
  readTlv,
} from "../../sdk/ike/asn1.ts";
import { dnEquals, formatIdentity, identityMatches, parseIdentity } from "../../sdk/ike/identity.ts";
import type { IkeIdentity } from "../../sdk/ike/identity.ts";
import { IdType } from "../../sdk/ike/message.ts";
import {
  ALGORITHM_IDENTIFIERS,
  KeyError,
  SUPPORTED_HASHES,
  importPrivateKeyPem,
  pssAlgorithmIdentifier,
  signAuth,
  verifyAuth,
} from "../../sdk/ike/signature-auth.ts";
import {
  CertError,
  SigOid,
  certMatchesIdentity,
  ecdsaDerToRaw,
  ecdsaRawToDer,
  parseCertificate,
  parseSignatureAlgorithm,
  verifyCertSignature,
  verifyChain,
} from "../../sdk/ike/x509.ts";
import type { Certificate } from "../../sdk/ike/x509.ts";

const DIR = new URL("../fixtures/certs/", import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, DIR), "utf8");
const readBin = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, DIR)));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/[\s:]/g, ""), "hex"));
const cert = (name: string): Certificate => parseCertificate(read(`${name}.pem`));
const NOW = new Date("2026-06-01T00:00:00Z"); // the time make.sh ran `openssl verify -attime` at

const CERTS = [
  "ca",
  "inter",
  "rsa",
  "ec256",
  "ec384",
  "ec521",
  "ed25519",
  "pss",
  "expired",
  "other-ca",
  "other-leaf",
  "impostor-ca",
  "impostor-leaf",
  "notca-child",
  "inter2",
  "deep",
  "critical",
];

// ---- what `openssl x509 -noout -text -nameopt oneline,-space_eq` printed ----

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
function opensslDate(s: string): Date {
  const m = s.trim().match(/^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\d{4}) GMT$/);
  assert.ok(m, `unexpected OpenSSL date "${s}"`);
  return new Date(
    Date.UTC(Number(m[6]), MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])),
  );
}

function after(txt: string, heading: string): string | undefined {
  const lines = txt.split("\n");
  const i = lines.findIndex((l) => l.includes(heading));
  return i < 0 ? undefined : lines[i + 1]!.trim();
}

const OPENSSL_SIG: Record<string, string> = {
  sha256WithRSAEncryption: SigOid.SHA256_RSA,
  sha384WithRSAEncryption: SigOid.SHA384_RSA,
  sha512WithRSAEncryption: SigOid.SHA512_RSA,
  "ecdsa-with-SHA256": SigOid.ECDSA_SHA256,
  "ecdsa-with-SHA384": SigOid.ECDSA_SHA384,
  rsassaPss: SigOid.RSASSA_PSS,
};
const OPENSSL_KU: Record<string, string> = {
  "Digital Signature": "digitalSignature",
  "Key Encipherment": "keyEncipherment",
  "Certificate Sign": "keyCertSign",
  "CRL Sign": "cRLSign",
};

function openssl(name: string) {
  const txt = read(`${name}.txt`);
  const serialLine = txt.match(/Serial Number: (\d+) \(0x([0-9a-f]+)\)/);
  const serial = serialLine
    ? serialLine[2]!.padStart(serialLine[2]!.length + (serialLine[2]!.length % 2), "0")
    : after(txt, "Serial Number:")!.replaceAll(":", "");
  const sigHex = txt
    .slice(txt.lastIndexOf("Signature Value:"))
    .split("\n")
    .filter((l) => /^\s+([0-9a-f]{2}:)*[0-9a-f]{2}:?$/.test(l))
    .join("")
    .replace(/[\s:]/g, "");
  const bc = after(txt, "X509v3 Basic Constraints:");
  const san = after(txt, "X509v3 Subject Alternative Name:");
  return {
    serial,
    // charon prints emailAddress as "E"
    subject: txt.match(/^ +Subject: (.*)$/m)![1]!.replace("emailAddress=", "E="),
    issuer: txt.match(/^ +Issuer: (.*)$/m)![1]!.replace("emailAddress=", "E="),
    notBefore: opensslDate(txt.match(/Not Before: (.*)$/m)![1]!),
    notAfter: opensslDate(txt.match(/Not After : (.*)$/m)![1]!),
    keyAlg: txt.match(/Public Key Algorithm: (\S+)/)![1],
    bits: Number(txt.match(/Public-Key: \((\d+) bit\)/)?.[1] ?? 0),
    curve: txt.match(/NIST CURVE: (\S+)/)?.[1],
    sigAlg: txt.match(/Signature Algorithm: (\S+)/)![1],
    signature: sigHex,
    isCa: bc?.startsWith("CA:TRUE") ?? false,
    pathLen: bc?.match(/pathlen:(\d+)/)?.[1],
    keyUsage: after(txt, "X509v3 Key Usage:")
      ?.split(", ")
      .map((k) => OPENSSL_KU[k] ?? k),
    ski: after(txt, "X509v3 Subject Key Identifier:")?.replaceAll(":", "").toLowerCase(),
    san: (san ? san.split(", ") : []).map((e) => e.split(/:(.*)/s, 2) as [string, string]),
  };
}

function ipFromOpenssl(s: string): string {
  if (s.includes(".")) return hex(Uint8Array.from(s.split(".").map(Number)));
  return s
    .split(":")
    .map((w) => w.padStart(4, "0"))
    .join("")
    .toLowerCase();
}

test("parseCertificate: every field equals what `openssl x509 -text` printed, for all 17 fixture certificates", () => {
  for (const name of CERTS) {
    const c = cert(name);
    const o = openssl(name);
    assert.equal(hex(c.serial), o.serial, `${name} serial`);
    assert.equal(c.subject, o.subject, `${name} subject`);
    assert.equal(c.issuer, o.issuer, `${name} issuer`);
    assert.equal(c.notBefore.getTime(), o.notBefore.getTime(), `${name} notBefore`);
    assert.equal(c.notAfter.getTime(), o.notAfter.getTime(), `${name} notAfter`);
    assert.equal(
      c.publicKeyAlg,
      { rsaEncryption: "rsa", "id-ecPublicKey": "ec", ED25519: "ed25519" }[o.keyAlg!],
      `${name} key algorithm`,
    );
    if (c.publicKeyAlg === "rsa") assert.equal(c.rsaBits, o.bits, `${name} RSA bits`);
    assert.equal(c.curve, o.curve, `${name} curve`);
    assert.equal(c.sigAlgOid, OPENSSL_SIG[o.sigAlg!], `${name} signature algorithm ${o.sigAlg}`);
    assert.equal(hex(c.signature), o.signature, `${name} signature value`);
    assert.equal(c.isCa, o.isCa, `${name} CA`);
    assert.equal(c.pathLen, o.pathLen === undefined ? undefined : Number(o.pathLen), `${name} pathlen`);
    assert.deepEqual(c.keyUsage, o.keyUsage, `${name} key usage`);
    assert.equal(c.subjectKeyId && hex(c.subjectKeyId), o.ski, `${name} SKI`);
    assert.deepEqual(
      c.san.dns,
      o.san.filter(([k]) => k === "DNS").map(([, v]) => v),
      `${name} SAN DNS`,
    );
    assert.deepEqual(
      c.san.email,
      o.san.filter(([k]) => k === "email").map(([, v]) => v),
      `${name} SAN email`,
    );
    assert.deepEqual(
      c.san.ip.map(hex),
      o.san.filter(([k]) => k === "IP Address").map(([, v]) => ipFromOpenssl(v)),
      `${name} SAN IP`,
    );
  }
});

test("parseCertificate: PEM text, PEM bytes and DER give the same certificate; the root's notAfter is a GeneralizedTime", () => {
  const pem = read("ec256.pem");
  const der = readBin("ec256.der");
  const a = parseCertificate(pem);
  const b = parseCertificate(der);
  const c = parseCertificate(new TextEncoder().encode(pem));
  assert.deepEqual(a.der, der);
  assert.deepEqual(b.der, der);
  assert.deepEqual(c.der, der);
  assert.equal(a.subject, "C=CH, O=ipsec-wasm test, OU=clients, CN=client.example.org");
  assert.equal(cert("ca").notAfter.toISOString(), "2051-01-01T00:00:00.000Z");
  assert.equal(hex(cert("ec256").serial), "c3d2e1f00112233445566778"); // DER carries a 0x00 sign octet before it
});

test("parseCertificate: garbage, empty input and non-certificate PEM throw CertError with a sentence", () => {
  for (const bad of [
    new Uint8Array(0),
    Uint8Array.of(0x30),
    Uint8Array.of(0x30, 0x80, 0, 0),
    "no pem here",
    read("rsa.key"),
    "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----",
  ]) {
    assert.throws(
      () => parseCertificate(bad),
      (e: unknown) => e instanceof CertError && e.message.length > 10,
    );
  }
});

test("DER reader totality: every truncation and 4 mutations of every byte of 4 certificates parse or throw CertError, nothing else", () => {
  let parsed = 0;
  let rejected = 0;
  for (const name of ["rsa", "ec256", "pss", "ed25519"]) {
    const der = readBin(`${name}.der`);
    const attempt = (b: Uint8Array): void => {
      try {
        parseCertificate(b);
        parsed++;
      } catch (e) {
        assert.ok(e instanceof CertError, `${name}: ${String(e)}`);
        rejected++;
      }
    };
    for (let n = 0; n < der.length; n++) attempt(der.subarray(0, n));
    for (let i = 0; i < der.length; i++) {
      for (const f of [(x: number) => x ^ 0x01, (x: number) => x ^ 0x80, () => 0x00, () => 0xff]) {
        const m = der.slice();
        m[i] = f(m[i]!);
        attempt(m);
      }
    }
  }
  assert.ok(rejected > 3000 && parsed > 1000, `rejected ${rejected}, parsed ${parsed}`);
});

test("a mutated tbsCertificate that still parses never verifies (sha256WithRSA and RSASSA-PSS), every 5th byte", async () => {
  const ca = cert("ca");
  for (const name of ["rsa", "pss"]) {
    const good = cert(name);
    assert.equal(await verifyCertSignature(good, ca), true);
    const der = good.der;
    const tbsEnd = good.tbs.byteOffset - der.byteOffset + good.tbs.length;
    let checked = 0;
    for (let i = 4; i < tbsEnd; i += 5) {
      const m = der.slice();
      m[i]! ^= 0x01;
      let c: Certificate;
      try {
        c = parseCertificate(m);
      } catch {
        continue;
      }
      assert.equal(await verifyCertSignature(c, ca), false, `${name} byte ${i}`);
      checked++;
    }
    assert.ok(checked > 100, `${name}: only ${checked} mutations parsed`);
  }
});

test("verifyCertSignature: right issuer, impostor with the same name, and a signatureAlgorithm that differs from tbsCertificate.signature", async () => {
  assert.equal(await verifyCertSignature(cert("rsa"), cert("ca")), true);
  assert.equal(await verifyCertSignature(cert("ec384"), cert("inter")), true); // ecdsa-with-SHA384 by a P-384 CA
  assert.equal(await verifyCertSignature(cert("impostor-leaf"), cert("impostor-ca")), true);
  assert.equal(await verifyCertSignature(cert("impostor-leaf"), cert("ca")), false);
  assert.equal(await verifyCertSignature(cert("rsa"), cert("other-ca")), false);
  // outer signatureAlgorithm sha256WithRSA (…01 01 0b) rewritten to sha512WithRSA: tbs untouched, still refused
  const der = readBin("rsa.der");
  const c = parseCertificate(der);
  const at = c.sigAlgDer.byteOffset - der.byteOffset;
  const m = der.slice();
  m[at + 12] = 0x0d;
  const patched = parseCertificate(m);
  assert.equal(patched.sigAlgOid, SigOid.SHA512_RSA);
  assert.equal(await verifyCertSignature(patched, cert("ca")), false);
});

// ---- chains, against `openssl verify` ----

const CHAIN_CASES: { name: string; leaf: string; inter?: string[]; at?: string; reason?: RegExp }[] = [
  { name: "rsa", leaf: "rsa" },
  { name: "ec256", leaf: "ec256" },
  { name: "ec384", leaf: "ec384", inter: ["inter"] },
  {
    name: "ec384-without-intermediate",
    leaf: "ec384",
    reason:
      /^no trusted or intermediate certificate named 'C=CH, O=ipsec-wasm test, CN=ipsec-wasm Test Intermediate CA' \(issuer of 'C=CH, O=ipsec-wasm test, CN=gw384.example.org'\)$/,
  },
  { name: "ec521", leaf: "ec521" },
  { name: "ed25519", leaf: "ed25519" },
  { name: "pss", leaf: "pss" },
  { name: "inter", leaf: "inter" },
  {
    name: "rsa-before-validity",
    leaf: "rsa",
    at: "2024-06-01T00:00:00Z",
    reason: /^certificate 'C=CH, O=ipsec-wasm test, CN=swan.example.org' is not valid before 2025-01-01T00:00:00.000Z$/,
  },
  {
    name: "expired",
    leaf: "expired",
    reason: /^certificate 'C=CH, O=ipsec-wasm test, CN=expired.example.org' expired on 2021-01-01T00:00:00.000Z$/,
  },
  {
    name: "other-leaf",
    leaf: "other-leaf",
    reason: /^no trusted or intermediate certificate named 'C=CH, O=Other Org, CN=Other Root CA'/,
  },
  {
    name: "impostor-leaf",
    leaf: "impostor-leaf",
    reason:
      /^signature of 'C=CH, O=ipsec-wasm test, CN=impostor.example.org' does not verify with the key of 'C=CH, O=ipsec-wasm test, CN=ipsec-wasm Test Root CA' \(sha256WithRSAEncryption\)$/,
  },
  {
    name: "notca-child",
    leaf: "notca-child",
    inter: ["rsa"],
    reason: /^issuer 'C=CH, O=ipsec-wasm test, CN=swan.example.org' is not a CA \(basicConstraints cA is not set\)$/,
  },
  {
    name: "deep",
    leaf: "deep",
    inter: ["inter", "inter2"],
    reason:
      /^issuer 'C=CH, O=ipsec-wasm test, CN=ipsec-wasm Test Intermediate CA' allows 0 CA certificates below it \(pathLenConstraint\), the chain has 1$/,
  },
  {
    name: "critical",
    leaf: "critical",
    reason:
      /^certificate 'C=CH, O=ipsec-wasm test, CN=critical.example.org' has critical extension 1.3.6.1.4.1.55555.1 that is not supported$/,
  },
];

test("verifyChain: the same verdict as `openssl verify` for 15 chains, and a reason that names the problem", async () => {
  const verdicts = new Map(
    read("verify.txt")
      .trim()
      .split("\n")
      .map((l) => [l.split(" ")[0], l.split(" ")[1]] as const),
  );
  assert.equal(verdicts.size, CHAIN_CASES.length);
  const ca = cert("ca");
  for (const k of CHAIN_CASES) {
    const r = await verifyChain(cert(k.leaf), (k.inter ?? []).map(cert), [ca], k.at ? new Date(k.at) : NOW);
    assert.equal(r.ok ? "OK" : "FAIL", verdicts.get(k.name), `${k.name}: ${r.ok ? "ok" : r.reason}`);
    if (!r.ok) assert.match(r.reason, k.reason!, k.name);
  }
});

test("verifyChain: intermediates in any order and extra unrelated ones; another trust anchor; an expired anchor", async () => {
  const leaf = cert("ec384");
  assert.deepEqual(await verifyChain(leaf, [cert("other-ca"), cert("inter2"), cert("inter")], [cert("ca")], NOW), {
    ok: true,
  });
  assert.deepEqual(await verifyChain(cert("other-leaf"), [], [cert("ca"), cert("other-ca")], NOW), { ok: true });
  // the impostor CA shares the root's name: with both trusted, each leaf finds its own issuer by signature
  assert.deepEqual(await verifyChain(cert("impostor-leaf"), [], [cert("ca"), cert("impostor-ca")], NOW), { ok: true });
  assert.deepEqual(await verifyChain(cert("rsa"), [], [cert("impostor-ca"), cert("ca")], NOW), { ok: true });
  const late = await verifyChain(cert("inter"), [], [cert("ca")], new Date("2052-01-01T00:00:00Z"));
  assert.equal(late.ok, false);
  assert.match((late as { reason: string }).reason, /expired on 2040-01-01/);
  // a pinned leaf (itself trusted) needs no issuer
  assert.deepEqual(await verifyChain(cert("other-leaf"), [], [cert("other-leaf")], NOW), { ok: true });
});

// ---- identities (strongSwan's rules) ----

type Want = { type: number | "any"; hex?: string; text?: string };
// Cases from strongSwan test_identification.c test_from_string (string_data), skipping only the
// NULL pointer case; `text` means the encoding is the given string.
const FROM_STRING: [string, Want][] = [
  ["", { type: "any" }],
  ["%any", { type: "any" }],
  ["%any6", { type: "any" }],
  ["0.0.0.0", { type: "any" }],
  ["0::0", { type: "any" }],
  ["::", { type: "any" }],
  ["*", { type: "any" }],
  ["any", { type: IdType.FQDN, text: "any" }],
  ["any6", { type: IdType.FQDN, text: "any6" }],
  ["0", { type: IdType.FQDN, text: "0" }],
  ["**", { type: IdType.FQDN, text: "**" }],
  ["192.168.1.1", { type: IdType.IPV4_ADDR, hex: "c0a80101" }],
  ["192.168.", { type: IdType.FQDN, text: "192.168." }],
  [".", { type: IdType.FQDN, text: "." }],
  ["192.168.1.1/33", { type: IdType.FQDN, text: "192.168.1.1/33" }],
  ["192.168.1.1/32", { type: 4, hex: "c0a80101ffffffff" }],
  ["192.168.1.1/31", { type: 4, hex: "c0a80100fffffffe" }],
  ["192.168.1.8/30", { type: 4, hex: "c0a80108fffffffc" }],
  ["192.168.1.128/25", { type: 4, hex: "c0a80180ffffff80" }],
  ["192.168.1.0/24", { type: 4, hex: "c0a80100ffffff00" }],
  ["192.168.1.0/23", { type: 4, hex: "c0a80000fffffe00" }],
  ["192.168.4.0/22", { type: 4, hex: "c0a80400fffffc00" }],
  ["0.0.0.0/0", { type: 4, hex: "0000000000000000" }],
  ["192.168.1.0-192.168.1.40", { type: 7, hex: "c0a80100c0a80128" }],
  ["0.0.0.0-255.255.255.255", { type: 7, hex: "00000000ffffffff" }],
  ["192.168.1.40-192.168.1.0", { type: IdType.FQDN, text: "192.168.1.40-192.168.1.0" }],
  ["fec0::1", { type: IdType.IPV6_ADDR, hex: "fec00000000000000000000000000001" }],
  ["fec0::", { type: IdType.IPV6_ADDR, hex: "fec00000000000000000000000000000" }],
  ["fec0:", { type: IdType.KEY_ID, text: "fec0:" }],
  [":", { type: IdType.KEY_ID, text: ":" }],
  ["fec0::1/129", { type: IdType.KEY_ID, text: "fec0::1/129" }],
  ["fec0::1/128", { type: 6, hex: "fec00000000000000000000000000001" + "ff".repeat(16) }],
  ["fec0::1/127", { type: 6, hex: "fec00000000000000000000000000000" + "ff".repeat(15) + "fe" }],
  ["fec0::4/126", { type: 6, hex: "fec00000000000000000000000000004" + "ff".repeat(15) + "fc" }],
  ["fec0::100/120", { type: 6, hex: "fec00000000000000000000000000100" + "ff".repeat(15) + "00" }],
  ["::/0", { type: 6, hex: "00".repeat(32) }],
  ["fec0::1-fec0::4fff", { type: 8, hex: "fec00000000000000000000000000001fec00000000000000000000000004fff" }],
  ["fec0::4fff-fec0::1", { type: IdType.KEY_ID, text: "fec0::4fff-fec0::1" }],
  ["fec0::1-", { type: IdType.KEY_ID, text: "fec0::1-" }],
  ["alice@strongswan.org", { type: IdType.RFC822_ADDR, text: "alice@strongswan.org" }],
  ["alice@strongswan", { type: IdType.RFC822_ADDR, text: "alice@strongswan" }],
  ["alice@", { type: IdType.RFC822_ADDR, text: "alice@" }],
  ["alice", { type: IdType.FQDN, text: "alice" }],
  ["@", { type: IdType.FQDN, hex: "" }],
  [" @", { type: IdType.RFC822_ADDR, text: " @" }],
  ["@strongswan.org", { type: IdType.FQDN, text: "strongswan.org" }],
  ["@#deadbeef", { type: IdType.KEY_ID, hex: "deadbeef" }],
  ["@#deadbee", { type: IdType.KEY_ID, hex: "0deadbee" }],
  ["foo=bar", { type: IdType.KEY_ID, text: "foo=bar" }],
  ["foo=", { type: IdType.KEY_ID, text: "foo=" }],
  ["=bar", { type: IdType.KEY_ID, text: "=bar" }],
  ["C=", { type: IdType.DER_ASN1_DN, hex: "300b3109300706035504061300" }],
  ["C=CH", { type: IdType.DER_ASN1_DN, hex: "300d310b3009060355040613024348" }],
  ["C=CH,", { type: IdType.DER_ASN1_DN, hex: "300d310b3009060355040613024348" }],
  ["C=CH, ", { type: IdType.DER_ASN1_DN, hex: "300d310b3009060355040613024348" }],
  ["C=CH, O", { type: IdType.KEY_ID, text: "C=CH, O" }],
  ["IPv4:#c0a80101", { type: IdType.IPV4_ADDR, hex: "c0a80101" }],
  ["email:tester", { type: IdType.RFC822_ADDR, text: "tester" }],
  ["{1}:#c0a80101", { type: IdType.IPV4_ADDR, hex: "c0a80101" }],
  ["{0x02}:tester", { type: IdType.FQDN, text: "tester" }],
  ["{99}:somedata", { type: 99, text: "somedata" }],
  // docs.strongswan.org identityParsing: "@@" forces RFC822, "@" forces FQDN, "@#" is hex KEY_ID
  ["@@user@example.org", { type: IdType.RFC822_ADDR, text: "user@example.org" }],
  ["@198.51.100.1", { type: IdType.FQDN, text: "198.51.100.1" }],
  ["198.51.100.1", { type: IdType.IPV4_ADDR, hex: "c6336401" }],
  ["2001:db8::1", { type: IdType.IPV6_ADDR, hex: "20010db8000000000000000000000001" }],
  ["host.example.org", { type: IdType.FQDN, text: "host.example.org" }],
];

test("parseIdentity: the 67 string cases of strongSwan's test_from_string and its docs' prefixes", () => {
  for (const [input, want] of FROM_STRING) {
    const got = parseIdentity(input);
    if (want.type === "any") {
      assert.equal(got, "any", JSON.stringify(input));
      continue;
    }
    assert.notEqual(got, "any", JSON.stringify(input));
    const id = got as IkeIdentity;
    assert.equal(id.idType, want.type, `type of ${JSON.stringify(input)}`);
    assert.equal(
      hex(id.data),
      want.hex ?? hex(new TextEncoder().encode(want.text)),
      `encoding of ${JSON.stringify(input)}`,
    );
  }
});

const show = (s: string): string => {
  const id = parseIdentity(s);
  return id === "any" ? "%any" : formatIdentity(id);
};

test("formatIdentity: strongSwan's test_printf_hook cases", () => {
  const same = [
    "192.168.1.1",
    "192.168.1.1/32",
    "192.168.1.2/31",
    "192.168.1.0/24",
    "192.168.2.0/23",
    "0.0.0.0/0",
    "192.168.1.1-192.168.1.254",
    "0.0.0.0-255.255.255.255",
    "fec0::1",
    "fec0::1/128",
    "fec0::2/127",
    "fec0::100/120",
    "::/0",
    "fec0::1-fec0::4fff",
    "moon@strongswan.org",
    "MOON@STRONGSWAN.ORG",
    "C=CH, AsdF=asdf",
    "C=",
    "C=, O=strongSwan",
    "C=CH, O=",
    "C=CH, O=strongSwan, CN=strongswan.org",
  ];
  for (const s of same) assert.equal(show(s), s, s);
  const pairs: [string, string][] = [
    ["", "%any"],
    ["%any", "%any"],
    ["*", "%any"],
    ["fec0:0:0::1", "fec0::1"],
    ["C=,", "C="],
    ["C=, ", "C="],
    ["C= , ", "C="],
    ["cn=strongswan.org, o=strongSwan, c=CH", "CN=strongswan.org, O=strongSwan, C=CH"],
    ["C=CH,O=strongSwan,CN=strongswan.org", "C=CH, O=strongSwan, CN=strongswan.org"],
    ["/C=CH/O=strongSwan/CN=strongswan.org", "C=CH, O=strongSwan, CN=strongswan.org"],
    ["CN=strongswan.org,O=strongSwan,C=CH", "CN=strongswan.org, O=strongSwan, C=CH"],
    ["C=CH, email=moon@strongswan.org, CN=moon", "C=CH, E=moon@strongswan.org, CN=moon"],
    ["C=CH, emailAddress=moon@strongswan.org, CN=moon", "C=CH, E=moon@strongswan.org, CN=moon"],
  ];
  for (const [input, out] of pairs) assert.equal(show(input), out, input);
  const enc = (idType: number, h: string): string => formatIdentity({ idType, data: bytes(h) });
  assert.equal(enc(IdType.IPV4_ADDR, ""), "(invalid ID_IPV4_ADDR)");
  assert.equal(enc(4, ""), "(invalid ID_IPV4_ADDR_SUBNET)");
  assert.equal(enc(7, ""), "(invalid ID_IPV4_ADDR_RANGE)");
  assert.equal(enc(IdType.IPV6_ADDR, ""), "(invalid ID_IPV6_ADDR)");
  assert.equal(enc(255, ""), "(unknown ID type: 255)");
  assert.equal(enc(IdType.RFC822_ADDR, "fafbfcfd40737472 6f6e677377616e2e6f7267"), "????@strongswan.org");
  assert.equal(
    formatIdentity({ idType: IdType.KEY_ID, data: new TextEncoder().encode("moon@strongswan.org") }),
    "moon@strongswan.org",
  );
  assert.equal(enc(IdType.KEY_ID, "deadbeef"), "de:ad:be:ef");
  assert.equal(enc(IdType.KEY_ID, "4142434445464748494a4b4c4d4e4f50515253"), "ABCDEFGHIJKLMNOPQRS");
  assert.equal(
    enc(IdType.KEY_ID, "4142434445464748494a4b4c4d4e4f5051525354"),
    "41:42:43:44:45:46:47:48:49:4a:4b:4c:4d:4e:4f:50:51:52:53:54",
  );
  assert.equal(enc(IdType.DER_ASN1_DN, ""), "");
  assert.equal(
    enc(IdType.DER_ASN1_DN, "30193117300906035504061302434830 0a060355041513033132 33"),
    "C=CH, 55:04:15=123",
  );
  assert.equal(
    enc(IdType.DER_ASN1_DN, "3020311e3009060355040613024348301105035504 0a130a7374726f6e675377616e"),
    "C=CH, (invalid ID_DER_ASN1_DN)",
  );
  assert.equal(enc(IdType.DER_ASN1_GN, "81146d6f6f6e407374726f6e677377616e2e6f7267"), "(ASN.1 general name)");
  // glibc inet_ntop forms
  assert.equal(show("::ffff:198.51.100.1"), "::ffff:198.51.100.1");
  assert.equal(show("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(show("::1"), "::1");
});

test("DN equality: strongSwan's test_equals cases, and ±1 on every byte of the encoding (except 3 string type octets) breaks it", () => {
  const a = parseIdentity("C=CH, E=moon@strongswan.org, CN=moon") as IkeIdentity;
  const eq = (s: string): boolean => {
    const b = parseIdentity(s);
    return b !== "any" && b.idType === IdType.DER_ASN1_DN && dnEquals(a.data, b.data) && dnEquals(b.data, a.data);
  };
  for (const s of [
    "C=CH, E=moon@strongswan.org, CN=moon",
    "C==CH , E==moon@strongswan.org , CN==moon",
    "  C=CH, E=moon@strongswan.org, CN=moon  ",
    "C=ch, E=moon@STRONGSWAN.ORG, CN=Moon",
    "/C=CH/E=moon@strongswan.org/CN=moon",
    " / C=CH / E=moon@strongswan.org / CN=moon",
  ]) {
    assert.ok(eq(s), s);
  }
  for (const s of [
    "C=CH/E=moon@strongswan.org/CN=moon",
    "C=CH/E=moon@strongswan.org,CN=moon",
    "C=CH E=moon@strongswan.org CN=moon",
    "C=CN, E=moon@strongswan.org, CN=moon",
    "E=moon@strongswan.org, C=CH, CN=moon",
  ]) {
    assert.ok(!eq(s), s);
  }
  for (const delta of [1, -1]) {
    for (let i = 0; i < a.data.length; i++) {
      if (i === 11 || i === 30 || i === 60) continue;
      const f = a.data.slice();
      f[i] = (f[i]! + delta) & 0xff;
      assert.ok(!dnEquals(f, a.data) && !dnEquals(a.data, f), `byte ${i} ${delta}`);
    }
  }
});

test("identityMatches: strongSwan's test_matches, test_matches_string, test_matches_range, test_equals_fqdn", () => {
  const m = (id: string, pattern: string): boolean =>
    identityMatches(parseIdentity(pattern), parseIdentity(id) as IkeIdentity);
  const dn = "C=CH, E=moon@strongswan.org, CN=moon";
  const cases: [string, string, boolean][] = [
    [dn, dn, true],
    [dn, "C=CH, E=*@strongswan.org, CN=moon", false],
    [dn, "C=CH, E=*, CN=moon", true],
    [dn, "C=CH, E=*, CN=*", true],
    [dn, "C=*, E=*, CN=*", true],
    [dn, "C=*, E=*, CN=*, O=BADInc", false],
    [dn, "C=*, E=*", false],
    [dn, "C=*, E=a@b.c, CN=*", false],
    [dn, "%any", true],
    ["foo=bar", "foo=bar", true],
    ["foo=bar", "bar=foo", false],
    ["foo=bar", "*=bar", false],
    ["foo=bar", "foo=*", false],
    ["foo=bar", "foo@bar", false],
    ["foo=bar", "%any", true],
    ["moon@strongswan.org", "moon@strongswan.org", true],
    ["moon@strongswan.org", "*@strongswan.org", true],
    ["moon@strongswan.org", "*@*.org", false],
    ["moon@strongswan.org", "*@*", false],
    ["moon@strongswan.org", "*strongswan.org", false],
    ["moon@strongswan.org", "*.org", false],
    ["moon@strongswan.org", "moon@*", false],
    ["moon@strongswan.org", "**", false],
    ["moon@strongswan.org", "*", true],
    ["moon@strongswan.org", "%any", true],
    ["vpn.strongswan.org", "vpn.strongswan.org", true],
    ["vpn.strongswan.org", "*.strongswan.org", true],
    ["vpn.strongswan.org", "*strongswan.org", true],
    ["vpn.strongswan.org", "*.org", true],
    ["vpn.strongswan.org", "*.strongswan.*", false],
    ["vpn.strongswan.org", "*vpn.strongswan.org", false],
    ["vpn.strongswan.org", "vpn.strongswan.*", false],
    ["vpn.strongswan.org", "**", false],
    ["vpn.strongswan.org", "*", true],
    ["ipsec.strongswan.org", "IPSEC.strongswan.org", true],
    ["ipsec.strongswan.org", "ipsec.strongSwan.ORG", true],
    ["ipsec.strongswan.org", "strongswan.org", false],
    ["192.168.1.1", "%any", true],
    ["192.168.1.1", "0.0.0.0/0", true],
    ["192.168.1.1", "192.168.1.1", true],
    ["192.168.1.1", "192.168.1.2", false],
    ["192.168.1.1", "192.168.1.1/32", true],
    ["192.168.1.1", "192.168.1.0/32", false],
    ["192.168.1.1", "192.168.1.0/24", true],
    ["192.168.1.1", "192.168.0.0/24", false],
    ["192.168.1.1", "192.168.1.1-192.168.1.1", true],
    ["192.168.1.1", "192.168.1.0-192.168.1.64", true],
    ["192.168.1.1", "192.168.1.2-192.168.1.64", false],
    ["192.168.1.1", "192.168.0.240-192.168.1.0", false],
    ["192.168.1.1", "foo@bar", false],
    ["fec0::1", "%any", true],
    ["fec0::1", "::/0", true],
    ["fec0::1", "fec0::1", true],
    ["fec0::1", "fec0::2", false],
    ["fec0::1", "fec0::1/128", true],
    ["fec0::1", "fec0::/128", false],
    ["fec0::1", "fec0::/120", true],
    ["fec0::1", "fec0::100/120", false],
    ["fec0::1", "fec0::1-fec0::1", true],
    ["fec0::1", "fec0::0-fec0::5", true],
    ["fec0::1", "fec0::4001-fec0::4ffe", false],
    ["fec0::1", "feb0::1-fec0::0", false],
    ["fec0::1", "foo@bar", false],
  ];
  for (const [id, pattern, want] of cases) assert.equal(m(id, pattern), want, `${id} vs ${pattern}`);
  // malformed subnet/range encodings never match (test_matches_range)
  const v4 = parseIdentity("192.168.1.1") as IkeIdentity;
  for (const p of [
    { idType: 4, data: new Uint8Array(0) },
    { idType: 7, data: new Uint8Array(0) },
    { idType: 7, data: bytes("c0a80128c0a80100") },
  ]) {
    assert.equal(identityMatches(p, v4), false);
  }
  assert.equal(
    identityMatches(parseIdentity("0.0.0.0/0"), { idType: IdType.IPV4_ADDR, data: new Uint8Array(0) }),
    false,
  );
});

test("certMatchesIdentity: subject DN (with wildcards), SAN DNS/email/IPv4/IPv6 and SKI as KEY_ID, like strongSwan's has_subject", () => {
  const c = cert("ec256");
  const m = (s: string): boolean => certMatchesIdentity(c, parseIdentity(s));
  for (const s of [
    "client.example.org",
    "CLIENT.Example.ORG",
    "@client.example.org",
    "*.example.org",
    "client@example.org",
    "*@example.org",
    "198.51.100.7",
    "198.51.100.0/24",
    "2001:db8::7",
    "2001:db8::/64",
    "%any",
    "C=CH, O=ipsec-wasm test, OU=clients, CN=client.example.org",
    "C=CH, O=ipsec-wasm test, OU=*, CN=client.example.org",
    `@#${hex(c.subjectKeyId!)}`,
  ]) {
    assert.ok(m(s), s);
  }
  for (const s of [
    "swan.example.org",
    "198.51.100.8",
    "2001:db8::8",
    "other@example.org",
    "C=CH, O=ipsec-wasm test, CN=client.example.org",
    "@#00",
    "*.example.com",
  ]) {
    assert.ok(!m(s), s);
  }
  assert.ok(certMatchesIdentity(cert("rsa"), parseIdentity("swan.example.org")));
  assert.ok(!certMatchesIdentity(cert("rsa"), parseIdentity("client.example.org")));
  assert.ok(
    certMatchesIdentity(
      cert("ec521"),
      parseIdentity("C=CH, O=ipsec-wasm test, CN=gw521.example.org, E=ops@example.org"),
    ),
  );
});

// ---- RFC 7427 AlgorithmIdentifiers ----

const OPENSSL_ALGIDS = new Map(
  read("algids.txt")
    .trim()
    .split("\n")
    .map((l) => l.split(" ") as [string, string]),
);

test("AlgorithmIdentifier bytes we send equal OpenSSL's for all 12 schemes (RFC 7427 Appendix A.1/A.3, RFC 8420; PSS as strongSwan writes it)", () => {
  for (const [name, bytesHex] of Object.entries(ALGORITHM_IDENTIFIERS)) {
    assert.equal(hex(bytesHex), OPENSSL_ALGIDS.get(name), name);
  }
  for (const h of ["SHA-256", "SHA-384", "SHA-512"] as const) {
    assert.equal(hex(pssAlgorithmIdentifier(h)), OPENSSL_ALGIDS.get(`RSASSA-PSS-${h.replace("-", "")}`), h);
  }
  assert.equal(OPENSSL_ALGIDS.size, 12);
});

// RFC 7427 Appendix A.4, as transcribed in strongSwan's src/libstrongswan/tests/suites/test_signature_params.c
const RFC7427_A41 = "300d06092a864886f70d01010a3000";
const RFC7427_A42 =
  "303e06092a864886f70d01010a3031a00b300906052b0e03021a0500a118301606092a864886f70d010108300906052b0e03021a0500a203020114a303020101";
const RFC7427_A43 =
  "304606092a864886f70d01010a3039a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120a303020101";
const STRONGSWAN_PSS_SHA256 =
  "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120";

test("RSASSA-PSS AlgorithmIdentifiers of RFC 7427 A.4.1-A.4.3 and strongSwan's DER form parse; bad ones are refused", () => {
  assert.deepEqual(parseSignatureAlgorithm(bytes(RFC7427_A41)), {
    name: "RSASSA-PSS with SHA-1",
    key: "rsa",
    hash: "SHA-1",
    pssSaltLength: 20,
  });
  assert.deepEqual(parseSignatureAlgorithm(bytes(RFC7427_A42)), {
    name: "RSASSA-PSS with SHA-1",
    key: "rsa",
    hash: "SHA-1",
    pssSaltLength: 20,
  });
  assert.deepEqual(parseSignatureAlgorithm(bytes(RFC7427_A43)), {
    name: "RSASSA-PSS with SHA-256",
    key: "rsa",
    hash: "SHA-256",
    pssSaltLength: 32,
  });
  assert.deepEqual(parseSignatureAlgorithm(bytes(STRONGSWAN_PSS_SHA256)), {
    name: "RSASSA-PSS with SHA-256",
    key: "rsa",
    hash: "SHA-256",
    pssSaltLength: 32,
  });
  assert.equal(hex(pssAlgorithmIdentifier("SHA-256")), STRONGSWAN_PSS_SHA256);
  // strongSwan's rsa_pss_parse_invalid_tests: unknown hash, unknown MGF, unknown MGF hash, trailer 2, trailer with a 2-byte INTEGER
  const invalid = [
    "301e06092a864886f70d01010a3011a00f300d06096086480165030402000500",
    "302b06092a864886f70d01010a301ea11c301a06092a864886f70d010100300d06096086480165030402010500",
    "302b06092a864886f70d01010a301ea11c301a06092a864886f70d010108300d06096086480165030402000500",
    "301206092a864886f70d01010a3005a303020102",
  ];
  for (const h of invalid) assert.equal(typeof parseSignatureAlgorithm(bytes(h)), "string", h);
  // MGF1 hash different from the message hash: valid PSS, but WebCrypto cannot do it
  assert.match(
    parseSignatureAlgorithm(
      bytes("302b06092a864886f70d01010a301ea11c301a06092a864886f70d010108300d06096086480165030402010500"),
    ) as string,
    /MGF1 must use the same hash/,
  );
  assert.match(
    parseSignatureAlgorithm(bytes("300d06092a864886f70d01010e0500")) as string,
    /1.2.840.113549.1.1.14 is not supported/,
  ); // sha224WithRSA
});

// ---- signing and verifying AUTH ----

const OCTETS = new TextEncoder().encode(
  "IKE_SA_INIT message | Nr | prf(SK_pi, IDi') -- RFC 7296 section 2.15 AUTH octets stand-in",
);

interface NodeCheck {
  alg: string | null;
  opts?: Partial<nodeCrypto.VerifyKeyObjectInput>;
}
function nodeVerify(certName: string, data: Uint8Array, sig: Uint8Array, check: NodeCheck): boolean {
  const key = nodeCrypto.createPublicKey(read(`${certName}.pem`));
  return nodeCrypto.verify(check.alg, data, { key, ...check.opts }, sig);
}
const PSS = (h: number): NodeCheck["opts"] => ({ padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: h });

function splitAuth(data: Uint8Array): { algId: string; sig: Uint8Array } {
  return { algId: hex(data.subarray(1, 1 + data[0]!)), sig: data.subarray(1 + data[0]!) };
}

const SIGN_CASES: {
  key: string;
  cert: string;
  opts: Parameters<typeof signAuth>[2];
  method: number;
  algId?: string;
  node: NodeCheck;
}[] = [
  {
    key: "rsa.key",
    cert: "rsa",
    opts: { peerHashes: [2, 3, 4] },
    method: 14,
    algId: "sha256WithRSAEncryption",
    node: { alg: "sha256" },
  },
  {
    key: "rsa.key",
    cert: "rsa",
    opts: { peerHashes: [3] },
    method: 14,
    algId: "sha384WithRSAEncryption",
    node: { alg: "sha384" },
  },
  {
    key: "rsa.key",
    cert: "rsa",
    opts: { peerHashes: [4] },
    method: 14,
    algId: "sha512WithRSAEncryption",
    node: { alg: "sha512" },
  },
  {
    key: "rsa.key",
    cert: "rsa",
    opts: { peerHashes: [1] },
    method: 14,
    algId: "sha1WithRSAEncryption",
    node: { alg: "sha1" },
  },
  {
    key: "rsa.pkcs1.key",
    cert: "rsa",
    opts: { peerHashes: [4, 3, 2], rsaPss: true },
    method: 14,
    algId: "RSASSA-PSS-SHA256",
    node: { alg: "sha256", opts: PSS(32) },
  },
  {
    key: "rsa.key",
    cert: "rsa",
    opts: { peerHashes: [3], rsaPss: true },
    method: 14,
    algId: "RSASSA-PSS-SHA384",
    node: { alg: "sha384", opts: PSS(48) },
  },
  {
    key: "rsa.key",
    cert: "rsa",
    opts: { peerHashes: [4], rsaPss: true },
    method: 14,
    algId: "RSASSA-PSS-SHA512",
    node: { alg: "sha512", opts: PSS(64) },
  },
  { key: "rsa.key", cert: "rsa", opts: {}, method: 1, node: { alg: "sha1" } },
  { key: "rsa.pkcs1.key", cert: "rsa", opts: { method: 1 }, method: 1, node: { alg: "sha1" } },
  {
    key: "ec256.key",
    cert: "ec256",
    opts: { peerHashes: [4, 3, 2] },
    method: 14,
    algId: "ecdsa-with-SHA256",
    node: { alg: "sha256", opts: { dsaEncoding: "der" } },
  },
  {
    key: "ec256.sec1.key",
    cert: "ec256",
    opts: { peerHashes: [3] },
    method: 14,
    algId: "ecdsa-with-SHA384",
    node: { alg: "sha384", opts: { dsaEncoding: "der" } },
  },
  {
    key: "ec256.key",
    cert: "ec256",
    opts: { peerHashes: [4] },
    method: 14,
    algId: "ecdsa-with-SHA512",
    node: { alg: "sha512", opts: { dsaEncoding: "der" } },
  },
  {
    key: "ec384.sec1.key",
    cert: "ec384",
    opts: { peerHashes: [2, 3, 4] },
    method: 14,
    algId: "ecdsa-with-SHA384",
    node: { alg: "sha384", opts: { dsaEncoding: "der" } },
  },
  {
    key: "ec521.sec1.key",
    cert: "ec521",
    opts: { peerHashes: [2, 3, 4] },
    method: 14,
    algId: "ecdsa-with-SHA512",
    node: { alg: "sha512", opts: { dsaEncoding: "der" } },
  },
  {
    key: "ec256.sec1.key",
    cert: "ec256",
    opts: {},
    method: 9,
    node: { alg: "sha256", opts: { dsaEncoding: "ieee-p1363" } },
  },
  {
    key: "ec384.key",
    cert: "ec384",
    opts: {},
    method: 10,
    node: { alg: "sha384", opts: { dsaEncoding: "ieee-p1363" } },
  },
  {
    key: "ec521.key",
    cert: "ec521",
    opts: { method: 11 },
    method: 11,
    node: { alg: "sha512", opts: { dsaEncoding: "ieee-p1363" } },
  },
  {
    key: "ed25519.key",
    cert: "ed25519",
    opts: { peerHashes: [2, 3, 4, 5] },
    method: 14,
    algId: "Ed25519",
    node: { alg: null },
  },
];

test("signAuth: 18 method/hash/key combinations, each verified by node:crypto (OpenSSL) with the certificate's key", async () => {
  for (const k of SIGN_CASES) {
    const key = await importPrivateKeyPem(read(k.key));
    const out = await signAuth(key, OCTETS, k.opts);
    const label = `${k.key} ${JSON.stringify(k.opts)}`;
    assert.equal(out.method, k.method, label);
    let sig = out.data;
    if (k.algId) {
      const parts = splitAuth(out.data);
      assert.equal(parts.algId, OPENSSL_ALGIDS.get(k.algId), label);
      sig = parts.sig;
    }
    assert.ok(nodeVerify(k.cert, OCTETS, sig, k.node), label);
    assert.ok(!nodeVerify(k.cert, OCTETS.subarray(1), sig, k.node), `${label} must not verify other octets`);
    // and our own verifier agrees
    const v = await verifyAuth(cert(k.cert), out.method, out.data, OCTETS);
    assert.ok(v.ok, `${label}: ${v.ok ? "" : v.reason}`);
  }
});

test("signAuth: key/method mismatches and no shared hash throw KeyError (like strongSwan, no silent fallback)", async () => {
  const rsa = await importPrivateKeyPem(read("rsa.key"));
  const p384 = await importPrivateKeyPem(read("ec384.key"));
  const ed = await importPrivateKeyPem(read("ed25519.key"));
  await assert.rejects(signAuth(rsa, OCTETS, { method: 9 }), KeyError);
  await assert.rejects(signAuth(p384, OCTETS, { method: 9 }), /needs a P-256 key, not P-384 ECDSA/);
  await assert.rejects(signAuth(p384, OCTETS, { peerHashes: [2] }), /has no hash we use with a P-384 ECDSA key/);
  await assert.rejects(signAuth(ed, OCTETS, {}), /Ed25519 has no classic auth method/);
  await assert.rejects(signAuth(ed, OCTETS, { peerHashes: [2, 3, 4] }), /Identity hash \(5\)/);
  assert.deepEqual(SUPPORTED_HASHES, [2, 3, 4, 5]);
});

test("importPrivateKeyPem: PKCS#8, PKCS#1 and SEC1 forms; OpenSSL derives the certificate's public key from the PKCS#8 we hand WebCrypto", async () => {
  for (const [file, certName, alg, extra] of [
    ["rsa.key", "rsa", "rsa", 2048],
    ["rsa.pkcs1.key", "rsa", "rsa", 2048],
    ["ec256.key", "ec256", "ec", "P-256"],
    ["ec256.sec1.key", "ec256", "ec", "P-256"],
    ["ec384.sec1.key", "ec384", "ec", "P-384"],
    ["ec521.sec1.key", "ec521", "ec", "P-521"],
    ["ed25519.key", "ed25519", "ed25519", undefined],
  ] as const) {
    const k = await importPrivateKeyPem(read(file));
    assert.equal(k.alg, alg, file);
    if (alg === "rsa") assert.equal(k.rsaBits, extra);
    if (alg === "ec") assert.equal(k.curve, extra);
    const pub = nodeCrypto.createPublicKey(
      nodeCrypto.createPrivateKey({ key: Buffer.from(k.pkcs8), format: "der", type: "pkcs8" }),
    );
    assert.equal(hex(pub.export({ format: "der", type: "spki" })), hex(cert(certName).spki), file);
  }
  await assert.rejects(importPrivateKeyPem(read("rsa.pem")), /no PRIVATE KEY/);
  const encrypted = nodeCrypto
    .createPrivateKey(read("ec256.key"))
    .export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase: "x" }) as string;
  await assert.rejects(importPrivateKeyPem(encrypted), /encrypted private keys are not supported/);
});

type NodeSign = { alg: string | null; opts?: object; algId?: string; method: number };
const NODE_SIGN_CASES: [string, string, NodeSign][] = [
  ["rsa.key", "rsa", { alg: "sha256", algId: OPENSSL_ALGIDS.get("sha256WithRSAEncryption"), method: 14 }],
  ["rsa.key", "rsa", { alg: "sha384", algId: OPENSSL_ALGIDS.get("sha384WithRSAEncryption"), method: 14 }],
  ["rsa.key", "rsa", { alg: "sha512", algId: OPENSSL_ALGIDS.get("sha512WithRSAEncryption"), method: 14 }],
  ["rsa.key", "rsa", { alg: "sha1", algId: OPENSSL_ALGIDS.get("sha1WithRSAEncryption"), method: 14 }],
  ["rsa.key", "rsa", { alg: "sha256", opts: PSS(32), algId: OPENSSL_ALGIDS.get("RSASSA-PSS-SHA256"), method: 14 }],
  ["rsa.key", "rsa", { alg: "sha384", opts: PSS(48), algId: OPENSSL_ALGIDS.get("RSASSA-PSS-SHA384"), method: 14 }],
  ["rsa.key", "rsa", { alg: "sha512", opts: PSS(64), algId: OPENSSL_ALGIDS.get("RSASSA-PSS-SHA512"), method: 14 }],
  ["rsa.key", "rsa", { alg: "sha256", opts: PSS(32), algId: RFC7427_A43, method: 14 }],
  ["rsa.key", "rsa", { alg: "sha1", opts: PSS(20), algId: RFC7427_A41, method: 14 }],
  ["rsa.key", "rsa", { alg: "sha1", opts: PSS(20), algId: RFC7427_A42, method: 14 }],
  ["rsa.key", "rsa", { alg: "sha1", method: 1 }],
  [
    "ec256.key",
    "ec256",
    { alg: "sha256", opts: { dsaEncoding: "der" }, algId: OPENSSL_ALGIDS.get("ecdsa-with-SHA256"), method: 14 },
  ],
  [
    "ec256.key",
    "ec256",
    { alg: "sha384", opts: { dsaEncoding: "der" }, algId: OPENSSL_ALGIDS.get("ecdsa-with-SHA384"), method: 14 },
  ],
  [
    "ec384.key",
    "ec384",
    { alg: "sha384", opts: { dsaEncoding: "der" }, algId: OPENSSL_ALGIDS.get("ecdsa-with-SHA384"), method: 14 },
  ],
  [
    "ec384.key",
    "ec384",
    { alg: "sha256", opts: { dsaEncoding: "der" }, algId: OPENSSL_ALGIDS.get("ecdsa-with-SHA256"), method: 14 },
  ],
  [
    "ec521.key",
    "ec521",
    { alg: "sha512", opts: { dsaEncoding: "der" }, algId: OPENSSL_ALGIDS.get("ecdsa-with-SHA512"), method: 14 },
  ],
  [
    "ec256.key",
    "ec256",
    { alg: "sha1", opts: { dsaEncoding: "der" }, algId: OPENSSL_ALGIDS.get("ecdsa-with-SHA1"), method: 14 },
  ],
  ["ec256.key", "ec256", { alg: "sha256", opts: { dsaEncoding: "ieee-p1363" }, method: 9 }],
  ["ec384.key", "ec384", { alg: "sha384", opts: { dsaEncoding: "ieee-p1363" }, method: 10 }],
  ["ec521.key", "ec521", { alg: "sha512", opts: { dsaEncoding: "ieee-p1363" }, method: 11 }],
  ["ed25519.key", "ed25519", { alg: null, algId: OPENSSL_ALGIDS.get("Ed25519"), method: 14 }],
];

function nodeAuth(keyFile: string, s: NodeSign, octets = OCTETS): Uint8Array {
  const key = nodeCrypto.createPrivateKey(read(keyFile));
  const sig = new Uint8Array(nodeCrypto.sign(s.alg, octets, { key, ...s.opts }));
  if (!s.algId) return sig;
  const id = bytes(s.algId);
  return Uint8Array.from([id.length, ...id, ...sig]);
}

test("verifyAuth: 21 AUTH payloads signed by node:crypto (OpenSSL) verify, and fail with a reason once a bit flips", async () => {
  for (const [keyFile, certName, s] of NODE_SIGN_CASES) {
    const c = cert(certName);
    const data = nodeAuth(keyFile, s);
    const label = `${keyFile} ${s.alg} method ${s.method} ${s.algId?.slice(0, 40)}`;
    const ok = await verifyAuth(c, s.method, data, OCTETS);
    assert.ok(ok.ok, `${label}: ${ok.ok ? "" : ok.reason}`);
    const bad = data.slice();
    bad[bad.length - 5]! ^= 0x10;
    const r = await verifyAuth(c, s.method, bad, OCTETS);
    assert.equal(r.ok, false, label);
    const other = await verifyAuth(c, s.method, data, OCTETS.subarray(0, 20));
    assert.equal(other.ok, false, label);
  }
});

test("verifyAuth: reasons for scheme/key mismatches, malformed AUTH data and non-signature methods", async () => {
  const rsa = cert("rsa");
  const p256 = cert("ec256");
  const ecdsaSig = nodeAuth("ec256.key", {
    alg: "sha256",
    opts: { dsaEncoding: "der" },
    algId: OPENSSL_ALGIDS.get("ecdsa-with-SHA256"),
    method: 14,
  });
  const reason = async (c: Certificate, method: number, data: Uint8Array): Promise<string> => {
    const r = await verifyAuth(c, method, data, OCTETS);
    assert.equal(r.ok, false);
    return (r as { reason: string }).reason;
  };
  assert.equal(
    await reason(rsa, 14, ecdsaSig),
    "signature scheme ecdsa-with-SHA256 does not match the certificate's RSA-2048 key",
  );
  const rsaSig = nodeAuth("rsa.key", {
    alg: "sha256",
    algId: OPENSSL_ALGIDS.get("sha256WithRSAEncryption"),
    method: 14,
  });
  assert.equal(
    await reason(p256, 14, rsaSig),
    "signature scheme sha256WithRSAEncryption does not match the certificate's P-256 ECDSA key",
  );
  const raw384 = nodeAuth("ec384.key", { alg: "sha384", opts: { dsaEncoding: "ieee-p1363" }, method: 10 });
  assert.equal(
    await reason(p256, 10, raw384),
    "auth method 10 (ECDSA with SHA-384 on P-384) does not match the certificate's P-256 key",
  );
  assert.equal(
    await reason(rsa, 9, raw384),
    "auth method 9 (ECDSA with SHA-256 on P-256) does not match the certificate's RSA-2048 key",
  );
  const otherKey = nodeAuth("rsa.key", {
    alg: "sha256",
    algId: OPENSSL_ALGIDS.get("sha256WithRSAEncryption"),
    method: 14,
  });
  assert.equal(
    await reason(cert("pss"), 14, otherKey),
    "RSA signature (sha256WithRSAEncryption) does not verify with the certificate of 'C=CH, O=ipsec-wasm test, CN=pss.example.org'",
  );
  assert.match(await reason(rsa, 14, new Uint8Array(0)), /shorter than its AlgorithmIdentifier length octet/);
  assert.match(
    await reason(rsa, 14, Uint8Array.of(40, 0x30, 0x00)),
    /shorter than its AlgorithmIdentifier length octet/,
  );
  assert.match(await reason(rsa, 14, Uint8Array.of(2, 0x30, 0x00, 1, 2, 3)), /AlgorithmIdentifier must be an OID/);
  assert.match(await reason(rsa, 2, new Uint8Array(20)), /auth method 2 is not a signature method/);
  assert.match(
    await reason(
      p256,
      14,
      Uint8Array.from([12, ...bytes(OPENSSL_ALGIDS.get("ecdsa-with-SHA256")!), 0x30, 0x03, 0x02, 0x01]),
    ),
    /not a valid DER encoding for P-256/,
  );
  assert.match(await reason(p256, 9, new Uint8Array(63)), /not a valid r\|\|s encoding for P-256/);
});

test("ECDSA r||s <-> DER: 40 node:crypto signatures per curve convert both ways and still verify under OpenSSL", async () => {
  for (const [keyFile, certName, hash, curve] of [
    ["ec256.key", "ec256", "sha256", "P-256"],
    ["ec384.key", "ec384", "sha384", "P-384"],
    ["ec521.key", "ec521", "sha512", "P-521"],
  ] as const) {
    const key = nodeCrypto.createPrivateKey(read(keyFile));
    for (let i = 0; i < 40; i++) {
      const msg = OCTETS.subarray(i);
      const raw = new Uint8Array(nodeCrypto.sign(hash, msg, { key, dsaEncoding: "ieee-p1363" }));
      const der = ecdsaRawToDer(raw);
      assert.ok(nodeVerify(certName, msg, der, { alg: hash, opts: { dsaEncoding: "der" } }), `${curve} #${i} raw->der`);
      const derSig = new Uint8Array(nodeCrypto.sign(hash, msg, { key, dsaEncoding: "der" }));
      const back = ecdsaDerToRaw(derSig, curve)!;
      assert.ok(
        nodeVerify(certName, msg, back, { alg: hash, opts: { dsaEncoding: "ieee-p1363" } }),
        `${curve} #${i} der->raw`,
      );
    }
  }
  // minimal INTEGERs: r = 1, s = 0x80 (needs a sign octet)
  const raw = new Uint8Array(64);
  raw[31] = 1;
  raw[63] = 0x80;
  assert.equal(hex(ecdsaRawToDer(raw)), "3007020101020200" + "80");
  assert.deepEqual(ecdsaDerToRaw(bytes("3007020101020200" + "80"), "P-256"), raw);
  assert.equal(ecdsaDerToRaw(bytes("3006020101020180"), "P-256"), undefined); // negative s
  assert.equal(ecdsaDerToRaw(bytes("30070201010201800000"), "P-256"), undefined); // trailing bytes
});

// ---- DER reader and writer details ----

test("asn1: typed errors for truncation, indefinite length, high tag numbers and trailing bytes; lengths and OIDs as X.690 encodes them", () => {
  const err = (r: { ok: boolean; error?: { code: string } }): string | undefined => (r.ok ? undefined : r.error!.code);
  assert.equal(err(readTlv(new Uint8Array(0))), "TRUNCATED");
  assert.equal(err(readTlv(Uint8Array.of(0x30))), "TRUNCATED");
  assert.equal(err(readTlv(Uint8Array.of(0x30, 0x80, 0, 0))), "INDEFINITE_LENGTH");
  assert.equal(err(readTlv(Uint8Array.of(0x1f, 0x81, 0x00, 0x00))), "HIGH_TAG_NUMBER");
  assert.equal(err(readTlv(Uint8Array.of(0x04, 0x85, 1, 0, 0, 0, 0))), "LENGTH_TOO_LONG");
  assert.equal(err(readTlv(Uint8Array.of(0x04, 0x82, 0x01))), "TRUNCATED");
  assert.equal(err(readTlv(Uint8Array.of(0x04, 0x03, 1, 2))), "TRUNCATED");
  assert.equal(err(readOne(Uint8Array.of(0x05, 0x00, 0x00))), "TRAILING_BYTES");
  assert.equal(err(readOne(Uint8Array.of(0x05, 0x00), Tag.SEQUENCE)), "UNEXPECTED_TAG");
  assert.equal(
    err(readChildren({ tag: 0x04, offset: 0, headerLength: 2, value: new Uint8Array(0), raw: new Uint8Array(2) })),
    "UNEXPECTED_TAG",
  );
  const long = readTlv(Uint8Array.from([0x04, 0x81, 0x80, ...new Uint8Array(0x80)]));
  assert.ok(long.ok && long.value.value.length === 0x80 && long.value.headerLength === 3);
  assert.equal(hex(encodeLength(0x7f)), "7f");
  assert.equal(hex(encodeLength(0x80)), "8180");
  assert.equal(hex(encodeLength(0x1234)), "821234");
  assert.equal(hex(encodeUnsigned(0)), "020100");
  assert.equal(hex(encodeUnsigned(0x80)), "02020080");
  assert.equal(hex(encodeUnsigned(bytes("0000ff"))), "020200ff");
  // OIDs: OpenSSL's bytes for sha256WithRSAEncryption and ecdsa-with-SHA384, and a large arc
  const sha256Rsa = bytes(OPENSSL_ALGIDS.get("sha256WithRSAEncryption")!).subarray(2, 13);
  assert.deepEqual(encodeOid("1.2.840.113549.1.1.11"), sha256Rsa);
  const oid = readOne(sha256Rsa);
  assert.ok(oid.ok);
  assert.deepEqual(decodeOid(oid.value), { ok: true, value: "1.2.840.113549.1.1.11" });
  const big = readOne(encodeOid("2.999.18446744073709551617"));
  assert.ok(big.ok);
  assert.deepEqual(decodeOid(big.value), { ok: true, value: "2.999.18446744073709551617" });
  const nonMinimal = readOne(Uint8Array.of(0x06, 0x03, 0x2a, 0x80, 0x01));
  assert.ok(nonMinimal.ok);
  assert.equal(err(decodeOid(nonMinimal.value)), "BAD_VALUE");
});

test("asn1: UTCTime 50..99 is 19xx and 00..49 is 20xx (RFC 5280 §4.1.2.5.1); impossible dates and other forms are refused", () => {
  const time = (tag: number, s: string) => {
    const t = readOne(Uint8Array.from([tag, s.length, ...Buffer.from(s, "latin1")]));
    assert.ok(t.ok);
    return decodeTime(t.value);
  };
  assert.deepEqual(time(Tag.UTC_TIME, "500101000000Z"), { ok: true, value: new Date("1950-01-01T00:00:00Z") });
  assert.deepEqual(time(Tag.UTC_TIME, "491231235959Z"), { ok: true, value: new Date("2049-12-31T23:59:59Z") });
  assert.deepEqual(time(Tag.GENERALIZED_TIME, "20510101000000Z"), {
    ok: true,
    value: new Date("2051-01-01T00:00:00Z"),
  });
  for (const [tag, s] of [
    [Tag.UTC_TIME, "250230000000Z"],
    [Tag.UTC_TIME, "2501010000Z"],
    [Tag.UTC_TIME, "250101000000+0100"],
    [Tag.GENERALIZED_TIME, "20250101000000.5Z"],
    [Tag.GENERALIZED_TIME, "250101000000Z"],
    [Tag.UTC_TIME, "250101246000Z"],
  ] as const) {
    const r = time(tag, s);
    assert.equal(r.ok, false, s);
  }
});
