/**
 * EAP-MSCHAPv2 computations (RFC 2759 §8) and its MSK (RFC 3079 §3.4), as strongSwan's
 * eap-mschapv2 plugin does them (src/libcharon/plugins/eap_mschapv2/eap_mschapv2.c). MD4 and DES
 * are needed by MSCHAPv2 only, so they live next to it in the SDK ({@link md4}, {@link desEncrypt}),
 * never on the wasm packet path. SHA-1 is injected by the caller (for instance
 * `(d) => controlCrypto.hash(HashAlg.Sha1, d)`), so this module runs in any JavaScript runtime.
 *
 * Timing: the DES S-box lookups are not constant time (see des.ts); everything else is hashing
 * and the authenticator check compares in constant time. The inputs are password-derived and the
 * whole computation runs once per road-warrior authentication, off the packet path.
 * @module
 */
import { md4 } from "./md4.ts";
import { desEncrypt } from "./des.ts";
import { secretBytes } from "../../dataplane/control-crypto.ts";

/** A SHA-1 function (FIPS 180-4), returning the 20-byte digest. */
export type Sha1 = (data: Uint8Array) => Uint8Array;

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
// Buffers that hold password-derived bytes are secretBytes (explicit ArrayBuffers, see
// control-crypto.ts) and are wiped once used, so no copy outlives the computation.
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = secretBytes(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
};
/** The first `n` bytes of a digest, in a buffer of its own; the digest is wiped. */
const head = (digest: Uint8Array, n: number): Uint8Array => {
  const out = secretBytes(n);
  out.set(digest.subarray(0, n));
  digest.fill(0);
  return out;
};
/** sha1 of the concatenation, the concatenation wiped (it holds secret parts). */
const sha1Of = (sha1: Sha1, ...parts: Uint8Array[]): Uint8Array => {
  const all = cat(...parts);
  const d = sha1(all);
  all.fill(0);
  return d;
};
const hexUpper = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();

// RFC 2759 §8.7 GenerateAuthenticatorResponse magic constants.
const AUTH_MAGIC1 = ascii("Magic server to client signing constant");
const AUTH_MAGIC2 = ascii("Pad to make it do more than one iteration");
// RFC 3079 §3.4 GetMasterKey / GetAsymmetricStartKey constants.
const MPPE_MAGIC1 = ascii("This is the MPPE Master Key");
const MPPE_MAGIC2 = ascii("On the client side, this is the send key; on the server side, it is the receive key.");
const MPPE_MAGIC3 = ascii("On the client side, this is the receive key; on the server side, it is the send key.");
const SHS_PAD1 = new Uint8Array(40);
const SHS_PAD2 = new Uint8Array(40).fill(0xf2);

/** The password as RFC 2759 §8 hashes it: UTF-16LE code units, no terminator. */
export function utf16le(password: string): Uint8Array {
  const out = secretBytes(password.length * 2);
  for (let i = 0; i < password.length; i++) {
    const u = password.charCodeAt(i);
    out[2 * i] = u & 0xff;
    out[2 * i + 1] = u >> 8;
  }
  return out;
}

/** RFC 2759 §8.3 NtPasswordHash: MD4 of the UTF-16LE password (16 bytes). */
export function ntPasswordHash(password: string): Uint8Array {
  const u = utf16le(password);
  const h = md4(u);
  u.fill(0);
  return h;
}

/** RFC 2759 §8.4 HashNtPasswordHash: MD4 of the 16-byte password hash. */
export function hashNtPasswordHash(passwordHash: Uint8Array): Uint8Array {
  return md4(passwordHash);
}

/**
 * The user name that enters the challenge hash: the identity after its first backslash, if any
 * (RFC 2759 §4 "without any domain"; strongSwan's extract_username), as UTF-8 bytes.
 */
export function challengeUserName(identity: string): Uint8Array {
  const slash = identity.indexOf("\\");
  return new TextEncoder().encode(slash < 0 ? identity : identity.slice(slash + 1));
}

/** RFC 2759 §8.2 ChallengeHash: the first 8 bytes of SHA-1(PeerChallenge | AuthenticatorChallenge | UserName). */
export function challengeHash(
  sha1: Sha1,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: Uint8Array,
): Uint8Array {
  return head(sha1Of(sha1, peerChallenge, authenticatorChallenge, userName), 8);
}

/** RFC 2759 §8.5 ChallengeResponse: the challenge DES-encrypted under the zero-padded hash's three 7-byte thirds. */
export function challengeResponse(challenge: Uint8Array, passwordHash: Uint8Array): Uint8Array {
  const z = secretBytes(21);
  z.set(passwordHash);
  const out = cat(
    desEncrypt(z.subarray(0, 7), challenge),
    desEncrypt(z.subarray(7, 14), challenge),
    desEncrypt(z.subarray(14, 21), challenge),
  );
  z.fill(0);
  return out;
}

/** RFC 2759 §8.1 GenerateNTResponse (24 bytes), from the 16-byte NT password hash. */
export function generateNtResponse(
  sha1: Sha1,
  authenticatorChallenge: Uint8Array,
  peerChallenge: Uint8Array,
  userName: Uint8Array,
  passwordHash: Uint8Array,
): Uint8Array {
  return challengeResponse(challengeHash(sha1, peerChallenge, authenticatorChallenge, userName), passwordHash);
}

/** The 20-byte authenticator response of RFC 2759 §8.7, before its "S=" hex encoding. */
function authenticatorDigest(
  sha1: Sha1,
  passwordHash: Uint8Array,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: Uint8Array,
): Uint8Array {
  const hashHash = hashNtPasswordHash(passwordHash);
  const digest = sha1Of(sha1, hashHash, ntResponse, AUTH_MAGIC1);
  hashHash.fill(0);
  const challenge = challengeHash(sha1, peerChallenge, authenticatorChallenge, userName);
  const out = sha1Of(sha1, digest, challenge, AUTH_MAGIC2);
  digest.fill(0);
  return out;
}

/** RFC 2759 §8.7 GenerateAuthenticatorResponse: "S=" and 40 upper-case hex digits. */
export function generateAuthenticatorResponse(
  sha1: Sha1,
  passwordHash: Uint8Array,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: Uint8Array,
): string {
  return `S=${hexUpper(authenticatorDigest(sha1, passwordHash, ntResponse, peerChallenge, authenticatorChallenge, userName))}`;
}

/**
 * RFC 2759 §8.8 CheckAuthenticatorResponse over a Success message ("S=<40 hex> M=<text>"): like
 * strongSwan, takes the space-separated "S=" token, requires exactly 40 hex digits (either case)
 * and compares the decoded 20 bytes in constant time.
 */
export function checkAuthenticatorResponse(
  sha1: Sha1,
  passwordHash: Uint8Array,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: Uint8Array,
  successMessage: string,
): boolean {
  const token = successMessage.split(" ").find((t) => t.startsWith("S="));
  if (token === undefined || !/^S=[0-9A-Fa-f]{40}$/.test(token)) return false;
  const expected = authenticatorDigest(sha1, passwordHash, ntResponse, peerChallenge, authenticatorChallenge, userName);
  let diff = 0;
  for (let i = 0; i < 20; i++) diff |= (expected[i] ?? 0) ^ parseInt(token.slice(2 + 2 * i, 4 + 2 * i), 16);
  return diff === 0;
}

/** RFC 3079 §3.4 GetMasterKey: the first 16 bytes of SHA-1(PasswordHashHash | NT-Response | Magic1). */
export function getMasterKey(sha1: Sha1, passwordHashHash: Uint8Array, ntResponse: Uint8Array): Uint8Array {
  return head(sha1Of(sha1, passwordHashHash, ntResponse, MPPE_MAGIC1), 16);
}

/**
 * RFC 3079 §3.4 GetAsymmetricStartKey: the first `keyLength` (8 or 16) bytes of
 * SHA-1(MasterKey | SHSpad1 | s | SHSpad2), where s is Magic2 for the client's send key and the
 * server's receive key, Magic3 for the other two.
 */
export function getAsymmetricStartKey(
  sha1: Sha1,
  masterKey: Uint8Array,
  keyLength: 8 | 16,
  isSend: boolean,
  isServer: boolean,
): Uint8Array {
  const magic = isSend === isServer ? MPPE_MAGIC3 : MPPE_MAGIC2;
  return head(sha1Of(sha1, masterKey.subarray(0, 16), SHS_PAD1, magic, SHS_PAD2), keyLength);
}

/**
 * The 64-byte EAP-MSCHAPv2 MSK that IKEv2 AUTH uses, exactly as strongSwan's GenerateMSK builds it
 * (eap_mschapv2.c, identically on the client and the server):
 * `SHA1(MasterKey|pad1|Magic2|pad2)[0..16] | SHA1(MasterKey|pad1|Magic3|pad2)[0..16] | 32 zero bytes`,
 * with MasterKey = GetMasterKey(HashNtPasswordHash(PasswordHash), NT-Response). In RFC 3079 terms
 * that is the server's MasterReceiveKey then its MasterSendKey (the client's send key, then its
 * receive key), which is Microsoft's [MS-CHAP] "MSK = MasterReceiveKey + MasterSendKey + 32 bytes
 * zeroes" stated for the authenticator.
 */
export function mschapv2Msk(sha1: Sha1, passwordHash: Uint8Array, ntResponse: Uint8Array): Uint8Array {
  const hashHash = hashNtPasswordHash(passwordHash);
  const master = getMasterKey(sha1, hashHash, ntResponse);
  const msk = secretBytes(64);
  const receive = getAsymmetricStartKey(sha1, master, 16, false, true);
  const send = getAsymmetricStartKey(sha1, master, 16, true, true);
  msk.set(receive, 0);
  msk.set(send, 16);
  receive.fill(0);
  send.fill(0);
  hashHash.fill(0);
  master.fill(0);
  return msk;
}
