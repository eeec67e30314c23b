// The IKE fuzzers (test/fuzz/ike-*.ts), a short deterministic run: codec inputs that must decode
// or fail with a structured error, mutated datagrams of every exchange fed to an initiator and a
// responder, sessions mutated in flight (raw, and re-sealed with the SA's keys so that mutated inner
// payloads reach the exchange handlers); and the harness's self-check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fuzzIke } from "../fuzz/ike-fuzz.ts";
import { recordSession, recordingPair, establish } from "../fuzz/ike-session.ts";
import { PairWatch } from "../fuzz/ike-daemon-fuzz.ts";
import { decodeHeader } from "../../sdk/ike/codec.ts";
import { Exchange } from "../../sdk/ike/message.ts";

test("the recorded session has every exchange, requests and responses both ways", async () => {
  const w = await recordSession(1);
  const seen = new Set<string>();
  for (const m of w) {
    const h = decodeHeader(m.bytes);
    assert.ok(h.ok);
    seen.add(`${h.value.exchange}/${h.value.flags & 0x20 ? "response" : "request"}/${m.from}`);
  }
  for (const ex of [Exchange.IKE_SA_INIT, Exchange.IKE_AUTH, Exchange.CREATE_CHILD_SA, Exchange.INFORMATIONAL]) {
    assert.ok(seen.has(`${ex}/request/a`) && seen.has(`${ex}/response/b`), `exchange ${ex}: ${[...seen].join(" ")}`);
  }
  assert.ok(seen.has(`${Exchange.INFORMATIONAL}/request/b`), "a request from the responder (DPD)");
});

test("IKE fuzz, seed 1: 100,000 codec inputs, 100,000 mutated datagrams to daemons, 40 + 40 mutated sessions", async () => {
  const r = await fuzzIke({ seed: 1, codec: 100_000, daemon: 100_000, sessions: 40 });
  assert.deepEqual(r.violations, []);
  assert.ok(r.codec.inputs >= 100_000);
  assert.ok(r.codec.ok > 10_000 && r.codec.roundTrips > 10_000, JSON.stringify(r.codec));
  for (const code of [
    "TOO_SHORT",
    "BAD_LENGTH",
    "UNSUPPORTED_VERSION",
    "BAD_PAYLOAD_LENGTH",
    "BAD_PAYLOAD",
    "TRAILING_BYTES",
  ]) {
    assert.ok((r.codec.errors[code] ?? 0) > 100, `codec error ${code}: ${r.codec.errors[code]}`);
  }
  assert.equal(r.daemon.messages >= 100_000, true);
  assert.equal(r.daemon.sessions, 80, "40 with raw mutants in flight, 40 with authenticated ones");
  assert.ok(r.daemon.authenticated >= 40, `authenticated mutants: ${r.daemon.authenticated}`);
  // Authenticated mutants reach the handlers: some sessions fail, each with an IkeError.
  assert.ok(Object.keys(r.daemon.sessionsFailed).length > 0, JSON.stringify(r.daemon));
  assert.equal(
    r.daemon.cleanSessions,
    r.daemon.victims + r.daemon.sessions,
    "every victim and session followed by a clean session",
  );
});

test("self-check: the watch reports an internal error in a log and an unexplained failure", async () => {
  const { p } = await recordingPair(3);
  const watch = new PairWatch(p);
  assert.ok((await establish(p)).ike);
  assert.deepEqual(watch.check(), []);
  p.logs.b.push("[IKE] <peer|1> internal error: TypeError: x is undefined");
  const ike = [...p.a.sas.values()][0];
  ike!.crash(new TypeError("boom"));
  const problems = watch.check();
  assert.ok(
    problems.some((x) => /^b log: .*internal error: TypeError: x is undefined/.test(x)),
    problems.join("\n"),
  );
  assert.ok(
    problems.some((x) => /^a: failed: internal error: TypeError: boom/.test(x)),
    problems.join("\n"),
  );
  watch.close();
  p.a.close();
  p.b.close();
});
