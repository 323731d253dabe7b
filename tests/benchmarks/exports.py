"""CSV export of bench.big: pgfront's stream against COPY ... TO STDOUT (the limit), and memory."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .database import BENCH_DATABASE, BIG_ROWS, BenchServer
from .servers import Server, start_pgfront

SIZES = (100_000, BIG_ROWS)
_CHUNK = 1 << 18


@dataclass(frozen=True)
class ExportRun:
    """One export read to its end: rows, seconds, and the server's memory (kB) while it ran."""

    rows: int
    seconds: float
    peak_rss_kb: int = 0
    hwm_kb: int = 0

    @property
    def rows_per_s(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds


@dataclass(frozen=True)
class ExportResults:
    """Best run of each size, pgfront's and COPY's, and the server's resident size before."""

    pgfront: dict[int, ExportRun]
    copy: dict[int, ExportRun]
    baseline_rss_kb: int


class _PeakSampler(threading.Thread):
    """Samples a server's resident size every 10 ms until stopped; keeps the largest."""

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.server = server
        self.peak_kb = server.memory_kb()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.01):
            self.peak_kb = max(self.peak_kb, self.server.memory_kb())

    def finish(self) -> int:
        """Stop sampling; the peak seen."""
        self._done.set()
        self.join()
        return max(self.peak_kb, self.server.memory_kb())


def export_over_http(server: Server, rows: int) -> ExportRun:
    """GET /browse/bench/big/export.csv for the first `rows` rows, read to the end."""
    path = "/browse/bench/big/export.csv" + (f"?id=lte.{rows}" if rows < BIG_ROWS else "")
    parts = urlsplit(server.base_url)
    sampler = _PeakSampler(server)
    sampler.start()
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"export answered {response.status}: {response.read()[:300]!r}")
        lines = 0
        while chunk := response.read(_CHUNK):
            lines += chunk.count(b"\n")
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    peak = sampler.finish()
    if lines - 1 != rows:
        raise RuntimeError(f"the export sent {lines - 1} rows, not {rows}")
    return ExportRun(lines - 1, seconds, peak, server.memory_kb("VmHWM"))


def copy_out(bench: BenchServer, rows: int) -> ExportRun:
    """COPY the same rows, in the same order, TO STDOUT WITH CSV HEADER through psycopg."""
    query = (
        f"COPY (SELECT id, n, tag FROM bench.big WHERE id <= {rows} ORDER BY id)"
        " TO STDOUT WITH CSV HEADER"
    )
    started = time.perf_counter()
    lines = 0
    with bench.connect(BENCH_DATABASE) as conn, conn.cursor().copy(query) as copy:
        for block in copy:
            lines += bytes(block).count(b"\n")
    return ExportRun(lines - 1, time.perf_counter() - started)


def measure_exports(
    bench: BenchServer,
    log_dir: Path,
    repeats: int,
    progress: Callable[[str], None] = print,
) -> ExportResults:
    """A fresh pgfront (so its peak memory is the exports'), each size `repeats` times, best kept."""
    server = start_pgfront(bench.url_text(BENCH_DATABASE), "bench", log_dir, name="pgfront-export")
    try:
        export_over_http(server, 1000)  # first request: imports, caches, one pooled connection
        copy_out(bench, 1000)
        baseline = server.memory_kb()
        pgfront: dict[int, ExportRun] = {}
        copy: dict[int, ExportRun] = {}
        for size in SIZES:
            runs = []
            copies = []
            for _ in range(repeats):
                runs.append(export_over_http(server, size))
                copies.append(copy_out(bench, size))
                progress(
                    f"  {size:>9,} rows: pgfront {runs[-1].rows_per_s:>9,.0f} rows/s, peak RSS"
                    f" {runs[-1].peak_rss_kb / 1024:.1f} MB; COPY {copies[-1].rows_per_s:>9,.0f}"
                    " rows/s"
                )
            pgfront[size] = _best(runs)
            copy[size] = _best(copies)
    finally:
        server.stop()
    return ExportResults(pgfront, copy, baseline)


def _best(runs: list[ExportRun]) -> ExportRun:
    """The fastest run's time, with the largest memory any run of that size reached."""
    fastest = min(runs, key=lambda run: run.seconds)
    return ExportRun(
        fastest.rows,
        fastest.seconds,
        max(run.peak_rss_kb for run in runs),
        max(run.hwm_kb for run in runs),
    )
