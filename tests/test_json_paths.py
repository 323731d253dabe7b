"""JSON paths (`col->key->>key`, `->0`) and casts (`::type`) in select, filters and order.

Derived from PostgREST's documentation (JSON columns, casting columns) and its
test/spec/Feature/Query/JsonOperatorSpec.hs: a path's response key is its last key (an
index is not a key), or the alias; `->` gives JSON, `->>` text. Read on tests/shapes'
products (tests/shapes/002_shapes_data.sql): attributes jsonb, raw_feed json, tags text[].
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from catalogs import catalog_of
from sqlalchemy.dialects import postgresql
from werkzeug.datastructures import MultiDict

from webapp.pipeline.plan import Paging, plan_read
from webapp.pipeline.reads import parse_read
from webapp.pipeline.statement import select_for


def get(client, path: str, *params: tuple[str, str]):
    """GET path with the query string params, encoded."""
    return client.get(f"{path}?{urlencode(params)}")


def rows(client, *params: tuple[str, str]) -> list[dict]:
    """The products a request selects (a 200 is asserted)."""
    response = get(client, "/api/products", *params)
    assert response.status_code == 200, response.json
    return response.json


# --- select --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("select", "sku", "expected"),
    [
        ("attributes->>brand", "DRILL-100", {"brand": "Acme"}),
        (
            "attributes->specs",
            "DRILL-100",
            {"specs": {"voltage": 18, "chuck": {"mm": 13, "keyless": True}}},
        ),
        ("attributes->specs->voltage", "DRILL-100", {"voltage": 18}),
        ("attributes->specs->>voltage", "DRILL-100", {"voltage": "18"}),
        ("attributes->specs->chuck->>mm::int", "DRILL-100", {"mm": 13}),
        ("v:attributes->specs->>voltage::integer", "DRILL-100", {"v": 18}),
        ("attributes->nested->a->1->>b", "JSON-1", {"b": "{{ 7*7 }}"}),
        ("attributes->nested->a->0", "JSON-1", {"a": 1}),
        ("attributes->nested->a->-1", "JSON-1", {"a": None}),
        ("attributes->nested->a->>-3", "JSON-1", {"a": "1"}),
        ("attributes->missing->>deeper", "DRILL-100", {"deeper": None}),
        (
            "attributes->>specs::json",
            "DRILL-100",
            {"specs": {"voltage": 18, "chuck": {"mm": 13, "keyless": True}}},
        ),
        # json (not jsonb) keeps what the supplier sent; ->> reads the last of repeated keys.
        ("raw_feed->>ok", "DRILL-100", {"ok": "false"}),
        ("raw_feed->2->three", "AB/12 ?size=L&colour=red#2 + 50%, final", {"three": 3}),
        # Arrays and other types go through to_jsonb, as in PostgREST.
        ("tags->0", "DRILL-100", {"tags": "tools"}),
        ("second:tags->>1", "DRILL-100", {"second": "power"}),
        ("bin_counts->1->>0::int", "DISC-1", {"bin_counts": 3}),
        ("attributes->שלום", "שלום-👩‍💻", {"שלום": "👩‍💻"}),
    ],
)
def test_select_a_json_path(shapes_client, select, sku, expected):
    assert rows(shapes_client, ("select", select), ("sku", f"eq.{sku}")) == [expected]


def test_json_paths_next_to_columns_and_renames(shapes_client):
    found = rows(
        shapes_client,
        ("select", "sku,brand:attributes->>brand,attributes->specs->voltage,price::text"),
        ("sku", "in.(DRILL-100,DISC-1)"),
        ("order", "barcode"),
    )
    assert found == [
        {"sku": "DRILL-100", "brand": "Acme", "voltage": 18, "price": "129.9900"},
        {"sku": "DISC-1", "brand": None, "voltage": None, "price": "0.0000"},
    ]


def test_two_paths_with_the_same_last_key_need_an_alias(shapes_client):
    response = get(shapes_client, "/api/products", ("select", "attributes->a,raw_feed->a"))
    assert response.status_code == 400
    assert response.json["code"] == "PGRST100"
    assert "select names 'a' more than once" in response.json["message"]


# --- casts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("price::text", {"price": "129.9900"}),
        ("p:price::int", {"p": 130}),
        ("category_id::bigint", {"category_id": 3}),
        ("available_on::timestamp", {"available_on": "2024-02-01T00:00:00"}),
        ("discontinued::text", {"discontinued": "false"}),
        ("barcode::numeric", {"barcode": 2000000000015}),
        ("price::double precision", {"price": 129.99}),
        ("PRICE::TEXT", None),
    ],
)
def test_casts_in_select(shapes_client, select, expected):
    response = get(shapes_client, "/api/products", ("select", select), ("sku", "eq.DRILL-100"))
    if expected is None:  # names are case-sensitive, type names are not
        assert response.status_code == 400 and response.json["code"] == "42703"
        return
    assert response.status_code == 200, response.json
    assert response.json == [expected]


def test_a_type_not_on_the_list_is_postgrest_s_42704(shapes_client):
    response = get(shapes_client, "/api/products", ("select", "sku::fakecolumntype"))
    assert response.status_code == 400
    body = response.json
    assert (body["code"], body["message"], body["details"]) == (
        "42704",
        'type "fakecolumntype" does not exist',
        None,
    )
    assert "text" in body["hint"] and "jsonb" in body["hint"]


@pytest.mark.parametrize(
    "cast", ["text); DROP TABLE x; --", "int[]", "pg_catalog.text", "regclass"]
)
def test_request_text_never_names_a_type_in_sql(shapes_client, cast):
    response = get(shapes_client, "/api/products", ("select", f"sku::{cast}"))
    assert response.status_code == 400
    assert response.json["code"] in ("42704", "PGRST100")


def test_a_cast_the_data_does_not_fit_is_postgresql_s_400(shapes_client):
    response = get(
        shapes_client,
        "/api/products",
        ("select", "attributes->>brand::integer"),
        ("sku", "eq.DRILL-100"),
    )
    assert response.status_code == 400
    assert response.json == {
        "code": "22P02",
        "message": 'invalid input syntax for type integer: "Acme"',
        "details": None,
        "hint": None,
    }


# --- filters -------------------------------------------------------------------------------


def skus(client, *params: tuple[str, str]) -> list[str]:
    """The skus a filter selects, in barcode order."""
    return [row["sku"] for row in rows(client, *params, ("select", "sku"), ("order", "barcode"))]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ((("attributes->>brand", "eq.Acme"),), ["DRILL-100"]),
        ((("attributes->>brand", "not.eq.Acme"),), []),  # NULL is neither
        ((("attributes->specs->voltage", "eq.18"),), ["DRILL-100"]),  # jsonb = jsonb
        (
            (("attributes->specs", 'eq.{"chuck": {"mm": 13, "keyless": true}, "voltage": 18}'),),
            ["DRILL-100"],
        ),
        ((("attributes->specs->chuck->>keyless", "eq.true"),), ["DRILL-100"]),
        ((("attributes->>note", "like.*script*"),), ["XSS-1"]),
        ((("attributes->note", "ilike.*SCRIPT*"),), ["XSS-1"]),
        (
            (("attributes->>percent", "match.^[0-9]+%$"),),
            ["AB/12 ?size=L&colour=red#2 + 50%, final"],
        ),
        ((("attributes->nested->a->>0", "in.(1,2)"),), ["JSON-1"]),
        # JSON's null is not SQL's NULL: only a missing key or element is NULL.
        (
            (("attributes->nested->a->-1", "is.null"), ("attributes->nested", "is.not_null")),
            ["שלום-👩‍💻"],
        ),
        ((("attributes->>template", "is.not_null"),), ["TMPL-1"]),
        ((("attributes->specs", 'cs.{"voltage": 18}'),), ["DRILL-100"]),
        ((("raw_feed->>feed", "eq.acme"),), ["DRILL-100"]),
        ((("tags->>0", "eq.tools"),), ["DRILL-100"]),
        ((("attributes->>brand", "eq(any).{Acme,Other}"),), ["DRILL-100"]),
        (
            (("or", "(attributes->>brand.eq.Acme,attributes->>template.like.*7*)"),),
            ["DRILL-100", "TMPL-1"],
        ),
    ],
)
def test_filter_on_a_json_path(shapes_client, params, expected):
    assert skus(shapes_client, *params) == expected


def test_a_json_path_filters_embedded_rows(shapes_client):
    response = shapes_client.get(
        "/api/categories?select=id,products(sku,brand:attributes->>brand)&id=eq.3"
        "&products.attributes->>brand=is.not_null"
    )
    assert response.status_code == 200
    assert response.json == [{"id": 3, "products": [{"sku": "DRILL-100", "brand": "Acme"}]}]


def test_a_json_path_in_a_to_one_embed(shapes_client):
    response = shapes_client.get(
        "/api/products?select=sku,categories(id::text,name)&sku=eq.DRILL-100"
    )
    assert response.status_code == 200
    assert response.json == [
        {"sku": "DRILL-100", "categories": {"id": "3", "name": "Drills \"pro\" 'quoted'"}}
    ]


def test_a_json_path_filters_a_table_page(shapes_client):
    page = shapes_client.get("/browse/warehouse/products?attributes->>brand=eq.Acme")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Cordless drill 18V" in html and "Discontinued drill" not in html


@pytest.mark.parametrize("query", ["order=attributes->>brand", "select=sku,attributes->>brand"])
def test_table_pages_sort_and_show_plain_columns(shapes_client, query):
    page = shapes_client.get(f"/browse/warehouse/products?{query}")
    assert page.status_code == 400
    assert "JSON paths" in page.get_data(as_text=True)


# --- order ---------------------------------------------------------------------------------


def test_order_by_a_json_path(shapes_client):
    found = rows(
        shapes_client,
        ("select", "sku"),
        ("attributes", "not.is.null"),
        (
            "order",
            "attributes->>percent.nullslast,attributes->specs->voltage.desc.nullslast,barcode",
        ),
        ("limit", "3"),
    )
    assert found == [
        {"sku": "AB/12 ?size=L&colour=red#2 + 50%, final"},
        {"sku": "DRILL-100"},
        {"sku": "XSS-1"},
    ]


def test_order_by_an_array_index(shapes_client):
    response = get(
        shapes_client,
        "/api/products",
        ("select", "sku,first:bin_counts->0"),
        ("bin_counts", "not.is.null"),
        ("order", "bin_counts->0.desc,sku"),
    )
    assert response.json == [
        {"sku": "XSS-1", "first": None},  # DESC puts NULLs first, as PostgreSQL does
        {"sku": "DISC-1", "first": [1, 2]},  # jsonb sorts arrays after numbers
        {"sku": "שלום-👩‍💻", "first": 7},
        {"sku": "DRILL-100", "first": 4},
        {"sku": "AB/12 ?size=L&colour=red#2 + 50%, final", "first": 1},
    ]


def test_an_order_by_a_json_path_offers_no_cursor(shapes_client):
    response = get(shapes_client, "/api/products", ("order", "attributes->>brand"), ("limit", "2"))
    assert response.status_code == 200
    assert len(response.json) == 2
    assert "X-Next-Cursor" not in response.headers


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ((("select", "attributes->"),), "empty name in the JSON path"),
        ((("select", "attributes->->a"),), "empty name in the JSON path"),
        ((("attributes->", "eq.1"),), "empty name in the JSON path"),
        ((("order", "attributes->>.desc"),), "empty name in the JSON path"),
        ((("select", "attributes->99999999999"),), "out of range"),
        ((("select", "sku::"),), "malformed name"),
        ((("select", "sku::text::int"),), "malformed name"),
    ],
)
def test_malformed_paths_and_casts_are_400s(shapes_client, params, fragment):
    response = get(shapes_client, "/api/products", *params)
    assert response.status_code == 400
    assert response.json["code"] == "PGRST100"
    assert fragment in response.json["message"]


def test_a_path_on_an_unknown_column_is_42703(shapes_client):
    response = get(shapes_client, "/api/products", ("select", "nope->>a"))
    assert response.status_code == 400
    assert response.json["code"] == "42703"


def test_the_api_reference_examples_on_the_sample(client, db_connection):
    """docs/api.md's examples: publisher names, awards, and a sort on a nested key."""
    response = client.get(
        "/api/books?select=title,details->publisher->>name,award:details->awards->0->>name"
        "&details->publisher->>city=eq.Dublin&limit=5"
    )
    assert response.status_code == 200
    assert len(response.json) == 5
    assert all(set(row) == {"title", "name", "award"} for row in response.json)
    assert all(row["name"] for row in response.json)  # every Dublin publisher has a name
    sorted_ = client.get(
        "/api/books?select=title,pages::text&order=details->publisher->>name.nullslast,title&limit=5"
    )
    first = db_connection.execute(
        sa.text(
            "SELECT title FROM books ORDER BY details->'publisher'->>'name' NULLS LAST, title LIMIT 5"
        )
    ).scalars()
    assert [row["title"] for row in sorted_.json] == list(first)
    assert all(row["pages"] is None or row["pages"].isdigit() for row in sorted_.json)


def test_no_request_text_reaches_the_sql():
    """Keys, indexes, regexes, configurations and list values are bound; casts come from a list."""
    hostile = "x'; DROP TABLE t; --"
    table = sa.Table(
        "t",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("doc", postgresql.JSONB),
        sa.Column("body", sa.Text),
        schema="s",
    )
    catalog = catalog_of(table)
    read = parse_read(
        MultiDict(
            [
                ("select", f"v:doc->{hostile}->>7::text,id::bigint"),
                (f"doc->>{hostile}", f"like(any).{{{hostile},b}}"),
                ("body", f"imatch.{hostile}"),
                ("or", f"(body.wfts(english).{hostile},doc->0.cs.{{}})"),
                ("order", f"doc->{hostile}.desc"),
            ]
        )
    )
    stmt = select_for(plan_read(catalog, catalog.relation("t", "s"), read, Paging(limit=5)))
    compiled = stmt.compile(dialect=postgresql.dialect())
    assert "DROP" not in str(compiled)
    assert hostile in compiled.params.values()
    assert "CAST(" in str(compiled) and "AS TEXT)" in str(compiled)
