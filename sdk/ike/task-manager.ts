/**
 * Message IDs, the request window, retransmission, the response cache and fragment reassembly of
 * one IKE SA (RFC 7296 §2.1-§2.3, RFC 7383), in the manner of charon's task manager: exchanges we
 * start are {@link Task}s in a queue; at most one is active, and the active slot is claimed before
 * the task builds its message, so two requests can never leave with the same message ID (window
 * size 1 by construction, not by a flag every caller must remember).
 *
 * Requests of the peer are not tasks here: the IKE SA answers them (one responder function per
 * exchange under tasks/), and this file only checks their message ID, answers retransmits from
 * the cache, and sends the response.
 * @module
 */
import { decodePayloads } from "./codec.ts";
import { concat } from "./keys.ts";
import { Exchange, type IkeMessage, type Payload } from "./message.ts";
import { summarizeMessage } from "./names.ts";
import { find } from "./payloads.ts";
import type { RetransmitConfig } from "./config.ts";
import type { LogSink, LogText, Subsystem } from "./log.ts";
import type { SkCipher } from "./sk.ts";

/** An exchange we initiate. */
export interface Task {
  /** For logs and tests, e.g. "CHILD_REKEY". */
  readonly name: string;
  readonly exchange: number;
  /**
   * The request's payloads, or undefined when there is nothing left to do (the SA or child it was
   * for is gone): the task is then dropped without using a message ID.
   */
  build(): Payload[] | undefined | Promise<Payload[] | undefined>;
  /**
   * Whether this is the response to act on. An unauthenticated IKE_SA_INIT response may be forged
   * (RFC 7296 §2.21.1): a task can decline it, and the request stays outstanding (same message ID,
   * retransmits go on) until a response it accepts or the timeout.
   */
  acceptResponse?(inner: Payload[]): boolean;
  /** The response, decrypted (for IKE_SA_INIT: its payloads; `raw` is the datagram as received). */
  process(inner: Payload[], msg: IkeMessage, raw: Uint8Array): void | Promise<void>;
  /** No response after every retransmit. */
  timeout(): void;
}

/** What the task manager needs of its IKE SA. */
export interface TaskManagerHost {
  readonly retransmit: RetransmitConfig;
  destroyed(): boolean;
  /** Encodes a message: plain for IKE_SA_INIT, one SK message or SKF fragments otherwise. */
  encode(exchange: number, response: boolean, messageId: number, payloads: Payload[]): Uint8Array[];
  /** The inbound SK cipher, once keys exist. */
  inbound(): SkCipher | undefined;
  send(datagram: Uint8Array): void;
  setTimer(ms: number, fn: () => void): unknown;
  clearTimer(t: unknown): void;
  /** `rateKey` marks a line caused by one received datagram (rate limited, see log.ts). */
  log(subsystem: Subsystem, level: 0 | 1 | 2, message: LogText, rateKey?: string): void;
  /** A task threw: the SA fails with the error. */
  crash(e: unknown): void;
  /** A received message was dropped over a limit (counted by the daemon). */
  overLimit(what: "fragments"): void;
}

interface Active {
  task: Task;
  messageId: number;
  datagrams: Uint8Array[];
  tries: number;
  timer?: unknown;
}

/**
 * Caps of fragment reassembly (RFC 7383 leaves them to the implementation). Only the fragments of
 * the one request we expect and of the one response we wait for are kept, so an SA holds at most
 * two sets. strongSwan's max_packet (10000 bytes) bounds a reassembled message; 64 fragments of
 * the 1280-byte fragment_size carry more than that.
 */
export const MAX_FRAGMENTS = 64;
export const MAX_MESSAGE_BYTES = 10_000;

/** The task manager of one IKE SA. */
export class TaskManager {
  #host: TaskManagerHost;
  #queue: Task[] = [];
  #active?: Active;
  /** Claimed by a task that is still building its request. */
  #claimed?: Task;
  #nextRequestId = 0;
  #expectRequestId = 0;
  #lastResponse?: { messageId: number; datagrams: Uint8Array[] };
  #fragments = new Map<number, { total: number; parts: Map<number, Uint8Array>; innerType: number; bytes: number }>();
  #chain: Promise<void> = Promise.resolve();

  constructor(host: TaskManagerHost) {
    this.#host = host;
  }

  /** The task whose request is in flight or being built, if any. */
  get active(): Task | undefined {
    return this.#active?.task ?? this.#claimed;
  }

  /** Tasks waiting for the window. */
  get queued(): readonly Task[] {
    return this.#queue;
  }

  /** Message ID the next request of ours will carry. */
  get nextRequestId(): number {
    return this.#nextRequestId;
  }

  /** Runs `fn` after everything queued before it (received messages and task steps never interleave). */
  run(fn: () => void | Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(fn).catch((e) => this.#host.crash(e));
    return this.#chain;
  }

  /** Queues a task; `first` puts it ahead of the others (a DELETE must not wait behind rekeys). */
  queue(task: Task, first = false): void {
    if (first) this.#queue.unshift(task);
    else this.#queue.push(task);
    this.#pump();
  }

  /** Removes and returns the tasks waiting for the window (an IKE rekey hands them to the successor). */
  takeQueued(): Task[] {
    const q = this.#queue;
    this.#queue = [];
    return q;
  }

  /** IKE_SA_INIT again (COOKIE or INVALID_KE_PAYLOAD): the retry uses message ID 0 (§2.6, §1.2). */
  restartInit(): void {
    this.#nextRequestId = 0;
  }

  /** A responder after IKE_SA_INIT expects request 1 next. */
  initAnswered(): void {
    this.#expectRequestId = 1;
  }

  #pump(): void {
    if (this.#active || this.#claimed || this.#host.destroyed()) return;
    const task = this.#queue.shift();
    if (!task) return;
    this.#claimed = task;
    void this.run(async () => {
      try {
        if (this.#claimed !== task || this.#host.destroyed()) return;
        const payloads = await task.build();
        if (this.#claimed !== task || this.#host.destroyed() || !payloads) return;
        this.#send(task, payloads);
      } finally {
        if (this.#claimed === task) this.#claimed = undefined;
        this.#pump();
      }
    });
  }

  #send(task: Task, payloads: Payload[]): void {
    const messageId = this.#nextRequestId;
    const datagrams = this.#host.encode(task.exchange, false, messageId, payloads);
    this.#active = { task, messageId, datagrams, tries: 0 };
    this.#host.log("ENC", 1, () => `generating ${summarizeMessage(task.exchange, false, messageId, payloads)}`);
    this.#transmit(this.#active);
  }

  #transmit(a: Active): void {
    for (const d of a.datagrams) this.#host.send(d);
    const r = this.#host.retransmit;
    a.timer = this.#host.setTimer(r.timeoutMs * r.base ** a.tries, () => {
      if (this.#active !== a || this.#host.destroyed()) return;
      if (a.tries >= r.tries) {
        this.#host.log("IKE", 0, () => `giving up after ${r.tries} retransmits`);
        this.#active = undefined;
        void this.run(() => {
          a.task.timeout();
          this.#pump();
        });
        return;
      }
      a.tries++;
      this.#host.log("IKE", 1, () => `retransmit ${a.tries} of request with message ID ${a.messageId}`);
      this.#transmit(a);
    });
  }

  /**
   * Window and authenticity checks of a received message: a response must answer the request in
   * flight, a request must carry the next message ID (a retransmitted one is answered from the
   * cache, never processed twice, §2.1). Returns the decrypted payloads, or undefined when the
   * message is done with (dropped, answered from cache, or a fragment of an incomplete set).
   */
  accept(bytes: Uint8Array, msg: IkeMessage, isResponse: boolean): Payload[] | undefined {
    const h = msg.header;
    if (isResponse) {
      const a = this.#active;
      if (!a || a.messageId !== h.messageId || a.task.exchange !== h.exchange) {
        this.#host.log(
          "IKE",
          1,
          () =>
            `ignoring ${h.exchange === Exchange.IKE_SA_INIT ? "IKE_SA_INIT" : "unexpected"} response with message ID ${h.messageId} (none outstanding)`,
          "unexpected-response",
        );
        return undefined;
      }
    } else if (h.messageId !== this.#expectRequestId) {
      if (this.#lastResponse && h.messageId === this.#lastResponse.messageId) {
        const skf = find(msg.payloads, "SKF");
        if (!skf || skf.fragmentNumber === 1) {
          this.#host.log(
            "IKE",
            1,
            () => `received retransmit of request with ID ${h.messageId}, retransmitting response`,
            "retransmitted-request",
          );
          for (const d of this.#lastResponse.datagrams) this.#host.send(d);
        }
      } else {
        this.#host.log(
          "IKE",
          1,
          () => `ignoring request with message ID ${h.messageId}, expected ${this.#expectRequestId}`,
          "unexpected-request",
        );
      }
      return undefined;
    }
    if (h.exchange === Exchange.IKE_SA_INIT) return msg.payloads;
    return this.#open(bytes, msg);
  }

  /** Decrypts SK, or collects SKF fragments until the set is complete. */
  #open(bytes: Uint8Array, msg: IkeMessage): Payload[] | undefined {
    const sk = this.#host.inbound();
    if (!sk) {
      this.#host.log("ENC", 0, "dropping encrypted message: no keys yet", "no-keys");
      return undefined;
    }
    const last = msg.payloads[msg.payloads.length - 1];
    if (!last || (last.type !== "SK" && last.type !== "SKF")) {
      this.#host.log("ENC", 0, () => `dropping ${msg.header.exchange} message without an encrypted payload`, "no-sk");
      return undefined;
    }
    const opened = sk.open(bytes, last.body.length);
    if (!opened.ok) {
      this.#host.log(
        "ENC",
        0,
        () =>
          `could not decrypt payloads: ${opened.reason}; message verification failed (wrong keys or a tampered message), dropped`,
        "bad-icv",
      );
      return undefined;
    }
    if (last.type === "SK") return this.#decode(opened.plaintext, last.innerType);
    const id = msg.header.messageId;
    let f = this.#fragments.get(id);
    if (!f) {
      if (last.totalFragments > MAX_FRAGMENTS) {
        this.#host.overLimit("fragments");
        this.#host.log(
          "ENC",
          1,
          () => `dropping fragment ${last.fragmentNumber}/${last.totalFragments}: more than ${MAX_FRAGMENTS} fragments`,
          "fragments",
        );
        return undefined;
      }
      f = { total: last.totalFragments, parts: new Map(), innerType: 0, bytes: 0 };
      this.#fragments.set(id, f);
    }
    if (last.totalFragments !== f.total || last.fragmentNumber < 1 || last.fragmentNumber > f.total) {
      this.#host.log(
        "ENC",
        0,
        () => `dropping fragment ${last.fragmentNumber}/${last.totalFragments}: inconsistent with ${f.total} fragments`,
        "fragments",
      );
      return undefined;
    }
    if (last.fragmentNumber === 1) f.innerType = last.innerType;
    f.bytes += opened.plaintext.length - (f.parts.get(last.fragmentNumber)?.length ?? 0);
    f.parts.set(last.fragmentNumber, opened.plaintext);
    if (f.bytes > MAX_MESSAGE_BYTES) {
      this.#fragments.delete(id);
      this.#host.overLimit("fragments");
      this.#host.log(
        "ENC",
        0,
        () => `dropping fragmented message ${id}: more than ${MAX_MESSAGE_BYTES} bytes (max_packet)`,
        "fragments",
      );
      return undefined;
    }
    this.#host.log("ENC", 2, () => `received fragment #${last.fragmentNumber} of ${f.total}`);
    if (f.parts.size < f.total) return undefined;
    this.#fragments.delete(id);
    const parts = f.parts;
    const whole = concat(...Array.from({ length: f.total }, (_, i) => parts.get(i + 1) ?? new Uint8Array(0)));
    this.#host.log("ENC", 1, () => `reassembled fragmented IKE message (${whole.length} bytes)`);
    return this.#decode(whole, f.innerType);
  }

  #decode(plaintext: Uint8Array, innerType: number): Payload[] | undefined {
    const r = decodePayloads(plaintext, innerType, 0);
    if (!r.ok) {
      this.#host.log("ENC", 0, () => `invalid encrypted payloads: ${r.error.message}`, "invalid-payloads");
      return undefined;
    }
    return r.value;
  }

  /** The response to the active task arrived (after {@link accept}): the window moves on. */
  async completeActive(inner: Payload[], msg: IkeMessage, raw: Uint8Array): Promise<void> {
    const a = this.#active;
    if (!a) return;
    if (a.task.acceptResponse && !a.task.acceptResponse(inner)) return;
    if (a.timer !== undefined) this.#host.clearTimer(a.timer);
    this.#active = undefined;
    this.#nextRequestId++;
    await a.task.process(inner, msg, raw);
    this.#pump();
  }

  /** A request was accepted: the next one must carry the following message ID. */
  requestAccepted(): void {
    this.#expectRequestId++;
  }

  /** Sends (and caches, for retransmits of the request) our response. */
  respond(exchange: number, messageId: number, payloads: Payload[]): void {
    const datagrams = this.#host.encode(exchange, true, messageId, payloads);
    this.#lastResponse = { messageId, datagrams };
    this.#host.log("ENC", 1, () => `generating ${summarizeMessage(exchange, true, messageId, payloads)}`);
    for (const d of datagrams) this.#host.send(d);
  }

  /**
   * Sends one request nobody waits for, outside the window, because the SA dies right after it:
   * the AUTHENTICATION_FAILED notice of §2.21.2. It takes the next message ID, so it cannot
   * collide with a request in flight.
   */
  sendFinal(exchange: number, payloads: Payload[]): void {
    const messageId = this.#nextRequestId++;
    this.#host.log("ENC", 1, () => `generating ${summarizeMessage(exchange, false, messageId, payloads)}`);
    for (const d of this.#host.encode(exchange, false, messageId, payloads)) this.#host.send(d);
  }

  /** The SA is gone: nothing more is sent or retransmitted. */
  clear(): void {
    if (this.#active?.timer !== undefined) this.#host.clearTimer(this.#active.timer);
    this.#active = undefined;
    this.#claimed = undefined;
    this.#queue = [];
    this.#fragments.clear();
  }
}

/** A task from plain functions, for exchanges whose state fits in a closure. */
export function task(
  name: string,
  exchange: number,
  t: Pick<Task, "build" | "process"> & Partial<Pick<Task, "timeout">>,
): Task {
  return { name, exchange, build: t.build, process: t.process, timeout: t.timeout ?? (() => undefined) };
}

export type { LogSink };
