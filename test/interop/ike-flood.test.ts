// `ipsec-wasm up --listen` under an IKE_SA_INIT flood over real loopback UDP (issue 12): 20,000
// IKE_SA_INITs from 1,000 source addresses in 127.0.0.0/8 at about 1,000/s. COOKIE notifies must
// answer all but the cookie threshold, the responder's RSS must stay bounded, and a legitimate
// `ipsec-wasm ping` during the flood must get every echo back. And a fragment flood (RFC 7383) on
// one half-open SA must not grow the responder's memory. Needs loopback
// (the whole of 127.0.0.0/8) and /proc only: no root, no namespaces.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import { CliHarness, freePort, waitFor, type Side } from "../helpers/cli-up.ts";
import { decodeMessage } from "../../sdk/ike/codec.ts";
import { Exchange, HeaderFlag, Notify } from "../../sdk/ike/message.ts";
import { SkCipher } from "../../sdk/ike/sk.ts";
import { attacker } from "../helpers/ike-attacker.ts";
import { settle } from "../helpers/ike-pair.ts";

const h = new CliHarness("ike-flood");
const RESP: Side = { addr: "127.0.0.1", id: "resp.example.org", ts: "203.0.113.2/32" };
const INIT: Side = { addr: "127.0.0.2", id: "init.example.org", ts: "198.51.100.1/32" };
/** The responder takes IKE from anywhere in 127.0.0.0/8 (the flood's sources) and any identity. */
const ANY_INITIATOR: Side = { addr: "127.0.0.0/8", id: "%any", ts: "198.51.100.0/24" };
after(() => h.remove());

const SOURCES = 1000;
const PER_SOURCE = 20;

/** One real IKE_SA_INIT request made by our own initiator (the flood varies its SPI). */
async function saInitTemplate(): Promise<Uint8Array> {
  const { sent } = await attacker(
    { address: "127.1.0.1", port: 500 },
    { address: "127.0.0.1", port: 500 },
    { id: "flood.example.org" },
  );
  assert.equal(sent.length, 1);
  return sent[0]!;
}

const rssKb = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
const hwmKb = (pid: number): number =>
  Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);

test(
  "IKE_SA_INIT flood: 20,000 from 1,000 addresses get COOKIEs beyond the threshold, RSS stays bounded, a ping during the flood gets every echo",
  { timeout: 180_000 },
  async () => {
    const port = await freePort();
    const rtmp = h.dir("resp"),
      itmp = h.dir("init");
    const resp = h.startUp(["--listen", "--conf", h.conf(RESP, ANY_INITIATOR, port, { esp: "aes128gcm16" })], rtmp);
    await waitFor(resp, /listening on/);
    const pid = resp.child.pid!;
    await new Promise((r) => setTimeout(r, 500));
    const rssBefore = rssKb(pid);

    const template = await saInitTemplate();
    const sockets: Socket[] = [];
    let cookies = 0,
      full = 0,
      other = 0;
    for (let i = 0; i < SOURCES; i++) {
      const s = createSocket("udp4");
      await new Promise<void>((r, j) => {
        s.once("error", j);
        s.bind(0, `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`, () => r());
      });
      s.on("message", (m) => {
        const d = decodeMessage(new Uint8Array(m).subarray(4));
        if (!d.ok) {
          other++;
          return;
        }
        if (d.value.payloads.some((p) => p.type === "SA")) full++;
        else if (d.value.payloads.some((p) => p.type === "N" && p.notifyType === Notify.COOKIE)) cookies++;
        else other++;
      });
      sockets.push(s);
    }
    let sent = 0;
    const flood = (async () => {
      for (let round = 0; round < PER_SOURCE; round++) {
        for (let i = 0; i < SOURCES; i += 50) {
          for (let j = i; j < i + 50; j++) {
            // Ports other than 500 carry IKE behind the 4-byte non-ESP marker (RFC 3948 §2.2).
            const m = new Uint8Array(4 + template.length);
            m.set(template, 4);
            crypto.getRandomValues(m.subarray(4, 12)); // a fresh initiator SPI: a new half-open attempt
            sockets[j]!.send(m, port, "127.0.0.1");
            sent++;
          }
          await new Promise((r) => setTimeout(r, 50)); // 50 per 50 ms: 1,000 per second
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 4000));
    // A legitimate peer in the middle of the flood: it gets a COOKIE, returns it, and pings through.
    const atPing = { cookies, full, other };
    const pinger = h.spawn(
      ["ping", "--conf", h.conf(INIT, RESP, port, { esp: "aes128gcm16" }), "203.0.113.2", "-c", "3", "-i", "0.5"],
      itmp,
    );
    const ping = {
      code: await pinger.exited,
      get out() {
        return `${pinger.out()}\nflood answers before the ping: ${JSON.stringify(atPing)}\nresponder:\n${resp.out().slice(-2000)}`;
      },
    };
    const peakDuring = hwmKb(pid);
    await flood;
    await new Promise((r) => setTimeout(r, 1500));
    const rssAfter = rssKb(pid);
    const status = h.cli(rtmp, ["status", "--json"]);
    for (const s of sockets) s.close();

    assert.equal(ping.code, 0, ping.out);
    assert.match(ping.out, /3 packets transmitted, 3 received/);
    assert.match(ping.out, /received COOKIE notify/);
    assert.equal(sent, SOURCES * PER_SOURCE);
    const answered = cookies + full + other;
    assert.ok(answered >= sent * 0.95, `answers: ${answered} of ${sent} (loopback may drop a few under load)`);
    assert.ok(full <= 30, `full IKE_SA_INIT responses (DH work) to the flood: ${full}, at most the cookie threshold`);
    assert.equal(other, 0);
    assert.ok(cookies >= answered - 30, `COOKIEs: ${cookies} of ${answered}`);
    const peakMb = hwmKb(pid) / 1024;
    console.log(
      `# flood: ${sent} sent, ${cookies} COOKIE, ${full} full; responder RSS ${(rssBefore / 1024).toFixed(0)} MB before, ${(rssAfter / 1024).toFixed(0)} MB after, peak ${peakMb.toFixed(0)} MB (${(peakDuring / 1024).toFixed(0)} MB at the ping)`,
    );
    assert.ok(rssAfter - rssBefore < 64 * 1024, `RSS grew ${(rssAfter - rssBefore) / 1024} MB`);
    assert.equal(status.code, 0, status.out);
    assert.doesNotThrow(() => JSON.parse(status.out));
    resp.child.kill("SIGINT");
    await resp.exited;
  },
);

test(
  "fragment flood: 65,534 SKF fragments of 1,200 bytes on one half-open IKE SA, twice: RSS grows by allocator slack only (< 20 MB), the second flood by < 5 MB",
  { timeout: 120_000 },
  async () => {
    const port = await freePort();
    const rtmp = h.dir("frag-resp");
    const resp = h.startUp(["--listen", "--conf", h.conf(RESP, ANY_INITIATOR, port, { esp: "aes128gcm16" })], rtmp);
    await waitFor(resp, /listening on/);
    const pid = resp.child.pid!;
    // The attacker: our own initiator completes IKE_SA_INIT over UDP, so it has the SK keys.
    const me = { address: "127.1.9.9", port: 0 };
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, me.address, () => r()));
    me.port = sock.address().port;
    const { ike, host, sent } = await attacker(me, { address: "127.0.0.1", port }, { id: "frag.example.org" }, port);
    const answers: Uint8Array[] = [];
    sock.on("message", (m) => answers.push(new Uint8Array(m).subarray(4)));
    const marker = (b: Uint8Array): Uint8Array => {
      const m = new Uint8Array(b.length + 4);
      m.set(b, 4);
      return m;
    };
    sock.send(marker(sent[0]!), port, "127.0.0.1");
    for (let i = 0; i < 50 && answers.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(answers.length, 1, "IKE_SA_INIT answered");
    await ike.receive(answers[0]!, me, { address: "127.0.0.1", port });
    await settle();
    const k = ike.keys!;
    assert.ok(k, "the attacker has the SK keys");
    // Warm-up: the same number of junk datagrams of the same size, which the daemon drops at the
    // header. They grow the JS heap by its garbage headroom (about 15 MB here); what the fragment
    // flood adds after them is what it keeps.
    const junk = marker(new Uint8Array(1290).fill(0x5a));
    for (let i = 1; i <= 65_534; i++) {
      sock.send(junk, port, "127.0.0.1");
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 1500));
    const before = rssKb(pid);
    const sk = new SkCipher(host.crypto, k.encrId, k.skEi, k.integId, k.skAi, (n) =>
      crypto.getRandomValues(new Uint8Array(n)),
    );
    const hdr = {
      spiI: ike.spiI,
      spiR: ike.spiR,
      majorVersion: 2,
      minorVersion: 0,
      exchange: Exchange.IKE_AUTH,
      flags: HeaderFlag.INITIATOR,
      messageId: 1,
    };
    const chunk = new Uint8Array(1200).fill(0x41);
    const TOTAL = 65_534;
    const flood = async (): Promise<void> => {
      for (let i = 1; i <= TOTAL; i++) {
        sock.send(marker(sk.seal(hdr, i === 1 ? 35 : 0, chunk, { number: i, total: TOTAL })), port, "127.0.0.1");
        if (i % 200 === 0) await new Promise((r) => setTimeout(r, 2)); // about 50,000 fragments per second at most
      }
      await new Promise((r) => setTimeout(r, 1500));
    };
    await flood();
    const afterFirst = rssKb(pid);
    await flood();
    const afterSecond = rssKb(pid);
    const metrics = h.cli(rtmp, ["status", "--json"]);
    sock.close();
    const mb = (kb: number): string => (kb / 1024).toFixed(1);
    console.log(
      `# fragment flood: 2 x ${TOTAL} fragments of 1200 B; responder RSS ${mb(before)} MB before (after as many junk datagrams), ${mb(afterFirst)} MB after the first, ${mb(afterSecond)} MB after the second`,
    );
    // Buffering the fragments would keep their 78 MB; what the first flood adds is allocator slack.
    assert.ok(afterFirst - before < 20 * 1024, `the first flood grew RSS by ${mb(afterFirst - before)} MB`);
    // Steady state: a second flood of the same size adds nothing that stays.
    assert.ok(afterSecond - afterFirst < 5 * 1024, `the second flood grew RSS by ${mb(afterSecond - afterFirst)} MB`);
    assert.equal(metrics.code, 0, metrics.out);
    resp.child.kill("SIGINT");
    await resp.exited;
  },
);
