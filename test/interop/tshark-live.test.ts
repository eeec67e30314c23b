// tshark (Wireshark 4.0) as an independent ESP decoder: packets we encapsulate are written to a
// pcap (LINKTYPE_RAW; outer IPv4 198.18.0.1 -> 198.18.0.2: raw ESP, ESP-in-UDP 4500 and transport
// mode; and raw ESP over IPv6 2001:db8:ffff::1 -> ::2), the keys go into a Wireshark `esp_sa` table in a private config directory, and tshark
// must decrypt every packet to what we sent, report the ICV as good, and report a tampered copy bad.
import { test } from "node:test";
import {
  assertTsharkDecrypts,
  assertTsharkRan,
  assertTsharkTamperedBad,
  runTsharkEsp,
  type TsharkSuite,
} from "../helpers/tshark-esp.ts";

/** Our suite keyword -> key sizes and Wireshark 4.0's esp_sa algorithm names. */
const SUITES: Record<string, TsharkSuite> = {
  aes128gcm16: { key: 20, integ: 0, icv: 16, encr: "AES-GCM with 16 octet ICV [RFC4106]", auth: "NULL" },
  aes256gcm16: { key: 36, integ: 0, icv: 16, encr: "AES-GCM with 16 octet ICV [RFC4106]", auth: "NULL" },
  aes128gcm8: { key: 20, integ: 0, icv: 8, encr: "AES-GCM with 8 octet ICV [RFC4106]", auth: "NULL" },
  aes128gcm12: { key: 20, integ: 0, icv: 12, encr: "AES-GCM with 12 octet ICV [RFC4106]", auth: "NULL" },
  "aes128-sha256": { key: 16, integ: 32, icv: 16, encr: "AES-CBC [RFC3602]", auth: "HMAC-SHA-256-128 [RFC4868]" },
  "aes128-sha256_96": {
    key: 16,
    integ: 32,
    icv: 12,
    encr: "AES-CBC [RFC3602]",
    auth: "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
  },
  "aes256-sha1": { key: 32, integ: 20, icv: 12, encr: "AES-CBC [RFC3602]", auth: "HMAC-SHA-1-96 [RFC2404]" },
  "null-sha256": { key: 0, integ: 32, icv: 16, encr: "NULL", auth: "HMAC-SHA-256-128 [RFC4868]" },
};

const tshark = await runTsharkEsp(SUITES, { seed: 0x75ba4c, maxSas: 64, pinIcvLength: true });

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
