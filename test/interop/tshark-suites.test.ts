// tshark (Wireshark 4.0) as an independent ESP decoder for the issue-4 suites it knows: AES-CTR
// (RFC 3686, "AES-CTR [RFC3686]", key = AES key ‖ 4-byte nonce, the key length picks AES-128/192/256)
// with HMAC-SHA-1-96 / -256-128 / -384-192 / -512-256 (RFC 2404, RFC 4868), and AES-CBC with
// HMAC-SHA-384-192 / -512-256. Packets we encapsulate go into a pcap (LINKTYPE_RAW; outer IPv4
// 198.18.0.1 -> 198.18.0.2: raw ESP, ESP-in-UDP 4500 and transport mode; raw ESP over IPv6
// 2001:db8:ffff::1 -> ::2), the keys into a Wireshark `esp_sa` table in a private config directory,
// and tshark must decrypt every packet to what we sent, call the ICV good, and a tampered copy bad.
//
// What tshark 4.0 cannot check, so this file does not pretend to: ChaCha20-Poly1305 (RFC 7634) and
// AES-GMAC (RFC 4543) are not among its ESP algorithms (encryption: NULL, 3DES, AES-CBC, AES-CTR,
// DES, CAST5, Blowfish, Twofish, AES-GCM 8/12/16; authentication: NULL, HMAC-SHA-1-96,
// HMAC-SHA-256-96/128, HMAC-SHA-384-192, HMAC-SHA-512-256, HMAC-MD5-96, MAC-RIPEMD-160-96, "ANY n
// bit"), and its esp_sa table has no ESN column. Those are covered by scapy-suites.test.ts. tshark
// cannot encrypt either, so the other direction (theirs -> ours) is scapy's job too.
import { test } from "node:test";
import type { IcvLength } from "../../sdk/dataplane/types.ts";
import {
  assertTsharkDecrypts,
  assertTsharkRan,
  assertTsharkTamperedBad,
  runTsharkEsp,
  type TsharkSuite,
} from "../helpers/tshark-esp.ts";

/** Our suite keyword -> key sizes and Wireshark 4.0's esp_sa algorithm names. */
const SUITES: Record<string, TsharkSuite> = {};
const AUTH: Record<string, { integ: number; icv: IcvLength; name: string }> = {
  sha1: { integ: 20, icv: 12, name: "HMAC-SHA-1-96 [RFC2404]" },
  sha256: { integ: 32, icv: 16, name: "HMAC-SHA-256-128 [RFC4868]" },
  sha384: { integ: 48, icv: 24, name: "HMAC-SHA-384-192 [RFC4868]" },
  sha512: { integ: 64, icv: 32, name: "HMAC-SHA-512-256 [RFC4868]" },
};
for (const bits of [128, 192, 256]) {
  for (const [h, a] of Object.entries(AUTH)) {
    SUITES[`aes${bits}ctr-${h}`] = {
      key: bits / 8 + 4,
      integ: a.integ,
      icv: a.icv,
      encr: "AES-CTR [RFC3686]",
      auth: a.name,
    };
    if (h === "sha384" || h === "sha512") {
      SUITES[`aes${bits}-${h}`] = {
        key: bits / 8,
        integ: a.integ,
        icv: a.icv,
        encr: "AES-CBC [RFC3602]",
        auth: a.name,
      };
    }
  }
}

const tshark = await runTsharkEsp(SUITES, { seed: 0x7c7a5e, maxSas: 128, pinIcvLength: false });

test("tshark (Debian package tshark) reads our pcap", () => {
  assertTsharkRan(tshark);
});

for (const suite of Object.keys(SUITES)) {
  test(`tshark decrypts our ${suite} packets (raw ESP over IPv4 and IPv6, ESP-in-UDP 4500, transport) to what we sent, ICV good`, () => {
    assertTsharkDecrypts(tshark, suite);
  });

  test(`tshark reports the ICV of a tampered ${suite} packet of ours as bad`, () => {
    assertTsharkTamperedBad(tshark, suite);
  });
}
