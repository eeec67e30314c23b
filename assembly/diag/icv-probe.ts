// ICV-truncation probe (off the hot path). After a decap batch, the SDK calls icvProbe(i) for a
// sample of packets that failed their HMAC ICV: it recomputes the MAC with the SA's own key at
// other truncations and reports which would have verified. Keys never leave wasm.
// STUB: implemented by the observability work (issue 5).

/**
 * For batch descriptor i (a packet whose decap ended in integrity-failed on an HMAC SA), returns
 * a bitmask: bit k set when the packet verifies with an ICV of 4*k bytes (bit 3 = 12 B,
 * bit 4 = 16 B, bit 6 = 24 B, bit 8 = 32 B). 0 when it verifies at no length or was not probeable.
 */
export function icvProbe(i: i32): u32 {
  return <u32>i & 0;
}
