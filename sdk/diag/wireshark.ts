/**
 * Keys of live SAs as Wireshark's decryption tables, so a capture of an ipsec-wasm tunnel can be
 * read in Wireshark/tshark. For debugging only: whoever holds these files can read the traffic.
 *
 * - `esp_sa` (ESP preferences, "ESP SAs"): one line per direction of a Child SA, fields
 *   `"IPv4"|"IPv6", src, dst, "0xSPI", encryption name, "0xKEY", authentication name, "0xKEY"`,
 *   every field quoted (strongSwan's save-keys plugin writes the same shape).
 * - `ikev2_decryption_table` (ISAKMP preferences): one line per IKE SA,
 *   `SPIi,SPIr,SK_ei,SK_er,"encryption",SK_ai,SK_ar,"integrity"` with bare hex, exactly as
 *   strongSwan's save-keys plugin writes it (the test compares against a line charon wrote).
 *
 * The algorithm names are the value strings of Wireshark 4.0's packet-ipsec.c / packet-isakmp.c
 * UATs (an unknown name makes Wireshark refuse the whole table, so they must match exactly).
 * Not constant time, on purpose: key bytes are turned into hex with ordinary string code, because
 * this runs only when a user asks for the keys to be written out in the clear. Runtime-neutral.
 * @module
 */
import { CIPHERS, integByIana } from "../dataplane/suite-registry.ts";
import { lookupSuite } from "../dataplane/suites.ts";

/** One direction of a Child SA with its keys. {@link ChildKeyRecord} from the IKE daemon has this shape. */
export interface EspSaKeys {
  /** Outer source and destination address of the packets this SA protects. */
  src: string;
  dst: string;
  spi: number;
  /** Dataplane suite keyword (`aes128gcm16`, `aes256-sha256_96`, `aes128ctr-sha256`, `chacha20poly1305-esn`, ...). */
  suite: string;
  /** Encryption key as the dataplane holds it: for GCM, GMAC, CTR and ChaCha20 followed by the 4-byte salt/nonce. */
  encKey: Uint8Array;
  /** Integrity key; empty for AEAD suites. */
  integKey: Uint8Array;
}

/** Wireshark's names for one ESP suite. */
export interface WiresharkEspAlgorithms {
  encryption: string;
  authentication: string;
  /** Set when Wireshark shows the traffic with a caveat (e.g. ICV not checked) or needs a newer version. */
  caveat?: string;
}

/** The IKE SA keys of `IkeSa.keys` plus its SPIs. */
export interface IkeSaKeys {
  spiI: Uint8Array;
  spiR: Uint8Array;
  skEi: Uint8Array;
  skEr: Uint8Array;
  skAi: Uint8Array;
  skAr: Uint8Array;
  /** IKEv2 encryption transform id (IANA) and key length in bits. */
  encrId: number;
  keyBits: number;
  /** IKEv2 integrity transform id; absent for AEAD. */
  integId?: number;
}

/** Wireshark has no name for an algorithm, so it cannot decrypt this SA. */
export class WiresharkExportError extends Error {
  override name = "WiresharkExportError";
}

/**
 * Wireshark's `esp_sa` algorithm names for a dataplane suite keyword. Throws
 * {@link WiresharkExportError} for a suite Wireshark cannot show.
 */
export function wiresharkEspAlgorithms(suite: string): WiresharkEspAlgorithms {
  const alg = espAlgorithms(suite.toLowerCase().replace(/-(no)?esn$/, ""), suite);
  // The high 32 bits of an extended sequence number are not on the wire and Wireshark does not infer them.
  if (/-esn$/i.test(suite))
    alg.caveat =
      "ESN: Wireshark cannot verify the ICV (and cannot decrypt AES-GCM) of an SA with extended sequence numbers";
  return alg;
}

function espAlgorithms(kw: string, suite: string): WiresharkEspAlgorithms {
  const rows = lookupSuite(kw);
  if (!rows) throw new WiresharkExportError(`no Wireshark ESP algorithm for suite '${suite}'`);
  const w = rows.cipher.wireshark;
  if ("refused" in w) throw new WiresharkExportError(`no Wireshark ESP algorithm for suite '${suite}': ${w.refused}`);
  const alg: WiresharkEspAlgorithms = { encryption: w.name, authentication: rows.integ?.wireshark ?? "NULL" };
  if (w.caveat) alg.caveat = w.caveat;
  return alg;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const quoted = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`)}"`;
const keyField = (k: Uint8Array): string => quoted(k.length ? `0x${hex(k)}` : "");

/** One `esp_sa` line (no newline) for one direction of a Child SA. */
export function espSaLine(sa: EspSaKeys): string {
  const alg = wiresharkEspAlgorithms(sa.suite);
  const family = sa.src.includes(":") ? "IPv6" : "IPv4";
  const spi = `0x${(sa.spi >>> 0).toString(16).padStart(8, "0")}`;
  const integ = alg.authentication.startsWith("ANY") || alg.authentication === "NULL" ? new Uint8Array(0) : sa.integKey;
  return [
    quoted(family),
    quoted(sa.src),
    quoted(sa.dst),
    quoted(spi),
    quoted(alg.encryption),
    keyField(sa.encKey),
    quoted(alg.authentication),
    keyField(integ),
  ].join(",");
}

/**
 * Wireshark's `ikev2_decryption_table` names for an IKE SA's transforms. Throws
 * {@link WiresharkExportError} when Wireshark cannot decrypt it (e.g. ChaCha20-Poly1305 IKE SAs).
 */
export function wiresharkIkeAlgorithms(
  encrId: number,
  keyBits: number,
  integId?: number,
): { encryption: string; integrity: string } {
  // fixed-key ciphers (NULL) match whatever key length the caller passes
  const cipher = CIPHERS.find((r) => r.iana === encrId && (r.keyBits === undefined || r.keyBits === keyBits));
  const encryption = cipher?.wiresharkIke;
  if (!cipher || !encryption)
    throw new WiresharkExportError(`no Wireshark IKEv2 encryption algorithm for transform ${encrId} (${keyBits} bits)`);
  const integrity =
    cipher.combined || integId === undefined || integId === 0 ? "NONE [RFC4306]" : integByIana(integId)?.wiresharkIke;
  if (!integrity) throw new WiresharkExportError(`no Wireshark IKEv2 integrity algorithm for transform ${integId}`);
  return { encryption, integrity };
}

/** One `ikev2_decryption_table` line (no newline), the shape strongSwan's save-keys plugin writes. */
export function ikev2DecryptionLine(k: IkeSaKeys): string {
  const alg = wiresharkIkeAlgorithms(k.encrId, k.keyBits, k.integId);
  const aead = alg.integrity === "NONE [RFC4306]";
  return [
    hex(k.spiI),
    hex(k.spiR),
    hex(k.skEi),
    hex(k.skEr),
    quoted(alg.encryption),
    aead ? "" : hex(k.skAi),
    aead ? "" : hex(k.skAr),
    quoted(alg.integrity),
  ].join(",");
}

/**
 * The two tables, kept as lines keyed by what Wireshark looks them up by (addresses + SPI for
 * ESP, the SPI pair for IKE): adding an SA again replaces its line, lines of SAs that are gone
 * stay, because a capture still holds their packets.
 */
export class WiresharkKeyTables {
  readonly #esp = new Map<string, string>();
  readonly #ike = new Map<string, string>();

  /** Starts from existing file contents (lines that do not parse as ours are kept as they are). */
  constructor(existing: { espSa?: string; ikev2?: string } = {}) {
    for (const l of lines(existing.espSa)) this.#esp.set(espKey(l), l);
    for (const l of lines(existing.ikev2)) this.#ike.set(ikeKey(l), l);
  }

  /** Adds (or replaces) one direction of a Child SA. Throws {@link WiresharkExportError}. */
  addChild(sa: EspSaKeys): void {
    const line = espSaLine(sa);
    this.#esp.set(espKey(line), line);
  }

  /** Adds (or replaces) an IKE SA. Throws {@link WiresharkExportError}. */
  addIke(k: IkeSaKeys): void {
    const line = ikev2DecryptionLine(k);
    this.#ike.set(ikeKey(line), line);
  }

  /** Contents of the `esp_sa` file. */
  espSaText(): string {
    return text(this.#esp);
  }
  /** Contents of the `ikev2_decryption_table` file. */
  ikev2Text(): string {
    return text(this.#ike);
  }
}

/** The comment Wireshark itself puts at the top of a UAT file it writes. */
const HEADER = "# This file is automatically generated, DO NOT MODIFY.";

function lines(t: string | undefined): string[] {
  return (t ?? "").split(/\r?\n/).filter((l) => l.trim() !== "" && !l.startsWith("#"));
}
function text(m: Map<string, string>): string {
  return `${HEADER}\n${[...m.values()].map((l) => `${l}\n`).join("")}`;
}
/** Family, src, dst, SPI: the first four fields. */
function espKey(line: string): string {
  return line.split(",").slice(0, 4).join(",").toLowerCase();
}
/** SPIi, SPIr. */
function ikeKey(line: string): string {
  return line.split(",").slice(0, 2).join(",").toLowerCase();
}
