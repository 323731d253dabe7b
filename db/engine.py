"""The one place that knows how an engine is built: pool, timeouts, keepalives."""

from __future__ import annotations

import json
import select
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import orjson
import psycopg
import sqlalchemy as sa
from psycopg.adapt import Loader
from psycopg.pq import Format
from sqlalchemy.engine import URL, Engine, make_url


class DatabaseUnreachable(Exception):
    """The database could not be reached at startup; the message is one line for the user."""


@dataclass(frozen=True)
class EngineOptions:
    """What the pool and each connection are set up with."""

    pool_size: int = 10
    max_overflow: int = 2
    pool_timeout: float = 5.0
    pool_recycle: int = 1800
    connect_timeout: int = 3
    statement_timeout_ms: int = 15000
    idle_in_transaction_timeout_ms: int = 60000
    application_name: str = "pgfront"
    pooled: bool = True  # False: every checkout opens a new connection, every return closes it


def normalize_url(url: str | URL) -> URL:
    """Accept libpq-style URLs (postgres://, postgresql://) and use the psycopg 3 driver."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(f"not a PostgreSQL URL for psycopg 3: {parsed.drivername}://...")


def make_engine(url: str | URL, options: EngineOptions | None = None) -> Engine:
    """Create the application's engine; called once per app, never per request."""
    options = options or EngineOptions()
    server_settings = (
        f"-c statement_timeout={options.statement_timeout_ms}"
        f" -c idle_in_transaction_session_timeout={options.idle_in_transaction_timeout_ms}"
        # Intervals as ISO 8601 text (P1Y2M3DT4H), loaded as that text: exact, unlike a
        # timedelta (which has no months), and PostgreSQL reads it back as the same interval.
        " -c IntervalStyle=iso_8601"
    )
    engine = sa.create_engine(
        normalize_url(url),
        # jsonb numbers keep every digit (floats become Decimal, as numeric columns do).
        json_deserializer=partial(json.loads, parse_float=Decimal),
        json_serializer=_json_text,
        **_pool_arguments(options),
        connect_args={
            "application_name": options.application_name,
            "connect_timeout": options.connect_timeout,
            # Dead peers (a restarted server, a dropped NAT entry) are noticed in about a minute.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            "options": server_settings,
        },
    )
    sa.event.listen(engine, "connect", _register_loaders)
    sa.event.listen(engine.pool, "checkout", _refuse_dead_connection)
    return engine


def _pool_arguments(options: EngineOptions) -> dict:
    """The pool's size and timeouts, or no pool at all (NullPool) when options.pooled is False."""
    if not options.pooled:
        return {"poolclass": sa.pool.NullPool}
    return {
        "pool_size": options.pool_size,
        "max_overflow": options.max_overflow,
        "pool_timeout": options.pool_timeout,
        "pool_recycle": options.pool_recycle,
    }


def _refuse_dead_connection(dbapi_connection, connection_record, connection_proxy) -> None:
    """Checkout: hand out no connection the server has already closed, at no round trip.

    An idle connection's socket has nothing to read unless the server spoke first: a
    terminated backend sends its error and closes, a stopped or restarted server closes.
    So a readable idle socket means a dead connection; the pool then opens a new one (the
    DisconnectionError protocol). A peer that vanished without closing (a cut network) is
    left to TCP keepalives and to the first statement, which fails with a 503 and makes the
    pool replace all its connections.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise sa.exc.DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        raise sa.exc.DisconnectionError("the server closed the connection while it was idle")


def _json_text(value: object) -> str:
    """jsonb parameters as JSON text; Decimal numbers keep every digit."""
    return orjson.dumps(value, default=_exact_decimal).decode()


def _exact_decimal(value: object) -> object:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value)) if value.is_finite() else str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _infinity_aware(loader: type) -> type:
    """A date/timestamp loader that returns 'infinity' and '-infinity' as text, not an error.

    It wraps psycopg's loader instead of subclassing it: the C loaders cannot be subclassed,
    and the pure-Python ones cost a tenth of a request's time.
    """

    class InfinityAware(Loader):
        def __init__(self, oid: int, context=None):
            super().__init__(oid, context)
            self._load = loader(oid, context).load

        def load(self, data):
            # Only infinity ends in a letter (checked on the last byte: this runs per value).
            if data[-1:] == b"y" and bytes(data) in (b"infinity", b"-infinity"):
                return bytes(data).decode()
            return self._load(data)

    InfinityAware.__name__ = f"InfinityAware{loader.__name__}"
    return InfinityAware


def _registered_loader(type_name: str) -> type:
    """psycopg's own text loader for a type: the C one when psycopg's binary package is in."""
    return psycopg.adapters.get_loader(psycopg.adapters.types[type_name].oid, Format.TEXT)


_LOADERS = {
    "date": _infinity_aware(_registered_loader("date")),
    "timestamp": _infinity_aware(_registered_loader("timestamp")),
    "timestamptz": _infinity_aware(_registered_loader("timestamptz")),
    "interval": _registered_loader("text"),
}


def _register_loaders(dbapi_connection, connection_record) -> None:
    """Per connection: PostgreSQL values Python's types cannot hold still load."""
    for type_name, loader in _LOADERS.items():
        dbapi_connection.adapters.register_loader(type_name, loader)


def check_reachable(engine: Engine) -> None:
    """Open one connection, or raise DatabaseUnreachable naming where and why."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.DBAPIError as exc:
        reason = first_line(exc.orig or exc)
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnreachable(f"cannot connect to the database at {where}: {reason}") from exc


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an error message, which names the problem."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
