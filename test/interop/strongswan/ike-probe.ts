// ike-probe.ts - sends IKE_SA_INIT requests over UDP from the caller namespace and prints what came
// back, as JSON on stdout. It uses none of the SDK's IKE code (it proves the harness, not the SDK);
// written after ../shared/interop/ike-probe.mjs. Run it inside the caller namespace:
//
//   node --import tsx test/interop/strongswan/ike-probe.ts [--peer 198.18.0.2] [--bind 198.18.0.1]
//        [--timeout 3000] PORT:GROUP...        e.g. 500:31 4500:19 500:14
//
// Each PORT:GROUP is one request from a fresh socket: SA (ENCR_AES_GCM_16/128, PRF_HMAC_SHA2_256,
// the DH group), KE, Nonce (32 bytes), NAT_DETECTION_SOURCE_IP and _DESTINATION_IP; on port 4500 with
// the 4-byte non-ESP marker (RFC 3948). Raw fields are printed, the caller judges them.
// Every answered probe leaves a half-open IKE_SA on the peer (SWAN_HALF_OPEN_TIMEOUT, 30 s).
import dgram from "node:dgram";
import {
  createECDH,
  createHash,
  diffieHellman,
  generateKeyPairSync,
  getDiffieHellman,
  randomBytes,
  createPublicKey,
} from "node:crypto";
import type { KeyObject } from "node:crypto";

/** One decoded payload of the response. */
export interface ProbePayload {
  type: number;
  /** SA: the transforms of the first proposal, plus its number, protocol and SPI size. */
  proposal?: {
    number: number;
    protocol: number;
    spiSize: number;
    transforms: { type: number; id: number; keyLength?: number }[];
  };
  /** KE: group and public value length; dh = whether our private key agreed with it. */
  ke?: { group: number; length: number; dh: boolean };
  nonceLength?: number;
  notify?: { type: number; protocol: number; data: string };
}

/** What one probe sent and received (hex strings). */
export interface ProbeResult {
  port: number;
  group: number;
  localAddress: string;
  localPort: number;
  from?: string;
  fromPort?: number;
  /** The 4-byte non-ESP marker was present (port 4500). */
  marker?: boolean;
  spiI: string;
  spiR?: string;
  nextPayload?: number;
  version?: number;
  exchange?: number;
  flags?: number;
  messageId?: number;
  length?: number;
  datagramLength?: number;
  payloads?: ProbePayload[];
  error?: string;
  rttMs?: number;
}

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : dflt;
};
const peer = opt("peer", "198.18.0.2");
const bind = opt("bind", "198.18.0.1");
const timeoutMs = Number(opt("timeout", "3000"));
const specs = args.filter((a, i) => /^\d+:\d+$/.test(a) && !args[i - 1]?.startsWith("--"));

const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff]);
const u32 = (v: number): Buffer => Buffer.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
const payload = (next: number, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from([next, 0]), u16(4 + body.length), body]);
const ipPort = (ip: string, port: number): Buffer => Buffer.concat([Buffer.from(ip.split(".").map(Number)), u16(port)]);
const sha1 = (...parts: Buffer[]): Buffer => createHash("sha1").update(Buffer.concat(parts)).digest();

/** Our key share for `group` and a function that tries to agree with the peer's public value. */
function keyShare(group: number): { pub: Buffer; agree: (peerPub: Buffer) => boolean } {
  if (group === 31) {
    const { publicKey, privateKey } = generateKeyPairSync("x25519");
    const pub = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
    return {
      pub,
      agree: (p) => {
        const spki = Buffer.concat([Buffer.from("302a300506032b656e032100", "hex"), p]);
        const peerKey: KeyObject = createPublicKey({ key: spki, format: "der", type: "spki" });
        return diffieHellman({ privateKey, publicKey: peerKey }).some((b) => b !== 0);
      },
    };
  }
  if (group === 19) {
    const ecdh = createECDH("prime256v1");
    // RFC 5903 §7: x | y without the 0x04 point format byte
    const pub = ecdh.generateKeys().subarray(1);
    return { pub, agree: (p) => ecdh.computeSecret(Buffer.concat([Buffer.from([4]), p])).length === 32 };
  }
  if (group === 14) {
    const dh = getDiffieHellman("modp14");
    const pub = dh.generateKeys();
    return { pub, agree: (p) => dh.computeSecret(p).length > 0 };
  }
  throw new Error(`unsupported group ${group}`);
}

function transform(last: boolean, type: number, id: number, keyLength?: number): Buffer {
  const attr = keyLength === undefined ? Buffer.alloc(0) : Buffer.concat([u16(0x800e), u16(keyLength)]);
  return Buffer.concat([Buffer.from([last ? 0 : 3, 0]), u16(8 + attr.length), Buffer.from([type, 0]), u16(id), attr]);
}

function buildInit(spiI: Buffer, group: number, pub: Buffer, localPort: number, port: number): Buffer {
  const transforms = Buffer.concat([transform(false, 1, 20, 128), transform(false, 2, 5), transform(true, 4, group)]);
  const proposal = Buffer.concat([
    Buffer.from([0, 0]),
    u16(8 + transforms.length),
    Buffer.from([1, 1, 0, 3]),
    transforms,
  ]);
  const zero = Buffer.alloc(8);
  const notify = (next: number, type: number, data: Buffer): Buffer =>
    payload(next, Buffer.concat([Buffer.from([0, 0]), u16(type), data]));
  const body = Buffer.concat([
    payload(34, proposal), // SA -> KE
    payload(40, Buffer.concat([u16(group), u16(0), pub])), // KE -> Nonce
    payload(41, randomBytes(32)), // Nonce -> Notify
    notify(41, 16388, sha1(spiI, zero, ipPort(bind, localPort))), // NAT_DETECTION_SOURCE_IP
    notify(0, 16389, sha1(spiI, zero, ipPort(peer, port))), // NAT_DETECTION_DESTINATION_IP
  ]);
  const hdr = Buffer.concat([spiI, zero, Buffer.from([33, 0x20, 34, 0x08]), u32(0), u32(28 + body.length)]);
  return Buffer.concat([hdr, body]);
}

function decode(buf: Buffer, agree: (p: Buffer) => boolean): Partial<ProbeResult> {
  const out: Partial<ProbeResult> = {
    spiR: buf.subarray(8, 16).toString("hex"),
    nextPayload: buf[16],
    version: buf[17],
    exchange: buf[18],
    flags: buf[19],
    messageId: buf.readUInt32BE(20),
    length: buf.readUInt32BE(24),
    datagramLength: buf.length,
    payloads: [],
  };
  let next = buf[16];
  let off = 28;
  while (next !== 0 && off + 4 <= buf.length) {
    const len = buf.readUInt16BE(off + 2);
    if (len < 4 || off + len > buf.length) throw new Error(`bad payload length ${len} at ${off}`);
    const body = buf.subarray(off + 4, off + len);
    const p: ProbePayload = { type: next! };
    if (next === 33) {
      const n = body[7];
      const transforms: { type: number; id: number; keyLength?: number }[] = [];
      let t = 8 + body[6]!;
      for (let i = 0; i < n!; i++) {
        const tl = body.readUInt16BE(t + 2);
        const tr: { type: number; id: number; keyLength?: number } = {
          type: body[t + 4]!,
          id: body.readUInt16BE(t + 6),
        };
        if (tl >= 12 && body.readUInt16BE(t + 8) === 0x800e) tr.keyLength = body.readUInt16BE(t + 10);
        transforms.push(tr);
        t += tl;
      }
      p.proposal = { number: body[4]!, protocol: body[5]!, spiSize: body[6]!, transforms };
    } else if (next === 34) {
      const value = body.subarray(4);
      let dh: boolean;
      try {
        dh = agree(value);
      } catch {
        dh = false;
      }
      p.ke = { group: body.readUInt16BE(0), length: value.length, dh };
    } else if (next === 40) {
      p.nonceLength = body.length;
    } else if (next === 41) {
      const spiSize = body[1];
      p.notify = { protocol: body[0]!, type: body.readUInt16BE(2), data: body.subarray(4 + spiSize!).toString("hex") };
    }
    out.payloads!.push(p);
    next = buf[off];
    off += len;
  }
  return out;
}

function probe(port: number, group: number): Promise<ProbeResult> {
  const sock = dgram.createSocket("udp4");
  const spiI = randomBytes(8);
  const share = keyShare(group);
  return new Promise((resolve) => {
    let t0 = 0;
    const result: ProbeResult = { port, group, localAddress: bind, localPort: 0, spiI: spiI.toString("hex") };
    const done = (extra: Partial<ProbeResult>): void => {
      clearTimeout(timer);
      sock.close();
      resolve({ ...result, ...extra });
    };
    const timer = setTimeout(() => done({ error: `no answer from ${peer}:${port} within ${timeoutMs} ms` }), timeoutMs);
    sock.on("error", (e) => done({ error: e.message }));
    sock.on("message", (raw, rinfo) => {
      const marker = port === 4500 && raw.length >= 4 && raw.readUInt32BE(0) === 0;
      const buf = marker ? raw.subarray(4) : raw;
      try {
        done({
          from: rinfo.address,
          fromPort: rinfo.port,
          marker,
          rttMs: performance.now() - t0,
          ...decode(buf, share.agree),
        });
      } catch (e) {
        done({ error: `undecodable answer: ${(e as Error).message}` });
      }
    });
    sock.bind({ address: bind, port: 0 }, () => {
      result.localPort = sock.address().port;
      const msg = buildInit(spiI, group, share.pub, result.localPort, port);
      t0 = performance.now();
      sock.send(port === 4500 ? Buffer.concat([Buffer.alloc(4), msg]) : msg, port, peer);
    });
  });
}

const results: ProbeResult[] = [];
for (const s of specs.length > 0 ? specs : ["500:31"]) {
  const [port, group] = s.split(":").map(Number);
  results.push(await probe(port!, group!));
}
process.stdout.write(`${JSON.stringify(results, null, 1)}\n`);
