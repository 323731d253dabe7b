"""The table page: filter builder, sort links, column picker, keyset paging, labels, counts."""

import contextlib
import html as htmllib
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    return htmllib.unescape(found[1]) if found else None


def row_ids(html: str, table: str = "loans") -> list[int]:
    return [int(n) for n in re.findall(rf"/{table}/row\?id=(\d+)", html)]


@pytest.mark.parametrize(
    ("op", "value", "written"),
    [
        ("eq", "7", "eq.7"),
        ("neq", "7", "neq.7"),
        ("gte", "7", "gte.7"),
        ("lt", "7", "lt.7"),
        ("contains", "ann", "ilike.*ann*"),
        ("excludes", "ann", "not.ilike.*ann*"),
        ("starts", "Ann", "ilike.Ann*"),
        ("in", "1, 2,3", 'in.("1","2","3")'),
        ("notin", "1,2", 'not.in.("1","2")'),
        ("null", "", "is.null"),
        ("notnull", "", "not.is.null"),
    ],
)
def test_filter_builder_redirects_to_the_api_grammar(client, op, value, written):
    response = client.get(
        "/browse/public/members?order=id&_fc=full_name&_fo="
        + op
        + "&_fv="
        + value
        + "&_fc=&_fo=eq&_fv=ignored"  # the blank row is dropped
    )
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/browse/public/members"
    assert parse_qsl(location.query, keep_blank_values=True) == [
        ("order", "id"),
        ("full_name", written),
    ]
    # The builder shows the filter it wrote, so submitting again keeps it.
    html = page(client, response.headers["Location"])
    assert f'<option value="{op}" selected>' in html


def test_builder_filters_agree_with_the_api(client):
    url = "/browse/public/members?_fc=full_name&_fo=starts&_fv=Carl&_fc=id&_fo=lt&_fv=900"
    target = client.get(url).headers["Location"]
    twin = client.get(target + "&_format=json&limit=500").get_json()
    api = client.get("/api/members?full_name=ilike.Carl*&id=lt.900&order=id").get_json()
    assert twin["rows"] == api and len(api) > 0


def test_sort_links_put_the_clicked_column_first_and_flip_it(client):
    html = page(client, "/browse/public/loans?order=due_on.desc")
    header = re.search(r'<a href="([^"]+)" title="sort by member_id">', html)[1]
    assert dict(parse_qsl(urlsplit(htmllib.unescape(header)).query))["order"] == (
        "member_id.asc,due_on.desc"
    )
    html = page(client, "/browse/public/loans?order=member_id.asc,due_on.desc")
    assert 'aria-sort="ascending"' in html
    header = re.search(r'<a href="([^"]+)" title="sort by member_id">', html)[1]
    assert dict(parse_qsl(urlsplit(htmllib.unescape(header)).query))["order"] == (
        "member_id.desc,due_on.desc"
    )


def test_several_sort_columns_order_the_rows(client):
    twin = client.get("/browse/public/loans?order=member_id.desc,id.asc&limit=200&_format=json")
    rows = twin.get_json()["rows"]
    keys = [(-row["member_id"], row["id"]) for row in rows]
    assert keys == sorted(keys) and len(rows) == 200


def test_column_picker_writes_select(client):
    response = client.get("/browse/public/books?order=title&_cols=1&_col=title&_col=genre")
    location = urlsplit(response.headers["Location"])
    assert parse_qsl(location.query) == [("order", "title"), ("select", "title,genre")]
    html = page(client, response.headers["Location"])
    headers = re.findall(r'title="sort by ([^"]+)"', html)
    assert headers == ["title", "genre"]
    # Every column ticked: no select= at all.
    everything = client.get(
        "/browse/public/branches?_cols=1&"
        + "&".join(f"_col={n}" for n in ("id", "name", "city", "opened_on", "phone"))
    )
    assert "select=" not in everything.headers["Location"]


def test_page_size_is_capped(client):
    twin = client.get("/browse/public/loans?limit=100000&_format=json").get_json()
    assert len(twin["rows"]) == 500
    assert twin["notices"] == ["Showing at most 500 rows per page."]


def test_keyset_pages_forward_and_back(client, db_connection):
    url = "/browse/public/loans?order=due_on.desc&limit=25"
    pages = []
    html = page(client, url)
    for _ in range(3):
        pages.append(row_ids(html))
        html = page(client, link(html, "next"))
    assert "offset=" not in link(html, "next")
    expected = (
        db_connection.execute(sa.text("SELECT id FROM loans ORDER BY due_on DESC, id LIMIT 75"))
        .scalars()
        .all()
    )
    assert sum(pages, []) == expected
    # Back from the fourth page: the third, then the second, each in the same order.
    html = page(client, link(html, "prev"))
    assert row_ids(html) == pages[2]
    html = page(client, link(html, "prev"))
    assert row_ids(html) == pages[1]
    html = page(client, link(html, "first"))
    assert row_ids(html) == pages[0] and link(html, "prev") is None


@contextlib.contextmanager
def recorded(connection):
    """The SQL statements run on connection (every test request runs on it) inside the block."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(connection, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(connection, "before_cursor_execute", record)


def test_a_deep_page_seeks_instead_of_skipping(client, db_connection):
    html = page(client, "/browse/public/loans?order=due_on.desc&limit=20")
    with recorded(db_connection) as statements:
        page(client, link(html, "next"))
    rows_query = next(s for s in statements if "FROM public.loans" in s and "LIMIT" in s)
    assert "OFFSET" not in rows_query and "loans.due_on <" in rows_query


def test_foreign_key_labels_take_one_query_per_key(client, db_connection):
    with recorded(db_connection) as statements:
        html = page(client, "/browse/public/loans?limit=100")
    # loans has two foreign keys: to members (labelled by full_name) and to copies, which
    # has no name-like column, so its cells link without a label and cost no query.
    assert len([s for s in statements if "FROM public.members" in s]) == 1
    assert len([s for s in statements if "FROM public.copies" in s]) == 0
    member = re.search(
        r'<a href="/browse/public/members/row\?id=(\d+)">\d+</a> <span class="muted">([^<]+)</span>',
        html,
    )
    assert member, "member cells link to the member's row with the member's name"


def test_label_column_is_configurable(make_app):
    app = make_app(LABEL_COLUMNS="public.members.email")
    with app.test_client() as client:
        twin = client.get("/browse/public/loans?limit=5&_format=json").get_json()
    emails = [label for *_, label in twin["labels"]["member_id"]]
    assert emails and all("@" in email for email in emails)


def test_counts_are_capped_and_exact_on_request(make_app):
    app = make_app(PAGE_COUNT_LIMIT="1000")
    with app.test_client() as client:
        capped = client.get("/browse/public/loans").get_data(as_text=True)
        assert "More than <strong>1,000</strong> rows" in capped and "Estimated" in capped
        exact = client.get("/browse/public/loans?_count=exact").get_data(as_text=True)
        assert "<strong>50,000</strong> rows" in exact
        small = client.get("/browse/public/branches").get_data(as_text=True)
        assert re.search(r"<strong>\d+</strong> rows\.", small)


def test_slow_side_queries_are_reported_not_fatal(make_app):
    # A filter that matches nothing makes the count scan all 50,000 rows: never within 1 ms.
    app = make_app(PAGE_SIDE_TIMEOUT="1")
    with app.test_client() as client:
        response = client.get("/browse/public/loans?book_id=ilike.*zzz*")
        html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The count timed out (limit 1 ms)" in html and "Try an exact count" in html


def test_a_slow_page_query_is_a_504_page_with_the_form(make_app):
    app = make_app(PAGE_STATEMENT_TIMEOUT="1")
    with app.test_client() as client:
        response = client.get("/browse/public/loans?book_id=ilike.*zzz*&order=due_on")
        html = response.get_data(as_text=True)
        assert response.status_code == 504
        assert "The query timed out after 1 ms" in html and "Apply filters" in html
        # The connection stays usable: the next request on the same app works.
        assert client.get("/browse/public/branches").status_code == 200


@pytest.mark.parametrize(
    "query",
    ["order=nope.asc", "select=nope", "nope=eq.1", "select=*,members(*)", "_after=xyz"],
)
def test_bad_page_queries_are_400s(client, query):
    response = client.get("/browse/public/loans?" + query)
    assert response.status_code in (400, 404)
    assert response.mimetype == "text/html"


def test_index_filter_box(client):
    html = page(client, "/?q=LOAN")
    assert "/browse/public/loans" in html and "/browse/public/branches" not in html
    twin = client.get("/?q=loan&_format=json").get_json()
    names = {rel["name"] for schema in twin["schemas"] for rel in schema["relations"]}
    assert "loans" in names and "branches" not in names


def test_a_table_the_role_may_not_read_answers_as_the_api_does(make_app):
    app = make_app(DB_ANON_ROLE="web_anon")
    with app.test_client() as client:
        page_response = client.get("/browse/public/members")
        api_response = client.get("/api/members")
    assert api_response.status_code == 401
    assert page_response.status_code == 401 and page_response.mimetype == "text/html"
    assert "timed out" not in page_response.get_data(as_text=True)


def test_twin_links_lead_to_twins(client):
    first = client.get("/browse/public/loans?limit=5&_format=json").get_json()
    second = client.get(first["next"]).get_json()
    assert "_format=json" in first["next"] and len(second["rows"]) == 5
    assert second["rows"][0]["id"] > first["rows"][-1]["id"]
    assert client.get(second["previous"]).get_json()["rows"] == first["rows"]
