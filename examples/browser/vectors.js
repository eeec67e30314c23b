// The fixed inputs of the page: one SA per suite family and one inner packet. Plain data, no DOM,
// so a test can import it and recompute the expected ESP bytes with another implementation.

/** One SA per family: AEAD (GCM), CBC + HMAC, ChaCha20-Poly1305. Keys in hex. */
export const SUITES = [
  // encKey: 16-byte AES key ‖ 4-byte salt (RFC 4106)
  { family: "gcm", esp: "aes128gcm16", spi: 0x0000b001, encKey: "6051f07b59aef011e9a084c949d2df3701c8e407" },
  // encKey: AES key; integKey: HMAC-SHA-256 key, 128-bit ICV (RFC 4868)
  {
    family: "cbc-hmac",
    esp: "aes128-sha256",
    spi: 0x0000b002,
    encKey: "650841a4dea26f43c0d481c37f545fc7",
    integKey: "880589207e0abb0762b65a8abac192160a214dfbd0afda5151784fe02cf709aa",
  },
  // encKey: 32-byte key ‖ 4-byte salt (RFC 7634)
  {
    family: "chacha20",
    esp: "chacha20poly1305",
    spi: 0x0000b003,
    encKey: "ce7e614ef27f1fd9e87e7d75a0da65f3057ebc9855024f74e3b1159a6334a3eca0dd8257",
  },
];

/** The inner packet: IPv4/UDP 198.51.100.1:40000 → 203.0.113.2:9 carrying "hello from the browser". */
export function innerPacket() {
  const data = new TextEncoder().encode("hello from the browser");
  const p = new Uint8Array(28 + data.length);
  const v = new DataView(p.buffer);
  p.set([0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 198, 51, 100, 1, 203, 0, 113, 2]);
  v.setUint16(2, p.length);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(10, ~sum & 0xffff);
  v.setUint16(20, 40000);
  v.setUint16(22, 9);
  v.setUint16(24, 8 + data.length); // UDP checksum 0: none (IPv4)
  p.set(data, 28);
  return p;
}

export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
export const unhex = (s) =>
  Uint8Array.from({ length: s.length / 2 }, (_, i) => parseInt(s.slice(2 * i, 2 * i + 2), 16));
