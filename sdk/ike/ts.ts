/**
 * Traffic selectors the way strongSwan writes and prints them: swanctl's `local_ts`/`remote_ts`
 * syntax in, charon's log notation out ("203.0.113.0/24", "10.1.0.1..10.1.0.9[udp/domain]"),
 * and RFC 7296 §2.9 narrowing with strongSwan's selection order.
 * @module
 */
import { TsType, type TrafficSelector } from "./message.ts";
import { ConfigError, describeWhere, type ConfigWhere } from "./config-error.ts";
import { formatIp, parseIp } from "../net/ip.ts";
import { byteAt } from "../packet/bytes.ts";

const ANY_START = 0;
const ANY_END = 0xffff;
const ICMP = 1;
const ICMPV6 = 58;

// ------------------------------------------------------------------ names

// /etc/protocols as Debian's netbase ships it (what charon's getprotobyname/-bynumber see):
// [number, name, alias]
const PROTOCOLS: [number, string, string][] = [
  [0, "ip", "IP"],
  [1, "icmp", "ICMP"],
  [2, "igmp", "IGMP"],
  [4, "ipencap", "IP-ENCAP"],
  [6, "tcp", "TCP"],
  [8, "egp", "EGP"],
  [17, "udp", "UDP"],
  [33, "dccp", "DCCP"],
  [41, "ipv6", "IPv6"],
  [43, "ipv6-route", "IPv6-Route"],
  [44, "ipv6-frag", "IPv6-Frag"],
  [46, "rsvp", "RSVP"],
  [47, "gre", "GRE"],
  [50, "esp", "IPSEC-ESP"],
  [51, "ah", "IPSEC-AH"],
  [58, "ipv6-icmp", "IPv6-ICMP"],
  [59, "ipv6-nonxt", "IPv6-NoNxt"],
  [60, "ipv6-opts", "IPv6-Opts"],
  [88, "eigrp", "EIGRP"],
  [89, "ospf", "OSPFIGP"],
  [94, "ipip", "IPIP"],
  [97, "etherip", "ETHERIP"],
  [98, "encap", "ENCAP"],
  [103, "pim", "PIM"],
  [108, "ipcomp", "IPCOMP"],
  [112, "vrrp", "VRRP"],
  [115, "l2tp", "L2TP"],
  [132, "sctp", "SCTP"],
  [136, "udplite", "UDPLite"],
  [137, "mpls-in-ip", "MPLS-in-IP"],
];

// The common part of /etc/services: [port, name, protocols, aliases]; charon prints the name when
// the selector's protocol is listed (any protocol when the selector has none).
const SERVICES: [number, string, string[], string[]][] = [
  [20, "ftp-data", ["tcp"], []],
  [21, "ftp", ["tcp"], []],
  [22, "ssh", ["tcp"], []],
  [23, "telnet", ["tcp"], []],
  [25, "smtp", ["tcp"], ["mail"]],
  [53, "domain", ["tcp", "udp"], []],
  [67, "bootps", ["udp"], []],
  [68, "bootpc", ["udp"], []],
  [69, "tftp", ["udp"], []],
  [80, "http", ["tcp"], ["www"]],
  [88, "kerberos", ["tcp", "udp"], ["kerberos5", "krb5", "kerberos-sec"]],
  [110, "pop3", ["tcp"], ["pop-3"]],
  [111, "sunrpc", ["tcp", "udp"], ["portmapper"]],
  [123, "ntp", ["udp"], []],
  [137, "netbios-ns", ["udp"], []],
  [143, "imap2", ["tcp"], ["imap"]],
  [161, "snmp", ["tcp", "udp"], []],
  [162, "snmp-trap", ["tcp", "udp"], ["snmptrap"]],
  [179, "bgp", ["tcp"], []],
  [389, "ldap", ["tcp", "udp"], []],
  [443, "https", ["tcp", "udp"], []],
  [445, "microsoft-ds", ["tcp"], []],
  [500, "isakmp", ["udp"], []],
  [514, "syslog", ["udp"], []],
  [587, "submission", ["tcp"], []],
  [636, "ldaps", ["tcp", "udp"], []],
  [853, "domain-s", ["tcp", "udp"], []],
  [993, "imaps", ["tcp"], []],
  [995, "pop3s", ["tcp"], []],
  [1194, "openvpn", ["tcp", "udp"], []],
  [1701, "l2f", ["udp"], ["l2tp"]],
  [1812, "radius", ["tcp", "udp"], []],
  [1813, "radius-acct", ["tcp", "udp"], ["radacct"]],
  [2049, "nfs", ["tcp", "udp"], []],
  [3306, "mysql", ["tcp"], []],
  [3389, "ms-wbt-server", ["tcp"], []],
  [4500, "ipsec-nat-t", ["udp"], []],
  [5060, "sip", ["tcp", "udp"], []],
  [5061, "sip-tls", ["tcp", "udp"], []],
  [5432, "postgresql", ["tcp"], ["postgres"]],
  [8080, "http-alt", ["tcp"], ["webcache"]],
];

function protocolNumber(name: string): number | undefined {
  const n = name.toLowerCase();
  return PROTOCOLS.find(([, p, alias]) => p === n || alias.toLowerCase() === n)?.[0];
}

function protocolName(num: number): string | undefined {
  return PROTOCOLS.find(([p]) => p === num)?.[1];
}

function servicePort(name: string): number | undefined {
  return SERVICES.find(([, s, , aliases]) => s === name || aliases.includes(name))?.[0];
}

function serviceName(port: number, proto: string | undefined): string | undefined {
  return SERVICES.find(([p, , protos]) => p === port && (proto === undefined || protos.includes(proto)))?.[1];
}

// ------------------------------------------------------------------ selectors

/** A /32 or /128 host selector for one address, all protocols and ports: what `dynamic` becomes. */
export function tsForAddress(addr: string): TrafficSelector {
  const bytes = parseIp(addr);
  if (!bytes) throw new ConfigError("BAD_VALUE", `'${addr}' is not an IPv4 or IPv6 address`);
  return hostTs(bytes);
}

function hostTs(bytes: Uint8Array): TrafficSelector {
  return {
    tsType: bytes.length === 4 ? TsType.IPV4_ADDR_RANGE : TsType.IPV6_ADDR_RANGE,
    ipProtocol: 0,
    startPort: ANY_START,
    endPort: ANY_END,
    start: bytes.slice(),
    end: bytes.slice(),
  };
}

/**
 * Replaces `dynamic` entries with the host selector of `addr` (the tunnel's outer address or the
 * virtual IP), as charon does before it proposes or narrows.
 */
export function resolveTs(list: (TrafficSelector | "dynamic")[], addr: string): TrafficSelector[] {
  return list.map((ts) => (ts === "dynamic" ? tsForAddress(addr) : ts));
}

/**
 * Parses a swanctl `local_ts`/`remote_ts` value: comma-separated CIDR subnets ("198.51.100.0/24",
 * "2001:db8::/64"), single addresses, ranges ("10.1.0.1-10.1.0.9") or `dynamic`, each optionally
 * followed by `[protocol/port]` ("[udp/53]", "[icmp]", "[tcp/any]", "[udp/1000-2000]", "[udp/opaque]").
 * Protocol and service names are the /etc/protocols and /etc/services ones charon resolves.
 */
export function parseTs(text: string, where?: ConfigWhere): (TrafficSelector | "dynamic")[] {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.length === 0) {
    throw new ConfigError(
      "MISSING",
      `no traffic selector given${describeWhere(where)}; write e.g. 198.51.100.0/24 or dynamic`,
      where,
    );
  }
  return items.map((item) => parseOne(item, where));
}

function parseOne(item: string, where?: ConfigWhere): TrafficSelector | "dynamic" {
  const bad = (why: string): ConfigError =>
    new ConfigError("BAD_VALUE", `traffic selector '${item}'${describeWhere(where)} ${why}`, where);
  let addr = item;
  let proto = 0;
  let startPort = ANY_START;
  let endPort = ANY_END;
  const open = item.indexOf("[");
  if (open !== -1) {
    const close = item.lastIndexOf("]");
    if (close < open || close !== item.length - 1) throw bad("has an unterminated or misplaced [protocol/port] part");
    addr = item.slice(0, open).trim();
    const inner = item.slice(open + 1, close);
    const slash = inner.indexOf("/");
    const protoText = slash === -1 ? inner : inner.slice(0, slash);
    const portText = slash === -1 ? "" : inner.slice(slash + 1);
    if (protoText !== "any" && protoText !== "%any" && protoText !== "") {
      const p = protocolNumber(protoText) ?? (/^[0-9]+$/.test(protoText) ? Number(protoText) : undefined);
      if (p === undefined || p > 255)
        throw bad(
          `has unknown protocol '${protoText}'; use a number 0-255 or a name such as tcp, udp, icmp, ipv6-icmp, gre, sctp`,
        );
      proto = p;
    }
    if (portText === "opaque") {
      // RFC 4301 OPAQUE: strongSwan's start 0xffff, end 0
      startPort = 0xffff;
      endPort = 0;
    } else if (portText !== "" && portText !== "any" && portText !== "%any") {
      const named = servicePort(portText);
      const range = /^([0-9]+)(?:-([0-9]+))?$/.exec(portText);
      if (named !== undefined) {
        startPort = endPort = named;
      } else if (range) {
        startPort = Number(range[1]);
        endPort = range[2] === undefined ? startPort : Number(range[2]);
        if (startPort > 0xffff || endPort > 0xffff) throw bad("has a port above 65535");
        if (startPort > endPort) throw bad(`has the port range ${startPort}-${endPort} backwards`);
      } else {
        throw bad(
          `has unknown port or service '${portText}'; use a number, a range like 1000-2000, a service name such as domain or https, or opaque`,
        );
      }
    }
  }
  if (addr === "")
    throw bad("names no address before its [protocol/port] part; write e.g. 0.0.0.0/0[icmp] or ::/0[ipv6-icmp]");
  if (addr === "dynamic") {
    if (proto !== 0 || startPort !== ANY_START || endPort !== ANY_END) {
      throw bad(
        "restricts 'dynamic' to a protocol or port, which ipsec-wasm does not support yet; write the address instead, e.g. 198.51.100.1[udp/1701]",
      );
    }
    return "dynamic";
  }
  let start: Uint8Array;
  let end: Uint8Array;
  const dash = addr.indexOf("-");
  if (dash !== -1) {
    const a = parseIp(addr.slice(0, dash).trim());
    const b = parseIp(addr.slice(dash + 1).trim());
    if (!a || !b) throw bad("is not a valid address range; write it as 10.1.0.1-10.1.0.9");
    if (a.length !== b.length) throw bad("mixes IPv4 and IPv6 in one range");
    if (compareBytes(a, b) > 0) throw bad("has its range ends backwards; the lower address comes first");
    start = a;
    end = b;
  } else {
    const slash = addr.indexOf("/");
    const ip = parseIp(slash === -1 ? addr : addr.slice(0, slash));
    if (!ip) throw bad("is not an IPv4/IPv6 address, subnet, range or 'dynamic'");
    const max = ip.length * 8;
    let bits = max;
    if (slash !== -1) {
      const bitsText = addr.slice(slash + 1);
      if (!/^[0-9]{1,3}$/.test(bitsText) || Number(bitsText) > max)
        throw bad(`has a prefix length that is not 0-${max}`);
      bits = Number(bitsText);
    }
    ({ start, end } = prefixRange(ip, bits));
  }
  return {
    tsType: start.length === 4 ? TsType.IPV4_ADDR_RANGE : TsType.IPV6_ADDR_RANGE,
    ipProtocol: proto,
    startPort,
    endPort,
    start,
    end,
  };
}

/** The first and last address of `ip/bits` (host bits of `ip` cleared, as strongSwan does). */
function prefixRange(ip: Uint8Array, bits: number): { start: Uint8Array; end: Uint8Array } {
  const start = ip.slice();
  const end = ip.slice();
  for (let i = 0; i < ip.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    start[i] = byteAt(start, i) & mask;
    end[i] = (byteAt(end, i) & mask) | (~mask & 0xff);
  }
  return { start, end };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return byteAt(a, i) - byteAt(b, i);
  return 0;
}

/** Prefix length if start..end is exactly one CIDR block, else undefined (charon then prints "a..b"). */
function prefixLength(start: Uint8Array, end: Uint8Array): number | undefined {
  let bits = 0;
  let i = 0;
  for (; i < start.length * 8; i++) {
    const s = (byteAt(start, i >> 3) >> (7 - (i & 7))) & 1;
    const e = (byteAt(end, i >> 3) >> (7 - (i & 7))) & 1;
    if (s !== e) break;
    bits++;
  }
  for (; i < start.length * 8; i++) {
    if (((byteAt(start, i >> 3) >> (7 - (i & 7))) & 1) !== 0 || ((byteAt(end, i >> 3) >> (7 - (i & 7))) & 1) !== 1)
      return undefined;
  }
  return bits;
}

// ------------------------------------------------------------------ printing

/**
 * charon's notation (traffic_selector.c): "203.0.113.0/24", "198.51.100.1/32",
 * "10.1.0.1..10.1.0.9", with "[udp/domain]", "[icmp/8]", "[tcp/1000-2000]" or "[udp/OPAQUE]"
 * when protocol or ports are restricted.
 */
export function formatTs(ts: TrafficSelector): string {
  const bits = prefixLength(ts.start, ts.end);
  let out = bits === undefined ? `${formatIp(ts.start)}..${formatIp(ts.end)}` : `${formatIp(ts.start)}/${bits}`;
  const anyPorts = ts.startPort === ANY_START && ts.endPort === ANY_END;
  if (ts.ipProtocol === 0 && anyPorts) return out;
  const icmp = ts.ipProtocol === ICMP || ts.ipProtocol === ICMPV6;
  // ICMP selectors carry type in the high and code in the low byte of the port (RFC 4301 §4.4.1.1)
  const icmpText = (p: number): string => (p & 0xff ? `${p >> 8}(${p & 0xff})` : `${p >> 8}`);
  const protoName = ts.ipProtocol === 0 ? undefined : protocolName(ts.ipProtocol);
  let port = "";
  if (!anyPorts) {
    if (ts.startPort === ts.endPort) {
      port = icmp ? icmpText(ts.startPort) : (serviceName(ts.startPort, protoName) ?? String(ts.startPort));
    } else if (ts.startPort === 0xffff && ts.endPort === 0) {
      port = "OPAQUE";
    } else {
      port = icmp ? `${icmpText(ts.startPort)}-${icmpText(ts.endPort)}` : `${ts.startPort}-${ts.endPort}`;
    }
  }
  const proto = ts.ipProtocol === 0 ? "" : (protoName ?? String(ts.ipProtocol));
  out += `[${proto}${proto && port ? "/" : ""}${port}]`;
  return out;
}

/** Selectors separated by spaces, as charon's `%#R` prints a list (without its trailing space). */
export function formatTsList(ts: TrafficSelector[]): string {
  return ts.map(formatTs).join(" ");
}

// ------------------------------------------------------------------ narrowing

/** Whether `addr` (4 or 16 bytes) lies within the selector's address range. */
export function tsContainsAddress(ts: TrafficSelector, addr: Uint8Array): boolean {
  return addr.length === ts.start.length && compareBytes(ts.start, addr) <= 0 && compareBytes(addr, ts.end) <= 0;
}

const isOpaque = (t: TrafficSelector): boolean => t.startPort === 0xffff && t.endPort === 0;
const isAnyPort = (t: TrafficSelector): boolean => t.startPort === ANY_START && t.endPort === ANY_END;

/** The intersection of two selectors, undefined if empty (strongSwan's get_subset). */
export function tsIntersection(a: TrafficSelector, b: TrafficSelector): TrafficSelector | undefined {
  if (a.tsType !== b.tsType || a.start.length !== b.start.length) return undefined;
  if (a.ipProtocol !== b.ipProtocol && a.ipProtocol !== 0 && b.ipProtocol !== 0) return undefined;
  let startPort: number;
  let endPort: number;
  if ((isOpaque(a) && (isOpaque(b) || isAnyPort(b))) || (isOpaque(b) && isAnyPort(a))) {
    startPort = 0xffff;
    endPort = 0;
  } else {
    startPort = Math.max(a.startPort, b.startPort);
    endPort = Math.min(a.endPort, b.endPort);
    if (startPort > endPort) return undefined;
  }
  const start = compareBytes(a.start, b.start) > 0 ? a.start : b.start;
  const end = compareBytes(a.end, b.end) > 0 ? b.end : a.end;
  if (compareBytes(start, end) > 0) return undefined;
  return {
    tsType: a.tsType,
    ipProtocol: Math.max(a.ipProtocol, b.ipProtocol),
    startPort,
    endPort,
    start: start.slice(),
    end: end.slice(),
  };
}

function tsEquals(a: TrafficSelector, b: TrafficSelector): boolean {
  return (
    a.tsType === b.tsType &&
    a.ipProtocol === b.ipProtocol &&
    a.startPort === b.startPort &&
    a.endPort === b.endPort &&
    a.start.length === b.start.length &&
    compareBytes(a.start, b.start) === 0 &&
    compareBytes(a.end, b.end) === 0
  );
}

const containedIn = (a: TrafficSelector, b: TrafficSelector): boolean => {
  const sub = tsIntersection(a, b);
  return sub !== undefined && tsEquals(sub, a);
};

/**
 * RFC 7296 §2.9 narrowing as charon does it: every configured selector (in configured order)
 * intersected with every offered one, then selectors contained in another one dropped.
 * Empty when nothing overlaps (the responder then answers TS_UNACCEPTABLE).
 */
export function narrowTs(offered: TrafficSelector[], configured: TrafficSelector[]): TrafficSelector[] {
  const result: TrafficSelector[] = [];
  for (const c of configured) {
    for (const o of offered) {
      const sub = tsIntersection(c, o);
      if (sub) result.push(sub);
    }
  }
  // child_cfg.c's redundancy pass, with its restart rules, so the order matches charon's
  let i = 0;
  while (i < result.length) {
    let restart = false;
    let removedSelf = false;
    for (let j = 0; j < result.length; j++) {
      if (j === i) continue;
      // i and j are below result.length: the loop bounds, rechecked after every splice
      if (containedIn(result[j]!, result[i]!)) {
        result.splice(j, 1);
        restart = true;
        break;
      }
      if (containedIn(result[i]!, result[j]!)) {
        result.splice(i, 1);
        removedSelf = true;
        break;
      }
    }
    if (restart) i = 0;
    else if (!removedSelf) i++;
  }
  return result;
}

/**
 * Why two selector lists do not overlap, in one sentence:
 * "peer proposes 10.0.0.0/24; local remote_ts is 198.51.100.0/24: no overlap".
 * `key` names the local setting (default "traffic selectors").
 */
export function explainTsMismatch(
  offered: TrafficSelector[],
  configured: TrafficSelector[],
  key = "traffic selectors",
): string {
  const peer = offered.length ? formatTsList(offered) : "no traffic selectors";
  const local = configured.length ? formatTsList(configured) : "empty";
  const verb = key === "traffic selectors" ? "are" : "is";
  const head = `peer proposes ${peer}; local ${key} ${verb} ${local}`;
  if (!offered.length || !configured.length) return `${head}: nothing to match`;
  const narrowed = narrowTs(offered, configured);
  if (narrowed.length) return `${head}: they overlap in ${formatTsList(narrowed)}`;
  const pairs = configured.flatMap((c) => offered.map((o) => [c, o] as const));
  if (pairs.every(([c, o]) => c.start.length !== o.start.length)) {
    return `${head}: the address families differ (${familyOf(offered)} offered, ${familyOf(configured)} configured)`;
  }
  const sameFamily = pairs.filter(([c, o]) => c.start.length === o.start.length);
  const addrOverlap = sameFamily.filter(
    ([c, o]) => compareBytes(c.start, o.end) <= 0 && compareBytes(o.start, c.end) <= 0,
  );
  if (addrOverlap.length === 0) return `${head}: no overlap`;
  if (addrOverlap.every(([c, o]) => c.ipProtocol !== o.ipProtocol && c.ipProtocol !== 0 && o.ipProtocol !== 0)) {
    return `${head}: the addresses overlap but the protocols differ`;
  }
  return `${head}: the addresses overlap but the ports differ`;
}

function familyOf(list: TrafficSelector[]): string {
  const v4 = list.some((t) => t.start.length === 4);
  const v6 = list.some((t) => t.start.length === 16);
  return v4 && v6 ? "IPv4 and IPv6" : v4 ? "IPv4" : "IPv6";
}
