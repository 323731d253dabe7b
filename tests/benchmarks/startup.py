"""Startup: reflection time and memory for generated schemas, and a reload while serving."""

from __future__ import annotations

import json
import secrets
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .database import (
    GENERATED_SCHEMA,
    BenchServer,
    create_generated_schema,
    generated_database,
)
from .load import WrkResult, parse_wrk, wrk_command
from .servers import PROJECT_DIR, start_pgfront

RELOAD_TABLES = 1000


@dataclass(frozen=True)
class ReflectionResult:
    """Reflecting a generated schema: medians over fresh processes, or why it failed."""

    tables: int
    seconds: float | None
    rss_delta_kb: int | None
    create_seconds: float
    runs: int
    error: str | None = None


@dataclass(frozen=True)
class ReloadResult:
    """Reloads of a 1,000-table schema while wrk kept the server busy."""

    tables: int
    reload_seconds: list[float]
    last_reload: dict
    load: WrkResult


def measure_reflection(
    bench: BenchServer,
    sizes: tuple[int, ...],
    repeats: int,
    progress: Callable[[str], None] = print,
) -> list[ReflectionResult]:
    """For each size: generate the schema, then reflect it in `repeats` fresh processes."""
    results = []
    for tables in sizes:
        created = create_generated_schema(bench, tables)
        runs = [_reflect_in_subprocess(bench, tables) for _ in range(repeats)]
        done = [run for run in runs if "error" not in run]
        for run in done:
            if run["relations"] != tables:
                raise RuntimeError(f"reflected {run['relations']} relations, not {tables}")
        failed = [run["error"] for run in runs if "error" in run]
        result = ReflectionResult(
            tables,
            statistics.median(run["seconds"] for run in done) if done else None,
            int(statistics.median(run["rss_delta_kb"] for run in done)) if done else None,
            created,
            repeats,
            f"{len(failed)} of {repeats} runs failed: {failed[0]}" if failed else None,
        )
        if result.seconds is not None:
            progress(
                f"  {tables:>6} tables: created in {created:.1f} s, reflected in "
                f"{result.seconds:.2f} s, +{result.rss_delta_kb / 1024:.1f} MB"
            )
        if result.error:
            progress(f"  {tables:>6} tables: {result.error}")
        results.append(result)
    return results


def _reflect_in_subprocess(bench: BenchServer, tables: int) -> dict:
    """Run reflect_worker on one generated database and read its JSON ({"error": ...} if it failed)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.benchmarks.reflect_worker",
            bench.url_text(generated_database(tables)),
            GENERATED_SCHEMA,
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reflect_worker failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_reload(bench: BenchServer, log_dir: Path, duration: float) -> ReloadResult:
    """Serve the 1,000-table schema under wrk load and reload it through POST /admin/reload."""
    database = generated_database(RELOAD_TABLES)
    token = secrets.token_urlsafe(24)
    server = start_pgfront(
        bench.url_text(database),
        GENERATED_SCHEMA,
        log_dir,
        name="pgfront-reload",
        ADMIN_TOKEN=token,
    )
    wrk = None
    try:
        url = f"{server.base_url}/api/t00500?limit=20"
        _get(url)
        seconds = max(duration, 8.0)
        wrk = subprocess.Popen(
            wrk_command(url, seconds), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        ends = time.monotonic() + seconds
        time.sleep(1.5)
        reloads = []
        while time.monotonic() < ends - 2.5:
            reloads.append(_reload(server.base_url, token))
            time.sleep(0.5)
        out, err = wrk.communicate(timeout=seconds + 60)
        if wrk.returncode != 0:
            raise RuntimeError(f"wrk failed: {err.strip() or out}")
        load = parse_wrk(out)
        ready = json.loads(_get(f"{server.base_url}/ready"))
    finally:
        if wrk is not None and wrk.poll() is None:
            wrk.kill()
            wrk.wait()
        server.stop()
    return ReloadResult(RELOAD_TABLES, reloads, ready.get("last_reload") or {}, load)


def _get(url: str) -> bytes:
    """The body of a GET."""
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _reload(base_url: str, token: str) -> float:
    """POST /admin/reload; the seconds the reload took, as the server reports them."""
    request = urllib.request.Request(
        f"{base_url}/admin/reload", method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.loads(response.read())
    if not body.get("ok"):
        raise RuntimeError(f"the reload failed: {body}")
    return float(body["seconds"])
