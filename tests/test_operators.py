"""PostgREST's filter operators beyond eq/like/in: each case a request and its exact answer.

Derived from PostgREST's documentation (API reference, operators and full-text search) and
its test/spec/Feature/Query/QuerySpec.hs. Most cases read tests/shapes' products, whose rows
are hand-written (tests/shapes/002_shapes_data.sql): tags text[], pack_sizes int4range,
search a tsvector (simple configuration) over name, attributes jsonb. Rows come back in
barcode order, which is insertion order.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

HOSTILE_SKU = "AB/12 ?size=L&colour=red#2 + 50%, final"
RTL_SKU = "שלום-👩‍💻"


def skus(client, *params: tuple[str, str]) -> list[str]:
    """The skus of the products a filter selects, in barcode order (a 200 is asserted)."""
    query = urlencode([*params, ("select", "sku"), ("order", "barcode")])
    response = client.get(f"/api/products?{query}")
    assert response.status_code == 200, response.json
    assert response.headers["Content-Type"].startswith("application/json")
    return [row["sku"] for row in response.json]


def error(client, path: str, *params: tuple[str, str]) -> tuple[int, dict]:
    """Status and JSON body of a request expected to fail."""
    response = client.get(f"{path}?{urlencode(params)}")
    return response.status_code, response.json


# --- arrays --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ((("tags", "cs.{tools}"),), ["DRILL-100"]),
        ((("tags", "cs.{tools,power}"),), ["DRILL-100"]),
        ((("tags", "cs.{tools,saws}"),), []),
        (
            (("tags", "cd.{tools,power,saws}"),),
            ["DRILL-100", "XSS-2", "JSON-1", "  padded sku  ", "not.eq.null", "DISC-1", "NULLS"],
        ),
        ((("tags", "ov.{power,שלום}"),), ["DRILL-100", RTL_SKU]),
        ((("tags", 'cs.{"a,b"}'),), [HOSTILE_SKU]),
        ((("tags", "not.ov.{tools}"), ("tags", "cs.{שלום}")), [RTL_SKU]),
    ],
)
def test_array_operators(shapes_client, params, expected):
    assert skus(shapes_client, *params) == expected


# --- ranges: DRILL-100 [1,10), AB (,5] = (,6), XSS-1 [12,), RTL [5,6] = [5,7), DISC-1 empty ---


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("cs.[2,4)", ["DRILL-100", HOSTILE_SKU]),
        ("cd.[0,20)", ["DRILL-100", RTL_SKU, "DISC-1"]),
        ("ov.[6,7)", ["DRILL-100", RTL_SKU]),
        ("sl.[10,20)", ["DRILL-100", HOSTILE_SKU, RTL_SKU]),
        ("sr.[0,3)", ["XSS-1", RTL_SKU]),
        ("nxr.[0,6)", [HOSTILE_SKU]),
        ("nxl.[5,100)", ["XSS-1", RTL_SKU]),
        ("adj.[10,12)", ["DRILL-100", "XSS-1"]),
        ("not.adj.[10,12)", [HOSTILE_SKU, RTL_SKU, "DISC-1"]),
    ],
)
def test_range_operators(shapes_client, filter_, expected):
    assert skus(shapes_client, ("pack_sizes", filter_)) == expected


def test_a_malformed_range_is_postgresql_s_400(shapes_client):
    status, body = error(shapes_client, "/api/products", ("pack_sizes", "ov.[1,"))
    assert status == 400
    assert body["code"] == "22P02"
    assert body["message"].startswith('malformed range literal: "[1,"')


# --- is, isdistinct ------------------------------------------------------------------------


def test_is_not_null_and_is_unknown(shapes_client):
    assert skus(shapes_client, ("pack_sizes", "is.not_null")) == [
        "DRILL-100",
        HOSTILE_SKU,
        "XSS-1",
        RTL_SKU,
        "DISC-1",
    ]
    assert skus(shapes_client, ("pack_sizes", "is.NOT_NULL")) == skus(
        shapes_client, ("pack_sizes", "not.is.null")
    )
    assert skus(shapes_client, ("discontinued", "is.unknown")) == []
    status, body = error(shapes_client, "/api/products", ("sku", "is.nil"))
    assert status == 400 and body["code"] == "PGRST100"
    assert "null, not_null, true, false or unknown" in body["message"]


def test_isdistinct_keeps_nulls_that_neq_drops(shapes_client):
    distinct = skus(shapes_client, ("category_id", "isdistinct.1"))
    assert distinct == ["DRILL-100", HOSTILE_SKU, "XSS-1", "XSS-2", RTL_SKU, "DISC-1", "NULLS"]
    assert skus(shapes_client, ("category_id", "neq.1")) == distinct[:-1]
    assert skus(shapes_client, ("category_id", "not.isdistinct.3")) == ["DRILL-100", "DISC-1"]


def test_isdistinct_converts_its_value_to_the_column_type(shapes_client):
    status, body = error(shapes_client, "/api/products", ("category_id", "isdistinct.two"))
    assert status == 400
    assert body["code"] == "PGRST100"
    assert "'two' is not an integer, as column 'category_id' requires" in body["message"]


# --- match, imatch -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("match.drill$", ["DISC-1"]),
        ("match.^Cord", ["DRILL-100"]),
        ("match.DRILL", []),
        ("imatch.DRILL", ["DRILL-100", "DISC-1"]),
        ("imatch.^(ten|json) ", ["LONG", "JSON-1"]),
        ("not.match.^[A-Za-z<]", ["XSS-2", "QUOTES"]),
    ],
)
def test_match_and_imatch_are_posix_regular_expressions(shapes_client, filter_, expected):
    assert skus(shapes_client, ("name", filter_)) == expected


def test_match_on_a_column_that_is_not_text_matches_its_text(shapes_client):
    assert skus(shapes_client, ("price", "match.^129\\.")) == ["DRILL-100"]


def test_an_invalid_regular_expression_is_postgresql_s_400(shapes_client):
    status, body = error(shapes_client, "/api/products", ("name", "match.(unclosed"))
    assert status == 400
    assert body["code"] == "2201B"
    assert body["message"].startswith("invalid regular expression")


def test_a_regular_expression_is_a_value_never_sql(shapes_client):
    hostile = "'; DROP TABLE warehouse.products; --"
    assert skus(shapes_client, ("name", f"match.{hostile}")) == []
    assert len(skus(shapes_client)) == 14


# --- any / all -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ((("sku", "eq(any).{DRILL-100,CTRL}"),), ["DRILL-100", "CTRL"]),
        ((("sku", 'eq(any).{"AB/12 ?size=L&colour=red#2 + 50%, final"}'),), [HOSTILE_SKU]),
        ((("sku", "eq(any).{}"),), []),
        ((("price", "gt(all).{5,7}"),), ["DRILL-100", "JSON-1", "  padded sku  ", "not.eq.null"]),
        ((("price", "lt(any).{1,2}"),), [HOSTILE_SKU, "XSS-1", "DISC-1"]),
        ((("price", "gte(all).{}"), ("category_id", "eq.4")), [RTL_SKU]),
        ((("name", "like(all).{*drill*,D*}"),), ["DISC-1"]),
        ((("name", "ilike(any).{*DRILL*,ten*}"),), ["DRILL-100", "LONG", "DISC-1"]),
        ((("name", "imatch(any).{^cord,^disc}"),), ["DRILL-100", "DISC-1"]),
        (
            (("name", "not.ilike(any).{*drill*,*key*,*script*}"),),
            ["XSS-2", "TMPL-1", "QUOTES", "CTRL", RTL_SKU, "LONG", "NULLS"],
        ),
    ],
)
def test_any_and_all(shapes_client, params, expected):
    assert skus(shapes_client, *params) == expected


@pytest.mark.parametrize(
    ("filter_", "fragment"),
    [
        ("neq(any).{1,2}", "(any) and (all) go with eq, gt, gte, ilike, imatch, like, lt, lte"),
        ("cs(any).{1}", "(any) and (all) go with"),
        ("eq(some).{1}", "(any) and (all) go with"),
        ("eq(any).1,2", "must be in braces"),
        ("eq(any).{1,two}", "'two' is not an integer, as column 'category_id' requires"),
    ],
)
def test_any_and_all_refuse_what_postgrest_refuses(shapes_client, filter_, fragment):
    status, body = error(shapes_client, "/api/products", ("category_id", filter_))
    assert status == 400
    assert body["code"] == "PGRST100"
    assert fragment in body["message"]


# --- full-text search ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "filter_", "expected"),
    [
        ("search", "fts.drill", ["DRILL-100", "DISC-1"]),
        ("search", "fts.drill%26!cordless", ["DISC-1"]),
        ("search", "fts.cordless|ten", ["DRILL-100", "LONG"]),
        ("search", "plfts.Cordless Drill", ["DRILL-100"]),
        ("search", "phfts.drill 18v", ["DRILL-100"]),
        ("search", "phfts.18v drill", []),
        ("search", "wfts.drill -cordless", ["DISC-1"]),
        ("search", 'wfts."cordless drill" or thousand', ["DRILL-100", "LONG"]),
        ("search", "fts(simple).drill", ["DRILL-100", "DISC-1"]),
        # On text, as PostgREST: to_tsvector(config, name); english stems "drills" to drill.
        ("name", "fts(english).drills", ["DRILL-100", "DISC-1"]),
        ("name", "plfts(english).characters", ["LONG"]),
        ("name", "not.wfts(english).drill or key or script", None),
        # On jsonb: the string values are the document.
        ("attributes", "fts(simple).acme", ["DRILL-100"]),
        ("raw_feed", "plfts(simple).acme", ["DRILL-100"]),
    ],
)
def test_full_text_search(shapes_client, column, filter_, expected):
    found = skus(shapes_client, (column, filter_.replace("%26", "&")))
    if expected is None:  # negated: every row the positive filter does not select
        positive = skus(shapes_client, (column, filter_.removeprefix("not.")))
        assert found and not set(found) & set(positive)
        assert len(found) + len(positive) == 14
    else:
        assert found == expected


def test_full_text_search_inside_a_logic_tree(shapes_client):
    tree = "(search.phfts(simple).drill 18v,name.fts(english).thousands,sku.eq(any).{CTRL,XSS-2})"
    assert skus(shapes_client, ("or", tree)) == ["DRILL-100", "XSS-2", "CTRL", "LONG"]


@pytest.mark.parametrize(
    ("filter_", "status", "code", "fragment"),
    [
        ("fts(klingon).drill", 400, "42704", 'text search configuration "klingon" does not exist'),
        ("fts(eng lish).drill", 400, "PGRST100", "name a text search configuration"),
        ("fts.drill &", 400, "42601", "no operand in tsquery"),
    ],
)
def test_full_text_search_errors(shapes_client, filter_, status, code, fragment):
    answer_status, body = error(shapes_client, "/api/products", ("search", filter_))
    assert (answer_status, body["code"]) == (status, code)
    assert fragment in body["message"]


def test_full_text_search_refuses_a_column_that_holds_no_text(shapes_client):
    status, body = error(shapes_client, "/api/products", ("price", "fts.drill"))
    assert status == 400
    assert body == {
        "code": "PGRST100",
        "message": "fts on 'price' (numeric(12,4)): full-text search takes a tsvector, text or"
        " json"
        " column",
        "details": None,
        "hint": None,
    }


def test_full_text_search_on_the_sample_books(client, db_connection):
    """The sample's books.search is to_tsvector('english', title): fts and title agree."""
    expected = db_connection.execute(
        sa.text(
            "SELECT count(*) FROM books"
            " WHERE search @@ websearch_to_tsquery('english', 'house or garden')"
        )
    ).scalar()
    by_vector = client.get("/api/books?search=wfts(english).house or garden&select=id")
    by_title = client.get("/api/books?title=wfts(english).house or garden&select=id")
    assert by_vector.status_code == by_title.status_code == 200
    assert expected > 0
    assert len(by_vector.json) == len(by_title.json) == expected


# --- where filters are read: embeds, logic trees, pages, writes ------------------------------


def test_operators_filter_embedded_rows(shapes_client):
    response = shapes_client.get(
        "/api/categories?select=id,products(sku)&id=in.(2,3)&order=id"
        "&products.tags=ov.{tools,<script>alert(1)</script>}"
    )
    assert response.status_code == 200
    assert response.json == [
        {"id": 2, "products": [{"sku": "XSS-1"}]},
        {"id": 3, "products": [{"sku": "DRILL-100"}]},
    ]


def test_list_values_keep_their_commas_in_logic_trees(shapes_client):
    tree = '(sku.eq(any).{CTRL,LONG},tags.cs.{tools,power},pack_sizes.adj."[12,20)")'
    assert skus(shapes_client, ("or", tree)) == ["DRILL-100", "CTRL", "LONG"]


def test_operators_work_on_a_table_page(shapes_client):
    page = shapes_client.get("/browse/warehouse/products?search=fts.drill&name=imatch.^disc")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Discontinued drill" in html
    assert "Cordless drill 18V" not in html
    listed = shapes_client.get("/browse/warehouse/products?tags=cs.{tools}&_format=json")
    assert listed.status_code == 200
    assert "Cordless drill 18V" in listed.get_data(as_text=True)
    assert "Discontinued drill" not in listed.get_data(as_text=True)


def test_a_bad_operator_on_a_page_is_a_clear_400(shapes_client):
    page = shapes_client.get("/browse/warehouse/products?sku=neq(any).{x}")
    assert page.status_code == 400
    assert "(any) and (all) go with" in page.get_data(as_text=True)


def test_operators_decide_an_inner_embed(shapes_client):
    response = shapes_client.get(
        "/api/categories?select=id,products!inner(sku)&products.search=wfts.drill -cordless"
    )
    assert response.status_code == 200
    assert response.json == [{"id": 3, "products": [{"sku": "DISC-1"}]}]
