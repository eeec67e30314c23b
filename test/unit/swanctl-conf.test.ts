// swanctl.conf parsing checked against charon 5.9.8: record-charon.sh loaded every
// test/fixtures/swanctl/*.conf into a real charon and kept the configuration dump charon logs
// (lifetimes, proposals, selectors, actions, identities, secrets). Each field parsed here must
// equal charon's. The error paths are checked for their code, line and wording.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import {
  findSecret,
  parseDuration,
  parseSize,
  parseSwanctlConf,
  type ConnectionConfig,
} from "../../sdk/config/swanctl.ts";
import { ConfigError } from "../../sdk/ike/config-error.ts";
import { formatProposalList, keywordTransform, proposalKeywords, transformName } from "../../sdk/ike/proposals.ts";
import { formatTsList } from "../../sdk/ike/ts.ts";
import type { TrafficSelector } from "../../sdk/ike/message.ts";

const FIXTURES = new URL("../fixtures/swanctl/", import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, FIXTURES), "utf8");

type Dump = {
  keys: Map<string, string>;
  children: Map<string, Map<string, string>>;
  local: Map<string, string>;
  remote: Map<string, string>;
};

/** Charon's load-conn dump: " conn X:", "  child Y:", "   key = value", "  key = value", "  local:", "   id = ...". */
function charonDump(text: string): { conns: Map<string, Dump>; shared: Map<string, string[]> } {
  const conns = new Map<string, Dump>();
  const shared = new Map<string, string[]>();
  let conn: Dump | undefined;
  let block: Map<string, string> | undefined;
  for (const line of text.split("\n")) {
    const key = /^loaded IKE shared key with id '([^']*)' for: (.*)$/.exec(line);
    if (key) {
      shared.set(
        key[1]!,
        key[2]!.split(", ").map((s) => s.slice(1, -1)),
      );
      continue;
    }
    const c = /^ conn (.*):$/.exec(line);
    if (c) {
      conn = { keys: new Map(), children: new Map(), local: new Map(), remote: new Map() };
      conns.set(c[1]!, conn);
      block = undefined;
      continue;
    }
    if (!conn) continue;
    const child = /^ {2}child (.*):$/.exec(line);
    if (child) {
      block = new Map();
      conn.children.set(child[1]!, block);
      continue;
    }
    if (line === "  local:" || line === "  remote:") {
      block = line === "  local:" ? conn.local : conn.remote;
      continue;
    }
    const kv3 = /^ {3}(\w+) = (.*)$/.exec(line);
    if (kv3 && block) {
      block.set(kv3[1]!, kv3[2]!);
      continue;
    }
    const kv2 = /^ {2}(\w+) = (.*)$/.exec(line);
    if (kv2) {
      block = undefined;
      conn.keys.set(kv2[1]!, kv2[2]!);
      continue;
    }
    if (!line.startsWith(" ")) conn = undefined;
  }
  return { conns, shared };
}

// charon's way of printing what swanctl.conf says (vici_config.c log_peer_data/log_child_data)
const FRAGMENTATION = { no: "0", accept: "1", yes: "2", force: "3" };
const SEND_CERT = { always: "CERT_ALWAYS_SEND", never: "CERT_NEVER_SEND", ifasked: "CERT_SEND_IF_ASKED" };
const UNIQUE: Record<string, string> = {
  never: "UNIQUE_NEVER",
  no: "UNIQUE_NO",
  keep: "UNIQUE_KEEP",
  replace: "UNIQUE_REPLACE",
};
const ACTION = { none: "none", clear: "none", trap: "trap", start: "start", restart: "start" };
const bit = (b: boolean): string => (b ? "1" : "0");
const tsText = (l: (TrafficSelector | "dynamic")[]): string =>
  l.map((t) => (t === "dynamic" ? "dynamic" : formatTsList([t]))).join(" ");

const supported = new Set(
  [...proposalKeywords("IKE"), ...proposalKeywords("ESP")].map((w) => transformName(keywordTransform(w)!)),
);
/** charon's list restricted to what ipsec-wasm implements ("default" expands to more than that). */
const restrict = (list: string): string =>
  list
    .split(", ")
    .map((p) => {
      const [proto, algs] = p.split(":");
      return `${proto}:${algs!
        .split("/")
        .filter((a) => supported.has(a))
        .join("/")}`;
    })
    .join(", ");

function compare(conn: ConnectionConfig, dump: Dump, file: string): void {
  const at = `${file}: ${conn.name}`;
  const k = dump.keys;
  assert.equal(String(conn.version), k.get("version"), `${at} version`);
  assert.equal(conn.localAddrs.join(", "), k.get("local_addrs"), `${at} local_addrs`);
  assert.equal(conn.remoteAddrs.join(", "), k.get("remote_addrs"), `${at} remote_addrs`);
  assert.equal(String(conn.localPort), k.get("local_port"), `${at} local_port`);
  assert.equal(String(conn.remotePort), k.get("remote_port"), `${at} remote_port`);
  assert.equal(bit(conn.sendCertreq), k.get("send_certreq"), `${at} send_certreq`);
  assert.equal(SEND_CERT[conn.sendCert], k.get("send_cert"), `${at} send_cert`);
  assert.equal(bit(conn.encap), k.get("encap"), `${at} encap`);
  assert.equal(String(conn.dpdDelay), k.get("dpd_delay"), `${at} dpd_delay`);
  assert.equal(String(conn.dpdTimeout), k.get("dpd_timeout"), `${at} dpd_timeout`);
  assert.equal(FRAGMENTATION[conn.fragmentation], k.get("fragmentation"), `${at} fragmentation`);
  assert.equal(UNIQUE[conn.unique], k.get("unique"), `${at} unique`);
  assert.equal(String(conn.keyingtries), k.get("keyingtries"), `${at} keyingtries`);
  assert.equal("0", k.get("reauth_time"), `${at} reauth_time`);
  assert.equal(String(conn.rekeyTime), k.get("rekey_time"), `${at} rekey_time`);
  assert.equal(String(conn.overTime), k.get("over_time"), `${at} over_time`);
  assert.equal(String(conn.randTime), k.get("rand_time"), `${at} rand_time`);
  assert.equal(formatProposalList(conn.proposals), restrict(k.get("proposals")!), `${at} proposals`);
  for (const [side, round] of [
    ["local", conn.local],
    ["remote", conn.remote],
  ] as const) {
    const d = side === "local" ? dump.local : dump.remote;
    assert.equal(round.auth === "psk" ? "pre-shared key" : "public key", d.get("class"), `${at} ${side} auth`);
    // charon shows @fqdn identities without the @
    assert.equal(round.id?.replace(/^@/, ""), d.get("id"), `${at} ${side} id`);
  }
  assert.deepEqual(
    conn.children.map((c) => c.name),
    [...dump.children.keys()],
    `${at} children`,
  );
  for (const child of conn.children) {
    const c = dump.children.get(child.name)!;
    const cat = `${at}.${child.name}`;
    const nums: [number, string][] = [
      [child.rekeyTime, "rekey_time"],
      [child.lifeTime, "life_time"],
      [child.randTime, "rand_time"],
      [child.rekeyBytes, "rekey_bytes"],
      [child.lifeBytes, "life_bytes"],
      [child.randBytes, "rand_bytes"],
      [child.rekeyPackets, "rekey_packets"],
      [child.lifePackets, "life_packets"],
      [child.randPackets, "rand_packets"],
    ];
    for (const [ours, key] of nums) assert.equal(String(ours), c.get(key), `${cat} ${key}`);
    assert.equal(child.updown ?? "(null)", c.get("updown"), `${cat} updown`);
    assert.equal(bit(child.hostaccess), c.get("hostaccess"), `${cat} hostaccess`);
    assert.equal(bit(child.policies), c.get("policies"), `${cat} policies`);
    assert.equal(child.mode.toUpperCase(), c.get("mode"), `${cat} mode`);
    // charon only prints replay_window when it was set; its default comes from strongswan.conf: 32
    assert.equal(String(child.replayWindow), c.get("replay_window") ?? "32", `${cat} replay_window`);
    assert.equal(ACTION[child.dpdAction], c.get("dpd_action"), `${cat} dpd_action`);
    assert.equal(ACTION[child.startAction], c.get("start_action"), `${cat} start_action`);
    assert.equal(ACTION[child.closeAction], c.get("close_action"), `${cat} close_action`);
    assert.equal(formatProposalList(child.espProposals), restrict(c.get("proposals")!), `${cat} proposals`);
    assert.equal(tsText(child.localTs), c.get("local_ts"), `${cat} local_ts`);
    assert.equal(tsText(child.remoteTs), c.get("remote_ts"), `${cat} remote_ts`);
  }
}

test("every fixture parses to what charon 5.9.8 made of it: lifetimes, proposals, selectors, actions, identities", () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".conf"));
  assert.deepEqual(files.sort(), [
    "defaults.conf",
    "features.conf",
    "interop-peer.conf",
    "roadwarrior-cert.conf",
    "site-to-site.conf",
  ]);
  let conns = 0,
    children = 0;
  for (const file of files) {
    const cfg = parseSwanctlConf(read(file), file);
    const dump = charonDump(read(file.replace(/\.conf$/, ".charon.txt")));
    assert.deepEqual(
      cfg.connections.map((c) => c.name),
      [...dump.conns.keys()],
      `${file}: connections`,
    );
    for (const conn of cfg.connections) {
      compare(conn, dump.conns.get(conn.name)!, file);
      conns++;
      children += conn.children.length;
    }
    const ids = cfg.ikeSecrets.map((s) => (s.ids.length ? s.ids : ["%any"]));
    assert.deepEqual(ids, [...dump.shared.values()], `${file}: IKE secrets`);
  }
  assert.ok(conns >= 8 && children >= 10, `${conns} connections, ${children} children compared`);
});

test("the interop peer's swanctl.conf (strongswan-peer.sh config) as the library sees it", () => {
  const cfg = parseSwanctlConf(read("interop-peer.conf"));
  const [peer] = cfg.connections;
  assert.equal(peer!.name, "peer");
  assert.deepEqual(peer!.local, { auth: "psk", id: "swan.example.org", certs: [], cacerts: [] });
  assert.deepEqual(peer!.remote, { auth: "psk", id: "client.example.org", certs: [], cacerts: [] });
  assert.equal(
    peer!.proposalsText,
    "aes128gcm16-aes256gcm16-chacha20poly1305-prfsha256-prfsha384-prfsha512-x25519-ecp256-ecp384-modp2048-modp3072,aes128-aes256-sha256-sha384-sha512-sha1-x25519-ecp256-ecp384-modp2048-modp3072",
  );
  assert.equal(
    peer!.children[0]!.espProposalsText,
    "aes128gcm16-aes256gcm16-chacha20poly1305,aes128-aes256-sha256-sha384-sha512-sha1",
  );
  // README: "expires in 3960s" for a 1h child, "rekeying in 13410s" within 4h minus up to 1440s
  assert.equal(peer!.children[0]!.lifeTime, 3960);
  assert.equal(peer!.rekeyTime - peer!.randTime, 12960);
  assert.deepEqual(
    [...findSecret(cfg, "swan.example.org", "client.example.org")!],
    [...new TextEncoder().encode("interop-test-psk-not-secret")],
  );
});

test("secrets: 0x hex, 0s base64 or the UTF-8 bytes, and private key references", () => {
  const cfg = parseSwanctlConf(read("features.conf"));
  assert.deepEqual([...cfg.ikeSecrets[0]!.secret], [...Buffer.from("interop test psk", "utf8")]);
  assert.deepEqual([...cfg.ikeSecrets[1]!.secret], [...Buffer.from("000102030405060708090a0b0c0d0e0f", "hex")]);
  const s2s = parseSwanctlConf(read("site-to-site.conf"));
  assert.deepEqual([...s2s.ikeSecrets[0]!.secret], [...Buffer.from("v+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL", "base64")]);
  assert.deepEqual(parseSwanctlConf(read("roadwarrior-cert.conf")).privateKeys, [{ kind: "ecdsa", file: "gwKey.pem" }]);
  const keys = parseSwanctlConf(
    'secrets {\n private-a {\n  file = a.pem\n  secret = "pass word"\n }\n rsa1 {\n  file = b.pem\n }\n}\n',
  );
  assert.deepEqual(keys.privateKeys, [
    { kind: "private", file: "a.pem", secret: "pass word" },
    { kind: "rsa", file: "b.pem" },
  ]);
});

test("findSecret ranks secrets as strongSwan does: perfect 20, leading wildcard 19, %any 1, summed over both ids", () => {
  const cfg = parseSwanctlConf(read("features.conf"));
  const [any, gw, wild] = cfg.ikeSecrets.map((s) => s.secret);
  assert.equal(findSecret(cfg, "gw1.example.org", "gw2.example.org"), gw); // 0 + 20 beats 1 + 1
  assert.equal(findSecret(cfg, "gw1.example.org", "198.18.0.2"), gw); // an IPv4 identity, matched as an address
  assert.equal(findSecret(cfg, "a.example.net", "b.example.com"), wild); // 19 + 0 beats 1 + 1
  assert.equal(findSecret(cfg, "gw1.example.org", "other.example.com"), any);
  assert.equal(findSecret(cfg, undefined, "other.example.com"), any);
  assert.equal(findSecret(cfg, undefined, undefined), undefined);
  // "@198.18.0.2" is an FQDN, not the address: only %any matches it
  assert.equal(findSecret(cfg, "gw1.example.org", "@198.18.0.2"), any);
  const two = parseSwanctlConf(
    "secrets {\n ike-a {\n  id = gw2.example.org\n  secret = a\n }\n ike-b {\n  id-1 = gw1.example.org\n  id-2 = GW2.example.org\n  secret = b\n }\n}\n",
  );
  assert.equal(new TextDecoder().decode(findSecret(two, "gw1.example.org", "gw2.example.org")), "b"); // 20 + 20, case-insensitive
  assert.equal(new TextDecoder().decode(findSecret(two, "x.example.org", "gw2.example.org")), "a"); // tie at 20: the first
  const none = parseSwanctlConf("secrets {\n ike-a {\n  id = gw2.example.org\n  secret = a\n }\n}\n");
  assert.equal(findSecret(none, "x.example.org", "y.example.org"), undefined);
});

test("durations and sizes use charon's units: s m h d and binary k M G", () => {
  assert.equal(parseDuration("3600"), 3600);
  assert.equal(parseDuration("10s"), 10);
  assert.equal(parseDuration("30m"), 1800);
  assert.equal(parseDuration("2h"), 7200);
  assert.equal(parseDuration("1d"), 86400);
  assert.equal(parseDuration("4 H"), 14400);
  assert.equal(parseSize("100k"), 102400);
  assert.equal(parseSize("500M"), 524288000);
  assert.equal(parseSize("1G"), 1073741824);
  assert.equal(parseSize("1048576"), 1048576);
  assert.throws(
    () => parseDuration("1w", { key: "rekey_time", line: 4 }),
    /'1w' in rekey_time \(line 4\) is not a time/,
  );
  assert.throws(
    () => parseSize("1T", { key: "rekey_bytes", line: 5 }),
    /'1T' in rekey_bytes \(line 5\) is not a byte count/,
  );
});

/** Parses `text` expecting a ConfigError with `code` at `line` whose message matches `why`. */
function fails(text: string, code: ConfigError["code"], line: number, why: RegExp): void {
  let err: unknown;
  try {
    parseSwanctlConf(text, "test.conf");
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError, `no error for:\n${text}`);
  assert.equal(err.code, code, err.message);
  assert.equal(err.line, line, err.message);
  assert.equal(err.file, "test.conf");
  assert.match(err.message, why);
}

const conn = (body: string): string => `connections {\n c {\n${body}\n  local {\n   auth = psk\n  }\n }\n}\n`;
const child = (body: string): string => `connections {\n c {\n  children {\n   n {\n${body}\n   }\n  }\n }\n}\n`;

test("syntax errors name the line", () => {
  fails(
    "connections {\n c {\n  local {\n",
    "SYNTAX",
    4,
    /section 'connections\.c\.local' opened at line 3 is missing its closing '\}'/,
  );
  fails("connections {\n}\n}\n", "SYNTAX", 3, /'\}' without a section to close/);
  fails(
    'connections {\n c {\n  id = "unterminated\n }\n}\n',
    "SYNTAX",
    3,
    /unterminated quoted string \(line 3 of test\.conf\)/,
  );
  fails('connections {\n "c" {\n }\n}\n', "SYNTAX", 2, /a quoted string can only be a value/);
  fails("connections {\n c\n  version = 2\n}\n", "SYNTAX", 2, /expected '=' or '\{' after 'c'/);
  fails("include /etc/swanctl/conf.d/*.conf\n", "SYNTAX", 1, /'include' statements are not supported by ipsec-wasm/);
  fails("connections {\n = 2\n}\n", "SYNTAX", 2, /expected a setting name or section name, found '='/);
});

test("unknown keys and sections list what is known, with the line", () => {
  fails(
    conn("  remote_adrs = 198.18.0.2"),
    "UNKNOWN_KEYWORD",
    3,
    /^unknown setting 'remote_adrs' in connections\.c \(line 3 of test\.conf\); known: version, local_addrs, remote_addrs, .*if_id_out$/,
  );
  fails(
    child("    local_tss = 198.51.100.0/24"),
    "UNKNOWN_KEYWORD",
    5,
    /unknown setting 'local_tss' in connections\.c\.children\.n .*; known: local_ts, remote_ts, esp_proposals/,
  );
  fails(
    child("    ah_proposals = sha256"),
    "UNKNOWN_KEYWORD",
    5,
    /AH is not supported by ipsec-wasm; use esp_proposals in connections\.c\.children\.n\.ah_proposals \(line 5/,
  );
  fails(conn("  vip = 0.0.0.0"), "UNKNOWN_KEYWORD", 3, /unknown setting 'vip' .*; known: .*pools, vips/);
  fails(
    "connections {\n c {\n  local {\n   auth = psk\n   eap_ids = x\n  }\n }\n}\n",
    "UNKNOWN_KEYWORD",
    5,
    /unknown setting 'eap_ids' .*; known: auth, id, eap_id, certs, cacerts/,
  );
  fails(
    "connections {\n c {\n  childs {\n  }\n }\n}\n",
    "UNKNOWN_KEYWORD",
    3,
    /unknown section 'childs' in connections\.c\.childs \(line 3 of test\.conf\); known: local, remote/,
  );
  fails(
    "pools {\n p {\n  addrs = 10.3.0.0/24\n  pool = x\n }\n}\n",
    "UNKNOWN_KEYWORD",
    4,
    /unknown setting 'pool' in pools\.p .*; known: addrs, dns/,
  );
  fails("authorities {\n}\n", "UNKNOWN_KEYWORD", 1, /the authorities section/);
  fails(
    "conections {\n}\n",
    "UNKNOWN_KEYWORD",
    1,
    /unknown section 'conections' .*; known: connections, secrets, pools/,
  );
  fails("version = 2\n", "UNKNOWN_KEYWORD", 1, /setting 'version' outside any section/);
  fails("connections {\n version = 2\n}\n", "UNKNOWN_KEYWORD", 2, /directly in connections/);
  fails(
    "connections {\n c {\n  children {\n   mode = tunnel\n  }\n }\n}\n",
    "UNKNOWN_KEYWORD",
    4,
    /'mode' in connections\.c\.children \(line 4 of test\.conf\): only sections belong here/,
  );
  fails(
    "secrets {\n ntlm-u {\n  secret = x\n }\n}\n",
    "UNKNOWN_KEYWORD",
    2,
    /ntlm secrets \('ntlm-u' at line 2\) are not supported by ipsec-wasm yet; supported: ike, eap, private/,
  );
  fails(
    "secrets {\n ike-a {\n  secret = x\n  idx = y\n  owner = z\n }\n}\n",
    "UNKNOWN_KEYWORD",
    5,
    /unknown setting 'owner' in secrets\.ike-a .*; known: secret, idx/,
  );
});

test("values ipsec-wasm refuses, each with the reason and the line", () => {
  fails(
    conn("  version = 1"),
    "BAD_VALUE",
    3,
    /^IKEv1 is not supported by ipsec-wasm in connections\.c\.version \(line 3 of test\.conf\); use version = 2/,
  );
  fails(conn("  version = 3"), "BAD_VALUE", 3, /'3' .* is not a whole number from 0 to 2/);
  fails(conn("  mobike = yes"), "BAD_VALUE", 3, /MOBIKE is not supported by ipsec-wasm; set mobike = no/);
  fails(conn("  pools = rw"), "BAD_VALUE", 3, /pool 'rw' in connections\.c\.pools .* not defined/);
  fails(
    conn("  reauth_time = 1h"),
    "BAD_VALUE",
    3,
    /IKE reauthentication is not supported by ipsec-wasm; use rekey_time/,
  );
  fails(
    conn("  rekey_time = 4 hours"),
    "BAD_VALUE",
    3,
    /'4 hours' in connections\.c\.rekey_time \(line 3 of test\.conf\) is not a time/,
  );
  fails(conn("  encap = maybe"), "BAD_VALUE", 3, /'maybe' .* is not yes or no/);
  fails(conn("  local_port = 70000"), "BAD_VALUE", 3, /not a whole number from 0 to 65535/);
  fails(conn("  remote_port = 0"), "BAD_VALUE", 3, /port 0 .* is not usable/);
  fails(conn("  fragmentation = sometimes"), "BAD_VALUE", 3, /is not one of yes, no, accept, force/);
  fails(conn("  if_id_in = %random"), "BAD_VALUE", 3, /if_id_in/);
  fails(
    conn("  proposals = aes128-sha256-modp1024"),
    "UNKNOWN_KEYWORD",
    3,
    /IKE algorithm 'modp1024' in connections\.c\.proposals \(line 3 of test\.conf\) is a strongSwan keyword/,
  );
  fails(
    child("    esp_proposals = aes128gcm16-aes128-sha256"),
    "BAD_VALUE",
    5,
    /classic and combined-mode \(AEAD\) encryption algorithms can't be contained in the same ESP proposal/,
  );
  fails(
    child("    remote_ts = 198.51.100.0/24[udp/dns]"),
    "BAD_VALUE",
    5,
    /traffic selector '198\.51\.100\.0\/24\[udp\/dns\]' in connections\.c\.children\.n\.remote_ts \(line 5 of test\.conf\)/,
  );
  fails(
    child("    mode = beet"),
    "BAD_VALUE",
    5,
    /mode 'beet' .* is not supported by ipsec-wasm; use tunnel or transport/,
  );
  fails(child("    start_action = always"), "BAD_VALUE", 5, /is not one of none, clear, trap, route, start, restart/);
  fails(child("    rekey_packets = 10k"), "BAD_VALUE", 5, /'10k' .* is not a whole number/);
  fails(
    "connections {\n c {\n  local {\n   auth = eap-tls\n  }\n }\n}\n",
    "BAD_VALUE",
    4,
    /EAP method 'eap-tls' is not supported by ipsec-wasm .*; the EAP method supported is eap-mschapv2/,
  );
  fails(
    "connections {\n c {\n  local {\n   auth = pubkey-sha256\n  }\n }\n}\n",
    "BAD_VALUE",
    4,
    /signature constraints \('pubkey-sha256'\) are not supported/,
  );
  fails(
    "connections {\n c {\n  remote {\n   auth = psk\n  }\n  remote-2 {\n   auth = pubkey\n  }\n }\n}\n",
    "BAD_VALUE",
    6,
    /has 2 remote authentication rounds \(remote at line 3, remote-2 at line 6\); ipsec-wasm supports one round/,
  );
  fails(
    "secrets {\n ike-a {\n  secret = 0x123\n }\n}\n",
    "BAD_VALUE",
    3,
    /starts with 0x but is not an even number of hex digits/,
  );
  fails("secrets {\n ike-a {\n  secret = 0s!!!!\n }\n}\n", "BAD_VALUE", 3, /starts with 0s but is not valid base64/);
  fails("secrets {\n ike-a {\n  id = x\n }\n}\n", "MISSING", 2, /IKE secret 'ike-a' \(line 2\) has no secret = /);
  fails("secrets {\n private-k {\n  secret = x\n }\n}\n", "MISSING", 2, /has no file = /);
});

test("the settings syntax: comments, quotes, joined words, merged sections, last value wins", () => {
  const cfg = parseSwanctlConf(
    [
      "# comment",
      "connections {   # trailing comment",
      " a { local { auth = psk } remote { auth = psk }",
      '   children { x { updown = "/bin/up  #not a comment\\n"   } }',
      " }",
      " a",
      " {",
      "  remote_addrs = 198.18.0.2, 198.18.0.3 # comment after a value",
      "  remote_addrs = 198.18.0.9",
      "  local_addrs = one   two",
      " }",
      "}",
    ].join("\n"),
  );
  const [a] = cfg.connections;
  assert.equal(cfg.connections.length, 1);
  assert.deepEqual(a!.remoteAddrs, ["198.18.0.9"]);
  assert.deepEqual(a!.localAddrs, ["one two"]);
  assert.equal(a!.children[0]!.updown, "/bin/up  #not a comment");
  assert.equal(a!.local.auth, "psk");
  // strongSwan's defaults for a connection that sets nothing
  const bare = parseSwanctlConf("connections {\n b {\n }\n}\n").connections[0];
  assert.deepEqual(
    { ...bare, proposals: undefined },
    {
      name: "b",
      version: 0,
      localAddrs: ["%any"],
      remoteAddrs: ["%any"],
      localPort: 500,
      remotePort: 500,
      proposals: undefined,
      proposalsText: "default",
      encap: false,
      dpdDelay: 0,
      dpdTimeout: 0,
      rekeyTime: 14400,
      overTime: 1440,
      randTime: 1440,
      fragmentation: "yes",
      keyingtries: 1,
      unique: "no",
      sendCertreq: true,
      sendCert: "ifasked",
      local: { auth: "pubkey", certs: [], cacerts: [] },
      remote: { auth: "pubkey", certs: [], cacerts: [] },
      children: [],
      vips: [],
      pools: [],
    },
  );
});

test("tfc_padding: a byte count, mtu, or 0 for off (strongSwan's child option)", () => {
  const child = (v: string) =>
    parseSwanctlConf(
      `connections {\n  c {\n    children {\n      net {\n        tfc_padding = ${v}\n      }\n    }\n  }\n}\n`,
    ).connections[0]!.children[0];
  assert.equal(child("1200")!.tfcPadding, 1200);
  assert.equal(child("mtu")!.tfcPadding, "mtu");
  assert.equal(child("0")!.tfcPadding, undefined);
  assert.throws(() => child("70000"), ConfigError);
});

test("ipsec-wasm { } section: the TUN settings of `up`, checked with their lines", () => {
  const conn =
    "connections {\n c {\n  remote_addrs = 198.18.0.2\n  children {\n   n {\n    remote_ts = 10.0.0.0/8\n   }\n  }\n }\n}\n";
  const cfg = parseSwanctlConf(`${conn}ipsec-wasm {\n  tun = rw0\n  mtu_path = 1400\n  io = dgram\n  workers = 1\n}\n`);
  assert.deepEqual(cfg.ipsecWasm, { tun: "rw0", mtuPath: 1400, io: "dgram", workers: 1 });
  assert.equal(parseSwanctlConf(conn).ipsecWasm, undefined);
  const bad = (body: string, re: RegExp): void =>
    assert.throws(
      () => parseSwanctlConf(`${conn}ipsec-wasm {\n${body}\n}\n`),
      (e: Error) => re.test(e.message),
    );
  bad("  mtu_path = 100", /mtu_path .*line 12.* must be 576 to 65535, got 100/);
  bad("  io = uring", /'uring' .*line 12.* is not one of mmsg, dgram/);
  bad("  workers = 3", /'3' .*is not one of 1, 2/);
  bad("  tunnel = rw0", /tunnel/);
});
