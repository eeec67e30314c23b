#!/usr/bin/env node
// An ESP-in-UDP echo responder that embeds the ipsec-wasm dataplane: it binds a UDP port,
// decapsulates ESP (RFC 3948 framing) with the inbound SA from a JSON file, answers each inner
// ICMP echo request or UDP datagram, and sends the answer back through the outbound SA.
//   node echo-responder.mjs sa.example.json
import { readFileSync } from "node:fs";
import { Dataplane } from "ipsec-wasm";
import { EspUdpEndpoint } from "ipsec-wasm/node/esp-udp";

const cfg = JSON.parse(readFileSync(process.argv[2] ?? "sa.example.json", "utf8"));
const bytes = (hex) => Uint8Array.from(Buffer.from(hex ?? "", "hex"));
const sa = (direction, s) => ({
  spi: Number(s.spi),
  direction,
  mode: "tunnel",
  esp: cfg.esp,
  encKey: bytes(s.encKey),
  integKey: s.integKey === undefined ? undefined : bytes(s.integKey),
});

const dp = await Dataplane.create(); // finds the packaged dataplane.wasm (or the copy beside a bundle)
dp.addSa(sa("in", cfg.in));
const out = dp.addSa(sa("out", cfg.out));

/** RFC 1071 checksum of b[start..end), written big-endian at `at`. */
function checksum(b, start, end, at) {
  b[at] = b[at + 1] = 0;
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b[at] = (~sum >> 8) & 0xff;
  b[at + 1] = ~sum & 0xff;
}

/** The answer to an inner IPv4 packet: ICMP echo reply, or the UDP payload sent back; else null. */
function answer(p) {
  if (p.length < 20 || p[0] >> 4 !== 4) return null;
  const ihl = (p[0] & 0x0f) * 4;
  const total = (p[2] << 8) | p[3];
  if (total > p.length || total < ihl + 8) return null;
  const r = p.slice(0, total);
  r.set(p.subarray(16, 20), 12); // swap source and destination
  r.set(p.subarray(12, 16), 16);
  r[8] = 64; // our TTL
  if (p[9] === 1 && p[ihl] === 8) {
    r[ihl] = 0; // echo request -> echo reply
    checksum(r, ihl, total, ihl + 2);
  } else if (p[9] === 17) {
    r.set(p.subarray(ihl + 2, ihl + 4), ihl); // swap ports
    r.set(p.subarray(ihl, ihl + 2), ihl + 2);
    r[ihl + 6] = r[ihl + 7] = 0; // no UDP checksum (allowed over IPv4)
  } else return null;
  checksum(r, 0, ihl, 10);
  return r;
}

const ep = await EspUdpEndpoint.bind(dp, cfg.listen.address, cfg.listen.port, {
  onDecap(results, from) {
    results.forEach((r, i) => {
      const peer = `${from[i].address}:${from[i].port}`;
      if (r.status !== "ok")
        return console.error(`dropped ESP from ${peer} (spi 0x${r.spi.toString(16)}): ${r.status}`);
      const reply = answer(r.payload);
      if (reply) ep.send(out, [reply], from[i].address, from[i].port);
    });
  },
});
console.log(`echo responder on ${cfg.listen.address}:${ep.port} (ESP-in-UDP, ${cfg.esp})`);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => ep.close().then(() => process.exit(0)));
