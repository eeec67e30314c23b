// Memory per SA, per suite: a dataplane made for N SAs gets N inbound SAs (replay window 64, the
// default) and reports `Dataplane.stateBytes` (slots, free list and SPI table reserved at create,
// plus the 64 KiB chunks key blocks were cut from), divided by N. Not a speed measurement.
// Usage: node --import tsx bench/sa-memory.ts [--sas N] [--json]
import { parseArgs } from "node:util";
import { Dataplane } from "../sdk/dataplane/dataplane.ts";
import { parseSuite } from "../sdk/dataplane/suites.ts";

const SUITES = [
  "null-sha256",
  "chacha20poly1305",
  "aes128gcm16",
  "aes256gcm16",
  "aes128-sha256",
  "aes256-sha512",
  "aes128ctr-sha256",
  "aes128ccm16",
  "aes128gmac",
];

const { values: flags } = parseArgs({
  options: { sas: { type: "string", default: "100000" }, json: { type: "boolean", default: false } },
  strict: true,
});
const sas = Number(flags.sas);
if (!Number.isInteger(sas) || sas < 1) {
  console.error("sa-memory: --sas takes a positive integer");
  process.exit(2);
}

/** Bytes of SA state per SA for `suite`: [all of it, the key blocks alone]. */
async function perSa(suite: string): Promise<[number, number]> {
  const s = parseSuite(suite);
  const dp = await Dataplane.create({ maxSas: sas, batchSize: 16 });
  const empty = dp.stateBytes;
  const encKey = crypto.getRandomValues(new Uint8Array(s.encKeyBytes));
  const integKey = crypto.getRandomValues(new Uint8Array(s.integKeyBytes));
  for (let i = 0; i < sas; i++) {
    dp.addSa({ spi: 0x1000 + i, direction: "in", mode: "tunnel", esp: suite, encKey, integKey });
  }
  return [dp.stateBytes / sas, (dp.stateBytes - empty) / sas];
}

const rows: { suite: string; bytesPerSa: number; keyBlockBytes: number }[] = [];
for (const suite of SUITES) {
  const [all, keys] = await perSa(suite);
  rows.push({ suite, bytesPerSa: all, keyBlockBytes: keys });
}
if (flags.json) {
  console.log(JSON.stringify({ sas, rows }, null, 2));
} else {
  console.log(
    `Memory per SA with ${sas.toLocaleString("en-US")} inbound SAs (replay window 64), Dataplane.stateBytes:`,
  );
  console.log("\n| suite | bytes per SA | of which key block |\n| --- | ---: | ---: |");
  for (const r of rows) console.log(`| ${r.suite} | ${r.bytesPerSa.toFixed(0)} | ${r.keyBlockBytes.toFixed(0)} |`);
}
