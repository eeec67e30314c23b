// ICV-truncation probe (off the hot path). After a decap batch, the SDK calls icvProbe(i) for a
// sample of packets that failed their HMAC ICV: it recomputes the MAC with the SA's own key at
// other truncations and reports which would have verified. Keys never leave wasm.
//
// Constant time: the MAC is the same branch- and table-free hmacMac the decap path uses, and each
// candidate is compared with ctEqual over its full length. Branches depend only on public data:
// the descriptor's status, the SA's suite and ICV length, and the packet length. Which candidate
// verified is folded into the mask without a branch.
//
// Read-only on everything but scratch: no decryption, no replay window or counter updates, the
// packet bytes in the arena stay as decap left them (a failed packet is never decrypted there).
import {
  DESC_BYTES, D_IN_OFF, D_IN_LEN, D_SA, D_STATUS, D_L3_LEN, HEADROOM, TAILROOM, M_FLAGS, M_ICV, M_HASH,
  M_KEY_PTR, M_HMAC_OFF, M_IV_LEN, M_ALIGN, F_IN_USE, F_INBOUND, F_ESN, ST_INTEGRITY_FAILED, ST_TRUNCATED,
} from "../abi";
import {
  descBase, batchMax, maxSas, metaOf, scratch, slotBytes,
} from "../sad/layout";
import { inferSeq } from "../sad/replay";
import { loadBe32, storeBe32 } from "../esp/ip";
import { hmacMac, hashDigestBytes } from "../crypto/hmac";
import { ctEqual } from "../crypto/ct";

/** Same scratch slots as decap: seq-hi for ESN, then the full MAC (<= 64 bytes, ends at +128). */
const SEQ_HI: usize = 32;
const MAC: usize = 64;

/**
 * For batch descriptor i (a packet whose decap ended in integrity-failed on an HMAC SA), returns
 * a bitmask: bit k set when the packet verifies with an ICV of 4*k bytes (bit 3 = 12 B,
 * bit 4 = 16 B, bit 6 = 24 B, bit 8 = 32 B). 0 when it verifies at no length or was not probeable.
 *
 * A descriptor whose status is `truncated` with an SA matched is probed too: with AES-CBC a
 * 4-byte ICV difference (96 vs 128 bits) leaves a ciphertext that is not whole blocks, so decap
 * stops at the length check before any MAC; that is exactly the outage this probe explains.
 */
export function icvProbe(i: i32): u32 {
  if (i < 0 || i >= batchMax) return 0;
  const d = descBase + <usize>i * <usize>DESC_BYTES;
  const status = load<u32>(d, D_STATUS);
  if (status != ST_INTEGRITY_FAILED && status != ST_TRUNCATED) return 0;
  const slot = load<i32>(d, D_SA);
  if (slot < 0 || slot >= maxSas) return 0;
  const meta = metaOf(slot);
  const flags = load<u32>(meta, M_FLAGS);
  if ((flags & (F_IN_USE | F_INBOUND)) != (F_IN_USE | F_INBOUND)) return 0;
  const alg = <i32>load<u8>(meta, M_HASH);
  const digest = hashDigestBytes(alg);
  if (digest == 0) return 0; // AEAD (GCM) or unknown: nothing to truncate

  const p = <usize>load<u32>(d, D_IN_OFF);
  const len = <i32>load<u32>(d, D_IN_LEN);
  const l3 = <i32>load<u32>(d, D_L3_LEN);
  if (len > slotBytes - HEADROOM - TAILROOM) return 0;
  if (l3 < 0 || l3 > len || len - l3 < 8) return 0;
  const esp = p + <usize>l3;
  const espLen = len - l3;
  const own = <i32>load<u8>(meta, M_ICV);
  const ivLen = <i32>load<u8>(meta, M_IV_LEN);
  const align = <i32>load<u8>(meta, M_ALIGN);

  // With ESN the seq-hi is inferred from the window as decap does; 0 means "before the start".
  const esn = (flags & F_ESN) != 0;
  const seq = inferSeq(meta, loadBe32(esp + 4));
  if (esn && seq == 0) return 0;
  storeBe32(scratch + SEQ_HI, <u32>(seq >>> 32));
  const ctx = <usize>load<u32>(meta, M_KEY_PTR) + <usize>load<u16>(meta, M_HMAC_OFF);

  let mask: u32 = 0;
  for (let t = 12; t <= 32; t += 4) {
    if (t == 20 || t == 28) continue; // 160 and 224 bits are no ESP truncation
    if (t > digest || t == own) continue;
    // The length this ICV implies must be one decap would accept: trailer present, whole blocks.
    const ctLen = espLen - 8 - ivLen - t;
    if (ctLen < 2 || (align == 16 && (ctLen & 15) != 0)) continue;
    hmacMac(alg, ctx, esp, 8 + ivLen + ctLen, scratch + SEQ_HI, esn ? 4 : 0, scratch + MAC);
    const ok = <u32>ctEqual(scratch + MAC, esp + <usize>(espLen - t), t);
    mask |= ok << <u32>(t >> 2);
  }
  memory.fill(scratch + MAC, 0, 64); // the MAC of a forged packet is nobody's business
  return mask;
}
