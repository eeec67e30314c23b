/**
 * swanctl.conf's `secrets` section (IKE pre-shared keys, EAP passwords, private key files) and the
 * pre-shared key lookup by identities, as strongSwan's credential manager scores them.
 * @module
 */
import { parseIp } from "../net/ip.ts";
import { ConfigError, describeWhere, type ConfigWhere } from "../ike/config-error.ts";
import { badValue, checkKeys, unknownSection, whereOf, type Section } from "./settings.ts";

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

/** The `secrets` section, into `out`. */
export function parseSecrets(
  sec: Section,
  file: string | undefined,
  out: { ikeSecrets: IkeSecret[]; eapSecrets: EapSecretConfig[]; privateKeys: PrivateKeyRef[] },
): void {
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
  cfg: { ikeSecrets: IkeSecret[] },
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
