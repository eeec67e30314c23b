#!/usr/bin/python3
"""Parses a metrics exposition from stdin with the Prometheus Python client's own parsers and
prints what they saw as JSON, for test/interop/metrics-parser.test.ts.

    metrics_parser.py openmetrics|prometheus < exposition

OpenMetrics: prometheus_client.openmetrics.parser (strict: # EOF, _total, family order).
Prometheus text 0.0.4: prometheus_client.parser. A parse error exits 2 with the message on
stderr. Debian package: python3-prometheus-client.
"""
import json
import math
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus


def number(v):
    if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
        return str(v)
    return v


def main():
    fmt = sys.argv[1]
    text = sys.stdin.read()
    parse = parse_openmetrics if fmt == "openmetrics" else parse_prometheus
    try:
        families = [
            {
                "name": f.name,
                "type": f.type,
                "documentation": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": number(s.value)} for s in f.samples],
            }
            for f in parse(text)
        ]
    except Exception as e:  # the parsers raise ValueError and friends; any of them is a rejection
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
    json.dump({"families": families}, sys.stdout)


if __name__ == "__main__":
    main()
