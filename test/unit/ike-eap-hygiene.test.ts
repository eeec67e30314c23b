// Key hygiene of EAP-MSCHAPv2 in IKE_AUTH: once the road warrior's IKE SA is up, neither the MSK
// nor the NT password hash is anywhere in this process's memory (/proc/self/mem), on either side.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeWorld, connect, settled } from "../helpers/ike-rw.ts";
import { MschapV2Server } from "../../sdk/ike/eap/mschapv2-server.ts";
import { ntHashFromUtf8 } from "../../sdk/ike/eap/nt-hash.ts";
import { scanMemory } from "../helpers/memscan.ts";

const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

test("after EAP-MSCHAPv2 and the AUTH over the MSK, no MSK and no NT hash is left in memory", async () => {
  // Secrets are remembered as hex text only: a byte copy kept here would be found by the scan.
  const gone: string[] = [];
  const nt = ntHashFromUtf8(new TextEncoder().encode("Hyg1ene-pw"));
  gone.push(hexOf(nt));
  nt.fill(0);
  const proto = MschapV2Server.prototype as unknown as { process: (...a: unknown[]) => { kind: string } };
  const orig = proto.process;
  proto.process = function (this: MschapV2Server, ...a: unknown[]) {
    const r = orig.apply(this, a);
    if (r.kind === "success" && this.msk) gone.push(hexOf(this.msk.subarray(0, 32)));
    return r;
  };
  try {
    const w = await makeWorld({ eapId: "%any", secrets: { alice: "Hyg1ene-pw" } }, [
      { id: "client.example.org", eapId: "alice", secret: "Hyg1ene-pw" },
    ]);
    const ike = connect(w, 0);
    await settled(ike);
    assert.equal(ike.state, "ESTABLISHED");
  } finally {
    proto.process = orig;
  }
  assert.equal(gone.length, 2, "NT hash and MSK seen");
  const needles = gone.map((h) => Buffer.from(h, "hex"));
  // the MSK's two 16-byte halves too (strongSwan's MasterReceiveKey | MasterSendKey), as views
  // into the MSK needle, so they add no copy of their own
  needles.push(needles[1]!.subarray(0, 16), needles[1]!.subarray(16, 32));
  const counts = scanMemory(process.pid, needles);
  // Each is found once: the needle itself.
  assert.deepEqual(counts, [1, 1, 1, 1]);
});
