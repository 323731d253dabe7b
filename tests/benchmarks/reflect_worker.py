"""Reflect one schema as pgfront does at startup, in a fresh process; print seconds and memory.

`python -m tests.benchmarks.reflect_worker URL SCHEMA` prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

from db.catalog import reflect_catalog
from db.engine import check_reachable, first_line, make_engine


def rss_kb() -> int:
    """This process's resident size in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def main(argv: list[str]) -> int:
    """Reflect argv[1] on argv[0] after a warm-up, and print what it cost."""
    url, schema = argv
    engine = make_engine(url)
    try:
        check_reachable(engine)  # as create_app does: one pooled connection before reflecting
        reflect_catalog(engine, ["public"])  # empty here: loads the code reflection runs
        gc.collect()
        before = rss_kb()
        started = time.perf_counter()
        try:
            catalog = reflect_catalog(engine, [schema])
        except Exception as exc:  # noqa: BLE001 - any failure is the measurement's result
            print(json.dumps({"error": f"{type(exc).__name__}: {first_line(exc)}"}))
            return 0
        seconds = time.perf_counter() - started
        after = rss_kb()
    finally:
        engine.dispose()
    result = {
        "seconds": seconds,
        "rss_delta_kb": after - before,
        "relations": len(catalog.relations),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
