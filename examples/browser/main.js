// ipsec-wasm in a browser tab: encapsulate and decapsulate one packet per suite family and show
// the bytes. `Dataplane.create()` takes no options: the package's `browser` export condition
// fetches dataplane.wasm beside this bundle (`new URL("./dataplane.wasm", import.meta.url)`).
import { Dataplane } from "ipsec-wasm";
import { SUITES, innerPacket, hex, unhex } from "./vectors.js";

async function run() {
  const dp = await Dataplane.create();
  const inner = innerPacket();
  const results = [];
  for (const s of SUITES) {
    const keys = { encKey: unhex(s.encKey), integKey: s.integKey === undefined ? undefined : unhex(s.integKey) };
    const out = dp.addSa({ spi: s.spi, direction: "out", mode: "tunnel", esp: s.esp, ...keys });
    const inn = dp.addSa({ spi: s.spi, direction: "in", mode: "tunnel", esp: s.esp, ...keys, replayWindow: 64 });
    const e = dp.encapsulate(out, inner);
    const d = e.packet === undefined ? undefined : dp.decapsulate(e.packet);
    results.push({
      family: s.family,
      esp: s.esp,
      spi: s.spi,
      encap: e.status,
      seq: Number(e.seq),
      packet: e.packet === undefined ? undefined : hex(e.packet),
      decap: d?.status,
      nextHeader: d?.nextHeader,
      payload: d?.payload === undefined ? undefined : hex(d.payload),
      inboundPackets: Number(dp.stats(inn).packets),
    });
  }
  return { inner: hex(inner), results };
}

const el = document.getElementById("result");
run().then(
  (r) => {
    el.textContent = JSON.stringify(r, null, 2);
    el.dataset.state = r.results.every((x) => x.encap === "ok" && x.decap === "ok" && x.payload === r.inner)
      ? "ok"
      : "mismatch";
  },
  (e) => {
    el.textContent = JSON.stringify({ error: String(e?.stack ?? e) }, null, 2);
    el.dataset.state = "error";
  },
);
