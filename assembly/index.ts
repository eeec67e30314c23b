// The dataplane's flat ABI. The SDK calls these; packet work is only ever done in batches
// (encap_batch / decap_batch), never one call per packet.
import { SA_META_BYTES, DESC_BYTES, HEADROOM, TAILROOM, LIFE_EVENT_BYTES, KEY_STAGE_BYTES } from "./abi";
import {
  setRegions, setFreeTop, GLOBAL_COUNTER_BYTES, metaOf, arenaBase, descBase, ivPool, keyStage, globalCounters, maxSas, lifeEvents,
} from "./sad/layout";
import { spiTableInit, spiTableBytes, spiLookup } from "./sad/spi-table";
import { saAdd, saRemove, saSetLifetime, saLifeMark, saSetTfc, saSetNative } from "./sad/sa";
import { chunkBytes } from "./sad/blocks";
import { ahSetOuter } from "./esp/ah";
import { encapBatch, encapNativeFinish } from "./esp/encap";
import { decapBatch, decapPendingFinish } from "./esp/decap";
import { hmacLanesInit } from "./esp/hmac-lanes";
import { batchOrderInit } from "./esp/batch-order";
import { nativeInit, nativeBegin, nativeKsPtr, nativeRunsPtr, nativeRunCount } from "./esp/native-ks";

let ready = false;
/** Bytes init reserved for SA state: slots (with alignment), free list, SPI table. */
let reservedSaBytes: usize = 0;

/**
 * Allocates every region once. Returns 0, or -1 if called twice / -2 on bad sizes.
 * `hashSeed` randomizes the SPI hash (the SDK passes crypto.getRandomValues output).
 */
export function init(nSas: i32, nBatch: i32, slot: i32, hashSeed: u32): i32 {
  if (ready) return -1;
  if (nSas < 1 || nSas > 4_000_000 || nBatch < 1 || nBatch > 65536 || slot < HEADROOM + TAILROOM + 64 || (slot & 15) != 0) return -2;
  // Slots on a 64-byte boundary: each of a slot's lines (abi.ts) is one cache line.
  const meta = (heap.alloc(<usize>nSas * <usize>SA_META_BYTES + 63) + 63) & ~(<usize>63);
  memory.fill(meta, 0, <usize>nSas * <usize>SA_META_BYTES);
  const free = heap.alloc(<usize>nSas << 2);
  for (let i = 0; i < nSas; i++) store<i32>(free + (<usize>i << 2), nSas - 1 - i);
  const tableBytes = spiTableBytes(nSas);
  const table = heap.alloc(<usize>tableBytes);
  spiTableInit(table, tableBytes >>> 3, hashSeed);
  const arena = heap.alloc(<usize>nBatch * <usize>slot);
  const desc = heap.alloc(<usize>nBatch * <usize>DESC_BYTES);
  memory.fill(desc, 0, <usize>nBatch * <usize>DESC_BYTES);
  const iv = heap.alloc(<usize>nBatch << 4);
  const stage = heap.alloc(<usize>KEY_STAGE_BYTES);
  memory.fill(stage, 0, <usize>KEY_STAGE_BYTES);
  const scr = heap.alloc(256);
  const glob = heap.alloc(<usize>GLOBAL_COUNTER_BYTES);
  memory.fill(glob, 0, <usize>GLOBAL_COUNTER_BYTES);
  const events = heap.alloc(<usize>LIFE_EVENT_BYTES);
  memory.fill(events, 0, <usize>LIFE_EVENT_BYTES);
  reservedSaBytes = <usize>nSas * <usize>SA_META_BYTES + 63 + (<usize>nSas << 2) + <usize>tableBytes;
  setRegions(nSas, meta, free, nBatch, slot, arena, desc, iv, stage, scr, glob, events);
  setFreeTop(nSas);
  hmacLanesInit(nBatch);
  batchOrderInit(nBatch);
  ready = true;
  return 0;
}

export function sa_add(
  spi: u32, flags: u32, kind: u32, encKeyLen: i32, integKeyLen: i32, hashAlg: i32,
  icvLen: i32, window: u32, seqLo: u32, seqHi: u32,
): i32 {
  return saAdd(spi, flags, kind, encKeyLen, integKeyLen, hashAlg, icvLen, window, (<u64>seqHi << 32) | <u64>seqLo);
}

export function sa_remove(slot: i32): i32 { return saRemove(slot); }
/** Packet/byte lifetime limits (u64 max = none; the JS side passes BigInts). */
export function sa_set_lifetime(slot: i32, softPackets: u64, softBytes: u64, hardPackets: u64, hardBytes: u64): i32 {
  return saSetLifetime(slot, softPackets, softBytes, hardPackets, hardBytes);
}
/** A time limit the SDK's clock reached (reason: 3 = seconds). */
export function sa_life_mark(slot: i32, hard: i32, reason: u32): i32 { return saLifeMark(slot, hard, reason); }
/** TFC padding target for a tunnel-mode outbound SA (0 = off). */
export function sa_set_tfc(slot: i32, len: i32): i32 { return saSetTfc(slot, len); }
/** Outer IPv4/IPv6 header of an outbound tunnel-mode AH SA, addresses staged at key_stage_ptr (src, dst). */
export function sa_set_ah_outer(slot: i32, version: i32): i32 { return ahSetOuter(slot, version); }
export function sa_lookup(spi: u32): i32 { return spiLookup(spi); }
export function encap_batch(n: i32): i32 { nativeBegin(false, n); return encapBatch(n); }
export function decap_batch(n: i32): i32 { nativeBegin(false, n); return decapBatch(n); }

// Native AES for AES-GCM SAs (esp/native-ks.ts, sdk/dataplane/native-aes.ts): the *_native call
// frames the batch and leaves counter blocks in runs (native_runs_ptr, native_run_count: [slot,
// offset into native_ks_ptr, bytes] each); the SDK encrypts them in place; *_finish completes.
/** Reserves the keystream region (once); 0, or -1 when memory cannot grow. */
export function native_init(): i32 { return nativeInit(); }
/** Marks an SA whose AES the SDK runs natively (F_NATIVE_AES); 0, or a negative sa_add error. */
export function sa_set_native(slot: i32, on: i32): i32 { return saSetNative(slot, on); }
export function native_ks_ptr(): usize { return nativeKsPtr(); }
export function native_runs_ptr(): usize { return nativeRunsPtr(); }
export function native_run_count(): i32 { return nativeRunCount(); }
export function encap_batch_native(n: i32): i32 { nativeBegin(true, n); return encapBatch(n); }
export function encap_native_finish(n: i32): void { encapNativeFinish(n); }
export function decap_batch_native(n: i32): i32 { nativeBegin(true, n); return decapBatch(n); }
export function decap_native_finish(n: i32): i32 { return decapPendingFinish(n); }

// Layout, read once by the SDK to build its typed views.
export function sa_meta_ptr(slot: i32): usize { return metaOf(slot); }
export function arena_ptr(): usize { return arenaBase; }
export function desc_ptr(): usize { return descBase; }
export function iv_pool_ptr(): usize { return ivPool; }
export function key_stage_ptr(): usize { return keyStage; }
export function global_counters_ptr(): usize { return globalCounters; }
export function life_events_ptr(): usize { return lifeEvents; }
export function max_sas(): i32 { return maxSas; }
/** Bytes of SA state: what init reserved for maxSas SAs, plus the chunks key blocks and bitmaps were cut from. */
export function state_bytes(): f64 { return <f64>(reservedSaBytes + chunkBytes); }
export function layout_sa_meta_bytes(): i32 { return SA_META_BYTES; }
export function layout_desc_bytes(): i32 { return DESC_BYTES; }
export function layout_headroom(): i32 { return HEADROOM; }
export function layout_tailroom(): i32 { return TAILROOM; }

// Off the hot path: which ICV truncation a failing packet would verify at (assembly/diag).
export { icvProbe as icv_probe } from "./diag/icv-probe";

// Control-plane crypto for the SDK's IKEv2 (see control.ts).
export { cc_buffer, cc_hmac, cc_hash, cc_gcm_seal, cc_gcm_open, cc_ccm_seal, cc_ccm_open, cc_cbc, cc_chacha_seal, cc_chacha_open } from "./control";
