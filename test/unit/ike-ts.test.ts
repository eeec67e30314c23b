// Traffic selectors: swanctl syntax in, charon's notation out, RFC 7296 §2.9 narrowing. References:
// charon 5.9.8's verdicts and printouts (test/fixtures/swanctl/*.charon.txt), libuv's inet_ntop and
// inet_pton through node:net (the same BIND-derived code glibc and so charon use), the real log line
// in ../shared/interop/README.md, and the narrowing rules of RFC 7296 §2.9.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SocketAddress, isIP } from "node:net";
import { TsType, type TrafficSelector } from "../../sdk/ike/message.ts";
import {
  explainTsMismatch,
  formatTs,
  formatTsList,
  narrowTs,
  parseTs,
  resolveTs,
  tsContainsAddress,
  tsForAddress,
  tsIntersection,
} from "../../sdk/ike/ts.ts";
import { formatIp, parseIp } from "../../sdk/net/ip.ts";
import { ConfigError } from "../../sdk/ike/config-error.ts";

const FIXTURES = new URL("../fixtures/swanctl/", import.meta.url);

/** One selector from swanctl syntax (the tests' shorthand). */
function ts(text: string): TrafficSelector {
  const [one] = parseTs(text);
  assert.notEqual(one, "dynamic");
  return one as TrafficSelector;
}
const list = (text: string): TrafficSelector[] => text.split(",").map((t) => ts(t));

test("formatIp and parseIp agree with inet_ntop/inet_pton (libuv via node:net) on 3000 IPv6 and 1000 IPv4 addresses", () => {
  let seed = 0x2545f491;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 16;
  };
  const fixed = [
    "::",
    "::1",
    "::2",
    "::ffff:1.2.3.4",
    "::1.2.3.4",
    "::ffff:0:0",
    "2001:db8::",
    "2001:db8:0:0:1:0:0:1",
    "1:0:0:2:0:0:0:3",
    "0:0:1::",
    "fe80::1:2",
    "2001:db8:1:2:3:4:5:6",
    "1::",
    "1:2:3:4:5:6:7::",
    "::ffff:255.255.255.255",
  ];
  const samples: string[] = [...fixed];
  for (let i = 0; i < 3000; i++) {
    // groups are zero half the time, so runs of zeros of every length and position occur
    const words = Array.from({ length: 8 }, () => (rnd() & 1 ? 0 : rnd() & (rnd() & 1 ? 0xff : 0xffff)));
    samples.push(words.map((w) => w.toString(16)).join(":"));
  }
  for (const text of samples) {
    const bytes = parseIp(text);
    assert.ok(bytes && bytes.length === 16, text);
    const libuv = new SocketAddress({ address: text, family: "ipv6" }).address;
    assert.equal(formatIp(bytes), libuv, text);
    assert.deepEqual(parseIp(libuv), bytes, libuv);
  }
  for (let i = 0; i < 1000; i++) {
    const text = [rnd() & 0xff, rnd() & 0xff, rnd() & 1 ? 0 : rnd() & 0xff, rnd() & 0xff].join(".");
    assert.equal(formatIp(parseIp(text)!), new SocketAddress({ address: text, family: "ipv4" }).address);
  }
  const bad = [
    "198.51.100.300",
    "198.51.100",
    "198.51.100.1.2",
    "01.2.3.4",
    "1.2.3.4 ",
    "2001:db8::1::2",
    "2001:db8:::1",
    ":1::",
    "1:2:3:4:5:6:7:8:9",
    "12345::",
    "::ffff:1.2.3",
    "g::1",
    "",
    "::1.2.3.4:5",
    "2001:db8::/64",
    "1:2:3:4:5:6:7:8::",
  ];
  for (const text of bad) {
    assert.equal(isIP(text), 0, `node accepts ${text}`);
    assert.equal(parseIp(text), undefined, text);
  }
});

test("charon's verdict on every selector in verdicts.list, and the three places we differ on purpose", () => {
  const entries = readFileSync(new URL("verdicts.charon.txt", FIXTURES), "utf8")
    .split("### ")
    .slice(1)
    .filter((e) => e.startsWith("local_ts = "));
  assert.ok(entries.length >= 8);
  // charon clamps /33 to /32 and keeps a backwards (empty) range; both are typos we refuse.
  // It refuses "%any" as a port; the ipsec.conf spelling is accepted here as the brief asks.
  const deliberate: Record<string, "refuse" | "accept"> = {
    "198.51.100.0/33": "refuse",
    "198.51.100.5-198.51.100.1": "refuse",
    "10.0.0.1[udp/%any]": "accept",
  };
  for (const entry of entries) {
    const value = entry.split("\n")[0]!.slice("local_ts = ".length);
    const accepted = /^ {3}local_ts = (.*)$/m.exec(entry)?.[1];
    const refused = entry.includes("invalid value for: local_ts");
    assert.ok(accepted !== undefined || refused, `no verdict for ${value}`);
    const ours = deliberate[value] ?? (refused ? "refuse" : "accept");
    if (deliberate[value]) assert.notEqual(ours === "refuse", refused, `${value} no longer differs from charon`);
    if (ours === "refuse") {
      assert.throws(
        () => parseTs(value, { key: "local_ts", line: 3 }),
        (e: unknown) => e instanceof ConfigError && e.code === "BAD_VALUE" && e.line === 3,
        value,
      );
    } else if (accepted !== undefined) {
      assert.equal(formatTsList(parseTs(value) as TrafficSelector[]), accepted, value);
    } else {
      assert.equal(formatTsList(parseTs(value) as TrafficSelector[]), "10.0.0.1/32[udp]");
    }
  }
});

test("formatTs prints what charon prints for the selectors of features.conf (ports, services, ICMP, ranges, IPv6)", () => {
  const want: [string, string][] = [
    ["198.51.100.10-198.51.100.20[udp/domain]", "198.51.100.10..198.51.100.20[udp/domain]"],
    ["198.51.100.0/24[udp/53]", "198.51.100.0/24[udp/domain]"],
    ["198.51.100.0-198.51.100.255", "198.51.100.0/24"],
    ["0.0.0.0/0[icmp/2048]", "0.0.0.0/0[icmp/8]"],
    ["203.0.113.0/24[tcp/1024-65535]", "203.0.113.0/24[tcp/1024-65535]"],
    ["203.0.113.7[udp/opaque]", "203.0.113.7/32[udp/OPAQUE]"],
    ["203.0.113.8[47]", "203.0.113.8/32[gre]"],
    ["203.0.113.9[tcp/ssh]", "203.0.113.9/32[tcp/ssh]"],
    ["203.0.113.9[udp/4500]", "203.0.113.9/32[udp/ipsec-nat-t]"],
    ["2001:db8:2::/48[ipv6-icmp]", "2001:db8:2::/48[ipv6-icmp]"],
    ["2001:DB8:2:0:0:0:0:1[tcp/https]", "2001:db8:2::1/128[tcp/https]"],
  ];
  const charon = readFileSync(new URL("features.charon.txt", FIXTURES), "utf8");
  for (const [input, printed] of want) {
    assert.equal(formatTs(ts(input)), printed, input);
    assert.ok(charon.includes(printed), `charon never printed ${printed}`);
  }
  // not in the fixture: ICMP type and code, port ranges of ICMP, unnamed ports
  assert.equal(formatTs(ts("0.0.0.0/0[icmp/771]")), "0.0.0.0/0[icmp/3(3)]");
  assert.equal(formatTs(ts("0.0.0.0/0[icmp/2048-2303]")), "0.0.0.0/0[icmp/8-8(255)]");
  assert.equal(formatTs(ts("0.0.0.0/0[tcp/4500]")), "0.0.0.0/0[tcp/4500]");
  assert.equal(formatTs(ts("0.0.0.0/0[any/53]")), "0.0.0.0/0[domain]");
  assert.equal(formatTs(ts("0.0.0.0/0[253]")), "0.0.0.0/0[253]");
  assert.deepEqual(parseTs("dynamic, 198.51.100.0/24"), ["dynamic", ts("198.51.100.0/24")]);
});

test("parseTs errors name the selector, the setting and the line", () => {
  const cases: [string, RegExp][] = [
    ["198.51.100.0/24[udp/53", /unterminated or misplaced/],
    ["[icmp]", /names no address before/],
    ["dynamic[udp/1701]", /restricts 'dynamic' to a protocol or port/],
    ["198.51.100.0/24[nosuchproto]", /unknown protocol 'nosuchproto'/],
    ["198.51.100.0/24[udp/nosuchservice]", /unknown port or service 'nosuchservice'/],
    ["198.51.100.0/24[udp/2000-1000]", /port range 2000-1000 backwards/],
    ["198.51.100.1-2001:db8::1", /mixes IPv4 and IPv6/],
    ["2001:db8::/129", /prefix length that is not 0-128/],
    ["gateway.example.org", /is not an IPv4\/IPv6 address, subnet, range or 'dynamic'/],
  ];
  for (const [text, why] of cases) {
    assert.throws(
      () => parseTs(text, { key: "remote_ts", line: 21, file: "swanctl.conf" }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, why);
        assert.ok(
          e.message.startsWith(`traffic selector '${text}' in remote_ts (line 21 of swanctl.conf) `),
          e.message,
        );
        return e.line === 21 && e.file === "swanctl.conf";
      },
    );
  }
  assert.throws(
    () => parseTs(" , "),
    (e: unknown) => e instanceof ConfigError && e.code === "MISSING",
  );
});

test("narrowing, RFC 7296 §2.9: subset, superset, disjoint, first choice kept", () => {
  // the interop peer (remote_ts 198.51.100.0/24) narrows the caller's 198.51.100.1/32 to itself (README)
  assert.equal(formatTsList(narrowTs(list("198.51.100.1/32"), list("198.51.100.0/24"))), "198.51.100.1/32");
  // peer asks for everything, we allow one subnet
  assert.equal(formatTsList(narrowTs(list("0.0.0.0/0"), list("203.0.113.0/24"))), "203.0.113.0/24");
  // the whole offer acceptable: "no narrowing is necessary"
  assert.equal(
    formatTsList(narrowTs(list("203.0.113.0/25,203.0.113.128/25"), list("203.0.113.0/24"))),
    "203.0.113.0/25 203.0.113.128/25",
  );
  // nothing acceptable: TS_UNACCEPTABLE
  assert.deepEqual(narrowTs(list("10.0.0.0/24"), list("198.51.100.0/24")), []);
  // §2.9's example: the packet's own selector first, then the subnet; the answer must include the first choice
  const offered = list("198.51.100.43[udp/53],198.51.100.0/24");
  const toHost = narrowTs(offered, list("198.51.100.43/32"));
  assert.equal(formatTsList(toHost), "198.51.100.43/32");
  assert.ok(tsIntersection(toHost[0]!, offered[0]!));
  const toNet = narrowTs(offered, list("198.51.100.0/24"));
  assert.equal(formatTsList(toNet), "198.51.100.0/24");
  assert.ok(toNet.some((t) => tsIntersection(t, offered[0]!)?.startPort === 53));
});

test("narrowing of protocols, ports, IPv6 and ranges, in charon's order with contained selectors dropped", () => {
  assert.equal(
    formatTsList(narrowTs(list("198.51.100.0/24[udp/1000-2000]"), list("198.51.100.0/24[udp/1500-3000]"))),
    "198.51.100.0/24[udp/1500-2000]",
  );
  assert.deepEqual(narrowTs(list("198.51.100.0/24[tcp]"), list("198.51.100.0/24[udp]")), []);
  assert.equal(formatTsList(narrowTs(list("198.51.100.0/24[tcp]"), list("198.51.100.0/24"))), "198.51.100.0/24[tcp]");
  assert.deepEqual(narrowTs(list("198.51.100.0/24[udp/53]"), list("198.51.100.0/24[udp/123]")), []);
  // OPAQUE meets any: stays OPAQUE (traffic_selector.c get_subset)
  assert.equal(
    formatTsList(narrowTs(list("198.51.100.0/24[udp/opaque]"), list("198.51.100.0/24[udp]"))),
    "198.51.100.0/24[udp/OPAQUE]",
  );
  assert.equal(formatTsList(narrowTs(list("2001:db8::/32"), list("2001:db8:1::/48"))), "2001:db8:1::/48");
  assert.deepEqual(narrowTs(list("2001:db8::/32"), list("198.51.100.0/24")), []);
  assert.equal(formatTsList(narrowTs(list("10.1.0.1-10.1.0.9"), list("10.1.0.0/29"))), "10.1.0.1..10.1.0.7");
  // configured order decides; a selector inside another one is dropped (child_cfg.c)
  assert.equal(
    formatTsList(narrowTs(list("0.0.0.0/0"), list("198.51.100.0/24,198.51.100.128/25,203.0.113.0/24"))),
    "198.51.100.0/24 203.0.113.0/24",
  );
  assert.equal(
    formatTsList(narrowTs(list("203.0.113.0/24,198.51.100.0/24"), list("198.51.100.0/24,203.0.113.0/24"))),
    "198.51.100.0/24 203.0.113.0/24",
  );
  assert.equal(
    formatTsList(narrowTs(list("198.51.100.0/24,198.51.100.0/24"), list("198.51.100.0/24"))),
    "198.51.100.0/24",
  );
});

test("explainTsMismatch and the TS_UNACCEPTABLE log line of the interop README", () => {
  // [IKE] <peer|1> traffic selectors 203.0.113.0/24 === 198.51.100.1/32 unacceptable
  assert.equal(
    `traffic selectors ${formatTsList(list("203.0.113.0/24"))} === ${formatTsList(list("198.51.100.1/32"))} unacceptable`,
    "traffic selectors 203.0.113.0/24 === 198.51.100.1/32 unacceptable",
  );
  assert.equal(
    explainTsMismatch(list("10.0.0.0/24"), list("198.51.100.0/24"), "remote_ts"),
    "peer proposes 10.0.0.0/24; local remote_ts is 198.51.100.0/24: no overlap",
  );
  assert.equal(
    explainTsMismatch(list("2001:db8::/32"), list("198.51.100.0/24")),
    "peer proposes 2001:db8::/32; local traffic selectors are 198.51.100.0/24: the address families differ (IPv6 offered, IPv4 configured)",
  );
  assert.match(
    explainTsMismatch(list("198.51.100.0/24[tcp]"), list("198.51.100.0/24[udp]")),
    /the addresses overlap but the protocols differ$/,
  );
  assert.match(
    explainTsMismatch(list("198.51.100.0/24[udp/53]"), list("198.51.100.0/24[udp/123]")),
    /the addresses overlap but the ports differ$/,
  );
  assert.match(
    explainTsMismatch([], list("198.51.100.0/24")),
    /^peer proposes no traffic selectors; .*: nothing to match$/,
  );
});

test("tsForAddress, resolveTs and tsContainsAddress", () => {
  const host = tsForAddress("198.18.0.1");
  assert.deepEqual(host, {
    tsType: TsType.IPV4_ADDR_RANGE,
    ipProtocol: 0,
    startPort: 0,
    endPort: 65535,
    start: Uint8Array.of(198, 18, 0, 1),
    end: Uint8Array.of(198, 18, 0, 1),
  });
  assert.equal(formatTs(tsForAddress("2001:db8::1")), "2001:db8::1/128");
  assert.equal(tsForAddress("2001:db8::1").tsType, TsType.IPV6_ADDR_RANGE);
  assert.throws(() => tsForAddress("example.org"), ConfigError);
  assert.equal(
    formatTsList(resolveTs(parseTs("dynamic, 203.0.113.0/24"), "198.18.0.2")),
    "198.18.0.2/32 203.0.113.0/24",
  );
  const net = ts("10.1.0.1-10.1.0.9");
  assert.ok(tsContainsAddress(net, parseIp("10.1.0.1")!));
  assert.ok(tsContainsAddress(net, parseIp("10.1.0.9")!));
  assert.ok(!tsContainsAddress(net, parseIp("10.1.0.10")!));
  assert.ok(!tsContainsAddress(net, parseIp("::ffff:10.1.0.5")!));
});
