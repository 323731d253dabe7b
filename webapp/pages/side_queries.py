"""Side queries of the HTML pages (counts, labels, references), each time-boxed.

A page must never wait on, or fail because of, a query that only decorates it. Each side
query runs in a savepoint with its own `statement_timeout`; a timeout or a missing
permission rolls back just that savepoint and becomes a note on the page ("count timed
out") while the rest of the page renders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import sqlalchemy as sa

from db.catalog import Relation
from db.session import Session

from ..config import Settings
from ..errors import RequestTimeout, past_deadline
from ..pipeline.counts import capped_count, estimated_count, exact_count

T = TypeVar("T")

# SQLSTATEs a side query may end with without failing the page.
_TOLERATED = {
    "57014": "timed out",  # query_canceled: statement_timeout
    "42501": "not permitted",  # insufficient_privilege: the role may not read it
}

TIMEOUT_ONLY = {"57014": "timed out"}  # a page's own rows: anything else answers as the API does

_SET_TIMEOUT = sa.text("SELECT set_config('statement_timeout', :ms, true)")


@dataclass(frozen=True)
class PageLimits:
    """The limits that keep a page's queries cheap (PAGE_* settings)."""

    page_ms: int
    side_ms: int
    count_limit: int
    max_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> PageLimits:
        """The limits configured for this app."""
        return cls(
            settings.page_timeout_ms,
            settings.side_timeout_ms,
            settings.count_limit,
            settings.page_max_size,
        )


@dataclass(frozen=True)
class Boxed(Generic[T]):
    """A side query's result, or why there is none."""

    value: T | None
    problem: str | None = None


def time_boxed(
    run: Callable[[], T], timeout_ms: int, tolerate: Mapping[str, str] = _TOLERATED
) -> Boxed[T]:
    """Run a read-only query under its own time limit; a timeout becomes Boxed(problem=...).

    tolerate maps the SQLSTATEs that become a problem to its words; others are raised.
    """
    savepoint = Session.begin_nested()
    try:
        Session.execute(_SET_TIMEOUT, {"ms": str(timeout_ms)})
        return Boxed(run())
    except (sa.exc.DBAPIError, RequestTimeout) as exc:
        timed_out = past_deadline(exc)
        sqlstate = timed_out.code if timed_out else getattr(exc.orig, "sqlstate", None)
        if sqlstate not in tolerate:
            raise
        return Boxed(None, timed_out.problem if timed_out else tolerate[sqlstate])
    finally:
        # Rolled back even on success: the SET LOCAL goes with it, and nothing was written.
        if savepoint.is_active:
            savepoint.rollback()


@dataclass(frozen=True)
class Count:
    """What a page says about its number of rows."""

    estimate: int | None  # the planner's, never a scan
    exact: int | None = None  # known exactly (capped count under the limit, or asked for)
    more_than: int | None = None  # the capped count reached its limit
    problem: str | None = None  # "timed out", "not permitted"


def count_rows(
    relation: Relation, selected: sa.Select, filtered: bool, *, exact: bool, limits: PageLimits
) -> Count:
    """The estimate plus either an exact count (asked for) or a count capped at the limit."""
    connection = Session.connection()
    estimate = time_boxed(
        lambda: estimated_count(connection, relation, selected, filtered), limits.side_ms
    )
    if exact:
        counted = time_boxed(lambda: exact_count(connection, selected), limits.page_ms)
        return Count(estimate.value, exact=counted.value, problem=counted.problem)
    cap = limits.count_limit
    counted = time_boxed(lambda: capped_count(connection, selected, cap), limits.side_ms)
    if counted.value is not None and counted.value > cap:
        return Count(estimate.value, more_than=cap)
    return Count(estimate.value, exact=counted.value, problem=counted.problem)
