"""Counting a read's rows, every way the app counts: exact, capped, planned and estimated.

Each takes the connection to count on (the request's Session connection, so a count runs
in the read's own transaction and savepoints) and the statement whose rows it counts;
none imports Flask. The API's `count=exact|planned|estimated` (PostgREST's rule), the
table page's estimate and capped count, `paginate(count=True)` and the row page's
"referenced by" counts all come from here.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from db.catalog import Relation

# The statistics' row counts of a schema's relations (or of one), NULL when unknown: a view,
# or never analyzed (reltuples -1). A partitioned table's rows are in its leaf partitions,
# counted once any of them has been analyzed.
_STATISTICS_ROWS = sa.text(
    """
    SELECT n.nspname AS schema, c.relname AS name, nullif(greatest(
             CASE WHEN c.relkind = 'v' THEN NULL
                  WHEN c.relkind = 'p' AND c.reltuples < 0
                  THEN (SELECT CASE WHEN bool_or(p.reltuples >= 0)
                                    THEN sum(greatest(p.reltuples, 0)) ELSE -1 END
                        FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid
                        WHERE t.isleaf)
                  ELSE c.reltuples END::bigint,
             -1), -1) AS estimate
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(:schemas) AND (CAST(:name AS text) IS NULL OR c.relname = :name)
    """
)


def count_select(stmt: sa.Select, cap: int | None = None) -> sa.Select:
    """SELECT count(*) over a read's rows (order dropped), counting at most cap rows if given."""
    inner = stmt.order_by(None)
    if cap is not None:
        inner = inner.limit(cap)
    return sa.select(sa.func.count()).select_from(inner.subquery("counted"))


def exact_count(connection: sa.Connection, stmt: sa.Select) -> int:
    """COUNT(*) over every row of the statement."""
    return connection.execute(count_select(stmt)).scalar_one()


def capped_count(connection: sa.Connection, stmt: sa.Select, cap: int) -> int:
    """COUNT(*) that stops after cap + 1 rows: a result above cap means "more than cap"."""
    return connection.execute(count_select(stmt, cap=cap + 1)).scalar_one()


def planned_count(connection: sa.Connection, stmt: sa.Select) -> int:
    """The planner's estimate of a statement's rows (EXPLAIN), never a scan."""
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    # The SQL text is SQLAlchemy's, built from catalog names; values stay bound parameters.
    plan = connection.exec_driver_sql(
        "EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params
    ).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


def statistics_counts(
    connection: sa.Connection, schemas: Iterable[str], name: str | None = None
) -> dict[tuple[str, str], int | None]:
    """Each relation's row count from its statistics (of the schemas, or the one named), by key."""
    params = {"schemas": list(schemas), "name": name}
    return {
        (row.schema, row.name): row.estimate for row in connection.execute(_STATISTICS_ROWS, params)
    }


def statistics_count(connection: sa.Connection, relation: Relation) -> int | None:
    """A table's row count from its statistics (reltuples); None for a view or before ANALYZE."""
    if relation.kind == "view":
        return None
    key = (relation.schema, relation.name)
    return statistics_counts(connection, [relation.schema], relation.name).get(key)


def estimated_count(
    connection: sa.Connection, relation: Relation, stmt: sa.Select, filtered: bool
) -> int:
    """The statistics' count of a whole table, else the planner's estimate of the read."""
    found = None if filtered else statistics_count(connection, relation)
    return found if found is not None else planned_count(connection, stmt)


def count_by_method(connection: sa.Connection, stmt: sa.Select, method: str, cap: int) -> int:
    """The total PostgREST's count=exact|planned|estimated asks for.

    estimated is exact while the rows are at most cap (the row cap), the planner's beyond.
    """
    if method == "exact":
        return exact_count(connection, stmt)
    if method == "estimated":
        capped = capped_count(connection, stmt, cap)
        if capped <= cap:
            return capped
    return planned_count(connection, stmt)
