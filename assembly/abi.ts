// The wasm ABI: every number the SDK and the wasm must agree on, in one place. assembly/ imports
// these; scripts/gen-abi.mjs reads this file (and the exports of assembly/index.ts) and writes
// sdk/dataplane/abi.generated.ts, so the SDK never copies a value by hand. `npm run build`
// regenerates it; `node scripts/gen-abi.mjs --check` (npm test, .ci/run) fails when it is stale.
//
// Form the generator reads: `export const NAME: type = value;` with an integer literal or an
// expression of constants declared above it. The prefix puts a constant in its table
// (ST_ statuses, M_ SA meta offsets, F_ SA flags, KIND_ suite kinds, HASH_ hash ids, D_ batch
// descriptor offsets, R_ lifetime reasons, ERR_ sa_add errors, LE_ lifetime event queue).
// This file imports nothing: it is the lowest layer of assembly/.

// ---- Packet status codes: one per drop reason, each a counter per SA and globally ----------------
// The SDK's status names are these names, lower case with '-' (ST_NO_SA is "no-sa"); codes run
// 0, 1, 2, ... without gaps.
export const ST_OK: u32 = 0;
export const ST_NO_SA: u32 = 1;
export const ST_REPLAY: u32 = 2;
export const ST_INTEGRITY_FAILED: u32 = 3;
export const ST_BAD_PADDING: u32 = 4;
export const ST_TRUNCATED: u32 = 5;
export const ST_SEQ_OVERFLOW: u32 = 6;
export const ST_LIFETIME_EXPIRED: u32 = 7;
export const ST_DUMMY: u32 = 8;
export const ST_BAD_NEXT_HEADER: u32 = 9;
export const ST_TOO_BIG: u32 = 10;
export const ST_INVALID_SA: u32 = 11;
export const ST_MALFORMED_INNER: u32 = 12;
/** Number of counters reserved per SA and globally (room for later codes). */
export const STATUS_SLOTS: i32 = 16;

// ---- SA slot ("meta"): fixed size, indexed by slot number ------------------------------------------
// Slots start on a 64-byte boundary (init aligns the region), so each group below is one cache line.
// Line 0 holds everything decap reads or writes for a packet of an SA without replay protection;
// line 1 what replay protection (its bitmap inline for windows up to 64) and encap add; the drop
// counters, read only by the SDK and bumped only for dropped packets, fill the last two lines.
export const SA_META_BYTES: i32 = 320;
// Line 0 (bytes 0..63): the hot line.
export const M_FLAGS: i32 = 0;        // u32, F_* below
export const M_KIND: i32 = 4;         // u8, KIND_*
export const M_ROUNDS: i32 = 5;       // u8, AES rounds (0 for NULL)
export const M_ICV: i32 = 6;          // u8, ICV bytes on the wire
export const M_HASH: i32 = 7;         // u8, HASH_* id for HMAC suites
export const M_IV_LEN: i32 = 8;       // u8, 8 (GCM, GMAC, CTR, ChaCha20), 16 (CBC), 0 (NULL)
export const M_ALIGN: i32 = 9;        // u8, padding alignment: 16 (CBC) or 4
export const M_HMAC_OFF: i32 = 10;    // u16, offset of the HMAC context inside the key block
export const M_KEY_PTR: i32 = 12;     // u32, key block (AES schedule / GCM context / HMAC states)
export const M_SALT: i32 = 16;        // 4 bytes: GCM/GMAC salt, CTR nonce, ChaCha20-Poly1305 salt; CCM: 3-byte salt
export const M_WINDOW: i32 = 20;      // u32, replay window in packets (0 = off)
export const M_PACKETS: i32 = 24;     // u64
export const M_SEQ: i32 = 32;         // u64, out: last sequence number sent; in: highest accepted
export const M_BYTES: i32 = 40;       // u64
// The hot path compares the counters with these; reaching one runs the lifetime slow path.
export const M_LIM_PACKETS: i32 = 48; // u64, next packet count at which a soft or hard limit is reached
export const M_LIM_BYTES: i32 = 56;   // u64, same for bytes
// Line 1 (bytes 64..127): replay bitmap, outbound fields, lifetime and cold pointers.
export const M_SPI: i32 = 64;         // u32
export const M_BITMAP: i32 = 68;      // u32, replay bitmap (u64 blocks): M_REPLAY_INLINE of this slot, or a block
export const M_BITMAP_BLOCKS: i32 = 72; // u32, power of two
export const M_TFC: i32 = 76;         // u32, tunnel mode: pad inner packets to this many bytes (0 = no TFC padding)
export const M_LIM_SEQ: i32 = 80;     // u64, outbound: sequence number that raises the soft "sequence" event
export const M_LIFE: i32 = 88;        // u32, lifetime state: soft reason (bits 0-7), hard reason (8-15), R_* below
export const M_KEY_BYTES: i32 = 92;   // u32
export const M_LIFE_PTR: i32 = 96;    // u32, block of limits (soft packets, soft bytes, hard packets, hard bytes: u64), 0 = none
export const M_AH_OUTER: i32 = 100;   // u32, AH tunnel mode outbound: block with the outer IP header template (esp/ah.ts)
/** Replay bitmap kept in the slot when the window needs at most this many u64 blocks (windows up to 64). */
export const REPLAY_INLINE_BLOCKS: i32 = 2;
export const M_REPLAY_INLINE: i32 = 112; // u64[REPLAY_INLINE_BLOCKS]
// Line 2 (bytes 128..191): key material of at most 64 bytes (HMAC-SHA-1/SHA-256 contexts of the
// NULL suites, the ChaCha20-Poly1305 key), so those SAs need no key block of their own.
/** Key blocks of at most this many bytes are kept in the slot instead of a block of their own. */
export const KEY_INLINE_BYTES: i32 = 64;
export const M_KEY_INLINE: i32 = 128; // u8[KEY_INLINE_BYTES]; M_KEY_PTR points here when the key fits
// Lines 3-4 (bytes 192..319): cold.
export const M_DROPS: i32 = 192;      // u64[STATUS_SLOTS], indexed by ST_*
// 192 + 16*8 = 320 = SA_META_BYTES

// ---- SA flags (sa_add's `flags`, kept in M_FLAGS) --------------------------------------------------
export const F_IN_USE: u32 = 1;
export const F_INBOUND: u32 = 2;
export const F_TRANSPORT: u32 = 4;
export const F_ESN: u32 = 8;
/** A hard lifetime limit was reached: every further packet fails with lifetime-expired. */
export const F_EXPIRED: u32 = 16;
/** Inbound integrity gateway (RFC 4301 has no name for it; "Type 4"): verify ICV and replay, forward unchanged. */
export const F_VERIFY_ONLY: u32 = 32;
/** Authentication Header (RFC 4302) instead of ESP: HMAC over the IP packet with mutable fields zeroed. */
export const F_AH: u32 = 64;
/**
 * The SDK holds a native AES object for this SA (sdk/dataplane/native-aes.ts, set by
 * sa_set_native): in a native batch its AES-GCM/CTR counter blocks or AES-CBC ciphertext go to it.
 */
export const F_NATIVE_AES: u32 = 128;

// ---- Suite kinds (sa_add's `kind`) ---------------------------------------------------------------
export const KIND_GCM: u32 = 1;
export const KIND_CBC_HMAC: u32 = 2;
export const KIND_NULL_HMAC: u32 = 3;
export const KIND_CTR_HMAC: u32 = 4;  // RFC 3686 AES-CTR with an HMAC
export const KIND_GMAC: u32 = 5;      // RFC 4543 AES-GMAC: integrity only, payload in the clear
export const KIND_CHACHA: u32 = 6;    // RFC 7634 ChaCha20-Poly1305
export const KIND_CCM: u32 = 7;       // RFC 4309 AES-CCM

// ---- Hash ids (sa_add's `hashAlg`, cc_hmac's and cc_hash's `alg`) ---------------------------------
export const HASH_SHA1: i32 = 1;
export const HASH_SHA256: i32 = 2;
export const HASH_SHA384: i32 = 3;
export const HASH_SHA512: i32 = 4;

// ---- Batch descriptors ---------------------------------------------------------------------------
export const DESC_BYTES: i32 = 48;
export const D_IN_OFF: i32 = 0;     // u32 absolute pointer of the input bytes
export const D_IN_LEN: i32 = 4;     // u32
export const D_SA: i32 = 8;         // i32 encap: SA slot (in); decap: matched slot or -1 (out)
export const D_STATUS: i32 = 12;    // u32 (out), ST_*
export const D_OUT_OFF: i32 = 16;   // u32 (out)
export const D_OUT_LEN: i32 = 20;   // u32 (out)
export const D_SEQ: i32 = 24;       // u64 (out)
export const D_SPI: i32 = 32;       // u32 (out)
export const D_L3_LEN: i32 = 36;    // u32 decap: bytes of IP header before the SPI (in)
export const D_NEXT_HDR: i32 = 40;  // u32 decap: out; encap: in NEXT_HEADER_DUMMY asks for a dummy packet, out the value sent
/** Next Header of a dummy packet (RFC 4303 §2.6), also how the SDK asks encap_batch for one. */
export const NEXT_HEADER_DUMMY: u32 = 59;

/** Bytes kept free in front of every packet slot: ESP header + IV, and room to slide a transport header. */
export const HEADROOM: i32 = 64;
/** Bytes kept free behind the input: padding (<=17), pad length, next header, ICV (<=32). */
export const TAILROOM: i32 = 64;

// ---- Key staging (key_stage_ptr): the SDK writes keys here for sa_add, then wipes them ------------
export const KEY_STAGE_BYTES: i32 = 256;
/** Where sa_add finds the integrity key (the encryption key starts at 0). */
export const STAGE_INTEG_OFF: i32 = 128;

// ---- Lifetimes -----------------------------------------------------------------------------------
// Reasons kept in M_LIFE and passed to sa_life_mark (0 = none): a byte limit, a packet limit,
export const R_BYTES: u32 = 1;
export const R_PACKETS: u32 = 2;
// a time limit (the SDK owns the clock and marks it), or the outbound sequence number running out.
export const R_SECONDS: u32 = 3;
export const R_SEQUENCE: u32 = 4;

/** SAs whose lifetime state changed, queued for the SDK between batches (it empties the queue). */
export const LIFE_EVENT_CAP: i32 = 1024;
export const LE_COUNT: i32 = 0;      // u32, slots queued
export const LE_OVERFLOWED: i32 = 4; // u32, 1 when the queue was full: look at every SA
export const LE_SLOTS: i32 = 8;      // u32[LIFE_EVENT_CAP]
export const LIFE_EVENT_BYTES: i32 = LE_SLOTS + LIFE_EVENT_CAP * 4;

// ---- sa_add and the sa_set_* calls: negative results ----------------------------------------------
export const ERR_NO_SLOT: i32 = -1;
export const ERR_DUPLICATE_SPI: i32 = -2;
export const ERR_ENC_KEY: i32 = -3;
export const ERR_WINDOW: i32 = -4;
export const ERR_NO_MEMORY: i32 = -5;
export const ERR_ICV: i32 = -6;
export const ERR_INTEG_KEY: i32 = -7;
export const ERR_KIND: i32 = -8;
export const ERR_BAD_SLOT: i32 = -9;
export const ERR_VERIFY_ONLY: i32 = -10;
export const ERR_TFC: i32 = -11;
