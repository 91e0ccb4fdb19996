#!/usr/bin/env python3
"""Writes conf/examples/demo-batch.ndjson: 2,500 api_call tasks, 10,000 items over three
loopback hosts served by titan-target (ports 18081-18083)."""
import json
import sys

ports = [18081, 18082, 18083]
out = open(sys.argv[1] if len(sys.argv) > 1 else "conf/examples/demo-batch.ndjson", "w")
for task in range(2500):
    urls = []
    for item in range(4):
        port = ports[(task * 4 + item) % 3]
        path = f"/v1/quotes/{task}/{item}"
        if (task * 4 + item) % 97 == 0:
            path = "/flaky/1/503"  # Fails once, then succeeds: shows a retry.
        urls.append(f"http://127.0.0.1:{port}{path}")
    line = {
        "name": f"demo quote pull {task}",
        "objective": "POST to the demo quote API and keep the JSON response",
        "execution_type": "single",
        "urls": urls,
        "action_type": "api_call",
        "input_source": "static_urls",
        "template_slug": "carrier-quote-json",
        "limits": {"timeout_seconds": 10, "max_retries": 2},
    }
    if task % 2 == 0:
        line["payload"] = {"origin_zip": "94107", "destination_zip": f"{10001 + task % 50}",
                           "weight_kg": 1 + task % 20}
    out.write(json.dumps(line, separators=(",", ":")) + "\n")
