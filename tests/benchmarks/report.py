"""The report: the table of the HTTP workloads, the derived figures, the targets, RESULTS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .exports import SIZES, ExportResults
from .layers import Layer
from .load import CONNECTIONS, WRK_THREADS
from .servers import PGFRONT_SETTINGS, PROJECT_DIR, THREADS
from .startup import ReflectionResult, ReloadResult
from .workloads import Summary, paired_ratio

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"
START_MARK = "<!-- results:start -->"
END_MARK = "<!-- results:end -->"
_HAND_WRITTEN = """
## What each change bought

Written by hand, not by the suite: each change to the app, the run it was measured in,
and what it moved.
"""


@dataclass
class Results:
    """Everything one run measured (a part stays empty when --only left it out)."""

    http: dict[str, dict[str, Summary]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    exports: ExportResults | None = None
    reflection: list[ReflectionResult] = field(default_factory=list)
    reload: ReloadResult | None = None
    reload_error: str | None = None
    layers: list[Layer] = field(default_factory=list)


@dataclass(frozen=True)
class RunInfo:
    """How the run was made: command, wrk duration, rounds, database server version."""

    command: str
    duration: float
    rounds: int
    postgres_version: str
    elapsed_seconds: float = 0.0
    busy_before: float = 0.0


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table with padded columns, readable as plain text too."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def http_table(results: Results) -> str:
    """workload | server | req/s | p50 | p99 | spread | ratio to bare | pgfront/peer | errors."""
    rows = []
    for name, by_server in results.http.items():
        bare = by_server.get("bare")
        peer = by_server.get("peer")
        for server, summary in by_server.items():
            to_bare = f"{paired_ratio(summary, bare):.2f}" if bare else ""
            to_peer = f"{paired_ratio(summary, peer):.2f}" if server == "pgfront" and peer else ""
            rows.append(
                [
                    results.titles.get(name, name),
                    server,
                    f"{summary.requests_per_s:,.0f}",
                    f"{summary.p50_ms:.2f} ms",
                    f"{summary.p99_ms:.2f} ms",
                    f"{summary.spread:.0%}",
                    f"{summary.server_cpu_us:,.0f}",
                    f"{summary.postgres_cpu_us:,.0f}" if summary.postgres_cpu_us else "",
                    to_bare,
                    to_peer,
                    str(summary.failed),
                ]
            )
    header = [
        "workload",
        "server",
        "req/s",
        "p50",
        "p99",
        "spread",
        "server CPU µs/req",
        "PostgreSQL CPU µs/req",
        "ratio to bare",
        "pgfront/peer",
        "errors",
    ]
    return markdown_table(header, rows)


def _summary(results: Results, workload: str, server: str = "pgfront") -> Summary | None:
    """One server's runs of one workload, if measured."""
    return results.http.get(workload, {}).get(server)


def sections(results: Results) -> list[str]:
    """The measured parts as markdown: HTTP table and ratios, exports, startup."""
    parts = []
    if results.http:
        parts += ["### HTTP workloads", "", http_table(results), ""]
        for workload, label in (("embed", "embedding one relation"), ("deep", "deep keyset page")):
            for server in ("pgfront", "bare", "peer"):
                first = _summary(results, "list", server)
                other = _summary(results, workload, server)
                if first and other:
                    parts.append(
                        f"- {label} vs the first page of the same list ({server}): "
                        f"{paired_ratio(first, other):.2f}x the time per request"
                    )
        foreign = max(s.foreign_cores for by in results.http.values() for s in by.values())
        parts += [
            "",
            f"Other processes (not the servers, wrk or PostgreSQL) kept at most {foreign:.2f} "
            "cores busy during a run" + (": expect noise." if foreign > 0.2 else "."),
            "req/s, p50 and p99 are medians over the rounds; spread is (fastest - slowest) / "
            "median; ratios are medians of each round's ratio (a round runs the servers minutes "
            "apart at most, so pairing cancels slow drifts of the machine). Server and "
            "PostgreSQL CPU are the CPU time (user + system) the server's process and all of "
            "PostgreSQL's processes used during a run, divided by the requests it served (median "
            "over the rounds); PostgreSQL's includes the other servers' idle connections.",
            "",
        ]
    if results.layers:
        parts += ["### Where a list request's CPU time goes", "", _layers_table(results.layers), ""]
        parts += [*_layer_findings(results.layers), ""]
    if results.exports:
        parts += ["### CSV export", "", _exports_table(results.exports), ""]
    if results.reflection or results.reload or results.reload_error:
        parts += ["### Startup and reload", ""]
    if results.reload_error:
        parts += [f"The reload could not be measured: {results.reload_error}", ""]
    if results.reflection:
        parts += [_reflection_table(results.reflection), ""]
    if results.reload:
        reload = results.reload
        times = ", ".join(f"{s:.2f} s" for s in reload.reload_seconds)
        parts += [
            f"Reload of {reload.tables:,} tables while wrk ran {reload.load.requests:,} requests "
            f"({reload.load.requests_per_s:,.0f} req/s, p99 {reload.load.p99_ms:.1f} ms): "
            f"{len(reload.reload_seconds)} reloads taking {times} (as POST /admin/reload "
            f"reports them); failed requests: {reload.load.failed}; /ready's last_reload: "
            f"{reload.last_reload}",
            "",
        ]
    return parts


def _layers_table(layers: list[Layer]) -> str:
    """Each layer's CPU time per request; the cumulative ones also show what they add."""
    rows = []
    for i, layer in enumerate(layers):
        cumulative = layer.title.startswith("+")
        added = f"+{layer.micros - layers[i - 1].micros:,.0f}" if cumulative else ""
        rows.append([layer.title, f"{layer.micros:,.0f}", added])
    return markdown_table(["layer (list 20 rows)", "CPU µs per request", "added"], rows)


def _layer_findings(layers: list[Layer]) -> list[str]:
    """What the layers say: SQLAlchemy's share, and what pgfront adds to a Flask view."""
    query, _, _, _, built, bare, minimal, ours = (layer.micros for layer in layers)
    database = built - query
    return [
        f"- pgfront's API spends {ours / bare:.2f}x the CPU of the bare app per request "
        f"(+{ours - bare:,.0f} µs).",
        f"- A minimal view inside pgfront's app costs +{minimal - bare:,.0f} µs over the bare "
        f"app: of that, {database:,.0f} µs are the read-only transaction and SQLAlchemy (Core, "
        "the scoped Session, the statement built per request, over the bare query), the rest "
        "pgfront's hooks (request id, metrics, Server-Timing, security headers, role, the "
        "session scope).",
        f"- The API's own work adds +{ours - minimal:,.0f} µs over that view: parsing the query "
        "string and headers, checking names against the catalog, the paging cursor and its Link "
        "header, exact numbers and timestamps.",
        "- Layers run in one thread of this process (`time.thread_time`), the lowest of "
        "several alternating rounds; the two whole requests go through Flask's test client, "
        "which costs both the same.",
    ]


def _exports_table(exports: ExportResults) -> str:
    """Rows/s of pgfront's CSV export and of COPY, and the server's peak memory, per size."""
    rows = []
    for size in SIZES:
        ours, copy = exports.pgfront[size], exports.copy[size]
        rows.append(
            [
                f"{size:,}",
                f"{ours.rows_per_s:,.0f}",
                f"{copy.rows_per_s:,.0f}",
                f"{ours.rows_per_s / copy.rows_per_s:.2f}",
                f"{ours.peak_rss_kb / 1024:.1f} MB",
                f"{ours.hwm_kb / 1024:.1f} MB",
            ]
        )
    header = [
        "CSV export rows",
        "pgfront rows/s",
        "COPY rows/s",
        "ratio",
        "server peak RSS",
        "VmHWM after",
    ]
    note = f"Server resident size before the exports: {exports.baseline_rss_kb / 1024:.1f} MB."
    return markdown_table(header, rows) + "\n\n" + note


def _reflection_table(reflection: list[ReflectionResult]) -> str:
    """Reflection time and memory per generated schema size, and any failure."""
    rows = []
    for r in reflection:
        ok = r.seconds is not None
        rows.append(
            [
                f"{r.tables:,}",
                f"{r.seconds:.2f} s" if ok else "failed",
                f"{r.seconds / r.tables * 1000:.2f} ms" if ok else "",
                f"{r.rss_delta_kb / 1024:.1f} MB" if ok else "",
                f"{r.create_seconds:.1f} s",
                r.error or "",
            ]
        )
    header = ["tables", "reflect_catalog", "per table", "RSS growth", "(creating them)", "errors"]
    return markdown_table(header, rows)


def targets(results: Results) -> list[tuple[str, str, bool]]:
    """Each target of the issue that this run measured: (target, measured, met).

    Ratios are judged as shown (two decimals): the runs' spread is far wider than that.
    """
    found = []
    for workload in ("list", "lookup"):
        ours, bare, peer = (_summary(results, workload, s) for s in ("pgfront", "bare", "peer"))
        if ours and bare:
            ratio = paired_ratio(ours, bare)
            found.append(
                (f"{workload}: >= 0.8 of bare psycopg", f"{ratio:.2f}", round(ratio, 2) >= 0.8)
            )
        if ours and peer:
            ratio = paired_ratio(ours, peer)
            found.append(
                (f"{workload}: >= 2x Flask-SQLAlchemy", f"{ratio:.2f}x", round(ratio, 2) >= 2)
            )
    first = _summary(results, "list")
    for workload, label in (("embed", "embedding one relation"), ("deep", "deep keyset page")):
        other = _summary(results, workload)
        if first and other:
            ratio = paired_ratio(first, other)
            target = f"{label}: <= 1.5x the time of the first page"
            found.append((target, f"{ratio:.2f}x", round(ratio, 2) <= 1.5))
    if results.exports:
        small, big = (results.exports.pgfront[size] for size in SIZES)
        copy = results.exports.copy[SIZES[-1]]
        found.append(
            (
                f"export: constant memory (peak at {SIZES[-1]:,} rows <= 1.1x peak at {SIZES[0]:,})",
                f"{small.peak_rss_kb / 1024:.1f} MB -> {big.peak_rss_kb / 1024:.1f} MB",
                big.peak_rss_kb <= 1.1 * small.peak_rss_kb,
            )
        )
        ratio = big.rows_per_s / copy.rows_per_s
        found.append(("export: >= 0.5 of COPY rows/s", f"{ratio:.2f}", round(ratio, 2) >= 0.5))
    by_size = {r.tables: r for r in results.reflection}
    for tables, limit in ((1000, 1.5), (10000, 15.0)):
        if tables in by_size:
            r = by_size[tables]
            measured = "failed" if r.seconds is None else f"{r.seconds:.2f} s"
            if r.error:
                measured += f" ({r.error})"
            met = r.seconds is not None and r.seconds <= limit and not r.error
            found.append((f"reflect {tables:,} tables in <= {limit} s", measured, met))
    small, big = by_size.get(1000), by_size.get(10000)
    if small and big and small.seconds and big.seconds:
        growth = (big.seconds / 10000) / (small.seconds / 1000)
        found.append(
            (
                "reflection grows linearly (per-table time at 10,000 <= 1.5x at 1,000)",
                f"{growth:.2f}x",
                growth <= 1.5,
            )
        )
    if results.reload_error:
        found.append(("a reload while serving fails no request", results.reload_error, False))
    if results.reload:
        failed = results.reload.load.failed
        found.append(
            (
                "a reload while serving fails no request",
                f"{failed} failed of {results.reload.load.requests:,}",
                failed == 0 and bool(results.reload.reload_seconds),
            )
        )
    return found


def targets_table(results: Results) -> str:
    """The targets as a table with met / NOT MET."""
    rows = [[t, m, "met" if ok else "NOT MET"] for t, m, ok in targets(results)]
    return markdown_table(["target", "measured", ""], rows)


def busy_cores(seconds: float = 2.0) -> float:
    """How many cores' worth of CPU the machine used over the next `seconds` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait

    if not Path("/proc/stat").exists():
        return 0.0
    total_before, idle_before = sample()
    time.sleep(seconds)
    total, idle = sample()
    elapsed = total - total_before
    return (elapsed - (idle - idle_before)) / elapsed * (os.cpu_count() or 1) if elapsed else 0.0


def machine() -> str:
    """CPU model, cores and memory, from /proc."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB memory"
    return f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}"


def _versions() -> str:
    """Versions of Python and of the packages that serve."""
    names = ("Flask", "SQLAlchemy", "psycopg", "waitress", "orjson", "Flask-SQLAlchemy")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return f"Python {platform.python_version()}, " + ", ".join(found)


def _source_revision() -> str:
    """The commit measured, and whether the work tree had changes on top of it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + (" with uncommitted changes" if dirty else "")


def render(results: Results, info: RunInfo) -> str:
    """The generated part of RESULTS.md (also what the suite prints)."""
    pgfront_env = " ".join(f"{k}={v}" for k, v in PGFRONT_SETTINGS.items())
    parts = [
        f"Run on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, taking {info.elapsed_seconds / 60:.1f} min.",
        "",
        f"- Command: `{info.command}`",
        f"- Machine: {machine()}; before the run, other processes kept "
        f"{info.busy_before:.2f} cores busy"
        + (" (expect noise)" if info.busy_before > 0.2 else ""),
        f"- Software: PostgreSQL {info.postgres_version}; {_versions()}",
        f"- Code: {_source_revision()}",
        f"- Load: `wrk -t{WRK_THREADS} -c{CONNECTIONS} -d{info.duration:g}s --latency` on loopback, "
        f"{info.rounds} rounds per server with the order of the servers alternating, after a "
        "warm-up run; the table shows the median of the rounds.",
        f"- Servers: waitress with {THREADS} threads each, all on the same database. pgfront: "
        f"`python run.py --threads {THREADS}` with `{pgfront_env}` (no LISTEN connection; no "
        "log line per request), defaults otherwise (pool: 10 + 2 overflow). bare: Flask, one "
        "autocommit psycopg "
        "connection per thread, numeric loaded as float, `orjson.dumps(rows)`. peer: "
        "Flask-SQLAlchemy with reflected models, `db.session.execute(db.select(...))`, "
        "`jsonify([row._asdict() ...])` (Flask's JSON provider writing ISO timestamps and "
        "numbers), pool 10 + 2 overflow. The suite checks at start that the three answer each "
        "workload with the same JSON.",
        "",
    ]
    parts += [*sections(results), "### Targets", "", targets_table(results)]
    return "\n".join(parts).strip() + "\n"


def write_results(section: str, path: Path = RESULTS_PATH) -> None:
    """Replace the generated part of RESULTS.md, keeping what was written by hand around it."""
    generated = f"{START_MARK}\n{section}{END_MARK}"
    if path.exists() and START_MARK in path.read_text() and END_MARK in path.read_text():
        text = path.read_text()
        before, rest = text.split(START_MARK, 1)
        after = rest.split(END_MARK, 1)[1]
        path.write_text(before + generated + after)
        return
    path.write_text(
        "# Benchmark results\n\n"
        "The part between the markers is written by `python -m tests.benchmarks` "
        "(see README.md here); the rest is kept as it is.\n\n" + generated + "\n" + _HAND_WRITTEN
    )
