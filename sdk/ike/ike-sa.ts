/**
 * One IKEv2 SA (RFC 7296), as initiator or responder: IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA
 * (new child, child rekey, IKE rekey) and INFORMATIONAL (delete, DPD). Bytes in, bytes out:
 * sockets, timers, randomness and the dataplane are the host's, so tests drive it without a network.
 *
 * Message IDs use a window of 1 (§2.3): one request of ours in flight, retransmitted with
 * exponential back-off (§2.4); a retransmitted request of the peer's is answered from cache.
 * @module
 */
import type { ControlCrypto } from "../dataplane/control-crypto.ts";
import { HashAlg } from "../dataplane/suites.ts";
import { decodeMessage, decodePayloads, encodePayloads, encodeMessage } from "./codec.ts";
import { notifyName, summarizeMessage } from "./names.ts";
import { generateKeyShare, dhGroupById, type KeyShare } from "./dh.ts";
import {
  acceptChosen, selectProposal, toWireProposals, formatProposal, espSuiteKeyword, keyLengths,
  type AlgorithmSet, type Chosen,
} from "./proposals.ts";
import { narrowTs, formatTsList, explainTsMismatch, resolveTs, parseIp } from "./ts.ts";
import { formatIdentity, identityMatches, type IkeIdentity } from "./identity.ts";
import { certMatchesIdentity, parseCertificate, verifyChain, type Certificate } from "./x509.ts";
import { signAuth, verifyAuth, SUPPORTED_HASHES } from "./signature-auth.ts";
import { concat, equalBytes, deriveIkeKeys, deriveChildKeys, prfFor, pskAuth, authOctets, type Prf, type IkeKeys } from "./keys.ts";
import { SkCipher } from "./sk.ts";
import {
  Exchange, HeaderFlag, ProtocolId, Notify, NOTIFY_ERROR_MAX, AuthMethod, CertEncoding,
  type IkeHeader, type IkeMessage, type Payload, type Proposal, type TrafficSelector,
} from "./message.ts";
import type { IkeConnection, ChildTemplate } from "./config.ts";
import type { LogSink, Subsystem } from "./log.ts";
import { IkeError, type IkeErrorCode } from "./errors.ts";

/** An address and UDP port. */
export interface Endpoint { address: string; port: number }

/** Opaque timer handle of the host. */
export type TimerId = unknown;

/** Keys of one installed Child SA, from our point of view. */
export interface ChildSaKeys { encIn: Uint8Array; integIn: Uint8Array; encOut: Uint8Array; integOut: Uint8Array }

/** A Child SA pair as negotiated. */
export interface ChildSa {
  readonly name: string;
  readonly uniqueId: number;
  state: "INSTALLED" | "REKEYING" | "REKEYED" | "DELETING" | "DELETED";
  /** SPI the peer sends to (our inbound) and the SPI we send to (the peer's inbound). */
  readonly spiIn: number;
  readonly spiOut: number;
  /** Dataplane suite keyword, e.g. "aes128gcm16". */
  readonly suite: string;
  /** strongSwan notation of the negotiated proposal, e.g. "ESP:AES_GCM_16_128/NO_EXT_SEQ". */
  readonly proposal: string;
  readonly mode: "tunnel" | "transport";
  readonly esn: boolean;
  readonly localTs: TrafficSelector[];
  readonly remoteTs: TrafficSelector[];
  readonly template: ChildTemplate;
  readonly installedAt: number;
  /** Whether our outbound traffic uses this SA yet (a rekey responder waits for the old SA's DELETE). */
  outboundActive: boolean;
  /** Set by the host when it installs the SA in the dataplane. */
  handles?: { in: number; out?: number };
}

/** What an IKE SA tells its owner. */
export type IkeEvent =
  | { type: "established"; ike: IkeSa }
  | { type: "child-up"; ike: IkeSa; child: ChildSa; rekeyOf?: ChildSa }
  | { type: "child-down"; ike: IkeSa; child: ChildSa; reason: string }
  | { type: "child-failed"; ike: IkeSa; error: IkeError }
  | { type: "rekeyed"; ike: IkeSa; successor: IkeSa }
  | { type: "failed"; ike: IkeSa; error: IkeError }
  | { type: "deleted"; ike: IkeSa; reason: string };

/** The environment an IKE SA runs in. */
export interface IkeSaHost {
  crypto: ControlCrypto;
  now(): number;
  setTimer(ms: number, fn: () => void): TimerId;
  clearTimer(t: TimerId): void;
  random(n: number): Uint8Array;
  send(bytes: Uint8Array, local: Endpoint, remote: Endpoint): void;
  log: LogSink;
  /** A fresh inbound SPI, unique in the dataplane (>= 256). */
  allocateSpi(): number;
  /** Installs a Child SA; `outbound` false keeps the outbound key until activateOutbound. */
  installChild(ike: IkeSa, child: ChildSa, keys: ChildSaKeys, outbound: boolean): void;
  activateOutbound(child: ChildSa): void;
  removeChild(child: ChildSa): void;
  /** Local port of the NAT-T socket (4500 in production): where IKE floats to and ESP-in-UDP lives. */
  natPort(): number;
  /** Time of the last packet (IKE or ESP) from the peer, for DPD. */
  lastHeard(ike: IkeSa): number;
  /** The IKE SA's id key changed (IKE_SA_INIT done: responder SPI known). */
  register(ike: IkeSa): void;
  event(e: IkeEvent): void;
  /** Resolves a connection for a responder once the peer's identity is known (IDi). */
  findConnection?(idi: IkeIdentity, idr: IkeIdentity | undefined, local: Endpoint, remote: Endpoint): IkeConnection | undefined;
  /** Pre-shared key for a pair of identities (responder side lookups). */
  findPsk?(local: IkeIdentity | "any", remote: IkeIdentity): Uint8Array | undefined;
}

/** IKE SA states, named as charon names them. */
export type IkeState = "CREATED" | "CONNECTING" | "ESTABLISHED" | "REKEYING" | "REKEYED" | "DELETING" | "DESTROYED";

interface Pending {
  messageId: number;
  exchange: number;
  datagrams: Uint8Array[];
  tries: number;
  timer?: TimerId;
  sentAt: number;
  onResponse(msg: IkeMessage, inner: Payload[]): Promise<void> | void;
  onTimeout(): void;
}

type Task = { name: string; run(): Promise<void> | void };

let nextUniqueId = 1;
let nextChildId = 1;

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const SPI_ZERO = new Uint8Array(8);
const NONCE_BYTES = 32;
/** IKE message budget when fragmenting: 1280-byte IP packets (strongSwan's fragment_size), minus IP/UDP/marker. */
const FRAGMENT_BYTES = 1280 - 20 - 8 - 4;

function u32(b: Uint8Array): number { return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0; }
function spiBytes(n: number): Uint8Array { return Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255); }
/** The payload variant(s) whose type includes T (IDi/IDr and TSi/TSr share a variant). */
type PayloadOf<T extends Payload["type"]> = Payload extends infer P ? (P extends { type: infer U } ? (T extends U ? P : never) : never) : never;
function find<T extends Payload["type"]>(ps: Payload[], type: T): PayloadOf<T> | undefined {
  return ps.find((p) => p.type === type) as PayloadOf<T> | undefined;
}
function notifies(ps: Payload[]): PayloadOf<"N">[] {
  return ps.filter((p): p is PayloadOf<"N"> => p.type === "N");
}
function notify(type: number, data: Uint8Array = new Uint8Array(0), protocolId = 0, spi: Uint8Array = new Uint8Array(0)): Payload {
  return { type: "N", protocolId, spi, notifyType: type, data };
}
/** Body of an ID payload after the generic header (what AUTH's prf covers, §2.15). */
function idBody(p: { idType: number; data: Uint8Array }): Uint8Array {
  return concat(Uint8Array.of(p.idType, 0, 0, 0), p.data);
}
function sha1(cc: ControlCrypto, data: Uint8Array): Uint8Array { return cc.hash(HashAlg.Sha1, data); }
function ipBytes(addr: string): Uint8Array {
  return parseIp(addr) ?? new Uint8Array(0);
}
/** NAT_DETECTION hash (§2.23): SHA-1(SPIi | SPIr | IP | port). */
function natHash(cc: ControlCrypto, spiI: Uint8Array, spiR: Uint8Array, ep: Endpoint): Uint8Array {
  return sha1(cc, concat(spiI, spiR, ipBytes(ep.address), Uint8Array.of(ep.port >> 8, ep.port & 255)));
}

/** One IKE SA. */
export class IkeSa {
  readonly uniqueId = nextUniqueId++;
  state: IkeState = "CREATED";
  /** True if we sent the first IKE_SA_INIT (decides key directions and the I flag). */
  readonly originalInitiator: boolean;
  spiI: Uint8Array;
  spiR: Uint8Array = SPI_ZERO;
  local: Endpoint;
  remote: Endpoint;
  conn: IkeConnection;
  /** The negotiated IKE proposal, in strongSwan notation once known. */
  proposal = "";
  chosen?: Chosen;
  localId?: IkeIdentity;
  remoteId?: IkeIdentity;
  /** NAT seen (or faked) on either side: IKE moves to 4500 and ESP is UDP-encapsulated. */
  natDetected = false;
  peerSupportsFragmentation = false;
  peerHashes: number[] = [];
  readonly children = new Map<number, ChildSa>(); // by spiIn
  establishedAt = 0;
  /** Exchanges completed, for status output. */
  error?: IkeError;

  #host: IkeSaHost;
  #prf?: Prf;
  #keys?: IkeKeys;
  #out?: SkCipher;
  #in?: SkCipher;
  #ni: Uint8Array = new Uint8Array(0);
  #nr: Uint8Array = new Uint8Array(0);
  #ks?: KeyShare;
  #dhGroup = 0;
  #cookie?: Uint8Array;
  #initRequest: Uint8Array = new Uint8Array(0);
  #initResponse: Uint8Array = new Uint8Array(0);
  #nextRequestId = 0;
  #expectRequestId = 0;
  #pending?: Pending;
  #queue: Task[] = [];
  /** A task has been taken from {@link #queue} and has not finished running yet. */
  #taskTaken = false;
  #lastResponse?: { messageId: number; datagrams: Uint8Array[] };
  #fragments = new Map<number, { total: number; parts: Map<number, Uint8Array>; innerType: number }>();
  #chain: Promise<void> = Promise.resolve();
  #timers = new Set<TimerId>();
  #dpdTimer?: TimerId;
  #rekeyTimer?: TimerId;
  #initRetries = 0;

  constructor(host: IkeSaHost, conn: IkeConnection, local: Endpoint, remote: Endpoint, originalInitiator: boolean, spiI?: Uint8Array) {
    this.#host = host;
    this.conn = conn;
    this.local = local;
    this.remote = remote;
    this.originalInitiator = originalInitiator;
    this.spiI = spiI ?? host.random(8);
  }

  /** Our SPI (the one the peer puts in our slot of the header). */
  get localSpi(): Uint8Array { return this.originalInitiator ? this.spiI : this.spiR; }

  /** Logs with this SA's name and unique id. */
  log(subsystem: Subsystem, level: 0 | 1 | 2, message: string): void {
    this.#host.log({ subsystem, level, ike: { name: this.conn.name, id: this.uniqueId }, message, time: this.#host.now() });
  }

  // ------------------------------------------------------------------ timers and the request queue

  private timer(ms: number, fn: () => void): TimerId {
    const t = this.#host.setTimer(ms, () => { this.#timers.delete(t); if (this.state !== "DESTROYED") fn(); });
    this.#timers.add(t);
    return t;
  }

  private cancel(t: TimerId | undefined): void {
    if (t === undefined) return;
    this.#host.clearTimer(t);
    this.#timers.delete(t);
  }

  /** Queues a request-sending task; runs when no request of ours is outstanding (window 1). */
  private enqueue(task: Task): void {
    this.#queue.push(task);
    this.pump();
  }

  private pump(): void {
    // A task taken from the queue runs later on the chain; until it has run it may still send a
    // request, so no second task may be taken before it: otherwise both would send with the same
    // message ID (seen against Libreswan: two INFORMATIONAL request 3). RFC 7296 §2.3, window 1.
    if (this.#pending || this.#taskTaken || this.state === "DESTROYED") return;
    const task = this.#queue.shift();
    if (!task) return;
    this.#taskTaken = true;
    this.#chain = this.#chain
      .then(() => task.run())
      .catch((e) => this.crash(e))
      .finally(() => {
        this.#taskTaken = false;
        this.pump(); // the task may have sent nothing (its SA already gone): the next one may go
      });
  }

  private crash(e: unknown): void {
    const err = e instanceof IkeError ? e : new IkeError("INTERNAL", `internal error: ${(e as Error).stack ?? e}`);
    this.fail(err);
  }

  /** Sends a request and arms retransmission; the response handler runs once. */
  private sendRequest(exchange: number, payloads: Payload[], onResponse: Pending["onResponse"], onTimeout?: () => void): void {
    const messageId = this.#nextRequestId;
    const datagrams = exchange === Exchange.IKE_SA_INIT
      ? [this.plainMessage(exchange, false, messageId, payloads)]
      : this.protect(exchange, false, messageId, payloads);
    if (exchange === Exchange.IKE_SA_INIT) this.#initRequest = datagrams[0];
    this.#pending = {
      messageId, exchange, datagrams, tries: 0, sentAt: this.#host.now(), onResponse,
      onTimeout: onTimeout ?? (() => this.fail(this.unreachable(exchange))),
    };
    this.log("ENC", 1, `generating ${summarizeMessage(exchange, false, messageId, payloads)}`);
    this.transmit(this.#pending);
  }

  private unreachable(exchange: number): IkeError {
    const r = this.conn.retransmit;
    let total = 0;
    for (let i = 0; i <= r.tries; i++) total += r.timeoutMs * r.base ** i;
    const what = exchange === Exchange.IKE_SA_INIT ? "IKE_SA_INIT" : exchange === Exchange.INFORMATIONAL ? "INFORMATIONAL (liveness check)" : "request";
    const code: IkeErrorCode = this.state === "ESTABLISHED" || this.state === "REKEYING" ? "PEER_DEAD" : "PEER_UNREACHABLE";
    return new IkeError(code,
      `no answer to ${what} from ${this.remote.address}[${this.remote.port}] (sent from ${this.local.address}[${this.local.port}]) ` +
      `after ${r.tries} retransmits over ${(total / 1000).toFixed(1)} s: the peer is down, or UDP 500/4500 is blocked on the way`);
  }

  private transmit(p: Pending): void {
    for (const d of p.datagrams) {
      this.log("NET", 2, `sending packet: from ${this.local.address}[${this.local.port}] to ${this.remote.address}[${this.remote.port}] (${d.length} bytes)`);
      this.#host.send(d, this.local, this.remote);
    }
    const r = this.conn.retransmit;
    const wait = r.timeoutMs * r.base ** p.tries;
    p.timer = this.timer(wait, () => {
      if (this.#pending !== p) return;
      if (p.tries >= r.tries) {
        this.log("IKE", 0, `giving up after ${r.tries} retransmits`);
        this.#pending = undefined;
        p.onTimeout();
        return;
      }
      p.tries++;
      this.log("IKE", 1, `retransmit ${p.tries} of request with message ID ${p.messageId}`);
      this.transmit(p);
    });
  }

  // ------------------------------------------------------------------ encoding

  private header(exchange: number, response: boolean, messageId: number): Omit<IkeHeader, "length" | "nextPayload"> {
    let flags = 0;
    if (this.originalInitiator) flags |= HeaderFlag.INITIATOR;
    if (response) flags |= HeaderFlag.RESPONSE;
    return { spiI: this.spiI, spiR: this.spiR, majorVersion: 2, minorVersion: 0, exchange, flags, messageId };
  }

  private plainMessage(exchange: number, response: boolean, messageId: number, payloads: Payload[]): Uint8Array {
    return encodeMessage({ header: { ...this.header(exchange, response, messageId), nextPayload: 0, length: 0 }, payloads });
  }

  /** Encrypts payloads into one SK message, or SKF fragments when too big and the peer supports it (RFC 7383). */
  private protect(exchange: number, response: boolean, messageId: number, payloads: Payload[]): Uint8Array[] {
    const out = this.#out!;
    const { firstType, bytes } = encodePayloads(payloads);
    const hdr = this.header(exchange, response, messageId);
    const whole = 28 + 4 + bytes.length + out.overhead(bytes.length);
    const mayFragment = this.peerSupportsFragmentation && this.conn.fragmentation !== "no" && exchange !== Exchange.IKE_SA_INIT;
    if (whole <= FRAGMENT_BYTES || !mayFragment) return [out.seal(hdr, firstType, bytes)];
    const room = FRAGMENT_BYTES - 28 - 8 - out.ivBytes - out.icvBytes - 17;
    const total = Math.ceil(bytes.length / room);
    const frags: Uint8Array[] = [];
    for (let i = 0; i < total; i++) {
      frags.push(out.seal(hdr, i === 0 ? firstType : 0, bytes.subarray(i * room, (i + 1) * room), { number: i + 1, total }));
    }
    this.log("ENC", 1, `splitting IKE message (${whole} bytes) into ${total} fragments`);
    return frags;
  }

  private respond(exchange: number, messageId: number, payloads: Payload[]): void {
    const datagrams = exchange === Exchange.IKE_SA_INIT
      ? [this.plainMessage(exchange, true, messageId, payloads)]
      : this.protect(exchange, true, messageId, payloads);
    if (exchange === Exchange.IKE_SA_INIT) this.#initResponse = datagrams[0];
    this.#lastResponse = { messageId, datagrams };
    this.log("ENC", 1, `generating ${summarizeMessage(exchange, true, messageId, payloads)}`);
    for (const d of datagrams) {
      this.log("NET", 2, `sending packet: from ${this.local.address}[${this.local.port}] to ${this.remote.address}[${this.remote.port}] (${d.length} bytes)`);
      this.#host.send(d, this.local, this.remote);
    }
  }

  // ------------------------------------------------------------------ receiving

  /** Feeds one received IKE message (non-ESP marker already removed). */
  receive(bytes: Uint8Array, local: Endpoint, remote: Endpoint): Promise<void> {
    this.#chain = this.#chain.then(() => this.process(bytes, local, remote)).catch((e) => this.crash(e));
    return this.#chain;
  }

  private async process(bytes: Uint8Array, local: Endpoint, remote: Endpoint): Promise<void> {
    if (this.state === "DESTROYED") return;
    const dec = decodeMessage(bytes);
    if (!dec.ok) { this.log("ENC", 0, `dropping invalid message: ${dec.error.message}`); return; }
    const msg = dec.value;
    const h = msg.header;
    this.#rawIn = bytes;
    const isResponse = (h.flags & HeaderFlag.RESPONSE) !== 0;
    this.log("NET", 2, `received packet: from ${remote.address}[${remote.port}] to ${local.address}[${local.port}] (${bytes.length} bytes)`);

    if (isResponse) {
      const p = this.#pending;
      if (!p || p.messageId !== h.messageId || p.exchange !== h.exchange) {
        this.log("IKE", 1, `ignoring ${h.exchange === Exchange.IKE_SA_INIT ? "IKE_SA_INIT" : "unexpected"} response with message ID ${h.messageId} (none outstanding)`);
        return;
      }
    } else if (h.messageId !== this.#expectRequestId) {
      if (this.#lastResponse && h.messageId === this.#lastResponse.messageId) {
        // A retransmitted request: answer from cache, never process twice (§2.1). Only answer once per fragment set.
        if (!find(msg.payloads, "SKF") || find(msg.payloads, "SKF")!.fragmentNumber === 1) {
          this.log("IKE", 1, `received retransmit of request with ID ${h.messageId}, retransmitting response`);
          for (const d of this.#lastResponse.datagrams) this.#host.send(d, this.local, this.remote);
        }
      } else {
        this.log("IKE", 1, `ignoring request with message ID ${h.messageId}, expected ${this.#expectRequestId}`);
      }
      return;
    }

    let inner: Payload[] = msg.payloads;
    if (h.exchange !== Exchange.IKE_SA_INIT) {
      const opened = this.openMessage(bytes, msg);
      if (opened === "incomplete") return;
      if (!opened) return;
      inner = opened;
    }
    // Authenticated traffic from a new address or port: follow it (NAT mapping change, port float).
    if (h.exchange !== Exchange.IKE_SA_INIT && (remote.address !== this.remote.address || remote.port !== this.remote.port)) {
      this.log("IKE", 1, `remote endpoint changed from ${this.remote.address}[${this.remote.port}] to ${remote.address}[${remote.port}]`);
      this.remote = remote;
    }
    if (h.exchange !== Exchange.IKE_SA_INIT) this.local = local;
    this.log("ENC", 1, `parsed ${summarizeMessage(h.exchange, isResponse, h.messageId, inner)}`);
    const critical = inner.find((p) => p.type === "UNKNOWN" && p.critical);
    if (critical && !isResponse) {
      this.#expectRequestId++;
      this.respond(h.exchange, h.messageId, [notify(Notify.UNSUPPORTED_CRITICAL_PAYLOAD, Uint8Array.of((critical as { payloadType: number }).payloadType))]);
      return;
    }

    if (isResponse) {
      const p = this.#pending!;
      this.cancel(p.timer);
      this.#pending = undefined;
      this.#nextRequestId++;
      await p.onResponse(msg, inner);
      this.pump();
      return;
    }
    this.#expectRequestId++;
    await this.handleRequest(msg, inner);
  }

  /** Decrypts SK, or collects SKF fragments; undefined when the message does not verify. */
  private openMessage(bytes: Uint8Array, msg: IkeMessage): Payload[] | undefined | "incomplete" {
    if (!this.#in) { this.log("ENC", 0, "dropping encrypted message: no keys yet"); return undefined; }
    const last = msg.payloads[msg.payloads.length - 1];
    if (!last || (last.type !== "SK" && last.type !== "SKF")) {
      this.log("ENC", 0, `dropping ${msg.header.exchange} message without an encrypted payload`);
      return undefined;
    }
    const opened = this.#in.open(bytes, last.body.length);
    if (!opened.ok) {
      this.log("ENC", 0, `could not decrypt payloads: ${opened.reason}; message verification failed (wrong keys or a tampered message), dropped`);
      return undefined;
    }
    if (last.type === "SK") {
      const r = decodePayloads(opened.plaintext, last.innerType, 0);
      if (!r.ok) { this.log("ENC", 0, `invalid encrypted payloads: ${r.error.message}`); return undefined; }
      return r.value;
    }
    const id = msg.header.messageId;
    let f = this.#fragments.get(id);
    if (!f) { f = { total: last.totalFragments, parts: new Map(), innerType: 0 }; this.#fragments.set(id, f); }
    if (last.totalFragments !== f.total || last.fragmentNumber < 1 || last.fragmentNumber > f.total) {
      this.log("ENC", 0, `dropping fragment ${last.fragmentNumber}/${last.totalFragments}: inconsistent with ${f.total} fragments`);
      return undefined;
    }
    if (last.fragmentNumber === 1) f.innerType = last.innerType;
    f.parts.set(last.fragmentNumber, opened.plaintext);
    this.log("ENC", 2, `received fragment #${last.fragmentNumber} of ${f.total}`);
    if (f.parts.size < f.total) return "incomplete";
    this.#fragments.delete(id);
    const whole = concat(...Array.from({ length: f.total }, (_, i) => f!.parts.get(i + 1)!));
    this.log("ENC", 1, `reassembled fragmented IKE message (${whole.length} bytes)`);
    const r = decodePayloads(whole, f.innerType, 0);
    if (!r.ok) { this.log("ENC", 0, `invalid encrypted payloads: ${r.error.message}`); return undefined; }
    return r.value;
  }

  private async handleRequest(msg: IkeMessage, inner: Payload[]): Promise<void> {
    const h = msg.header;
    switch (h.exchange) {
      case Exchange.IKE_SA_INIT:
        this.log("IKE", 0, "unexpected IKE_SA_INIT request on an existing IKE SA, ignored");
        return;
      case Exchange.IKE_AUTH:
        if (this.state !== "CONNECTING" || this.originalInitiator) { this.respond(h.exchange, h.messageId, [notify(Notify.INVALID_SYNTAX)]); return; }
        return this.respondAuth(h.messageId, inner);
      case Exchange.CREATE_CHILD_SA:
        return this.respondCreateChild(h.messageId, inner);
      case Exchange.INFORMATIONAL:
        return this.respondInformational(h.messageId, inner);
      default:
        this.log("IKE", 0, `unsupported exchange type ${h.exchange}`);
    }
  }

  // ------------------------------------------------------------------ IKE_SA_INIT, initiator

  /** Starts the IKE SA as initiator: IKE_SA_INIT, then IKE_AUTH with the first child. */
  initiate(firstChild?: ChildTemplate): void {
    this.state = "CONNECTING";
    this.#dhGroup = this.conn.ikeProposals[0]?.dh[0] ?? 0;
    this.log("IKE", 0, `initiating IKE_SA ${this.conn.name}[${this.uniqueId}] to ${this.remote.address}`);
    this.enqueue({ name: "IKE_SA_INIT", run: () => this.sendInit(firstChild) });
  }

  private initPayloads(): Payload[] {
    const cc = this.#host.crypto;
    const payloads: Payload[] = [];
    if (this.#cookie) payloads.push(notify(Notify.COOKIE, this.#cookie));
    payloads.push({ type: "SA", proposals: toWireProposals(this.conn.ikeProposals, new Uint8Array(0)) });
    payloads.push({ type: "KE", group: this.#dhGroup, data: this.#ks!.publicValue });
    payloads.push({ type: "NONCE", data: this.#ni });
    payloads.push(...this.natdPayloads(cc, SPI_ZERO));
    if (this.conn.fragmentation !== "no") payloads.push(notify(Notify.IKEV2_FRAGMENTATION_SUPPORTED));
    payloads.push(notify(Notify.SIGNATURE_HASH_ALGORITHMS, hashList(SUPPORTED_HASHES)));
    return payloads;
  }

  /**
   * NAT_DETECTION notifies. The source hash is deliberately wrong: a userspace dataplane can only
   * carry ESP inside UDP (RFC 3948), so we make the peer believe we are behind a NAT, exactly as
   * strongSwan does with encap=yes or kernel-libipsec.
   */
  private natdPayloads(cc: ControlCrypto, spiR: Uint8Array): Payload[] {
    const src = this.conn.encap ? this.#host.random(20) : natHash(cc, this.spiI, spiR, this.local);
    const dst = natHash(cc, this.spiI, spiR, this.remote);
    return [notify(Notify.NAT_DETECTION_SOURCE_IP, src), notify(Notify.NAT_DETECTION_DESTINATION_IP, dst)];
  }

  private sendInit(firstChild?: ChildTemplate): void {
    this.#ks?.wipe();
    this.#ks = generateKeyShare(this.#dhGroup, (n) => this.#host.random(n));
    if (this.#ni.length === 0) this.#ni = this.#host.random(NONCE_BYTES);
    if (this.conn.encap) this.log("IKE", 1, "faking NAT situation to enforce UDP encapsulation");
    this.sendRequest(Exchange.IKE_SA_INIT, this.initPayloads(), (msg, ps) => this.onInitResponse(msg, ps, firstChild));
  }

  private async onInitResponse(msg: IkeMessage, ps: Payload[], firstChild?: ChildTemplate): Promise<void> {
    const ns = notifies(ps);
    const cookie = ns.find((n) => n.notifyType === Notify.COOKIE);
    if (cookie) {
      if (this.#initRetries++ >= 3) { this.fail(new IkeError("INTERNAL", "the peer keeps demanding a COOKIE; giving up after 3 tries", "remote")); return; }
      this.log("IKE", 0, `received COOKIE notify (${cookie.data.length} bytes): the responder is under load; retrying IKE_SA_INIT with the cookie`);
      this.#cookie = cookie.data;
      this.#nextRequestId = 0;
      this.enqueue({ name: "IKE_SA_INIT", run: () => this.sendInit(firstChild) });
      return;
    }
    const invalidKe = ns.find((n) => n.notifyType === Notify.INVALID_KE_PAYLOAD);
    if (invalidKe) {
      const group = invalidKe.data.length >= 2 ? (invalidKe.data[0] << 8) | invalidKe.data[1] : 0;
      const offered = new Set(this.conn.ikeProposals.flatMap((p) => p.dh));
      if (!offered.has(group) || this.#initRetries++ >= 3) {
        this.fail(new IkeError("INVALID_KE_PAYLOAD", `peer demands DH group ${groupName(group)}, which the local proposals do not contain (${[...offered].map(groupName).join(", ")})`, "remote"));
        return;
      }
      this.log("IKE", 0, `peer didn't accept DH group ${groupName(this.#dhGroup)}, it requested ${groupName(group)}: retrying with ${groupName(group)}`);
      this.#dhGroup = group;
      this.#nextRequestId = 0;
      this.enqueue({ name: "IKE_SA_INIT", run: () => this.sendInit(firstChild) });
      return;
    }
    const err = ns.find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
    if (err) {
      if (err.notifyType === Notify.NO_PROPOSAL_CHOSEN) {
        this.fail(new IkeError("NO_PROPOSAL_CHOSEN",
          `peer rejected every IKE proposal (NO_PROPOSAL_CHOSEN). Local proposals: ${toWireProposals(this.conn.ikeProposals, new Uint8Array(0)).map(formatProposal).join(", ")}; compare with the peer's 'proposals'`, "remote"));
      } else {
        this.fail(new IkeError("INTERNAL", `peer answered IKE_SA_INIT with ${notifyName(err.notifyType)}`, "remote"));
      }
      return;
    }
    const sa = find(ps, "SA"), ke = find(ps, "KE"), nonce = find(ps, "NONCE");
    if (!sa || !ke || !nonce) { this.fail(new IkeError("INVALID_SYNTAX", "IKE_SA_INIT response lacks SA, KE or Nonce")); return; }
    const sel = acceptChosen(sa.proposals, this.conn.ikeProposals);
    if (!sel.ok) { this.fail(new IkeError("NO_PROPOSAL_CHOSEN", `peer chose a proposal we did not offer: ${sel.explanation}`)); return; }
    if (ke.group !== this.#dhGroup || sel.chosen.dh !== this.#dhGroup) {
      this.fail(new IkeError("INVALID_KE_PAYLOAD", `peer's KE uses DH group ${groupName(ke.group)} but we sent ${groupName(this.#dhGroup)}`));
      return;
    }
    this.spiR = msg.header.spiR.slice();
    this.#nr = nonce.data;
    this.#initResponse = this.#rawIn;
    this.peerSupportsFragmentation = ns.some((n) => n.notifyType === Notify.IKEV2_FRAGMENTATION_SUPPORTED);
    this.peerHashes = parseHashList(ns.find((n) => n.notifyType === Notify.SIGNATURE_HASH_ALGORITHMS)?.data);
    this.checkNat(ns, true);
    try {
      this.deriveKeys(sel.chosen, this.#ks!.computeSecret(ke.data));
    } catch (e) {
      this.fail(new IkeError("INVALID_KE_PAYLOAD", `peer's key exchange value is invalid: ${(e as Error).message}`));
      return;
    }
    this.#host.register(this);
    if (this.natDetected && this.remote.port === 500) {
      // §2.23: with a NAT in the path both sides continue on 4500 with the non-ESP marker.
      this.remote = { address: this.remote.address, port: 4500 };
      this.local = { address: this.local.address, port: this.#host.natPort() };
      this.log("NET", 1, `switching to port 4500 (NAT-T): ${this.local.address}[${this.local.port}] to ${this.remote.address}[${this.remote.port}]`);
    }
    this.enqueue({ name: "IKE_AUTH", run: () => this.sendAuth(firstChild) });
  }

  /** The exact bytes of the message being processed (IKE_SA_INIT's are kept for AUTH). */
  #rawIn: Uint8Array = new Uint8Array(0);

  private checkNat(ns: PayloadOf<"N">[], asInitiator: boolean): void {
    const cc = this.#host.crypto;
    const srcs = ns.filter((n) => n.notifyType === Notify.NAT_DETECTION_SOURCE_IP);
    const dst = ns.find((n) => n.notifyType === Notify.NAT_DETECTION_DESTINATION_IP);
    if (srcs.length === 0 || !dst) {
      this.log("IKE", 0, "peer sent no NAT_DETECTION notifies: it will not use UDP encapsulation, but ipsec-wasm can only carry ESP in UDP (RFC 3948); Child SAs will not pass traffic");
      this.natDetected = false;
      return;
    }
    // The request's hashes were made before the responder SPI existed (§2.23).
    const spiRForHash = asInitiator ? this.spiR : SPI_ZERO;
    const remoteOk = srcs.some((s) => equalBytes(s.data, natHash(cc, this.spiI, spiRForHash, this.remote)));
    const localOk = equalBytes(dst.data, natHash(cc, this.spiI, spiRForHash, this.local));
    if (!remoteOk) this.log("IKE", 1, "remote host is behind NAT");
    if (!localOk) this.log("IKE", 1, "local host is behind NAT, sending keep alives");
    this.natDetected = !remoteOk || !localOk || this.conn.encap;
  }

  private deriveKeys(chosen: Chosen, secret: Uint8Array, rekey?: { oldPrf: Prf; oldSkD: Uint8Array }): void {
    this.chosen = chosen;
    this.proposal = formatProposal(chosenProposal(chosen));
    this.log("CFG", 1, `selected proposal: ${this.proposal}`);
    this.#prf = prfFor(this.#host.crypto, chosen.prf!);
    const lens = keyLengths(chosen);
    this.#keys = deriveIkeKeys(this.#prf, { encr: lens.encrKey, integ: lens.integKey }, secret, this.#ni, this.#nr, this.spiI, this.spiR, rekey);
    secret.fill(0);
    const k = this.#keys;
    const cc = this.#host.crypto;
    const rnd = (n: number) => this.#host.random(n);
    const i2r = new SkCipher(cc, chosen.encr.id, k.skEi, chosen.integ, k.skAi, rnd);
    const r2i = new SkCipher(cc, chosen.encr.id, k.skEr, chosen.integ, k.skAr, rnd);
    this.#out = this.originalInitiator ? i2r : r2i;
    this.#in = this.originalInitiator ? r2i : i2r;
  }

  /** SK_* keys, for the Wireshark key export and tests. */
  get keys(): (IkeKeys & { encrId: number; integId?: number; keyBits: number }) | undefined {
    if (!this.#keys || !this.chosen) return undefined;
    return { ...this.#keys, encrId: this.chosen.encr.id, integId: this.chosen.integ, keyBits: this.chosen.encr.keyLength ?? 0 };
  }

  // ------------------------------------------------------------------ IKE_AUTH, initiator

  private localIdPayload(type: "IDi" | "IDr"): PayloadOf<"IDi"> {
    const id = this.conn.local.id;
    if (id === "any") {
      const a = ipBytes(this.local.address);
      return { type, idType: a.length === 4 ? 1 : 5, data: a };
    }
    return { type, idType: id.idType, data: id.data };
  }

  private async authPayloads(idPayload: PayloadOf<"IDi">, firstMessage: Uint8Array, peerNonce: Uint8Array): Promise<Payload[]> {
    const k = this.#keys!;
    const skP = this.originalInitiator ? k.skPi : k.skPr;
    const octets = authOctets(this.#prf!, firstMessage, peerNonce, skP, idBody(idPayload));
    const out: Payload[] = [];
    if (this.conn.local.auth === "psk") {
      const psk = this.conn.psk;
      if (!psk) throw new IkeError("CONFIG", `no pre-shared key for '${this.fmtId(this.conn.local.id)}' - '${this.fmtId(this.conn.remote.id)}' in the secrets section`);
      out.push({ type: "AUTH", method: AuthMethod.PSK, data: pskAuth(this.#prf!, psk, octets) });
      this.log("IKE", 1, `authentication of '${this.fmtId(this.conn.local.id)}' (myself) with pre-shared key`);
    } else {
      const key = this.conn.local.key;
      if (!key) throw new IkeError("CONFIG", `no private key for '${this.fmtId(this.conn.local.id)}' (auth = pubkey)`);
      const s = await signAuth(key, octets, { peerHashes: this.peerHashes });
      out.push({ type: "AUTH", method: s.method, data: s.data });
      this.log("IKE", 1, `authentication of '${this.fmtId(this.conn.local.id)}' (myself) with ${s.method === AuthMethod.DIGITAL_SIGNATURE ? "RFC 7427 signature" : `AUTH method ${s.method}`} successful`);
    }
    return out;
  }

  private fmtId(id: IkeIdentity | "any" | undefined): string {
    return id === undefined || id === "any" ? "%any" : formatIdentity(id);
  }

  private async sendAuth(firstChild?: ChildTemplate): Promise<void> {
    const idi = this.localIdPayload("IDi");
    this.localId = { idType: idi.idType, data: idi.data };
    const payloads: Payload[] = [idi];
    if (this.conn.local.auth === "pubkey") for (const c of this.conn.local.certs ?? []) payloads.push({ type: "CERT", encoding: CertEncoding.X509_SIGNATURE, data: c.der });
    if (this.conn.remote.auth === "pubkey") payloads.push(...certReqs(this.#host.crypto, this.conn.remote.cacerts ?? []));
    payloads.push(notify(Notify.INITIAL_CONTACT));
    if (this.conn.remote.id !== "any") payloads.push({ type: "IDr", idType: this.conn.remote.id.idType, data: this.conn.remote.id.data });
    payloads.push(...(await this.authPayloads(idi, this.#initRequest, this.#nr)));
    let child: PendingChild | undefined;
    if (firstChild) {
      child = this.newPendingChild(firstChild);
      payloads.push(...this.childRequestPayloads(child, false));
    }
    this.sendRequest(Exchange.IKE_AUTH, payloads, (_m, ps) => this.onAuthResponse(ps, child));
  }

  private async onAuthResponse(ps: Payload[], child: PendingChild | undefined): Promise<void> {
    const ns = notifies(ps);
    const authFailed = ns.find((n) => n.notifyType === Notify.AUTHENTICATION_FAILED);
    if (authFailed) {
      this.fail(new IkeError("AUTHENTICATION_FAILED",
        `peer ${this.remote.address} rejected our authentication as '${this.fmtId(this.localId)}' (AUTHENTICATION_FAILED)` +
        (this.conn.local.auth === "psk" ? ": most likely the pre-shared keys differ, or the peer has no connection for this identity" : ": the peer does not trust our certificate or has no connection for this identity"), "remote"));
      return;
    }
    const idr = find(ps, "IDr"), auth = find(ps, "AUTH");
    if (!idr || !auth) {
      const err = ns.find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
      this.fail(new IkeError("INVALID_SYNTAX", `IKE_AUTH response lacks IDr or AUTH${err ? ` (peer sent ${notifyName(err.notifyType)})` : ""}`, "remote"));
      return;
    }
    const peerId: IkeIdentity = { idType: idr.idType, data: idr.data };
    this.remoteId = peerId;
    const verdict = await this.verifyPeerAuth(ps, idr, auth, this.#initResponse, this.#ni);
    if (!verdict.ok) {
      this.fail(new IkeError("AUTHENTICATION_FAILED", verdict.reason));
      // Tell the peer (RFC 7296 §2.21.2): an INFORMATIONAL with AUTHENTICATION_FAILED.
      this.sendRequest(Exchange.INFORMATIONAL, [notify(Notify.AUTHENTICATION_FAILED)], () => undefined, () => undefined);
      this.destroy();
      return;
    }
    this.established();
    if (child) await this.completeChild(child, ps, true);
  }

  /** Checks the peer's identity and AUTH payload; the reason says which side and what. */
  private async verifyPeerAuth(
    ps: Payload[], idp: { idType: number; data: Uint8Array }, auth: PayloadOf<"AUTH">, peerFirst: Uint8Array, ourNonce: Uint8Array,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    const peerId: IkeIdentity = { idType: idp.idType, data: idp.data };
    const who = `'${formatIdentity(peerId)}'`;
    if (this.conn.remote.id !== "any" && !identityMatches(this.conn.remote.id, peerId)) {
      return { ok: false, reason: `peer identifies as ${who}, but remote id is '${this.fmtId(this.conn.remote.id)}' in connection '${this.conn.name}'` };
    }
    const k = this.#keys!;
    const skP = this.originalInitiator ? k.skPr : k.skPi;
    const octets = authOctets(this.#prf!, peerFirst, ourNonce, skP, idBody(idp));
    if (auth.method === AuthMethod.PSK) {
      if (this.conn.remote.auth !== "psk") return { ok: false, reason: `peer ${who} authenticates with a pre-shared key, but remote auth is '${this.conn.remote.auth}' in connection '${this.conn.name}'` };
      const psk = this.conn.psk ?? this.#host.findPsk?.(this.conn.local.id, peerId);
      if (!psk) return { ok: false, reason: `no pre-shared key found for '${this.fmtId(this.localId)}' - ${who}` };
      const expect = pskAuth(this.#prf!, psk, octets);
      if (!equalBytes(expect, auth.data)) {
        return { ok: false, reason: `pre-shared key mismatch: the AUTH payload of ${who} does not verify with the key configured for '${this.fmtId(this.localId ?? this.conn.local.id)}' - ${who} (tried 1 shared key, MAC mismatched)` };
      }
      this.log("IKE", 0, `authentication of ${who} with pre-shared key successful`);
      return { ok: true };
    }
    if (this.conn.remote.auth !== "pubkey") return { ok: false, reason: `peer ${who} authenticates with a signature (AUTH method ${auth.method}), but remote auth is 'psk' in connection '${this.conn.name}'` };
    const certs: Certificate[] = [];
    for (const c of ps.filter((p): p is PayloadOf<"CERT"> => p.type === "CERT")) {
      try { certs.push(parseCertificate(c.data)); } catch (e) { return { ok: false, reason: `peer ${who} sent a certificate that does not parse: ${(e as Error).message}` }; }
    }
    const leaf = certs[0];
    if (!leaf) return { ok: false, reason: `peer ${who} sent no certificate, and none is configured for it` };
    if (!certMatchesIdentity(leaf, peerId)) return { ok: false, reason: `peer's certificate '${leaf.subject}' does not contain its identity ${who} (subject or subjectAltName)` };
    const chain = await verifyChain(leaf, certs.slice(1), this.conn.remote.cacerts ?? [], new Date(this.#host.now()));
    if (!chain.ok) return { ok: false, reason: `certificate of ${who} not trusted: ${chain.reason}` };
    const v = await verifyAuth(leaf, auth.method, auth.data, octets);
    if (!v.ok) return { ok: false, reason: `signature of ${who} does not verify: ${v.reason}` };
    this.log("IKE", 0, `authentication of ${who} with ${v.scheme} successful`);
    return { ok: true };
  }

  private established(): void {
    this.state = "ESTABLISHED";
    this.establishedAt = this.#host.now();
    this.log("IKE", 0, `IKE_SA ${this.conn.name}[${this.uniqueId}] established between ${this.local.address}[${this.fmtId(this.localId)}]...${this.remote.address}[${this.fmtId(this.remoteId)}]`);
    this.scheduleIkeRekey();
    this.scheduleDpd();
    this.#host.event({ type: "established", ike: this });
  }

  // ------------------------------------------------------------------ IKE_SA_INIT, responder

  /**
   * Answers an IKE_SA_INIT request for a new responder SA. Returns false if the SA should be
   * forgotten right away (error answered or dropped).
   */
  respondInit(bytes: Uint8Array, msg: IkeMessage): boolean {
    this.#initRequestIn = bytes;
    this.state = "CONNECTING";
    const ps = msg.payloads;
    const h = msg.header;
    this.#expectRequestId = 1;
    this.log("ENC", 1, `parsed ${summarizeMessage(h.exchange, false, h.messageId, ps)}`);
    this.log("IKE", 0, `${this.remote.address} is initiating an IKE_SA`);
    const sa = find(ps, "SA"), ke = find(ps, "KE"), nonce = find(ps, "NONCE");
    if (!sa || !ke || !nonce) {
      this.respond(h.exchange, h.messageId, [notify(Notify.INVALID_SYNTAX)]);
      this.log("IKE", 0, "IKE_SA_INIT request lacks SA, KE or Nonce: answered INVALID_SYNTAX");
      return false;
    }
    this.spiR = this.#host.random(8);
    const sel = selectProposal(sa.proposals, this.conn.ikeProposals);
    this.log("CFG", 1, `received proposals: ${sa.proposals.map(formatProposal).join(", ")}`);
    this.log("CFG", 1, `configured proposals: ${toWireProposals(this.conn.ikeProposals, new Uint8Array(0)).map(formatProposal).join(", ")}`);
    if (!sel.ok) {
      this.log("IKE", 0, `received proposals unacceptable: ${sel.explanation}`);
      this.spiR = SPI_ZERO;
      this.respond(h.exchange, h.messageId, [notify(Notify.NO_PROPOSAL_CHOSEN)]);
      this.error = new IkeError("NO_PROPOSAL_CHOSEN", `no acceptable IKE proposal from ${this.remote.address}: ${sel.explanation}`);
      this.#host.event({ type: "failed", ike: this, error: this.error });
      this.destroy();
      return false;
    }
    if (ke.group !== sel.chosen.dh) {
      const g = sel.chosen.dh!;
      this.log("IKE", 0, `DH group ${groupName(ke.group)} unacceptable, requesting ${groupName(g)}`);
      this.spiR = SPI_ZERO;
      this.respond(h.exchange, h.messageId, [notify(Notify.INVALID_KE_PAYLOAD, Uint8Array.of(g >> 8, g & 255))]);
      this.destroy();
      return false;
    }
    this.#ni = nonce.data;
    this.#nr = this.#host.random(NONCE_BYTES);
    const ns = notifies(ps);
    this.peerSupportsFragmentation = ns.some((n) => n.notifyType === Notify.IKEV2_FRAGMENTATION_SUPPORTED);
    this.peerHashes = parseHashList(ns.find((n) => n.notifyType === Notify.SIGNATURE_HASH_ALGORITHMS)?.data);
    this.#dhGroup = ke.group;
    let ks: KeyShare;
    let secret: Uint8Array;
    try {
      ks = generateKeyShare(ke.group, (n) => this.#host.random(n));
      secret = ks.computeSecret(ke.data);
    } catch (e) {
      this.log("IKE", 0, `invalid KE payload from ${this.remote.address}: ${(e as Error).message}`);
      this.spiR = SPI_ZERO;
      this.respond(h.exchange, h.messageId, [notify(Notify.INVALID_SYNTAX)]);
      this.destroy();
      return false;
    }
    this.checkNat(ns, false);
    const cc = this.#host.crypto;
    const out: Payload[] = [
      { type: "SA", proposals: [sel.proposal] },
      { type: "KE", group: ke.group, data: ks.publicValue },
      { type: "NONCE", data: this.#nr },
      ...this.natdPayloadsResponder(cc),
    ];
    if (this.conn.remote.auth === "pubkey") out.push(...certReqs(cc, this.conn.remote.cacerts ?? []));
    if (this.conn.fragmentation !== "no") out.push(notify(Notify.IKEV2_FRAGMENTATION_SUPPORTED));
    out.push(notify(Notify.SIGNATURE_HASH_ALGORITHMS, hashList(SUPPORTED_HASHES)));
    this.deriveKeys(sel.chosen, secret);
    ks.wipe();
    this.respond(h.exchange, h.messageId, out);
    this.#host.register(this);
    return true;
  }

  private natdPayloadsResponder(cc: ControlCrypto): Payload[] {
    const src = this.conn.encap ? this.#host.random(20) : natHash(cc, this.spiI, this.spiR, this.local);
    return [notify(Notify.NAT_DETECTION_SOURCE_IP, src), notify(Notify.NAT_DETECTION_DESTINATION_IP, natHash(cc, this.spiI, this.spiR, this.remote))];
  }


  // ------------------------------------------------------------------ IKE_AUTH, responder

  private async respondAuth(messageId: number, ps: Payload[]): Promise<void> {
    const idi = find(ps, "IDi"), auth = find(ps, "AUTH");
    if (!idi || !auth) {
      this.respond(Exchange.IKE_AUTH, messageId, [notify(Notify.AUTHENTICATION_FAILED)]);
      this.fail(new IkeError("INVALID_SYNTAX", "IKE_AUTH request lacks IDi or AUTH"));
      return;
    }
    const peerId: IkeIdentity = { idType: idi.idType, data: idi.data };
    this.remoteId = peerId;
    const wantIdr = find(ps, "IDr");
    const better = this.#host.findConnection?.(peerId, wantIdr ? { idType: wantIdr.idType, data: wantIdr.data } : undefined, this.local, this.remote);
    if (better) this.conn = better;
    else if (this.#host.findConnection) {
      this.log("CFG", 0, `no matching peer config found for '${formatIdentity(peerId)}'`);
    }
    const verdict = await this.verifyPeerAuth(ps, idi, auth, this.#initRequestIn, this.#nr);
    if (!verdict.ok) {
      this.respond(Exchange.IKE_AUTH, messageId, [notify(Notify.AUTHENTICATION_FAILED)]);
      this.fail(new IkeError("AUTHENTICATION_FAILED", verdict.reason));
      return;
    }
    const idr = this.localIdPayload("IDr");
    this.localId = { idType: idr.idType, data: idr.data };
    const out: Payload[] = [idr];
    if (this.conn.local.auth === "pubkey") for (const c of this.conn.local.certs ?? []) out.push({ type: "CERT", encoding: CertEncoding.X509_SIGNATURE, data: c.der });
    out.push(...(await this.authPayloads(idr, this.#initResponse, this.#ni)));
    const childOut = await this.respondChildRequest(ps, this.#ni, this.#nr, undefined, true);
    out.push(...childOut.payloads);
    this.respond(Exchange.IKE_AUTH, messageId, out);
    this.established();
    if (childOut.child) this.announceChild(childOut.child);
  }

  /** The initiator's IKE_SA_INIT request as received (RealMessage1). */
  #initRequestIn: Uint8Array = new Uint8Array(0);

  // ------------------------------------------------------------------ Child SAs

  private newPendingChild(t: ChildTemplate, rekeyOf?: ChildSa, pfs = false): PendingChild {
    const spiIn = this.#host.allocateSpi();
    const group = pfs ? t.espProposals[0]?.dh[0] : undefined;
    const ks = group ? generateKeyShare(group, (n) => this.#host.random(n)) : undefined;
    return { template: t, spiIn, rekeyOf, ks, group, nonce: this.#host.random(NONCE_BYTES) };
  }

  private childRequestPayloads(c: PendingChild, withKe: boolean): Payload[] {
    const t = c.template;
    const out: Payload[] = [];
    if (c.rekeyOf) out.push(notify(Notify.REKEY_SA, new Uint8Array(0), ProtocolId.ESP, spiBytes(c.rekeyOf.spiIn)));
    if (t.mode === "transport") out.push(notify(Notify.USE_TRANSPORT_MODE));
    out.push({ type: "SA", proposals: toWireProposals(t.espProposals, spiBytes(c.spiIn), { withoutDh: !withKe }) });
    if (withKe) {
      out.push({ type: "NONCE", data: c.nonce });
      if (c.ks) out.push({ type: "KE", group: c.group!, data: c.ks.publicValue });
    }
    const localTs = c.rekeyOf ? c.rekeyOf.localTs : resolveTs(t.localTs, this.local.address);
    const remoteTs = c.rekeyOf ? c.rekeyOf.remoteTs : resolveTs(t.remoteTs, this.remote.address);
    out.push({ type: "TSi", selectors: localTs }, { type: "TSr", selectors: remoteTs });
    return out;
  }

  /** Initiator: the child part of a response (IKE_AUTH or CREATE_CHILD_SA). */
  private async completeChild(c: PendingChild, ps: Payload[], inAuth: boolean, ni?: Uint8Array, nr?: Uint8Array): Promise<ChildSa | undefined> {
    const ns = notifies(ps);
    const err = ns.find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
    const t = c.template;
    if (err) {
      const code = err.notifyType === Notify.NO_PROPOSAL_CHOSEN ? "NO_PROPOSAL_CHOSEN" : err.notifyType === Notify.TS_UNACCEPTABLE ? "TS_UNACCEPTABLE" : "CHILD_SA_FAILED";
      const detail = code === "NO_PROPOSAL_CHOSEN"
        ? `peer accepts none of our ESP proposals for '${t.name}' (${toWireProposals(t.espProposals, spiBytes(c.spiIn), { withoutDh: inAuth }).map(formatProposal).join(", ")}); compare with the peer's esp_proposals`
        : code === "TS_UNACCEPTABLE"
          ? `peer finds our traffic selectors for '${t.name}' unacceptable: ${formatTsList(resolveTs(t.localTs, this.local.address))} === ${formatTsList(resolveTs(t.remoteTs, this.remote.address))}; compare with the peer's local_ts/remote_ts`
          : `peer refused Child SA '${t.name}' with ${notifyName(err.notifyType)}`;
      c.ks?.wipe();
      this.childFailed(new IkeError(code, detail, "remote"));
      return undefined;
    }
    const sa = find(ps, "SA"), tsi = find(ps, "TSi"), tsr = find(ps, "TSr");
    if (!sa || !tsi || !tsr) { this.childFailed(new IkeError("CHILD_SA_FAILED", `response for Child SA '${t.name}' lacks SA, TSi or TSr`, "remote")); return undefined; }
    const sel = acceptChosen(sa.proposals, t.espProposals, { ignoreDh: inAuth });
    if (!sel.ok) { this.childFailed(new IkeError("NO_PROPOSAL_CHOSEN", `peer chose an ESP proposal we did not offer: ${sel.explanation}`)); return undefined; }
    let pfs: Uint8Array | undefined;
    if (!inAuth && c.ks) {
      const ke = find(ps, "KE");
      if (!ke || ke.group !== c.group) { this.childFailed(new IkeError("INVALID_KE_PAYLOAD", `peer's CREATE_CHILD_SA response lacks a KE for PFS group ${groupName(c.group!)}`, "remote")); return undefined; }
      try { pfs = c.ks.computeSecret(ke.data); } catch (e) { this.childFailed(new IkeError("INVALID_KE_PAYLOAD", `peer's PFS key exchange value is invalid: ${(e as Error).message}`, "remote")); return undefined; }
      c.ks.wipe();
    }
    const transport = ns.some((n) => n.notifyType === Notify.USE_TRANSPORT_MODE);
    if (t.mode === "transport" && !transport) { this.childFailed(new IkeError("CHILD_SA_FAILED", `peer did not accept transport mode for '${t.name}'`, "remote")); return undefined; }
    const child = this.installChild(t, sel.chosen, c.spiIn, tsi.selectors, tsr.selectors, ni ?? this.#ni, nr ?? this.#nr, true, pfs, c.rekeyOf, true);
    if (child) this.announceChild(child, c.rekeyOf);
    return child;
  }

  /** Responder: selects proposal and selectors for a child request; installs it; returns the response payloads. */
  private async respondChildRequest(ps: Payload[], ni: Uint8Array, nr: Uint8Array, rekeyOf: ChildSa | undefined, inAuth: boolean): Promise<{ payloads: Payload[]; child?: ChildSa }> {
    const sa = find(ps, "SA"), tsi = find(ps, "TSi"), tsr = find(ps, "TSr");
    if (!sa || !tsi || !tsr) return inAuth ? { payloads: [] } : { payloads: [notify(Notify.INVALID_SYNTAX)] };
    const transport = notifies(ps).some((n) => n.notifyType === Notify.USE_TRANSPORT_MODE);
    // Pick the child template: for a rekey the old one; else the first whose selectors fit.
    const templates = rekeyOf ? [rekeyOf.template] : this.conn.children;
    let lastTsWhy = "";
    let lastPropWhy = "";
    for (const t of templates) {
      const remoteCfg = resolveTs(t.remoteTs, this.remote.address);
      const localCfg = resolveTs(t.localTs, this.local.address);
      const nI = narrowTs(tsi.selectors, remoteCfg);
      const nR = narrowTs(tsr.selectors, localCfg);
      if (nI.length === 0 || nR.length === 0) {
        lastTsWhy = nI.length === 0 ? explainTsMismatch(tsi.selectors, remoteCfg) : explainTsMismatch(tsr.selectors, localCfg);
        continue;
      }
      const supported = t.espProposals.filter((s) => s.encr.length > 0);
      const sel = selectProposal(sa.proposals, supported, { ignoreDh: inAuth });
      if (!sel.ok) { lastPropWhy = sel.explanation; this.log("CFG", 1, `received proposals: ${sa.proposals.map(formatProposal).join(", ")}`); this.log("CFG", 1, `configured proposals: ${toWireProposals(t.espProposals, new Uint8Array(4)).map(formatProposal).join(", ")}`); continue; }
      if (!espSuiteKeyword(sel.chosen)) { lastPropWhy = `${formatProposal(sel.proposal)} is not implemented by the ipsec-wasm dataplane`; continue; }
      let pfs: Uint8Array | undefined;
      const out: Payload[] = [];
      if (!inAuth && sel.chosen.dh) {
        const ke = find(ps, "KE");
        if (!ke || ke.group !== sel.chosen.dh) {
          const g = sel.chosen.dh;
          this.log("IKE", 0, `CREATE_CHILD_SA KE ${ke ? `uses group ${groupName(ke.group)}` : "missing"}, requesting ${groupName(g)}`);
          return { payloads: [notify(Notify.INVALID_KE_PAYLOAD, Uint8Array.of(g >> 8, g & 255))] };
        }
        const mine = generateKeyShare(ke.group, (n) => this.#host.random(n));
        try { pfs = mine.computeSecret(ke.data); } catch { return { payloads: [notify(Notify.INVALID_SYNTAX)] }; }
        out.push({ type: "KE", group: ke.group, data: mine.publicValue });
        mine.wipe();
      }
      if (t.mode === "transport" && !transport) { lastPropWhy = `'${t.name}' is configured for transport mode but the peer asked for tunnel mode`; continue; }
      const spiIn = this.#host.allocateSpi();
      const child = this.installChild(t, sel.chosen, spiIn, nR, nI, ni, nr, false, pfs, rekeyOf, rekeyOf === undefined);
      if (!child) return { payloads: [notify(Notify.NO_PROPOSAL_CHOSEN)] };
      const payloads: Payload[] = [];
      if (transport && t.mode === "transport") payloads.push(notify(Notify.USE_TRANSPORT_MODE));
      const chosenWire: Proposal = { ...sel.proposal, spi: spiBytes(spiIn) };
      payloads.push({ type: "SA", proposals: [chosenWire] });
      if (!inAuth) payloads.push({ type: "NONCE", data: nr });
      payloads.push(...out, { type: "TSi", selectors: nI }, { type: "TSr", selectors: nR });
      return { payloads, child };
    }
    if (lastPropWhy) {
      this.log("IKE", 0, `no acceptable proposal found: ${lastPropWhy}`);
      this.childFailed(new IkeError("NO_PROPOSAL_CHOSEN", `no acceptable ESP proposal from ${this.remote.address}: ${lastPropWhy}`));
      return { payloads: [notify(Notify.NO_PROPOSAL_CHOSEN)] };
    }
    const why = lastTsWhy || "no child configuration";
    this.log("IKE", 0, `traffic selectors ${formatTsList(tsr.selectors)} === ${formatTsList(tsi.selectors)} unacceptable: ${why}`);
    this.childFailed(new IkeError("TS_UNACCEPTABLE", `traffic selectors ${formatTsList(tsr.selectors)} === ${formatTsList(tsi.selectors)} unacceptable: ${why}`));
    return { payloads: [notify(Notify.TS_UNACCEPTABLE)] };
  }

  /**
   * Derives keys and installs the pair. `weInitiated`: we sent the request of this exchange
   * (i2r keys are then our outbound). `outboundNow` false: a rekey responder waits for the DELETE.
   */
  private installChild(
    t: ChildTemplate, chosen: Chosen, spiIn: number, localTs: TrafficSelector[], remoteTs: TrafficSelector[],
    ni: Uint8Array, nr: Uint8Array, weInitiated: boolean, pfs: Uint8Array | undefined, rekeyOf: ChildSa | undefined, outboundNow: boolean,
  ): ChildSa | undefined {
    const suite = espSuiteKeyword(chosen);
    if (!suite) { this.childFailed(new IkeError("NO_PROPOSAL_CHOSEN", `negotiated ${formatProposal(chosenProposal(chosen))} is not implemented by the dataplane`)); return undefined; }
    const lens = keyLengths(chosen);
    const keys = deriveChildKeys(this.#prf!, this.#keys!.skD, ni, nr, { encr: lens.encrKey, integ: lens.integKey }, pfs);
    pfs?.fill(0);
    const child: ChildSa = {
      name: t.name, uniqueId: nextChildId++, state: "INSTALLED", spiIn, spiOut: u32(chosen.spi), suite,
      proposal: formatProposal(chosenProposal(chosen)), mode: t.mode, esn: chosen.esn, localTs, remoteTs, template: t,
      installedAt: this.#host.now(), outboundActive: outboundNow,
    };
    const mine: ChildSaKeys = weInitiated
      ? { encOut: keys.encrI2r, integOut: keys.integI2r, encIn: keys.encrR2i, integIn: keys.integR2i }
      : { encOut: keys.encrR2i, integOut: keys.integR2i, encIn: keys.encrI2r, integIn: keys.integI2r };
    this.#host.installChild(this, child, mine, outboundNow);
    for (const k of Object.values(mine)) k.fill(0);
    this.children.set(spiIn, child);
    this.log("CHD", 0, `CHILD_SA ${t.name}{${child.uniqueId}} established with SPIs ${hex(spiBytes(spiIn))}_i ${hex(spiBytes(child.spiOut))}_o and TS ${formatTsList(localTs)} === ${formatTsList(remoteTs)}`);
    this.log("CHD", 1, `${child.proposal}, ${t.mode}${outboundNow ? "" : " (outbound SA waits for the old SA's DELETE)"}`);
    this.scheduleChildRekey(child);
    return child;
  }

  private announceChild(child: ChildSa, rekeyOf?: ChildSa): void {
    this.#host.event({ type: "child-up", ike: this, child, rekeyOf });
  }

  private childFailed(err: IkeError): void {
    this.log("CHD", 0, err.message);
    this.#host.event({ type: "child-failed", ike: this, error: err });
  }

  /** Creates an additional Child SA with CREATE_CHILD_SA (or the first, if IKE_AUTH carried none). */
  createChild(t: ChildTemplate): void {
    this.enqueue({ name: "CREATE_CHILD_SA", run: () => this.sendCreateChild(t) });
  }

  private sendCreateChild(t: ChildTemplate, rekeyOf?: ChildSa): void {
    if (this.state !== "ESTABLISHED") return;
    if (rekeyOf && rekeyOf.state !== "INSTALLED") return;
    const pfs = (t.espProposals[0]?.dh.length ?? 0) > 0;
    const c = this.newPendingChild(t, rekeyOf, pfs);
    if (rekeyOf) { rekeyOf.state = "REKEYING"; this.log("CHD", 0, `rekeying CHILD_SA ${rekeyOf.name}{${rekeyOf.uniqueId}} (${hex(spiBytes(rekeyOf.spiIn))}_i)`); }
    const payloads = this.childRequestPayloads(c, true);
    this.sendRequest(Exchange.CREATE_CHILD_SA, payloads, async (_m, ps) => {
      const inv = notifies(ps).find((n) => n.notifyType === Notify.INVALID_KE_PAYLOAD);
      if (inv && c.ks) {
        const g = (inv.data[0] << 8) | inv.data[1];
        this.log("IKE", 0, `peer requested PFS group ${groupName(g)} instead of ${groupName(c.group!)}`);
        if (rekeyOf) rekeyOf.state = "INSTALLED";
        const t2: ChildTemplate = { ...t, espProposals: t.espProposals.map((s) => (s.dh.includes(g) ? { ...s, dh: [g, ...s.dh.filter((x) => x !== g)] } : s)) };
        if (t.espProposals.some((s) => s.dh.includes(g))) this.enqueue({ name: "CREATE_CHILD_SA", run: () => this.sendCreateChild(t2, rekeyOf) });
        return;
      }
      if (notifies(ps).some((n) => n.notifyType === Notify.TEMPORARY_FAILURE)) {
        this.log("CHD", 0, `peer answered TEMPORARY_FAILURE (a collision); retrying in 2 s`);
        if (rekeyOf) rekeyOf.state = "INSTALLED";
        this.timer(2000, () => this.enqueue({ name: "CREATE_CHILD_SA", run: () => this.sendCreateChild(t, rekeyOf) }));
        return;
      }
      const nonce = find(ps, "NONCE");
      if (!nonce && !notifies(ps).some((n) => n.notifyType <= NOTIFY_ERROR_MAX)) {
        this.childFailed(new IkeError("INVALID_SYNTAX", "CREATE_CHILD_SA response lacks a nonce", "remote"));
        return;
      }
      const child = await this.completeChild(c, ps, false, c.nonce, nonce?.data ?? new Uint8Array(0));
      if (!rekeyOf) return;
      if (!child) { rekeyOf.state = "INSTALLED"; return; }
      // We initiated the rekey: the new pair carries our traffic now; delete the old one (§2.8).
      rekeyOf.state = "REKEYED";
      this.deleteChild(rekeyOf);
    });
  }

  /** Rekeys a Child SA (CREATE_CHILD_SA with REKEY_SA). */
  rekeyChild(child: ChildSa): void {
    this.enqueue({ name: "CHILD_REKEY", run: () => this.sendCreateChild(child.template, child) });
  }

  /** Deletes a Child SA (INFORMATIONAL with a Delete payload). */
  deleteChild(child: ChildSa): void {
    this.enqueue({
      name: "CHILD_DELETE",
      run: () => {
        if (!this.children.has(child.spiIn)) return;
        child.state = "DELETING";
        this.log("CHD", 0, `closing CHILD_SA ${child.name}{${child.uniqueId}} with SPIs ${hex(spiBytes(child.spiIn))}_i ${hex(spiBytes(child.spiOut))}_o`);
        this.sendRequest(Exchange.INFORMATIONAL, [{ type: "D", protocolId: ProtocolId.ESP, spiSize: 4, spis: [spiBytes(child.spiIn)] }], () => {
          this.removeChild(child, "deleted");
        });
      },
    });
  }

  private removeChild(child: ChildSa, reason: string): void {
    if (!this.children.delete(child.spiIn)) return;
    child.state = "DELETED";
    this.cancel((child as ChildSa & { rekeyTimer?: TimerId }).rekeyTimer);
    this.#host.removeChild(child);
    this.#host.event({ type: "child-down", ike: this, child, reason });
  }

  // ------------------------------------------------------------------ CREATE_CHILD_SA, responder

  private async respondCreateChild(messageId: number, ps: Payload[]): Promise<void> {
    if (this.state !== "ESTABLISHED" && this.state !== "REKEYING") {
      this.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.TEMPORARY_FAILURE)]);
      return;
    }
    const sa = find(ps, "SA"), nonce = find(ps, "NONCE");
    if (!sa || !nonce) { this.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.INVALID_SYNTAX)]); return; }
    if (sa.proposals[0]?.protocolId === ProtocolId.IKE) return this.respondIkeRekey(messageId, ps, sa.proposals, nonce.data);
    const rekey = notifies(ps).find((n) => n.notifyType === Notify.REKEY_SA);
    let old: ChildSa | undefined;
    if (rekey) {
      const spi = rekey.spi.length === 4 ? u32(rekey.spi) : -1;
      old = [...this.children.values()].find((c) => c.spiOut === spi);
      if (!old) { this.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.CHILD_SA_NOT_FOUND, new Uint8Array(0), ProtocolId.ESP, rekey.spi)]); return; }
      if (old.state !== "INSTALLED") {
        // A collision with our own rekey (or delete) of the same child: let the peer retry (§2.25).
        this.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.TEMPORARY_FAILURE)]);
        return;
      }
      this.log("CHD", 0, `peer rekeys CHILD_SA ${old.name}{${old.uniqueId}}`);
    }
    const nr = this.#host.random(NONCE_BYTES);
    const res = await this.respondChildRequest(ps, nonce.data, nr, old, false);
    if (res.child && old) { old.state = "REKEYED"; res.child.outboundActive = false; }
    this.respond(Exchange.CREATE_CHILD_SA, messageId, res.payloads);
    if (res.child) this.announceChild(res.child, old);
  }

  // ------------------------------------------------------------------ INFORMATIONAL

  private async respondInformational(messageId: number, ps: Payload[]): Promise<void> {
    const out: Payload[] = [];
    let deleteIke = false;
    for (const p of ps) {
      if (p.type === "D" && p.protocolId === ProtocolId.IKE) deleteIke = true;
      if (p.type === "D" && p.protocolId === ProtocolId.ESP) {
        const ours: Uint8Array[] = [];
        for (const s of p.spis) {
          const spi = u32(s);
          const child = [...this.children.values()].find((c) => c.spiOut === spi);
          if (!child) continue;
          this.log("CHD", 0, `received DELETE for ESP CHILD_SA with SPI ${hex(s)}`);
          // If this child was replaced by a rekey we answered, the replacement now carries our traffic.
          for (const c of this.children.values()) {
            if (c !== child && c.template === child.template && !c.outboundActive) { c.outboundActive = true; this.#host.activateOutbound(c); }
          }
          ours.push(spiBytes(child.spiIn));
          this.removeChild(child, "deleted by peer");
        }
        if (ours.length) out.push({ type: "D", protocolId: ProtocolId.ESP, spiSize: 4, spis: ours });
      }
      if (p.type === "N" && p.notifyType === Notify.AUTHENTICATION_FAILED) {
        this.respond(Exchange.INFORMATIONAL, messageId, []);
        this.fail(new IkeError("AUTHENTICATION_FAILED", `peer ${this.remote.address} did not accept our authentication as '${this.fmtId(this.localId)}' (AUTHENTICATION_FAILED after IKE_AUTH)`, "remote"));
        return;
      }
    }
    if (deleteIke) {
      this.log("IKE", 0, `received DELETE for IKE_SA ${this.conn.name}[${this.uniqueId}]`);
      this.respond(Exchange.INFORMATIONAL, messageId, []);
      this.log("IKE", 0, `IKE_SA deleted`);
      this.teardown("deleted by peer");
      return;
    }
    if (ps.length === 0) this.log("IKE", 2, "answering liveness check (DPD)");
    this.respond(Exchange.INFORMATIONAL, messageId, out);
  }

  /** Deletes the IKE SA and all its children (INFORMATIONAL with D(IKE)); resolves when answered or timed out. */
  delete(): Promise<void> {
    return new Promise((resolve) => {
      if (this.state === "DESTROYED") { resolve(); return; }
      if (this.state === "CONNECTING" || this.state === "CREATED") {
        this.teardown("deleted before it was established");
        resolve();
        return;
      }
      // Jump the queue: a DELETE must not wait behind rekeys (an outstanding request still finishes: window 1).
      this.#queue.unshift({
        name: "IKE_DELETE",
        run: () => {
          if (this.state === "DESTROYED") { resolve(); return; }
          this.state = "DELETING";
          this.log("IKE", 0, `deleting IKE_SA ${this.conn.name}[${this.uniqueId}] between ${this.local.address}[${this.fmtId(this.localId)}]...${this.remote.address}[${this.fmtId(this.remoteId)}]`);
          this.sendRequest(Exchange.INFORMATIONAL, [{ type: "D", protocolId: ProtocolId.IKE, spiSize: 0, spis: [] }],
            () => { this.log("IKE", 0, "IKE_SA deleted"); this.teardown("deleted"); resolve(); },
            () => { this.teardown("deleted (the peer did not answer the DELETE)"); resolve(); });
        },
      });
      this.pump();
    });
  }

  // ------------------------------------------------------------------ DPD and lifetimes

  private scheduleDpd(): void {
    if (this.conn.dpdDelay <= 0) return;
    this.cancel(this.#dpdTimer);
    this.#dpdTimer = this.timer(this.conn.dpdDelay * 1000, () => {
      const idle = this.#host.now() - this.#host.lastHeard(this);
      if (idle >= this.conn.dpdDelay * 1000 && !this.#pending) {
        this.enqueue({
          name: "DPD",
          run: () => this.sendRequest(Exchange.INFORMATIONAL, [], () => this.log("IKE", 2, "liveness check answered"),
            () => this.fail(new IkeError("PEER_DEAD", `peer ${this.remote.address}[${this.remote.port}] did not answer the liveness check (DPD) after ${this.conn.retransmit.tries} retransmits: considered dead, IKE_SA and its CHILD_SAs removed`))),
        });
      }
      this.scheduleDpd();
    });
  }

  private jitter(rekey: number, rand: number): number {
    const b = this.#host.random(2);
    const r = rand > 0 ? Math.floor(((b[0] << 8) | b[1]) / 65536 * rand) : 0;
    return Math.max(1, rekey - r) * 1000;
  }

  private scheduleChildRekey(child: ChildSa): void {
    const t = child.template;
    const c = child as ChildSa & { rekeyTimer?: TimerId; lifeTimer?: TimerId };
    if (t.rekeyTime > 0) c.rekeyTimer = this.timer(this.jitter(t.rekeyTime, t.randTime), () => { if (child.state === "INSTALLED") this.rekeyChild(child); });
    if (t.lifeTime > 0) c.lifeTimer = this.timer(t.lifeTime * 1000, () => {
      if (!this.children.has(child.spiIn)) return;
      this.log("CHD", 0, `CHILD_SA ${child.name}{${child.uniqueId}} reached its hard lifetime (${t.lifeTime} s): deleting`);
      this.deleteChild(child);
    });
  }

  /**
   * The dataplane raised a soft lifetime event on one of this child's SAs (rekey_bytes /
   * rekey_packets reached, or the sequence number space running out): rekey it, once.
   */
  childSoftExpired(child: ChildSa, reason: string): void {
    if (child.state !== "INSTALLED" || this.children.get(child.spiIn) !== child) return;
    this.log("CHD", 0, `CHILD_SA ${child.name}{${child.uniqueId}} reached its soft ${reason} limit: rekeying`);
    this.rekeyChild(child);
  }

  /**
   * The dataplane raised a hard lifetime event (life_bytes / life_packets, or the sequence number
   * space exhausted): the SA passes no more packets, so the child is deleted (strongSwan does the same).
   */
  childHardExpired(child: ChildSa, reason: string): void {
    if (this.children.get(child.spiIn) !== child || child.state === "DELETING" || child.state === "DELETED") return;
    this.log("CHD", 0, `CHILD_SA ${child.name}{${child.uniqueId}} reached its hard ${reason} limit: deleting`);
    this.deleteChild(child);
  }

  private scheduleIkeRekey(): void {
    if (this.conn.rekeyTime <= 0) return;
    this.cancel(this.#rekeyTimer);
    this.#rekeyTimer = this.timer(this.jitter(this.conn.rekeyTime, this.conn.randTime), () => this.rekeyIke());
  }

  // ------------------------------------------------------------------ IKE SA rekey (§1.3.2, §2.18)

  /** Rekeys this IKE SA: a new IKE SA takes over the children; the old one is deleted. */
  rekeyIke(): void {
    this.enqueue({ name: "IKE_REKEY", run: () => this.sendIkeRekey() });
  }

  private sendIkeRekey(): void {
    if (this.state !== "ESTABLISHED") return;
    this.state = "REKEYING";
    const group = this.chosen!.dh!;
    const ks = generateKeyShare(group, (n) => this.#host.random(n));
    const ni = this.#host.random(NONCE_BYTES);
    const newSpi = this.#host.random(8);
    const props = toWireProposals(this.conn.ikeProposals, newSpi);
    this.log("IKE", 0, `rekeying IKE_SA ${this.conn.name}[${this.uniqueId}]`);
    this.sendRequest(Exchange.CREATE_CHILD_SA, [{ type: "SA", proposals: props }, { type: "NONCE", data: ni }, { type: "KE", group, data: ks.publicValue }], (_m, ps) => {
      const ns = notifies(ps);
      const err = ns.find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
      const sa = find(ps, "SA"), nonce = find(ps, "NONCE"), ke = find(ps, "KE");
      if (err || !sa || !nonce || !ke) {
        this.state = "ESTABLISHED";
        this.log("IKE", 0, `IKE_SA rekey failed: ${err ? notifyName(err.notifyType) : "response lacks SA, Nonce or KE"}; retrying in 10 s`);
        this.#rekeyTimer = this.timer(10_000, () => this.rekeyIke());
        return;
      }
      const sel = acceptChosen(sa.proposals, this.conn.ikeProposals);
      if (!sel.ok || ke.group !== group || sa.proposals[0].spi.length !== 8) { this.state = "ESTABLISHED"; this.log("IKE", 0, "IKE_SA rekey response unacceptable"); return; }
      let secret: Uint8Array;
      try { secret = ks.computeSecret(ke.data); } catch (e) { this.state = "ESTABLISHED"; this.log("IKE", 0, `IKE rekey KE invalid: ${(e as Error).message}`); return; }
      const next = this.successor(true, newSpi, sa.proposals[0].spi.slice(), ni, nonce.data, sel.chosen, secret);
      this.handOver(next);
      // We initiated: delete the old IKE SA (§2.18).
      this.state = "REKEYED";
      this.sendRequest(Exchange.INFORMATIONAL, [{ type: "D", protocolId: ProtocolId.IKE, spiSize: 0, spis: [] }], () => this.retire(), () => this.retire());
    });
  }

  private respondIkeRekey(messageId: number, ps: Payload[], proposals: Proposal[], ni: Uint8Array): void {
    if (this.state !== "ESTABLISHED" || this.#pending?.exchange === Exchange.CREATE_CHILD_SA) {
      this.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.TEMPORARY_FAILURE)]);
      return;
    }
    const ke = find(ps, "KE");
    const sel = selectProposal(proposals, this.conn.ikeProposals);
    if (!sel.ok || !ke) { this.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.NO_PROPOSAL_CHOSEN)]); return; }
    if (ke.group !== sel.chosen.dh) { const g = sel.chosen.dh!; this.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.INVALID_KE_PAYLOAD, Uint8Array.of(g >> 8, g & 255))]); return; }
    const mine = generateKeyShare(ke.group, (n) => this.#host.random(n));
    let secret: Uint8Array;
    try { secret = mine.computeSecret(ke.data); } catch { this.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.INVALID_SYNTAX)]); return; }
    const nr = this.#host.random(NONCE_BYTES);
    const newSpi = this.#host.random(8);
    const peerSpi = proposals.find((p) => p.num === sel.chosen.proposalNum)?.spi ?? sel.proposal.spi;
    const next = this.successor(false, peerSpi.slice(), newSpi, ni, nr, sel.chosen, secret);
    this.log("IKE", 0, `peer rekeys IKE_SA ${this.conn.name}[${this.uniqueId}]: successor ${this.conn.name}[${next.uniqueId}]`);
    this.respond(Exchange.CREATE_CHILD_SA, messageId, [{ type: "SA", proposals: [{ ...sel.proposal, spi: newSpi }] }, { type: "NONCE", data: nr }, { type: "KE", group: ke.group, data: mine.publicValue }]);
    mine.wipe();
    this.handOver(next);
    this.state = "REKEYED"; // the peer deletes us
  }

  /** Builds the new IKE SA of a rekey; `weInitiated` makes it the original initiator of the new SA. */
  private successor(weInitiated: boolean, spiI: Uint8Array, spiR: Uint8Array, ni: Uint8Array, nr: Uint8Array, chosen: Chosen, secret: Uint8Array): IkeSa {
    const next = new IkeSa(this.#host, this.conn, this.local, this.remote, weInitiated, spiI);
    next.spiR = spiR;
    next.#ni = ni;
    next.#nr = nr;
    next.deriveKeys(chosen, secret, { oldPrf: this.#prf!, oldSkD: this.#keys!.skD });
    next.localId = this.localId;
    next.remoteId = this.remoteId;
    next.natDetected = this.natDetected;
    next.peerSupportsFragmentation = this.peerSupportsFragmentation;
    next.peerHashes = this.peerHashes;
    next.state = "ESTABLISHED";
    next.establishedAt = this.#host.now();
    return next;
  }

  private handOver(next: IkeSa): void {
    for (const [spi, c] of this.children) next.children.set(spi, c);
    this.children.clear();
    this.#host.register(next);
    this.log("IKE", 0, `IKE_SA ${this.conn.name}[${this.uniqueId}] rekeyed to ${this.conn.name}[${next.uniqueId}], ${next.proposal}`);
    next.scheduleIkeRekey();
    next.scheduleDpd();
    this.cancel(this.#dpdTimer);
    this.cancel(this.#rekeyTimer);
    this.#host.event({ type: "rekeyed", ike: this, successor: next });
  }

  /** The old SA after a rekey: gone without touching the children (they moved). */
  private retire(): void {
    this.destroy();
    this.#host.event({ type: "deleted", ike: this, reason: "rekeyed" });
  }

  // ------------------------------------------------------------------ teardown

  private teardown(reason: string): void {
    for (const c of [...this.children.values()]) this.removeChild(c, reason);
    this.destroy();
    this.#host.event({ type: "deleted", ike: this, reason });
  }

  /** Fails the SA: logs the explanation, removes children, tells the owner. */
  fail(err: IkeError): void {
    if (this.state === "DESTROYED") return;
    this.error = err;
    this.log("IKE", 0, err.message);
    for (const c of [...this.children.values()]) this.removeChild(c, err.message);
    this.destroy();
    this.#host.event({ type: "failed", ike: this, error: err });
  }

  private destroy(): void {
    this.state = "DESTROYED";
    for (const t of this.#timers) this.#host.clearTimer(t);
    this.#timers.clear();
    this.#pending = undefined;
    this.#queue = [];
    this.#ks?.wipe();
    if (this.#keys) for (const k of Object.values(this.#keys)) k.fill(0);
  }
}

interface PendingChild {
  template: ChildTemplate;
  spiIn: number;
  rekeyOf?: ChildSa;
  ks?: KeyShare;
  group?: number;
  nonce: Uint8Array;
}

/** A one-proposal wire form of a chosen set (for formatting). */
function chosenProposal(c: Chosen): Proposal {
  const t = [{ type: 1, id: c.encr.id, keyLength: c.encr.keyLength }];
  if (c.integ !== undefined) t.push({ type: 3, id: c.integ, keyLength: undefined });
  if (c.prf !== undefined) t.push({ type: 2, id: c.prf, keyLength: undefined });
  if (c.dh !== undefined) t.push({ type: 4, id: c.dh, keyLength: undefined });
  if (c.protocol === "ESP") t.push({ type: 5, id: c.esn ? 1 : 0, keyLength: undefined });
  return { num: c.proposalNum, protocolId: c.protocol === "IKE" ? 1 : 3, spi: c.spi, transforms: t.map((x: { type: number; id: number; keyLength: number | undefined }) => (x.keyLength === undefined ? { type: x.type, id: x.id } : x)) };
}

function groupName(g: number): string { return dhGroupById(g)?.name ?? `DH_${g}`; }

function hashList(ids: number[]): Uint8Array {
  const out = new Uint8Array(ids.length * 2);
  ids.forEach((id, i) => { out[2 * i] = id >> 8; out[2 * i + 1] = id & 255; });
  return out;
}
function parseHashList(d: Uint8Array | undefined): number[] {
  if (!d) return [];
  const out: number[] = [];
  for (let i = 0; i + 1 < d.length; i += 2) out.push((d[i] << 8) | d[i + 1]);
  return out;
}
/** CERTREQ (§3.7): SHA-1 hashes of the trusted CAs' SubjectPublicKeyInfo. */
function certReqs(cc: ControlCrypto, cas: Certificate[]): Payload[] {
  if (cas.length === 0) return [];
  return [{ type: "CERTREQ", encoding: CertEncoding.X509_SIGNATURE, data: concat(...cas.map((c) => sha1(cc, c.spki))) }];
}

export { hex as hexBytes, spiBytes, u32 as readU32 };
