// ESP encapsulation (RFC 4303 §3.3) of a batch: sequence number, IV, TFC padding, padding,
// encrypt, ICV, lifetime counters. Packets are processed in place in their arena slot: the ESP
// header and IV go into the headroom in front of the payload, the trailer and ICV into the
// tailroom behind it.
//
// Counter-mode suites (GCM, GMAC, CTR, ChaCha20-Poly1305) use the 64-bit sequence number as
// their 8-byte IV: unique per key, which is all RFC 4106 §3.1, RFC 3686 §3.1 and RFC 7634 §2 ask.
//
// Constant time: all key- and plaintext-dependent work is in the constant-time primitives (aes.ts,
// gcm.ts, hmac.ts); this file branches only on lengths, flags, the suite and the sequence number.
import {
  DESC_BYTES, D_IN_OFF, D_IN_LEN, D_SA, D_STATUS, D_OUT_OFF, D_OUT_LEN, D_SEQ, D_SPI, D_NEXT_HDR, D_L3_LEN,
  HEADROOM, TAILROOM, HASH_SHA256, M_FLAGS, M_SPI, M_KIND, M_ROUNDS, M_ICV, M_HASH, M_KEY_PTR, M_SEQ, M_SALT, M_HMAC_OFF,
  M_IV_LEN, M_ALIGN, M_TFC, F_IN_USE, F_INBOUND, F_TRANSPORT, F_ESN, F_EXPIRED, F_AH, KIND_GCM,
  KIND_CBC_HMAC, KIND_NULL_HMAC, KIND_CTR_HMAC, KIND_GMAC, KIND_CHACHA, KIND_CCM, F_NATIVE_AES, ST_OK, ST_INVALID_SA,
  ST_SEQ_OVERFLOW, ST_MALFORMED_INNER, ST_TOO_BIG, ST_LIFETIME_EXPIRED, NEXT_HEADER_DUMMY,
} from "../abi";
import {
  descBase, metaOf, maxSas, slotBytes, ivPool, scratch, countDrop, countGlobal,
} from "../sad/layout";
import { chachaPolySeal } from "../crypto/chacha20poly1305";
import { countOutbound, lifetimeSeqExhausted } from "../sad/lifetime";
import { ahEncapOne } from "./ah";
import { aesCtrXor } from "../crypto/aes";
import { transportHeader, rewriteHeader, storeBe32 } from "./ip";
import { gcmSeal, gcmSealKs } from "../crypto/gcm";
import { nativeMode, nativeQueue, nativeKsOf, nativeEnd, xorKs } from "./native-ks";
import { ccmSeal } from "../crypto/ccm";
import { cbcQueue, cbcFlush, cbcPending, CBC_LANES } from "./cbc-lanes";
import { hmacMac } from "../crypto/hmac";
import { hmacQueue, hmacFlush } from "./hmac-lanes";
import { setBatchKey, batchOrder, batchAt } from "./batch-order";
import { saltNonce, ccmNonce, ctrBlock, gmacTag, writeAad } from "./aead-inputs";

function finish(d: usize, status: u32): void {
  store<u32>(d, status, D_STATUS);
  store<u32>(d, 0, D_OUT_LEN);
  countGlobal(status);
}

/** Encapsulates descriptors 0..n-1; each names its outbound SA. Returns the number that succeeded. */
export function encapBatch(n: i32): i32 {
  let ok = 0;
  for (let i = 0; i < n; i++) setBatchKey(i, load<i32>(descBase + <usize>i * <usize>DESC_BYTES, D_SA));
  batchOrder(n);
  for (let k = 0; k < n; k++) {
    const i = batchAt(k);
    const d = descBase + <usize>i * <usize>DESC_BYTES;
    const slot = load<i32>(d, D_SA);
    if (slot < 0 || slot >= maxSas) { flushCbc(); finish(d, ST_INVALID_SA); continue; }
    const meta = metaOf(slot);
    const flags = load<u32>(meta, M_FLAGS);
    if ((flags & F_IN_USE) == 0 || (flags & F_INBOUND) != 0) { flushCbc(); finish(d, ST_INVALID_SA); continue; }
    if ((flags & F_EXPIRED) != 0) { countDrop(meta, ST_LIFETIME_EXPIRED); finish(d, ST_LIFETIME_EXPIRED); continue; }
    // CBC packets of one SA are encrypted 8 at a time (cbc-lanes.ts); another SA flushes the group.
    if (cbcPending() > 0 && meta != cbcMeta) flushCbc();
    store<u32>(d, load<u32>(meta, M_SPI), D_SPI);
    const status = (flags & F_AH) != 0 ? ahEncapOne(d, meta, flags) : encapOne(d, meta, flags, ivPool + (<usize>i << 4));
    store<u32>(d, status, D_STATUS);
    countGlobal(status);
    if (status == ST_OK) ok++;
    else { countDrop(meta, status); store<u32>(d, 0, D_OUT_LEN); }
    if (cbcPending() == CBC_LANES) flushCbc();
  }
  flushCbc();
  hmacFlush();
  return ok;
}

// The CBC group being filled: its SA and, per lane, the descriptor whose ICV is still to compute.
let cbcMeta: usize = 0;
const cbcDescs = memory.data(CBC_LANES * 4, 16);

function flushCbc(): void {
  const n = cbcPending();
  if (n == 0) return;
  const meta = cbcMeta;
  const keys = <usize>load<u32>(meta, M_KEY_PTR);
  cbcFlush(keys, <i32>load<u8>(meta, M_ROUNDS));
  for (let k = 0; k < n; k++) {
    const d = <usize>load<u32>(cbcDescs + (<usize>k << 2));
    writeHmacIcv(meta, keys, d);
  }
}

/** HMAC over SPI..ciphertext (‖ seq-hi with ESN), truncated into the ICV field. */
function writeHmacIcv(meta: usize, keys: usize, d: usize): void {
  const flags = load<u32>(meta, M_FLAGS);
  const esn = (flags & F_ESN) != 0;
  const out = <usize>load<u32>(d, D_OUT_OFF);
  const seq = load<u64>(d, D_SEQ);
  const icv = <i32>load<u8>(meta, M_ICV);
  const hdrLen = <i32>load<u32>(d, D_L3_LEN);
  const esp = out + <usize>hdrLen;
  const signedLen = <i32>load<u32>(d, D_OUT_LEN) - hdrLen - icv;
  const hash = <i32>load<u8>(meta, M_HASH);
  const ctx = keys + <usize>load<u16>(meta, M_HMAC_OFF);
  if (hash == HASH_SHA256) {
    // Four packets' ICVs at a time (hmac-lanes.ts); encapBatch flushes what is left.
    hmacQueue(ctx, esp, signedLen, <u32>(seq >>> 32), esn, 0, esp + <usize>signedLen, icv);
    return;
  }
  const seqHi = scratch + 32;
  storeBe32(seqHi, <u32>(seq >>> 32));
  const mac = scratch + 64;
  hmacMac(hash, ctx, esp, signedLen, seqHi, esn ? 4 : 0, mac);
  memory.copy(esp + <usize>signedLen, mac, <usize>icv);
}

function encapOne(d: usize, meta: usize, flags: u32, randomIv: usize): u32 {
  const p = <usize>load<u32>(d, D_IN_OFF);
  const len = <i32>load<u32>(d, D_IN_LEN);
  if (len > slotBytes - HEADROOM - TAILROOM) return ST_TOO_BIG;
  const dummy = load<u32>(d, D_NEXT_HDR) == NEXT_HEADER_DUMMY;

  const seqNow = load<u64>(meta, M_SEQ);
  const esn = (flags & F_ESN) != 0;
  if (esn ? seqNow == 0xffffffffffffffff : seqNow >= 0xffffffff) {
    lifetimeSeqExhausted(meta);
    return ST_SEQ_OVERFLOW;
  }

  // Where the protected payload starts and which Next Header it gets.
  let hdrLen = 0;
  let protoAt = 0;
  let nextHeader: u32;
  const transport = (flags & F_TRANSPORT) != 0;
  if (dummy) {
    if (transport) return ST_INVALID_SA; // a dummy has no IP header to keep in front
    nextHeader = NEXT_HEADER_DUMMY;
  } else if (transport) {
    hdrLen = transportHeader(p, len, scratch + 252);
    if (hdrLen < 0) return ST_MALFORMED_INNER;
    protoAt = <i32>load<u32>(scratch + 252);
    nextHeader = <u32>load<u8>(p + protoAt);
  } else {
    const v = len > 0 ? load<u8>(p) >>> 4 : 0;
    if (v == 4 && len >= 20) nextHeader = 4;
    else if (v == 6 && len >= 40) nextHeader = 41;
    else return ST_MALFORMED_INNER;
  }
  const payload = p + hdrLen;
  let plen = len - hdrLen;
  // TFC padding (tunnel mode only, sa_set_tfc checks that): zeros, so no earlier packet's bytes
  // left in this arena slot go out; the receiver drops them by the inner IP length.
  const tfc = <i32>load<u32>(meta, M_TFC);
  if (tfc > plen) {
    memory.fill(payload + <usize>plen, 0, <usize>(tfc - plen));
    plen = tfc;
  }
  const ivLen = <i32>load<u8>(meta, M_IV_LEN);
  const align = <i32>load<u8>(meta, M_ALIGN);
  const icv = <i32>load<u8>(meta, M_ICV);
  const padded = (plen + 2 + align - 1) & ~(align - 1);
  const padLen = padded - plen - 2;

  const seq = seqNow + 1;
  store<u64>(meta, seq, M_SEQ);

  const esp = payload - 8 - <usize>ivLen;
  const out = esp - <usize>hdrLen;
  if (hdrLen > 0) memory.copy(out, p, <usize>hdrLen);
  store<u32>(esp, bswap<u32>(load<u32>(meta, M_SPI)));
  storeBe32(esp + 4, <u32>seq);

  // Self-describing padding 1, 2, 3, ... (RFC 4303 §2.4), then Pad Length and Next Header.
  const tail = payload + <usize>plen;
  for (let k = 0; k < padLen; k++) store<u8>(tail + k, <u8>(k + 1));
  store<u8>(tail + padLen, <u8>padLen);
  store<u8>(tail + padLen + 1, <u8>nextHeader);

  const kind = <u32>load<u8>(meta, M_KIND);
  const keys = <usize>load<u32>(meta, M_KEY_PTR);
  const icvAt = payload + <usize>padded;
  const native = nativeMode && (flags & F_NATIVE_AES) != 0;
  if (ivLen == 8) store<u64>(esp + 8, bswap<u64>(seq));
  if (kind == KIND_GCM && native) {
    // Counter blocks for the native AES; encapNativeFinish encrypts and tags.
    nativeQueue(d, meta, saltNonce(meta, esp), padded, true);
  } else if (kind == KIND_GCM) {
    const nonce = saltNonce(meta, esp);
    const aad = scratch + 16;
    const aadLen = writeAad(aad, esp, seq, esn);
    gcmSeal(keys, nonce, aad, aadLen, payload, payload, padded, icvAt, icv);
  } else if (kind == KIND_CCM) {
    // RFC 4309 §4-§5: nonce = 3-byte salt ‖ IV, AAD as for GCM.
    const aad = scratch + 16;
    ccmSeal(keys, ccmNonce(meta, esp), 11, aad, writeAad(aad, esp, seq, esn), payload, payload, padded, icvAt, icv);
  } else if (kind == KIND_CHACHA) {
    // RFC 7634 §2-§3: nonce salt ‖ IV, AAD as for GCM.
    const nonce = saltNonce(meta, esp);
    const aad = scratch + 16;
    chachaPolySeal(keys, nonce, aad, writeAad(aad, esp, seq, esn), payload, payload, padded, icvAt);
  } else if (kind == KIND_GMAC) {
    gmacTag(keys, meta, esp, seq, esn, padded, icvAt);
  } else if (kind == KIND_CTR_HMAC && native) {
    // Counter blocks for the native AES; encapNativeFinish encrypts and MACs.
    nativeQueue(d, meta, ctrBlock(meta, esp), padded, false);
  } else if (kind == KIND_CTR_HMAC) {
    aesCtrXor(keys, <i32>load<u8>(meta, M_ROUNDS), ctrBlock(meta, esp), payload, payload, padded);
  }

  const outLen = <i32>(icvAt + <usize>icv - out);
  if (hdrLen > 0) rewriteHeader(out, hdrLen, protoAt, 50, outLen);
  store<u32>(d, <u32>out, D_OUT_OFF);
  store<u32>(d, <u32>outLen, D_OUT_LEN);
  store<u64>(d, seq, D_SEQ);
  store<u32>(d, nextHeader, D_NEXT_HDR);
  // The encap side uses D_L3_LEN to remember where ESP starts inside the output (transport header).
  store<u32>(d, <u32>hdrLen, D_L3_LEN);
  countOutbound(meta, len, seq);

  if (kind == KIND_CBC_HMAC) {
    memory.copy(esp + 8, randomIv, 16);
    cbcMeta = meta;
    store<u32>(cbcDescs + (<usize>cbcPending() << 2), <u32>d);
    cbcQueue(payload, padded, esp + 8);   // encrypted and MACed in flushCbc
  } else if ((kind == KIND_CTR_HMAC && !native) || kind == KIND_NULL_HMAC) {
    writeHmacIcv(meta, keys, d);          // CTR (already encrypted) or NULL encryption
  }
  return ST_OK;
}

/**
 * Second call of a native batch (native-ks.ts): for every packet encapBatch queued, XOR with the
 * keystream the SDK wrote over its counter blocks, then the ICV: GHASH for AES-GCM, HMAC (four at
 * a time) for AES-CTR. The packet was framed, counted and given status ok by the first call; this
 * cannot fail.
 */
export function encapNativeFinish(n: i32): void {
  for (let k = 0; k < n; k++) {
    const i = batchAt(k);
    const ks = nativeKsOf(i);
    if (ks == 0) continue;
    const d = descBase + <usize>i * <usize>DESC_BYTES;
    const meta = metaOf(load<i32>(d, D_SA));
    const esn = (load<u32>(meta, M_FLAGS) & F_ESN) != 0;
    const hdrLen = <i32>load<u32>(d, D_L3_LEN);
    const esp = <usize>load<u32>(d, D_OUT_OFF) + <usize>hdrLen;
    const ivLen = <i32>load<u8>(meta, M_IV_LEN);
    const icv = <i32>load<u8>(meta, M_ICV);
    const payload = esp + 8 + <usize>ivLen;
    const padded = <i32>load<u32>(d, D_OUT_LEN) - hdrLen - 8 - ivLen - icv;
    const keys = <usize>load<u32>(meta, M_KEY_PTR);
    if (<u32>load<u8>(meta, M_KIND) == KIND_CTR_HMAC) {
      xorKs(payload, payload, ks, padded);
      writeHmacIcv(meta, keys, d);
      continue;
    }
    const aad = scratch + 16;
    const aadLen = writeAad(aad, esp, load<u64>(d, D_SEQ), esn);
    gcmSealKs(keys, ks, aad, aadLen, payload, payload, padded, payload + <usize>padded, icv);
  }
  hmacFlush();
  nativeEnd();
}
