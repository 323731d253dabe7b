"""Memory: a server's resident size comes back after heavy (but allowed) requests."""

import threading
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
# About 10,000 embedded books with every column (jsonb, arrays, bytea): MAX_EMBED_ROWS allows it.
HEAVY = "/api/authors?select=*,b0:books(*),b1:books(*)"


def _rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _get(base, path):
    with urllib.request.urlopen(base + path, timeout=120) as response:
        return response.status, len(response.read())


def _concurrently(base, path, times):
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(_get(base, path))) for _ in range(times)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def server(sample_server):
    started = sample_server("pgfront_memory")
    return started.process, started.base


def test_resident_memory_comes_back_after_heavy_embed_requests(server):
    process, base = server
    # Warm-up: imports, the catalog, compiled statements, every thread and pooled connection.
    status, size = _get(base, HEAVY)
    assert status == 200 and size > 4_000_000
    assert {status for status, _ in _concurrently(base, HEAVY + "&limit=1", 10)} == {200}
    warm = _rss_kb(process.pid)
    results = _concurrently(base, HEAVY, 10)
    after = _rss_kb(process.pid)
    assert [status for status, _ in results] == [200] * 10
    assert after <= warm * 1.2, f"RSS {warm} kB after the warm-up, {after} kB after"
