"""Where a request's CPU time goes: the list workload's read, one layer added at a time.

Each layer runs in this process, in one thread, for a number of iterations; its cost is
that thread's CPU time per iteration (`time.thread_time`), the lowest of several rounds
taken in alternation (the lowest is the run least disturbed by other load). The layers
are cumulative up to the scoped Session; the last three are whole requests through Flask's
test client: the bare app, a minimal view inside pgfront's app, and pgfront's API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from sqlalchemy import orm

from db.engine import EngineOptions, make_engine

from .database import BENCH_DATABASE, BenchServer
from .peers import bare_app

LIST_SQL = (
    "SELECT id, name, price, category_id, created_at, in_stock FROM bench.items"
    " ORDER BY id LIMIT %s"
)
LIMIT = 21  # pgfront asks for one row more than the page, to know whether more follow


@dataclass(frozen=True)
class Layer:
    """One measured layer: what it runs, its CPU microseconds per iteration."""

    title: str
    micros: float


def measure_layers(bench: BenchServer, rounds: int, say: Callable[[str], None]) -> list[Layer]:
    """Run every layer `rounds` times in alternation; the lowest CPU time per iteration of each."""
    from webapp import create_app  # the suite's other parts never import the app itself

    conninfo = bench.conninfo(BENCH_DATABASE)
    engine = make_engine(bench.url(BENCH_DATABASE), EngineOptions(pool_size=2))
    pgfront = create_app(
        {
            "DATABASE_URL": bench.url_text(BENCH_DATABASE),
            "DB_SCHEMAS": "bench",
            "RELOAD_CHANNEL": "",
            "LOG_LEVEL": "WARNING",
        }
    )
    _add_minimal_view(pgfront)
    bare = bare_app.create_app(conninfo)
    autocommit = psycopg.connect(conninfo, autocommit=True)
    in_transaction = psycopg.connect(conninfo)
    in_transaction.read_only = True
    try:
        steps = _steps(engine, autocommit, in_transaction, bare, pgfront)
        best = {title: float("inf") for title, _, _ in steps}
        for round_number in range(rounds):
            for title, step, iterations in steps:
                best[title] = min(best[title], _cpu_micros(step, iterations))
            say(f"  layers: round {round_number + 1} of {rounds}")
        return [Layer(title, best[title]) for title, _, _ in steps]
    finally:
        autocommit.close()
        in_transaction.close()
        pgfront.extensions["pgfront"].close()
        engine.dispose()


def _steps(engine, autocommit, in_transaction, bare, pgfront) -> list[tuple[str, Callable, int]]:
    """(title, one iteration, iterations per round) of each layer, in order."""
    items = sa.Table("items", sa.MetaData(), autoload_with=engine, schema="bench")
    read_only = engine.execution_options(postgresql_readonly=True)
    prebuilt = sa.select(items).order_by(items.c.id).limit(LIMIT)
    Session = orm.scoped_session(orm.sessionmaker())
    bare_client, pgfront_client = bare.test_client(), pgfront.test_client()

    def query_autocommit():
        autocommit.execute(LIST_SQL, (LIMIT,)).fetchall()

    def query_in_transaction():
        in_transaction.execute(LIST_SQL, (LIMIT,)).fetchall()
        in_transaction.rollback()

    def core_prebuilt():
        with read_only.connect() as conn:
            conn.execute(prebuilt).all()

    def session_prebuilt():
        Session(bind=read_only).connection().execute(prebuilt).all()
        Session.remove()

    def session_built():
        stmt = sa.select(*items.columns).select_from(items).order_by(items.c.id).limit(LIMIT)
        Session(bind=read_only).connection().execute(stmt).all()
        Session.remove()

    def bare_request():
        bare_client.get("/items?limit=20")

    def pgfront_minimal_request():
        pgfront_client.get("/bench/items")

    def pgfront_request():
        pgfront_client.get("/api/items?limit=20&order=id")

    return [
        ("psycopg: the query on an autocommit connection", query_autocommit, 2000),
        ("+ BEGIN READ ONLY and ROLLBACK around it", query_in_transaction, 2000),
        ("SQLAlchemy Core: pooled connection, prebuilt statement", core_prebuilt, 1000),
        ("+ a scoped Session, removed after", session_prebuilt, 1000),
        ("+ the statement built from the reflected Table each time", session_built, 1000),
        ("bare Flask app: the whole request (test client)", bare_request, 1000),
        ("pgfront app, a minimal view of its own (test client)", pgfront_minimal_request, 1000),
        ("pgfront: the whole API request (test client)", pgfront_request, 1000),
    ]


def _add_minimal_view(app) -> None:
    """A view as a team would write one in pgfront: the request's Session, a prebuilt statement.

    Between the bare app and this view: pgfront's app (its hooks, the session scope, the
    read-only transaction, SQLAlchemy). Between this view and the API: the API's own work.
    """
    from db.session import Session
    from webapp.encoding import json_response
    from webapp.state import current_catalog

    def items():
        table = current_catalog().tables["bench.items"]
        stmt = sa.select(table).order_by(table.c.id).limit(LIMIT)
        rows = Session.connection().execute(stmt).mappings().all()
        return json_response([dict(row) for row in rows[: LIMIT - 1]])

    app.add_url_rule("/bench/items", "bench_items", items)


def _cpu_micros(step: Callable[[], None], iterations: int) -> float:
    """This thread's CPU microseconds per call of step, after a short warm-up."""
    for _ in range(min(200, iterations)):
        step()
    started = time.thread_time()
    for _ in range(iterations):
        step()
    return (time.thread_time() - started) / iterations * 1e6
