/**
 * IKE and ESP algorithm proposals in strongSwan's language: proposal keywords in
 * ("aes128gcm16-prfsha256-x25519"), charon's log notation out ("IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519"),
 * and RFC 7296 §2.7 selection with strongSwan's rules (configured order preferred, DH "NONE" means
 * no PFS, AEAD proposals carry no integrity algorithm).
 * @module
 */
import { ProtocolId, TransformType, type Proposal, type Transform } from "./message.ts";
import { ConfigError, describeWhere, type ConfigWhere } from "./config-error.ts";
import { parseSuite } from "../dataplane/suites.ts";
import { CIPHERS, INTEGS, cipherByIana, integByIana, type CipherRow } from "../dataplane/suite-registry.ts";
import { protocolName, transformName as charonName } from "./names.ts";
import { ENCR as SK_ENCR } from "./sk.ts";

// IANA "IKEv2 Transform Type" registries (the ids this module names), plus strongSwan's private
// HMAC-SHA-256-96 (1026) that its `sha256_96` keyword puts on the wire.
/** Encryption transform ids (IANA Transform Type 1). */
export const Encr = {
  NULL: 11,
  AES_CBC: 12,
  AES_CTR: 13,
  AES_CCM_8: 14,
  AES_CCM_12: 15,
  AES_CCM_16: 16,
  AES_GCM_8: 18,
  AES_GCM_12: 19,
  AES_GCM_16: 20,
  NULL_AUTH_AES_GMAC: 21,
  CHACHA20_POLY1305: 28,
} as const;
/** Integrity transform ids (IANA Transform Type 3); HMAC_SHA2_256_96 is strongSwan's private-use id. */
export const Integ = {
  NONE: 0,
  HMAC_SHA1_96: 2,
  HMAC_SHA2_256_128: 12,
  HMAC_SHA2_384_192: 13,
  HMAC_SHA2_512_256: 14,
  HMAC_SHA2_256_96: 1026,
} as const;
/** PRF transform ids (IANA Transform Type 2). */
export const Prf = { HMAC_SHA1: 2, HMAC_SHA2_256: 5, HMAC_SHA2_384: 6, HMAC_SHA2_512: 7 } as const;
/** Diffie-Hellman group ids (IANA Transform Type 4); NONE only in Child SA proposals (no PFS). */
export const DhGroup = {
  NONE: 0,
  MODP_2048: 14,
  MODP_3072: 15,
  MODP_4096: 16,
  ECP_256: 19,
  ECP_384: 20,
  ECP_521: 21,
  ECP_256_BP: 28,
  ECP_384_BP: 29,
  ECP_512_BP: 30,
  CURVE_25519: 31,
  CURVE_448: 32,
} as const;

/** One strongSwan proposal ("aes128gcm16-aes256gcm16-prfsha256-x25519"): alternatives per transform type. */
export interface AlgorithmSet {
  protocol: "IKE" | "ESP";
  /** AEAD and classic ciphers never share a set (strongSwan refuses such a proposal). */
  encr: { id: number; keyLength?: number }[];
  /** Empty for AEAD sets. */
  integ: number[];
  /** IKE only. Without prf keywords strongSwan derives them from the integrity algorithms. */
  prf: number[];
  /** IKE: at least one. ESP: PFS groups for CREATE_CHILD_SA, empty = no PFS, 0 = "none" also accepted. */
  dh: number[];
  /** ESP only: 0 = no ESN, 1 = ESN, in preference order ("-esn-noesn" gives [1, 0]); default [0]. */
  esn: number[];
}

/** Negotiated algorithms: exactly one of each present type. */
export interface Chosen {
  protocol: "IKE" | "ESP";
  proposalNum: number;
  /** The SPI in the chosen proposal: the peer's for selectProposal, the responder's for acceptChosen. */
  spi: Uint8Array;
  encr: { id: number; keyLength?: number };
  integ?: number;
  prf?: number;
  dh?: number;
  esn: boolean;
}

/** Result of a proposal selection, with charon-style lists for the log when nothing matched. */
export type Selection =
  | { ok: true; chosen: Chosen; proposal: Proposal }
  | { ok: false; explanation: string; received: string[]; configured: string[] };

// ------------------------------------------------------------------ keywords

type Kw = { type: number; id: number; keyLength?: number };
const E = TransformType.ENCR,
  I = TransformType.INTEG,
  P = TransformType.PRF,
  D = TransformType.DH,
  S = TransformType.ESN;

/** strongSwan's keywords (proposal_keywords_static.txt) for the algorithms ipsec-wasm implements. */
const KEYWORDS = new Map<string, Kw>();
const add = (names: string[], kw: Kw): void => names.forEach((n) => KEYWORDS.set(n, kw));
// encryption and integrity keywords come from the suite registry
for (const r of CIPHERS)
  add(
    [r.keyword, ...r.aliases],
    r.keyBits === undefined ? { type: E, id: r.iana } : { type: E, id: r.iana, keyLength: r.keyBits },
  );
for (const r of INTEGS) add([r.keyword, ...r.aliases], { type: I, id: r.iana });
add(["prfsha1"], { type: P, id: Prf.HMAC_SHA1 });
add(["prfsha256"], { type: P, id: Prf.HMAC_SHA2_256 });
add(["prfsha384"], { type: P, id: Prf.HMAC_SHA2_384 });
add(["prfsha512"], { type: P, id: Prf.HMAC_SHA2_512 });
add(["none", "modpnone"], { type: D, id: DhGroup.NONE });
add(["modp2048"], { type: D, id: DhGroup.MODP_2048 });
add(["modp3072"], { type: D, id: DhGroup.MODP_3072 });
add(["modp4096"], { type: D, id: DhGroup.MODP_4096 });
add(["ecp256"], { type: D, id: DhGroup.ECP_256 });
add(["ecp384"], { type: D, id: DhGroup.ECP_384 });
add(["ecp521"], { type: D, id: DhGroup.ECP_521 });
add(["ecp256bp"], { type: D, id: DhGroup.ECP_256_BP });
add(["ecp384bp"], { type: D, id: DhGroup.ECP_384_BP });
add(["ecp512bp"], { type: D, id: DhGroup.ECP_512_BP });
add(["x25519", "curve25519"], { type: D, id: DhGroup.CURVE_25519 });
add(["x448", "curve448"], { type: D, id: DhGroup.CURVE_448 });
add(["esn"], { type: S, id: 1 });
add(["noesn"], { type: S, id: 0 });

/** Ciphers that leave the payload in the clear: refused in IKE proposals (RFC 7296 §3.3.2). */
const encrypts = (r: CipherRow): boolean => r.family !== "null" && r.family !== "aes-gmac";
const KNOWN_ENCR = CIPHERS.filter((r) => r.family !== "null").map((r) => r.keyword);
const KNOWN_REST = [
  ...INTEGS.map((r) => r.keyword),
  "modp2048",
  "modp3072",
  "modp4096",
  "ecp256",
  "ecp384",
  "ecp521",
  "ecp256bp",
  "ecp384bp",
  "ecp512bp",
  "x25519",
  "x448",
];
const KNOWN = {
  IKE: [
    ...CIPHERS.filter(encrypts).map((r) => r.keyword),
    ...KNOWN_REST,
    "prfsha1",
    "prfsha256",
    "prfsha384",
    "prfsha512",
  ],
  ESP: ["null", ...KNOWN_ENCR, ...KNOWN_REST, "none", "esn", "noesn"],
};

/** The canonical keywords accepted for `protocol` (aliases such as `aes` or `sha` are accepted too). */
export function proposalKeywords(protocol: "IKE" | "ESP"): string[] {
  return [...KNOWN[protocol]];
}

/** The transform a single strongSwan keyword stands for ("aes128gcm16" -> ENCR 20/128), undefined if unknown. */
export function keywordTransform(word: string): Transform | undefined {
  const kw = KEYWORDS.get(word);
  if (!kw) return undefined;
  return kw.keyLength === undefined
    ? { type: kw.type, id: kw.id }
    : { type: kw.type, id: kw.id, keyLength: kw.keyLength };
}

/** Keywords strongSwan knows but ipsec-wasm does not implement (the message then says so). */
const STRONGSWAN_ONLY =
  /^(des|3des|cast128|blowfish\d*|camellia\d*(ctr|ccm\d+)?|serpent\d*|twofish\d*|aes\d*ccm\d*|chacha20poly1305compat|sha1_160|md5(_128)?|(prf)?(aesxcbc|aescmac|camelliaxcbc|md5)|modp(null|768|1024|1536|6144|8192|1024s160|2048s224|2048s256)|ecp(192|224|224bp)|ntru\d+|kyber\d|ntrup\d|ntrur3|saber\d|bike\d|frodo[as]\d|hqc\d|sike\d)$/;

// ------------------------------------------------------------------ parsing

/** PRF strongSwan derives from an integrity algorithm when an IKE proposal names no PRF. */
const INTEG_TO_PRF: Record<number, number> = {
  [Integ.HMAC_SHA1_96]: Prf.HMAC_SHA1,
  [Integ.HMAC_SHA2_256_128]: Prf.HMAC_SHA2_256,
  [Integ.HMAC_SHA2_384_192]: Prf.HMAC_SHA2_384,
  [Integ.HMAC_SHA2_512_256]: Prf.HMAC_SHA2_512,
};

// the registry's combined modes, plus the AES-CCM (14-16) and Camellia-CCM (25-27) ids ipsec-wasm may not run
const AEAD = new Set<number>([...CIPHERS.filter((r) => r.combined).map((r) => r.iana), 14, 15, 16, 25, 26, 27]);

/** Whether an encryption transform id is a combined-mode (AEAD) cipher. */
export function isAead(encrId: number): boolean {
  return AEAD.has(encrId);
}

// charon 5.9.8's `default` proposals (proposal_create_default/_default_aead with the interop
// peer's plugins, as it logs them), restricted to the algorithms ipsec-wasm implements.
const DH_DEFAULT = "curve25519-curve448-ecp256-ecp384-ecp521-ecp256bp-ecp384bp-ecp512bp-modp3072-modp4096-modp2048";
const PRF_DEFAULT = "prfsha256-prfsha384-prfsha512-prfsha1";
const DEFAULTS = {
  IKE: [
    `aes128-aes192-aes256-aes128ctr-aes192ctr-aes256ctr-sha256-sha384-sha512-sha1-${PRF_DEFAULT}-${DH_DEFAULT}`,
    "aes128gcm16-aes192gcm16-aes256gcm16-aes128ccm16-aes192ccm16-aes256ccm16-chacha20poly1305-aes128gcm12-aes192gcm12-aes256gcm12-" +
      `aes128gcm8-aes192gcm8-aes256gcm8-aes128ccm12-aes192ccm12-aes256ccm12-aes128ccm8-aes192ccm8-aes256ccm8-${PRF_DEFAULT}-${DH_DEFAULT}`,
  ],
  ESP: ["aes128-aes192-aes256-sha256-sha384-sha512-sha1", "aes128gcm16-aes192gcm16-aes256gcm16"],
};

/**
 * strongSwan's default proposals. The `default` keyword lists the classic set first; a connection
 * without esp_proposals gets the AEAD set first (charon 5.9.8 does both, see swanctl.ts).
 */
export function defaultProposals(protocol: "IKE" | "ESP", opts?: { omitted?: boolean }): AlgorithmSet[] {
  const sets = DEFAULTS[protocol].map((p) => parseOne(p, protocol));
  return protocol === "ESP" && opts?.omitted ? sets.reverse() : sets;
}

/**
 * Parses a comma-separated list of strongSwan proposals for `protocol`; `default` expands to
 * strongSwan's default proposals. Throws ConfigError naming the keyword, the setting and the line.
 */
export function parseProposals(
  text: string,
  protocol: "IKE" | "ESP",
  where?: { key: string; line?: number; file?: string },
): AlgorithmSet[] {
  const at = where ?? { key: protocol === "IKE" ? "proposals" : "esp_proposals" };
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.length === 0) {
    throw new ConfigError(
      "MISSING",
      `no proposal given${describeWhere(at)}; write e.g. ${protocol === "IKE" ? "aes128gcm16-prfsha256-x25519" : "aes128gcm16"} or default`,
      at,
    );
  }
  return items.flatMap((item) =>
    item.toLowerCase() === "default" ? defaultProposals(protocol) : [parseOne(item, protocol, at)],
  );
}

function parseOne(text: string, protocol: "IKE" | "ESP", where?: ConfigWhere): AlgorithmSet {
  const fail = (code: "BAD_VALUE" | "MISSING", why: string): ConfigError =>
    new ConfigError(code, `${protocol} proposal '${text}'${describeWhere(where)}: ${why}`, where);
  const set: AlgorithmSet = { protocol, encr: [], integ: [], prf: [], dh: [], esn: [] };
  for (const raw of text.split("-")) {
    // keywords are case-sensitive and empty ones ("aes128--sha256") are skipped, as in strongSwan
    const word = raw.trim();
    if (word === "") continue;
    const kw = KEYWORDS.get(word);
    if (!kw) throw unknownKeyword(word, protocol, where);
    if (protocol === "IKE" && kw.type === E && CIPHERS.some((r) => r.iana === kw.id && !encrypts(r))) {
      throw fail(
        "BAD_VALUE",
        `'${word}' does not encrypt, which IKE does not allow (RFC 7296 §3.3.2); use e.g. aes128gcm16`,
      );
    }
    if (protocol === "IKE" && kw.type === S)
      throw fail("BAD_VALUE", `'${word}' applies to esp_proposals only; IKE SAs have no extended sequence numbers`);
    // strongSwan silently drops PRFs from ESP proposals; so do we
    if (protocol === "ESP" && kw.type === P) continue;
    push(set, kw);
  }
  // the rules of strongSwan's check_proposal(), with its messages
  if (protocol === "IKE") {
    if (set.prf.length === 0) {
      for (const i of set.integ) if (INTEG_TO_PRF[i] !== undefined) set.prf.push(INTEG_TO_PRF[i]);
    }
    if (set.prf.length === 0)
      throw fail("MISSING", "a PRF algorithm is mandatory in IKE proposals; add e.g. prfsha256");
    set.dh = set.dh.filter((g) => g !== DhGroup.NONE);
    if (set.dh.length === 0)
      throw fail("MISSING", "a DH group is mandatory in IKE proposals; add e.g. x25519 or ecp256");
  }
  if (set.encr.length === 0) throw fail("MISSING", `an encryption algorithm is mandatory in ${protocol} proposals`);
  const aead = set.encr.filter((e) => isAead(e.id)).length;
  if (aead > 0 && aead < set.encr.length) {
    throw fail(
      "BAD_VALUE",
      `classic and combined-mode (AEAD) encryption algorithms can't be contained in the same ${protocol} proposal; ` +
        "split it into two proposals separated by a comma",
    );
  }
  if (aead > 0) set.integ = [];
  else if (protocol === "IKE" && set.integ.length === 0) {
    throw fail(
      "MISSING",
      "an integrity algorithm is mandatory in IKE proposals with classic (non-AEAD) encryption algorithms; add e.g. sha256",
    );
  }
  if (protocol === "ESP" && set.esn.length === 0) set.esn = [0];
  return set;
}

// repeated keywords stay repeated, as charon keeps (and sends) them
function push(set: AlgorithmSet, kw: Kw): void {
  if (kw.type === E) set.encr.push(kw.keyLength === undefined ? { id: kw.id } : { id: kw.id, keyLength: kw.keyLength });
  else (kw.type === I ? set.integ : kw.type === P ? set.prf : kw.type === D ? set.dh : set.esn).push(kw.id);
}

function unknownKeyword(word: string, protocol: "IKE" | "ESP", where?: ConfigWhere): ConfigError {
  const known = KNOWN[protocol];
  const dist = known.map((k) => editDistance(k, word));
  const best = Math.min(...dist);
  const near = KEYWORDS.has(word.toLowerCase()) || best > 2 ? [] : known.filter((_, i) => dist[i] === best).slice(0, 3);
  const hint = near.length ? ` (did you mean ${near.join(" or ")}?)` : "";
  const list = `; known: ${known.join(", ")}`;
  if (STRONGSWAN_ONLY.test(word)) {
    return new ConfigError(
      "UNKNOWN_KEYWORD",
      `${protocol} algorithm '${word}'${describeWhere(where)} is a strongSwan keyword that ipsec-wasm does not implement${list}`,
      where,
    );
  }
  const why = KEYWORDS.has(word.toLowerCase()) ? " (keywords are lowercase)" : "";
  return new ConfigError(
    "UNKNOWN_KEYWORD",
    `unknown ${protocol} algorithm '${word}'${describeWhere(where)}${why}${hint}${list}`,
    where,
  );
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!; // row has b.length + 1 entries; j runs over them
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(cur + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * The IKE proposals with only the encryption algorithms our SK payload implements (AES-CBC,
 * AES-GCM, ChaCha20-Poly1305): strongSwan's default list also names AES-CTR, which we must not
 * offer or accept for IKE. A proposal left without any cipher is a configuration error.
 */
export function implementableIkeProposals(sets: AlgorithmSet[], where?: ConfigWhere): AlgorithmSet[] {
  const ok = new Set<number>(Object.values(SK_ENCR));
  return sets.map((s) => {
    if (s.protocol !== "IKE") return s;
    const encr = s.encr.filter((e) => ok.has(e.id));
    if (encr.length === 0) {
      const names = s.encr.map((e) => transformName({ type: E, ...e })).join("/");
      throw new ConfigError(
        "BAD_VALUE",
        `IKE proposal ${formatAlgorithmSet(s)}${describeWhere(where)}: ipsec-wasm protects IKE messages with AES-CCM, AES-CBC, AES-GCM or ChaCha20-Poly1305 only, not ${names} (AES-CTR is available for ESP); use e.g. aes128gcm16-prfsha256-x25519`,
        where,
      );
    }
    return encr.length === s.encr.length ? s : { ...s, encr };
  });
}

// ------------------------------------------------------------------ wire form

const protocolIdOf = (p: "IKE" | "ESP"): number => (p === "IKE" ? ProtocolId.IKE : ProtocolId.ESP);

/**
 * The SA payload proposals for `sets`: numbered from 1, transforms in strongSwan's order (ENCR,
 * INTEG, PRF, DH, ESN), one transform per alternative. `withoutDh` drops the DH transforms: the
 * Child SA created with IKE_AUTH never carries them (RFC 7296 §1.2).
 */
export function toWireProposals(sets: AlgorithmSet[], spi: Uint8Array, opts?: { withoutDh?: boolean }): Proposal[] {
  return sets.map((s, i) => {
    const transforms: Transform[] = [];
    for (const e of s.encr)
      transforms.push(
        e.keyLength === undefined ? { type: E, id: e.id } : { type: E, id: e.id, keyLength: e.keyLength },
      );
    for (const id of s.integ) transforms.push({ type: I, id });
    for (const id of s.prf) transforms.push({ type: P, id });
    if (!opts?.withoutDh) for (const id of s.dh) transforms.push({ type: D, id });
    for (const id of s.esn) transforms.push({ type: S, id });
    return { num: i + 1, protocolId: protocolIdOf(s.protocol), spi: spi.slice(), transforms };
  });
}

// ------------------------------------------------------------------ names (charon's enums)

/** charon's name of one transform: "AES_GCM_16_128", "HMAC_SHA2_256_128", "CURVE_25519", "(99)" if unknown. */
export function transformName(t: Transform): string {
  return charonName(t.type, t.id, t.keyLength);
}

/** charon's protocol name, undefined for a number it has none for. */
const knownProtocol = (id: number): string | undefined =>
  protocolName(id).startsWith("(") ? undefined : protocolName(id);

// charon prints ENCR, INTEG, PRF, DH, ESN, whatever order they came in
const PRINT_ORDER: number[] = [E, I, P, D, S];

/**
 * strongSwan notation, exactly as charon logs it: "IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519",
 * "ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ"; all alternatives of one proposal in one string.
 */
export function formatProposal(p: Proposal): string {
  const types = [
    ...PRINT_ORDER,
    ...[...new Set(p.transforms.map((t) => t.type))].filter((t) => !PRINT_ORDER.includes(t)).sort((a, b) => a - b),
  ];
  const parts = types.flatMap((type) => p.transforms.filter((t) => t.type === type).map(transformName));
  return `${protocolName(p.protocolId)}:${parts.join("/")}`;
}

/** An AlgorithmSet in charon's notation (as it logs configured proposals). */
export function formatAlgorithmSet(s: AlgorithmSet): string {
  return formatProposal(toWireProposals([s], new Uint8Array(0))[0]!); // one set in, one proposal out
}

/** A list of proposals the way charon's `%#P` prints it: ", "-separated. */
export function formatProposalList(list: (Proposal | AlgorithmSet)[]): string {
  return list.map((p) => ("transforms" in p ? formatProposal(p) : formatAlgorithmSet(p))).join(", ");
}

// ------------------------------------------------------------------ selection

type Pick = { type: number; id: number; keyLength?: number };
type PairResult = { picks: Pick[]; failed: number[] };

const sameEncr = (a: { id: number; keyLength?: number }, b: Transform): boolean =>
  a.id === b.id && (a.keyLength ?? 0) === (b.keyLength ?? 0);

type CfgLists = Record<number, { id: number; keyLength?: number }[]>;
/** A configured set's transforms by type, made once per set (selection runs for every exchange). */
const cfgListCache = new WeakMap<AlgorithmSet, CfgLists>();

function configuredLists(cfg: AlgorithmSet): CfgLists {
  let lists = cfgListCache.get(cfg);
  if (!lists) {
    lists = {
      [E]: cfg.encr,
      [I]: cfg.integ.map((id) => ({ id })),
      [P]: cfg.prf.map((id) => ({ id })),
      [D]: cfg.dh.map((id) => ({ id })),
      [S]: cfg.esn.map((id) => ({ id })),
    };
    cfgListCache.set(cfg, lists);
  }
  return lists;
}

/** One configured set against one offered proposal, type by type (strongSwan's select_algos). */
function matchPair(cfg: AlgorithmSet, off: Proposal, ignoreDh: boolean): PairResult {
  const picks: Pick[] = [];
  const failed: number[] = [];
  const offeredTypes = new Set(off.transforms.map((t) => t.type));
  for (const t of offeredTypes) if (!PRINT_ORDER.includes(t)) failed.push(t);
  const cfgLists = configuredLists(cfg);
  let aead = false;
  for (const type of [E, I, P, D, S]) {
    if (type === I && aead) continue;
    if (type === D && ignoreDh) continue;
    const mine = cfgLists[type] ?? [];
    const theirs = off.transforms.filter((t) => t.type === type);
    // DH is optional in Child SA proposals: "NONE" on either side means no PFS
    const optional = type === D && cfg.protocol === "ESP";
    if (mine.length === 0 && theirs.length === 0) continue;
    if (mine.length === 0 || theirs.length === 0) {
      const ok = optional && (mine.length === 0 ? theirs.some((t) => t.id === 0) : mine.some((m) => m.id === 0));
      if (!ok) failed.push(type);
      continue;
    }
    const hit = mine.find((m) => theirs.some((t) => sameEncr(m, t)));
    if (!hit) {
      failed.push(type);
      continue;
    }
    if (type === E && isAead(hit.id)) aead = true;
    // 0 means NONE for every type but ESN, where it is "no ESN"
    if (hit.id !== 0 || type === S) picks.push({ type, ...hit });
  }
  return { picks, failed };
}

function pickOf(picks: Pick[], type: number): Pick | undefined {
  for (const p of picks) if (p.type === type) return p;
  return undefined;
}

function toChosen(cfg: AlgorithmSet, off: Proposal, picks: Pick[]): { chosen: Chosen; proposal: Proposal } {
  const encr = pickOf(picks, E)!;
  const chosen: Chosen = {
    protocol: cfg.protocol,
    proposalNum: off.num,
    spi: off.spi.slice(),
    encr: encr.keyLength === undefined ? { id: encr.id } : { id: encr.id, keyLength: encr.keyLength },
    esn: pickOf(picks, S)?.id === 1,
  };
  const integ = pickOf(picks, I),
    prf = pickOf(picks, P),
    dh = pickOf(picks, D);
  if (integ) chosen.integ = integ.id;
  if (prf) chosen.prf = prf.id;
  if (dh) chosen.dh = dh.id;
  const transforms: Transform[] = picks.map((p) =>
    p.keyLength === undefined ? { type: p.type, id: p.id } : { type: p.type, id: p.id, keyLength: p.keyLength },
  );
  return { chosen, proposal: { num: off.num, protocolId: off.protocolId, spi: off.spi.slice(), transforms } };
}

function failure(offered: Proposal[], configured: AlgorithmSet[], explanation?: string): Selection {
  return {
    ok: false,
    explanation: explanation ?? explainMismatch(offered, configured),
    received: offered.map(formatProposal),
    configured: configured.map(formatAlgorithmSet),
  };
}

/**
 * Responder side: picks from the peer's offer, preferring our configured order as strongSwan does
 * by default. A DH transform NONE (0) counts as "no PFS". `ignoreDh` skips DH entirely (the Child
 * SA of IKE_AUTH). The returned proposal carries the peer's number and SPI; put our own SPI in
 * before answering.
 */
export function selectProposal(
  offered: Proposal[],
  configured: AlgorithmSet[],
  opts?: { ignoreDh?: boolean },
): Selection {
  for (const cfg of configured) {
    for (const off of offered) {
      if (off.protocolId !== protocolIdOf(cfg.protocol)) continue;
      const r = matchPair(cfg, off, opts?.ignoreDh ?? false);
      if (r.failed.length === 0) return { ok: true, ...toChosen(cfg, off, r.picks) };
    }
  }
  return failure(offered, configured);
}

/**
 * Initiator side: checks the responder's answer is a single proposal with one transform of each
 * type that matches the proposal of that number we offered (RFC 7296 §2.7; anything else must be
 * rejected). `offered` is the list given to toWireProposals, whose numbering starts at 1.
 */
export function acceptChosen(answer: Proposal[], offered: AlgorithmSet[], opts?: { ignoreDh?: boolean }): Selection {
  if (answer.length !== 1) {
    return failure(answer, offered, `peer answered with ${answer.length} proposals; RFC 7296 §2.7 allows exactly one`);
  }
  const p = answer[0]!; // exactly one: checked above
  const cfg = offered[p.num - 1];
  if (!cfg) return failure(answer, offered, `peer chose proposal number ${p.num}, but we offered ${offered.length}`);
  if (p.protocolId !== protocolIdOf(cfg.protocol)) {
    return failure(
      answer,
      offered,
      `peer answered with a ${knownProtocol(p.protocolId) ?? p.protocolId} proposal to our ${cfg.protocol} proposal`,
    );
  }
  for (const type of new Set(p.transforms.map((t) => t.type))) {
    const n = p.transforms.filter((t) => t.type === type).length;
    if (n > 1)
      return failure(
        answer,
        offered,
        `peer's chosen proposal lists ${n} ${TYPE_WORDS[type] ?? `type ${type} transforms`}; RFC 7296 §2.7 allows one of each type`,
      );
  }
  const r = matchPair(cfg, p, opts?.ignoreDh ?? false);
  if (r.failed.length) {
    return failure(
      answer,
      offered,
      `peer chose ${formatProposal(p)}, which is not what we offered as proposal ${p.num} (${formatAlgorithmSet(cfg)})`,
    );
  }
  return { ok: true, ...toChosen(cfg, p, r.picks) };
}

const TYPE_WORDS: Record<number, string> = {
  [E]: "encryption algorithms",
  [I]: "integrity algorithms",
  [P]: "PRFs",
  [D]: "DH groups",
  [S]: "ESN modes",
};

/**
 * Which transform(s) differ, in one sentence: "peer offers MODP_2048 as PFS group; local
 * esp_proposals have none", "peer offers only AES_CBC_128/HMAC_SHA1_96; local esp_proposals
 * require AES_GCM_16_256".
 */
export function explainMismatch(offered: Proposal[], configured: AlgorithmSet[]): string {
  if (configured.length === 0) return "no local proposals are configured";
  const protocol = configured[0]!.protocol; // not empty: checked above
  const key = protocol === "IKE" ? "proposals" : "esp_proposals";
  if (offered.length === 0) return `peer offers no proposals; local ${key} have ${configured.length}`;
  const mine = offered.filter((p) => p.protocolId === protocolIdOf(protocol));
  if (mine.length === 0) {
    const theirs = [...new Set(offered.map((p) => knownProtocol(p.protocolId) ?? `protocol ${p.protocolId}`))].join(
      "/",
    );
    return `peer offers only ${theirs} proposals; local ${key} are ${protocol}`;
  }
  // explain the pair that came closest: fewest transform types without a common algorithm
  let best: { cfg: AlgorithmSet; off: Proposal; failed: number[] } | undefined;
  for (const cfg of configured) {
    for (const off of mine) {
      const { failed } = matchPair(cfg, off, false);
      if (!best || failed.length < best.failed.length) best = { cfg, off, failed };
    }
  }
  const { cfg, off, failed } = best!;
  const unknown = failed.filter((t) => !PRINT_ORDER.includes(t));
  if (unknown.length)
    return `peer's proposal ${off.num} carries transform type ${unknown.join(", ")}, which IKEv2 (RFC 7296) does not define`;
  const clauses: string[] = [];
  const generic: number[] = [];
  for (const type of failed) {
    if (type === D && protocol === "ESP") {
      const offDh = off.transforms.filter((t) => t.type === D && t.id !== 0).map(transformName);
      const cfgDh = cfg.dh.filter((g) => g !== 0).map((id) => transformName({ type: D, id }));
      if (cfgDh.length === 0) {
        clauses.push(
          `peer offers ${offDh.join("/")} as PFS group${offDh.length > 1 ? "s" : ""}; local ${key} have none`,
        );
        continue;
      }
      if (offDh.length === 0) {
        clauses.push(`peer offers no PFS group; local ${key} require ${cfgDh.join("/")}`);
        continue;
      }
    }
    generic.push(type);
  }
  if (generic.length) {
    // a cipher mismatch is shown with its integrity algorithms, as the suite people configure
    const types =
      generic.includes(E) && !generic.includes(I)
        ? [...generic, I].sort((a, b) => PRINT_ORDER.indexOf(a) - PRINT_ORDER.indexOf(b))
        : generic;
    const offNames = types.flatMap((t) => off.transforms.filter((x) => x.type === t).map(transformName));
    const cfgWire = toWireProposals([cfg], new Uint8Array(0))[0]!; // one set in, one proposal out
    const cfgNames = types.flatMap((t) => cfgWire.transforms.filter((x) => x.type === t).map(transformName));
    clauses.unshift(
      `peer offers ${offNames.length ? `only ${offNames.join("/")}` : `no ${types.map((t) => TYPE_WORDS[t]).join(" or ")}`}; ` +
        `local ${key} require ${cfgNames.length ? cfgNames.join("/") : `no ${types.map((t) => TYPE_WORDS[t]).join(" or ")}`}`,
    );
  }
  return clauses.join("; and ");
}

// ------------------------------------------------------------------ using the result

/**
 * The dataplane suite keyword for a negotiated ESP proposal, one that sdk/dataplane/suites.ts
 * parseSuite accepts ("aes128gcm16", "aes256-sha512", "aes128-sha256-esn"), or undefined when the
 * dataplane cannot run it (then the caller refuses the proposal).
 */
export function espSuiteKeyword(c: Chosen): string | undefined {
  const kw = espKeywordFor(c);
  if (kw === undefined) return undefined;
  // Named, but only usable if the wasm dataplane implements it.
  try {
    parseSuite(kw);
  } catch {
    return undefined;
  }
  return kw;
}

function espKeywordFor(c: Chosen): string | undefined {
  if (c.protocol !== "ESP") return undefined;
  const cipher = cipherByIana(c.encr.id, c.encr.keyLength);
  if (!cipher) return undefined;
  const esn = c.esn ? "-esn" : "";
  if (cipher.combined) return c.integ === undefined ? `${cipher.keyword}${esn}` : undefined;
  const integ = c.integ === undefined ? undefined : integByIana(c.integ);
  return integ ? `${cipher.keyword}-${integ.keyword}${esn}` : undefined;
}

const PRF_OUT: Record<number, number> = {
  [Prf.HMAC_SHA1]: 20,
  [Prf.HMAC_SHA2_256]: 32,
  [Prf.HMAC_SHA2_384]: 48,
  [Prf.HMAC_SHA2_512]: 64,
};

/**
 * Key material lengths in bytes for a negotiated proposal: the encryption key (GCM and GMAC: key +
 * 4-byte salt, RFC 4106 §8.1 / RFC 4543 §7.1; CTR: key + 4-byte nonce, RFC 3686 §5.1;
 * ChaCha20-Poly1305: 32 + 4, RFC 7634 §2), the integrity key (RFC 2404/4868: the hash output),
 * the PRF output (also its preferred key length), IV and ICV sizes. Throws for ids it does not know.
 */
export function keyLengths(c: Chosen): {
  encrKey: number;
  integKey: number;
  prfOut: number;
  ivBytes: number;
  icvBytes: number;
  aead: boolean;
} {
  const cipher = cipherByIana(c.encr.id, c.encr.keyLength);
  if (!cipher) {
    const sizes = CIPHERS.filter((r) => r.iana === c.encr.id).map((r) => r.keyBits);
    if (sizes.length && sizes[0] !== undefined)
      throw new RangeError(
        `${transformName({ type: E, ...c.encr })} needs a key length of ${sizes.slice(0, -1).join(", ")} or ${sizes[sizes.length - 1]} bits`,
      );
    throw new RangeError(`no key lengths known for encryption algorithm ${transformName({ type: E, ...c.encr })}`);
  }
  const aead = isAead(c.encr.id);
  let icvBytes = cipher.icvBytes;
  let integKey = 0;
  if (!aead && c.integ !== undefined) {
    const k = integByIana(c.integ);
    if (!k)
      throw new RangeError(`no key length known for integrity algorithm ${transformName({ type: I, id: c.integ })}`);
    integKey = k.keyBytes;
    icvBytes = k.icvBytes;
  }
  let prfOut = 0;
  if (c.prf !== undefined) {
    const out = PRF_OUT[c.prf];
    if (out === undefined) throw new RangeError(`no output length known for ${transformName({ type: P, id: c.prf })}`);
    prfOut = out;
  }
  return { encrKey: cipher.keyBytes + cipher.saltBytes, integKey, prfOut, ivBytes: cipher.ivBytes, icvBytes, aead };
}
