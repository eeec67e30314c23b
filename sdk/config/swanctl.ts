/**
 * swanctl.conf as strongSwan 5.9 reads it: the strongswan.conf settings syntax (sections,
 * `key = value` to the end of the line, `#` comments, "quoted" values), the `connections`,
 * `secrets` and `pools` sections with swanctl.conf(5)'s keys and charon's defaults. Everything
 * else is a ConfigError that names the line.
 * @module
 */
import type { TrafficSelector } from "../ike/message.ts";
import type { ChildTemplate } from "../ike/config.ts";
import { defaultProposals, parseProposals, type AlgorithmSet } from "../ike/proposals.ts";
import { parseTs } from "../ike/ts.ts";
import { parseIp } from "../net/ip.ts";
import { ConfigError, describeWhere, type ConfigWhere } from "../ike/config-error.ts";
import { VipPool, type VipPoolConfig } from "../ike/pool.ts";
import {
  badValue,
  checkKeys,
  list,
  parseBool,
  parseChoice,
  parseDuration,
  parseSettings,
  parseSize,
  parseUint,
  unknownSection,
  whereOf,
  type Section,
} from "./settings.ts";
import { parseSecrets, type EapSecretConfig, type IkeSecret, type PrivateKeyRef } from "./secrets.ts";

export { parseDuration, parseSize } from "./settings.ts";
export { findSecret, type EapSecretConfig, type IkeSecret, type PrivateKeyRef } from "./secrets.ts";

/** One authentication round: `local {}` / `remote {}` (or `local-1`, ... when there is only one). */
export interface AuthRound {
  auth: "psk" | "pubkey" | "eap-mschapv2";
  /** IKE identity as written; undefined = strongSwan's default (our address/cert subject, or %any for the peer). */
  id?: string;
  /** `eap_id` as written: local, our EAP identity (default: id); remote, the identity required (%any: anyone). */
  eapId?: string;
  certs: string[];
  cacerts: string[];
}

/** A `children.<name>` section with charon's defaults applied. Times in seconds. */
export interface ChildConfig extends ChildTemplate {
  /** As written, or "default" when esp_proposals is absent. */
  espProposalsText: string;
  randBytes: number;
  randPackets: number;
  updown?: string;
  hostaccess: boolean;
  policies: boolean;
}

/** A `connections.<name>` section with charon's defaults applied. Times in seconds. */
export interface ConnectionConfig {
  name: string;
  /** 0 = any (strongSwan's default; ipsec-wasm speaks IKEv2 only), 2 = IKEv2. */
  version: 0 | 2;
  localAddrs: string[];
  remoteAddrs: string[];
  localPort: number;
  remotePort: number;
  proposals: AlgorithmSet[];
  /** As written, or "default". */
  proposalsText: string;
  encap: boolean;
  dpdDelay: number;
  dpdTimeout: number;
  rekeyTime: number;
  overTime: number;
  randTime: number;
  fragmentation: "yes" | "no" | "accept" | "force";
  keyingtries: number;
  unique: string;
  sendCertreq: boolean;
  sendCert: "always" | "never" | "ifasked";
  local: AuthRound;
  remote: AuthRound;
  children: ChildConfig[];
  /** Virtual IPs to request (`vips`): 0.0.0.0 / :: for any, or an address. */
  vips: string[];
  /** Pools the peer's virtual IPs come from (`pools`), by name. */
  pools: string[];
}

/** Everything ipsec-wasm takes from a swanctl.conf. */
export interface SwanctlConfig {
  connections: ConnectionConfig[];
  ikeSecrets: IkeSecret[];
  eapSecrets: EapSecretConfig[];
  privateKeys: PrivateKeyRef[];
  /** `pools { name { addrs, dns } }`. */
  pools: VipPoolConfig[];
  /** Our own top-level section (strongSwan's swanctl ignores it): how `up` carries the host's traffic. */
  ipsecWasm?: IpsecWasmSettings;
}

/**
 * `ipsec-wasm { tun = NAME  mtu_path = N  io = mmsg|dgram  workers = 1|2 }`: what `up --tun NAME
 * --mtu-path N --io … --workers …` says, kept with the connection (the command line wins).
 */
export interface IpsecWasmSettings {
  tun?: string;
  mtuPath?: number;
  io?: "mmsg" | "dgram";
  workers?: 1 | 2;
}

const CONN_KEYS = [
  "version",
  "local_addrs",
  "remote_addrs",
  "local_port",
  "remote_port",
  "proposals",
  "encap",
  "dpd_delay",
  "dpd_timeout",
  "rekey_time",
  "reauth_time",
  "over_time",
  "rand_time",
  "fragmentation",
  "keyingtries",
  "unique",
  "mobike",
  "send_certreq",
  "send_cert",
  "pools",
  "vips",
  "if_id_in",
  "if_id_out",
];
const CONN_REASONS: Record<string, string> = {
  aggressive: "aggressive mode is IKEv1, which ipsec-wasm does not support",
  pull: "IKEv1 Mode Config (pull) is not supported by ipsec-wasm",
};
const AUTH_KEYS = ["auth", "id", "eap_id", "certs", "cacerts"];
const CHILD_KEYS = [
  "local_ts",
  "remote_ts",
  "esp_proposals",
  "mode",
  "start_action",
  "close_action",
  "dpd_action",
  "rekey_time",
  "life_time",
  "rand_time",
  "rekey_bytes",
  "life_bytes",
  "rand_bytes",
  "rekey_packets",
  "life_packets",
  "rand_packets",
  "replay_window",
  "tfc_padding",
  "updown",
  "hostaccess",
  "policies",
];
const CHILD_REASONS: Record<string, string> = {
  ah_proposals: "AH is not supported by ipsec-wasm; use esp_proposals",
  ipcomp: "IPComp is not supported by ipsec-wasm",
};

const START_ACTIONS: Record<string, "none" | "trap" | "start"> = {
  none: "none",
  clear: "none",
  trap: "trap",
  route: "trap",
  start: "start",
  restart: "start",
};
const DPD_ACTIONS: Record<string, "clear" | "trap" | "restart"> = {
  clear: "clear",
  none: "clear",
  trap: "trap",
  route: "trap",
  restart: "restart",
  start: "restart",
};

function parseConnection(sec: Section, file?: string): ConnectionConfig {
  checkKeys(sec, CONN_KEYS, file, CONN_REASONS);
  const get = (key: string): { text: string; where: ConfigWhere } | undefined => {
    const s = sec.keys.get(key);
    return s ? { text: s.value, where: whereOf(sec, key, s, file) } : undefined;
  };
  const version = get("version");
  let v: 0 | 2 = 0;
  if (version) {
    const n = parseUint(version.text, version.where, 2);
    if (n === 1)
      throw badValue(
        `IKEv1 is not supported by ipsec-wasm${describeWhere(version.where)}; use version = 2 (or leave it out)`,
        version.where,
      );
    v = n as 0 | 2;
  }
  const rejectIf = (key: string, bad: (text: string, w: ConfigWhere) => boolean, why: string): void => {
    const s = get(key);
    if (s && bad(s.text, s.where)) throw badValue(`${why}${describeWhere(s.where)}`, s.where);
  };
  rejectIf(
    "mobike",
    (t, w) => parseBool(t, w),
    "MOBIKE is not supported by ipsec-wasm; set mobike = no (the peer then keeps its addresses fixed)",
  );
  rejectIf(
    "reauth_time",
    (t, w) => parseDuration(t, w) > 0,
    "IKE reauthentication is not supported by ipsec-wasm; use rekey_time (IKE SA rekeying) instead",
  );
  for (const key of ["if_id_in", "if_id_out"]) {
    // XFRM interface ids mean nothing to a userspace dataplane: checked, then ignored, so configs load unchanged
    const s = get(key);
    if (s && !/^%unique(-dir)?$/.test(s.text.trim())) parseUint(s.text, s.where);
  }
  const port = (key: string): number => {
    const s = get(key);
    if (!s) return 500;
    const p = parseUint(s.text, s.where, 65535);
    if (p === 0)
      throw badValue(`port 0${describeWhere(s.where)} is not usable; IKE uses 500 (and 4500 after NAT-T)`, s.where);
    return p;
  };
  const proposalsSetting = get("proposals");
  const proposalsText = proposalsSetting?.text ?? "default";
  const proposals = proposalsSetting
    ? parseProposals(proposalsSetting.text, "IKE", proposalsSetting.where)
    : defaultProposals("IKE");
  const time = (key: string): number | undefined => {
    const s = get(key);
    return s ? parseDuration(s.text, s.where) : undefined;
  };
  // vici_config.c: rekey_time defaults to 4h unless reauth_time is set (even to 0: charon then
  // does not rekey at all), over_time = 10% of rekey_time, rand_time = min(over_time, rekey_time / 2)
  const rekeyTime = time("rekey_time") ?? (get("reauth_time") ? 0 : 4 * 3600);
  const overTime = time("over_time") ?? Math.floor(rekeyTime / 10);
  const randTime = time("rand_time") ?? Math.min(overTime, Math.floor(rekeyTime / 2));
  const bool = (key: string, dflt: boolean): boolean => {
    const s = get(key);
    return s ? parseBool(s.text, s.where) : dflt;
  };
  const choice = <T extends string>(key: string, map: Record<string, T>, dflt: T): T => {
    const s = get(key);
    return s ? parseChoice(s.text, map, s.where) : dflt;
  };
  const rounds = { local: [] as Section[], remote: [] as Section[] };
  let children: ChildConfig[] = [];
  for (const sub of sec.sections.values()) {
    if (sub.name.startsWith("local")) rounds.local.push(sub);
    else if (sub.name.startsWith("remote")) rounds.remote.push(sub);
    else if (sub.name === "children") {
      checkKeys(sub, [], file);
      children = [...sub.sections.values()].map((c) => parseChild(c, file));
    } else throw unknownSection(sub, "local, remote (optionally with a suffix such as local-1), children", file);
  }
  const keys = sec.keys;
  const addrs = (key: string): string[] => (keys.has(key) ? list(keys.get(key)!.value) : ["%any"]);
  const local = authRound(rounds.local, "local", sec, file);
  const remote = authRound(rounds.remote, "remote", sec, file);
  checkEapRoles(sec, local, remote, file);
  return {
    name: sec.name,
    version: v,
    localAddrs: addrs("local_addrs"),
    remoteAddrs: addrs("remote_addrs"),
    localPort: port("local_port"),
    remotePort: port("remote_port"),
    proposals,
    proposalsText,
    encap: bool("encap", false),
    dpdDelay: time("dpd_delay") ?? 0,
    dpdTimeout: time("dpd_timeout") ?? 0,
    rekeyTime,
    overTime,
    randTime,
    fragmentation: choice("fragmentation", { yes: "yes", no: "no", accept: "accept", force: "force" } as const, "yes"),
    keyingtries: get("keyingtries") ? parseUint(get("keyingtries")!.text, get("keyingtries")!.where) : 1,
    unique: choice("unique", { never: "never", no: "no", keep: "keep", replace: "replace" } as const, "no"),
    sendCertreq: bool("send_certreq", true),
    sendCert: choice("send_cert", { always: "always", never: "never", ifasked: "ifasked" } as const, "ifasked"),
    local,
    remote,
    children,
    vips: vipsOf(get("vips")),
    pools: get("pools") ? list(get("pools")!.text) : [],
  };
}

/** `vips = 0.0.0.0, ::`: each an address (0.0.0.0 and :: ask for any address of the family). */
function vipsOf(s: { text: string; where: ConfigWhere } | undefined): string[] {
  if (!s) return [];
  return list(s.text).map((v) => {
    if (!parseIp(v))
      throw badValue(
        `'${v}'${describeWhere(s.where)} is not an address; use 0.0.0.0 (or ::) to ask for any virtual IP, or the address you want`,
        s.where,
      );
    return v;
  });
}

/**
 * EAP runs one way (RFC 7296 §2.16): the client (local eap) against a gateway that signs with its
 * certificate (remote pubkey), or the gateway (remote eap) that signs (local pubkey).
 */
function checkEapRoles(sec: Section, local: AuthRound, remote: AuthRound, file?: string): void {
  const bad = (msg: string): ConfigError =>
    new ConfigError("BAD_VALUE", `connection '${sec.name}' (line ${sec.line}${file ? ` of ${file}` : ""}): ${msg}`, {
      line: sec.line,
      file,
    });
  if (local.auth === "eap-mschapv2" && remote.auth !== "pubkey")
    throw bad(
      "local auth = eap-mschapv2 needs remote auth = pubkey: an EAP client authenticates the gateway by its certificate",
    );
  if (remote.auth === "eap-mschapv2" && local.auth !== "pubkey")
    throw bad("remote auth = eap-mschapv2 needs local auth = pubkey: the gateway proves itself with its certificate");
}

function authRound(secs: Section[], side: "local" | "remote", conn: Section, file?: string): AuthRound {
  if (secs.length > 1) {
    throw new ConfigError(
      "BAD_VALUE",
      `connection '${conn.name}' has ${secs.length} ${side} authentication rounds (${secs.map((s) => `${s.name} at line ${s.line}`).join(", ")}); ` +
        "ipsec-wasm supports one round (no RFC 4739 multiple authentication)",
      { line: secs[1]!.line, file },
    );
  }
  const round: AuthRound = { auth: "pubkey", certs: [], cacerts: [] };
  const sec = secs[0];
  if (!sec) return round;
  for (const s of sec.sections.values())
    throw unknownSection(s, "none (certificates are listed with certs = ...)", file);
  checkKeys(sec, AUTH_KEYS, file);
  for (const [key, s] of sec.keys) {
    const where = whereOf(sec, key, s, file);
    if (key === "auth") {
      const a = s.value.trim();
      if (a === "psk") round.auth = "psk";
      else if (a === "pubkey" || a === "rsa" || a === "ecdsa") round.auth = "pubkey";
      else if (a === "eap-mschapv2") round.auth = "eap-mschapv2";
      else if (/^(pubkey|rsa|ecdsa|ike:)/.test(a))
        throw badValue(
          `signature constraints ('${a}') are not supported by ipsec-wasm yet${describeWhere(where)}; use auth = pubkey`,
          where,
        );
      else if (/^eap/.test(a))
        throw badValue(
          `EAP method '${a}' is not supported by ipsec-wasm${describeWhere(where)}; the EAP method supported is eap-mschapv2`,
          where,
        );
      else if (/^xauth/.test(a))
        throw badValue(
          `XAuth authentication is not supported by ipsec-wasm (it is IKEv1)${describeWhere(where)}; use psk, pubkey or eap-mschapv2`,
          where,
        );
      else
        throw badValue(
          `'${a}'${describeWhere(where)} is not an authentication method; use psk, pubkey or eap-mschapv2`,
          where,
        );
    } else if (key === "id") {
      if (s.value.trim() !== "") round.id = s.value.trim();
    } else if (key === "eap_id") {
      if (s.value.trim() !== "") round.eapId = s.value.trim();
    } else if (key === "certs") round.certs = list(s.value);
    else if (key === "cacerts") round.cacerts = list(s.value);
  }
  const eapId = sec.keys.get("eap_id");
  if (eapId && round.auth !== "eap-mschapv2") {
    const where = whereOf(sec, "eap_id", eapId, file);
    throw badValue(`eap_id${describeWhere(where)} needs auth = eap-mschapv2 in the same section`, where);
  }
  return round;
}

function parseChild(sec: Section, file: string | undefined): ChildConfig {
  for (const s of sec.sections.values()) throw unknownSection(s, "none", file);
  checkKeys(sec, CHILD_KEYS, file, CHILD_REASONS);
  const get = (key: string): { text: string; where: ConfigWhere } | undefined => {
    const s = sec.keys.get(key);
    return s ? { text: s.value, where: whereOf(sec, key, s, file) } : undefined;
  };
  const ts = (key: string): (TrafficSelector | "dynamic")[] => {
    const s = get(key);
    return s ? parseTs(s.text, s.where) : ["dynamic"];
  };
  const esp = get("esp_proposals");
  const num = (key: string, parse: (t: string, w: ConfigWhere) => number): number | undefined => {
    const s = get(key);
    return s ? parse(s.text, s.where) : undefined;
  };
  const uint64 = (t: string, w: ConfigWhere): number => parseUint(t, w, Number.MAX_SAFE_INTEGER);
  // vici_config.c check_lifetimes(): life = rekey + 10%, rand = life - rekey
  const lifetime = (
    rekeyKey: string,
    lifeKey: string,
    randKey: string,
    parse: (t: string, w: ConfigWhere) => number,
    rekeyDefault: number,
  ) => {
    const rekey = num(rekeyKey, parse) ?? rekeyDefault;
    const life = num(lifeKey, parse) ?? Math.floor((rekey * 110) / 100);
    const rand = num(randKey, parse) ?? life - Math.min(life, rekey);
    return { rekey, life, rand };
  };
  const t = lifetime("rekey_time", "life_time", "rand_time", parseDuration, 3600);
  const b = lifetime("rekey_bytes", "life_bytes", "rand_bytes", parseSize, 0);
  const p = lifetime("rekey_packets", "life_packets", "rand_packets", uint64, 0);
  const choice = <T extends string>(key: string, map: Record<string, T>, dflt: T): T => {
    const s = get(key);
    return s ? parseChoice(s.text, map, s.where) : dflt;
  };
  const mode = get("mode");
  if (mode && !["tunnel", "transport"].includes(mode.text.trim().toLowerCase())) {
    throw badValue(
      `mode '${mode.text}'${describeWhere(mode.where)} is not supported by ipsec-wasm; use tunnel or transport`,
      mode.where,
    );
  }
  const bool = (key: string, dflt: boolean): boolean => {
    const s = get(key);
    return s ? parseBool(s.text, s.where) : dflt;
  };
  const child: ChildConfig = {
    name: sec.name,
    localTs: ts("local_ts"),
    remoteTs: ts("remote_ts"),
    espProposals: esp ? parseProposals(esp.text, "ESP", esp.where) : defaultProposals("ESP", { omitted: true }),
    espProposalsText: esp?.text ?? "default",
    mode: (mode?.text.trim().toLowerCase() ?? "tunnel") as "tunnel" | "transport",
    startAction: choice("start_action", START_ACTIONS, "none"),
    closeAction: choice("close_action", START_ACTIONS, "none"),
    dpdAction: choice("dpd_action", DPD_ACTIONS, "clear"),
    rekeyTime: t.rekey,
    lifeTime: t.life,
    randTime: t.rand,
    rekeyBytes: b.rekey,
    lifeBytes: b.life,
    randBytes: b.rand,
    rekeyPackets: p.rekey,
    lifePackets: p.life,
    randPackets: p.rand,
    replayWindow: num("replay_window", (x, w) => parseUint(x, w)) ?? 32,
    hostaccess: bool("hostaccess", false),
    policies: bool("policies", true),
  };
  const tfc = get("tfc_padding");
  if (tfc && tfc.text.trim().toLowerCase() === "mtu") child.tfcPadding = "mtu";
  else {
    const n = num("tfc_padding", (x, w) => parseUint(x, w, 65535));
    if (n) child.tfcPadding = n;
  }
  const updown = get("updown");
  if (updown && updown.text.trim() !== "") child.updown = updown.text.trim();
  return child;
}

/** Parses a swanctl.conf text. `file` is only used in error messages. */
export function parseSwanctlConf(text: string, file?: string): SwanctlConfig {
  const root = parseSettings(text, file);
  const out: SwanctlConfig = { connections: [], ikeSecrets: [], eapSecrets: [], privateKeys: [], pools: [] };
  for (const [key, s] of root.keys) {
    throw new ConfigError(
      "UNKNOWN_KEYWORD",
      `setting '${key}' outside any section (line ${s.line}); swanctl.conf settings live in connections { } or secrets { }`,
      { line: s.line, file },
    );
  }
  for (const sec of root.sections.values()) {
    if (sec.name === "connections") {
      for (const [key, s] of sec.keys) {
        throw new ConfigError(
          "UNKNOWN_KEYWORD",
          `setting '${key}' directly in connections (line ${s.line}) belongs into a connection section`,
          { line: s.line, file },
        );
      }
      for (const conn of sec.sections.values()) out.connections.push(parseConnection(conn, file));
    } else if (sec.name === "secrets") {
      parseSecrets(sec, file, out);
    } else if (sec.name === "pools") {
      parsePools(sec, file, out);
    } else if (sec.name === "ipsec-wasm") {
      out.ipsecWasm = parseIpsecWasm(sec, file);
    } else if (sec.name === "authorities") {
      throw new ConfigError(
        "UNKNOWN_KEYWORD",
        `the ${sec.name} section (line ${sec.line}) is not supported by ipsec-wasm yet; supported: connections, secrets, pools`,
        { line: sec.line, file },
      );
    } else {
      throw unknownSection(sec, "connections, secrets, pools, ipsec-wasm", file);
    }
  }
  checkPoolNames(root, out, file);
  return out;
}

const POOL_REASONS: Record<string, string> = Object.fromEntries(
  ["nbns", "dhcp", "netmask", "server", "subnet", "split_include", "split_exclude"].map((k) => [
    k,
    `pool attribute '${k}' is not supported by ipsec-wasm yet (supported: addrs, dns)`,
  ]),
);

/** `pools { name { addrs = ..., dns = ... } }`; addrs checked here, so its line is in the error. */
function parsePools(sec: Section, file: string | undefined, out: SwanctlConfig): void {
  checkKeys(sec, [], file);
  for (const sub of sec.sections.values()) {
    for (const s of sub.sections.values()) throw unknownSection(s, "none", file);
    checkKeys(sub, ["addrs", "dns"], file, POOL_REASONS);
    const addrs = sub.keys.get("addrs");
    if (!addrs || addrs.value.trim() === "")
      throw new ConfigError("MISSING", `pool '${sub.name}' (line ${sub.line}) has no addrs = <subnet or range>`, {
        line: sub.line,
        file,
      });
    const dns = sub.keys.get("dns");
    const cfg: VipPoolConfig = { name: sub.name, addrs: addrs.value.trim(), dns: dns ? list(dns.value) : [] };
    try {
      new VipPool(cfg);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const bad = dns && /dns =/.test(e.message) ? dns : addrs;
      const where = whereOf(sub, bad === dns ? "dns" : "addrs", bad, file);
      throw new ConfigError("BAD_VALUE", `${e.message}${describeWhere(where)}`, where);
    }
    out.pools.push(cfg);
  }
}

/** Every `pools = a, b` of a connection must name a pool of the pools section. */
function checkPoolNames(root: Section, out: SwanctlConfig, file?: string): void {
  const defined = out.pools.map((p) => p.name);
  for (const c of out.connections) {
    const missing = c.pools.filter((n) => !defined.includes(n));
    if (missing.length === 0) continue;
    const s = root.sections.get("connections")?.sections.get(c.name)?.keys.get("pools");
    const where: ConfigWhere = { key: `connections.${c.name}.pools`, line: s?.line, file };
    throw new ConfigError(
      "BAD_VALUE",
      `pool${missing.length > 1 ? "s" : ""} '${missing.join("', '")}'${describeWhere(where)} not defined; ${defined.length ? `defined pools: ${defined.join(", ")}` : "the file has no pools section"}`,
      where,
    );
  }
}

/** Our `ipsec-wasm { }` section; the TUN name itself is checked where the TUN is made. */
function parseIpsecWasm(sec: Section, file: string | undefined): IpsecWasmSettings {
  for (const s of sec.sections.values()) throw unknownSection(s, "none", file);
  checkKeys(sec, ["tun", "mtu_path", "io", "workers"], file);
  const out: IpsecWasmSettings = {};
  const tun = sec.keys.get("tun");
  if (tun) out.tun = tun.value.trim();
  const mtu = sec.keys.get("mtu_path");
  if (mtu) {
    const where = whereOf(sec, "mtu_path", mtu, file);
    const n = parseUint(mtu.value, where, 65535);
    if (n < 576) throw badValue(`mtu_path${describeWhere(where)} must be 576 to 65535, got ${n}`, where);
    out.mtuPath = n;
  }
  const io = sec.keys.get("io");
  if (io) out.io = parseChoice(io.value, { mmsg: "mmsg", dgram: "dgram" } as const, whereOf(sec, "io", io, file));
  const workers = sec.keys.get("workers");
  if (workers) {
    const where = whereOf(sec, "workers", workers, file);
    out.workers = parseChoice(workers.value, { "1": "1", "2": "2" } as const, where) === "1" ? 1 : 2;
  }
  return out;
}
