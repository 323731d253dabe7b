"""webapp/pipeline/counts.py: the one counting module, on the sample database."""

import pytest
import sqlalchemy as sa

from webapp.pipeline.counts import (
    capped_count,
    count_by_method,
    estimated_count,
    exact_count,
    planned_count,
    statistics_count,
)
from webapp.state import current_catalog


@pytest.fixture
def counting(app, db_connection):
    """The books table, its view and a connection to count on."""
    db_connection.exec_driver_sql("ANALYZE books")
    with app.app_context():
        catalog = current_catalog()
        yield db_connection, catalog.relation("books", "public"), catalog


def _books(connection) -> int:
    return connection.exec_driver_sql("SELECT count(*) FROM books").scalar_one()


def test_exact_and_capped_counts_agree_below_the_cap(counting):
    connection, books, _ = counting
    stmt = sa.select(books.table)
    total = _books(connection)
    assert exact_count(connection, stmt) == total
    assert capped_count(connection, stmt, total + 10) == total
    # Past the cap the count stops one row beyond it: "more than cap".
    assert capped_count(connection, stmt, 2) == 3


def test_a_count_ignores_the_statement_order_and_honours_its_filter(counting):
    connection, books, _ = counting
    stmt = (
        sa.select(books.table).where(books.column("pages") <= 200).order_by(books.column("title"))
    )
    short = connection.exec_driver_sql("SELECT count(*) FROM books WHERE pages <= 200")
    assert exact_count(connection, stmt) == short.scalar_one()


def test_planned_and_statistics_counts_never_scan_but_see_the_table(counting):
    connection, books, catalog = counting
    stmt = sa.select(books.table)
    assert planned_count(connection, stmt) > 0
    assert statistics_count(connection, books) == _books(connection)  # analyzed just now
    views = [rel for rel in catalog.in_schema("public") if rel.kind == "view"]
    assert views and statistics_count(connection, views[0]) is None


def test_estimated_count_uses_statistics_unless_filtered(counting):
    connection, books, _ = counting
    stmt = sa.select(books.table).where(books.column("pages") <= 200)
    assert estimated_count(connection, books, stmt, filtered=False) == _books(connection)
    assert estimated_count(connection, books, stmt, filtered=True) == planned_count(
        connection, stmt
    )


def test_postgrest_estimated_is_exact_up_to_the_cap_then_planned(counting):
    connection, books, _ = counting
    stmt = sa.select(books.table)
    total = _books(connection)
    assert count_by_method(connection, stmt, "exact", 1) == total
    assert count_by_method(connection, stmt, "estimated", total) == total
    assert count_by_method(connection, stmt, "estimated", 1) == planned_count(connection, stmt)
    assert count_by_method(connection, stmt, "planned", total) == planned_count(connection, stmt)


@pytest.mark.parametrize(
    "schema, name, parent_analyzed",
    [
        ("reporting", "loan_events", True),
        ("reporting", "loan_events", False),
        ("public", "loans", True),
    ],
)
def test_the_index_the_structure_and_the_table_page_show_one_estimate(
    client, db_connection, schema, name, parent_analyzed
):
    if not parent_analyzed:  # autovacuum analyzes the partitions, never the partitioned parent
        db_connection.exec_driver_sql(
            f"UPDATE pg_class SET reltuples = -1 WHERE oid = '{schema}.{name}'::regclass"
        )
    index = client.get("/?_format=json").json
    [listed] = [
        rel
        for each in index["schemas"]
        if each["schema"] == schema
        for rel in each["relations"]
        if rel["name"] == name
    ]
    structure = client.get(f"/browse/{schema}/{name}/structure?_format=json").json
    table = client.get(f"/browse/{schema}/{name}?_format=json").json
    assert listed["estimated_rows"] is not None
    assert listed["estimated_rows"] == structure["estimated_rows"] == table["count"]["estimate"]
