// Sample pcap records shared by test/unit/pcap.test.ts (our reader/writer round trip) and
// test/interop/pcap-tshark.test.ts (tshark reads what writePcap writes): one UDP/4500 IPv4 datagram
// 10.0.0.1 -> 10.0.0.2 framed for each link type, timestamps near the end of a second.
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW, type PcapRecord } from "../../sdk/pcap/pcap.ts";

/** Three records of the same datagram, framed for `linkType`, with microsecond or nanosecond fractions. */
export function sampleRecords(linkType: number, nanosecond: boolean): PcapRecord[] {
  const ipv4 = Uint8Array.from(Buffer.from("4500001c000100004011f9b60a0000010a000002119411940008f6a2ff", "hex"));
  const frame = (i: number): Uint8Array => {
    if (linkType === LINKTYPE_RAW) return ipv4;
    if (linkType === LINKTYPE_ETHERNET)
      return Uint8Array.from([...Buffer.from("020000000002020000000001" + "0800", "hex"), ...ipv4]);
    return Uint8Array.from([0, i, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00, ...ipv4]);
  };
  return [0, 1, 2].map((i) => ({
    tsSec: 1700000000 + i,
    tsFrac: nanosecond ? 999_999_999 - i : 999_999 - i,
    origLength: frame(i).length,
    data: frame(i),
  }));
}

/** Every link type x byte order x timestamp resolution writePcap supports (12). */
export const variants = [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL].flatMap((linkType) =>
  [false, true].flatMap((bigEndian) => [false, true].map((nanosecond) => ({ linkType, bigEndian, nanosecond }))),
);
