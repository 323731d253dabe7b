"""The structure page of a relation, its JSON twin, and the schema page with its diagram."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa

SVG = "{http://www.w3.org/2000/svg}"


def structure(client, schema: str, name: str) -> tuple[str, dict]:
    """The structure page's HTML and its JSON twin."""
    page = client.get(f"/browse/{schema}/{name}/structure")
    twin = client.get(f"/browse/{schema}/{name}/structure?_format=json")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert twin.status_code == 200 and twin.mimetype == "application/json"
    return page.get_data(as_text=True), twin.json


def test_table_structure_shows_columns_keys_and_indexes(client):
    html, data = structure(client, "public", "loans")
    names = [column["name"] for column in data["columns"]]
    assert names == [
        "id",
        "book_id",
        "copy_no",
        "member_id",
        "loaned_at",
        "due_on",
        "returned_at",
        "extension",
        "fee",
    ]
    fee = next(column for column in data["columns"] if column["name"] == "fee")
    assert fee["type"] == "numeric(6,2)" and fee["nullable"] is False and fee["default"] == "0"
    assert fee["comment"].startswith("Late fee")
    assert data["columns"][0]["generated"] == "ALWAYS AS IDENTITY"
    assert data["primary_key"]["columns"] == ["id"]
    (to_copies,) = [fk for fk in data["foreign_keys"] if fk["table"] == "copies"]
    assert to_copies["columns"] == to_copies["ref_columns"] == ["book_id", "copy_no"]
    assert to_copies["url"] == "/browse/public/copies" and to_copies["on_delete"] == "NO ACTION"
    (events,) = data["referenced_by"]
    assert (events["schema"], events["table"], events["columns"]) == (
        "reporting",
        "loan_events",
        ["loan_id"],
    )
    checks = {c["name"]: c["definition"] for c in data["constraints"] if c["type"] == "check"}
    assert checks["loans_due_after_loaned_check"] == "CHECK (due_on >= loaned_at::date)"
    indexes = {index["name"] for index in data["indexes"]}
    assert {"loans_pkey", "loans_book_id_copy_no_idx", "loans_member_id_idx"} <= indexes
    assert data["estimated_rows"] > 10000 and data["size_bytes"] > 0
    assert data["view_sql"] is None and data["triggers"] == []
    for text in [
        "numeric(6,2)",
        "loans_due_after_loaned_check",
        "CHECK (due_on &gt;= loaned_at::date)",
    ]:
        assert text in html
    assert 'href="/browse/public/copies"' in html and 'href="/browse/reporting/loan_events"' in html
    assert "Late fee charged on return" in html and "GENERATED ALWAYS AS IDENTITY" in html


def test_composite_key_and_cascade(client):
    html, data = structure(client, "public", "copies")
    assert data["primary_key"]["columns"] == ["book_id", "copy_no"]
    to_books = next(fk for fk in data["foreign_keys"] if fk["table"] == "books")
    assert to_books["on_delete"] == "CASCADE"
    (loans,) = [ref for ref in data["referenced_by"] if ref["table"] == "loans"]
    assert loans["columns"] == loans["ref_columns"] == ["book_id", "copy_no"]
    assert "CASCADE" in html
    assert "CHECK (condition = ANY (ARRAY[" in html.replace("&#39;", "'")


@pytest.mark.parametrize(
    ("schema", "name"),
    [
        ("public", "loans"),
        ("public", "books"),
        ("public", "overdue_loans"),
        ("public", "book_popularity"),
        ("reporting", "loan_events"),
        ("reporting", "loan_events_2025"),
    ],
)
def test_json_twin_agrees_with_the_page(client, schema, name):
    html, data = structure(client, schema, name)
    header_cells = re.findall(r'<th scope="row"><code>([^<]*)</code>', html)
    assert header_cells == [column["name"] for column in data["columns"]]
    for item in data["indexes"] + data["constraints"] + data["triggers"]:
        assert f"<td>{item['name']}" in html
    for fk in data["foreign_keys"] + data["referenced_by"]:
        assert f"<td>{fk['name']}</td>" in html
    section = html.partition('id="partitions"')[2].partition("</section>")[0]
    shown_partitions = re.findall(r'<a href="([^"]+)">', section)
    assert shown_partitions == [part["url"] for part in data["partitions"]]


def test_json_twin_by_accept_header(client):
    response = client.get(
        "/browse/public/branches/structure", headers={"Accept": "application/json"}
    )
    assert response.mimetype == "application/json" and response.json["name"] == "branches"
    assert "Accept" in response.headers["Vary"]


def test_view_shows_its_sql(client):
    html, data = structure(client, "public", "overdue_loans")
    assert data["kind"] == "view" and data["size_bytes"] is None
    assert "JOIN members m ON m.id = l.member_id" in data["view_sql"]
    assert "JOIN members m ON m.id = l.member_id" in html
    assert data["primary_key"] is None and data["indexes"] == []


def test_materialized_view_shows_sql_and_index(client):
    html, data = structure(client, "public", "book_popularity")
    assert data["kind"] == "materialized view"
    assert "count(l.id) AS loan_count" in data["view_sql"] and "count(l.id) AS loan_count" in html
    (index,) = data["indexes"]
    assert index["name"] == "book_popularity_book_id_idx" and index["unique"]
    assert data["size_bytes"] > 0


def test_partitioned_table_shows_size_and_partitions(client, db_connection):
    html, data = structure(client, "reporting", "loan_events")
    total = db_connection.execute(
        sa.text(
            "SELECT sum(pg_total_relation_size(relid)) FROM"
            " pg_partition_tree('reporting.loan_events')"
        )
    ).scalar()
    assert data["size_bytes"] == total > 0
    assert [part["name"] for part in data["partitions"]] == [
        "loan_events_2024",
        "loan_events_2025",
        "loan_events_2026",
        "loan_events_other",
    ]
    assert data["partitions"][-1]["bound"] == "DEFAULT"
    assert 'href="/browse/reporting/loan_events_2025"' in html and "(all partitions)" in html
    assert data["primary_key"]["columns"] == ["id", "occurred_at"]
    (to_loans,) = data["foreign_keys"]
    assert to_loans["url"] == "/browse/public/loans"


def test_partition_names_its_parent(client):
    html, data = structure(client, "reporting", "loan_events_2025")
    parent = data["partition_of"]
    assert (parent["name"], parent["url"]) == ("loan_events", "/browse/reporting/loan_events")
    assert parent["bound"].startswith("FOR VALUES FROM ('2025-01-01")
    assert "Partition of" in html and data["partitions"] == []


def test_triggers_are_listed(client, db_connection):
    db_connection.execute(
        sa.text(
            "CREATE FUNCTION pg_temp.touch() RETURNS trigger LANGUAGE plpgsql"
            " AS 'BEGIN RETURN NEW; END'"
        )
    )
    db_connection.execute(
        sa.text(
            "CREATE TRIGGER branches_touch BEFORE UPDATE OF city ON branches"
            " FOR EACH ROW EXECUTE FUNCTION pg_temp.touch()"
        )
    )
    html, data = structure(client, "public", "branches")
    (trigger,) = data["triggers"]
    assert trigger["name"] == "branches_touch" and "BEFORE UPDATE OF city" in trigger["definition"]
    assert "BEFORE UPDATE OF city ON branches" in html


def test_tabs_link_rows_structure_and_schema(client):
    html, _ = structure(client, "public", "members")
    tabs = html.split('<nav class="tabs"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/browse/public/members">Rows' in tabs
    assert 'href="/browse/public/members/structure" aria-current="page">Structure' in tabs
    assert 'href="/schema/public">Schema diagram' in tabs


def test_unknown_relation_is_404(client):
    response = client.get("/browse/public/nothing_here/structure")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert client.get("/browse/public/nothing_here/structure?_format=json").status_code == 404


@pytest.fixture(scope="module")
def hiding_client(make_app):
    return make_app(keep=True, HIDDEN="public.members.email,public.authors").test_client()


def test_hidden_column_and_relation_are_not_described(hiding_client):
    html, data = structure(hiding_client, "public", "members")
    assert "email" not in html and "email" not in str(data)
    assert "full_name" in html
    assert "members_email_key" not in html  # the unique constraint and index on email
    assert {i["name"] for i in data["indexes"]} == {
        "members_pkey",
        "members_home_branch_id_idx",
        "members_referred_by_idx",
    }
    books_html, books = structure(hiding_client, "public", "books")
    assert books["foreign_keys"] == [fk for fk in books["foreign_keys"] if fk["table"] != "authors"]
    assert "authors" not in books_html
    _, view = structure(hiding_client, "public", "overdue_loans")
    assert view["view_sql"] is None  # it reads members.email: its SQL would name it


def test_schema_page_links_every_table_in_the_diagram(client):
    response = client.get("/schema/public")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    svg = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    root = ET.fromstring(svg)
    linked = {a.get("href") for a in root.iter(f"{SVG}a")}
    expected = {
        "/browse/public/" + name
        for name in [
            "authors",
            "books",
            "branches",
            "copies",
            "loans",
            "members",
            "overdue_loans",
            "book_popularity",
            "member_cards",
            "wishlist",
            "reading_groups",
            "reading_group_members",
            "shelved_copies",
        ]
    }
    assert linked == expected
    assert 'href="/browse/public/loans/structure"' in html


def test_schema_edges_are_the_foreign_keys(client, db_connection):
    within_public = db_connection.execute(
        sa.text(
            "SELECT count(*) FROM pg_constraint con"
            " JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class f ON f.oid = con.confrelid"
            " WHERE con.contype = 'f' AND con.conparentid = 0"
            " AND c.relnamespace = 'public'::regnamespace AND f.relnamespace = 'public'::regnamespace"
        )
    ).scalar()
    data = client.get("/schema/public?_format=json").json
    assert len(data["edges"]) == within_public == 14
    assert {
        "from": "loans",
        "from_columns": ["book_id", "copy_no"],
        "to": "copies",
        "to_schema": "public",
        "to_columns": ["book_id", "copy_no"],
    } in data["edges"]
    assert {rel["name"]: rel["kind"] for rel in data["relations"]}["book_popularity"] == (
        "materialized view"
    )
    root = ET.fromstring(client.get("/schema/public/diagram.svg").data)
    assert len([p for p in root.iter(f"{SVG}path") if "fk" in p.get("class", "").split()]) == 14


def test_other_schemas_appear_as_small_boxes(client):
    data = client.get("/schema/reporting?_format=json").json
    assert {(e["from"], e["to_schema"], e["to"]) for e in data["edges"]} == {
        ("loan_events", "public", "loans"),
        ("branch_targets", "public", "branches"),
    }
    root = ET.fromstring(client.get("/schema/reporting/diagram.svg").data)
    titles = {
        "".join(g.find(f"{SVG}title").itertext())
        for g in root.iter(f"{SVG}g")
        if g.find(f"{SVG}title") is not None
    }
    assert "public.loans (another schema)" in titles
    assert "loan_events_2025" not in titles  # partitions are not drawn


def test_standalone_svg(client):
    response = client.get("/schema/public/diagram.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Tables of schema public and their foreign keys"


@pytest.mark.parametrize("path", ["/schema/nope", "/schema/nope/diagram.svg", "/schema/pg_catalog"])
def test_unknown_schema_is_404(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "is not served" in response.get_data(as_text=True)


def test_view_sql_that_reads_a_hidden_column_is_not_shown(make_app, client):
    shown = client.get("/browse/public/overdue_loans/structure?_format=json").get_json()
    assert "m.email" in shown["view_sql"]
    app = make_app(HIDDEN="public.members.email")
    with app.test_client() as hiding:
        twin = hiding.get("/browse/public/overdue_loans/structure?_format=json").get_json()
        page = hiding.get("/browse/public/overdue_loans/structure").get_data(as_text=True)
    assert twin["view_sql"] is None
    assert "m.email" not in page and "JOIN members" not in page
