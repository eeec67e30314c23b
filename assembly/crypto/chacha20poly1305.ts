// ChaCha20-Poly1305 AEAD (RFC 8439 section 2.8) as ESP uses it (RFC 7634): 32-byte key, 12-byte
// nonce (salt || IV), 16-byte tag.
//
// The first four-block batch (counters 0..3) yields the Poly1305 one-time key from block 0 and the
// keystream of the first 192 bytes from blocks 1..3, so a small packet costs one ChaCha20 pass.
// Every later batch absorbs up to 20 Poly1305 blocks between its rounds (chacha20Xor256Poly): seal
// MACs the ciphertext written by the previous batches; open writes the keystream to scratch while
// it MACs the ciphertext, and XORs it into dst only after the tag has verified.
//
// Constant time: ChaCha20 and Poly1305 are branch- and table-free (see their files); every branch
// here depends on lengths only. The tag is compared with ctEqual over all 16 bytes, and the only
// branch on its result (decrypt or not) reveals accept/reject, which is public. The one-time key,
// keystream scratch and Poly1305 state are wiped before returning.
import {
  CHACHA_BATCH, POLY_SLOTS, chacha20Keystream256, chacha20Keystream256Poly, chacha20Xor, chacha20Xor256Poly,
  xorBytes,
} from "./chacha20";
import {
  POLY1305_STATE_BYTES, poly1305Blocks, poly1305Finish, poly1305Init, poly1305UpdatePadded,
} from "./poly1305";
import { ctEqual, wipe } from "./ct";

const KEY_BYTES: i32 = 32;
/** Keystream bytes of the first batch left over for data (blocks 1..3). */
const HEAD: i32 = CHACHA_BATCH - 64;
/** Keystream scratch for open: enough for a 16 KiB packet (beyond it open takes a second pass). */
const KS_BYTES: i32 = 16384;

// Static scratch (single-threaded module): first batch keystream, later keystream, Poly1305 state,
// lengths block, computed tag.
const first: usize = memory.data(CHACHA_BATCH, 16);
const ks: usize = memory.data(KS_BYTES, 16);
const poly: usize = memory.data(POLY1305_STATE_BYTES, 16);
const lengths: usize = memory.data(16, 16);
const expected: usize = memory.data(16, 16);

/** Bytes of per-SA key state the dataplane allocates (the 32-byte key, plus anything precomputed). */
export function chachaPolyContextBytes(): i32 {
  return KEY_BYTES;
}

/** Stores the 32-byte key at `key` into ctx (ctx has chachaPolyContextBytes() bytes). */
export function chachaPolyInit(key: usize, ctx: usize): void {
  memory.copy(ctx, key, <usize>KEY_BYTES);
}

/** Blocks 0..3: Poly1305 key from block 0 into the state, then the AAD (padded) absorbed. */
function start(ctx: usize, nonce: usize, aad: usize, aadLen: i32): void {
  chacha20Keystream256(ctx, nonce, 0, first);
  poly1305Init(poly, first);
  poly1305UpdatePadded(poly, aad, aadLen);
}

/** Poly1305 blocks for the next batch: an even share of what is left, at most POLY_SLOTS. */
function share(blocksLeft: i32, batchesLeft: i32): i32 {
  const n = (blocksLeft + batchesLeft - 1) / batchesLeft;
  return n < POLY_SLOTS ? n : POLY_SLOTS;
}

/** Absorbs the ciphertext from `absorbed` on (padded) and the lengths block; the tag goes to `out`. */
function finishTag(ct: usize, absorbed: i32, len: i32, aadLen: i32, out: usize): void {
  poly1305UpdatePadded(poly, ct + <usize>absorbed, len - absorbed);
  store<u64>(lengths, <u64>aadLen, 0);
  store<u64>(lengths, <u64>len, 8);
  poly1305Blocks(poly, lengths, 1, 1);
  poly1305Finish(poly, out);
}

/** RFC 8439 §2.8 AEAD encrypt: src->dst (may be equal), len bytes, tag (16 B) written at `tag`. */
export function chachaPolySeal(ctx: usize, nonce12: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize): void {
  if (len < 0 || aadLen < 0) return; // nonsense lengths: write nothing rather than trap
  start(ctx, nonce12, aad, aadLen);
  xorBytes(src, dst, first + 64, len < HEAD ? len : HEAD);
  // Each batch encrypts 256 bytes and MACs ciphertext already written (at most up to its own start).
  let absorbed = 0;
  let off = HEAD;
  let ctr: u32 = 4;
  for (; off < len; off += CHACHA_BATCH) {
    const n = share((off - absorbed) >> 4, 1);
    const pm = dst + <usize>absorbed;
    if (off + CHACHA_BATCH <= len) {
      chacha20Xor256Poly(ctx, nonce12, ctr, src + <usize>off, dst + <usize>off, poly, pm, n);
    } else {
      chacha20Keystream256Poly(ctx, nonce12, ctr, ks, poly, pm, n);
      xorBytes(src + <usize>off, dst + <usize>off, ks, len - off);
      wipe(ks, CHACHA_BATCH);
    }
    absorbed += n << 4;
    ctr += 4;
  }
  finishTag(dst, absorbed, len, aadLen, tag);
  wipe(first, CHACHA_BATCH);
}

/** Verifies the 16-byte tag over aad||ciphertext FIRST (constant-time compare); only if it verifies,
 *  decrypts src->dst and returns 1. Returns 0 and writes nothing to dst otherwise. */
export function chachaPolyOpen(ctx: usize, nonce12: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize): i32 {
  if (len < 0 || aadLen < 0) return 0;
  start(ctx, nonce12, aad, aadLen);
  // Keystream for bytes HEAD.. goes to scratch while Poly1305 runs over the ciphertext in the same
  // passes. A packet longer than the scratch (none on a 9000-byte MTU) is decrypted after the check.
  const rest = len > HEAD ? len - HEAD : 0;
  const staged = rest <= KS_BYTES ? rest : 0;
  const batches = (staged + CHACHA_BATCH - 1) >> 8;
  const blocks = len >> 4;
  let absorbed = 0;
  for (let b = 0; b < batches; b++) {
    const n = share(blocks - (absorbed >> 4), batches - b);
    chacha20Keystream256Poly(ctx, nonce12, 4 + (<u32>b << 2), ks + (<usize>b << 8), poly, src + <usize>absorbed, n);
    absorbed += n << 4;
  }
  finishTag(src, absorbed, len, aadLen, expected);
  const ok = ctEqual(expected, tag, 16);
  if (ok) {
    xorBytes(src, dst, first + 64, len < HEAD ? len : HEAD);
    if (staged > 0) xorBytes(src + <usize>HEAD, dst + <usize>HEAD, ks, staged);
    else if (rest > 0) chacha20Xor(ctx, nonce12, 4, src + <usize>HEAD, dst + <usize>HEAD, rest);
  }
  wipe(ks, batches << 8);
  wipe(first, CHACHA_BATCH);
  wipe(expected, 16);
  return ok;
}
