/**
 * Names for IKEv2 numbers, spelled the way strongSwan logs them, so that our log lines read like
 * charon's ("parsed IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]",
 * "selected proposal: IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519").
 *
 * Every table below was copied from strongSwan's source, not reconstructed (paths relative to
 * https://github.com/strongswan/strongswan):
 * - notify names and short names: src/libcharon/encoding/payloads/notify_payload.c
 *   (`notify_type_names`, `notify_type_short_names`)
 * - payload short names: src/libcharon/encoding/payloads/payload.c (`payload_type_short_names`);
 *   the "[ ... ]" summary itself: src/libcharon/encoding/message.c (`get_string`)
 * - transform names: src/libstrongswan/crypto/crypters/crypter.c, signers/signer.c, prfs/prf.c,
 *   key_exchange.c (diffie_hellman.c before 6.0) and transform.c; the "IKE:A/B/C" proposal form:
 *   src/libstrongswan/crypto/proposal/proposal.c (`proposal_printf_hook`, `print_alg`)
 * - EAP code/type short names: src/libstrongswan/eap/eap.c; CP attribute short names:
 *   src/libstrongswan/attributes/attributes.c (`configuration_attribute_type_short_names`)
 * strongSwan prints a number it has no name for as "(n)"; so do the functions here, except
 * where noted.
 * @module
 */
import type { Payload, Proposal } from "./message.ts";
import { TransformType } from "./message.ts";
import { CIPHERS, INTEGS } from "../dataplane/suite-registry.ts";
import { byteAt } from "../packet/bytes.ts";

const unnamed = (n: number): string => `(${n})`;

/** Exchange type names; strongSwan's `exchange_type_names` for IKEv2 (plus RFC 5723 and RFC 9242). */
const EXCHANGES: ReadonlyMap<number, string> = new Map([
  [34, "IKE_SA_INIT"],
  [35, "IKE_AUTH"],
  [36, "CREATE_CHILD_SA"],
  [37, "INFORMATIONAL"],
  [38, "IKE_SESSION_RESUME"],
  [43, "IKE_INTERMEDIATE"],
]);

/** "IKE_SA_INIT", "IKE_AUTH", ...; an unknown number gives "EXCHANGE_<n>". */
export function exchangeName(n: number): string {
  return EXCHANGES.get(n) ?? `EXCHANGE_${n}`;
}

// [number, notify_type_names, notify_type_short_names]. IANA numbers only: strongSwan's private
// ones (ME_*, MS_NOTIFY_STATUS, IKEv1 DPD) never appear in IKEv2 traffic we handle.
const NOTIFIES: ReadonlyArray<readonly [number, string, string]> = [
  [1, "UNSUPPORTED_CRITICAL_PAYLOAD", "CRIT"],
  [4, "INVALID_IKE_SPI", "INVAL_IKE_SPI"],
  [5, "INVALID_MAJOR_VERSION", "INVAL_MAJOR"],
  [7, "INVALID_SYNTAX", "INVAL_SYN"],
  [9, "INVALID_MESSAGE_ID", "INVAL_MID"],
  [11, "INVALID_SPI", "INVAL_SPI"],
  [13, "ATTRIBUTES_NOT_SUPPORTED", "ATTR_UNSUP"],
  [14, "NO_PROPOSAL_CHOSEN", "NO_PROP"],
  [16, "PAYLOAD_MALFORMED", "PLD_MAL"],
  [17, "INVALID_KE_PAYLOAD", "INVAL_KE"],
  [18, "INVALID_ID_INFORMATION", "INVAL_ID"],
  [19, "INVALID_CERT_ENCODING", "INVAL_CERTEN"],
  [20, "INVALID_CERTIFICATE", "INVAL_CERT"],
  [21, "CERT_TYPE_UNSUPPORTED", "CERT_UNSUP"],
  [22, "INVALID_CERT_AUTHORITY", "INVAL_CA"],
  [23, "INVALID_HASH_INFORMATION", "INVAL_HASH"],
  [24, "AUTHENTICATION_FAILED", "AUTH_FAILED"],
  [34, "SINGLE_PAIR_REQUIRED", "SINGLE_PAIR"],
  [35, "NO_ADDITIONAL_SAS", "NO_ADD_SAS"],
  [36, "INTERNAL_ADDRESS_FAILURE", "INT_ADDR_FAIL"],
  [37, "FAILED_CP_REQUIRED", "FAIL_CP_REQ"],
  [38, "TS_UNACCEPTABLE", "TS_UNACCEPT"],
  [39, "INVALID_SELECTORS", "INVAL_SEL"],
  [40, "UNACCEPTABLE_ADDRESSES", "UNACCEPT_ADDR"],
  [41, "UNEXPECTED_NAT_DETECTED", "UNEXPECT_NAT"],
  [42, "USE_ASSIGNED_HoA", "ASSIGNED_HoA"],
  [43, "TEMPORARY_FAILURE", "TEMP_FAIL"],
  [44, "CHILD_SA_NOT_FOUND", "NO_CHILD_SA"],
  [16384, "INITIAL_CONTACT", "INIT_CONTACT"],
  [16385, "SET_WINDOW_SIZE", "SET_WINSIZE"],
  [16386, "ADDITIONAL_TS_POSSIBLE", "ADD_TS_POSS"],
  [16387, "IPCOMP_SUPPORTED", "IPCOMP_SUP"],
  [16388, "NAT_DETECTION_SOURCE_IP", "NATD_S_IP"],
  [16389, "NAT_DETECTION_DESTINATION_IP", "NATD_D_IP"],
  [16390, "COOKIE", "COOKIE"],
  [16391, "USE_TRANSPORT_MODE", "USE_TRANSP"],
  [16392, "HTTP_CERT_LOOKUP_SUPPORTED", "HTTP_CERT_LOOK"],
  [16393, "REKEY_SA", "REKEY_SA"],
  [16394, "ESP_TFC_PADDING_NOT_SUPPORTED", "ESP_TFC_PAD_N"],
  [16395, "NON_FIRST_FRAGMENTS_ALSO", "NON_FIRST_FRAG"],
  [16396, "MOBIKE_SUPPORTED", "MOBIKE_SUP"],
  [16397, "ADDITIONAL_IP4_ADDRESS", "ADD_4_ADDR"],
  [16398, "ADDITIONAL_IP6_ADDRESS", "ADD_6_ADDR"],
  [16399, "NO_ADDITIONAL_ADDRESSES", "NO_ADD_ADDR"],
  [16400, "UPDATE_SA_ADDRESSES", "UPD_SA_ADDR"],
  [16401, "COOKIE2", "COOKIE2"],
  [16402, "NO_NATS_ALLOWED", "NO_NATS"],
  [16403, "AUTH_LIFETIME", "AUTH_LFT"],
  [16404, "MULTIPLE_AUTH_SUPPORTED", "MULT_AUTH"],
  [16405, "ANOTHER_AUTH_FOLLOWS", "AUTH_FOLLOWS"],
  [16406, "REDIRECT_SUPPORTED", "REDIR_SUP"],
  [16407, "REDIRECT", "REDIR"],
  [16408, "REDIRECTED_FROM", "REDIR_FROM"],
  [16409, "TICKET_LT_OPAQUE", "TKT_LT_OPAK"],
  [16410, "TICKET_REQUEST", "TKT_REQ"],
  [16411, "TICKET_ACK", "TKT_ACK"],
  [16412, "TICKET_NACK", "TKT_NACK"],
  [16413, "TICKET_OPAQUE", "TKT_OPAK"],
  [16414, "LINK_ID", "LINK_ID"],
  [16415, "USE_WESP_MODE", "WESP_MODE"],
  [16416, "ROHC_SUPPORTED", "ROHC_SUP"],
  [16417, "EAP_ONLY_AUTHENTICATION", "EAP_ONLY"],
  [16418, "CHILDLESS_IKEV2_SUPPORTED", "CHDLESS_SUP"],
  [16419, "QUICK_CRASH_DETECTION", "CRASH_DET"],
  [16420, "IKEV2_MESSAGE_ID_SYNC_SUPPORTED", "MSG_ID_SYN_SUP"],
  [16421, "IKEV2_REPLAY_COUNTER_SYNC_SUPPORTED", "RPL_CTR_SYN_SUP"],
  [16422, "IKEV2_MESSAGE_ID_SYNC", "MSG_ID_SYN"],
  [16423, "IPSEC_REPLAY_COUNTER_SYNC", "RPL_CTR_SYN"],
  // strongSwan spells this one "SECURE PASSWORD_METHOD"; IANA's name is used instead.
  [16424, "SECURE_PASSWORD_METHODS", "SEC_PASSWD"],
  [16425, "PSK_PERSIST", "PSK_PST"],
  [16426, "PSK_CONFIRM", "PSK_CFM"],
  [16427, "ERX_SUPPORTED", "ERX_SUP"],
  [16428, "IFOM_CAPABILITY", "IFOM_CAP"],
  [16429, "SENDER_REQUEST_ID", "SENDER_REQ_ID"],
  // IANA: IKEV2_FRAGMENTATION_SUPPORTED; strongSwan logs it without the prefix.
  [16430, "FRAGMENTATION_SUPPORTED", "FRAG_SUP"],
  [16431, "SIGNATURE_HASH_ALGORITHMS", "HASH_ALG"],
];

const NOTIFY_LONG: ReadonlyMap<number, string> = new Map(NOTIFIES.map(([n, long]) => [n, long]));
const NOTIFY_SHORT: ReadonlyMap<number, string> = new Map(NOTIFIES.map(([n, , short]) => [n, short]));

/** strongSwan's long notify name ("NO_PROPOSAL_CHOSEN", "NAT_DETECTION_SOURCE_IP"); unknown: "NOTIFY_<n>". */
export function notifyName(n: number): string {
  return NOTIFY_LONG.get(n) ?? `NOTIFY_${n}`;
}

/** strongSwan's short notify name as in "N(NATD_S_IP)"; unknown: "(n)", as charon prints it. */
export function notifyShortName(n: number): string {
  return NOTIFY_SHORT.get(n) ?? unnamed(n);
}

// Encryption and integrity names: the suite registry's `charon` column for what ipsec-wasm runs,
// plus the rest of strongSwan's enums (crypter.c, signer.c), private-use ids (>= 1024) included.
const ENCR: ReadonlyMap<number, string> = new Map(
  (
    [
      [1, "DES_IV64"],
      [2, "DES_CBC"],
      [3, "3DES_CBC"],
      [4, "RC5_CBC"],
      [5, "IDEA_CBC"],
      [6, "CAST_CBC"],
      [7, "BLOWFISH_CBC"],
      [8, "3IDEA"],
      [9, "DES_IV32"],
      [14, "AES_CCM_8"],
      [15, "AES_CCM_12"],
      [16, "AES_CCM_16"],
      [23, "CAMELLIA_CBC"],
      [24, "CAMELLIA_CTR"],
      [25, "CAMELLIA_CCM_8"],
      [26, "CAMELLIA_CCM_12"],
      [27, "CAMELLIA_CCM_16"],
      [1024, "UNDEFINED"],
      [1025, "DES_ECB"],
      [1026, "SERPENT_CBC"],
      [1027, "TWOFISH_CBC"],
      [1028, "RC2_CBC"],
      ...CIPHERS.map((r) => [r.iana, r.charon] as const),
    ] as (readonly [number, string])[]
  ).sort((x, y) => x[0] - y[0]),
);

const PRF: ReadonlyMap<number, string> = new Map([
  [1, "PRF_HMAC_MD5"],
  [2, "PRF_HMAC_SHA1"],
  [3, "PRF_HMAC_TIGER"],
  [4, "PRF_AES128_XCBC"],
  [5, "PRF_HMAC_SHA2_256"],
  [6, "PRF_HMAC_SHA2_384"],
  [7, "PRF_HMAC_SHA2_512"],
  [8, "PRF_AES128_CMAC"],
  [1024, "PRF_UNDEFINED"],
  [1025, "PRF_FIPS_SHA1_160"],
  [1026, "PRF_FIPS_DES"],
  [1027, "PRF_KEYED_SHA1"],
  [1028, "PRF_CAMELLIA128_XCBC"],
]);

const INTEG: ReadonlyMap<number, string> = new Map(
  (
    [
      [1, "HMAC_MD5_96"],
      [3, "DES_MAC"],
      [4, "KPDK_MD5"],
      [5, "AES_XCBC_96"],
      [6, "HMAC_MD5_128"],
      [7, "HMAC_SHA1_160"],
      [8, "AES_CMAC_96"],
      [9, "AES_128_GMAC"],
      [10, "AES_192_GMAC"],
      [11, "AES_256_GMAC"],
      [1024, "UNDEFINED"],
      [1025, "HMAC_SHA1_128"],
      [1027, "HMAC_SHA2_256_256"],
      [1028, "HMAC_SHA2_384_384"],
      [1029, "HMAC_SHA2_512_512"],
      [1030, "CAMELLIA_XCBC_96"],
      ...INTEGS.map((r) => [r.iana, r.charon] as const),
    ] as (readonly [number, string])[]
  ).sort((x, y) => x[0] - y[0]),
);

const DH: ReadonlyMap<number, string> = new Map([
  [0, "KE_NONE"],
  [1, "MODP_768"],
  [2, "MODP_1024"],
  [5, "MODP_1536"],
  [14, "MODP_2048"],
  [15, "MODP_3072"],
  [16, "MODP_4096"],
  [17, "MODP_6144"],
  [18, "MODP_8192"],
  [19, "ECP_256"],
  [20, "ECP_384"],
  [21, "ECP_521"],
  [22, "MODP_1024_160"],
  [23, "MODP_2048_224"],
  [24, "MODP_2048_256"],
  [25, "ECP_192"],
  [26, "ECP_224"],
  [27, "ECP_224_BP"],
  [28, "ECP_256_BP"],
  [29, "ECP_384_BP"],
  [30, "ECP_512_BP"],
  [31, "CURVE_25519"],
  [32, "CURVE_448"],
  [1024, "MODP_NULL"],
  [1025, "MODP_CUSTOM"],
]);

const ESN: ReadonlyMap<number, string> = new Map([
  [0, "NO_EXT_SEQ"],
  [1, "EXT_SEQ"],
]);

const TRANSFORM_TABLES: ReadonlyMap<number, ReadonlyMap<number, string>> = new Map([
  [TransformType.ENCR, ENCR],
  [TransformType.PRF, PRF],
  [TransformType.INTEG, INTEG],
  [TransformType.DH, DH],
  [TransformType.ESN, ESN],
]);

/**
 * strongSwan's name of a transform as in its proposal logs: "AES_GCM_16_128", "AES_CBC_256",
 * "HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256", "CURVE_25519", "NO_EXT_SEQ". A key length is appended
 * as "_<bits>" when set and nonzero. An unknown ID prints as "(id)", an unknown type as
 * "UNKNOWN_<type>_<id>" (both as strongSwan does).
 */
export function transformName(type: number, id: number, keyLength?: number): string {
  const table = TRANSFORM_TABLES.get(type);
  const name = table === undefined ? `UNKNOWN_${type}_${id}` : (table.get(id) ?? unnamed(id));
  return keyLength ? `${name}_${keyLength}` : name;
}

const PROTOCOLS: ReadonlyMap<number, string> = new Map([
  [0, "PROTO_NONE"],
  [1, "IKE"],
  [2, "AH"],
  [3, "ESP"],
  [4, "IPCOMP"],
]);

/** strongSwan's protocol_id_names: "IKE", "ESP", "AH"; "(n)" if unknown. */
export function protocolName(id: number): string {
  return PROTOCOLS.get(id) ?? unnamed(id);
}

/**
 * A proposal as strongSwan prints it: "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048".
 * Transforms are grouped by type in the order each type first appears, as `proposal_printf_hook` does.
 */
export function proposalString(p: Proposal): string {
  const types: number[] = [];
  for (const t of p.transforms) if (!types.includes(t.type)) types.push(t.type);
  const algs = types.flatMap((type) =>
    p.transforms.filter((t) => t.type === type).map((t) => transformName(t.type, t.id, t.keyLength)),
  );
  return `${PROTOCOLS.get(p.protocolId) ?? unnamed(p.protocolId)}:${algs.join("/")}`;
}

const EAP_CODES: ReadonlyMap<number, string> = new Map([
  [1, "REQ"],
  [2, "RES"],
  [3, "SUCC"],
  [4, "FAIL"],
]);

const EAP_TYPES: ReadonlyMap<number, string> = new Map([
  [1, "ID"],
  [2, "NTF"],
  [3, "NAK"],
  [4, "MD5"],
  [5, "OTP"],
  [6, "GTC"],
  [13, "TLS"],
  [18, "SIM"],
  [21, "TTLS"],
  [23, "AKA"],
  [25, "PEAP"],
  [26, "MSCHAPV2"],
  [33, "MSTLV"],
  [38, "TNC"],
  [254, "EXP"],
  [255, "XP"],
]);

const EAP_EXPANDED = 254;

/** "/REQ/ID", "/SUCC": the part charon appends to "EAP" (message.c get_string). */
function eapSuffix(data: Uint8Array): string {
  if (data.length === 0) return `/${unnamed(0)}`;
  const code = byteAt(data, 0);
  let method = "";
  // Only requests and responses carry a method type (RFC 3748 §4).
  if ((code === 1 || code === 2) && data.length > 4) {
    let type = byteAt(data, 4);
    let vendor = 0;
    if (type === EAP_EXPANDED && data.length >= 12) {
      vendor = (byteAt(data, 5) << 16) | (byteAt(data, 6) << 8) | byteAt(data, 7);
      type = ((byteAt(data, 8) << 24) | (byteAt(data, 9) << 16) | (byteAt(data, 10) << 8) | byteAt(data, 11)) >>> 0;
    }
    if (type !== 0) method = vendor !== 0 ? `/${type}-${vendor}` : `/${EAP_TYPES.get(type) ?? unnamed(type)}`;
  }
  return `/${EAP_CODES.get(code) ?? unnamed(code)}${method}`;
}

const CP_PREFIX: ReadonlyMap<number, string> = new Map([
  [1, "RQ("],
  [2, "RP("],
  [3, "S("],
  [4, "A("],
]);

const CP_ATTRIBUTES: ReadonlyMap<number, string> = new Map([
  [1, "ADDR"],
  [2, "MASK"],
  [3, "DNS"],
  [4, "NBNS"],
  [5, "EXP"],
  [6, "DHCP"],
  [7, "VER"],
  [8, "ADDR6"],
  [9, "MASK6"],
  [10, "DNS6"],
  [11, "NBNS6"],
  [12, "DHCP6"],
  [13, "SUBNET"],
  [14, "SUP"],
  [15, "SUBNET6"],
  [16, "MIP6HPFX"],
  [17, "LINK6"],
  [18, "PFX6"],
  [19, "HOA"],
]);

/**
 * A payload as it appears inside charon's "[ ... ]": SA KE No IDi IDr CERT CERTREQ AUTH D V TSi
 * TSr EAP/REQ/ID, N(NATD_S_IP), CPRQ(ADDR DNS), EF(1/2), E for SK, UNKN(<type>) for unknown types.
 */
export function payloadShortName(p: Payload): string {
  switch (p.type) {
    case "NONCE":
      return "No";
    case "N":
      return `N(${notifyShortName(p.notifyType)})`;
    case "SK":
      return "E";
    case "SKF":
      return `EF(${p.fragmentNumber}/${p.totalFragments})`;
    case "EAP":
      return `EAP${eapSuffix(p.data)}`;
    case "CP": {
      // charon writes the prefix only together with the first attribute.
      if (p.attributes.length === 0) return "CP";
      const names = p.attributes.map((a) => CP_ATTRIBUTES.get(a.type) ?? unnamed(a.type));
      return `CP${CP_PREFIX.get(p.cfgType) ?? "("}${names.join(" ")})`;
    }
    case "UNKNOWN":
      return `UNKN(${p.payloadType})`;
    default:
      return p.type;
  }
}

/**
 * charon's one-line form of a message, e.g.
 * "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) ]".
 */
export function summarizeMessage(
  exchange: number,
  isResponse: boolean,
  messageId: number,
  payloads: readonly Payload[],
): string {
  const items = payloads.map((p) => ` ${payloadShortName(p)}`).join("");
  return `${exchangeName(exchange)} ${isResponse ? "response" : "request"} ${messageId >>> 0} [${items} ]`;
}
