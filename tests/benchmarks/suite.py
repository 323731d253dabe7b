"""The benchmark suite's command line: set up, run the selected parts, report (see README.md)."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from . import exports, layers, report, startup
from .cpu import ForeignCpu
from .database import BENCH_DATABASE, BenchServer, load_dataset, reset_items
from .load import ensure_wrk
from .servers import Server, start_peer, start_pgfront
from .workloads import (
    build_workloads,
    check_same_answers,
    deep_cursor,
    measure,
    summarize,
)

HTTP_PARTS = ("list", "lookup", "filtered", "embed", "post", "deep")
# Workloads measured together, back to back per server: embed and deep are read against list.
GROUPS = (("list", "embed", "deep"), ("lookup",), ("filtered",), ("post",))
OTHER_PARTS = ("layers", "export", "reflection", "reload")
REFLECTION_SIZES = (100, 1000, 10000)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """--quick, --only, --duration, --rounds, --no-write."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks",
        description="Benchmark pgfront against a bare Flask + psycopg app and a "
        "Flask-SQLAlchemy app on an embedded PostgreSQL (or BENCH_DATABASE_URL's server), "
        "and write tests/benchmarks/RESULTS.md.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 s runs, 2 rounds, one repeat: a check that all runs"
    )
    parser.add_argument(
        "--only",
        metavar="PARTS",
        help="comma-separated parts to run, of: " + ",".join(HTTP_PARTS + OTHER_PARTS),
    )
    parser.add_argument("--duration", type=float, help="seconds per wrk run [10; quick: 3]")
    parser.add_argument("--rounds", type=int, help="wrk runs per server and workload [4; quick: 2]")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave RESULTS.md as it is"
    )
    args = parser.parse_args(argv)
    parts = HTTP_PARTS + OTHER_PARTS
    args.parts = parts if not args.only else tuple(p.strip() for p in args.only.split(","))
    unknown = [p for p in args.parts if p not in parts]
    if unknown:
        parser.error(f"--only: unknown parts {', '.join(unknown)}")
    if {"embed", "deep"} & set(args.parts) and "list" not in args.parts:
        args.parts = ("list", *args.parts)  # their figures are relative to the first page
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.rounds = args.rounds or (2 if args.quick else 4)
    args.warmup = 1.0 if args.quick else 2.0
    args.repeats = 1 if args.quick else 3
    args.layer_rounds = 2 if args.quick else 5
    return args


def say(line: str = "") -> None:
    """Progress on stdout, at once."""
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the suite; the servers and the embedded PostgreSQL are stopped whatever happens."""
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every server and the database are stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        return run(args, argv)
    except KeyboardInterrupt:
        say("\ninterrupted: the servers and PostgreSQL are stopped")
        return 130


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Set up, measure the selected parts, report."""
    started = time.monotonic()
    busy_before = report.busy_cores()
    if busy_before > 0.2:
        say(f"note: other processes keep {busy_before:.2f} cores busy: expect noisy numbers")
    if {"reload", *HTTP_PARTS} & set(args.parts):
        ensure_wrk()
    results = report.Results()
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="pgfront-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        external = os.environ.get("BENCH_DATABASE_URL")
        say(f"database: {'BENCH_DATABASE_URL' if external else 'embedded PostgreSQL'}")
        bench = BenchServer.open(external, workdir / "postgres")
        stack.callback(bench.close)
        postgres_version = bench.version()
        if {"export", "layers", *HTTP_PARTS} & set(args.parts):
            say(f"loading the dataset ... {load_dataset(bench):.1f} s")
        http_parts = [p for p in HTTP_PARTS if p in args.parts]
        if http_parts:
            run_http(bench, workdir, args, http_parts, results)
        if "layers" in args.parts:
            say("CPU time per layer of a list request, in this process ...")
            results.layers = layers.measure_layers(bench, args.layer_rounds, say)
        if "export" in args.parts:
            say("CSV export of bench.big, pgfront vs COPY ...")
            results.exports = exports.measure_exports(bench, workdir, args.repeats, say)
        if "reflection" in args.parts or "reload" in args.parts:
            say("reflection of generated schemas ...")
            sizes = REFLECTION_SIZES if "reflection" in args.parts else (startup.RELOAD_TABLES,)
            reflected = startup.measure_reflection(bench, sizes, args.repeats, say)
            if "reflection" in args.parts:
                results.reflection = reflected
        if "reload" in args.parts:
            say(f"reloading {startup.RELOAD_TABLES:,} tables while serving ...")
            try:
                results.reload = startup.measure_reload(bench, workdir, args.duration)
            except RuntimeError as exc:  # e.g. pgfront could not start on that schema
                results.reload_error = str(exc).strip().splitlines()[-1]
                say(f"  the reload could not be measured: {results.reload_error}")
    info = report.RunInfo(
        command=shlex.join(["python", "-m", "tests.benchmarks", *(argv or sys.argv[1:])]),
        duration=args.duration,
        rounds=args.rounds,
        postgres_version=postgres_version,
        elapsed_seconds=time.monotonic() - started,
        busy_before=busy_before,
    )
    section = report.render(results, info)
    say()
    say(section)
    if args.no_write or args.only:
        say("(RESULTS.md not written: --only or --no-write)")
    else:
        report.write_results(section)
        say("written to tests/benchmarks/RESULTS.md")
    return 0


def run_http(
    bench: BenchServer,
    workdir: Path,
    args: argparse.Namespace,
    parts: list[str],
    results: report.Results,
) -> None:
    """Start the three servers, check they answer alike, run wrk on each workload, stop them."""
    with ExitStack() as stack:
        servers: dict[str, Server] = {}
        servers["pgfront"] = start_pgfront(bench.url_text(BENCH_DATABASE), "bench", workdir)
        stack.callback(servers["pgfront"].stop)
        for name, module in (("bare", "bare_app"), ("peer", "fsa_app")):
            servers[name] = start_peer(name, module, bench.conninfo(BENCH_DATABASE), workdir)
            stack.callback(servers[name].stop)
        say("servers: " + ", ".join(f"{n} {s.base_url} (pid {s.pid})" for n, s in servers.items()))
        workloads = build_workloads(deep_cursor(servers["pgfront"]))
        check_same_answers(workloads, servers)
        reset_items(bench)
        say("the three servers answer every workload alike")
        meter = ForeignCpu([pid for pid in [bench.postmaster_pid()] if pid])
        by_name = {w.name: w for w in workloads if w.name in parts}
        for names in GROUPS:
            group = [by_name[name] for name in names if name in by_name]
            if not group:
                continue
            runs = measure(
                group,
                servers,
                args.duration,
                args.rounds,
                args.warmup,
                meter,
                say,
                postgres_pid=bench.postmaster_pid(),
            )
            for workload in group:
                results.titles[workload.name] = workload.title
                results.http[workload.name] = {
                    name: summarize(r) for name, r in runs[workload.name].items()
                }
            if any(workload.method == "POST" for workload in group):
                reset_items(bench)
