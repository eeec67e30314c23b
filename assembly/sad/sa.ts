// Security Association slots: add (key setup into a per-SA block, SPI index for inbound),
// remove (keys zeroed, slot and blocks recycled).
import {
  SA_META_BYTES, M_FLAGS, M_SPI, M_KIND, M_ROUNDS, M_ICV, M_HASH, M_KEY_PTR, M_KEY_BYTES, M_SEQ, M_WINDOW,
  M_BITMAP, M_BITMAP_BLOCKS, M_REPLAY_INLINE, REPLAY_INLINE_BLOCKS, M_KEY_INLINE, KEY_INLINE_BYTES, M_SALT, M_HMAC_OFF, M_IV_LEN, M_ALIGN, M_TFC, M_LIFE_PTR, M_AH_OUTER, F_IN_USE,
  F_INBOUND, F_TRANSPORT, F_VERIFY_ONLY, F_AH, KIND_GCM, KIND_CBC_HMAC, KIND_NULL_HMAC, KIND_CTR_HMAC,
  KIND_GMAC, KIND_CHACHA, KIND_CCM, HEADROOM, TAILROOM, STAGE_INTEG_OFF, ERR_NO_SLOT, ERR_DUPLICATE_SPI, ERR_ENC_KEY,
  ERR_WINDOW, ERR_NO_MEMORY, ERR_ICV, ERR_INTEG_KEY, ERR_KIND, ERR_BAD_SLOT, ERR_VERIFY_ONLY, ERR_TFC,
 F_NATIVE_AES,
} from "../abi";
import {
  metaOf, keyStage, maxSas, freeSlots, freeTop, setFreeTop, slotBytes, AH_OUTER_BYTES,
} from "./layout";
import { lifetimeInit, lifetimeSet, lifeMark, LIMITS_BYTES } from "./lifetime";
import { blockAlloc, blockFree } from "./blocks";
import { spiInsert, spiRemove } from "./spi-table";
import { replayBlocks } from "./replay";
import { gcmContextBytes, gcmInit, gcmForget } from "../crypto/gcm";
import { ccmContextBytes, ccmInit, ccmForget } from "../crypto/ccm";
import { aesKeyBytes, aesExpandKey, aesForget } from "../crypto/aes";
import { hmacContextBytes, hmacInit, hashDigestBytes } from "../crypto/hmac";
import { chachaPolyContextBytes, chachaPolyInit } from "../crypto/chacha20poly1305";

/**
 * Adds an SA from keys staged at keyStage (encryption key at 0, for GCM, GMAC and ChaCha20-Poly1305
 * followed by the 4-byte salt, for CCM by the 3-byte salt, for CTR by the 4-byte nonce; integrity key at STAGE_INTEG_OFF).
 * With F_VERIFY_ONLY (inbound only) the SA holds no encryption key: HMAC suites get encKeyLen 0,
 * GMAC its key and salt (GMAC's key is an integrity key); AEAD suites are refused (ERR_VERIFY_ONLY),
 * because their ICV is keyed by the encryption key. Returns the slot, or a negative ERR_* with
 * nothing changed.
 */
export function saAdd(
  spi: u32, flags: u32, kind: u32, encKeyLen: i32, integKeyLen: i32, hashAlg: i32,
  icvLen: i32, window: u32, seq: u64,
): i32 {
  if (freeTop == 0) return ERR_NO_SLOT;
  if (window != 0 && (window < 32 || window > 4096)) return ERR_WINDOW;
  const verifyOnly = (flags & F_VERIFY_ONLY) != 0;
  if (verifyOnly && ((flags & F_INBOUND) == 0 || kind == KIND_GCM || kind == KIND_CHACHA || kind == KIND_CCM)) return ERR_VERIFY_ONLY;
  if ((flags & F_AH) != 0 && kind != KIND_NULL_HMAC) return ERR_KIND; // AH: an HMAC over the packet, nothing else
  let aesLen = 0;
  let keyBytes = 0;
  let hmacOff = 0;
  if (kind == KIND_GCM || kind == KIND_GMAC) {
    aesLen = encKeyLen - 4;
    if (aesLen != 16 && aesLen != 24 && aesLen != 32) return ERR_ENC_KEY;
    if (kind == KIND_GMAC ? icvLen != 16 : icvLen != 8 && icvLen != 12 && icvLen != 16) return ERR_ICV;
    keyBytes = gcmContextBytes(aesLen);
  } else if (kind == KIND_CCM) {
    aesLen = encKeyLen - 3; // RFC 4309 §7.1: AES key then a 3-byte salt
    if (aesLen != 16 && aesLen != 24 && aesLen != 32) return ERR_ENC_KEY;
    if (icvLen != 8 && icvLen != 12 && icvLen != 16) return ERR_ICV;
    keyBytes = ccmContextBytes(aesLen);
  } else if (kind == KIND_CHACHA) {
    if (encKeyLen != 36) return ERR_ENC_KEY; // 32-byte key + 4-byte salt (RFC 7634 §2)
    if (icvLen != 16) return ERR_ICV;
    keyBytes = chachaPolyContextBytes();
  } else if (kind == KIND_CBC_HMAC || kind == KIND_CTR_HMAC || kind == KIND_NULL_HMAC) {
    if (verifyOnly || kind == KIND_NULL_HMAC) {
      if (encKeyLen != 0) return ERR_ENC_KEY;
    } else {
      aesLen = kind == KIND_CTR_HMAC ? encKeyLen - 4 : encKeyLen;
      if (aesLen != 16 && aesLen != 24 && aesLen != 32) return ERR_ENC_KEY;
      hmacOff = (aesKeyBytes(aesLen, 1) + 15) & ~15;
    }
    const digest = hashDigestBytes(hashAlg);
    if (digest == 0) return ERR_KIND;
    if (icvLen < 12 || icvLen > digest) return ERR_ICV;
    if (integKeyLen <= 0 || integKeyLen > 128) return ERR_INTEG_KEY;
    keyBytes = hmacOff + hmacContextBytes(hashAlg);
  } else {
    return ERR_KIND;
  }

  const inbound = (flags & F_INBOUND) != 0;
  const slot = load<i32>(freeSlots + (<usize>(freeTop - 1) << 2));
  if (inbound && !spiInsert(spi, slot)) return ERR_DUPLICATE_SPI;

  const meta = metaOf(slot);
  const keyInline = keyBytes <= KEY_INLINE_BYTES;
  const keyPtr = keyInline ? meta + M_KEY_INLINE : blockAlloc(keyBytes);
  let blocks: u32 = 0;
  let bitmap: usize = 0;
  if (inbound && window != 0) {
    blocks = replayBlocks(window);
    // A small window's bitmap lives in the slot's second line: no line or page of its own.
    bitmap = blocks <= <u32>REPLAY_INLINE_BLOCKS ? meta + M_REPLAY_INLINE : blockAlloc(<i32>blocks << 3);
  }
  if (keyPtr == 0 || (blocks != 0 && bitmap == 0)) {
    if (keyPtr != 0 && !keyInline) blockFree(keyPtr, keyBytes);
    if (inbound) spiRemove(spi);
    return ERR_NO_MEMORY;
  }
  setFreeTop(freeTop - 1);

  memory.fill(meta, 0, SA_META_BYTES);
  let rounds = 0;
  let ivLen = 8;
  let align = 4;
  if (kind == KIND_GCM || kind == KIND_GMAC) {
    rounds = gcmInit(keyStage, aesLen, keyPtr);
    memory.copy(meta + M_SALT, keyStage + aesLen, 4);
  } else if (kind == KIND_CCM) {
    rounds = ccmInit(keyStage, aesLen, keyPtr);
    memory.copy(meta + M_SALT, keyStage + aesLen, 3);
  } else if (kind == KIND_CHACHA) {
    chachaPolyInit(keyStage, keyPtr);
    memory.copy(meta + M_SALT, keyStage + 32, 4);
  } else {
    if (aesLen != 0) {
      rounds = aesExpandKey(keyStage, aesLen, keyPtr, 1);
      if (kind == KIND_CTR_HMAC) memory.copy(meta + M_SALT, keyStage + aesLen, 4);
    }
    if (kind == KIND_CBC_HMAC) { ivLen = 16; align = 16; }
    else if (kind == KIND_NULL_HMAC) ivLen = 0;
    hmacInit(hashAlg, keyStage + STAGE_INTEG_OFF, integKeyLen, keyPtr + hmacOff);
  }
  store<u8>(meta, <u8>ivLen, M_IV_LEN);
  store<u8>(meta, <u8>align, M_ALIGN);
  store<u32>(meta, flags | F_IN_USE, M_FLAGS);
  store<u32>(meta, spi, M_SPI);
  store<u8>(meta, <u8>kind, M_KIND);
  store<u8>(meta, <u8>rounds, M_ROUNDS);
  store<u8>(meta, <u8>icvLen, M_ICV);
  store<u8>(meta, <u8>hashAlg, M_HASH);
  store<u32>(meta, <u32>keyPtr, M_KEY_PTR);
  store<u32>(meta, <u32>keyBytes, M_KEY_BYTES);
  store<u16>(meta, <u16>hmacOff, M_HMAC_OFF);
  store<u64>(meta, seq, M_SEQ);
  store<u32>(meta, inbound ? window : 0, M_WINDOW);
  store<u32>(meta, <u32>bitmap, M_BITMAP);
  store<u32>(meta, blocks, M_BITMAP_BLOCKS);
  lifetimeInit(meta);
  memory.fill(keyStage, 0, 256);
  return slot;
}

export function liveMeta(slot: i32): usize {
  if (slot < 0 || slot >= maxSas) return 0;
  const meta = metaOf(slot);
  return (load<u32>(meta, M_FLAGS) & F_IN_USE) != 0 ? meta : 0;
}

/** Packet and byte limits of an SA (u64 max = none). Returns 0 or a negative ERR_*. */
export function saSetLifetime(slot: i32, softPackets: u64, softBytes: u64, hardPackets: u64, hardBytes: u64): i32 {
  const meta = liveMeta(slot);
  if (meta == 0) return ERR_BAD_SLOT;
  return lifetimeSet(meta, softPackets, softBytes, hardPackets, hardBytes) < 0 ? ERR_NO_MEMORY : 0;
}

/** The SDK's clock reached a soft (hard = 0) or hard time limit. Returns 1 when the state changed, 0 if not, or ERR_BAD_SLOT. */
export function saLifeMark(slot: i32, hard: i32, reason: u32): i32 {
  const meta = liveMeta(slot);
  if (meta == 0) return ERR_BAD_SLOT;
  return lifeMark(meta, hard != 0, reason);
}

/**
 * TFC padding (RFC 4303 §2.7) for a tunnel-mode outbound SA: inner packets shorter than `len`
 * bytes are padded with zeros to `len` before the ESP trailer. 0 turns it off. Returns 0 or ERR_TFC
 * (transport mode, inbound, or longer than a packet slot holds).
 */
export function saSetTfc(slot: i32, len: i32): i32 {
  const meta = liveMeta(slot);
  if (meta == 0) return ERR_BAD_SLOT;
  const flags = load<u32>(meta, M_FLAGS);
  if ((flags & (F_INBOUND | F_TRANSPORT)) != 0 || len < 0 || len > slotBytes - HEADROOM - TAILROOM) return ERR_TFC;
  store<u32>(meta, <u32>len, M_TFC);
  return 0;
}

/** Deletes an SA: keys and replay state zeroed, SPI unindexed, slot reusable. */
export function saRemove(slot: i32): i32 {
  if (slot < 0 || slot >= maxSas) return ERR_BAD_SLOT;
  const meta = metaOf(slot);
  const flags = load<u32>(meta, M_FLAGS);
  if ((flags & F_IN_USE) == 0) return ERR_BAD_SLOT;
  if ((flags & F_INBOUND) != 0) spiRemove(load<u32>(meta, M_SPI));
  const keys = <usize>load<u32>(meta, M_KEY_PTR);
  // The one-entry caches of expanded keys (GHASH powers, bitsliced AES) may hold this SA's:
  // each forget is a pointer compare, and wipes the cache only when it is this SA's.
  const kind = <u32>load<u8>(meta, M_KIND);
  if (kind == KIND_GCM || kind == KIND_GMAC) gcmForget(keys);
  else if (kind == KIND_CCM) ccmForget(keys);
  else aesForget(keys); // CBC and CTR keep their AES round keys first
  if (keys != meta + M_KEY_INLINE) blockFree(keys, <i32>load<u32>(meta, M_KEY_BYTES));
  const bitmap = <usize>load<u32>(meta, M_BITMAP);
  if (bitmap != 0 && bitmap != meta + M_REPLAY_INLINE) blockFree(bitmap, <i32>load<u32>(meta, M_BITMAP_BLOCKS) << 3);
  const limits = <usize>load<u32>(meta, M_LIFE_PTR);
  if (limits != 0) blockFree(limits, LIMITS_BYTES);
  const outer = <usize>load<u32>(meta, M_AH_OUTER);
  if (outer != 0) blockFree(outer, AH_OUTER_BYTES);
  memory.fill(meta, 0, SA_META_BYTES);
  store<i32>(freeSlots + (<usize>freeTop << 2), slot);
  setFreeTop(freeTop + 1);
  return 0;
}

/** Marks (on != 0) or unmarks an SA as having a native AES object in the SDK; 0, or ERR_BAD_SLOT. */
export function saSetNative(slot: i32, on: i32): i32 {
  if (slot < 0 || slot >= maxSas) return ERR_BAD_SLOT;
  const meta = metaOf(slot);
  const flags = load<u32>(meta, M_FLAGS);
  if ((flags & F_IN_USE) == 0) return ERR_BAD_SLOT;
  store<u32>(meta, on != 0 ? flags | F_NATIVE_AES : flags & ~F_NATIVE_AES, M_FLAGS);
  return 0;
}
