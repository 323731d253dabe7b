"""PUT /api/<t>?pk=eq.x: the one row its full primary key names, inserted or replaced, as PostgREST.

PostgREST's rules: eq filters on every primary key column and nothing else (405, PGRST105),
no limit/offset (400, PGRST114), the body's key values the URL's (400, PGRST115).
"""

import pytest
import sqlalchemy as sa

REPRESENTATION = {"Prefer": "return=representation"}
PGRST105 = {
    "code": "PGRST105",
    "message": "Filters must include all and only primary key columns with 'eq' operators",
    "details": None,
    "hint": None,
}


def _author(db_connection, author_id):
    return db_connection.execute(
        sa.text("SELECT id, name, country FROM authors WHERE id = :id"), {"id": author_id}
    ).all()


def test_put_replaces_the_row_its_key_names(client, db_connection):
    response = client.put(
        "/api/authors?id=eq.1&select=id,name,country",
        json={"id": 1, "name": "Replaced", "country": "IS"},
        headers=REPRESENTATION,
    )
    assert response.status_code == 200, response.json
    assert response.json == [{"id": 1, "name": "Replaced", "country": "IS"}]
    assert response.headers["Preference-Applied"] == "return=representation"
    assert "Content-Range" not in response.headers
    assert _author(db_connection, 1) == [(1, "Replaced", "IS")]


def test_put_inserts_a_missing_row_with_201(client, db_connection):
    assert _author(db_connection, 990001) == []
    response = client.put(
        "/api/authors?id=eq.990001&select=id,name",
        json=[{"id": 990001, "name": "New"}],
        headers={**REPRESENTATION, "Accept": "application/vnd.pgrst.object+json"},
    )
    assert response.status_code == 201, response.json
    assert response.json == {"id": 990001, "name": "New"}
    assert _author(db_connection, 990001) == [(990001, "New", None)]


def test_put_minimal_is_a_204_without_content_type(client, db_connection):
    response = client.put(
        "/api/authors?id=eq.2",
        json={"id": 2, "name": "Quiet"},
        headers={"Prefer": "return=minimal"},
    )
    assert response.status_code == 204 and response.get_data() == b""
    assert "Content-Type" not in response.headers
    assert response.headers["Preference-Applied"] == "return=minimal"
    assert _author(db_connection, 2)[0][1] == "Quiet"


def test_put_on_a_composite_key_with_an_embed(client, db_connection):
    """A PUT sends the whole row, as PostgreSQL checks NOT NULL before it finds the conflict."""
    book_id, branch_id, acquired_on, branch_name = db_connection.execute(
        sa.text(
            "SELECT c.book_id, c.branch_id, c.acquired_on, b.name"
            " FROM copies c JOIN branches b ON b.id = c.branch_id"
            " WHERE c.copy_no = 1 ORDER BY c.book_id LIMIT 1"
        )
    ).one()
    row = {
        "book_id": str(book_id),
        "copy_no": 1,
        "branch_id": branch_id,
        "condition": "worn",
        "acquired_on": acquired_on.isoformat(),
    }
    response = client.put(
        f"/api/copies?book_id=eq.{book_id}&copy_no=eq.1&select=copy_no,condition,branches(name)",
        json=row,
        headers=REPRESENTATION,
    )
    assert response.status_code == 200, response.json
    assert response.json == [{"copy_no": 1, "condition": "worn", "branches": {"name": branch_name}}]


@pytest.mark.parametrize(
    "query",
    [
        "name=eq.Someone",  # not the key
        "id=not.eq.1",
        "id=in.(1)",
        "id=gt.1",
        "and=(id.eq.1)",
        "id=eq.1&name=eq.x",  # more than the key
        "",  # no filter
    ],
)
def test_put_needs_eq_on_exactly_the_primary_key(client, query):
    response = client.put(f"/api/authors?{query}", json={"id": 1, "name": "x"})
    assert response.status_code == 405
    assert response.json == PGRST105


def test_put_needs_every_column_of_a_composite_key(client, db_connection):
    book_id = db_connection.execute(sa.text("SELECT min(book_id::text) FROM copies")).scalar()
    response = client.put(f"/api/copies?book_id=eq.{book_id}", json={"book_id": book_id})
    assert response.status_code == 405 and response.json == PGRST105


@pytest.mark.parametrize("paging", ["limit=1", "offset=1"])
def test_put_takes_no_limit_or_offset(client, paging):
    response = client.put(f"/api/authors?id=eq.1&{paging}", json={"id": 1, "name": "x"})
    assert response.status_code == 400
    assert response.json == {
        "code": "PGRST114",
        "message": "limit/offset querystring parameters are not allowed for PUT",
        "details": None,
        "hint": None,
    }


@pytest.mark.parametrize("body", [{"id": 2, "name": "x"}, {"name": "x"}, []])
def test_put_body_must_hold_the_urls_key(client, db_connection, body):
    before = _author(db_connection, 1)
    response = client.put("/api/authors?id=eq.1", json=body)
    assert response.status_code == 400
    assert response.json == {
        "code": "PGRST115",
        "message": "Payload values do not match URL in primary key column(s)",
        "details": None,
        "hint": None,
    }
    assert _author(db_connection, 1) == before


def test_put_on_a_view_is_refused(client):
    response = client.put("/api/overdue_loans?loan_id=eq.1", json={"loan_id": 1})
    assert response.status_code == 405


@pytest.fixture(scope="module")
def keyed_app(pg_server, make_app):
    """An app on a database of two tables: one of a primary key only, one without any key."""
    url = pg_server.create_database("pgfront_put")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE only_pk (id int PRIMARY KEY)"))
        connection.execute(sa.text("INSERT INTO only_pk VALUES (1), (2)"))
        connection.execute(sa.text("CREATE TABLE no_pk (a text, b text)"))
    engine.dispose()
    return make_app(
        keep=True, DATABASE_URL=url.render_as_string(hide_password=False), DB_SCHEMAS="public"
    )


@pytest.fixture
def keyed_client(keyed_app, isolate):
    """A client of keyed_app whose writes are rolled back after the test."""
    isolate(keyed_app)
    return keyed_app.test_client()


def test_put_on_a_table_of_key_columns_only(keyed_client):
    updated = keyed_client.put("/api/only_pk?id=eq.1", json={"id": 1}, headers=REPRESENTATION)
    assert (updated.status_code, updated.json) == (200, [{"id": 1}])
    inserted = keyed_client.put("/api/only_pk?id=eq.10", json={"id": 10}, headers=REPRESENTATION)
    assert (inserted.status_code, inserted.json) == (201, [{"id": 10}])


def test_upsert_on_a_table_of_key_columns_only_returns_every_row_it_touched(keyed_client):
    """Today: the rows already there were skipped (ON CONFLICT DO NOTHING)."""
    response = keyed_client.post(
        "/api/only_pk",
        json=[{"id": 1}, {"id": 2}, {"id": 4}],
        headers={"Prefer": "return=representation, resolution=merge-duplicates"},
    )
    assert response.status_code == 201
    assert response.json == [{"id": 1}, {"id": 2}, {"id": 4}]
    assert response.headers["Preference-Applied"] == (
        "resolution=merge-duplicates, return=representation"
    )
    ignored = keyed_client.post(
        "/api/only_pk",
        json=[{"id": 1}, {"id": 5}],
        headers={"Prefer": "return=representation, resolution=ignore-duplicates"},
    )
    assert (ignored.status_code, ignored.json) == (201, [{"id": 5}])


def test_a_merge_that_inserts_nothing_is_a_200(keyed_client):
    response = keyed_client.post(
        "/api/only_pk",
        json=[{"id": 1}],
        headers={"Prefer": "return=representation, resolution=merge-duplicates"},
    )
    assert (response.status_code, response.json) == (200, [{"id": 1}])


def test_put_on_a_table_without_primary_key_is_refused(keyed_client):
    response = keyed_client.put("/api/no_pk?a=eq.one&b=eq.two", json={"a": "one", "b": "two"})
    assert response.status_code == 405 and response.json == PGRST105


def test_resolution_is_ignored_without_a_primary_key(keyed_client):
    response = keyed_client.post(
        "/api/no_pk",
        json=[{"a": "1", "b": "0"}],
        headers={"Prefer": "return=representation, resolution=merge-duplicates"},
    )
    assert response.status_code == 201
    assert response.json == [{"a": "1", "b": "0"}]
    assert response.headers["Preference-Applied"] == "return=representation"


def test_limit_on_a_write_needs_a_primary_key(keyed_client):
    response = keyed_client.delete("/api/no_pk?a=eq.1&limit=1")
    assert response.status_code == 400 and response.json["code"] == "PGRST109"


def test_openapi_describes_put_where_it_works(client, keyed_app):
    paths = client.get("/api/openapi.json").json["paths"]
    assert paths["/authors"]["put"]["operationId"] == "put_authors"
    assert "put" not in paths["/overdue_loans"]
    keyed = keyed_app.test_client().get("/api/openapi.json").json["paths"]
    assert "put" in keyed["/only_pk"] and "put" not in keyed["/no_pk"]
