// EAP-MSCHAPv2 building blocks (sdk/ike/eap/): MD4, DES and the RFC 2759 / RFC 3079 computations,
// against the published vectors. SHA-1 is the SDK's own wasm one (ControlCrypto), injected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { md4 } from "../../sdk/ike/eap/md4.ts";
import { desEncrypt, desEncryptBlock, expandDesKey } from "../../sdk/ike/eap/des.ts";
import * as ms from "../../sdk/ike/eap/mschapv2.ts";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { HashAlg } from "../../sdk/dataplane/suites.ts";

const cc = await ControlCrypto.create();
const sha1: ms.Sha1 = (d) => cc.hash(HashAlg.Sha1, d);
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ""), "hex"));
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

test("MD4: the RFC 1320 §A.5 test suite", () => {
  const suite: [string, string][] = [
    ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
    ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
    ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
    ["message digest", "d9130a8164549fe818874806e1c7014b"],
    ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
    ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"],
    ["1234567890".repeat(8), "e33b4ddc9c38f2199c3e7b164fcc0536"],
  ];
  for (const [msg, digest] of suite) assert.deepEqual(md4(ascii(msg)), hex(digest), JSON.stringify(msg));
});

test("DES: known answers", () => {
  const kat: [string, string, string, string][] = [
    // J. O. Grabbe, "The DES Algorithm Illustrated" (the classic worked example).
    ["133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405", "Grabbe"],
    // NIST SP 800-17 Table A.1 (variable plaintext) and A.2 (variable key), first entries.
    ["0101010101010101", "8000000000000000", "95F8A5E5DD31D900", "SP 800-17 A.1"],
    ["8001010101010101", "0000000000000000", "95A8D72813DAA94D", "SP 800-17 A.2"],
    // NESSIE DES set 8, vectors #0 and #1, as strongSwan's test_vectors/des.c carries them.
    ["0001020304050607", "41AD068548809D02", "0011223344556677", "NESSIE set 8 #0"],
    ["2BD6459F82C5B300", "B10F843097A0F932", "EA024714AD5C4D84", "NESSIE set 8 #1"],
  ];
  for (const [key, plain, cipher, name] of kat)
    assert.deepEqual(desEncryptBlock(hex(key), hex(plain)), hex(cipher), name);
  assert.throws(() => desEncryptBlock(new Uint8Array(7), new Uint8Array(8)), RangeError);
});

test("DES: RFC 2759 §9.3 key expansion with parity, and §9.2 DesEncrypt intermediate values", () => {
  // §9.3: PasswordHash FC156AF7EDCD6C0EDDE3337D427F4EAC -> parity-corrected DES keys
  // FD 0B 5B 5E 7F 6E 34 D9 | 0E 6E 79 67 37 EA 08 FE | 4F 57 (the RFC prints 18 octets).
  assert.deepEqual(ms.ntPasswordHash("MyPw"), hex("FC156AF7EDCD6C0EDDE3337D427F4EAC"));
  assert.deepEqual(expandDesKey(hex("FC156AF7EDCD6C")), hex("FD0B5B5E7F6E34D9"));
  assert.deepEqual(expandDesKey(hex("0EDDE3337D427F")), hex("0E6E796737EA08FE"));
  assert.deepEqual(expandDesKey(hex("4EAC0000000000")).subarray(0, 2), hex("4F57"));
  // §9.2: the 8-octet Challenge under each 7-octet third of the zero-padded PasswordHash gives
  // each third of the NT-Response.
  const challenge = hex("D0 2E 43 86 BC E9 12 26");
  const z = new Uint8Array(21);
  z.set(hex("44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE"));
  const nt = hex("82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF");
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(desEncrypt(z.subarray(7 * i, 7 * i + 7), challenge), nt.subarray(8 * i, 8 * i + 8), `third ${i}`);
  }
});

// RFC 2759 §9.2 "Hash Example": user name "User", password "clientPass".
const authChallenge = hex("5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28");
const peerChallenge = hex("21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E");
const passwordHash = hex("44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE");
const ntResponse = hex("82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF");
const userName = ms.challengeUserName("User");
const S = "S=407A5589115FD0D6209F510FE9C04566932CDA56";

test("MSCHAPv2: RFC 2759 §9.2 hash example", () => {
  assert.deepEqual(userName, hex("55 73 65 72"));
  assert.deepEqual(ms.utf16le("clientPass"), hex("63 00 6C 00 69 00 65 00 6E 00 74 00 50 00 61 00 73 00 73 00"));
  assert.deepEqual(ms.challengeHash(sha1, peerChallenge, authChallenge, userName), hex("D0 2E 43 86 BC E9 12 26"));
  assert.deepEqual(ms.ntPasswordHash("clientPass"), passwordHash);
  assert.deepEqual(ms.generateNtResponse(sha1, authChallenge, peerChallenge, userName, passwordHash), ntResponse);
  assert.deepEqual(ms.hashNtPasswordHash(passwordHash), hex("41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F"));
  assert.equal(
    ms.generateAuthenticatorResponse(sha1, passwordHash, ntResponse, peerChallenge, authChallenge, userName),
    S,
  );
});

test("MSCHAPv2: the domain part of the identity stays out of the challenge hash", () => {
  assert.deepEqual(ms.challengeUserName("ACME\\User"), userName);
  assert.deepEqual(ms.challengeUserName("User@example.com"), ascii("User@example.com"));
});

test("MSCHAPv2: CheckAuthenticatorResponse accepts the right S= only", () => {
  const check = (msg: string): boolean =>
    ms.checkAuthenticatorResponse(sha1, passwordHash, ntResponse, peerChallenge, authChallenge, userName, msg);
  assert.equal(check(S), true);
  assert.equal(check(`${S} M=Welcome`), true);
  assert.equal(check(S.toLowerCase().replace("s=", "S=")), true);
  assert.equal(check(S.replace("407A", "407B")), false);
  assert.equal(check(S.slice(0, -2)), false);
  assert.equal(check(`${S}00`), false);
  assert.equal(check("M=Welcome"), false);
  assert.equal(check(`S=${"G".repeat(40)}`), false);
});

test("MSK: RFC 3079 §3.5.3 (128-bit) MasterKey and SendStartKey128, and strongSwan's MSK layout", () => {
  const passwordHashHash = ms.hashNtPasswordHash(passwordHash);
  const master = ms.getMasterKey(sha1, passwordHashHash, ntResponse);
  assert.deepEqual(master, hex("FD EC E3 71 7A 8C 83 8C B3 88 E5 27 AE 3C DD 31"));
  // The RFC's SendStartKey128 is computed with IsSend = IsServer = TRUE, i.e. Magic3 (the server's
  // send key = the client's receive key); §3.5.1/3.5.2 print its first 8 octets for 40/56-bit keys.
  const serverSend = ms.getAsymmetricStartKey(sha1, master, 16, true, true);
  assert.deepEqual(serverSend, hex("8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB"));
  assert.deepEqual(ms.getAsymmetricStartKey(sha1, master, 8, true, true), hex("8B 7C DC 14 9B 99 3A 1B"));
  assert.deepEqual(ms.getAsymmetricStartKey(sha1, master, 16, false, false), serverSend);
  const serverReceive = ms.getAsymmetricStartKey(sha1, master, 16, false, true);
  assert.deepEqual(ms.getAsymmetricStartKey(sha1, master, 16, true, false), serverReceive);
  assert.notDeepEqual(serverReceive, serverSend);
  // strongSwan GenerateMSK: Magic2 key | Magic3 key | 32 zero octets (server receive | server send).
  const msk = ms.mschapv2Msk(sha1, passwordHash, ntResponse);
  assert.equal(msk.length, 64);
  assert.deepEqual(msk.subarray(0, 16), serverReceive);
  assert.deepEqual(msk.subarray(16, 32), serverSend);
  assert.deepEqual(msk.subarray(32), new Uint8Array(32));
});
