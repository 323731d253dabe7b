"""The HTTP workloads: what each server is asked, a check that they answer alike, the runs."""

from __future__ import annotations

import json
import statistics
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from .cpu import ForeignCpu, TreeCpu
from .database import ITEMS
from .load import WrkResult, run_wrk
from .servers import Server

LOOKUP_ID = "12345"  # the id the fairness check asks for; wrk draws ids at random
DEEP_AFTER = 90_000  # the deep keyset page starts after this id
# Server orders of successive rounds: no server always runs first, or right after another.
_ORDERS = ((0, 1, 2), (2, 1, 0), (1, 2, 0), (0, 2, 1), (2, 0, 1), (1, 0, 2))
POST_BODY = (
    b'{"name":"bench item","price":9.99,"category_id":7,'
    b'"created_at":"2024-06-01T00:00:00+00:00","in_stock":true}'
)


@dataclass(frozen=True)
class Request:
    """How one server is asked for one workload: a path, or a wrk Lua script with arguments."""

    path: str
    script: str | None = None
    script_args: tuple[str, ...] = ()

    def check_path(self) -> str:
        """The path the fairness check fetches (a lookup asks for LOOKUP_ID)."""
        return self.script_args[0] + LOOKUP_ID if self.script == "lookup.lua" else self.path


@dataclass(frozen=True)
class Workload:
    """One workload: a name, what it measures, and the request of each server."""

    name: str
    title: str
    requests: dict[str, Request]
    method: str = "GET"


def build_workloads(deep_cursor: str) -> list[Workload]:
    """Every HTTP workload; deep_cursor is pgfront's cursor after row DEEP_AFTER."""
    peer = {
        "list": Request("/items?limit=20"),
        "lookup": Request("/", "lookup.lua", ("/items/", str(ITEMS))),
        "filtered": Request("/categories/7/items?limit=20"),
        "embed": Request("/items-with-category?limit=20"),
        "post": Request("/items", "post.lua"),
        "deep": Request(f"/items?limit=20&after={DEEP_AFTER}"),
    }
    pgfront = {
        "list": Request("/api/items?limit=20&order=id"),
        "lookup": Request("/", "lookup.lua", ("/api/items?id=eq.", str(ITEMS))),
        "filtered": Request("/api/items?category_id=eq.7&order=created_at.desc&limit=20"),
        "embed": Request("/api/items?select=*,categories(*)&limit=20&order=id"),
        "post": Request("/api/items", "post.lua"),
        "deep": Request(f"/api/items?limit=20&order=id&cursor={deep_cursor}"),
    }
    titles = {
        "list": "list 20 rows",
        "lookup": "lookup by primary key",
        "filtered": "filtered, ordered list",
        "embed": "list with one embedded relation",
        "post": "POST one row",
        "deep": f"keyset page after row {DEEP_AFTER:,}",
    }
    return [
        Workload(
            name,
            titles[name],
            {"pgfront": pgfront[name], "bare": peer[name], "peer": peer[name]},
            method="POST" if name == "post" else "GET",
        )
        for name in titles
    ]


def deep_cursor(pgfront: Server) -> str:
    """pgfront's X-Next-Cursor after row DEEP_AFTER, as a client paging that far would hold."""
    first = DEEP_AFTER - 19
    with urllib.request.urlopen(
        f"{pgfront.base_url}/api/items?limit=20&order=id&id=gte.{first}"
    ) as r:
        rows = json.loads(r.read())
        cursor = r.headers["X-Next-Cursor"]
    if rows[-1]["id"] != DEEP_AFTER or not cursor:
        raise RuntimeError(f"cannot make a cursor after row {DEEP_AFTER}: {rows[-1]['id']}")
    return cursor


def _fetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    """Status and body of one request."""
    headers = {"Content-Type": "application/json", "Prefer": "return=minimal"} if body else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request) as response:
        return response.status, response.read()


def _comparable(body: bytes):
    """JSON with numbers as Decimal (12.3 == 12.30) and objects as ordered key/value lists."""
    return json.loads(body, parse_float=Decimal, object_pairs_hook=list)


def check_same_answers(workloads: list[Workload], servers: dict[str, Server]) -> None:
    """Fail loudly unless every server answers every workload with the same JSON (or status)."""
    for workload in workloads:
        answers = {}
        for name, server in servers.items():
            url = server.base_url + workload.requests[name].check_path()
            body = POST_BODY if workload.method == "POST" else None
            status, content = _fetch(url, workload.method, body)
            answers[name] = status if body else (status, _comparable(content))
        expected = answers["pgfront"]
        if body is None and (expected[0] != 200 or not expected[1]):
            raise RuntimeError(f"{workload.name}: pgfront answered {expected}")
        for name, answer in answers.items():
            if answer != expected:
                raise RuntimeError(
                    f"unfair comparison: {name} answers {workload.name} differently from pgfront:\n"
                    f"  pgfront: {str(expected)[:300]}\n  {name}: {str(answer)[:300]}"
                )


def measure(
    group: list[Workload],
    servers: dict[str, Server],
    duration: float,
    rounds: int,
    warmup: float,
    meter: ForeignCpu,
    progress: Callable[[str], None] = print,
    postgres_pid: int | None = None,
) -> dict[str, dict[str, list[WrkResult]]]:
    """Warm up, then rounds of wrk; the order of the servers, and of a group, alternate.

    A group's workloads run back to back on each server: workloads compared with each other
    (a page and its deep or embedding variant) are then measured seconds apart, not minutes.
    """
    for workload in group:
        for name, server in servers.items():
            request = workload.requests[name]
            run_wrk(server.base_url + request.path, warmup, request.script, request.script_args)
    results = {w.name: {name: [] for name in servers} for w in group}
    names = list(servers)
    for round_no in range(rounds):
        for name in [names[i] for i in _ORDERS[round_no % len(_ORDERS)] if i < len(names)]:
            for workload in group[:: -1 if round_no % 2 else 1]:
                request = workload.requests[name]
                url = servers[name].base_url + request.path
                server_cpu = TreeCpu([servers[name].pid])
                postgres_cpu = TreeCpu([postgres_pid] if postgres_pid else [])
                meter.start(), server_cpu.start(), postgres_cpu.start()
                result = run_wrk(url, duration, request.script, request.script_args)
                served = max(result.requests, 1)
                result = replace(
                    result,
                    foreign_cores=meter.stop(),
                    server_cpu_us=server_cpu.stop() / served * 1e6,
                    postgres_cpu_us=postgres_cpu.stop() / served * 1e6,
                )
                results[workload.name][name].append(result)
                progress(
                    f"  {workload.name:<9} {name:<8} {result.requests_per_s:>9.1f} req/s"
                    f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
                    f"  (other processes: {result.foreign_cores:.2f} cores)"
                    + (f"  FAILED {result.failed}" if result.failed else "")
                )
    return results


@dataclass(frozen=True)
class Summary:
    """A server's runs of one workload: medians, spread, and each round's requests/s."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    failed: int
    rates: tuple[float, ...]
    foreign_cores: float  # the most other processes used during one of the runs
    server_cpu_us: float = 0.0  # median CPU microseconds per request of the server process
    postgres_cpu_us: float = 0.0  # and of PostgreSQL (0 on BENCH_DATABASE_URL's server)

    @property
    def spread(self) -> float:
        """(fastest - slowest run) / median: how much the runs disagree."""
        return (max(self.rates) - min(self.rates)) / self.requests_per_s


def paired_ratio(a: Summary, b: Summary) -> float:
    """a's requests/s over b's: the median of the rounds' ratios.

    Round i of both ran minutes apart at most, so pairing them cancels slow drifts of the
    machine that a ratio of the two medians would keep.
    """
    return statistics.median(x / y for x, y in zip(a.rates, b.rates, strict=True))


def summarize(runs: list[WrkResult]) -> Summary:
    """Medians of requests/s, p50 and p99 over the runs; failures added up."""
    return Summary(
        requests_per_s=statistics.median(r.requests_per_s for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        failed=sum(r.failed for r in runs),
        rates=tuple(r.requests_per_s for r in runs),
        foreign_cores=max(r.foreign_cores for r in runs),
        server_cpu_us=statistics.median(r.server_cpu_us for r in runs),
        postgres_cpu_us=statistics.median(r.postgres_cpu_us for r in runs),
    )
