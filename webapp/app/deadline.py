"""The request deadline (REQUEST_TIMEOUT): no request's database work outlives it.

`statement_timeout` bounds each statement; a request may run many (one per embed and
level, counts, labels), so the deadline bounds them together. Before each statement of
a request, the time left is compared with the connection's own `statement_timeout`
(DB_STATEMENT_TIMEOUT): while more is left, nothing is sent; once less is left, the
statement is preceded by `set_config('statement_timeout', <time left>, true)`, a SET LOCAL
that lowers it (never raises it: a page's side query keeps its shorter limit). PostgreSQL
itself then cancels the statement at the deadline, and SET LOCAL ends with the
transaction, so no connection goes back to the pool changed or mid-statement. A statement
due after the deadline is not sent at all.

Past the deadline the answer is a 504 naming REQUEST_TIMEOUT. Health checks have no deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, g, has_app_context, request

from ..errors import RequestTimeout

# Lower, never raise: a shorter limit already set in this transaction (or savepoint) stays.
_LOWER = (
    "SELECT set_config('statement_timeout', %s, true)"
    " WHERE current_setting('statement_timeout')::interval = interval '0'"
    " OR current_setting('statement_timeout')::interval > %s * interval '1 millisecond'"
)
# Statements that restore a transaction's state: always sent, whatever the time.
_BOOKKEEPING = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
_NO_DEADLINE = ("health",)  # blueprints whose requests have no deadline


@dataclass(frozen=True)
class Deadline:
    """When one request's database work must end, and the limits it is measured against."""

    at: float  # time.monotonic()
    timeout_ms: int  # REQUEST_TIMEOUT
    statement_ms: int  # DB_STATEMENT_TIMEOUT: the connection's own limit (0: none)

    @classmethod
    def starting_now(cls, timeout_ms: int, statement_ms: int) -> Deadline:
        """A deadline timeout_ms from now."""
        return cls(time.monotonic() + timeout_ms / 1000, timeout_ms, statement_ms)

    def left_ms(self) -> int:
        """Whole milliseconds left, rounded up (so a statement is never cut before the deadline)."""
        return math.ceil((self.at - time.monotonic()) * 1000)

    @property
    def passed(self) -> bool:
        """True once the deadline is behind us."""
        return time.monotonic() >= self.at

    def bound(self, dbapi_connection) -> None:
        """Before a statement: lower its statement_timeout to the time left; past it, refuse it."""
        left = self.left_ms()
        if left <= 0:
            raise RequestTimeout(self.timeout_ms)
        if self.statement_ms and left >= self.statement_ms:
            return  # the connection's own limit ends the statement first: nothing to send
        dbapi_connection.execute(_LOWER, (str(left), left))


def current_deadline() -> Deadline | None:
    """The deadline of the request being handled, if it has one."""
    return g.get("deadline") if has_app_context() else None


def install(app: Flask, engines: Iterable[sa.Engine]) -> None:
    """Start each request's deadline, and bound every statement a request runs by it."""
    settings = app.extensions["pgfront"].settings
    if not settings.request_timeout_ms:
        return

    @app.before_request
    def start_deadline() -> None:
        if request.blueprint not in _NO_DEADLINE:
            g.deadline = Deadline.starting_now(
                settings.request_timeout_ms, settings.statement_timeout_ms
            )

    def before_statement(conn, cursor, statement, parameters, context, executemany) -> None:
        deadline = current_deadline()
        if deadline is not None and not statement.startswith(_BOOKKEEPING):
            # The DBAPI connection, not the cursor: that may be a server-side (named) one.
            deadline.bound(cursor.connection)

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", before_statement)
