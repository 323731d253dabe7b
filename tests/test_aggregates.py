"""Aggregates in select= (`count()`, `col.sum()`, avg, min, max), off unless AGGREGATES=true.

Derived from PostgREST's documentation (aggregate functions) and its
test/spec/Feature/Query/AggregateFunctionsSpec.hs: the other selected columns group the
rows, the key is the function's name or the alias, casts go before and after. Read on
tests/shapes' products (tests/shapes/002_shapes_data.sql), whose prices by category are:
1: 7, 3, 4, 6, 8, 9, 10; 2: 0.0001, 1.5, 2; 3: 129.99, 0; 4: 5; none: NULL.
Bodies are compared byte for byte where numeric digits matter.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import sqlalchemy as sa


@pytest.fixture(scope="module")
def aggregating(make_app, shapes_database_url):
    """A client of the shapes database with AGGREGATES=true."""
    app = make_app(
        keep=True,
        DATABASE_URL=shapes_database_url.render_as_string(hide_password=False),
        DB_SCHEMAS="warehouse,Ops Data",
        RELOAD_CHANNEL="",
        AGGREGATES="true",
    )
    return app.test_client()


def get(client, path: str, *params: tuple[str, str], **headers: str):
    """GET path with the query string params, encoded."""
    return client.get(f"{path}?{urlencode(params)}", headers=headers)


def body(client, path: str, *params: tuple[str, str]) -> str:
    """The exact JSON text of a successful request."""
    response = get(client, path, *params)
    assert response.status_code == 200, response.json
    return response.get_data(as_text=True)


def test_aggregates_are_off_unless_enabled(shapes_client):
    response = get(shapes_client, "/api/products", ("select", "count()"))
    assert response.status_code == 400
    assert response.json == {
        "code": "PGRST123",
        "message": "Use of aggregate functions is not allowed",
        "details": None,
        "hint": "the server enables them with AGGREGATES=true",
    }
    embedded = get(shapes_client, "/api/categories", ("select", "id,products(price.sum())"))
    assert embedded.status_code == 400 and embedded.json["code"] == "PGRST123"


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("count()", '[{"count":14}]'),
        ("cnt:count()", '[{"cnt":14}]'),
        ("count()::text", '[{"count":"14"}]'),
        ("price.count()", '[{"count":13}]'),  # NULL prices are not counted
        ("price.sum()", '[{"sum":185.4901}]'),
        ("price.max(),price.min()", '[{"max":129.9900,"min":0.0000}]'),
        ("available_on.max()", '[{"max":"2025-12-31"}]'),
        ("attributes->specs->>voltage::int.sum()", '[{"sum":18}]'),
        ("s:attributes->specs->>voltage::integer.sum()::text", '[{"s":"18"}]'),
    ],
)
def test_aggregates_over_every_row(aggregating, select, expected):
    assert body(aggregating, "/api/products", ("select", select)) == expected


def test_the_other_columns_group_the_rows(aggregating):
    assert body(
        aggregating,
        "/api/products",
        ("select", "category_id,c:count()"),
        ("order", "category_id.nullsfirst"),
    ) == (
        '[{"category_id":null,"c":1},{"category_id":1,"c":7},{"category_id":2,"c":3},'
        '{"category_id":3,"c":2},{"category_id":4,"c":1}]'
    )
    assert body(
        aggregating,
        "/api/products",
        ("select", "price.sum(),price.max(),price.min(),cat:category_id"),
        ("category_id", "in.(2,3)"),
        ("order", "category_id.desc"),
    ) == (
        '[{"sum":129.9900,"max":129.9900,"min":0.0000,"cat":3},'
        '{"sum":3.5001,"max":2.0000,"min":0.0001,"cat":2}]'
    )


def test_avg_keeps_postgresql_s_digits(aggregating):
    assert (
        body(aggregating, "/api/products", ("select", "price.avg()"), ("category_id", "eq.3"))
        == '[{"avg":64.9950000000000000}]'
    )


def test_an_aggregate_renamed_and_cast(aggregating):
    assert (
        body(
            aggregating,
            "/api/products",
            ("select", "total:price.sum()::text,category_id"),
            ("category_id", "eq.3"),
        )
        == '[{"total":"129.9900","category_id":3}]'
    )


def test_filters_apply_before_grouping(aggregating):
    assert body(aggregating, "/api/products", ("select", "count()"), ("tags", "cs.{tools}")) == (
        '[{"count":1}]'
    )


def test_a_count_of_groups(aggregating):
    response = get(
        aggregating, "/api/products", ("select", "category_id,count()"), Prefer="count=exact"
    )
    assert response.status_code == 200
    assert response.headers["Content-Range"] == "0-4/5"
    assert "X-Next-Cursor" not in response.headers  # groups have no key to continue after


def test_aggregates_inside_an_embed(aggregating):
    assert body(
        aggregating,
        "/api/categories",
        ("select", "id,products(price.sum(),count())"),
        ("order", "id"),
    ) == (
        '[{"id":1,"products":[{"sum":47.0000,"count":7}]},'
        '{"id":2,"products":[{"sum":3.5001,"count":3}]},'
        '{"id":3,"products":[{"sum":129.9900,"count":2}]},'
        '{"id":4,"products":[{"sum":5.0000,"count":1}]}]'
    )


def test_an_embedded_parent_groups_too(aggregating):
    assert body(
        aggregating,
        "/api/products",
        ("select", "category_id,count(),categories(name)"),
        ("category_id", "in.(3,4)"),
        ("order", "category_id"),
    ) == (
        '[{"category_id":3,"count":2,"categories":{"name":"Drills \\"pro\\" \'quoted\'"}},'
        '{"category_id":4,"count":1,"categories":{"name":"שלום קטגוריה 👩‍💻"}}]'
    )


@pytest.mark.parametrize(
    ("select", "status", "code", "fragment"),
    [
        ("sum()", 400, "PGRST100", "sum() needs a column, as in select=price.sum()"),
        ("price.sum()::", 400, "PGRST100", "malformed aggregate"),
        ("price.sum()::fake", 400, "42704", 'type "fake" does not exist'),
        ("nope.sum()", 400, "42703", "nope"),
        ("name.sum()", 404, "42883", "function sum(text) does not exist"),
    ],
)
def test_aggregate_errors(aggregating, select, status, code, fragment):
    response = get(aggregating, "/api/products", ("select", select))
    assert (response.status_code, response.json["code"]) == (status, code)
    assert fragment in response.json["message"]


def test_table_pages_never_aggregate(aggregating):
    page = aggregating.get("/browse/warehouse/products?select=count()")
    assert page.status_code == 400
    assert "Use of aggregate functions is not allowed" in page.get_data(as_text=True)


def test_an_aggregate_through_a_junction_table_is_refused(make_app):
    client = make_app(AGGREGATES="true").test_client()
    response = client.get("/api/books?select=title,members(count())&limit=1")
    assert response.status_code == 400
    assert response.json["message"] == (
        "aggregates in members, embedded through a junction table, are not supported"
    )


def test_the_api_reference_examples_on_the_sample(make_app, engine):
    """docs/api.md's aggregate examples, checked against PostgreSQL's own GROUP BY."""
    client = make_app(AGGREGATES="true").test_client()
    by_genre = client.get("/api/books?select=genre,count(),pages.avg()&order=genre")
    with engine.connect() as conn:
        expected = conn.execute(
            sa.text(
                "SELECT genre::text, count(*) FROM books GROUP BY books.genre ORDER BY books.genre"
            )
        ).all()
    assert [(row["genre"], row["count"]) for row in by_genre.json] == [tuple(r) for r in expected]
    totals = client.get(
        "/api/books?select=total:price.sum()::text,details->publisher->>name::text.count()"
    )
    assert list(totals.json[0]) == ["total", "count"] and len(totals.json) == 1
    authors = client.get("/api/authors?select=name,books(count(),pages.max())&limit=5")
    assert authors.status_code == 200
    assert all(len(row["books"]) <= 1 for row in authors.json)
    assert all(group["count"] >= 1 for row in authors.json for group in row["books"])
