// `npm run demo` end to end at a small count: both suites, ESP-in-UDP over loopback, every echo answered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runDemo } from "../../sdk/cli/demo.ts";
import { icmpEcho, parseIcmpEcho, echoReplyFor } from "../../sdk/packet/icmp.ts";

test("ICMP echo packets carry valid checksums and replies swap addresses", () => {
  const req = icmpEcho("198.51.100.1", "203.0.113.2", 7, 9, 56);
  assert.deepEqual(parseIcmpEcho(req), { src: "198.51.100.1", dst: "203.0.113.2", type: 8, id: 7, seq: 9 });
  const rep = echoReplyFor(req)!;
  assert.deepEqual(parseIcmpEcho(rep), { src: "203.0.113.2", dst: "198.51.100.1", type: 0, id: 7, seq: 9 });
  req[30] ^= 1;
  assert.equal(parseIcmpEcho(req), null, "a corrupted echo fails its checksum");
});

test("demo: 300 echo requests per suite through two dataplanes over UDP loopback all come back", async () => {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => { lines.push(a.join(" ")); };
  let code: number;
  try { code = await runDemo(["--count", "300"]); } finally { console.log = log; }
  assert.equal(code, 0, lines.join("\n"));
  assert.equal(lines.filter((l) => /300 echo requests, 300 replies/.test(l)).length, 2);
  assert.ok(lines.some((l) => /A out .*aes128-sha256 \(ICV 128 bit\)\s+packets 300/.test(l)));
});
