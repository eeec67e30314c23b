/**
 * IKEv2 message model (RFC 7296 §3): the numbers the protocol puts on the wire and the shape of
 * every payload once decoded. The codec (codec.ts) turns bytes into these and back; the state
 * machine (ike-sa.ts) only ever sees these.
 * @module
 */

/** Exchange types (RFC 7296 §3.1). */
export const Exchange = {
  IKE_SA_INIT: 34,
  IKE_AUTH: 35,
  CREATE_CHILD_SA: 36,
  INFORMATIONAL: 37,
} as const;

/** Payload type numbers (RFC 7296 §3.2, RFC 7383 for SKF). */
export const PayloadType = {
  NONE: 0,
  SA: 33,
  KE: 34,
  IDi: 35,
  IDr: 36,
  CERT: 37,
  CERTREQ: 38,
  AUTH: 39,
  NONCE: 40,
  N: 41,
  D: 42,
  V: 43,
  TSi: 44,
  TSr: 45,
  SK: 46,
  CP: 47,
  EAP: 48,
  SKF: 53,
} as const;

/** Header flag bits (RFC 7296 §3.1). */
export const HeaderFlag = { INITIATOR: 0x08, VERSION: 0x10, RESPONSE: 0x20 } as const;

/** Security protocol IDs in proposals, notifies and deletes. */
export const ProtocolId = { IKE: 1, AH: 2, ESP: 3 } as const;

/** Transform types (RFC 7296 §3.3.2). */
export const TransformType = { ENCR: 1, PRF: 2, INTEG: 3, DH: 4, ESN: 5 } as const;

/** Transform attribute type for the key length (the only one RFC 7296 defines). */
export const ATTR_KEY_LENGTH = 14;

/** ID types (RFC 7296 §3.5). */
export const IdType = {
  IPV4_ADDR: 1,
  FQDN: 2,
  RFC822_ADDR: 3,
  IPV6_ADDR: 5,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11,
} as const;

/** AUTH methods (RFC 7296 §3.8, RFC 7427). */
export const AuthMethod = {
  RSA_SIG: 1,
  PSK: 2,
  DSS_SIG: 3,
  ECDSA_256: 9,
  ECDSA_384: 10,
  ECDSA_521: 11,
  DIGITAL_SIGNATURE: 14,
} as const;

/** Traffic selector types (RFC 7296 §3.13.1). */
export const TsType = { IPV4_ADDR_RANGE: 7, IPV6_ADDR_RANGE: 8 } as const;

/** Certificate encodings (RFC 7296 §3.6). */
export const CertEncoding = { X509_SIGNATURE: 4 } as const;

/** Notify message types used by this implementation (RFC 7296 §3.10.1 and extensions). */
export const Notify = {
  UNSUPPORTED_CRITICAL_PAYLOAD: 1,
  INVALID_IKE_SPI: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_SYNTAX: 7,
  INVALID_MESSAGE_ID: 9,
  INVALID_SPI: 11,
  NO_PROPOSAL_CHOSEN: 14,
  INVALID_KE_PAYLOAD: 17,
  AUTHENTICATION_FAILED: 24,
  SINGLE_PAIR_REQUIRED: 34,
  NO_ADDITIONAL_SAS: 35,
  INTERNAL_ADDRESS_FAILURE: 36,
  FAILED_CP_REQUIRED: 37,
  TS_UNACCEPTABLE: 38,
  INVALID_SELECTORS: 39,
  TEMPORARY_FAILURE: 43,
  CHILD_SA_NOT_FOUND: 44,
  INITIAL_CONTACT: 16384,
  SET_WINDOW_SIZE: 16385,
  ADDITIONAL_TS_POSSIBLE: 16386,
  IPCOMP_SUPPORTED: 16387,
  NAT_DETECTION_SOURCE_IP: 16388,
  NAT_DETECTION_DESTINATION_IP: 16389,
  COOKIE: 16390,
  USE_TRANSPORT_MODE: 16391,
  HTTP_CERT_LOOKUP_SUPPORTED: 16392,
  REKEY_SA: 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED: 16394,
  NON_FIRST_FRAGMENTS_ALSO: 16395,
  MOBIKE_SUPPORTED: 16396,
  MULTIPLE_AUTH_SUPPORTED: 16404,
  REDIRECT_SUPPORTED: 16406,
  CHILDLESS_IKEV2_SUPPORTED: 16418,
  IKEV2_FRAGMENTATION_SUPPORTED: 16430,
  SIGNATURE_HASH_ALGORITHMS: 16431,
} as const;

/** Notify types below this value are errors (RFC 7296 §3.10.1). */
export const NOTIFY_ERROR_MAX = 16383;

/** The fixed IKE header (RFC 7296 §3.1). SPIs are 8 bytes each. */
export interface IkeHeader {
  spiI: Uint8Array;
  spiR: Uint8Array;
  /** Type of the first payload (set by the encoder from the payload list; informative when decoded). */
  nextPayload: number;
  majorVersion: number;
  minorVersion: number;
  exchange: number;
  /** Raw flags byte; see {@link HeaderFlag}. */
  flags: number;
  messageId: number;
  /** Length of the whole message as written in the header (decoded messages only). */
  length: number;
}

/** A transform, with its key length attribute if present (RFC 7296 §3.3.2, §3.3.5). */
export interface Transform {
  type: number;
  id: number;
  /** Key length in bits (attribute 14), when the transform carries one. */
  keyLength?: number;
}

/** One proposal of an SA payload (RFC 7296 §3.3.1). */
export interface Proposal {
  /** Proposal number, 1-based. */
  num: number;
  protocolId: number;
  /** Empty for IKE_SA_INIT, 8 bytes for IKE rekey, 4 bytes for ESP/AH. */
  spi: Uint8Array;
  transforms: Transform[];
}

/** A traffic selector (RFC 7296 §3.13.1); start/end are 4 (IPv4) or 16 (IPv6) bytes. */
export interface TrafficSelector {
  tsType: number;
  ipProtocol: number;
  startPort: number;
  endPort: number;
  start: Uint8Array;
  end: Uint8Array;
}

/** A configuration attribute of a CP payload (RFC 7296 §3.15.1). */
export interface ConfigAttribute {
  type: number;
  value: Uint8Array;
}

/**
 * A decoded payload. `critical` is the critical bit of the generic header; the encoder writes it
 * as given (false when absent).
 */
export type Payload = { critical?: boolean } & (
  | { type: "SA"; proposals: Proposal[] }
  | { type: "KE"; group: number; data: Uint8Array }
  | { type: "IDi" | "IDr"; idType: number; data: Uint8Array }
  | { type: "CERT" | "CERTREQ"; encoding: number; data: Uint8Array }
  | { type: "AUTH"; method: number; data: Uint8Array }
  | { type: "NONCE"; data: Uint8Array }
  | { type: "N"; protocolId: number; spi: Uint8Array; notifyType: number; data: Uint8Array }
  | { type: "D"; protocolId: number; spiSize: number; spis: Uint8Array[] }
  | { type: "V"; data: Uint8Array }
  | { type: "TSi" | "TSr"; selectors: TrafficSelector[] }
  | { type: "CP"; cfgType: number; attributes: ConfigAttribute[] }
  | { type: "EAP"; data: Uint8Array }
  /** Encrypted payload: `innerType` is the first inner payload; `body` is IV | ciphertext | ICV as on the wire. */
  | { type: "SK"; innerType: number; body: Uint8Array }
  /** Encrypted fragment (RFC 7383): innerType is nonzero only in fragment 1. */
  | { type: "SKF"; innerType: number; fragmentNumber: number; totalFragments: number; body: Uint8Array }
  /** A payload type this implementation does not know; kept so the critical bit can be honoured. */
  | { type: "UNKNOWN"; payloadType: number; data: Uint8Array }
);

/** The payload type names above, as a union. */
export type PayloadName = Payload["type"];

/** A message: header plus the payload chain (for encrypted messages, the outer chain ending in SK/SKF). */
export interface IkeMessage {
  header: IkeHeader;
  payloads: Payload[];
}

/** Reasons a byte string is not an IKEv2 message. */
export type IkeParseErrorCode =
  | "TOO_SHORT"
  | "BAD_LENGTH"
  | "UNSUPPORTED_VERSION"
  | "BAD_PAYLOAD_LENGTH"
  | "BAD_PAYLOAD"
  | "TRAILING_BYTES"
  | "UNSUPPORTED_CRITICAL_PAYLOAD";

/** A typed decode failure: what went wrong and at which byte offset of the input. */
export interface IkeParseError {
  code: IkeParseErrorCode;
  /** Byte offset in the decoded buffer where the problem was found. */
  offset: number;
  /** One sentence, e.g. "KE payload at offset 40 is 6 bytes, shorter than its 8-byte header". */
  message: string;
  /** For UNSUPPORTED_VERSION: the major version seen (1 = IKEv1). */
  majorVersion?: number;
  /** For UNSUPPORTED_CRITICAL_PAYLOAD: the payload type number. */
  payloadType?: number;
}

/** Either a value or a typed parse error; decoding never throws. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: IkeParseError };
