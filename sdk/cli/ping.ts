/**
 * `ipsec-wasm ping --conf FILE [--conn NAME] DEST [-c COUNT]`: establish the connection, send
 * COUNT ICMP echo requests from our virtual IP (when the peer assigned one), else from the first
 * address of the negotiated local selectors, through the
 * Child SA, print each reply with its round trip, then the SA counters. Exit 0 only if every echo
 * came back: the end-to-end answer to "the tunnel is up, but is traffic flowing?".
 * @module
 */
import { icmpEcho, parseIcmpEcho } from "../packet/icmp.ts";
import { formatIp } from "../net/ip.ts";
import { parseSessionArgs, startSession, formatStatus, type Session } from "./ike-session.ts";
import { reportFailure, answerPings } from "./up.ts";
import { numberArg } from "./args.ts";
import type { CliCommand } from "./command.ts";

/** `ping`'s own options, besides those of every session. */
const PING_OPTIONS = {
  count: { type: "string", short: "c" },
  interval: { type: "string", short: "i" },
  wait: { type: "string", short: "W" },
  hold: { type: "string" },
} as const;

/** The virtual IP of `dest`'s family, if the peer assigned one. */
export function pingSource(vips: readonly string[], dest: string): string | undefined {
  const v6 = dest.includes(":");
  return vips.find((v) => v.includes(":") === v6);
}

export const pingCommand: CliCommand = {
  usage:
    [
      "Usage: ipsec-wasm ping --conf FILE [--conn NAME] DEST [-c COUNT] [-i SECONDS] [-W SECONDS] [--hold SECONDS]",
      "",
      "  -c, --count COUNT      echo requests to send (default 5)",
      "  -i, --interval SECONDS interval between requests (default 1)",
      "  -W, --wait SECONDS     how long to wait for the last reply (default 2)",
      "  --nat-port P, -v, -q, --retransmit-*, --silence-after S: as for `ipsec-wasm up`",
      "  --hold S      keep the SAs this long after the last reply (answering DPD and rekeys)",
      "",
      "Exit codes: 0 every reply came back, 1 some were lost, 2 bad arguments (unknown options and bad",
      "numbers too; one line), others as for `ipsec-wasm up`.",
    ].join("\n") + "\n",
  async run(args, io) {
    let s: Session | undefined;
    try {
      const { opts, values, positionals } = parseSessionArgs(args, PING_OPTIONS, "ping", 1);
      const dest = positionals[0];
      if (!dest) {
        io.err("error: ping needs a destination address (inside the peer's traffic selectors)\n");
        return 2;
      }
      const count =
        values.count === undefined ? 5 : numberArg("-c", values.count, { min: 1, max: 1_000_000, integer: true });
      const interval =
        (values.interval === undefined
          ? 1
          : numberArg("-i", values.interval, { min: 0, max: 3600, exclusiveMin: true })) * 1000;
      const wait = (values.wait === undefined ? 2 : numberArg("-W", values.wait, { min: 0, max: 3600 })) * 1000;
      const hold = values.hold === undefined ? 0 : numberArg("--hold", values.hold, { min: 0, max: 86400 });
      s = await startSession(opts, io);
      answerPings(s);
      const session = s;
      const { ike, child } = await session.daemon.initiate(session.conn.name);
      if (!child) {
        io.err("error: the IKE SA came up without a Child SA\n");
        return 18;
      }
      const ts = child.localTs[0];
      // A virtual IP the peer assigned (vips = 0.0.0.0) is our inner address; else the first local selector's.
      const src = pingSource(ike.localVips, dest) ?? (ts ? formatIp(ts.start) : undefined);
      if (!src) {
        io.err("error: the Child SA came up without a local traffic selector\n");
        return 18;
      }
      io.out(`PING ${dest} from ${src} through CHILD_SA ${child.name} (${child.proposal}): ${count} requests\n`);
      const id = process.pid & 0xffff;
      const sentAt = new Map<number, number>();
      let received = 0;
      const inner = session.daemon.onInner;
      session.daemon.onInner = (pkt, c, ike) => {
        const e = parseIcmpEcho(pkt);
        if (e && e.type === 0 && e.id === id && sentAt.has(e.seq)) {
          const rtt = performance.now() - sentAt.get(e.seq)!;
          sentAt.delete(e.seq);
          received++;
          io.out(
            `${pkt.length} bytes from ${e.src}: icmp_seq=${e.seq} time=${rtt.toFixed(2)} ms (SPI ${c.spiIn.toString(16)})\n`,
          );
          return;
        }
        inner?.(pkt, c, ike);
      };
      for (let seq = 1; seq <= count; seq++) {
        sentAt.set(seq, performance.now());
        if (session.daemon.sendInner([icmpEcho(src, dest, id, seq)], dest) === 0)
          io.err(`icmp_seq=${seq}: no Child SA covers ${dest}\n`);
        if (seq < count) await new Promise((r) => setTimeout(r, interval));
      }
      const deadline = Date.now() + wait;
      while (received < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      io.out(
        `--- ${dest} ping statistics through ipsec-wasm ---\n${count} packets transmitted, ${received} received, ${Math.round((100 * (count - received)) / count)}% packet loss\n`,
      );
      if (hold > 0) await new Promise((r) => setTimeout(r, hold * 1000));
      io.out(formatStatus(session.daemon.status()));
      await session.daemon.terminateAll();
      return received === count ? 0 : 1;
    } catch (e) {
      return reportFailure(e, io);
    } finally {
      await s?.close();
    }
  },
};
