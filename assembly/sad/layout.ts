// Linear-memory layout of the dataplane. Everything is allocated once by `init` (or per SA by
// the key allocator); the hot path never allocates.
import { STATUS_SLOTS } from "../esp/status";

// ---- SA slot ("meta"): fixed size, indexed by slot number --------------------------------------
export const SA_META_BYTES: i32 = 256;
export const M_FLAGS: i32 = 0;        // u32, F_* below
export const M_SPI: i32 = 4;          // u32
export const M_KIND: i32 = 8;         // u32, KIND_*
export const M_ROUNDS: i32 = 12;      // u32, AES rounds (0 for NULL)
export const M_ICV: i32 = 16;         // u32, ICV bytes on the wire
export const M_HASH: i32 = 20;        // u32, HASH_* id for HMAC suites
export const M_KEY_PTR: i32 = 24;     // u32, key block (AES schedule / GCM context / HMAC states)
export const M_KEY_BYTES: i32 = 28;   // u32
export const M_SEQ: i32 = 32;         // u64, out: last sequence number sent; in: highest accepted
export const M_WINDOW: i32 = 40;      // u32, replay window in packets (0 = off)
export const M_BITMAP: i32 = 44;      // u32, replay bitmap (u64 blocks)
export const M_BITMAP_BLOCKS: i32 = 48; // u32, power of two
export const M_SALT: i32 = 52;        // 4 bytes: GCM/GMAC salt, CTR nonce, ChaCha20-Poly1305 salt; CCM: 3-byte salt
export const M_HMAC_OFF: i32 = 56;    // u32, offset of the HMAC context inside the key block
export const M_IV_LEN: i32 = 60;      // u32, 8 (GCM, GMAC, CTR, ChaCha20), 16 (CBC), 0 (NULL)
export const M_ALIGN: i32 = 64;       // u32, padding alignment: 16 (CBC) or 4
export const M_LIFE: i32 = 68;        // u32, lifetime state: soft reason (bits 0-7), hard reason (8-15), R_* in lifetime.ts
// The hot path compares the counters with these; reaching one runs the lifetime slow path.
export const M_LIM_PACKETS: i32 = 72; // u64, next packet count at which a soft or hard limit is reached
export const M_LIM_BYTES: i32 = 80;   // u64, same for bytes
export const M_LIM_SEQ: i32 = 88;     // u64, outbound: sequence number that raises the soft "sequence" event
export const M_PACKETS: i32 = 96;     // u64
export const M_BYTES: i32 = 104;      // u64
export const M_DROPS: i32 = 112;      // u64[STATUS_SLOTS]
export const M_TFC: i32 = 240;        // u32, tunnel mode: pad inner packets to this many bytes (0 = no TFC padding)
export const M_LIFE_PTR: i32 = 244;   // u32, block of limits (soft packets, soft bytes, hard packets, hard bytes: u64), 0 = none
export const M_AH_OUTER: i32 = 248;   // u32, AH tunnel mode outbound: block with the outer IP header template (ah.ts)
// 112 + 16*8 = 240; 252 <= SA_META_BYTES

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

export const KIND_GCM: u32 = 1;
export const KIND_CBC_HMAC: u32 = 2;
export const KIND_NULL_HMAC: u32 = 3;
export const KIND_CTR_HMAC: u32 = 4;  // RFC 3686 AES-CTR with an HMAC
export const KIND_GMAC: u32 = 5;      // RFC 4543 AES-GMAC: integrity only, payload in the clear
export const KIND_CHACHA: u32 = 6;    // RFC 7634 ChaCha20-Poly1305
export const KIND_CCM: u32 = 7;       // RFC 4309 AES-CCM

// ---- Batch descriptors --------------------------------------------------------------------------
export const DESC_BYTES: i32 = 48;
export const D_IN_OFF: i32 = 0;     // u32 absolute pointer of the input bytes
export const D_IN_LEN: i32 = 4;     // u32
export const D_SA: i32 = 8;         // i32 encap: SA slot (in); decap: matched slot or -1 (out)
export const D_STATUS: i32 = 12;    // u32 (out)
export const D_OUT_OFF: i32 = 16;   // u32 (out)
export const D_OUT_LEN: i32 = 20;   // u32 (out)
export const D_SEQ: i32 = 24;       // u64 (out)
export const D_SPI: i32 = 32;       // u32 (out)
export const D_L3_LEN: i32 = 36;    // u32 decap: bytes of IP header before the SPI (in)
export const D_NEXT_HDR: i32 = 40;  // u32 decap: out; encap: in 59 asks for a dummy packet (RFC 4303 §2.6), out the value sent

/** Bytes kept free in front of every packet slot: ESP header + IV, and room to slide a transport header. */
export const HEADROOM: i32 = 64;
/** Bytes kept free behind the input: padding (<=17), pad length, next header, ICV (<=32). */
export const TAILROOM: i32 = 64;

// ---- Regions, set by init -----------------------------------------------------------------------
export let maxSas: i32 = 0;
export let metaBase: usize = 0;
export let freeSlots: usize = 0;      // i32 stack of free slot numbers
export let freeTop: i32 = 0;
export let batchMax: i32 = 0;
export let slotBytes: i32 = 0;
export let arenaBase: usize = 0;
export let descBase: usize = 0;
export let ivPool: usize = 0;         // batchMax * 16 random bytes, refilled by the SDK before encap
export let keyStage: usize = 0;       // 256 bytes where the SDK stages key bytes for sa_add
export let scratch: usize = 0;        // 256 bytes for nonces, AADs, computed ICVs
export let globalCounters: usize = 0; // u64[STATUS_SLOTS]
export let lifeEvents: usize = 0;     // [count u32, overflowed u32, slot u32 * LIFE_EVENT_CAP]

export function setRegions(
  nSas: i32, meta: usize, free: usize, nBatch: i32, slot: i32, arena: usize, desc: usize,
  iv: usize, stage: usize, scr: usize, glob: usize, events: usize,
): void {
  maxSas = nSas; metaBase = meta; freeSlots = free; batchMax = nBatch; slotBytes = slot;
  arenaBase = arena; descBase = desc; ivPool = iv; keyStage = stage; scratch = scr; globalCounters = glob;
  lifeEvents = events;
}
export function setFreeTop(v: i32): void { freeTop = v; }

// @ts-ignore: decorator
@inline export function metaOf(slot: i32): usize {
  return metaBase + <usize>slot * <usize>SA_META_BYTES;
}

// @ts-ignore: decorator
@inline export function countDrop(meta: usize, status: u32): void {
  const p = meta + M_DROPS + (<usize>status << 3);
  store<u64>(p, load<u64>(p) + 1);
}

// @ts-ignore: decorator
@inline export function countGlobal(status: u32): void {
  const p = globalCounters + (<usize>status << 3);
  store<u64>(p, load<u64>(p) + 1);
}

export const GLOBAL_COUNTER_BYTES: i32 = STATUS_SLOTS * 8;

/** SAs whose lifetime state changed, queued for the SDK between batches (it empties the queue). */
export const LIFE_EVENT_CAP: i32 = 1024;
export const LIFE_EVENT_BYTES: i32 = 8 + LIFE_EVENT_CAP * 4;

// @ts-ignore: decorator
@inline export function slotOf(meta: usize): i32 {
  return <i32>((meta - metaBase) / <usize>SA_META_BYTES);
}
