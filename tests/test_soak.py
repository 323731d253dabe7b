"""Soak: more concurrent clients than threads, mixing reads, writes, errors and bad requests."""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.sqlfiles import apply_sql_dir

pytestmark = pytest.mark.slow
PROJECT_DIR = Path(__file__).resolve().parent.parent
CLIENTS, SECONDS = 16, 8


def _rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _call(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _client(base, deadline, statuses, seed):
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        kind = rng.randrange(6)
        if kind == 0:
            statuses.append(_call(base, "GET", f"/api/books?limit=20&offset={rng.randrange(4000)}"))
        elif kind == 1:
            statuses.append(_call(base, "GET", "/api/authors?select=name,books(title)&limit=20"))
        elif kind == 2:
            name = f"soak-{seed}-{rng.randrange(10**9)}"
            statuses.append(_call(base, "POST", "/api/branches", {"name": name, "city": "Soak"}))
            statuses.append(_call(base, "DELETE", f"/api/branches?name=eq.{name}"))
        elif kind == 3:
            statuses.append(
                _call(base, "POST", "/api/branches", {"name": "Central", "city": "dup"})
            )
        elif kind == 4:
            statuses.append(_call(base, "GET", "/api/books?id=eq.not-a-uuid"))
        else:
            statuses.append(_call(base, "GET", "/api/nothing?or=(((("))


def test_soak(pg_server, tmp_path):
    url = pg_server.create_database("pgfront_soak")
    engine = sa.create_engine(url)
    apply_sql_dir(engine, PROJECT_DIR / "sql")
    env = {k: v for k, v in os.environ.items() if k != "DB_SCHEMAS"}
    env.update(
        DATABASE_URL=url.render_as_string(hide_password=False),
        THREADS="4",
        DB_APPLICATION_NAME="pgfront-soak",
        LOG_LEVEL="WARNING",
    )
    log = (tmp_path / "server.log").open("w")  # a file: a full pipe would block the server
    server = subprocess.Popen(
        [sys.executable, "run.py", "--port", "0"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        base = server.stdout.readline().split()[2].rstrip("/")
        statuses: list[int] = []
        deadline = time.monotonic() + SECONDS
        clients = [
            threading.Thread(target=_client, args=(base, deadline, statuses, i))
            for i in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        time.sleep(SECONDS / 2)
        rss_middle = _rss_kb(server.pid)
        for thread in clients:
            thread.join(timeout=60)
        rss_end = _rss_kb(server.pid)
        with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
            metrics = response.read().decode()
        with engine.connect() as conn:
            idle_in_tx = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgfront-soak'"
                    " AND state LIKE 'idle in transaction%'"
                )
            ).scalar()
            leftovers = conn.execute(
                sa.text("SELECT count(*) FROM branches WHERE city = 'Soak'")
            ).scalar()
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
        log.close()
        engine.dispose()
    assert len(statuses) > 200
    assert not [s for s in statuses if s >= 500], (tmp_path / "server.log").read_text()[-3000:]
    assert {200, 201, 204, 400, 404, 409} <= set(statuses)
    assert "pgfront_pool_checked_out 0" in metrics
    assert idle_in_tx == 0 and leftovers == 0
    assert rss_end < rss_middle * 1.5 + 10_000  # no growth with the number of requests
