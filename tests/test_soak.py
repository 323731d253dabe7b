"""Soak: more concurrent clients than threads, mixing reads, writes, errors and bad requests.

The second soak mixes in the attacks of the hardening review (embed fan-out, hostile
headers, cursors and bodies, forged log lines, hidden partitions, oversized bodies): it
must end with no 5xx, /ready answering 200 throughout, no session idle in a transaction,
and the server's memory back within 1.2x of where it stood after a warm-up.
"""

import json
import random
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.slow
CLIENTS, SECONDS = 16, 8


def _rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _call(base, method, path, body=None, headers=None):
    data = body if isinstance(body, bytes) else None
    if body is not None and data is None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(
        base + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _ordinary(base, rng, seed):
    """One ordinary request (or a create-and-delete pair); their statuses."""
    kind = rng.randrange(6)
    if kind == 0:
        return [_call(base, "GET", f"/api/books?limit=20&offset={rng.randrange(4000)}")]
    if kind == 1:
        return [_call(base, "GET", "/api/authors?select=name,books(title)&limit=20")]
    if kind == 2:
        name = f"soak-{seed}-{rng.randrange(10**9)}"
        return [
            _call(base, "POST", "/api/branches", {"name": name, "city": "Soak"}),
            _call(base, "DELETE", f"/api/branches?name=eq.{name}"),
        ]
    if kind == 3:
        return [_call(base, "POST", "/api/branches", {"name": "Central", "city": "dup"})]
    if kind == 4:
        return [_call(base, "GET", "/api/books?id=eq.not-a-uuid")]
    return [_call(base, "GET", "/api/nothing?or=((((")]


def _nested(depth):
    return "id,sequel_of:books!sequel_of(" * depth + "title" + ")" * depth


def _deep_json(depth):
    return "[" * depth + "]" * depth


REPORTING = {"Accept-Profile": "reporting", "Content-Profile": "reporting"}
ATTACKS = [
    # embed fan-out: 40 one-to-many embeds, 1,000 nested one-to-one embeds
    ("GET", "/api/authors?select=id," + ",".join(f"b{i}:books(*)" for i in range(40)), None, {}),
    ("GET", "/api/books?select=" + _nested(1000), None, {}),
    # hostile headers, cursors and bodies
    ("GET", "/api/books", None, {"Range": "1" * 4301 + "-2"}),
    ("GET", "/api/books?cursor=%ED%A0%80", None, {}),
    ("GET", "/browse/public/books?_after=%ED%A0%80", None, {}),
    ("POST", "/api/branches", b'{"name": "\\ud800", "city": "x"}', {}),
    ("POST", "/api/loans", b'{"details": ' + _deep_json(900).encode() + b"}", {}),
    ("POST", "/api/branches", b'{"name": "' + b"x" * 200_000 + b'"}', {}),
    # a forged log line
    ("GET", "/api/books%0D%0A2026-01-01%20INFO%20forged", None, {}),
    # hidden things: a partition of a hidden table, a hidden column
    ("GET", "/api/loan_events_2024?limit=1", None, REPORTING),
    ("POST", "/api/loan_events_2025", {"loan_id": 1, "kind": "x"}, REPORTING),
    ("GET", "/api/members?select=email&limit=1", None, {}),
]


def _attacker(base, rng):
    method, path, body, headers = rng.choice(ATTACKS)
    return [_call(base, method, path, body, headers)]


def _client(base, deadline, statuses, seed, attacks):
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        if attacks and rng.random() < 0.4:
            statuses.extend(_attacker(base, rng))
        else:
            statuses.extend(_ordinary(base, rng, seed))


def _watch_ready(base, stop, seen):
    """Ask /ready four times a second until stop is set; record each status (0: no answer)."""
    while not stop.is_set():
        try:
            with urllib.request.urlopen(base + "/ready", timeout=5) as response:
                seen.append(response.status)
        except urllib.error.HTTPError as error:
            seen.append(error.code)
        except OSError:
            seen.append(0)
        stop.wait(0.25)


def _run_clients(base, seconds, attacks, statuses):
    deadline = time.monotonic() + seconds
    clients = [
        threading.Thread(target=_client, args=(base, deadline, statuses, i, attacks))
        for i in range(CLIENTS)
    ]
    for thread in clients:
        thread.start()
    return clients


def _leftovers(engine):
    """Sessions idle in a transaction, and soak rows left behind."""
    with engine.connect() as conn:
        idle_in_tx = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgfront-soak'"
                " AND state LIKE 'idle in transaction%'"
            )
        ).scalar()
        rows = conn.execute(sa.text("SELECT count(*) FROM branches WHERE city = 'Soak'")).scalar()
    return idle_in_tx, rows


def _metrics(base):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        return response.read().decode()


def _soak_server(sample_server, **settings):
    return sample_server(
        "pgfront_soak", THREADS="4", DB_APPLICATION_NAME="pgfront-soak", **settings
    )


def test_soak(sample_server):
    server = _soak_server(sample_server)
    statuses: list[int] = []
    clients = _run_clients(server.base, SECONDS, False, statuses)
    time.sleep(SECONDS / 2)
    rss_middle = _rss_kb(server.process.pid)
    for thread in clients:
        thread.join(timeout=60)
    rss_end = _rss_kb(server.process.pid)
    metrics = _metrics(server.base)
    idle_in_tx, leftovers = _leftovers(server.engine)
    assert len(statuses) > 200
    assert not [s for s in statuses if s >= 500], server.log_path.read_text()[-3000:]
    assert {200, 201, 204, 400, 404, 409} <= set(statuses)
    assert "pgfront_pool_checked_out 0" in metrics
    assert idle_in_tx == 0 and leftovers == 0
    assert rss_end < rss_middle * 1.5 + 10_000  # no growth with the number of requests


def test_soak_with_the_attacks_mixed_in(sample_server):
    server = _soak_server(
        sample_server,
        HIDDEN="reporting.loan_events,public.members.email",
        MAX_BODY_BYTES="65536",
        LOG_LEVEL="INFO",  # the request lines too: a forged one would show
    )
    warm: list[int] = []
    for thread in _run_clients(server.base, 3, True, warm):  # every kind of request, once over
        thread.join(timeout=60)
    rss_start = _rss_kb(server.process.pid)
    stop, ready = threading.Event(), []
    watcher = threading.Thread(target=_watch_ready, args=(server.base, stop, ready))
    watcher.start()
    statuses: list[int] = []
    for thread in _run_clients(server.base, SECONDS, True, statuses):
        thread.join(timeout=60)
    stop.set()
    watcher.join(timeout=10)
    rss_end = _rss_kb(server.process.pid)
    metrics = _metrics(server.base)
    idle_in_tx, leftovers = _leftovers(server.engine)
    log = server.log_path.read_text()
    lines = log.splitlines()
    assert len(statuses) > 200
    assert not [s for s in warm + statuses if s >= 500], log[-3000:]
    assert {400, 404, 413, 416} <= set(statuses)  # the attacks were refused, each its own way
    assert ready and set(ready) == {200}, ready
    assert "pgfront_pool_checked_out 0" in metrics
    assert idle_in_tx == 0 and leftovers == 0
    assert "Traceback" not in log
    assert any("forged" in line for line in lines)  # logged, escaped onto its own line
    assert not any(line.startswith("2026-01-01") for line in lines)
    assert len(lines) < 3 * (len(warm) + len(statuses) + len(ready)) + 50
    assert rss_end <= rss_start * 1.2, (rss_start, rss_end)
