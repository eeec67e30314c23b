/**
 * SA sources for offline decryption: our JSON file, the text `ip xfrm state` prints, and
 * Wireshark's `esp_sa` UAT file. Each parser returns inbound {@link SaConfig}s with an explicit
 * ICV length, or throws {@link SaFileError} naming the entry and field that is wrong.
 * @module
 */
import type { EspMode, EspSuite, IcvLength, SaConfig } from "../dataplane/types.ts";
import { lookupSuite, parseSuite } from "../dataplane/suites.ts";
import {
  CIPHERS,
  FAMILIES,
  INTEGS,
  espSuites,
  integByKeyword,
  suiteKeyword,
  type CipherFamily,
  type IntegRow,
} from "../dataplane/suite-registry.ts";

/** A SA file could not be turned into SA configurations. The message names the entry and field. */
export class SaFileError extends Error {
  override name = "SaFileError";
}

/** Suite keywords accepted in SA files (the dataplane's {@link EspSuite}). */
export const ESP_SUITES: readonly EspSuite[] = espSuites().map((s) => suiteKeyword(s) as EspSuite);

const MAX_U64 = (1n << 64n) - 1n;

/** Decodes hex (optionally `0x`-prefixed, `:` separated); returns undefined when it is not hex. */
export function parseHex(text: string): Uint8Array | undefined {
  let s = text.trim().replace(/:/g, "");
  if (/^0x/i.test(s)) s = s.slice(2);
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Parses an SPI written as `0x…` hex or decimal; rejects 0..255 (reserved, RFC 4303 §2.1) and > 32 bits. */
export function parseSpi(text: string): number | undefined {
  const s = text.trim();
  let v: number;
  if (/^0x[0-9a-f]{1,8}$/i.test(s)) v = parseInt(s.slice(2), 16);
  else if (/^[0-9]{1,10}$/.test(s)) v = Number(s);
  else return undefined;
  return v >= 256 && v <= 0xffffffff ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// Our JSON format

/**
 * Parses `{"sas": [{"spi": "0x0e582872", "mode": "tunnel", "esp": "aes128gcm16", "encKey": "hex",
 * "integKey": "hex", "esn": false, "replayWindow": 64, "replaySeq": "0", "icvLength": 16}]}`.
 * `replaySeq` is the highest sequence number already received (decimal string, 64-bit with ESN).
 */
export function parseSaJson(text: string): SaConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SaFileError(`not valid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || !Array.isArray((doc as { sas?: unknown }).sas)) {
    throw new SaFileError('expected an object with an array "sas"');
  }
  const sas = (doc as { sas: unknown[] }).sas;
  if (sas.length === 0) throw new SaFileError('"sas" is empty');
  return sas.map((entry, i) => parseJsonEntry(entry, i));
}

function parseJsonEntry(entry: unknown, i: number): SaConfig {
  const where = (field: string): string => `sas[${i}].${field}`;
  const fail = (field: string, why: string): never => {
    throw new SaFileError(`${where(field)}: ${why}`);
  };
  if (typeof entry !== "object" || entry === null || Array.isArray(entry))
    throw new SaFileError(`sas[${i}]: expected an object`);
  const e = entry as Record<string, unknown>;
  const known = new Set([
    "spi",
    "mode",
    "esp",
    "encKey",
    "integKey",
    "esn",
    "replayWindow",
    "replaySeq",
    "icvLength",
    "comment",
  ]);
  for (const k of Object.keys(e)) if (!known.has(k)) fail(k, `unknown field (known: ${[...known].join(", ")})`);

  const spi =
    typeof e.spi === "string"
      ? parseSpi(e.spi)
      : typeof e.spi === "number" && e.spi >= 256 && e.spi <= 0xffffffff && Number.isInteger(e.spi)
        ? e.spi
        : undefined;
  if (spi === undefined) fail("spi", 'expected "0x" and up to 8 hex digits, 0x100..0xffffffff');
  if (e.mode !== "tunnel" && e.mode !== "transport") fail("mode", 'expected "tunnel" or "transport"');
  if (typeof e.esp !== "string") fail("esp", `expected a suite keyword (${ESP_SUITES.join(", ")})`);
  const esp = e.esp as string;
  const base = esp.endsWith("-esn") ? esp.slice(0, -4) : esp;
  if (!(ESP_SUITES as readonly string[]).includes(base))
    fail("esp", `unknown suite "${esp}" (known: ${ESP_SUITES.join(", ")}, optionally with -esn)`);
  const isNull = base.startsWith("null-");
  const suite = parseSuite(base);
  const isGcm = suite.integKeyBytes === 0; // AEAD or GMAC: all keying material is encKey

  const encKey =
    typeof e.encKey === "string"
      ? parseHex(e.encKey)
      : e.encKey === undefined && isNull
        ? new Uint8Array(0)
        : undefined;
  if (encKey === undefined) fail("encKey", "expected a hex string");
  const wantEnc = [suite.encKeyBytes];
  if (!wantEnc.includes(encKey!.length)) {
    const cipher = lookupSuite(base)!.cipher;
    const key = cipher.family === "chacha20-poly1305" ? "ChaCha20 key" : "AES key";
    const layout = cipher.saltBytes
      ? ` (${key} then ${cipher.saltBytes}-byte ${FAMILIES[cipher.family].saltWord})`
      : "";
    fail("encKey", `${esp} needs ${wantEnc[0]} bytes${layout}, got ${encKey!.length}`);
  }
  let integKey: Uint8Array | undefined;
  if (isGcm) {
    if (e.integKey !== undefined && e.integKey !== "")
      fail(
        "integKey",
        `${esp} ${base.includes("gmac") ? "keys its ICV with encKey" : "is AEAD"} and takes no integrity key`,
      );
  } else {
    integKey = typeof e.integKey === "string" ? parseHex(e.integKey) : undefined;
    if (integKey === undefined || integKey.length === 0) fail("integKey", `${esp} needs an HMAC key as a hex string`);
  }
  if (e.esn !== undefined && typeof e.esn !== "boolean") fail("esn", "expected true or false");
  const esn = e.esn === true || esp.endsWith("-esn");
  if (e.replayWindow !== undefined) {
    const w = e.replayWindow;
    if (typeof w !== "number" || !Number.isInteger(w) || !(w === 0 || (w >= 32 && w <= 4096))) {
      fail("replayWindow", "expected 0 (off) or an integer 32..4096");
    }
  }
  let seq: bigint | undefined;
  if (e.replaySeq !== undefined) {
    const r = e.replaySeq;
    const ok =
      (typeof r === "string" && /^[0-9]{1,20}$/.test(r)) ||
      (typeof r === "number" && Number.isSafeInteger(r) && r >= 0);
    if (!ok) fail("replaySeq", "expected a decimal string");
    seq = BigInt(r as string | number);
    const max = esn ? MAX_U64 : 0xffffffffn;
    if (seq > max)
      fail("replaySeq", `exceeds ${esn ? 64 : 32} bits${esn ? "" : " (set esn: true for 64-bit sequence numbers)"}`);
  }
  let icvLength: IcvLength | undefined;
  if (e.icvLength !== undefined) {
    if (![8, 12, 16, 24, 32].includes(e.icvLength as number)) fail("icvLength", "expected 8, 12, 16, 24 or 32");
    icvLength = e.icvLength as IcvLength;
  }
  const cfg: SaConfig = { spi: spi!, direction: "in", mode: e.mode as EspMode, esp, encKey: encKey!, esn };
  if (integKey) cfg.integKey = integKey;
  cfg.icvLength = icvLength ?? impliedIcv(base);
  if (e.replayWindow !== undefined) cfg.replayWindow = e.replayWindow as number;
  if (seq !== undefined) cfg.seq = seq;
  return cfg;
}

/** The ICV length a suite keyword implies (16 for a keyword the registry does not know). */
export function impliedIcv(suite: string): IcvLength {
  try {
    return parseSuite(suite).icvBytes as IcvLength;
  } catch {
    return 16;
  }
}

// ---------------------------------------------------------------------------------------------
// Algorithm mapping shared by the xfrm and Wireshark parsers, derived from the suite registry

/** @internal Cipher families of the SA-file parsers (shared with ./charon.ts). */
export type Cipher = CipherFamily;
/** @internal HMAC hashes of the SA-file parsers. */
export type Hash = IntegRow["hmac"];

/** The HMAC row named after the bare hash (`sha256`: RFC 4868's ICV; its allowedIcv lists the truncations). */
const hmacRow = (hash: Hash): IntegRow => integByKeyword(hash)!;

/** "HMAC-SHA-256" for messages: Wireshark's ESP name without the truncation and RFC. */
const hmacTitle = (hash: Hash): string => hmacRow(hash).wireshark.replace(/-\d+ \[.*$/, "");

/** "8, 12 or 16". */
const orList = (items: readonly (string | number)[]): string =>
  items.length === 1 ? String(items[0]) : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;

/** @internal Picks the suite keyword for a cipher/HMAC/ICV combination; throws a plain Error with the reason. */
export function suiteFor(
  cipher: Cipher,
  encKeyLength: number,
  hash: Hash | undefined,
  icvLength: number,
): { esp: EspSuite; icvLength: IcvLength } {
  const rows = CIPHERS.filter((r) => r.family === cipher);
  const { title, rfc, saltWord } = FAMILIES[cipher];
  const [first] = rows;
  if (!first) throw new Error(`no suite of the ${title} family is known`);
  if (!first.combined && hash === undefined)
    throw new Error(`${title} without an integrity algorithm is not supported`);
  const sized = rows.filter((r) => r.keyBytes + r.saltBytes === encKeyLength);
  if (sized.length === 0) {
    if (first.keyBytes === 0) throw new Error(`${title} takes no key`);
    const salt = first.saltBytes;
    if (first.keyBits === undefined) {
      throw new Error(
        `${title} key must be ${first.keyBytes + salt} bytes (${first.keyBytes}-byte key then ${salt}-byte ${saltWord}), got ${encKeyLength}`,
      );
    }
    // AES-192 in parentheses: it is rare, and 128/256 are the sizes people check first.
    const layout = salt ? ` (AES key then ${salt}-byte ${saltWord})` : "";
    throw new Error(
      `${title} key must be ${16 + salt} or ${32 + salt} bytes${layout}, got ${encKeyLength} (AES-192 takes ${24 + salt})`,
    );
  }
  if (first.combined) {
    const row = sized.find((r) => r.icvBytes === icvLength);
    if (!row) {
      const icvs = [...new Set(sized.map((r) => r.icvBytes))];
      throw new Error(
        `${title} ICV of ${icvLength} bytes is not supported (${icvs.length === 1 ? `${icvs[0]} only, ${rfc}` : orList(icvs)})`,
      );
    }
    return { esp: row.keyword as EspSuite, icvLength: icvLength as IcvLength };
  }
  const allowed = hmacRow(hash!).allowedIcv;
  if (!allowed.includes(icvLength)) {
    const ok = allowed.map((n) => n * 8);
    throw new Error(
      `${hmacTitle(hash!)} with a ${icvLength * 8}-bit ICV is not supported (${ok.length === 1 ? `${ok[0]} bits only` : orList(ok)})`,
    );
  }
  const integ = INTEGS.find((r) => r.hmac === hash && r.icvBytes === icvLength) ?? hmacRow(hash!);
  return { esp: `${sized[0]!.keyword}-${integ.keyword}` as EspSuite, icvLength: icvLength as IcvLength };
}

// ---------------------------------------------------------------------------------------------
// ip xfrm state

/** `aead` algorithm names as the kernel prints them (net/xfrm/xfrm_algo.c aead_list). */
const XFRM_AEAD: Record<string, Cipher | undefined> = Object.fromEntries(
  CIPHERS.flatMap((r) => ("aead" in r.xfrm ? [[r.xfrm.aead, r.family]] : [])),
);
/**
 * `enc` algorithm names (ealg_list). The kernel prints the canonical name even when `ip xfrm state
 * add` was given the compat one (`aes`); `cipher_null` stays accepted for hand-written files.
 */
const XFRM_ENC: Record<string, Cipher | undefined> = Object.fromEntries(
  CIPHERS.flatMap((r) => ("enc" in r.xfrm ? [r.xfrm.enc, ...(r.xfrm.aliases ?? [])].map((n) => [n, r.family]) : [])),
);
/**
 * `auth` / `auth-trunc` names (aalg_list) with the kernel's default truncation, which applies when
 * the SA was added with plain `auth`: 96 bits for SHA-1 and, against RFC 4868, for SHA-256.
 */
const XFRM_AUTH: Record<string, { hash: Hash; defaultBits: number } | undefined> = Object.fromEntries(
  INTEGS.map((r) => [r.xfrm.auth, { hash: r.hmac, defaultBits: r.xfrm.defaultBits }]),
);
const known = (table: Record<string, unknown>): string => Object.keys(table).join(", ");

/** HMAC key bytes the dataplane takes for a keyword (the hash output length). */
const integKeyBytes = (esp: EspSuite): number => parseSuite(esp).integKeyBytes;

/**
 * Parses what `ip xfrm state` (or `ip -s xfrm state`) prints: blocks starting with `src A dst B`,
 * then indented lines `proto esp spi 0x… reqid N mode tunnel`, `replay-window N flag …`, the
 * algorithms — `aead rfc4106(gcm(aes)) 0x<key+salt> <icv bits>` (AES-GCM),
 * `aead rfc4543(gcm(aes)) 0x<key+salt> 128` (AES-GMAC), `aead rfc7539esp(chacha20,poly1305)
 * 0x<key+salt> 128`, or `enc cbc(aes)|rfc3686(ctr(aes))|ecb(cipher_null) 0x…` (CTR: key then
 * nonce) with `auth-trunc hmac(sha1|sha256|sha384|sha512) 0x… <bits>` or plain `auth` (the
 * kernel's default truncation: 96 bits for SHA-1 and SHA-256, 192 and 256 for SHA-384 and -512);
 * `ip -s` adds `(N bits)` after each key — then `anti-replay context: seq 0x…` or
 * `anti-replay esn context:` with `seq-hi`, `seq` and `replay_window`. ESN comes from `flag … esn`
 * alone: the kernel prints the "esn context" for any window over 32 packets, ESN or not.
 * Non-ESP states (AH, IPComp) are skipped.
 */
export function parseXfrmState(text: string): SaConfig[] {
  const blocks: string[][] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, "");
    if (line === "") continue;
    const current = blocks.at(-1);
    if (/^src\s/.test(line)) blocks.push([line]);
    else if (current) current.push(line.trim());
    else throw new SaFileError(`line "${line.trim()}": expected a state to start with "src ADDRESS dst ADDRESS"`);
  }
  if (blocks.length === 0)
    throw new SaFileError('no states found (expected blocks starting with "src ADDRESS dst ADDRESS")');
  const sas: SaConfig[] = [];
  blocks.forEach((lines, i) => {
    const sa = parseXfrmBlock(lines, i + 1);
    if (sa) sas.push(sa);
  });
  if (sas.length === 0) throw new SaFileError("no ESP states found");
  return sas;
}

function parseXfrmBlock(lines: string[], n: number): SaConfig | undefined {
  const head = `state ${n} (${lines[0]})`;
  const body = lines.slice(1).join("\n");
  const proto = /(?:^|\n)proto (\S+) spi 0x([0-9a-fA-F]+)/.exec(body);
  if (!proto) throw new SaFileError(`${head}: no "proto ... spi 0x..." line`);
  const [, protoName, spiHex = ""] = proto; // both groups are mandatory
  if (protoName !== "esp") return undefined;
  const spiText = `0x${spiHex.padStart(8, "0").toLowerCase()}`;
  const where = `${head}, spi ${spiText}`;
  const fail = (field: string, why: string): never => {
    throw new SaFileError(`${where}: ${field}: ${why}`);
  };
  const spi = parseSpi(`0x${proto[2]}`) ?? fail("spi", "must be 0x100..0xffffffff");
  const modeMatch = /\bmode (\S+)/.exec(body);
  const mode = modeMatch?.[1] ?? "transport";
  if (mode !== "tunnel" && mode !== "transport") fail("mode", `"${mode}" is not supported (tunnel or transport)`);

  // `KIND NAME [0xKEY | <<Keys hidden>>] [(KEYBITS bits)] [ICV/TRUNC BITS]`
  const algo = (kind: string): { name: string; key: Uint8Array; bits?: number } | undefined => {
    const m = new RegExp(
      `(?:^|\\n)${kind} (\\S+)(?: (0x[0-9a-fA-F]*|<<Keys hidden>>|\\d+))?(?: \\((\\d+) bits\\))?(?: (\\d+))?(?:\\n|$)`,
    ).exec(body);
    if (!m) return undefined;
    if (m[2] !== undefined && !m[2].startsWith("0x")) {
      fail(kind, "keys are hidden (the output came from `ip xfrm state ... nokeys`); print the states with keys");
    }
    const key = parseHex(m[2] ?? "0x") ?? fail(kind, `key "${m[2]}" is not hex`);
    if (m[3] !== undefined && Number(m[3]) !== key.length * 8)
      fail(kind, `the key has ${key.length * 8} bits but the line says ${m[3]}`);
    return { name: m[1]!, key, bits: m[4] === undefined ? undefined : Number(m[4]) }; // group 1 (the name) is mandatory
  };
  const aead = algo("aead");
  const enc = algo("enc");
  const authTrunc = algo("auth-trunc");
  const auth = algo("auth");
  if (/(?:^|\n)comp /.test(body)) fail("comp", "IPComp is not supported");

  let cipher: Cipher;
  let encKey: Uint8Array;
  let hash: Hash | undefined;
  let integKey: Uint8Array | undefined;
  let icvBits: number;
  if (aead) {
    cipher = XFRM_AEAD[aead.name] ?? fail("aead", `${aead.name} is not supported (${known(XFRM_AEAD)})`);
    encKey = aead.key;
    icvBits = aead.bits ?? fail("aead", "missing ICV length in bits after the key");
  } else {
    if (!enc) fail("enc", 'no "enc" or "aead" line');
    cipher = XFRM_ENC[enc!.name] ?? fail("enc", `${enc!.name} is not supported (${known(XFRM_ENC)})`);
    encKey = enc!.key;
    const a = authTrunc ?? auth;
    if (!a) fail("auth", 'no "auth" or "auth-trunc" line');
    const field = authTrunc ? "auth-trunc" : "auth";
    const alg = XFRM_AUTH[a!.name] ?? fail(field, `${a!.name} is not supported (${known(XFRM_AUTH)})`);
    hash = alg.hash;
    integKey = a!.key;
    icvBits = authTrunc ? (authTrunc.bits ?? fail("auth-trunc", "missing truncation length in bits")) : alg.defaultBits;
  }
  if (icvBits % 8 !== 0) fail(aead ? "aead" : "auth-trunc", `ICV length ${icvBits} is not a whole number of bytes`);
  let suite: { esp: EspSuite; icvLength: IcvLength };
  try {
    suite = suiteFor(cipher!, encKey!.length, hash, icvBits / 8);
  } catch (e) {
    return fail(
      aead ? "aead" : "enc/auth",
      `${aead ? aead.name : `${enc!.name} + ${(authTrunc ?? auth)?.name ?? "no auth"}`}: ${(e as Error).message}`,
    );
  }
  if (integKey) {
    const want = integKeyBytes(suite.esp);
    const field = authTrunc ? "auth-trunc" : "auth";
    if (integKey.length !== want)
      fail(
        field,
        `${(authTrunc ?? auth)!.name} is not supported with a ${integKey.length * 8}-bit key (it takes ${want * 8} bits, the hash output length, as RFC 2404 and RFC 4868 key it)`,
      );
  }

  // `replay-window N [seq 0x…] flag LIST [(0xHEX)]`; `ip -s` adds the netlink seq and the hex flags.
  const flags = /(?:^|\n)(?:replay-window \d+ (?:seq 0x[0-9a-f]+ )?)?flag ([^\n]*)/.exec(body)?.[1] ?? "";
  const esn = /(?:^|\s)esn(?:\s|$)/.test(flags);
  let replayWindow = Number(/(?:^|\n)replay-window (\d+)/.exec(body)?.[1] ?? 0);
  // Windows over 32 packets (and every ESN window) live in the bitmap context; its size wins.
  const esnWindow = /(?:^|\n)replay_window (\d+)/.exec(body);
  if (esnWindow) replayWindow = Number(esnWindow[1]);
  // The dataplane's smallest window is 32; a smaller kernel window only ever accepts fewer late packets.
  if (replayWindow > 0 && replayWindow < 32) replayWindow = 32;
  if (replayWindow > 4096) fail("replay-window", `${replayWindow} exceeds the supported 4096`);

  let seq: bigint | undefined;
  const at = body.search(/anti-replay/);
  const context = at >= 0 ? body.slice(at) : "";
  const ctxSeq = /(?:^|[\s,:])seq 0x([0-9a-fA-F]+)/.exec(context);
  if (ctxSeq) {
    seq = BigInt(`0x${ctxSeq[1]}`);
    // Without ESN the kernel never uses seq-hi, whatever the context prints.
    const hi = /(?:^|[\s,:])seq-hi 0x([0-9a-fA-F]+)/.exec(context);
    if (hi && esn) seq |= BigInt(`0x${hi[1]}`) << 32n;
  }
  const cfg: SaConfig = {
    spi: spi,
    direction: "in",
    mode: mode as EspMode,
    esp: suite.esp,
    encKey: encKey!,
    icvLength: suite.icvLength,
    esn,
    replayWindow,
  };
  if (integKey) cfg.integKey = integKey;
  if (seq !== undefined) cfg.seq = seq;
  return cfg;
}

// ---------------------------------------------------------------------------------------------
// Wireshark esp_sa

/** Encryption algorithm names of Wireshark's ESP preferences (packet-ipsec.c, 4.0). */
const WIRESHARK_ENC: Record<string, { cipher: Cipher; icv?: number } | undefined> = Object.fromEntries(
  CIPHERS.flatMap((r) =>
    ("name" in r.wireshark ? [r.wireshark.name, ...(r.wireshark.aliases ?? [])] : []).map((n) => [
      n,
      r.combined ? { cipher: r.family, icv: r.icvBytes } : { cipher: r.family },
    ]),
  ),
);
const WIRESHARK_AUTH: Record<string, { hash?: Hash; icv: number } | undefined> = {
  NULL: { icv: 0 },
  ...Object.fromEntries(INTEGS.map((r) => [r.wireshark, { hash: r.hmac, icv: r.icvBytes }])),
};

/** Splits one UAT line: comma-separated, double-quoted fields with `\xNN` escapes. */
function splitUatLine(line: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (line[i] !== '"') return undefined;
    i++;
    let value = "";
    while (i < line.length && line[i] !== '"') {
      if (line[i] === "\\" && line[i + 1] === "x" && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
        value += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
        i += 4;
      } else if (line[i] === "\\" && i + 1 < line.length) {
        value += line[i + 1];
        i += 2;
      } else {
        value += line[i++];
      }
    }
    if (line[i] !== '"') return undefined;
    i++;
    fields.push(value);
    while (line[i] === " " || line[i] === "\t") i++;
    if (i >= line.length) return fields;
    if (line[i] !== ",") return undefined;
    i++;
  }
}

/**
 * Parses Wireshark's `esp_sa` UAT file: one SA per line, quoted CSV fields protocol ("IPv4",
 * "IPv6", "Any"), source, destination, SPI, encryption algorithm, encryption key, authentication
 * algorithm, authentication key. Keys are `0x` hex or literal text. Algorithms: NULL, AES-CBC,
 * AES-CTR (key then 4-byte nonce), AES-GCM with 8/12/16-byte ICV (key then salt); HMAC-SHA-1-96,
 * HMAC-SHA-256-96/128, HMAC-SHA-384-192, HMAC-SHA-512-256 (Wireshark 4.0 has no AES-GMAC and no
 * ChaCha20-Poly1305; its key length picks AES-128/192/256). The file does not say whether
 * an SA is tunnel or transport mode, so the caller passes it. Replay protection uses the
 * dataplane's default window (Wireshark keeps no replay state to import); ESN is off.
 */
export function parseWiresharkEspSa(text: string, mode: EspMode = "tunnel"): SaConfig[] {
  const sas: SaConfig[] = [];
  text.split(/\r?\n/).forEach((raw, idx) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const n = idx + 1;
    const fields = splitUatLine(line);
    if (!fields) throw new SaFileError(`line ${n}: expected comma-separated "quoted" fields`);
    if (fields.length < 8)
      throw new SaFileError(
        `line ${n}: expected 8 fields (protocol, src, dst, spi, encryption, key, authentication, key), got ${fields.length}`,
      );
    const [, , , spiText = "", encName = "", encKeyText = "", authName = "", authKeyText = ""] = fields;
    const fail = (field: string, why: string): never => {
      throw new SaFileError(`line ${n} (spi ${spiText}): ${field}: ${why}`);
    };
    const spi = parseSpi(spiText) ?? fail("spi", 'expected "0x" and up to 8 hex digits (wildcards are not supported)');
    const enc =
      WIRESHARK_ENC[encName] ??
      fail("encryption", `"${encName}" is not supported (${Object.keys(WIRESHARK_ENC).join("; ")})`);
    const auth =
      WIRESHARK_AUTH[authName] ??
      fail("authentication", `"${authName}" is not supported (${Object.keys(WIRESHARK_AUTH).join("; ")})`);
    const wsKey = (field: string, t: string): Uint8Array => {
      if (t === "" || /^0x$/i.test(t)) return new Uint8Array(0);
      if (/^0x/i.test(t)) return parseHex(t) ?? fail(field, `"${t}" is not hex`);
      return new TextEncoder().encode(t);
    };
    const encKey = wsKey("encryption key", encKeyText);
    let hash: Hash | undefined;
    let icv: number;
    let integKey: Uint8Array | undefined;
    if (enc.icv !== undefined) {
      if (auth.hash) fail("authentication", `must be NULL with ${FAMILIES[enc.cipher].title}`);
      icv = enc.icv!;
    } else {
      hash = auth.hash;
      icv = auth.icv;
      integKey = wsKey("authentication key", authKeyText);
      if (hash && integKey.length === 0) fail("authentication key", "is empty");
    }
    let suite: { esp: EspSuite; icvLength: IcvLength };
    try {
      suite = suiteFor(enc.cipher, encKey.length, hash, icv);
    } catch (e) {
      return fail("encryption/authentication", (e as Error).message);
    }
    if (integKey && integKey.length !== integKeyBytes(suite.esp)) {
      fail(
        "authentication key",
        `${authName} takes a ${integKeyBytes(suite.esp)}-byte key here (the hash output length), got ${integKey.length}`,
      );
    }
    const cfg: SaConfig = {
      spi: spi,
      direction: "in",
      mode,
      esp: suite.esp,
      encKey,
      icvLength: suite.icvLength,
      esn: false,
    };
    if (integKey) cfg.integKey = integKey;
    sas.push(cfg);
  });
  if (sas.length === 0) throw new SaFileError("no SA lines found");
  return sas;
}
