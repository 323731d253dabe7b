"""Request ids, the request log line, Server-Timing and /metrics."""

import http.client
import logging
import re
import threading
import urllib.request

import pytest
from waitress import create_server, wasyncore


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
    assert re.search(r"^pgfront_catalog_relations [12][0-9]$", body, re.M)


# Client mistakes and hostile requests: one line each, never a forged line or a traceback.
HOSTILE = [
    "/api/branches%0d%0a2026-01-01 00:00:00,000 INFO webapp.requests: forged",
    "/rows/public/branches/%0a%1b[31mred",
    "/api/branches?id=eq.%0d%0aforged",
    "/%00",
    "/api/branches?id=in.(1,2",
    "/api/branches?select=*,nothing(*)",
    "/api/branches?order=nope",
]


def test_hostile_requests_write_one_line_each(client, caplog):
    with caplog.at_level(logging.DEBUG):
        for path in HOSTILE:
            assert client.get(path).status_code in (400, 404)
        client.post("/api/branches", data='{"bad json', content_type="application/json")
        client.get("/api/branches", headers={"Range": "items=a-b"})
    lines = caplog.text.splitlines()
    assert len(lines) == len(HOSTILE) + 2, caplog.text
    assert not [line for line in lines if "forged" in line and "webapp.requests" not in line]
    assert "Traceback" not in caplog.text
    forged = next(r.getMessage() for r in caplog.records if "forged" in r.getMessage())
    assert "/api/branches\\r\\n2026-01-01 00:00:00,000 INFO webapp.requests: forged 404" in forged


def test_an_unexpected_error_logs_its_traceback_once(make_app, caplog):
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom\r\n2026-01-01 00:00:00,000 INFO webapp.requests: forged")

    client = app.test_client()
    client.environ_base["HTTP_ACCEPT"] = "application/json"
    with caplog.at_level(logging.INFO):
        first = client.get("/boom")
    assert first.status_code == 500 and first.json["code"] == "PGRST000"
    (error,) = [r for r in caplog.records if r.name == "webapp.errors"]
    assert error.levelname == "ERROR"
    text = caplog.text
    assert text.count("Traceback") == 1 and "in boom" in text
    assert "boom\\r\\n2026-01-01" in text
    assert not [line for line in text.splitlines() if line.startswith("2026-01-01")]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = client.get("/boom")
    assert again.status_code == 500
    lines = caplog.text.splitlines()
    assert len(lines) == 2, caplog.text  # the error, compact, and the request line
    assert "Traceback" not in caplog.text
    assert "RuntimeError: boom\\r\\n2026-01-01" in lines[0]


def test_waitress_lines_are_escaped_and_compact(make_app, caplog):
    """A response that breaks while streaming: waitress's line escaped, its traceback once."""
    app = make_app()

    @app.get("/stream/<name>")
    def stream(name):
        def chunks():
            yield b"first\n"
            raise RuntimeError(f"the stream of {name} broke")

        return app.response_class(chunks(), mimetype="text/plain")

    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)

    serving = threading.Thread(target=serve)
    serving.start()
    url = f"http://127.0.0.1:{server.effective_port}/stream/x%0d%0aforged"
    try:
        with caplog.at_level(logging.INFO):
            _read_broken(url)
        assert caplog.text.count("Traceback") == 1
        caplog.clear()
        with caplog.at_level(logging.INFO):
            _read_broken(url)
    finally:
        stop.set()
        serving.join()
        server.task_dispatcher.shutdown(timeout=1)
        wasyncore.close_all(server._map)
    lines = caplog.text.splitlines()
    assert len(lines) == 2, caplog.text  # the request line and waitress's, compact
    assert "Exception while serving /stream/x\\r\\nforged: RuntimeError: the stream of" in lines[1]
    assert not [line for line in lines if line.startswith("forged")]


def _read_broken(url):
    """GET a response that the server cuts short."""
    with pytest.raises(http.client.IncompleteRead), urllib.request.urlopen(url, timeout=10) as r:
        r.read()
