// Test-only entry point: exposes the raw primitives so test/ can check them against
// outside vectors (Wycheproof, RFCs). Built to build/primitives.wasm; never used by the SDK.
import { HASH_SHA1, HASH_SHA256, HASH_SHA384, HASH_SHA512 } from "./abi";
export { ctEqual, wipe } from "./crypto/ct";
export * from "./crypto/aes";
export * from "./crypto/ghash";
export * from "./crypto/gcm";
export * from "./crypto/ccm";
export * from "./crypto/sha256";
export * from "./crypto/sha1";
export * from "./crypto/sha512";
export * from "./crypto/hmac";
export { HASH_SHA1, HASH_SHA256, HASH_SHA384, HASH_SHA512 } from "./abi";
export * from "./crypto/chacha20";
export * from "./crypto/poly1305";
export * from "./crypto/chacha20poly1305";

/** Scratch allocation for tests (bump allocator of the stub runtime). */
export function alloc(n: i32): usize {
  return heap.alloc(<usize>n);
}
