// tshark (Wireshark's own pcap reader) reads every variant writePcap writes: 3 link types x both
// byte orders x microsecond/nanosecond timestamps, with the exact times, lengths and the UDP/IP
// fields of the records. Moved from test/unit/pcap.test.ts (which keeps our reader's round trip
// and the scapy-written fixtures) because it needs Debian's tshark.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { writePcap } from "../../sdk/pcap/pcap.ts";
import { requireTshark, tempDir } from "../helpers/interop.ts";
import { sampleRecords, variants } from "../helpers/pcap-samples.ts";

test("tshark reads what writePcap writes (all 12 variants)", { timeout: 120_000 }, () => {
  const tshark = requireTshark();
  const tmp = tempDir("pcap-test");
  const dir = tmp.dir;
  try {
    for (const v of variants) {
      const file = join(dir, `${v.linkType}-${v.bigEndian}-${v.nanosecond}.pcap`);
      const records = sampleRecords(v.linkType, v.nanosecond);
      writeFileSync(file, writePcap({ ...v, records }));
      const out = execFileSync(
        tshark,
        [
          "-r",
          file,
          "-T",
          "fields",
          "-E",
          "separator=,",
          "-e",
          "frame.time_epoch",
          "-e",
          "frame.cap_len",
          "-e",
          "ip.src",
          "-e",
          "udp.dstport",
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 30_000 },
      );
      const lines = out.trim().split("\n");
      assert.equal(lines.length, records.length, file);
      lines.forEach((line, i) => {
        const [epoch, capLen, src, dport] = line.split(",");
        const r = records[i];
        const frac = v.nanosecond ? String(r!.tsFrac).padStart(9, "0") : String(r!.tsFrac).padStart(6, "0") + "000";
        assert.equal(epoch, `${r!.tsSec}.${frac}`, file);
        assert.equal(Number(capLen), r!.data.length);
        assert.equal(src, "10.0.0.1");
        assert.equal(dport, "4500");
      });
    }
  } finally {
    tmp.remove();
  }
});
