// tshark reads the output of `ipsec-wasm pcap decrypt` (on the node:crypto-built capture of
// test/fixtures/pcap/make-esp-capture.ts) as the inner packets: one frame per `ok` verdict, raw IPv4
// or IPv6 with the inner source address. Moved from test/unit/cli-pcap-decrypt.test.ts (which checks
// the same output byte for byte with our reader) because it needs Debian's tshark; the output pcap
// is made here with the same command line as the unit test's `--sa JSON` case.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../sdk/cli/main.ts";
import type { CliIo } from "../../sdk/cli/command.ts";
import { buildEspCapture } from "../fixtures/pcap/make-esp-capture.ts";
import { requireTshark, tempDir } from "../helpers/interop.ts";

const fixtures = fileURLToPath(new URL("../fixtures/pcap/", import.meta.url));
const cap = buildEspCapture();

test("tshark decodes the output pcap as the inner packets", { timeout: 60_000 }, async () => {
  const tshark = requireTshark();
  const tmp = tempDir("pcap-decrypt-tshark");
  try {
    const out = join(tmp.dir, "sa.pcap");
    let err = "";
    const io: CliIo = {
      out: () => undefined,
      err: (t) => {
        err += t;
      },
    };
    const code = await main(
      [
        "pcap",
        "decrypt",
        "--sa",
        join(fixtures, "esp-mixed.sas.json"),
        join(fixtures, "esp-mixed.pcap"),
        "-o",
        out,
        "-q",
      ],
      io,
    );
    assert.equal(code, 0, err);
    const lines = execFileSync(
      tshark,
      ["-r", out, "-T", "fields", "-E", "separator=,", "-e", "ip.src", "-e", "ipv6.src", "-e", "frame.protocols"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 30_000 },
    )
      .trim()
      .split("\n");
    const ok = cap.expected.filter((e) => e.verdict === "ok");
    assert.equal(lines.length, ok.length);
    lines.forEach((l, i) => {
      const inner = ok[i]!.inner!;
      const src = inner[0]! >> 4 === 4 ? inner.subarray(12, 16).join(".") : "fd00::1";
      assert.ok(l.startsWith(inner[0]! >> 4 === 4 ? `${src},,raw:ip` : `,${src},raw:ipv6`), l);
    });
  } finally {
    tmp.remove();
  }
});
