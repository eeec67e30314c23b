/**
 * Finds the ESP packet in a captured frame: link layer, outer IPv4/IPv6 (with IPv6 extension
 * headers), raw ESP (protocol 50) or ESP-in-UDP on port 4500 (RFC 3948).
 * Never throws on bad input: every frame gets a classification with a reason.
 * @module
 */
import { inetChecksum } from "../packet/icmp.ts";
import { LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_RAW } from "./pcap.ts";
import { byteAt } from "../packet/bytes.ts";

/** Link types {@link classifyFrame} understands. */
export const SUPPORTED_LINKTYPES: ReadonlyMap<number, string> = new Map([
  [LINKTYPE_ETHERNET, "Ethernet"],
  [LINKTYPE_RAW, "raw IP"],
  [LINKTYPE_LINUX_SLL, "Linux cooked (SLL)"],
  [LINKTYPE_IPV4, "raw IPv4"],
  [LINKTYPE_IPV6, "raw IPv6"],
]);

const IPPROTO_UDP = 17;
const IPPROTO_ESP = 50;
const IPPROTO_AH = 51;
const NAT_T_PORT = 4500;
const IKE_PORT = 500;
const ESP_HEADER_LENGTH = 8;
const UDP_HEADER_LENGTH = 8;

/** An ESP packet ready for `Dataplane.decapsulate(packet, l3HeaderLength)`. */
export interface EspFrame {
  kind: "esp";
  /**
   * Outer IP header (`l3HeaderLength` bytes) followed by ESP (SPI .. ICV). For ESP-in-UDP the UDP
   * header is removed and the IP header rewritten as if ESP had been sent directly (protocol 50,
   * lengths and IPv4 checksum adjusted), which is what RFC 3948 §3.1.2 asks of a receiver.
   */
  packet: Uint8Array;
  l3HeaderLength: number;
  ipVersion: 4 | 6;
  udpEncapsulated: boolean;
  spi: number;
  /** The 32-bit sequence number on the wire. */
  seq: number;
}

/** Anything that is not an ESP packet to decrypt. `spi`/`seq` are set when the frame got that far. */
export interface OtherFrame {
  kind: "nat-keepalive" | "not-esp" | "malformed";
  reason: string;
  spi?: number;
  seq?: number;
}

/** How one captured frame is handled. */
export type FrameClass = EspFrame | OtherFrame;

const malformed = (reason: string, spi?: number, seq?: number): OtherFrame => ({ kind: "malformed", reason, spi, seq });
/** A cut ESP packet still names its SA and sequence number when those 8 bytes were captured. */
const malformedEsp = (reason: string, esp: Uint8Array): OtherFrame =>
  malformed(reason, esp.length >= 4 ? be32(esp, 0) : undefined, esp.length >= 8 ? be32(esp, 4) : undefined);
const notEsp = (reason: string): OtherFrame => ({ kind: "not-esp", reason });
const be16 = (b: Uint8Array, o: number): number => (byteAt(b, o) << 8) | byteAt(b, o + 1);
const be32 = (b: Uint8Array, o: number): number =>
  ((byteAt(b, o) << 24) | (byteAt(b, o + 1) << 16) | (byteAt(b, o + 2) << 8) | byteAt(b, o + 3)) >>> 0;

/** Classifies one captured frame of the given pcap link type. */
export function classifyFrame(frame: Uint8Array, linkType: number): FrameClass {
  switch (linkType) {
    case LINKTYPE_RAW:
      return classifyIp(frame);
    case LINKTYPE_IPV4:
      return classifyIp(frame, 4);
    case LINKTYPE_IPV6:
      return classifyIp(frame, 6);
    case LINKTYPE_ETHERNET:
      return classifyEthernet(frame);
    case LINKTYPE_LINUX_SLL:
      if (frame.length < 16) return malformed(`Linux cooked header needs 16 bytes, the frame has ${frame.length}.`);
      return classifyEtherType(be16(frame, 14), frame.subarray(16));
    default:
      return malformed(`Link type ${linkType} is not supported.`);
  }
}

function classifyEthernet(frame: Uint8Array): FrameClass {
  if (frame.length < 14) return malformed(`Ethernet header needs 14 bytes, the frame has ${frame.length}.`);
  let etherType = be16(frame, 12);
  let off = 14;
  if (etherType === 0x8100 || etherType === 0x88a8) {
    if (frame.length < 18) return malformed("The frame ends inside its VLAN tag.");
    etherType = be16(frame, 16);
    off = 18;
    if (etherType === 0x8100 || etherType === 0x88a8)
      return notEsp("Frames with more than one VLAN tag are not supported.");
  }
  return classifyEtherType(etherType, frame.subarray(off));
}

function classifyEtherType(etherType: number, payload: Uint8Array): FrameClass {
  if (etherType === 0x0800 || etherType === 0x86dd) return classifyIp(payload, etherType === 0x0800 ? 4 : 6);
  if (etherType < 0x0600) return notEsp("IEEE 802.3 frame with an LLC header, not IP.");
  return notEsp(`EtherType 0x${etherType.toString(16).padStart(4, "0")} is not IP.`);
}

/** Where the IP payload starts and which protocol it carries. */
interface IpLayer {
  version: 4 | 6;
  /** The IP packet, cut to the length its header states (drops Ethernet padding). */
  packet: Uint8Array;
  headerLength: number;
  protocol: number;
  /** Offset of the byte that names `protocol` (IPv4 protocol field, or the last IPv6 Next Header). */
  protocolFieldOffset: number;
  fragment: false | "first" | "later";
}

function classifyIp(bytes: Uint8Array, expected?: 4 | 6): FrameClass {
  if (bytes.length < 1) return malformed("The frame has no IP header.");
  const version = byteAt(bytes, 0) >> 4;
  if (version !== 4 && version !== 6) return malformed(`Not an IP packet (IP version ${version}).`);
  if (expected !== undefined && version !== expected) {
    return malformed(`The link layer announced IPv${expected} but the packet is IPv${version}.`);
  }
  const ip = version === 4 ? parseIpv4(bytes) : parseIpv6(bytes);
  if ("kind" in ip) return ip;
  if (ip.fragment) {
    const carriesEsp =
      ip.protocol === IPPROTO_ESP ||
      (ip.protocol === IPPROTO_UDP &&
        ip.fragment === "first" &&
        ip.packet.length >= ip.headerLength + 4 &&
        (be16(ip.packet, ip.headerLength) === NAT_T_PORT || be16(ip.packet, ip.headerLength + 2) === NAT_T_PORT));
    if (carriesEsp) return malformed("ESP packet split into IP fragments; reassembly is not supported.");
    return notEsp(`IPv${ip.version} fragment (protocol ${ip.protocol}).`);
  }
  if (ip.protocol === IPPROTO_ESP) return espFrame(ip, ip.packet, false);
  if (ip.protocol === IPPROTO_UDP) return classifyUdp(ip);
  if (ip.protocol === IPPROTO_AH) return notEsp("AH (protocol 51) is not supported, only ESP.");
  return notEsp(`IP protocol ${ip.protocol} is not ESP.`);
}

function parseIpv4(b: Uint8Array): IpLayer | OtherFrame {
  if (b.length < 20) return malformed(`IPv4 header needs 20 bytes, only ${b.length} were captured.`);
  const headerLength = (byteAt(b, 0) & 0x0f) * 4;
  if (headerLength < 20) return malformed(`IPv4 header length field says ${headerLength} bytes (minimum 20).`);
  const totalLength = be16(b, 2);
  if (totalLength < headerLength) return malformed(`IPv4 total length ${totalLength} is shorter than its header.`);
  if (totalLength > b.length) {
    const reason = `IPv4 total length says ${totalLength} bytes but only ${b.length} were captured.`;
    return b[9] === IPPROTO_ESP ? malformedEsp(reason, b.subarray(headerLength)) : malformed(reason);
  }
  const fragField = be16(b, 6);
  const offset = fragField & 0x1fff;
  const moreFragments = (fragField & 0x2000) !== 0;
  const fragment = offset !== 0 ? "later" : moreFragments ? "first" : false;
  return {
    version: 4,
    packet: b.subarray(0, totalLength),
    headerLength,
    protocol: byteAt(b, 9),
    protocolFieldOffset: 9,
    fragment,
  };
}

function parseIpv6(b: Uint8Array): IpLayer | OtherFrame {
  if (b.length < 40) return malformed(`IPv6 header needs 40 bytes, only ${b.length} were captured.`);
  const payloadLength = be16(b, 4);
  if (payloadLength === 0) return malformed("IPv6 jumbograms (payload length 0) are not supported.");
  if (40 + payloadLength > b.length) {
    const reason = `IPv6 payload length says ${payloadLength} bytes but only ${b.length - 40} were captured.`;
    return b[6] === IPPROTO_ESP ? malformedEsp(reason, b.subarray(40)) : malformed(reason);
  }
  const packet = b.subarray(0, 40 + payloadLength);
  let protocol = byteAt(b, 6);
  let protocolFieldOffset = 6;
  let off = 40;
  let fragment: IpLayer["fragment"] = false;
  // Hop-by-hop (0), routing (43), destination options (60) and fragment (44) may precede ESP.
  for (;;) {
    if (protocol === 0 || protocol === 43 || protocol === 60) {
      if (off + 2 > packet.length) return malformed("The packet ends inside an IPv6 extension header.");
      const len = (byteAt(packet, off + 1) + 1) * 8;
      if (off + len > packet.length) return malformed("The packet ends inside an IPv6 extension header.");
      protocolFieldOffset = off;
      protocol = byteAt(packet, off);
      off += len;
    } else if (protocol === 44) {
      if (off + 8 > packet.length) return malformed("The packet ends inside an IPv6 fragment header.");
      const fragField = be16(packet, off + 2);
      fragment = (fragField & 0xfff8) !== 0 ? "later" : (fragField & 1) !== 0 ? "first" : false;
      protocolFieldOffset = off;
      protocol = byteAt(packet, off);
      off += 8;
      // An atomic fragment (offset 0, no more fragments) is a whole packet; RFC 6946.
      if (fragment === false) continue;
      break;
    } else {
      break;
    }
  }
  return { version: 6, packet, headerLength: off, protocol, protocolFieldOffset, fragment };
}

function classifyUdp(ip: IpLayer): FrameClass {
  const udp = ip.packet.subarray(ip.headerLength);
  if (udp.length < UDP_HEADER_LENGTH) return malformed(`UDP header needs 8 bytes, the packet has ${udp.length}.`);
  const srcPort = be16(udp, 0);
  const dstPort = be16(udp, 2);
  const udpLength = be16(udp, 4);
  if (udpLength < UDP_HEADER_LENGTH || udpLength > udp.length) {
    return malformed(`UDP length field says ${udpLength} bytes but the IP packet carries ${udp.length}.`);
  }
  if (srcPort !== NAT_T_PORT && dstPort !== NAT_T_PORT) {
    if (srcPort === IKE_PORT || dstPort === IKE_PORT) return notEsp("IKE message on UDP port 500.");
    return notEsp(`UDP ${srcPort} -> ${dstPort} is not ESP-in-UDP (port 4500).`);
  }
  const payload = udp.subarray(UDP_HEADER_LENGTH, udpLength);
  if (payload.length === 1 && payload[0] === 0xff) {
    return { kind: "nat-keepalive", reason: "NAT-T keepalive (RFC 3948 section 2.3)." };
  }
  if (payload.length >= 4 && be32(payload, 0) === 0) return notEsp("IKE message on UDP port 4500 (non-ESP marker).");
  if (payload.length === 0) return malformed("Empty UDP datagram on port 4500.");
  const end = ip.headerLength + udpLength;
  return espFrame(ip, ip.packet.subarray(0, end), true);
}

/** Builds the dataplane input: outer IP header (rewritten for ESP-in-UDP) then ESP. */
function espFrame(ip: IpLayer, packet: Uint8Array, udpEncapsulated: boolean): FrameClass {
  const espStart = ip.headerLength + (udpEncapsulated ? UDP_HEADER_LENGTH : 0);
  const esp = packet.subarray(espStart);
  const spi = esp.length >= 4 ? be32(esp, 0) : undefined;
  if (esp.length < ESP_HEADER_LENGTH) {
    return malformed(`ESP header needs 8 bytes, the packet has ${esp.length}.`, spi);
  }
  const seq = be32(esp, 4);
  let out: Uint8Array;
  if (!udpEncapsulated) {
    out = packet.slice();
  } else {
    out = new Uint8Array(ip.headerLength + esp.length);
    out.set(packet.subarray(0, ip.headerLength), 0);
    out.set(esp, ip.headerLength);
    out[ip.protocolFieldOffset] = IPPROTO_ESP;
    if (ip.version === 4) {
      const total = out.length;
      out[2] = total >> 8;
      out[3] = total & 0xff;
      out[10] = 0;
      out[11] = 0;
      const sum = ipv4Checksum(out.subarray(0, ip.headerLength));
      out[10] = sum >> 8;
      out[11] = sum & 0xff;
    } else {
      const payloadLength = out.length - 40;
      out[4] = payloadLength >> 8;
      out[5] = payloadLength & 0xff;
    }
  }
  return {
    kind: "esp",
    packet: out,
    l3HeaderLength: ip.headerLength,
    ipVersion: ip.version,
    udpEncapsulated,
    spi: spi!,
    seq,
  };
}

/** RFC 1071 one's-complement sum of an IPv4 header (checksum field zeroed by the caller). */
export function ipv4Checksum(header: Uint8Array): number {
  return inetChecksum(header);
}
