// ESP decapsulation (RFC 4303 §3.4) of a batch, in the order the RFC and our users rely on:
// length sanity -> SPI lookup -> lifetime -> replay pre-check -> ICV -> decrypt -> trailer checks ->
// replay window update. Nothing is decrypted before the ICV verified (except AES-CCM, whose ICV
// covers the plaintext: ccm.ts decrypts in place and restores the ciphertext when the ICV fails,
// so no plaintext of a rejected packet is left), the window never moves for a packet that
// failed, and plaintext of a rejected packet is wiped from the arena.
// A verify-only SA (integrity gateway) stops after the ICV and the window: the packet goes on
// exactly as it came, still encrypted.
//
// Constant time: the ICV is computed by the constant-time primitives (GCM/GMAC via gcm.ts, CCM via ccm.ts, HMAC
// via hmac.ts) and compared with ctEqual over its whole length; the only branch on the result is
// accept/reject, which is public. Branches before it depend on lengths, SPI, sequence number and
// flags (all on the wire or in the SA). Trailer checks branch on plaintext only after the ICV verified.
import {
  DESC_BYTES, D_IN_OFF, D_IN_LEN, D_SA, D_STATUS, D_OUT_OFF, D_OUT_LEN, D_SEQ, D_SPI, D_NEXT_HDR, D_L3_LEN,
  HEADROOM, TAILROOM, M_FLAGS, M_KIND, M_ROUNDS, M_ICV, M_HASH, M_KEY_PTR, M_HMAC_OFF, M_IV_LEN, M_ALIGN,
  M_PACKETS, M_BYTES, M_LIM_PACKETS, M_LIM_BYTES, M_WINDOW, M_BITMAP, F_TRANSPORT, F_ESN, F_EXPIRED, F_VERIFY_ONLY, KIND_GCM,
  KIND_CBC_HMAC, KIND_CTR_HMAC, KIND_GMAC, KIND_CHACHA, KIND_CCM, ST_OK, ST_NO_SA, ST_REPLAY, ST_INTEGRITY_FAILED,
  ST_BAD_PADDING, ST_TRUNCATED, ST_DUMMY, ST_BAD_NEXT_HEADER, ST_MALFORMED_INNER, ST_TOO_BIG,
  ST_LIFETIME_EXPIRED, NEXT_HEADER_DUMMY, HASH_SHA256, F_NATIVE_AES,
} from "../abi";
import {
  descBase, metaOf, scratch, slotBytes, countDrop, countGlobal,
} from "../sad/layout";
import { chachaPolyOpen } from "../crypto/chacha20poly1305";
import { lifetimeCross } from "../sad/lifetime";
import { ahProtoAt, ahDecapOne } from "./ah";
import { setBatchKey, batchOrder, batchAt } from "./batch-order";
import { spiLookup } from "../sad/spi-table";
import { inferSeq, replayCheck, replayAccept } from "../sad/replay";
import { receivedHeader, rewriteHeader, loadBe16, loadBe32, storeBe32 } from "./ip";
import { writeAad, saltNonce, ccmNonce, ctrBlock, gmacVerify } from "./aead-inputs";
import { deliver } from "./deliver";
import { gcmOpen, gcmOpenKs } from "../crypto/gcm";
import { nativeMode, nativeQueue, nativeQueueCopy, nativeKsOf, nativeEnd, xorKs, cbcXorChain } from "./native-ks";
import { hmacQueue, hmacFlush, hmacStateOf } from "./hmac-lanes";

/** decapWithSa's answer for a packet queued for the native keystream (never leaves the wasm). */
const PENDING: u32 = 0xffffffff;
import { ccmOpen } from "../crypto/ccm";
import { aesCbcDecrypt, aesCtrXor } from "../crypto/aes";
import { hmacMac } from "../crypto/hmac";
import { ctEqual } from "../crypto/ct";

/** Sink of warmSas's loads, so the compiler keeps them. */
let warmSink: u32 = 0;

/**
 * Looks up every packet's SA and touches its SPI table entry, the SA slot's first line, its key (in
 * the slot for small keys, abi.ts) and, with replay protection, the slot's second line, before any
 * packet is processed. The loads of different packets do not depend on each other, so the CPU
 * overlaps their cache and TLB misses, where the packet loop below would take them one after
 * another (an SA table of a million SAs does not fit in cache). Three passes (all table entries,
 * then all slots, then all keys) measured no faster than this one. The slots found are the keys of
 * the processing order (batch-order.ts); AH packets and packets without an SA share key -1, so
 * their order stays as it came. SPIs and slots are public: nothing secret indexes memory.
 */
function warmSas(n: i32): void {
  let acc: u32 = 0;
  for (let i = 0; i < n; i++) {
    setBatchKey(i, -1);
    const d = descBase + <usize>i * <usize>DESC_BYTES;
    const len = <i32>load<u32>(d, D_IN_LEN);
    const l3 = <i32>load<u32>(d, D_L3_LEN);
    if (len > slotBytes - HEADROOM - TAILROOM || l3 < 0 || l3 > len || len - l3 < 8) continue;
    const p = <usize>load<u32>(d, D_IN_OFF);
    if (l3 > 0 && ahProtoAt(p, l3, len) >= 0) continue;
    const slot = spiLookup(loadBe32(p + <usize>l3));
    if (slot < 0) continue;
    setBatchKey(i, slot);
    const meta = metaOf(slot);
    acc ^= load<u32>(meta, M_FLAGS) ^ load<u32>(<usize>load<u32>(meta, M_KEY_PTR));
    if (load<u32>(meta, M_WINDOW) != 0) acc ^= load<u32>(meta, M_BITMAP);
  }
  warmSink ^= acc;
}

/** Decapsulates descriptors 0..n-1 (SA found by SPI), packets of one SA together (batch-order.ts).
 *  Returns the number delivered (status ok). */
export function decapBatch(n: i32): i32 {
  let ok = 0;
  warmSas(n);
  batchOrder(n);
  for (let k = 0; k < n; k++) {
    const i = batchAt(k);
    const d = descBase + <usize>i * <usize>DESC_BYTES;
    store<u32>(hmacStateOf(i), 0);
    store<u32>(d, 0, D_OUT_LEN);
    store<u64>(d, 0, D_SEQ);
    store<u32>(d, 0, D_NEXT_HDR);
    const status = decapOne(d);
    if (status == PENDING) continue; // decapNativeFinish gives its verdict
    store<u32>(d, status, D_STATUS);
    countGlobal(status);
    if (status == ST_OK) ok++;
  }
  hmacFlush();
  // A native batch finishes in decap_native_finish, after the SDK made the keystream.
  if (!nativeMode) ok += decapPendingFinish(n);
  return ok;
}

function decapOne(d: usize): u32 {
  store<i32>(d, -1, D_SA);
  const p = <usize>load<u32>(d, D_IN_OFF);
  const len = <i32>load<u32>(d, D_IN_LEN);
  const l3 = <i32>load<u32>(d, D_L3_LEN);
  store<u32>(d, 0, D_SPI);
  if (len > slotBytes - HEADROOM - TAILROOM) return ST_TOO_BIG;
  if (l3 < 0 || l3 > len || len - l3 < 8) return ST_TRUNCATED;
  if (l3 > 0) {
    // An IP header whose protocol is 51: Authentication Header, not ESP.
    const ahAt = ahProtoAt(p, l3, len);
    if (ahAt >= 0) return ahDecapOne(d, ahAt);
  }
  const esp = p + <usize>l3;
  const espLen = len - l3;
  const spi = loadBe32(esp);
  store<u32>(d, spi, D_SPI);
  const wireSeq = loadBe32(esp + 4);
  store<u64>(d, <u64>wireSeq, D_SEQ);

  const slot = spiLookup(spi);
  if (slot < 0) return ST_NO_SA;
  store<i32>(d, slot, D_SA);
  const meta = metaOf(slot);
  const status = decapWithSa(d, meta, p, l3, esp, espLen, wireSeq);
  if (status != ST_OK && status != PENDING) countDrop(meta, status);
  return status;
}

function decapWithSa(d: usize, meta: usize, p: usize, l3: i32, esp: usize, espLen: i32, wireSeq: u32): u32 {
  const flags = load<u32>(meta, M_FLAGS);
  if ((flags & F_EXPIRED) != 0) return ST_LIFETIME_EXPIRED;
  const kind = <u32>load<u8>(meta, M_KIND);
  const ivLen = <i32>load<u8>(meta, M_IV_LEN);
  const icv = <i32>load<u8>(meta, M_ICV);
  const align = <i32>load<u8>(meta, M_ALIGN);
  const ctLen = espLen - 8 - ivLen - icv;
  // Every suite needs at least Pad Length and Next Header. CBC's whole-block check waits until the
  // ICV verified: a peer using another ICV length (seed 000: 96 vs 128 bits) shifts the ciphertext
  // off the block size, and like Linux we count that as an integrity failure, not a short packet.
  if (ctLen < 2) return ST_TRUNCATED;
  const verifyOnly = (flags & F_VERIFY_ONLY) != 0;

  // Transport mode with the received IP header: check it before spending any crypto on it.
  const transport = (flags & F_TRANSPORT) != 0;
  let keep = 0;
  let protoAt = 0;
  if (transport && l3 > 0 && !verifyOnly) {
    keep = receivedHeader(p, l3, scratch + 252);
    if (keep < 0) return ST_MALFORMED_INNER;
    protoAt = <i32>load<u32>(scratch + 252);
  }

  const esn = (flags & F_ESN) != 0;
  const seq = inferSeq(meta, wireSeq);
  store<u64>(d, seq != 0 ? seq : <u64>wireSeq, D_SEQ);
  const native = nativeMode && (flags & F_NATIVE_AES) != 0;
  // Packets finished in the second pass (decapPendingFinish) are checked there against the window
  // as the batch's earlier packets left it. Without ESN an early "replay" here stays true (the
  // window only moves up), so it may end the packet now; with ESN it may not: an earlier packet
  // of the batch can move the window across 2^32 and change what these 32 bits infer to.
  const deferred =
    (kind == KIND_GCM && native) ||
    (kind != KIND_GCM && kind != KIND_CCM && kind != KIND_CHACHA && kind != KIND_GMAC &&
      <i32>load<u8>(meta, M_HASH) == HASH_SHA256);
  if (!replayCheck(meta, seq) && !(esn && deferred)) return ST_REPLAY;

  const keys = <usize>load<u32>(meta, M_KEY_PTR);
  const ct = esp + 8 + <usize>ivLen;
  const icvAt = ct + <usize>ctLen;
  if (kind == KIND_GCM && native) {
    // Counter blocks for the native AES; decapNativeFinish verifies, decrypts and delivers in order.
    nativeQueue(d, meta, saltNonce(meta, esp), ctLen, true);
    return PENDING;
  } else if (kind == KIND_GCM) {
    const nonce = saltNonce(meta, esp);
    const aad = scratch + 16;
    const aadLen = writeAad(aad, esp, seq, esn);
    if (gcmOpen(keys, nonce, aad, aadLen, ct, ct, ctLen, icvAt, icv) == 0) return ST_INTEGRITY_FAILED;
  } else if (kind == KIND_CCM) {
    // CCM's tag covers the plaintext: ccmOpen decrypts in place and, on a bad tag, restores the ciphertext.
    const aad = scratch + 16;
    const aadLen = writeAad(aad, esp, seq, esn);
    if (ccmOpen(keys, ccmNonce(meta, esp), 11, aad, aadLen, ct, ct, ctLen, icvAt, icv) == 0) return ST_INTEGRITY_FAILED;
  } else if (kind == KIND_CHACHA) {
    const nonce = saltNonce(meta, esp);
    const aad = scratch + 16;
    if (chachaPolyOpen(keys, nonce, aad, writeAad(aad, esp, seq, esn), ct, ct, ctLen, icvAt) == 0) return ST_INTEGRITY_FAILED;
  } else if (kind == KIND_GMAC) {
    if (gmacVerify(keys, meta, esp, seq, esn, ctLen, icvAt) == 0) return ST_INTEGRITY_FAILED;
  } else if (<i32>load<u8>(meta, M_HASH) == HASH_SHA256) {
    // The expected ICV is computed four packets at a time (hmac-lanes.ts); decapPendingFinish
    // compares it and goes on, in the batch's processing order.
    const st = hmacStateOf(<i32>((d - descBase) / <usize>DESC_BYTES));
    store<u32>(st, 1);
    store<u32>(st, <u32>(seq >>> 32), 4);
    hmacQueue(keys + <usize>load<u16>(meta, M_HMAC_OFF), esp, 8 + ivLen + ctLen, <u32>(seq >>> 32), esn, st + 16, 0, 0);
    // With the native AES, what decryption needs is prepared now and used only if the ICV verifies.
    if (native && !verifyOnly) {
      if (kind == KIND_CTR_HMAC) nativeQueue(d, meta, ctrBlock(meta, esp), ctLen, false);
      else if (kind == KIND_CBC_HMAC && (ctLen & 15) == 0) nativeQueueCopy(d, meta, ct, ctLen);
    }
    return PENDING;
  } else {
    const seqHi = scratch + 32;
    storeBe32(seqHi, <u32>(seq >>> 32));
    const mac = scratch + 64;
    hmacMac(<i32>load<u8>(meta, M_HASH), keys + <usize>load<u16>(meta, M_HMAC_OFF),
      esp, 8 + ivLen + ctLen, seqHi, esn ? 4 : 0, mac);
    if (ctEqual(mac, icvAt, icv) == 0) return ST_INTEGRITY_FAILED;
    if (align == 16 && (ctLen & 15) != 0) return ST_TRUNCATED; // authentic, but not whole AES blocks
    if (!verifyOnly) {
      const rounds = <i32>load<u8>(meta, M_ROUNDS);
      if (kind == KIND_CBC_HMAC) aesCbcDecrypt(keys, rounds, esp + 8, ct, ct, ctLen);
      else if (kind == KIND_CTR_HMAC) aesCtrXor(keys, rounds, ctrBlock(meta, esp), ct, ct, ctLen);
    }
  }

  if (verifyOnly) {
    // Integrity gateway: authentic and fresh; the bytes go on as received, header and all.
    replayAccept(meta, seq);
    return deliver(d, meta, p, espLen + l3);
  }
  return decapTail(d, meta, p, ct, ctLen, icvAt, seq, transport, keep, protoAt);
}

/**
 * Second pass over a batch: the packets decapBatch left pending, in its order: AES-GCM packets
 * waiting for the native keystream (native-ks.ts; run by the SDK's decap_native_finish call) and
 * HMAC-SHA-256 packets whose expected ICV was computed four at a time (hmac-lanes.ts). Each gets
 * the checks a sequential run would make at that point (lifetime, sequence number inference and
 * replay against the window as earlier packets left it), then its ICV, decryption only when it
 * verified, and decapTail. Returns the number delivered.
 */
export function decapPendingFinish(n: i32): i32 {
  let ok = 0;
  for (let k = 0; k < n; k++) {
    const i = batchAt(k);
    const ks = nativeKsOf(i);
    const st = hmacStateOf(i);
    const hmac = load<u32>(st) != 0;
    if (ks == 0 && !hmac) continue;
    const d = descBase + <usize>i * <usize>DESC_BYTES;
    const meta = metaOf(load<i32>(d, D_SA));
    const status = hmac ? decapHmacOne(d, meta, st, ks) : decapNativeOne(d, meta, ks);
    store<u32>(st, 0);
    store<u32>(d, status, D_STATUS);
    countGlobal(status);
    if (status == ST_OK) ok++;
    else countDrop(meta, status);
  }
  nativeEnd();
  return ok;
}

/**
 * A pending HMAC-SHA-256 packet (CBC, CTR, NULL; verify-only too): see decapPendingFinish. `ks`
 * is its native AES output (CTR keystream, CBC decrypted blocks), or 0 for the wasm AES.
 */
function decapHmacOne(d: usize, meta: usize, st: usize, ks: usize): u32 {
  const flags = load<u32>(meta, M_FLAGS);
  if ((flags & F_EXPIRED) != 0) return ST_LIFETIME_EXPIRED;
  const kind = <u32>load<u8>(meta, M_KIND);
  const p = <usize>load<u32>(d, D_IN_OFF);
  const l3 = <i32>load<u32>(d, D_L3_LEN);
  const esp = p + <usize>l3;
  const espLen = <i32>load<u32>(d, D_IN_LEN) - l3;
  const ivLen = <i32>load<u8>(meta, M_IV_LEN);
  const icv = <i32>load<u8>(meta, M_ICV);
  const align = <i32>load<u8>(meta, M_ALIGN);
  const ctLen = espLen - 8 - ivLen - icv;
  const verifyOnly = (flags & F_VERIFY_ONLY) != 0;
  const transport = (flags & F_TRANSPORT) != 0;
  let keep = 0;
  let protoAt = 0;
  if (transport && l3 > 0 && !verifyOnly) {
    keep = receivedHeader(p, l3, scratch + 252);
    protoAt = <i32>load<u32>(scratch + 252);
  }
  const esn = (flags & F_ESN) != 0;
  const seq = pendingSeq(d, meta, esp);
  if (seq == 0) return ST_REPLAY;
  const keys = <usize>load<u32>(meta, M_KEY_PTR);
  const mac = st + 16;
  if (esn && <u32>(seq >>> 32) != load<u32>(st, 4)) {
    // An earlier packet of the batch moved the window across 2^32: seq-hi changed, MAC again.
    const seqHi = scratch + 32;
    storeBe32(seqHi, <u32>(seq >>> 32));
    hmacMac(HASH_SHA256, keys + <usize>load<u16>(meta, M_HMAC_OFF), esp, 8 + ivLen + ctLen, seqHi, 4, mac);
  }
  const ct = esp + 8 + <usize>ivLen;
  const icvAt = ct + <usize>ctLen;
  if (ctEqual(mac, icvAt, icv) == 0) return ST_INTEGRITY_FAILED;
  if (align == 16 && (ctLen & 15) != 0) return ST_TRUNCATED; // authentic, but not whole AES blocks
  if (verifyOnly) {
    replayAccept(meta, seq);
    return deliver(d, meta, p, espLen + l3);
  }
  const rounds = <i32>load<u8>(meta, M_ROUNDS);
  if (kind == KIND_CBC_HMAC) {
    if (ks != 0) cbcXorChain(esp + 8, ct, ks, ctLen);
    else aesCbcDecrypt(keys, rounds, esp + 8, ct, ct, ctLen);
  } else if (kind == KIND_CTR_HMAC) {
    if (ks != 0) xorKs(ct, ct, ks, ctLen);
    else aesCtrXor(keys, rounds, ctrBlock(meta, esp), ct, ct, ctLen);
  }
  return decapTail(d, meta, p, ct, ctLen, icvAt, seq, transport, keep, protoAt);
}

function decapNativeOne(d: usize, meta: usize, ks: usize): u32 {
  const flags = load<u32>(meta, M_FLAGS);
  if ((flags & F_EXPIRED) != 0) return ST_LIFETIME_EXPIRED;
  const p = <usize>load<u32>(d, D_IN_OFF);
  const l3 = <i32>load<u32>(d, D_L3_LEN);
  const esp = p + <usize>l3;
  const espLen = <i32>load<u32>(d, D_IN_LEN) - l3;
  const ivLen = <i32>load<u8>(meta, M_IV_LEN);
  const icv = <i32>load<u8>(meta, M_ICV);
  const ctLen = espLen - 8 - ivLen - icv;
  const transport = (flags & F_TRANSPORT) != 0;
  let keep = 0;
  let protoAt = 0;
  if (transport && l3 > 0) {
    keep = receivedHeader(p, l3, scratch + 252);
    protoAt = <i32>load<u32>(scratch + 252);
  }
  const esn = (flags & F_ESN) != 0;
  const seq = pendingSeq(d, meta, esp);
  if (seq == 0) return ST_REPLAY;
  const ct = esp + 8 + <usize>ivLen;
  const icvAt = ct + <usize>ctLen;
  const aad = scratch + 16;
  const aadLen = writeAad(aad, esp, seq, esn);
  if (gcmOpenKs(<usize>load<u32>(meta, M_KEY_PTR), ks, aad, aadLen, ct, ct, ctLen, icvAt, icv) == 0) return ST_INTEGRITY_FAILED;
  return decapTail(d, meta, p, ct, ctLen, icvAt, seq, transport, keep, protoAt);
}

/**
 * A pending packet's sequence number, inferred against the window as the batch's earlier packets
 * left it, and recorded in its descriptor; 0 when the replay check refuses it (0 is never valid).
 */
function pendingSeq(d: usize, meta: usize, esp: usize): u64 {
  const wireSeq = loadBe32(esp + 4);
  const seq = inferSeq(meta, wireSeq);
  store<u64>(d, seq != 0 ? seq : <u64>wireSeq, D_SEQ);
  return replayCheck(meta, seq) ? seq : 0;
}

/** After the ICV verified and the payload was decrypted: trailer checks, inner packet, replay window, delivery. */
function decapTail(d: usize, meta: usize, p: usize, ct: usize, ctLen: i32, icvAt: usize, seq: u64, transport: bool, keep: i32, protoAt: i32): u32 {

  // Authenticated from here on: the trailer checks may branch on the plaintext.
  const padLen = <i32>load<u8>(icvAt - 2);
  const nextHeader = <u32>load<u8>(icvAt - 1);
  if (padLen + 2 > ctLen) return reject(ct, ctLen, ST_BAD_PADDING);
  const plen = ctLen - 2 - padLen;
  for (let k = 0; k < padLen; k++) {
    if (load<u8>(ct + plen + k) != <u8>(k + 1)) return reject(ct, ctLen, ST_BAD_PADDING);
  }
  store<u32>(d, nextHeader, D_NEXT_HDR);
  if (nextHeader == NEXT_HEADER_DUMMY) {
    // Dummy packet (RFC 4303 §2.6): authentic, so it moves the window; silently discarded.
    replayAccept(meta, seq);
    return reject(ct, ctLen, ST_DUMMY);
  }

  let out = ct;
  let outLen = plen;
  if (!transport) {
    const v = plen > 0 ? load<u8>(ct) >>> 4 : 0;
    if (nextHeader != 4 && nextHeader != 41) return reject(ct, ctLen, ST_BAD_NEXT_HEADER);
    // The inner packet's own length wins: anything after it is TFC padding (RFC 4303 §2.7).
    if (nextHeader == 4 && v == 4 && plen >= 20) outLen = <i32>loadBe16(ct + 2);
    else if (nextHeader == 41 && v == 6 && plen >= 40) outLen = <i32>loadBe16(ct + 4) + 40;
    else return reject(ct, ctLen, ST_MALFORMED_INNER);
    if (outLen > plen || outLen < (v == 4 ? 20 : 40)) return reject(ct, ctLen, ST_MALFORMED_INNER);
  } else if (keep > 0) {
    out = ct - <usize>keep;
    memory.copy(out, p, <usize>keep);
    outLen = keep + plen;
    rewriteHeader(out, keep, protoAt, nextHeader, outLen);
  }

  replayAccept(meta, seq);
  return deliver(d, meta, out, outLen);
}

/** Drops an authenticated packet: its plaintext does not stay in the arena. */
function reject(pt: usize, len: i32, status: u32): u32 {
  memory.fill(pt, 0, <usize>len);
  return status;
}
