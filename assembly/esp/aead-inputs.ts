// What encap and decap both build from an SA and a packet: the AEAD nonces (GCM, GMAC, ChaCha20-Poly1305, CCM), the CTR counter block,
// the GCM / ChaCha20-Poly1305 AAD and the AES-GMAC ICV. Below encap.ts and decap.ts, which import
// it (neither imports the other).
//
// Constant time: copies and the constant-time GCM of gcm.ts; branches only on the ESN flag.
import { M_SALT } from "../abi";
import { scratch } from "../sad/layout";
import { gcmSeal, gcmOpen } from "../crypto/gcm";
import { storeBe32 } from "./ip";

/** 12-byte nonce salt ‖ IV (RFC 4106 §4, RFC 4543 §3.1, RFC 7634 §2) in scratch. */
export function saltNonce(meta: usize, esp: usize): usize {
  const nonce = scratch;
  memory.copy(nonce, meta + M_SALT, 4);
  memory.copy(nonce + 4, esp + 8, 8);
  return nonce;
}

/** 11-byte CCM nonce 3-byte salt ‖ IV (RFC 4309 §4) in scratch. */
export function ccmNonce(meta: usize, esp: usize): usize {
  const nonce = scratch;
  memory.copy(nonce, meta + M_SALT, 3);
  memory.copy(nonce + 3, esp + 8, 8);
  return nonce;
}

/** RFC 3686 §4 counter block nonce ‖ IV ‖ 00000001 in scratch. */
export function ctrBlock(meta: usize, esp: usize): usize {
  const block = scratch;
  memory.copy(block, meta + M_SALT, 4);
  memory.copy(block + 4, esp + 8, 8);
  store<u32>(block + 12, bswap<u32>(1));
  return block;
}

/**
 * AES-GMAC ICV (RFC 4543 §3.3): GCM with nothing to encrypt, over AAD = SPI ‖ seq (or SPI ‖
 * seq-hi ‖ seq-lo with ESN) ‖ IV ‖ payload ‖ padding ‖ Pad Length ‖ Next Header. Without ESN that
 * is the packet itself from the SPI on. With ESN the 4 bytes in front of the SPI are borrowed
 * (the headroom always has them) to lay SPI ‖ seq-hi ‖ seq-lo out in one piece, then restored.
 * `bodyLen` is payload + padding + trailer. Writes 16 bytes at `icvAt`.
 */
export function gmacTag(keys: usize, meta: usize, esp: usize, seq: u64, esn: bool, bodyLen: i32, icvAt: usize): void {
  const nonce = saltNonce(meta, esp);
  const n = 16 + bodyLen;
  if (!esn) {
    gcmSeal(keys, nonce, esp, n, icvAt, icvAt, 0, icvAt, 16);
    return;
  }
  const before = load<u32>(esp - 4);
  const spi = load<u32>(esp);
  store<u32>(esp - 4, spi);
  storeBe32(esp, <u32>(seq >>> 32));
  gcmSeal(keys, nonce, esp - 4, n + 4, icvAt, icvAt, 0, icvAt, 16);
  store<u32>(esp, spi);
  store<u32>(esp - 4, before);
}

/** Verify side of gmacTag: 1 when the 16 bytes at `icvAt` are the packet's GMAC. */
export function gmacVerify(keys: usize, meta: usize, esp: usize, seq: u64, esn: bool, bodyLen: i32, icvAt: usize): i32 {
  const nonce = saltNonce(meta, esp);
  const n = 16 + bodyLen;
  if (!esn) return gcmOpen(keys, nonce, esp, n, icvAt, icvAt, 0, icvAt, 16);
  const before = load<u32>(esp - 4);
  const spi = load<u32>(esp);
  store<u32>(esp - 4, spi);
  storeBe32(esp, <u32>(seq >>> 32));
  const ok = gcmOpen(keys, nonce, esp - 4, n + 4, icvAt, icvAt, 0, icvAt, 16);
  store<u32>(esp, spi);
  store<u32>(esp - 4, before);
  return ok;
}

/** GCM AAD (RFC 4106 §5): SPI ‖ seq, or SPI ‖ seq-hi ‖ seq-lo with ESN. Returns its length. */
export function writeAad(aad: usize, esp: usize, seq: u64, esn: bool): i32 {
  memory.copy(aad, esp, 4);
  if (!esn) { storeBe32(aad + 4, <u32>seq); return 8; }
  storeBe32(aad + 4, <u32>(seq >>> 32));
  storeBe32(aad + 8, <u32>seq);
  return 12;
}
