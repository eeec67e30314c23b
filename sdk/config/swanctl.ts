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

/** `secrets { ike-NAME { id = ..., id-2 = ..., secret = ... } }`; no ids = any identity. */
export interface IkeSecret {
  ids: string[];
  secret: Uint8Array;
}

/** `secrets { eap-NAME { id = ..., id-2 = ..., secret = ... } }`: an EAP password (UTF-8) of identities; no ids = any. */
export interface EapSecretConfig {
  ids: string[];
  secret: Uint8Array;
}

/** A private key file and its passphrase (`secrets { private-x { file = ..., secret = ... } }`). */
export interface PrivateKeyRef {
  kind: "private" | "rsa" | "ecdsa";
  file: string;
  secret?: string;
}

/** Everything ipsec-wasm takes from a swanctl.conf. */
export interface SwanctlConfig {
  connections: ConnectionConfig[];
  ikeSecrets: IkeSecret[];
  eapSecrets: EapSecretConfig[];
  privateKeys: PrivateKeyRef[];
  /** `pools { name { addrs, dns } }`. */
  pools: VipPoolConfig[];
}

// ------------------------------------------------------------------ settings syntax

interface Setting {
  value: string;
  line: number;
}
interface Section {
  name: string;
  path: string;
  line: number;
  keys: Map<string, Setting>;
  sections: Map<string, Section>;
}

type Token =
  | { kind: "name"; text: string; line: number }
  | { kind: "value"; text: string; line: number }
  | { kind: "{" | "}" | "=" | "nl" | "eof"; line: number };

/** Splits settings syntax into tokens the way strongSwan's settings_lexer.l does. */
function tokenize(text: string, file?: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const err = (msg: string, at = line): ConfigError =>
    new ConfigError("SYNTAX", `${msg} (line ${at}${file ? ` of ${file}` : ""})`, { line: at, file });
  const isSpace = (c: string): boolean => c === " " || c === "\t" || c === "\r";
  while (i < text.length) {
    const c = text.charAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < text.length && text.charAt(i) !== "\n") i++;
      continue;
    }
    if (c === "\n") {
      out.push({ kind: "nl", line });
      line++;
      i++;
      continue;
    }
    if (c === "{" || c === "}") {
      out.push({ kind: c, line });
      i++;
      continue;
    }
    if (c === '"') throw err("a quoted string can only be a value, after '='");
    if (c === "=") {
      out.push({ kind: "=", line });
      i++;
      // value: words and "strings" up to the end of the line, '#' or '}', joined by one space
      const parts: string[] = [];
      const start = line;
      while (i < text.length) {
        const v = text.charAt(i);
        if (isSpace(v)) {
          i++;
          continue;
        }
        if (v === "\n" || v === "#" || v === "}") break;
        if (v === '"') {
          const open = line;
          let s = "";
          i++;
          for (;;) {
            if (i >= text.length) throw err("unterminated quoted string", open);
            const q = text.charAt(i);
            if (q === '"') {
              i++;
              break;
            }
            if (q === "\r") {
              i++;
              continue;
            }
            if (q === "\\") {
              const n = text[i + 1];
              if (n === undefined) throw err("unterminated quoted string", open);
              if (n === "n") s += "\n";
              else if (n === "r") s += "\r";
              else if (n === "t") s += "\t";
              else if (n === "\n")
                line++; // an escaped line end joins the lines
              else if (n === "\r" && text[i + 2] === "\n") {
                line++;
                i++;
              } else s += n;
              i += 2;
              continue;
            }
            if (q === "\n") line++;
            s += q;
            i++;
          }
          parts.push(s);
          continue;
        }
        let w = "";
        while (i < text.length && !'#}"\r\n\t '.includes(text.charAt(i))) w += text.charAt(i++);
        parts.push(w);
      }
      out.push({ kind: "value", text: parts.join(" "), line: start });
      continue;
    }
    let w = "";
    while (i < text.length && !'#{}="\r\n\t '.includes(text.charAt(i))) w += text.charAt(i++);
    if (w === "include") {
      let j = i;
      while (text.charAt(j) === " " || text.charAt(j) === "\t") j++;
      if (j > i && text.charAt(j) !== "=" && text.charAt(j) !== "\n" && j < text.length) {
        throw err("'include' statements are not supported by ipsec-wasm; put the included settings into this file");
      }
    }
    out.push({ kind: "name", text: w, line });
  }
  out.push({ kind: "eof", line });
  return out;
}

/** Builds the section tree; repeated sections merge and a repeated key keeps its last value, as in strongSwan. */
function parseSettings(text: string, file?: string): Section {
  const tokens = tokenize(text, file);
  let pos = 0;
  const err = (msg: string, line: number): ConfigError =>
    new ConfigError("SYNTAX", `${msg} (line ${line}${file ? ` of ${file}` : ""})`, { line, file });
  const root: Section = { name: "", path: "", line: 0, keys: new Map(), sections: new Map() };
  const eof = tokens[tokens.length - 1]!; // tokenize always ends with an eof token
  const body = (sec: Section, opener?: number): void => {
    for (;;) {
      const t = tokens[pos++] ?? eof;
      if (t.kind === "nl") continue;
      if (t.kind === "eof") {
        if (opener !== undefined)
          throw err(`section '${sec.path}' opened at line ${opener} is missing its closing '}'`, t.line);
        return;
      }
      if (t.kind === "}") {
        if (opener === undefined) throw err("'}' without a section to close", t.line);
        return;
      }
      if (t.kind !== "name")
        throw err(`expected a setting name or section name, found '${t.kind === "value" ? t.text : t.kind}'`, t.line);
      let n = tokens[pos] ?? eof;
      if (n.kind === "=") {
        pos++;
        const v = tokens[pos] ?? eof;
        const value = v.kind === "value" ? (pos++, v.text) : "";
        sec.keys.set(t.text, { value, line: t.line });
        continue;
      }
      let p = pos;
      while (tokens[p]?.kind === "nl") p++;
      n = tokens[p] ?? eof;
      if (n.kind !== "{") throw err(`expected '=' or '{' after '${t.text}'`, t.line);
      pos = p + 1;
      const path = sec.path ? `${sec.path}.${t.text}` : t.text;
      const child = sec.sections.get(t.text) ?? {
        name: t.text,
        path,
        line: t.line,
        keys: new Map(),
        sections: new Map(),
      };
      sec.sections.set(t.text, child);
      body(child, n.line);
    }
  };
  body(root);
  return root;
}

// ------------------------------------------------------------------ values

const whereOf = (sec: Section, key: string, s: Setting, file?: string): ConfigWhere => ({
  key: sec.path ? `${sec.path}.${key}` : key,
  line: s.line,
  file,
});

function badValue(msg: string, where: ConfigWhere): ConfigError {
  return new ConfigError("BAD_VALUE", msg, where);
}

/** Seconds from a swanctl time value: "3600", "30m", "1h", "1d", "10s" (charon's parse_time). */
export function parseDuration(text: string, where?: ConfigWhere): number {
  const m = /^([0-9]+) *([dhms]?)$/i.exec(text.trim());
  if (!m)
    throw badValue(
      `'${text}'${describeWhere(where)} is not a time; write seconds or a number with s, m, h or d, e.g. 30m`,
      where ?? { key: "time" },
    );
  const unit: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };
  return Number(m[1]) * unit[(m[2] ?? "").toLowerCase()]!; // the pattern admits only these units
}

/** Bytes from a swanctl volume value: "1G", "500M", "100k", "1048576" (binary units, charon's parse_bytes). */
export function parseSize(text: string, where?: ConfigWhere): number {
  const m = /^([0-9]+) *([kmg]?)$/i.exec(text.trim());
  if (!m)
    throw badValue(
      `'${text}'${describeWhere(where)} is not a byte count; write a number, optionally with k, M or G (powers of 1024)`,
      where ?? { key: "size" },
    );
  const unit: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  const n = Number(m[1]) * unit[(m[2] ?? "").toLowerCase()]!; // the pattern admits only these units
  if (!Number.isSafeInteger(n))
    throw badValue(`'${text}'${describeWhere(where)} is too large`, where ?? { key: "size" });
  return n;
}

function parseUint(text: string, where: ConfigWhere, max = 0xffffffff): number {
  if (!/^[0-9]+$/.test(text.trim()) || Number(text) > max)
    throw badValue(`'${text}'${describeWhere(where)} is not a whole number from 0 to ${max}`, where);
  return Number(text);
}

const BOOLS: Record<string, boolean> = {
  yes: true,
  true: true,
  enabled: true,
  "1": true,
  no: false,
  false: false,
  disabled: false,
  "0": false,
};
function parseBool(text: string, where: ConfigWhere): boolean {
  const b = BOOLS[text.trim().toLowerCase()];
  if (b === undefined) throw badValue(`'${text}'${describeWhere(where)} is not yes or no`, where);
  return b;
}

function parseChoice<T extends string>(text: string, map: Record<string, T>, where: ConfigWhere): T {
  const v = map[text.trim().toLowerCase()];
  if (v === undefined) {
    const known = [...new Set(Object.keys(map))].join(", ");
    throw badValue(`'${text}'${describeWhere(where)} is not one of ${known}`, where);
  }
  return v;
}

const list = (text: string): string[] =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

// ------------------------------------------------------------------ sections

/** Rejects keys of `sec` that are not in `known`, and subsections that `sections` does not accept. */
function checkKeys(
  sec: Section,
  known: string[],
  file: string | undefined,
  reasons: Record<string, string> = {},
): void {
  for (const [key, s] of sec.keys) {
    if (known.includes(key)) continue;
    const where = whereOf(sec, key, s, file);
    if (reasons[key]) throw new ConfigError("UNKNOWN_KEYWORD", `${reasons[key]}${describeWhere(where)}`, where);
    const tail = known.length ? `; known: ${known.join(", ")}` : ": only sections belong here";
    throw new ConfigError(
      "UNKNOWN_KEYWORD",
      `unknown setting '${key}'${describeWhere({ ...where, key: sec.path })}${tail}`,
      where,
    );
  }
}

function unknownSection(sec: Section, known: string, file?: string): ConfigError {
  return new ConfigError(
    "UNKNOWN_KEYWORD",
    `unknown section '${sec.name}'${describeWhere({ key: sec.path, line: sec.line, file })}; known: ${known}`,
    { line: sec.line, file },
  );
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

// ------------------------------------------------------------------ secrets

function decodeSecret(text: string, where: ConfigWhere): Uint8Array {
  const v = text.trim();
  if (/^0x/i.test(v)) {
    const hex = v.slice(2);
    if (!/^([0-9a-fA-F]{2})+$/.test(hex))
      throw badValue(`secret${describeWhere(where)} starts with 0x but is not an even number of hex digits`, where);
    return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  }
  if (/^0s/i.test(v)) {
    const b64 = v.slice(2);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0)
      throw badValue(`secret${describeWhere(where)} starts with 0s but is not valid base64`, where);
    const bin = atob(b64);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  return new TextEncoder().encode(text);
}

function parseSecrets(sec: Section, file: string | undefined, out: SwanctlConfig): void {
  for (const [key, s] of sec.keys) {
    throw new ConfigError(
      "UNKNOWN_KEYWORD",
      `setting '${key}' directly in secrets (line ${s.line}) belongs into a section such as ike-NAME { }`,
      { line: s.line, file },
    );
  }
  for (const sub of sec.sections.values()) {
    const kind = /^(ike|private|rsa|ecdsa|eap|xauth|ntlm|ppk|pkcs8|pkcs12|token)/.exec(sub.name)?.[1];
    for (const s of sub.sections.values()) throw unknownSection(s, "none", file);
    if (kind === "ike" || kind === "eap") {
      // id, id-1, id-alice...: every key starting with "id" names an owner (as swanctl's load_creds does)
      const idKeys = [...sub.keys.keys()].filter((k) => k.startsWith("id"));
      checkKeys(sub, ["secret", ...idKeys], file);
      const secret = sub.keys.get("secret");
      if (!secret)
        throw new ConfigError(
          "MISSING",
          `${kind === "ike" ? "IKE" : "EAP"} secret '${sub.name}' (line ${sub.line}) has no secret = ...`,
          { line: sub.line, file },
        );
      const ids = idKeys.map((k) => sub.keys.get(k)!.value.trim()).filter((id) => id !== "");
      const entry = { ids, secret: decodeSecret(secret.value, whereOf(sub, "secret", secret, file)) };
      if (kind === "ike") out.ikeSecrets.push(entry);
      else out.eapSecrets.push(entry);
    } else if (kind === "private" || kind === "rsa" || kind === "ecdsa") {
      checkKeys(sub, ["file", "secret"], file);
      const f = sub.keys.get("file");
      if (!f || f.value.trim() === "")
        throw new ConfigError("MISSING", `private key secret '${sub.name}' (line ${sub.line}) has no file = ...`, {
          line: sub.line,
          file,
        });
      const ref: PrivateKeyRef = { kind, file: f.value.trim() };
      const s = sub.keys.get("secret");
      if (s) ref.secret = s.value;
      out.privateKeys.push(ref);
    } else if (kind) {
      throw new ConfigError(
        "UNKNOWN_KEYWORD",
        `${kind} secrets ('${sub.name}' at line ${sub.line}) are not supported by ipsec-wasm yet; supported: ike, eap, private, rsa, ecdsa`,
        { line: sub.line, file },
      );
    } else {
      throw unknownSection(sub, "ike<suffix>, eap<suffix>, private<suffix>, rsa<suffix>, ecdsa<suffix>", file);
    }
  }
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
    } else if (sec.name === "authorities") {
      throw new ConfigError(
        "UNKNOWN_KEYWORD",
        `the ${sec.name} section (line ${sec.line}) is not supported by ipsec-wasm yet; supported: connections, secrets, pools`,
        { line: sec.line, file },
      );
    } else {
      throw unknownSection(sec, "connections, secrets, pools", file);
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

// ------------------------------------------------------------------ secret lookup

// identification.c match levels
const MATCH_NONE = 0,
  MATCH_ANY = 1,
  MATCH_ONE_WILDCARD = 19,
  MATCH_PERFECT = 20;

type Ident = { type: "any" | "ip" | "fqdn" | "email" | "dn" | "other"; value: string; ip?: Uint8Array };

/** Classifies an identity string as strongSwan's identification_create_from_string does. */
function ident(text: string): Ident {
  const t = text.trim();
  if (t === "" || t === "%any" || t === "%any6") return { type: "any", value: "" };
  const prefixed = /^(ipv4|ipv6|fqdn|dns|email|rfc822|userfqdn|asn1dn|asn1gn|keyid|\{\d+\}):(.*)$/.exec(t);
  if (prefixed) {
    const [, kind, rest = ""] = prefixed;
    if (kind === "fqdn" || kind === "dns") return { type: "fqdn", value: rest };
    if (kind === "email" || kind === "rfc822" || kind === "userfqdn") return { type: "email", value: rest };
    return { type: "other", value: t };
  }
  const ip = parseIp(t);
  if (ip) return { type: "ip", value: t, ip };
  if (t.includes("=")) return { type: "dn", value: t.replace(/\s*,\s*/g, ", ") };
  if (t.startsWith("@@")) return { type: "email", value: t.slice(2) };
  if (t.startsWith("@")) return { type: "fqdn", value: t.slice(1) };
  if (t.includes("@")) return { type: "email", value: t };
  return { type: "fqdn", value: t };
}

/** How well identity `id` matches the pattern `pattern` (identification_t.matches). */
function idMatch(id: Ident, pattern: Ident): number {
  if (pattern.type === "any") return MATCH_ANY;
  if (id.type !== pattern.type) return MATCH_NONE;
  if (id.type === "ip")
    return id.ip!.length === pattern.ip!.length && id.ip!.every((b, i) => b === pattern.ip![i])
      ? MATCH_PERFECT
      : MATCH_NONE;
  const a = id.value.toLowerCase();
  const p = pattern.value.toLowerCase();
  if (a === p) return MATCH_PERFECT;
  if ((id.type === "fqdn" || id.type === "email") && p.startsWith("*")) {
    if (p === "*") return MATCH_ANY;
    if (a.length >= p.length - 1 && a.endsWith(p.slice(1))) return MATCH_ONE_WILDCARD;
  }
  return MATCH_NONE;
}

/**
 * The IKE pre-shared key for a pair of identities, chosen as strongSwan's credential manager does:
 * each secret scores the best match of its ids against our id plus the best against the peer's
 * (perfect 20, leading-wildcard 19, %any 1); a secret without ids belongs to %any; the highest
 * score wins, the first one on ties; a secret matching neither id is never used.
 */
export function findSecret(
  cfg: SwanctlConfig,
  localId: string | undefined,
  remoteId: string | undefined,
): Uint8Array | undefined {
  const me = localId === undefined ? undefined : ident(localId);
  const other = remoteId === undefined ? undefined : ident(remoteId);
  let best = MATCH_NONE;
  let found: Uint8Array | undefined;
  for (const s of cfg.ikeSecrets) {
    const owners = (s.ids.length ? s.ids : ["%any"]).map(ident);
    const score = (id: Ident | undefined): number => (id ? Math.max(...owners.map((o) => idMatch(id, o))) : MATCH_NONE);
    const my = score(me);
    const theirs = score(other);
    if ((me || other) && my === MATCH_NONE && theirs === MATCH_NONE) continue;
    if (my + theirs > best) {
      best = my + theirs;
      found = s.secret;
    }
  }
  return found;
}
