/**
 * Child SA keys from strongSwan's charon log. At log level 4 for the `chd` subsystem, charon's
 * IKEv2 keymat (keymat_v2.c, derive_child_keys) logs every Child SA's keying material as
 *
 *     07[CHD] <peer|1> encryption initiator key => 20 bytes @ 0x7f7cc8003b90
 *     07[CHD] <peer|1>    0: F9 5C 5F AE E2 31 2A 97 BA B7 C6 2B 62 42 85 BA  .\_..1*....+bB..
 *     07[CHD] <peer|1>   16: 82 F1 0D B9                                      ....
 *
 * (`encryption`/`integrity` × `initiator`/`responder`; the initiator keys protect the traffic
 * the IKE initiator of that exchange sends), after `selected proposal: ESP:AES_GCM_16_128/NO_EXT_SEQ`
 * (CFG, level 1) and before `CHILD_SA net{1} established with SPIs 56dc7c1b_i 86213d6b_o`
 * (IKE, level 0; `inbound CHILD_SA …` when a rekey installs the outbound SA later), all from
 * the same worker thread (`07`). The side that initiated the exchange logged
 * `establishing CHILD_SA net{1}` (IKE, level 0) and parsed a `… response` (ENC, level 1); the
 * other side parsed a `… request`. So `filelog`/`syslog` with `default = 1` and `chd = 4`
 * (`charondebug="chd 4"` for ipsec.conf) is enough, with or without `time_format`, `ike_name`,
 * or a syslog prefix. Tested against real logs of Debian's charon 5.9.8 (test/fixtures/charon/).
 *
 * Each Child SA gives two SAs, one per direction, both returned with `direction: "in"` (for
 * decrypting a capture). The mode is transport when the exchange carried `N(USE_TRANSP)` (in the
 * response: the initiator's parsed one or the responder's generated one), tunnel otherwise.
 * IKEv1 (Quick Mode keys are logged differently) is not read.
 * @module
 */
import type { EspSuite, IcvLength, SaConfig } from "../dataplane/types.ts";
import { parseSuite } from "../dataplane/suites.ts";
import { SaFileError, suiteFor, type Cipher, type Hash } from "./files.ts";
import { CIPHERS, FAMILIES, INTEGS } from "../dataplane/suite-registry.ts";

/** One direction of a Child SA found in the log. */
export interface CharonSa {
  /** Inbound SA configuration for decrypting this direction's packets. */
  config: SaConfig;
  /** The Child SA as charon names it, e.g. `net{3}`. */
  child: string;
  /** Whether the logging charon received (`inbound`) or sent (`outbound`) with this SPI. */
  direction: "inbound" | "outbound";
  /** The logging charon's role in the exchange that created the Child SA. */
  role: "initiator" | "responder";
  /** The ESP proposal as charon printed it, e.g. `AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ`. */
  proposal: string;
  /** 1-based line of the `established with SPIs` line. */
  line: number;
}

type KeyName = "encryption initiator" | "encryption responder" | "integrity initiator" | "integrity responder";

interface ThreadState {
  proposal?: string;
  keys: Partial<Record<KeyName, Uint8Array>>;
  collecting?: { name: KeyName; want: number; bytes: number[]; line: number };
  /** Direction of the last message this thread parsed. */
  parsed?: "request" | "response";
  parsedTransport: boolean;
  /** Responder SAs waiting for this thread's `generating … response` to learn the mode. */
  awaitingMode: CharonSa[];
}

/** `NN[GRP] [<name|uid>] message`, anywhere on the line (after a time stamp or a syslog prefix). */
const LINE = /(?:^|\s)(\d+)\[([A-Z]{3})\] (?:<[^>]*> )?(.*)$/;
const KEY = /^(encryption|integrity) (initiator|responder) key => (\d+) bytes/;
const DUMP = /^\s*\d+: (.*)$/;
const ESTABLISHED =
  /^(?:(inbound|outbound) )?CHILD_SA (\S+?\{\d+\}) established with SPIs ([0-9a-fA-F]{1,8})_i ([0-9a-fA-F]{1,8})_o/;

/** Parses every Child SA of a charon log into its two directions. Throws {@link SaFileError}. */
export function parseCharonLogSas(text: string): CharonSa[] {
  const threads = new Map<string, ThreadState>();
  const thread = (id: string): ThreadState => {
    let t = threads.get(id);
    if (!t) threads.set(id, (t = { keys: {}, parsedTransport: false, awaitingMode: [] }));
    return t;
  };
  let establishing = new Set<string>();
  const out: CharonSa[] = [];

  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const n = idx + 1;
    const m = LINE.exec(raw);
    if (!m) return;
    // Regex groups indexed with `!` below are not optional: a match has them.
    const [, tid = "", group, msg = ""] = m;
    const t = thread(tid);
    if (t.collecting) {
      const c = t.collecting;
      const dump = group === "CHD" ? DUMP.exec(msg) : null;
      if (dump) {
        const tokens = dump[1]!.split(" ");
        for (
          let i = 0;
          i < tokens.length && i < 16 && c.bytes.length < c.want && /^[0-9A-Fa-f]{2}$/.test(tokens[i]!);
          i++
        ) {
          c.bytes.push(parseInt(tokens[i]!, 16));
        }
        if (c.bytes.length === c.want) {
          t.keys[c.name] = Uint8Array.from(c.bytes);
          t.collecting = undefined;
        }
        return;
      }
      throw new SaFileError(
        `line ${c.line}: the ${c.name} key's hex dump ends after ${c.bytes.length} of ${c.want} bytes`,
      );
    }
    if (/^Starting IKE charon daemon/.test(msg)) {
      // Child SA numbers start again at 1 in a restarted daemon.
      establishing = new Set();
      threads.clear();
      return;
    }
    const est = /^establishing CHILD_SA (\S+?\{\d+\})/.exec(msg);
    if (est) {
      establishing.add(est[1]!);
      return;
    }
    const parsed = /^parsed \S+ (request|response) \d+ \[(.*)\]/.exec(msg);
    if (parsed) {
      t.parsed = parsed[1] as "request" | "response";
      t.parsedTransport = /\bN\(USE_TRANSP\)/.test(parsed[2]!);
      return;
    }
    const generated = /^generating \S+ response \d+ \[(.*)\]/.exec(msg);
    if (generated) {
      const transport = /\bN\(USE_TRANSP\)/.test(generated[1]!);
      for (const sa of t.awaitingMode) sa.config.mode = transport ? "transport" : "tunnel";
      t.awaitingMode = [];
      return;
    }
    const prop = /^selected proposal: ESP:(\S+)/.exec(msg);
    if (prop) {
      t.proposal = prop[1];
      t.keys = {};
      return;
    }
    const key = KEY.exec(msg);
    if (key && group === "CHD") {
      const name = `${key[1]} ${key[2]}` as KeyName;
      const want = Number(key[3]);
      if (want === 0) t.keys[name] = new Uint8Array(0);
      else t.collecting = { name, want, bytes: [], line: n };
      return;
    }
    const e = ESTABLISHED.exec(msg);
    if (!e) return;
    // The deferred install of a rekeyed Child SA's outbound SA: the inbound line had the keys.
    if (e[1] === "outbound") return;
    const child = e[2]!;
    const spiIn = parseInt(e[3]!, 16) >>> 0;
    const spiOut = parseInt(e[4]!, 16) >>> 0;
    const where = `line ${n} (CHILD_SA ${child}, SPIs ${hex32(spiIn)} in, ${hex32(spiOut)} out)`;
    const role = establishing.has(child)
      ? "initiator"
      : t.parsed === "response"
        ? "initiator"
        : t.parsed === "request"
          ? "responder"
          : undefined;
    if (!role) {
      throw new SaFileError(
        `${where}: cannot tell which side initiated this Child SA; log IKE at level 0 or more and ENC at level 1 (default = 1)`,
      );
    }
    if (!t.proposal)
      throw new SaFileError(
        `${where}: no "selected proposal: ESP:..." line before it; log CFG at level 1 or more (default = 1)`,
      );
    if (!t.keys["encryption initiator"] && !t.keys["integrity initiator"]) {
      throw new SaFileError(`${where}: no Child SA keys logged before it; log CHD at level 4 (chd = 4)`);
    }
    const suite = suiteOf(t.proposal, t.keys, where);
    const other = role === "initiator" ? "responder" : "initiator";
    const make = (spi: number, keysOf: "initiator" | "responder", direction: "inbound" | "outbound"): CharonSa => {
      const encKey = t.keys[`encryption ${keysOf}`] ?? new Uint8Array(0);
      const integKey = t.keys[`integrity ${keysOf}`];
      const config: SaConfig = {
        spi,
        direction: "in",
        mode: "tunnel",
        esp: suite.esp,
        encKey,
        icvLength: suite.icvLength,
        esn: suite.esn,
      };
      if (suite.integKeyBytes > 0) config.integKey = integKey;
      return { config, child, direction, role, proposal: t.proposal!, line: n };
    };
    // Inbound traffic was sent by the other side of the exchange, with that side's keys.
    const pair = [make(spiIn, other, "inbound"), make(spiOut, role, "outbound")];
    for (const sa of pair) {
      if (sa.config.spi < 256)
        throw new SaFileError(`${where}: SPI ${hex32(sa.config.spi)} is reserved (RFC 4303 section 2.1)`);
    }
    if (role === "initiator") {
      for (const sa of pair) sa.config.mode = t.parsedTransport ? "transport" : "tunnel";
    } else {
      t.awaitingMode.push(...pair);
    }
    out.push(...pair);
    t.keys = {};
  });
  for (const t of threads.values()) {
    if (t.collecting)
      throw new SaFileError(`line ${t.collecting.line}: the log ends inside the ${t.collecting.name} key's hex dump`);
  }
  if (out.length === 0) {
    throw new SaFileError(
      'no Child SA keys found (expected charon log lines "encryption initiator key => N bytes" and "CHILD_SA ... established with SPIs"; log CHD at level 4)',
    );
  }
  // A Child SA logged twice (e.g. two daemons' logs concatenated) must agree with itself.
  const bySpi = new Map<number, CharonSa>();
  const unique: CharonSa[] = [];
  for (const sa of out) {
    const prev = bySpi.get(sa.config.spi);
    if (!prev) {
      bySpi.set(sa.config.spi, sa);
      unique.push(sa);
    } else if (!sameKeys(prev.config, sa.config)) {
      throw new SaFileError(
        `line ${sa.line} (CHILD_SA ${sa.child}): SPI ${hex32(sa.config.spi)} was already used with other keys at line ${prev.line}`,
      );
    }
  }
  return unique;
}

/** The inbound SA configurations of every Child SA in a charon log (both directions of each). */
export function parseCharonLog(text: string): SaConfig[] {
  return parseCharonLogSas(text).map((s) => s.config);
}

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

function sameKeys(a: SaConfig, b: SaConfig): boolean {
  const eq = (x?: Uint8Array, y?: Uint8Array): boolean =>
    (x?.length ?? -1) === (y?.length ?? -1) && (x ?? []).every((v, i) => v === y![i]);
  return a.esp === b.esp && eq(a.encKey, b.encKey) && eq(a.integKey, b.integKey);
}

/** strongSwan's ESP transform names (libstrongswan crypto names, as `%P` prints a proposal), from the suite registry. */
const ENCRYPTION: ReadonlyMap<string, { cipher: Cipher; icv?: number }> = new Map(
  CIPHERS.map((r) => [r.charon, r.combined ? { cipher: r.family, icv: r.icvBytes } : { cipher: r.family }]),
);
const INTEGRITY: Record<string, { hash: Hash; icv: number } | undefined> = Object.fromEntries(
  INTEGS.map((r) => [r.charon, { hash: r.hmac, icv: r.icvBytes }]),
);
/** `AES_GCM_16_128` → the row name `AES_GCM_16` and 128 bits; `NULL` → itself. */
function encryptionOf(p: string): { name: string; bits?: number } | undefined {
  for (const name of ENCRYPTION.keys()) {
    if (p === name) return { name };
    const rest = p.startsWith(`${name}_`) ? p.slice(name.length + 1) : "";
    if (/^\d+$/.test(rest)) return { name, bits: Number(rest) };
  }
  return undefined;
}
const FAMILY_LIST = [...new Set(CIPHERS.map((r) => r.family))]
  .map((f) => (f === "null" ? "NULL" : FAMILIES[f].title))
  .join(", ");

function suiteOf(
  proposal: string,
  keys: Partial<Record<KeyName, Uint8Array>>,
  where: string,
): { esp: string; icvLength: IcvLength; esn: boolean; integKeyBytes: number } {
  const fail = (why: string): never => {
    throw new SaFileError(`${where}: ESP:${proposal}: ${why}`);
  };
  const parts = proposal.split("/");
  let enc: { cipher: Cipher; icv?: number; bits?: number } | undefined;
  let integ: { hash: Hash; icv: number } | undefined;
  let esn = false;
  for (const p of parts) {
    const e = encryptionOf(p);
    if (e) {
      enc = { ...ENCRYPTION.get(e.name)!, bits: e.bits };
    } else if (
      p.startsWith("HMAC_") ||
      p.startsWith("AES_XCBC") ||
      p.startsWith("AES_CMAC") ||
      p.startsWith("AES_GMAC")
    ) {
      integ = INTEGRITY[p] ?? fail(`integrity algorithm ${p} is not supported (${Object.keys(INTEGRITY).join(", ")})`);
    } else if (p === "EXT_SEQ") {
      esn = true;
    } else if (p === "NO_EXT_SEQ") {
      esn = false;
    } else if (/^(3DES|DES|BLOWFISH|CAMELLIA|CAST|SERPENT|TWOFISH|AES_CCM|IDEA|RC5)/.test(p)) {
      fail(`encryption algorithm ${p} is not supported (${FAMILY_LIST})`);
    }
    // Anything else is a key exchange method of a rekey with PFS (CURVE_25519, ECP_256, MODP_2048, …).
  }
  if (!enc) return fail("no supported encryption algorithm");
  const encKey = keys["encryption initiator"] ?? new Uint8Array(0);
  const aead = enc.icv !== undefined;
  if (aead && integ) fail("an AEAD or GMAC transform with a separate integrity algorithm");
  if (!aead && !integ)
    fail(
      `${enc.cipher === "null" ? "NULL encryption" : "this cipher"} without an integrity algorithm is not supported`,
    );
  let suite: { esp: EspSuite; icvLength: IcvLength };
  try {
    suite = suiteFor(enc.cipher, encKey.length, integ?.hash, aead ? enc.icv! : integ!.icv);
  } catch (err) {
    return fail((err as Error).message);
  }
  if (enc.bits !== undefined && enc.cipher !== "chacha20-poly1305") {
    const aesBytes = parseSuite(suite.esp).aesKeyBytes;
    if (aesBytes * 8 !== enc.bits)
      fail(`the logged encryption key (${encKey.length} bytes) does not fit ${enc.bits}-bit AES`);
  }
  const integKeyBytes = parseSuite(suite.esp).integKeyBytes;
  for (const side of ["initiator", "responder"] as const) {
    const k = keys[`encryption ${side}`] ?? new Uint8Array(0);
    if (k.length !== encKey.length)
      fail(`the encryption ${side} key has ${k.length} bytes, the other ${encKey.length}`);
    if (integKeyBytes > 0) {
      const ik = keys[`integrity ${side}`];
      if (!ik) fail(`no integrity ${side} key logged`);
      if (ik!.length !== integKeyBytes)
        fail(`the integrity ${side} key has ${ik!.length} bytes, ${suite.esp} takes ${integKeyBytes}`);
    }
  }
  return { esp: suite.esp, icvLength: suite.icvLength, esn, integKeyBytes };
}
