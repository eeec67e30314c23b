// Ways to get a raw X25519 private key into node:crypto and its public key out, on the CPU clock
// (process.cpuUsage), 3,000 calls each after 300 untimed: what sdk/ike/dh-native.ts chooses from.
// Also the peer's public key import, derive, and one getRandomValues call.
import * as c from "node:crypto";

const N = 3000;
function time(name: string, f: () => unknown): void {
  for (let i = 0; i < 300; i++) f();
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) f();
  const u = process.cpuUsage(c0);
  console.log(`${name.padEnd(48)} ${((u.user + u.system) / N).toFixed(1).padStart(7)} µs`);
}
const priv = (): Uint8Array => c.getRandomValues(new Uint8Array(32));
const b64 = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.length).toString("base64url");
// RFC 8410 encodings: PKCS#8 and SPKI prefixes of a raw 32-byte X25519 key.
const PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI = Buffer.from("302a300506032b656e032100", "hex");

time("JWK import + public export (JWK): ours", () => {
  const k = c.createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: b64(priv()), x: "" }, format: "jwk" });
  return c.createPublicKey(k).export({ format: "jwk" });
});
time("PKCS#8 DER (cached prefix) import + SPKI export", () => {
  const k = c.createPrivateKey({ key: Buffer.concat([PKCS8, priv()]), format: "der", type: "pkcs8" });
  return c.createPublicKey(k).export({ format: "der", type: "spki" });
});
time("generateKeyPairSync + public export (DER)", () =>
  c.generateKeyPairSync("x25519").publicKey.export({ format: "der", type: "spki" }),
);
time("generateKeyPairSync + public export (JWK)", () =>
  c.generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }),
);
const pair = c.generateKeyPairSync("x25519");
const peer = (pair.publicKey.export({ format: "der", type: "spki" }) as Buffer).subarray(12);
time("peer import (JWK): ours", () =>
  c.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: b64(peer) }, format: "jwk" }),
);
time("peer import (SPKI DER, cached prefix)", () =>
  c.createPublicKey({ key: Buffer.concat([SPKI, peer]), format: "der", type: "spki" }),
);
const pk = c.createPublicKey({ key: Buffer.concat([SPKI, peer]), format: "der", type: "spki" });
time("diffieHellman (derive)", () => c.diffieHellman({ privateKey: pair.privateKey, publicKey: pk }));
time("getRandomValues, 32 bytes", () => c.getRandomValues(new Uint8Array(32)));
