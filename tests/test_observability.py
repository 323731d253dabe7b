"""Request ids, the request log line, Server-Timing and /metrics."""

import logging
import re


def test_request_id_is_kept_or_made(client):
    kept = client.get("/live", headers={"X-Request-Id": "abc-123"})
    assert kept.headers["X-Request-Id"] == "abc-123"
    made = client.get("/live", headers={"X-Request-Id": "bad id\twith tab"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])


def test_server_timing_and_log_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="webapp.requests"):
        response = client.get("/api/branches?limit=2", headers={"X-Request-Id": "req-42"})
    timing = dict(re.findall(r"(\w+);dur=([\d.]+)", response.headers["Server-Timing"]))
    assert float(timing["db"]) > 0 and float(timing["total"]) >= float(timing["db"])
    (line,) = [r.getMessage() for r in caplog.records if r.name == "webapp.requests"]
    assert line.startswith("req-42 GET /api/branches?limit=2 200 ")
    assert " db=" in line


def test_metrics_in_prometheus_text(client):
    client.get("/api/branches?limit=1")
    client.get("/api/nothing_here")
    body = client.get("/metrics").get_data(as_text=True)
    assert re.search(r'^pgfront_requests_total\{status="200"\} [1-9]', body, re.M)
    assert re.search(r'^pgfront_requests_total\{status="404"\} [1-9]', body, re.M)
    assert re.search(r"^pgfront_request_duration_seconds_count [1-9]", body, re.M)
    assert re.search(r"^pgfront_pool_size \d+$", body, re.M)
    assert re.search(r"^pgfront_catalog_relations 1[0-9]$", body, re.M)
