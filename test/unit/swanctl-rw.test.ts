// The road-warrior configurations of issue 13: a gateway with a pool, EAP-MSCHAPv2 users and a
// certificate, and a client asking for a virtual IP with start_action = trap, parsed and resolved
// as the daemon runs them; and the one-line errors for pools, vips and EAP settings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseSwanctlConf } from "../../sdk/config/swanctl.ts";
import { resolveConfig, type ResolveIo } from "../../sdk/config/resolve.ts";
import { ConfigError } from "../../sdk/ike/config-error.ts";
import { formatIdentity, parseIdentity, type IkeIdentity } from "../../sdk/ike/identity.ts";
import { findEapSecret } from "../../sdk/ike/eap-secrets.ts";
import { formatTsList } from "../../sdk/ike/ts.ts";
import type { TrafficSelector } from "../../sdk/ike/message.ts";
import { CLIENT_CONF, GATEWAY_CONF } from "../helpers/roadwarrior-confs.ts";

const CERTS = new URL("../fixtures/certs/", import.meta.url);
const fixture = (f: string): Uint8Array => new Uint8Array(readFileSync(new URL(f, CERTS)));

/** A swanctl directory in memory: x509/gw-cert.pem, private/gw-key.pem (found by listing), x509ca/ca.pem. */
function swanctlDir(files: Record<string, Uint8Array>): ResolveIo {
  return {
    dir: "/etc/swanctl",
    readFile: (p) => {
      const f = files[p];
      return f ? Promise.resolve(f) : Promise.reject(new Error("ENOENT"));
    },
    listDir: (d) =>
      Promise.resolve(
        Object.keys(files)
          .filter((p) => p.startsWith(`${d}/`))
          .map((p) => p.slice(d.length + 1)),
      ),
  };
}
const DIR = swanctlDir({
  "/etc/swanctl/x509/gw-cert.pem": fixture("ec256.pem"),
  "/etc/swanctl/private/gw-key.pem": fixture("ec256.key"),
  "/etc/swanctl/x509ca/ca.pem": fixture("ca.pem"),
});

const id = (s: string): IkeIdentity => parseIdentity(s) as IkeIdentity;
const ts = (list: (TrafficSelector | "dynamic")[]): string =>
  list.map((t) => (t === "dynamic" ? "dynamic" : formatTsList([t]))).join(" ");

test("gateway: pool, EAP users, certificate and key from the swanctl directories", async () => {
  const cfg = parseSwanctlConf(GATEWAY_CONF, "gateway.conf");
  assert.deepEqual(cfg.pools, [{ name: "rw-pool", addrs: "10.99.0.0/24", dns: ["10.1.0.53"] }]);
  const c = cfg.connections[0]!;
  assert.deepEqual([c.pools, c.vips, c.sendCertreq], [["rw-pool"], [], true]);
  assert.deepEqual(c.remote, { auth: "eap-mschapv2", eapId: "%any", certs: [], cacerts: [] });
  const r = await resolveConfig(cfg, DIR);
  const conn = r.connections[0]!;
  assert.deepEqual(conn.pools, ["rw-pool"]);
  assert.equal(conn.vips, undefined);
  assert.equal(conn.local.auth, "pubkey");
  assert.equal(formatIdentity(conn.local.id as IkeIdentity), "vpn.example.com");
  assert.ok(conn.local.key, "the key in private/ belongs to the certificate");
  // An EAP client's IKE identity is not what authenticates it: any is accepted, the EAP identity is checked.
  assert.deepEqual([conn.remote.auth, conn.remote.id, conn.remote.eapId], ["eap-mschapv2", "any", "any"]);
  assert.equal(conn.children[0]?.dpdAction, "clear");
  assert.equal(ts(conn.children[0].localTs), "10.0.0.0/8");
  assert.deepEqual(r.pools, cfg.pools);
  const text = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);
  assert.equal(text(findEapSecret(r.eapSecrets, id("alice"))), "alice_password_here");
  assert.equal(text(findEapSecret(r.eapSecrets, id("bob"))), "bob_password_here");
  // the EAP identity off the wire may come as another ID type: the text decides
  assert.equal(
    text(findEapSecret(r.eapSecrets, { idType: 11, data: new TextEncoder().encode("bob") })),
    "bob_password_here",
  );
  assert.equal(findEapSecret(r.eapSecrets, id("mallory")), undefined);
});

test("client: vips, EAP identity and password, trap and restart, the gateway's name as remote address", async () => {
  const cfg = parseSwanctlConf(CLIENT_CONF, "client.conf");
  const r = await resolveConfig(cfg, DIR);
  const conn = r.connections[0]!;
  assert.deepEqual(conn.vips, ["0.0.0.0"]);
  assert.equal(conn.pools, undefined);
  // strongSwan resolves a DNS name in remote_addrs when it initiates; it is kept as written here
  assert.deepEqual(conn.remoteAddrs, ["vpn.example.com"]);
  assert.deepEqual(conn.localAddrs, ["%any"]);
  assert.equal(conn.local.auth, "eap-mschapv2");
  assert.equal(formatIdentity(conn.local.eapId as IkeIdentity), "alice");
  assert.equal(conn.local.id, "any", "no id: the IKE identity defaults to our address");
  assert.equal(formatIdentity(conn.remote.id as IkeIdentity), "vpn.example.com");
  assert.equal(conn.remote.cacerts?.length, 1, "no cacerts: every x509ca/ certificate is trusted");
  const child = conn.children[0]!;
  assert.deepEqual(
    [child.name, child.startAction, child.dpdAction, child.closeAction],
    ["office-net", "trap", "restart", "none"],
  );
  assert.equal(ts(child.remoteTs), "10.0.0.0/8");
  assert.equal(ts(child.localTs), "dynamic");
  assert.ok(findEapSecret(r.eapSecrets, conn.local.eapId as IkeIdentity));
});

function fails(text: string, code: ConfigError["code"], why: RegExp): void {
  assert.throws(
    () => parseSwanctlConf(text, "t.conf"),
    (e: unknown) => e instanceof ConfigError && e.code === code && why.test(e.message) && !e.message.includes("\n"),
  );
}

test("pool and vips errors: one line with the setting, the line and what would work", () => {
  fails(
    GATEWAY_CONF.replace("pools = rw-pool", "pools = rw-pool, guests"),
    "BAD_VALUE",
    /pool 'guests' in connections\.roadwarrior\.pools \(line 6 of t\.conf\) not defined; defined pools: rw-pool/,
  );
  fails(
    "connections {\n c {\n  pools = p\n }\n}\n",
    "BAD_VALUE",
    /pool 'p' .*line 3.* not defined; the file has no pools section/,
  );
  fails(
    GATEWAY_CONF.replace("10.99.0.0/24", "10.99.0.0/33"),
    "BAD_VALUE",
    /pool 'rw-pool': addrs = 10\.99\.0\.0\/33: \/33 is longer than an IPv4 address in pools\.rw-pool\.addrs \(line 29/,
  );
  fails(
    GATEWAY_CONF.replace("dns = 10.1.0.53", "dns = ns.example.com"),
    "BAD_VALUE",
    /dns = ns\.example\.com is not an IP address in pools\.rw-pool\.dns \(line 30/,
  );
  fails("pools {\n p {\n  dns = 10.0.0.1\n }\n}\n", "MISSING", /pool 'p' \(line 2\) has no addrs/);
  fails(
    "pools {\n p {\n  addrs = 10.0.0.0/24\n  split_include = 10.0.0.0/8\n }\n}\n",
    "UNKNOWN_KEYWORD",
    /pool attribute 'split_include' is not supported by ipsec-wasm yet \(supported: addrs, dns\)/,
  );
  fails(
    CLIENT_CONF.replace("vips = 0.0.0.0", "vips = any"),
    "BAD_VALUE",
    /'any' in connections\.office\.vips \(line 5 of t\.conf\) is not an address; use 0\.0\.0\.0/,
  );
});

test("EAP errors: other methods, eap_id without EAP, EAP on both sides, missing passwords", async () => {
  fails(
    CLIENT_CONF.replace("auth = eap-mschapv2", "auth = eap-tls"),
    "BAD_VALUE",
    /EAP method 'eap-tls' is not supported by ipsec-wasm .*line 7.*; the EAP method supported is eap-mschapv2/,
  );
  fails(CLIENT_CONF.replace("auth = eap-mschapv2", "auth = eap"), "BAD_VALUE", /EAP method 'eap' is not supported/);
  fails(
    CLIENT_CONF.replace("auth = eap-mschapv2", "auth = psk"),
    "BAD_VALUE",
    /eap_id in connections\.office\.local\.eap_id \(line 8 of t\.conf\) needs auth = eap-mschapv2/,
  );
  fails(
    CLIENT_CONF.replace("auth = pubkey", "auth = eap-mschapv2"),
    "BAD_VALUE",
    /connection 'office' \(line 2 of t\.conf\): local auth = eap-mschapv2 needs remote auth = pubkey/,
  );
  fails(
    GATEWAY_CONF.replace("auth = pubkey", "auth = psk"),
    "BAD_VALUE",
    /remote auth = eap-mschapv2 needs local auth = pubkey/,
  );
  fails(
    CLIENT_CONF.replace("xauth", "x").replace("auth = eap-mschapv2", "auth = xauth"),
    "BAD_VALUE",
    /XAuth authentication is not supported/,
  );
  const resolveFails = async (text: string, why: RegExp): Promise<void> => {
    await assert.rejects(
      resolveConfig(parseSwanctlConf(text), DIR),
      (e: unknown) => e instanceof ConfigError && why.test(e.message),
    );
  };
  await resolveFails(
    CLIENT_CONF.replace("id = alice\n    secret", "id = bob\n    secret"),
    /connection 'office': no eap secret in the secrets section for eap_id 'alice'/,
  );
  await resolveFails(CLIENT_CONF.replace("      eap_id = alice\n", ""), /local auth = eap-mschapv2 needs eap_id/);
  await resolveFails(
    GATEWAY_CONF.replace(/secrets \{[^]*$/, ""),
    /remote auth = eap-mschapv2 but the secrets section has no eap-<name>/,
  );
});

test("eap secrets: id suffixes name several owners; a secret without ids is anyone's, the exact one wins", async () => {
  const cfg = parseSwanctlConf(
    'secrets {\n eap-team {\n  id-1 = carol\n  id-dave = dave\n  secret = "team"\n }\n eap-any {\n  secret = "fallback"\n }\n eap-x {\n  id = *@example.org\n  secret = 0x6869\n }\n}\n',
  );
  const r = await resolveConfig(cfg, DIR);
  const text = (s: string): string => new TextDecoder().decode(findEapSecret(r.eapSecrets, id(s)));
  assert.equal(text("carol"), "team");
  assert.equal(text("dave"), "team");
  assert.equal(text("erin@example.org"), "hi");
  assert.equal(text("frank"), "fallback");
});
