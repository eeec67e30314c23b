// An ESP decapsulation endpoint on Cloudflare Workers: POST the ESP bytes (SPI .. ICV, as they
// follow the outer IP header or the UDP 4500 header) and get back the verdict and the inner packet.
// The inbound SAs come from the `SAS` variable (wrangler.toml, .dev.vars or `wrangler secret put SAS`).
//
// `Dataplane.create()` takes no options here: the package's `workerd` export condition imports
// dataplane.wasm as a module, which wrangler bundles as a CompiledWasm module. No nodejs_compat.
import { Dataplane } from "ipsec-wasm";

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function unhex(text, what) {
  const s = String(text ?? "")
    .replace(/^0x/i, "")
    .replace(/[\s:]/g, "");
  if (s.length % 2 !== 0 || /[^0-9a-f]/i.test(s)) throw new Error(`${what}: not a hex string`);
  return Uint8Array.from({ length: s.length / 2 }, (_, i) => parseInt(s.slice(2 * i, 2 * i + 2), 16));
}

/** The SAs: a JSON array (a string, as vars and secrets hold it) of { spi, esp, encKey, integKey?, mode?, replayWindow? }. */
function inboundSas(env) {
  const sas = typeof env.SAS === "string" ? JSON.parse(env.SAS) : env.SAS;
  if (!Array.isArray(sas) || sas.length === 0) throw new Error("SAS must be a non-empty JSON array of SAs");
  return sas.map((sa, i) => ({
    spi: Number(sa.spi),
    direction: "in",
    mode: sa.mode ?? "tunnel",
    esp: sa.esp,
    encKey: unhex(sa.encKey ?? "", `SAS[${i}].encKey`),
    integKey: sa.integKey === undefined ? undefined : unhex(sa.integKey, `SAS[${i}].integKey`),
    replayWindow: sa.replayWindow ?? 1024,
  }));
}

// One dataplane per isolate, made on the first request: the SAs' replay windows and counters live
// as long as the isolate does.
let dataplane;

function getDataplane(env) {
  dataplane ??= (async () => {
    const dp = await Dataplane.create({ maxSas: 64, batchSize: 1 });
    for (const sa of inboundSas(env)) dp.addSa(sa);
    return dp;
  })().catch((e) => {
    dataplane = undefined; // a bad config fails this request, not every later one
    throw e;
  });
  return dataplane;
}

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return json({ error: "POST the ESP packet (SPI .. ICV) as the body" }, 405);
    let dp;
    try {
      dp = await getDataplane(env);
    } catch (e) {
      return json({ error: `configuration: ${e.message}` }, 500);
    }
    const esp = new Uint8Array(await request.arrayBuffer());
    const r = dp.decapsulate(esp);
    return json(
      {
        status: r.status, // "ok", or why the packet was dropped: integrity-failed, replay, no-sa, …
        spi: `0x${(r.spi >>> 0).toString(16).padStart(8, "0")}`,
        seq: Number(r.seq),
        nextHeader: r.status === "ok" ? r.nextHeader : undefined,
        payload: r.payload === undefined ? undefined : hex(r.payload),
      },
      r.status === "ok" ? 200 : 422,
    );
  },
};
