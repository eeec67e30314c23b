/**
 * One IKEv2 SA (RFC 7296): its state, SPIs, endpoints, keys, SK protection and Child SAs, and the
 * events it tells its owner. The exchanges are tasks (tasks/, one file per exchange, each with
 * the initiator's task and the responder's function); message IDs, the window, retransmits and
 * fragments are the task manager's (task-manager.ts). Bytes in, bytes out: sockets, timers,
 * randomness and the dataplane are the host's, so tests drive it without a network.
 * @module
 */
import type { ControlCrypto } from "../dataplane/control-crypto.ts";
import { decodeMessage, encodePayloads, encodeMessage } from "./codec.ts";
import { summarizeMessage } from "./names.ts";
import { formatProposal, keyLengths, type Chosen } from "./proposals.ts";
import { formatIdentity, type IkeIdentity } from "./identity.ts";
import { deriveIkeKeys, prfFor, type Prf, type IkeKeys } from "./keys.ts";
import { SkCipher } from "./sk.ts";
import { Exchange, HeaderFlag, Notify, ProtocolId, type IkeHeader, type IkeMessage, type Payload } from "./message.ts";
import type { IkeConnection, ChildTemplate, RetransmitConfig, VirtualIpLease } from "./config.ts";
import { logText, type LogSink, type LogText, type Subsystem } from "./log.ts";
import { IkeError } from "./errors.ts";
import { TaskManager, type Task, type TaskManagerHost } from "./task-manager.ts";
import { ChildSa, jitter, type ChildSaKeys, type ChildSaOwner } from "./child-sa.ts";
import type { ChildBackend } from "./backend.ts";
import { chosenProposal, hex, lowerNonce, notify, spiBytes, u32, type Endpoint } from "./payloads.ts";
import { formatTsList } from "./ts.ts";
import { IkeInitTask, respondIkeInit } from "./tasks/ike-init.ts";
import { respondIkeAuth } from "./tasks/ike-auth.ts";
import { ChildCreateTask, respondChildCreate } from "./tasks/child-create.ts";
import { ChildRekeyTask, respondChildRekey } from "./tasks/child-rekey.ts";
import { ChildDeleteTask } from "./tasks/child-delete.ts";
import { IkeRekeyTask, respondIkeRekey } from "./tasks/ike-rekey.ts";
import { IkeDeleteTask } from "./tasks/ike-delete.ts";
import { DpdTask } from "./tasks/dpd.ts";
import { respondInformational } from "./tasks/informational.ts";
import { releaseLeases } from "./tasks/config-payload.ts";

export { ChildSa, type ChildSaKeys, type ChildState } from "./child-sa.ts";
export type { Endpoint } from "./payloads.ts";
export type { ChildBackend } from "./backend.ts";

/** Opaque timer handle of the host. */
export type TimerId = unknown;

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
  /** The highest level `log` wants; lines above it are not formatted (default 2: all). */
  logLevel?: number;
  /** The ESP dataplane, as IKE sees it. */
  backend: ChildBackend;
  /** Local port of the NAT-T socket (4500 in production): where IKE floats to and ESP-in-UDP lives. */
  natPort(): number;
  /** Time of the last packet (IKE or ESP) from the peer, for DPD. */
  lastHeard(ike: IkeSa): number;
  /** The IKE SA's id key changed (IKE_SA_INIT done: responder SPI known), or a rekey created it. */
  register(ike: IkeSa): void;
  event(e: IkeEvent): void;
  /** A message of the peer was dropped over a limit. */
  overLimit?(what: "fragments"): void;
  /** Resolves a connection for a responder once the peer's identity is known (IDi). */
  findConnection?(
    idi: IkeIdentity,
    idr: IkeIdentity | undefined,
    local: Endpoint,
    remote: Endpoint,
  ): IkeConnection | undefined;
  /** Pre-shared key for a pair of identities (responder side lookups). */
  findPsk?(local: IkeIdentity | "any", remote: IkeIdentity): Uint8Array | undefined;
  /** The EAP secret (password, UTF-8) of an EAP identity (swanctl `secrets { eap-x { id, secret } }`). */
  findEapSecret?(eapId: IkeIdentity): Uint8Array | undefined;
  /**
   * Leases a virtual IP of `family` from the first of `pools` that has one, for the peer's identity
   * (its EAP identity when EAP ran): the same address again when that identity reconnects;
   * `requested` is honoured when free. `{ error }` says why none could be had (pool exhausted,
   * unknown pool).
   */
  acquireVirtualIp?(
    pools: readonly string[],
    peer: IkeIdentity,
    family: 4 | 6,
    requested?: string,
  ): VirtualIpLease | { error: string };
  /** Gives a lease back (its IKE SA is gone). */
  releaseVirtualIp?(lease: VirtualIpLease, peer: IkeIdentity): void;
  /**
   * The peer authenticated on `ike` and sent INITIAL_CONTACT (RFC 7296 §2.4): it kept no state,
   * so its other IKE SAs are stale. Called before the leases of `ike` are taken.
   */
  initialContact?(ike: IkeSa): void;
  /**
   * Whether we hold another IKE SA with this SA's peer (same connection and address): then our
   * IKE_AUTH must not carry INITIAL_CONTACT, which would make the peer drop that one (§2.4).
   */
  hasContact?(ike: IkeSa): boolean;
}

/** IKE SA states, named as charon names them. */
export type IkeState = "CREATED" | "CONNECTING" | "ESTABLISHED" | "REKEYING" | "REKEYED" | "DELETING" | "DESTROYED";

let nextUniqueId = 1;
const SPI_ZERO = new Uint8Array(8);
/** IKE message budget when fragmenting: 1280-byte IP packets (strongSwan's fragment_size), minus IP/UDP/marker. */
const FRAGMENT_BYTES = 1280 - 20 - 8 - 4;

/** One IKE SA. */
export class IkeSa implements ChildSaOwner {
  readonly uniqueId = nextUniqueId++;
  state: IkeState = "CREATED";
  /** True if we sent the first IKE_SA_INIT (decides key directions and the I flag). */
  readonly originalInitiator: boolean;
  spiI: Uint8Array;
  spiR: Uint8Array = SPI_ZERO;
  local: Endpoint;
  remote: Endpoint;
  conn: IkeConnection;
  #proposal?: string;
  /** The negotiated IKE proposal, in strongSwan notation once known (formatted when first asked). */
  get proposal(): string {
    if (this.#proposal === undefined && this.chosen) this.#proposal = formatProposal(chosenProposal(this.chosen));
    return this.#proposal ?? "";
  }
  chosen?: Chosen;
  localId?: IkeIdentity;
  remoteId?: IkeIdentity;
  /** NAT seen (or faked) on either side: IKE moves to 4500 and ESP is UDP-encapsulated. */
  natDetected = false;
  peerSupportsFragmentation = false;
  peerHashes: number[] = [];
  readonly children = new Map<number, ChildSa>(); // by spiIn
  establishedAt = 0;
  error?: IkeError;
  /** Virtual IPs the peer assigned us by CP, and the DNS servers it sent with them. */
  localVips: string[] = [];
  dnsServers: string[] = [];
  /** Virtual IPs we leased to the peer (responder with pools); released when this SA is destroyed. */
  remoteVips: VirtualIpLease[] = [];
  /** The identity EAP authenticated (eap_id), when EAP ran; leases are keyed by it. */
  eapIdentity?: IkeIdentity;

  // ---- shared with the exchanges (tasks/); not for callers
  /** @internal */ readonly host: IkeSaHost;
  /** @internal */ readonly tasks: TaskManager;
  /** @internal */ prf?: Prf;
  /** @internal */ skKeys?: IkeKeys;
  /** @internal Nonces of IKE_SA_INIT (or of the rekey that made this SA). */
  ni: Uint8Array = new Uint8Array(0);
  /** @internal */ nr: Uint8Array = new Uint8Array(0);
  /** @internal The initiator's IKE_SA_INIT request and the responder's response, as sent (AUTH signs them). */
  initRequest: Uint8Array = new Uint8Array(0);
  /** @internal */ initResponse: Uint8Array = new Uint8Array(0);
  /** @internal A successor the peer created by rekeying this SA while our own rekey was in flight (§2.8.2). */
  rekeyCollision?: { successor: IkeSa; lowerNonce: Uint8Array };
  /** @internal The lower nonce of the rekey exchange that created this SA (§2.8.2). */
  lowerNonce?: Uint8Array;
  /** @internal Run once when the SA is destroyed: wipes what an exchange in progress holds (an EAP MSK). */
  readonly onDestroy: (() => void)[] = [];
  /** @internal Why the peer's authentication was refused while it could still retry (EAP-MSCHAPv2). */
  pendingAuthFailure?: string;

  #out?: SkCipher;
  #in?: SkCipher;
  #timers = new Set<TimerId>();
  #dpdTimer?: TimerId;
  #rekeyTimer?: TimerId;

  constructor(
    host: IkeSaHost,
    conn: IkeConnection,
    local: Endpoint,
    remote: Endpoint,
    originalInitiator: boolean,
    spiI?: Uint8Array,
  ) {
    this.host = host;
    this.conn = conn;
    this.local = local;
    this.remote = remote;
    this.originalInitiator = originalInitiator;
    this.spiI = spiI ?? host.random(8);
    this.tasks = new TaskManager(new IkeSa.#TaskHost(this));
  }

  /**
   * What the task manager calls on this SA: one object with methods rather than ten closures per
   * SA (an IKE setup makes two SAs, a gateway thousands). Inside the class body, so it reaches the
   * private members.
   */
  static readonly #TaskHost = class implements TaskManagerHost {
    readonly #sa: IkeSa;
    readonly retransmit: RetransmitConfig;
    constructor(sa: IkeSa) {
      this.#sa = sa;
      this.retransmit = sa.conn.retransmit;
    }
    destroyed(): boolean {
      return this.#sa.state === "DESTROYED";
    }
    encode(x: number, response: boolean, id: number, ps: Payload[]): Uint8Array[] {
      return x === Exchange.IKE_SA_INIT
        ? [this.#sa.plainMessage(x, response, id, ps)]
        : this.#sa.protect(x, response, id, ps);
    }
    inbound(): SkCipher | undefined {
      return this.#sa.#in;
    }
    send(d: Uint8Array): void {
      this.#sa.sendDatagram(d);
    }
    setTimer(ms: number, fn: () => void): TimerId {
      return this.#sa.timer(ms, fn);
    }
    clearTimer(t: unknown): void {
      this.#sa.cancel(t);
    }
    log(s: Subsystem, l: 0 | 1 | 2, m: LogText, k?: string): void {
      this.#sa.log(s, l, m, k);
    }
    crash(e: unknown): void {
      this.#sa.crash(e);
    }
    overLimit(what: "fragments"): void {
      this.#sa.host.overLimit?.(what);
    }
  };

  /** Our SPI (the one the peer puts in our slot of the header). */
  get localSpi(): Uint8Array {
    return this.originalInitiator ? this.spiI : this.spiR;
  }

  /** Logs with this SA's name and unique id. */
  log(subsystem: Subsystem, level: 0 | 1 | 2, message: LogText, rateKey?: string): void {
    if (level > (this.host.logLevel ?? 2)) return;
    this.host.log({
      subsystem,
      level,
      ike: { name: this.conn.name, id: this.uniqueId },
      message: logText(message),
      time: this.host.now(),
      rateKey,
    });
  }

  /** @internal `'id'`, or `%any` when none. */
  fmtId(id: IkeIdentity | "any" | undefined): string {
    return id === undefined || id === "any" ? "%any" : formatIdentity(id);
  }

  // ------------------------------------------------------------------ timers

  /** @internal A timer that dies with the SA. */
  timer(ms: number, fn: () => void): TimerId {
    const t = this.host.setTimer(ms, () => {
      this.#timers.delete(t);
      if (this.state !== "DESTROYED") fn();
    });
    this.#timers.add(t);
    return t;
  }

  /** @internal */
  cancel(t: TimerId | undefined): void {
    if (t === undefined) return;
    this.host.clearTimer(t);
    this.#timers.delete(t);
  }

  /** @internal Queues an exchange of ours. */
  queue(task: Task, first = false): void {
    this.tasks.queue(task, first);
  }

  /** @internal */
  crash(e: unknown): void {
    const err =
      e instanceof IkeError ? e : new IkeError("INTERNAL", `internal error: ${(e as Error).stack ?? String(e)}`);
    this.fail(err);
  }

  // ------------------------------------------------------------------ encoding

  private header(exchange: number, response: boolean, messageId: number): Omit<IkeHeader, "length" | "nextPayload"> {
    let flags = 0;
    if (this.originalInitiator) flags |= HeaderFlag.INITIATOR;
    if (response) flags |= HeaderFlag.RESPONSE;
    return { spiI: this.spiI, spiR: this.spiR, majorVersion: 2, minorVersion: 0, exchange, flags, messageId };
  }

  private plainMessage(exchange: number, response: boolean, messageId: number, payloads: Payload[]): Uint8Array {
    const bytes = encodeMessage({
      header: { ...this.header(exchange, response, messageId), nextPayload: 0, length: 0 },
      payloads,
    });
    if (response) this.initResponse = bytes;
    else this.initRequest = bytes;
    return bytes;
  }

  /** Encrypts payloads into one SK message, or SKF fragments when too big and the peer supports it (RFC 7383). */
  private protect(exchange: number, response: boolean, messageId: number, payloads: Payload[]): Uint8Array[] {
    const out = this.#out;
    if (!out)
      throw new IkeError("INTERNAL", `no keys to protect ${summarizeMessage(exchange, response, messageId, payloads)}`);
    const { firstType, bytes } = encodePayloads(payloads);
    const hdr = this.header(exchange, response, messageId);
    const whole = 28 + 4 + bytes.length + out.overhead(bytes.length);
    const mayFragment = this.peerSupportsFragmentation && this.conn.fragmentation !== "no";
    if (whole <= FRAGMENT_BYTES || !mayFragment) return [out.seal(hdr, firstType, bytes)];
    const room = FRAGMENT_BYTES - 28 - 8 - out.ivBytes - out.icvBytes - 17;
    const total = Math.ceil(bytes.length / room);
    const frags: Uint8Array[] = [];
    for (let i = 0; i < total; i++) {
      frags.push(
        out.seal(hdr, i === 0 ? firstType : 0, bytes.subarray(i * room, (i + 1) * room), { number: i + 1, total }),
      );
    }
    this.log("ENC", 1, () => `splitting IKE message (${whole} bytes) into ${total} fragments`);
    return frags;
  }

  private sendDatagram(d: Uint8Array): void {
    this.log(
      "NET",
      2,
      () =>
        `sending packet: from ${this.local.address}[${this.local.port}] to ${this.remote.address}[${this.remote.port}] (${d.length} bytes)`,
    );
    this.host.send(d, this.local, this.remote);
  }

  /** @internal Sends our response to the request with `messageId`. */
  respond(exchange: number, messageId: number, payloads: Payload[]): void {
    this.tasks.respond(exchange, messageId, payloads);
  }

  // ------------------------------------------------------------------ keys

  /** @internal Derives SKEYSEED and the SK_* keys (§2.14, or §2.18 for a rekey) and the SK ciphers. */
  deriveKeys(chosen: Chosen, secret: Uint8Array, rekey?: { oldPrf: Prf; oldSkD: Uint8Array }): void {
    this.chosen = chosen;
    this.#proposal = undefined;
    this.log("CFG", 1, () => `selected proposal: ${this.proposal}`);
    const prf = prfFor(this.host.crypto, chosen.prf ?? 0);
    this.prf = prf;
    const lens = keyLengths(chosen);
    const k = deriveIkeKeys(
      prf,
      { encr: lens.encrKey, integ: lens.integKey },
      secret,
      this.ni,
      this.nr,
      this.spiI,
      this.spiR,
      rekey,
    );
    this.skKeys = k;
    secret.fill(0);
    const cc = this.host.crypto;
    const host = this.host;
    const i2r = new SkCipher(cc, chosen.encr.id, k.skEi, chosen.integ, k.skAi, (n) => host.random(n));
    const r2i = new SkCipher(cc, chosen.encr.id, k.skEr, chosen.integ, k.skAr, (n) => host.random(n));
    this.#out = this.originalInitiator ? i2r : r2i;
    this.#in = this.originalInitiator ? r2i : i2r;
  }

  /** SK_* keys, for the Wireshark key export and tests. */
  get keys(): (IkeKeys & { encrId: number; integId?: number; keyBits: number }) | undefined {
    if (!this.skKeys || !this.chosen) return undefined;
    return {
      ...this.skKeys,
      encrId: this.chosen.encr.id,
      integId: this.chosen.integ,
      keyBits: this.chosen.encr.keyLength ?? 0,
    };
  }

  // ------------------------------------------------------------------ receiving

  /** Feeds one received IKE message (non-ESP marker already removed). */
  receive(bytes: Uint8Array, local: Endpoint, remote: Endpoint): Promise<void> {
    return this.tasks.run(() => this.process(bytes, local, remote));
  }

  private async process(bytes: Uint8Array, local: Endpoint, remote: Endpoint): Promise<void> {
    if (this.state === "DESTROYED") return;
    const dec = decodeMessage(bytes);
    if (!dec.ok) {
      this.log("ENC", 0, () => `dropping invalid message: ${dec.error.message}`, "invalid-message");
      return;
    }
    const msg = dec.value;
    const h = msg.header;
    const isResponse = (h.flags & HeaderFlag.RESPONSE) !== 0;
    this.log(
      "NET",
      2,
      () =>
        `received packet: from ${remote.address}[${remote.port}] to ${local.address}[${local.port}] (${bytes.length} bytes)`,
    );
    const inner = this.tasks.accept(bytes, msg, isResponse);
    if (!inner) return;
    if (h.exchange !== Exchange.IKE_SA_INIT) {
      // Authenticated traffic from a new address or port: follow it (NAT mapping change, port float).
      if (remote.address !== this.remote.address || remote.port !== this.remote.port) {
        this.log(
          "IKE",
          1,
          () =>
            `remote endpoint changed from ${this.remote.address}[${this.remote.port}] to ${remote.address}[${remote.port}]`,
        );
        this.remote = remote;
      }
      this.local = local;
    }
    this.log("ENC", 1, () => `parsed ${summarizeMessage(h.exchange, isResponse, h.messageId, inner)}`);
    if (isResponse) {
      await this.tasks.completeActive(inner, msg, bytes);
      return;
    }
    this.tasks.requestAccepted();
    const critical = inner.find((p) => p.type === "UNKNOWN" && p.critical);
    if (critical) {
      this.respond(h.exchange, h.messageId, [
        notify(Notify.UNSUPPORTED_CRITICAL_PAYLOAD, Uint8Array.of((critical as { payloadType: number }).payloadType)),
      ]);
      return;
    }
    await this.handleRequest(msg, inner);
  }

  /** A request of the peer: one responder per exchange (tasks/). */
  private async handleRequest(msg: IkeMessage, inner: Payload[]): Promise<void> {
    const h = msg.header;
    switch (h.exchange) {
      case Exchange.IKE_SA_INIT:
        this.log("IKE", 0, "unexpected IKE_SA_INIT request on an existing IKE SA, ignored");
        return;
      case Exchange.IKE_AUTH:
        if (this.state !== "CONNECTING" || this.originalInitiator) {
          this.respond(h.exchange, h.messageId, [notify(Notify.INVALID_SYNTAX)]);
          return;
        }
        return respondIkeAuth(this, h.messageId, inner);
      case Exchange.CREATE_CHILD_SA: {
        if (this.state !== "ESTABLISHED" && this.state !== "REKEYING") {
          this.respond(h.exchange, h.messageId, [notify(Notify.TEMPORARY_FAILURE)]);
          return;
        }
        const sa = inner.find((p) => p.type === "SA");
        if (sa?.type === "SA" && sa.proposals[0]?.protocolId === ProtocolId.IKE)
          return respondIkeRekey(this, h.messageId, inner);
        if (inner.some((p) => p.type === "N" && p.notifyType === Notify.REKEY_SA))
          return respondChildRekey(this, h.messageId, inner);
        return respondChildCreate(this, h.messageId, inner);
      }
      case Exchange.INFORMATIONAL:
        return respondInformational(this, h.messageId, inner);
      default:
        this.log("IKE", 0, () => `unsupported exchange type ${h.exchange}`);
    }
  }

  // ------------------------------------------------------------------ what owners call

  /** Starts the IKE SA as initiator: IKE_SA_INIT, then IKE_AUTH with the first child. */
  initiate(firstChild?: ChildTemplate): void {
    this.state = "CONNECTING";
    this.log("IKE", 0, () => `initiating IKE_SA ${this.conn.name}[${this.uniqueId}] to ${this.remote.address}`);
    this.queue(new IkeInitTask(this, firstChild));
  }

  /**
   * Answers an IKE_SA_INIT request for a new responder SA. Returns false if the SA should be
   * forgotten right away (error answered or dropped).
   */
  respondInit(bytes: Uint8Array, msg: IkeMessage): boolean {
    return respondIkeInit(this, bytes, msg);
  }

  /** Creates an additional Child SA with CREATE_CHILD_SA (or the first, if IKE_AUTH carried none). */
  createChild(t: ChildTemplate): void {
    this.queue(new ChildCreateTask(this, t));
  }

  /** Rekeys a Child SA (CREATE_CHILD_SA with REKEY_SA). */
  rekeyChild(child: ChildSa): void {
    this.queue(new ChildRekeyTask(this, child));
  }

  /** Deletes a Child SA (INFORMATIONAL with a Delete payload). */
  deleteChild(child: ChildSa): void {
    this.queue(new ChildDeleteTask(this, child));
  }

  /** A child's hard lifetime (life_time) ran out: delete it. */
  expireChild(child: ChildSa, why: string): void {
    if (this.children.get(child.spiIn) !== child) return;
    this.log("CHD", 0, () => `CHILD_SA ${child.name}{${child.uniqueId}} reached ${why}: deleting`);
    this.deleteChild(child);
  }

  /**
   * The dataplane raised a soft lifetime event on one of this child's SAs (rekey_bytes /
   * rekey_packets reached, or the sequence number space running out): rekey it, once.
   */
  childSoftExpired(child: ChildSa, reason: string): void {
    if (child.state !== "INSTALLED" || this.children.get(child.spiIn) !== child) return;
    this.log("CHD", 0, () => `CHILD_SA ${child.name}{${child.uniqueId}} reached its soft ${reason} limit: rekeying`);
    this.rekeyChild(child);
  }

  /**
   * The dataplane raised a hard lifetime event (life_bytes / life_packets, or the sequence number
   * space exhausted): the SA passes no more packets, so the child is deleted (strongSwan does the same).
   */
  childHardExpired(child: ChildSa, reason: string): void {
    if (this.children.get(child.spiIn) !== child || child.state === "DELETING" || child.state === "DELETED") return;
    this.log("CHD", 0, () => `CHILD_SA ${child.name}{${child.uniqueId}} reached its hard ${reason} limit: deleting`);
    this.deleteChild(child);
  }

  /** Sends a liveness check (an empty INFORMATIONAL) now; no answer fails the SA as DPD would. */
  checkLiveness(): void {
    this.queue(new DpdTask(this));
  }

  /** Rekeys this IKE SA: a new IKE SA takes over the children; the old one is deleted. */
  rekeyIke(): void {
    this.queue(new IkeRekeyTask(this));
  }

  /** Deletes the IKE SA and all its children (INFORMATIONAL with D(IKE)); resolves when answered or timed out. */
  delete(): Promise<void> {
    return new Promise((resolve) => {
      if (this.state === "DESTROYED") {
        resolve();
        return;
      }
      if (this.state === "CONNECTING" || this.state === "CREATED") {
        this.teardown("deleted before it was established");
        resolve();
        return;
      }
      this.queue(new IkeDeleteTask(this, { done: resolve }), true);
    });
  }

  // ------------------------------------------------------------------ state changes the exchanges make

  /** @internal IKE_AUTH done: timers start, the owner hears of it. */
  established(): void {
    this.state = "ESTABLISHED";
    this.establishedAt = this.host.now();
    this.log(
      "IKE",
      0,
      () =>
        `IKE_SA ${this.conn.name}[${this.uniqueId}] established between ${this.local.address}[${this.fmtId(this.localId)}]...${this.remote.address}[${this.fmtId(this.remoteId)}]`,
    );
    this.startTimers();
    this.host.event({ type: "established", ike: this });
  }

  /** @internal Derives a Child SA's keys and installs it in the backend; the child's timers start. */
  installChild(
    t: ChildTemplate,
    chosen: Chosen,
    suite: string,
    spiIn: number,
    localTs: ChildSa["localTs"],
    remoteTs: ChildSa["remoteTs"],
    keys: ChildSaKeys,
    opts: { weInitiated: boolean; outbound: boolean; lowerNonce: Uint8Array },
  ): ChildSa {
    const child = new ChildSa(
      {
        name: t.name,
        spiIn,
        spiOut: u32(chosen.spi),
        suite,
        proposal: () => formatProposal(chosenProposal(chosen)),
        mode: t.mode,
        esn: chosen.esn,
        localTs,
        remoteTs,
        template: t,
        installedAt: this.host.now(),
        outboundActive: opts.outbound,
        lowerNonce: opts.lowerNonce,
        weInitiated: opts.weInitiated,
      },
      this,
    );
    try {
      this.host.backend.installChild(child, keys, opts.outbound, { local: this.local, remote: this.remote });
    } finally {
      for (const k of Object.values(keys)) k.fill(0);
    }
    this.children.set(spiIn, child);
    // The host's own timers and randomness (called as its methods), not three closures per child.
    child.startTimers(this.host);
    this.log(
      "CHD",
      0,
      () =>
        `CHILD_SA ${t.name}{${child.uniqueId}} established with SPIs ${hex(spiBytes(spiIn))}_i ${hex(spiBytes(child.spiOut))}_o and TS ${formatTsList(localTs)} === ${formatTsList(remoteTs)}`,
    );
    this.log(
      "CHD",
      1,
      () => `${child.proposal}, ${t.mode}${opts.outbound ? "" : " (outbound SA waits for the old SA's DELETE)"}`,
    );
    return child;
  }

  /** @internal A rekey responder's new pair carries our traffic now. */
  activateOutbound(child: ChildSa): void {
    if (child.outboundActive || child.state === "DELETED") return;
    child.outboundActive = true;
    this.host.backend.activateOutbound(child);
    this.log(
      "CHD",
      1,
      () => `outbound SA of CHILD_SA ${child.name}{${child.uniqueId}} (${hex(spiBytes(child.spiOut))}_o) active`,
    );
  }

  /** @internal */
  announceChild(child: ChildSa, rekeyOf?: ChildSa): void {
    this.host.event({ type: "child-up", ike: this, child, rekeyOf });
  }

  /** @internal */
  childFailed(err: IkeError): void {
    this.log("CHD", 0, err.message);
    this.host.event({ type: "child-failed", ike: this, error: err });
  }

  /** @internal Removes a child from the backend and from this SA. */
  removeChild(child: ChildSa, reason: string): void {
    if (this.children.get(child.spiIn) !== child) return;
    this.children.delete(child.spiIn);
    child.deleted();
    this.host.backend.removeChild(child);
    this.host.event({ type: "child-down", ike: this, child, reason });
  }

  /** @internal The child whose outbound SPI (the peer's inbound) is `spi`. */
  childByPeerSpi(spi: number): ChildSa | undefined {
    for (const c of this.children.values()) if (c.spiOut === spi) return c;
    return undefined;
  }

  private startTimers(): void {
    if (this.conn.rekeyTime > 0) {
      this.cancel(this.#rekeyTimer);
      this.#rekeyTimer = this.timer(jitter(this.conn.rekeyTime, this.conn.randTime, this.host), () => this.rekeyIke());
    }
    this.scheduleDpd();
  }

  /** @internal IKE rekey failed without a successor: try again later. */
  retryRekey(ms: number): void {
    this.cancel(this.#rekeyTimer);
    this.#rekeyTimer = this.timer(ms, () => this.rekeyIke());
  }

  private scheduleDpd(): void {
    if (this.conn.dpdDelay <= 0) return;
    this.cancel(this.#dpdTimer);
    this.#dpdTimer = this.timer(this.conn.dpdDelay * 1000, () => {
      const idle = this.host.now() - this.host.lastHeard(this);
      if (idle >= this.conn.dpdDelay * 1000 && !this.tasks.active) this.queue(new DpdTask(this));
      this.scheduleDpd();
    });
  }

  /** @internal The new IKE SA of a rekey; `weInitiated` makes us its original initiator. */
  successor(
    weInitiated: boolean,
    spiI: Uint8Array,
    spiR: Uint8Array,
    ni: Uint8Array,
    nr: Uint8Array,
    chosen: Chosen,
    secret: Uint8Array,
  ): IkeSa {
    const next = new IkeSa(this.host, this.conn, this.local, this.remote, weInitiated, spiI);
    next.spiR = spiR;
    next.ni = ni;
    next.nr = nr;
    next.lowerNonce = lowerNonce(ni, nr);
    if (!this.prf || !this.skKeys) throw new IkeError("INTERNAL", "rekey of an IKE SA without keys");
    next.deriveKeys(chosen, secret, { oldPrf: this.prf, oldSkD: this.skKeys.skD });
    next.localId = this.localId;
    next.remoteId = this.remoteId;
    next.natDetected = this.natDetected;
    next.peerSupportsFragmentation = this.peerSupportsFragmentation;
    next.peerHashes = this.peerHashes;
    next.localVips = [...this.localVips];
    next.dnsServers = [...this.dnsServers];
    next.eapIdentity = this.eapIdentity;
    next.state = "ESTABLISHED";
    next.establishedAt = this.host.now();
    // A new task manager: message IDs of the rekeyed SA start at 0 both ways (§2.18).
    this.host.register(next);
    return next;
  }

  /** @internal The successor takes over: children are adopted with their timers; ours stop. */
  handOver(next: IkeSa): void {
    for (const [spi, c] of this.children) {
      next.children.set(spi, c);
      c.adopt(next);
    }
    this.children.clear();
    // The leases go with the children (charon's inherit_post moves other_vips): not released here.
    next.remoteVips = this.remoteVips;
    this.remoteVips = [];
    this.rekeyCollision = undefined;
    this.state = "REKEYED";
    this.log(
      "IKE",
      0,
      () =>
        `IKE_SA ${this.conn.name}[${this.uniqueId}] rekeyed to ${this.conn.name}[${next.uniqueId}], ${next.proposal}`,
    );
    next.startTimers();
    // Child exchanges still waiting here would die with this SA: they run on the successor instead.
    for (const t of this.tasks.takeQueued())
      if (isMovable(t)) {
        t.moveTo(next);
        next.queue(t);
      }
    this.cancel(this.#dpdTimer);
    this.cancel(this.#rekeyTimer);
    this.host.event({ type: "rekeyed", ike: this, successor: next });
  }

  /** @internal The old SA after a rekey: gone without touching the children (they moved). */
  retire(): void {
    this.destroy();
    this.host.event({ type: "deleted", ike: this, reason: "rekeyed" });
  }

  /** @internal Deleted (by us or the peer): children go with it. */
  teardown(reason: string): void {
    for (const c of [...this.children.values()]) this.removeChild(c, reason);
    this.destroy();
    this.host.event({ type: "deleted", ike: this, reason });
  }

  /** Fails the SA: logs the explanation, removes children, tells the owner. */
  fail(err: IkeError): void {
    if (this.state === "DESTROYED") return;
    this.error = err;
    this.log("IKE", 0, err.message);
    for (const c of [...this.children.values()]) this.removeChild(c, err.message);
    this.destroy();
    this.host.event({ type: "failed", ike: this, error: err });
  }

  /** @internal No more timers, tasks or keys. */
  destroy(): void {
    this.state = "DESTROYED";
    for (const t of this.#timers) this.host.clearTimer(t);
    this.#timers.clear();
    this.tasks.clear();
    if (this.skKeys) for (const k of Object.values(this.skKeys)) k.fill(0);
    for (const f of this.onDestroy.splice(0)) f();
    releaseLeases(this);
    const c = this.rekeyCollision?.successor;
    this.rekeyCollision = undefined;
    if (c && c.children.size === 0 && c.state === "ESTABLISHED") void c.delete();
  }
}

/** A task that concerns Child SAs and can run on the successor of an IKE rekey. */
export interface MovableTask extends Task {
  moveTo(ike: IkeSa): void;
}

function isMovable(t: Task): t is MovableTask {
  return typeof (t as Partial<MovableTask>).moveTo === "function";
}

export { hex as hexBytes, spiBytes, u32 as readU32 };
