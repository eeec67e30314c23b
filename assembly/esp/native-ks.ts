// AES from outside the wasm (the SDK's native AES, sdk/dataplane/native-aes.ts) for AES-GCM,
// AES-CTR and AES-CBC decryption. A batch runs in two calls when the SDK turns it on: the first
// (encap/decap with `native` set) frames every packet as usual but, instead of running AES, leaves
// here what the packet needs, in runs of consecutive packets of one SA: AES-GCM its counter blocks
// J0, J0+1, ...; AES-CTR its counter blocks nonce‖IV‖1, ‖2, ... (RFC 3686); AES-CBC (inbound) a
// copy of its ciphertext blocks. The SDK runs each run in place through ONE AES-ECB call of that
// SA's native cipher (encrypt, or decrypt for CBC); the second call (the *_finish exports) XORs
// (CBC: each decrypted block with the ciphertext block before it), GHASHes / MACs and tags or
// verifies, and wipes the region. For CBC the region briefly holds D_K(C_i), which with the
// public C_(i-1) gives the plaintext of packets whose ICV is not checked yet: it never leaves the
// region, the packet itself is decrypted only after its ICV verified, and the region is wiped
// before the second call returns.
//
// Constant time: counter blocks are the public nonce and a counter, ciphertext is public; the XORs
// are straight-line v128 loops; everything here branches on lengths, SA slots and descriptor
// indices only.
import { SA_META_BYTES } from "../abi";
import { batchMax, slotBytes, metaBase, descBase } from "../sad/layout";
import { DESC_BYTES } from "../abi";

/** Bytes per run record: [SA slot u32, byte offset in the keystream region u32, bytes u32]. */
export const RUN_BYTES: i32 = 12;

/** Set for the first call of a two-call batch. */
export let nativeMode: bool = false;
let ksBase: usize = 0;
let runsBase: usize = 0;
/** Per descriptor: keystream offset + 1 of a queued packet, 0 for none. */
let pendBase: usize = 0;
let ksUsed: u32 = 0;
let runCount: i32 = 0;
let runMeta: usize = 0;

/** Allocates the keystream, run and pending regions once; 0, or -1 when memory cannot grow. */
export function nativeInit(): i32 {
  if (ksBase != 0) return 0;
  const ksBytes = <usize>batchMax * (<usize>slotBytes + 48);
  ksBase = heap.alloc(ksBytes);
  runsBase = heap.alloc(<usize>batchMax * <usize>RUN_BYTES);
  pendBase = heap.alloc(<usize>batchMax << 2);
  if (ksBase == 0 || runsBase == 0 || pendBase == 0) return -1;
  memory.fill(ksBase, 0, ksBytes);
  memory.fill(pendBase, 0, <usize>batchMax << 2);
  return 0;
}

export function nativeKsPtr(): usize { return ksBase; }
export function nativeRunsPtr(): usize { return runsBase; }
export function nativeRunCount(): i32 { return runCount; }

/** Starts the first call of a batch of n packets (native on) or a plain batch (off). */
export function nativeBegin(on: bool, n: i32): void {
  nativeMode = on && ksBase != 0;
  ksUsed = 0;
  runCount = 0;
  runMeta = 0;
  if (nativeMode) memory.fill(pendBase, 0, <usize>n << 2);
}

/**
 * Queues descriptor `d` of SA `meta`: counter blocks nonce‖1, nonce‖2, ... (`nonce` is 12 bytes)
 * covering `len` bytes, plus one in front with `j0` (GCM's J0, whose encryption masks the tag).
 */
export function nativeQueue(d: usize, meta: usize, nonce: usize, len: i32, j0: bool): void {
  const blocks = ((len + 15) >> 4) + (j0 ? 1 : 0);
  const at = ksBase + <usize>ksUsed;
  const prefix = i32x4.replace_lane(v128.load(nonce), 3, 0);
  for (let k = 0; k < blocks; k++) {
    v128.store(at + (<usize>k << 4), i32x4.replace_lane(prefix, 3, <i32>bswap<u32>(<u32>(k + 1))));
  }
  record(d, meta, blocks);
}

/** Queues descriptor `d` of SA `meta` for CBC decryption: a copy of its `len` (multiple of 16) ciphertext bytes. */
export function nativeQueueCopy(d: usize, meta: usize, src: usize, len: i32): void {
  memory.copy(ksBase + <usize>ksUsed, src, <usize>len);
  record(d, meta, len >> 4);
}

function record(d: usize, meta: usize, blocks: i32): void {
  if (meta != runMeta || runCount == 0) {
    const r = runsBase + <usize>runCount * <usize>RUN_BYTES;
    store<u32>(r, <u32>((meta - metaBase) / <usize>SA_META_BYTES));
    store<u32>(r, ksUsed, 4);
    store<u32>(r, 0, 8);
    runCount++;
    runMeta = meta;
  }
  const r = runsBase + <usize>(runCount - 1) * <usize>RUN_BYTES;
  store<u32>(r, load<u32>(r, 8) + <u32>(blocks << 4), 8);
  store<u32>(pendBase + (((d - descBase) / <usize>DESC_BYTES) << 2), ksUsed + 1);
  ksUsed += <u32>(blocks << 4);
}

/** The keystream of descriptor i, or 0 when it was not queued. */
export function nativeKsOf(i: i32): usize {
  if (!nativeMode) return 0;
  const v = load<u32>(pendBase + (<usize>i << 2));
  return v == 0 ? 0 : ksBase + <usize>(v - 1);
}

/** After the second call: no keystream stays in memory. */
export function nativeEnd(): void {
  if (ksUsed > 0) memory.fill(ksBase, 0, <usize>ksUsed);
  ksUsed = 0;
  runCount = 0;
  nativeMode = false;
}

/** dst = src ^ ks over len bytes (in place allowed). */
export function xorKs(src: usize, dst: usize, ks: usize, len: i32): void {
  let i = 0;
  for (; i + 16 <= len; i += 16) {
    v128.store(dst + <usize>i, v128.xor(v128.load(src + <usize>i), v128.load(ks + <usize>i)));
  }
  for (; i < len; i++) store<u8>(dst + <usize>i, load<u8>(src + <usize>i) ^ load<u8>(ks + <usize>i));
}

/** CBC decryption in place from the decrypted blocks at `dec`: P_i = D(C_i) ^ C_(i-1), C_(-1) = IV. */
export function cbcXorChain(iv: usize, ct: usize, dec: usize, len: i32): void {
  let chain = v128.load(iv);
  for (let i = 0; i < len; i += 16) {
    const c = v128.load(ct + <usize>i);
    v128.store(ct + <usize>i, v128.xor(v128.load(dec + <usize>i), chain));
    chain = c;
  }
}
