/**
 * Metrics in the OpenMetrics 1.0 text format (and the Prometheus 0.0.4 text format for older
 * scrapers) from a {@link StatusReport}: per-SA packets, bytes and drops by reason with labels
 * spi, direction, child, peer and suite; the kernel-named xfrm_stat counters; IKE counters; SA
 * counts by state; active diagnostics. What seed 003 wanted to feed into Graphite, from one scrape.
 * @module
 */
import type { StatusReport } from "./status-report.ts";
import { XFRM_STAT_NAMES, type DropReason } from "./xfrm-stat.ts";
import { hexSpi } from "./messages.ts";

/** `openmetrics` (ends with `# EOF`, counters declared without `_total`) or Prometheus text 0.0.4. */
export type MetricsFormat = "openmetrics" | "prometheus";

/** Content-Type of the OpenMetrics text format. */
export const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/** Content-Type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;
interface Sample {
  labels: Labels;
  value: bigint | number;
}
interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  samples: Sample[];
}

/** A label value with `\`, `"` and line feeds escaped (both formats). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string, format: MetricsFormat): string {
  const s = v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
  return format === "openmetrics" ? s.replace(/"/g, '\\"') : s;
}

function value(v: bigint | number): string {
  if (typeof v === "bigint") return v.toString();
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Picks the format from an HTTP Accept header: OpenMetrics when asked for, else Prometheus text. */
export function negotiateMetricsFormat(accept?: string): MetricsFormat {
  return accept && /application\/openmetrics-text/i.test(accept) ? "openmetrics" : "prometheus";
}

/** Body and Content-Type for an HTTP response (format from the Accept header unless given). */
export function metricsResponse(
  report: StatusReport,
  accept?: string,
  format = negotiateMetricsFormat(accept),
): { body: string; contentType: string } {
  return {
    body: renderMetrics(report, format),
    contentType: format === "openmetrics" ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
  };
}

/** The exposition text. Every family carries HELP and TYPE; counters end in `_total`. */
export function renderMetrics(report: StatusReport, format: MetricsFormat = "openmetrics"): string {
  const out: string[] = [];
  for (const f of families(report)) {
    // OpenMetrics names the counter family without `_total`; Prometheus text names it with it.
    const total = f.type === "counter";
    const declared = total && format === "prometheus" ? `${f.name}_total` : f.name;
    const sampleName = total ? `${f.name}_total` : f.name;
    out.push(`# HELP ${declared} ${escapeHelp(f.help, format)}`);
    out.push(`# TYPE ${declared} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(",");
      out.push(`${sampleName}${labels ? `{${labels}}` : ""} ${value(s.value)}`);
    }
  }
  if (format === "openmetrics") out.push("# EOF");
  return out.join("\n") + "\n";
}

const IKE_COUNTERS: Record<string, { name: string; type: "counter" | "gauge"; help: string }> = {
  ikeReceived: { name: "ipsec_ike_messages_received", type: "counter", help: "IKE datagrams received" },
  ikeSent: { name: "ipsec_ike_messages_sent", type: "counter", help: "IKE datagrams sent" },
  ikeDroppedInvalid: {
    name: "ipsec_ike_messages_invalid",
    type: "counter",
    help: "IKE datagrams dropped as malformed",
  },
  ikeV1Dropped: {
    name: "ipsec_ike_v1_messages_dropped",
    type: "counter",
    help: "IKEv1 datagrams dropped (this side speaks IKEv2 only)",
  },
  cookiesSent: {
    name: "ipsec_ike_cookies_sent",
    type: "counter",
    help: "COOKIE notifies sent under half-open load (RFC 7296 section 2.6)",
  },
  halfOpen: {
    name: "ipsec_ike_half_open_sas",
    type: "gauge",
    help: "Half-open IKE SAs (responder, IKE_AUTH not yet received)",
  },
  initsBlocked: {
    name: "ipsec_ike_inits_blocked",
    type: "counter",
    help: "IKE_SA_INITs dropped: too many half-open IKE SAs from their address (block_threshold)",
  },
  ikeOverLimit: {
    name: "ipsec_ike_messages_over_limit",
    type: "counter",
    help: "IKE messages dropped over a fragment count or size limit (RFC 7383)",
  },
  espToUnknownChild: {
    name: "ipsec_esp_no_child_sa_packets",
    type: "counter",
    help: "Outbound packets dropped because no Child SA covers their destination",
  },
  keepalivesSent: { name: "ipsec_nat_keepalives_sent", type: "counter", help: "NAT keepalives sent (RFC 3948)" },
  acquires: {
    name: "ipsec_trap_acquires",
    type: "counter",
    help: "Initiations started by an outbound packet hitting a trap (start_action = trap)",
  },
  trapDropped: {
    name: "ipsec_trap_dropped_packets",
    type: "counter",
    help: "Outbound packets dropped at a trap while its Child SA was being negotiated",
  },
};

function families(r: StatusReport): Family[] {
  const sa = r.sas.map((e) => ({
    e,
    labels: {
      spi: hexSpi(e.spi),
      direction: e.direction,
      child: r.owners[e.handle]?.child ?? "",
      peer: r.owners[e.handle]?.peer ?? "",
      suite: e.suite,
    },
  }));
  const fams: Family[] = [
    {
      name: "ipsec_sa_packets",
      type: "counter",
      help: "Packets an SA processed successfully (ip -s xfrm state: lifetime current packets)",
      samples: sa.map(({ e, labels }) => ({ labels, value: e.lifetime.packets })),
    },
    {
      name: "ipsec_sa_bytes",
      type: "counter",
      help: "Inner packet bytes an SA processed successfully (ip -s xfrm state: lifetime current bytes)",
      samples: sa.map(({ e, labels }) => ({ labels, value: e.lifetime.bytes })),
    },
    {
      name: "ipsec_sa_drops",
      type: "counter",
      help: "Packets an SA dropped, by reason (integrity-failed is ip-xfrm's failed, replay its replay)",
      samples: sa.flatMap(({ e, labels }) =>
        (Object.entries(e.drops) as [DropReason, bigint][]).map(([reason, v]) => ({
          labels: { ...labels, reason },
          value: v,
        })),
      ),
    },
    {
      name: "ipsec_sa_sequence",
      type: "gauge",
      help: "Highest sequence number accepted (inbound) or last sent (outbound)",
      samples: sa.map(({ e, labels }) => ({ labels, value: e.direction === "in" ? e.replay.seq : e.replay.oseq })),
    },
    {
      name: "ipsec_sa_replay_window",
      type: "gauge",
      help: "Anti-replay window size in packets (inbound SAs; 0 = off)",
      samples: sa.filter(({ e }) => e.direction === "in").map(({ e, labels }) => ({ labels, value: e.replay.window })),
    },
    {
      name: "ipsec_sa_icv_bits",
      type: "gauge",
      help: "Integrity check value length in bits (96 is Linux's auth hmac(sha256), 128 RFC 4868's)",
      samples: sa.map(({ e, labels }) => ({ labels, value: e.icvBits })),
    },
    {
      name: "ipsec_xfrm_stat",
      type: "counter",
      help: "Global drop counters under their /proc/net/xfrm_stat names",
      samples: XFRM_STAT_NAMES.map((n) => ({ labels: { stat: n }, value: r.xfrmStat[n] })),
    },
  ];
  if (r.ikeCounters) {
    for (const [k, v] of Object.entries(r.ikeCounters)) {
      const m = IKE_COUNTERS[k];
      if (m) fams.push({ ...m, samples: [{ labels: {}, value: v }] });
    }
    const ikeStates = new Map<string, number>(),
      childStates = new Map<string, number>();
    for (const ike of r.ikeSas) {
      ikeStates.set(ike.state, (ikeStates.get(ike.state) ?? 0) + 1);
      for (const c of ike.children) childStates.set(c.state, (childStates.get(c.state) ?? 0) + 1);
    }
    fams.push({
      name: "ipsec_ike_sas",
      type: "gauge",
      help: "IKE SAs by state",
      samples: [...ikeStates].map(([state, n]) => ({ labels: { state }, value: n })),
    });
    fams.push({
      name: "ipsec_child_sas",
      type: "gauge",
      help: "Child SAs by state",
      samples: [...childStates].map(([state, n]) => ({ labels: { state }, value: n })),
    });
  }
  fams.push({
    name: "ipsec_diagnostics_active",
    type: "gauge",
    help: "Active diagnostics (0 when all is well)",
    samples: [{ labels: {}, value: r.diagnostics.length }],
  });
  const bySa = new Map(r.sas.map((e) => [e.handle, e]));
  fams.push({
    name: "ipsec_diagnostic_active",
    type: "gauge",
    help: "One series per active diagnostic; the message is in ipsec-wasm status",
    samples: r.diagnostics.map((d) => {
      const owner = d.sa !== undefined ? r.owners[d.sa] : undefined;
      const spi = d.spi ?? (d.sa !== undefined ? bySa.get(d.sa)?.spi : undefined);
      return {
        labels: {
          kind: d.kind,
          severity: d.severity ?? "error",
          spi: spi !== undefined ? hexSpi(spi) : "",
          child: owner?.child ?? "",
          peer: owner?.peer ?? "",
        },
        value: 1,
      };
    }),
  });
  return fams;
}
